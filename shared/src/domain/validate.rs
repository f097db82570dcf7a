//! Input validation shared by every request type. Each function returns the cleaned
//! value or a message naming the field, so handlers answer `1001` with a clear reason
//! in the caller's language.

use crate::codes::Text;

/// A rejected input value; the message names the field and the rule, in Chinese and
/// English. `Display` is the English text (logs).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", .text.en)]
pub struct Invalid {
    text: Text,
}

impl Invalid {
    /// A rejection explained in both languages.
    pub fn new(zh: impl Into<String>, en: impl Into<String>) -> Self {
        Self {
            text: Text::new(zh, en),
        }
    }

    /// The explanation in both languages.
    pub fn text(&self) -> &Text {
        &self.text
    }
}

/// A trimmed, non-empty text of at most `max` characters.
pub fn text(field: &str, value: &str, max: usize) -> Result<String, Invalid> {
    let v = value.trim();
    if v.is_empty() {
        return Err(Invalid::new(
            format!("{field}不能为空"),
            format!("{field} must not be empty"),
        ));
    }
    if v.chars().count() > max {
        return Err(Invalid::new(
            format!("{field}最多{max}个字符"),
            format!("{field} must be at most {max} characters"),
        ));
    }
    if v.chars().any(|c| c.is_control()) {
        return Err(Invalid::new(
            format!("{field}不能包含控制字符"),
            format!("{field} must not contain control characters"),
        ));
    }
    Ok(v.to_string())
}

/// Like [`text`] for optional fields; an empty string counts as absent.
pub fn opt_text(field: &str, value: Option<&str>, max: usize) -> Result<Option<String>, Invalid> {
    match value.map(str::trim) {
        None | Some("") => Ok(None),
        Some(v) => text(field, v, max).map(Some),
    }
}

/// The text of a list filter: trimmed, `None` when absent or blank.
pub fn filter_term(value: Option<&str>) -> Option<&str> {
    value.map(str::trim).filter(|s| !s.is_empty())
}

/// A code (shop code, enterprise code, permission code): 1–32 of `A-Z a-z 0-9 _ - . :`.
pub fn code(field: &str, value: &str) -> Result<String, Invalid> {
    let v = value.trim();
    let ok = (1..=32).contains(&v.len())
        && v.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_-.:".contains(&b));
    if ok {
        Ok(v.to_string())
    } else {
        Err(Invalid::new(
            format!("{field}须为1-32位字母、数字或 _ - . :"),
            format!("{field} must be 1-32 characters of letters, digits, '_', '-', '.', ':'"),
        ))
    }
}

/// A login name: 3–32 of `A-Z a-z 0-9 _ - . @`.
pub fn username(value: &str) -> Result<String, Invalid> {
    let v = value.trim();
    let ok = (3..=32).contains(&v.len())
        && v.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_-.@".contains(&b));
    if ok {
        Ok(v.to_string())
    } else {
        Err(Invalid::new(
            "username须为3-32位字母、数字或 _ - . @",
            "username must be 3-32 characters of letters, digits, '_', '-', '.', '@'",
        ))
    }
}

/// A password: 8–64 characters, not only whitespace. Not trimmed.
pub fn password(field: &str, value: &str) -> Result<String, Invalid> {
    let n = value.chars().count();
    if !(8..=64).contains(&n) || value.trim().is_empty() {
        return Err(Invalid::new(
            format!("{field}须为8-64个字符"),
            format!("{field} must be 8-64 characters"),
        ));
    }
    Ok(value.to_string())
}

/// An optional phone number: 5–20 digits, an optional leading `+`.
pub fn opt_phone(field: &str, value: Option<&str>) -> Result<Option<String>, Invalid> {
    match value.map(str::trim) {
        None | Some("") => Ok(None),
        Some(v) => {
            let digits = v.strip_prefix('+').unwrap_or(v);
            if (5..=20).contains(&digits.len()) && digits.bytes().all(|b| b.is_ascii_digit()) {
                Ok(Some(v.to_string()))
            } else {
                Err(Invalid::new(
                    format!("{field}须为5-20位数字"),
                    format!("{field} must be 5-20 digits"),
                ))
            }
        }
    }
}

/// Largest amount of money accepted anywhere (fen): 10 billion yuan. Keeps every sum
/// of a few amounts far from `i64` overflow.
pub const MAX_MONEY: i64 = 1_000_000_000_000;

/// An amount of money in fen: 0 to [`MAX_MONEY`].
pub fn money(field: &str, value: i64) -> Result<i64, Invalid> {
    if (0..=MAX_MONEY).contains(&value) {
        Ok(value)
    } else {
        Err(Invalid::new(
            format!("{field}须在0到{MAX_MONEY}分之间"),
            format!("{field} must be between 0 and {MAX_MONEY} fen"),
        ))
    }
}

/// An integer in `range`, named in the error.
pub fn int_in(
    field: &str,
    value: i64,
    range: std::ops::RangeInclusive<i64>,
) -> Result<i64, Invalid> {
    if range.contains(&value) {
        Ok(value)
    } else {
        let (lo, hi) = (range.start(), range.end());
        Err(Invalid::new(
            format!("{field}须在{lo}到{hi}之间"),
            format!("{field} must be between {lo} and {hi}"),
        ))
    }
}

