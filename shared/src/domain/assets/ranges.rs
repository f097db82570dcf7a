//! Identifier ranges of allocation and recall (ICCIDs, virtual numbers): which
//! buckets of the range index a range is read from, and which ranges are refused.
//!
//! A bucket is an identifier without its last [`BUCKET_TAIL`] characters, so it holds
//! at most 10 000 consecutive numbers and a range is read bucket by bucket, each with
//! a key condition, whatever else the table holds.

use crate::domain::validate::Invalid;

/// Characters of an identifier below its bucket.
pub const BUCKET_TAIL: usize = 4;

/// Most buckets one range may span (10 million consecutive numbers).
pub const MAX_BUCKETS: usize = 1000;

/// The range-index bucket of `identifier`: the identifier without its last
/// [`BUCKET_TAIL`] characters (empty when it has no more than that).
pub fn range_bucket(identifier: &str) -> &str {
    identifier
        .char_indices()
        .rev()
        .nth(BUCKET_TAIL - 1)
        .and_then(|(at, _)| identifier.get(..at))
        .unwrap_or("")
}

/// The buckets holding the identifiers from `from` to `to` (inclusive, same length),
/// in order. Refused: bounds of different lengths, `from` after `to`, bounds whose
/// buckets differ in anything but decimal digits after their common prefix, and a
/// range over more than [`MAX_BUCKETS`] buckets.
pub fn range_buckets(from: &str, to: &str) -> Result<Vec<String>, Invalid> {
    if from.chars().count() != to.chars().count() {
        return Err(Invalid::new(
            "号段起始和结束的长度必须相同",
            "range start and end must have the same length",
        ));
    }
    if from > to {
        return Err(Invalid::new(
            "号段起始不能大于结束",
            "range start must not be after range end",
        ));
    }
    let (a, b) = (range_bucket(from), range_bucket(to));
    let common: String = a
        .chars()
        .zip(b.chars())
        .take_while(|(x, y)| x == y)
        .map(|(x, _)| x)
        .collect();
    let tail = |s: &str| s.chars().skip(common.chars().count()).collect::<String>();
    let (mut at, last) = (tail(a), tail(b));
    if !(at.chars().chain(last.chars())).all(|c| c.is_ascii_digit()) {
        return Err(Invalid::new(
            "号段起始和结束只能在末尾的数字部分不同",
            "range start and end may differ only in their trailing decimal digits",
        ));
    }
    let mut buckets = vec![format!("{common}{at}")];
    while at != last {
        if buckets.len() >= MAX_BUCKETS {
            return Err(Invalid::new(
                format!("号段跨度过大：最多跨{MAX_BUCKETS}个万号段，请拆分后分批操作"),
                format!(
                    "the range is too wide: it may span at most {MAX_BUCKETS} blocks of 10 000 identifiers; split it"
                ),
            ));
        }
        at = increment(&at);
        buckets.push(format!("{common}{at}"));
    }
    Ok(buckets)
}

/// The next decimal number of the same width (`"0199"` → `"0200"`); the caller stops
/// before it would overflow.
fn increment(digits: &str) -> String {
    let mut out: Vec<char> = digits.chars().collect();
    for c in out.iter_mut().rev() {
        if *c == '9' {
            *c = '0';
        } else {
            *c = c
                .to_digit(10)
                .and_then(|d| char::from_digit(d + 1, 10))
                .unwrap_or('0');
            break;
        }
    }
    out.into_iter().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bucket_drops_the_last_four_characters() {
        assert_eq!(range_bucket("89860012345678901234"), "8986001234567890");
        assert_eq!(range_bucket("DV-12345"), "DV-1");
        assert_eq!(range_bucket("1234"), "");
        assert_eq!(range_bucket("12"), "");
        assert_eq!(range_bucket("号段12345"), "号段1");
    }

    #[test]
    fn a_range_inside_one_bucket_reads_one_bucket() {
        assert_eq!(
            range_buckets("89860000000000000001", "89860000000000009999"),
            Ok(vec!["8986000000000000".to_string()])
        );
        assert_eq!(range_buckets("DV-1", "DV-2"), Ok(vec![String::new()]));
        assert_eq!(range_buckets("A0001", "A0001"), Ok(vec!["A".to_string()]));
    }

    #[test]
    fn buckets_are_enumerated_with_carries() {
        assert_eq!(
            range_buckets("89860000000000099990", "89860000000000100005"),
            Ok(vec![
                "8986000000000009".to_string(),
                "8986000000000010".to_string()
            ])
        );
        let three = range_buckets("X0998xxxx", "X1000yyyy").unwrap();
        assert_eq!(three, ["X0998", "X0999", "X1000"]);
        let devices = range_buckets("DEV0010000", "DEV0029999").unwrap();
        assert_eq!(devices, ["DEV001", "DEV002"]);
    }

    #[test]
    fn bad_ranges_are_refused() {
        let refused = |a: &str, b: &str| range_buckets(a, b).unwrap_err().text().en.clone();
        assert!(refused("8986000000000000009", "89860000000000000010").contains("same length"));
        assert!(refused("DEVA00000", "DEVB00000").contains("decimal digits"));
        assert!(refused("89861", "89860").contains("after"));
        // Exactly 1000 buckets pass, 1001 do not.
        assert_eq!(range_buckets("00000000", "09990000").unwrap().len(), 1000);
        assert!(refused("00000000", "10000000").contains("too wide"));
        assert!(refused("89860000000000000000", "89869999999999999999").contains("too wide"));
    }
}