/// A calendar date written exactly `YYYY-MM-DD` (the pattern the document states).
pub fn date(field: &str, raw: &str) -> Result<chrono::NaiveDate, Invalid> {
    chrono::NaiveDate::parse_from_str(raw, "%Y-%m-%d")
        .ok()
        .filter(|_| raw.len() == 10)
        .ok_or_else(|| {
            Invalid::new(
                format!("{field}须为YYYY-MM-DD格式的日期"),
                format!("{field} must be a date YYYY-MM-DD"),
            )
        })
}

/// The epoch-second bounds of the days from `start` to `end` (`YYYY-MM-DD`, both
/// included, Asia/Shanghai days); either may be absent. A malformed date or an end
/// before the start is refused.
pub fn day_range(
    start: Option<&str>,
    end: Option<&str>,
) -> Result<(Option<i64>, Option<i64>), Invalid> {
    use chrono::TimeZone;
    let day = |field: &str, v: &str| -> Result<i64, Invalid> {
        let midnight = date(field, v)?.and_hms_opt(0, 0, 0);
        midnight
            .and_then(|t| crate::clock::cst().from_local_datetime(&t).single())
            .map(|t| t.timestamp())
            .ok_or_else(|| Invalid::new(format!("{field}无效"), format!("invalid {field}")))
    };
    let from = start.map(|v| day("start_date", v)).transpose()?;
    let to = end
        .map(|v| day("end_date", v).map(|t| t + 86_399))
        .transpose()?;
    if let (Some(f), Some(t)) = (from, to) {
        if t < f {
            return Err(Invalid::new(
                "end_date不能早于start_date",
                "end_date must not be before start_date",
            ));
        }
    }
    Ok((from, to))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_rules() {
        assert_eq!(text("name", "  Shop A ", 10).unwrap(), "Shop A");
        assert!(text("name", "   ", 10).is_err());
        assert!(text("name", "abcdefghijk", 10).is_err());
        assert_eq!(
            text("name", "店铺店铺店铺店铺店铺", 10)
                .unwrap()
                .chars()
                .count(),
            10
        );
        assert!(text("name", "a\u{0}b", 10).is_err());
        assert_eq!(opt_text("x", Some(""), 5).unwrap(), None);
        assert_eq!(opt_text("x", None, 5).unwrap(), None);
    }

    #[test]
    fn code_username_password_phone() {
        for ok in ["SH-001", "a", "x.y:z_1"] {
            assert!(code("shop_code", ok).is_ok(), "{ok}");
        }
        for bad in ["", "has space", "店", &"x".repeat(33)] {
            assert!(code("shop_code", bad).is_err(), "{bad}");
        }
        assert!(username("ab").is_err());
        assert!(username("agent.l1@x").is_ok());
        assert!(username("bad name").is_err());
        assert!(password("password", "short").is_err());
        assert!(password("password", "        ").is_err());
        assert!(password("password", "long enough").is_ok());
        assert_eq!(
            opt_phone("phone", Some("13800138000")).unwrap().unwrap(),
            "13800138000"
        );
        assert!(opt_phone("phone", Some("12ab")).is_err());
    }

    #[test]
    fn rejections_name_the_field_in_both_languages() {
        for e in [
            text("shop_name", " ", 5).unwrap_err(),
            text("shop_name", "toolong", 5).unwrap_err(),
            code("shop_code", "a b").unwrap_err(),
            password("new_password", "x").unwrap_err(),
            opt_phone("contact_phone", Some("x")).unwrap_err(),
            money("cost_price", -1).unwrap_err(),
            int_in("months", 0, 1..=12).unwrap_err(),
        ] {
            let t = e.text();
            assert!(t.en.is_ascii() && !t.zh.is_ascii(), "{t:?}");
            let field = t.en.split(' ').next().unwrap();
            assert!(t.zh.starts_with(field), "{t:?}");
        }
    }

    #[test]
    fn money_and_ranges() {
        assert_eq!(money("p", 0).unwrap(), 0);
        assert_eq!(money("p", MAX_MONEY).unwrap(), MAX_MONEY);
        for bad in [-1, MAX_MONEY + 1, i64::MIN, i64::MAX] {
            assert!(
                money("p", bad)
                    .unwrap_err()
                    .to_string()
                    .starts_with("p must"),
                "{bad}"
            );
        }
        assert!(int_in("n", 0, 1..=12).is_err());
        assert_eq!(int_in("n", 12, 1..=12).unwrap(), 12);
    }

    #[test]
    fn day_ranges_are_shanghai_days() {
        let (from, to) = day_range(Some("2026-03-16"), Some("2026-03-16")).unwrap();
        // 2026-03-16 00:00 in Shanghai is 2026-03-15 16:00 UTC.
        assert_eq!(from, Some(1_773_590_400));
        assert_eq!(to, Some(1_773_590_400 + 86_399));
        assert_eq!(day_range(None, None).unwrap(), (None, None));
        assert!(day_range(Some("2026-3-1x"), None).is_err());
        assert!(day_range(Some("2026-03-17"), Some("2026-03-16")).is_err());
    }
}
