//! Identifiers of cards and devices (ICCID, MSISDN, IMSI, IMEI, serial number,
//! virtual number) as parsed newtypes: a value of one of these types is always valid.
//!
//! Each type is built with `parse`, which trims surrounding whitespace and answers
//! [`Invalid`] with a message naming the field; it (de)serialises as a plain string
//! and is rejected by serde when invalid.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use super::validate::Invalid;

/// The conversions every identifier shares: `as_str`, `Display`, `AsRef<str>`,
/// `FromStr` and the `String` conversions serde uses.
macro_rules! identifier_impls {
    ($name:ident) => {
        impl $name {
            /// The normalised value.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        impl FromStr for $name {
            type Err = Invalid;
            fn from_str(s: &str) -> Result<Self, Invalid> {
                Self::parse(s)
            }
        }

        impl TryFrom<String> for $name {
            type Error = Invalid;
            fn try_from(s: String) -> Result<Self, Invalid> {
                Self::parse(&s)
            }
        }

        impl From<$name> for String {
            fn from(v: $name) -> String {
                v.0
            }
        }
    };
}

fn all_digits(s: &str) -> bool {
    s.bytes().all(|b| b.is_ascii_digit())
}

/// A SIM card serial number: 19 or 20 ASCII letters or digits, stored uppercase.
///
/// Real ICCIDs start with `89`, which is not required; some end with a letter
/// (e.g. `F`).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Iccid(String);

impl Iccid {
    /// Parses a trimmed ICCID; lowercase letters are uppercased.
    pub fn parse(s: &str) -> Result<Self, Invalid> {
        let v = s.trim();
        if (19..=20).contains(&v.len()) && v.bytes().all(|b| b.is_ascii_alphanumeric()) {
            Ok(Self(v.to_ascii_uppercase()))
        } else {
            Err(Invalid::new(
                "iccid须为19-20位字母或数字",
                "iccid must be 19-20 letters or digits",
            ))
        }
    }
}

identifier_impls!(Iccid);
crate::wire_schema!(
    Iccid,
    string(
        "^\\s*[0-9A-Za-z]{19,20}\\s*$",
        "ICCID: 19-20 letters or digits (stored uppercase)"
    )
);

/// A phone number of a SIM card: 5–15 digits (E.164 length).
///
/// One leading `+` is accepted and dropped: the stored value is digits only, so
/// `+8613800138000` is kept as `8613800138000`. No country code is added or
/// removed, so `13800138000` and `+8613800138000` are different values.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Msisdn(String);

impl Msisdn {
    /// Parses a trimmed MSISDN, dropping one leading `+`.
    pub fn parse(s: &str) -> Result<Self, Invalid> {
        let v = s.trim();
        let digits = v.strip_prefix('+').unwrap_or(v);
        if (5..=15).contains(&digits.len()) && all_digits(digits) {
            Ok(Self(digits.to_string()))
        } else {
            Err(Invalid::new(
                "msisdn须为5-15位数字,可带一个前导 '+'",
                "msisdn must be 5-15 digits, optionally after one '+'",
            ))
        }
    }
}

identifier_impls!(Msisdn);
crate::wire_schema!(
    Msisdn,
    string(
        "^\\s*\\+?[0-9]{5,15}\\s*$",
        "MSISDN: 5-15 digits, one leading + accepted and dropped"
    )
);

/// A subscriber identity (IMSI): exactly 15 digits.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Imsi(String);

impl Imsi {
    /// Parses a trimmed IMSI.
    pub fn parse(s: &str) -> Result<Self, Invalid> {
        let v = s.trim();
        if v.len() == 15 && all_digits(v) {
            Ok(Self(v.to_string()))
        } else {
            Err(Invalid::new(
                "imsi须为15位数字",
                "imsi must be exactly 15 digits",
            ))
        }
    }
}

identifier_impls!(Imsi);
crate::wire_schema!(
    Imsi,
    string("^\\s*[0-9]{15}\\s*$", "IMSI: exactly 15 digits")
);

/// A device identity (IMEI): exactly 15 digits whose last one is the Luhn check digit.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Imei(String);

impl Imei {
    /// Parses a trimmed IMEI and verifies its check digit.
    pub fn parse(s: &str) -> Result<Self, Invalid> {
        let v = s.trim();
        if v.len() != 15 || !all_digits(v) {
            return Err(Invalid::new(
                "imei须为15位数字",
                "imei must be exactly 15 digits",
            ));
        }
        if !luhn_valid(v) {
            return Err(Invalid::new(
                "imei校验位错误",
                "imei has an invalid check digit",
            ));
        }
        Ok(Self(v.to_string()))
    }
}

identifier_impls!(Imei);
crate::wire_schema!(
    Imei,
    string(
        "^\\s*[0-9]{15}\\s*$",
        "IMEI: exactly 15 digits, the last one a Luhn check digit"
    )
);

/// Luhn check over ASCII digits (the last one being the check digit).
fn luhn_valid(digits: &str) -> bool {
    let sum: u32 = digits
        .bytes()
        .rev()
        .map(|b| u32::from(b - b'0'))
        .enumerate()
        .map(|(i, d)| match (i % 2 == 1, d * 2) {
            (false, _) => d,
            (true, twice) if twice > 9 => twice - 9,
            (true, twice) => twice,
        })
        .sum();
    sum % 10 == 0
}

/// A device serial number: 1–64 of `A-Z a-z 0-9 - _ .`, case kept.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Sn(String);

impl Sn {
    /// Parses a trimmed serial number.
    pub fn parse(s: &str) -> Result<Self, Invalid> {
        let v = s.trim();
        let ok = (1..=64).contains(&v.len())
            && v.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b));
        if ok {
            Ok(Self(v.to_string()))
        } else {
            Err(Invalid::new(
                "sn须为1-64位字母、数字或 - _ .",
                "sn must be 1-64 characters of letters, digits, '-', '_', '.'",
            ))
        }
    }
}

identifier_impls!(Sn);
crate::wire_schema!(
    Sn,
    string(
        "^\\s*[A-Za-z0-9_.-]{1,64}\\s*$",
        "Device serial number: 1-64 of A-Z a-z 0-9 - _ ."
    )
);

/// A virtual number (the human-friendly id of a card or device): 1–50 characters
/// of free format (any script) without whitespace or control characters.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct VirtualNo(String);

impl VirtualNo {
    /// Parses a trimmed virtual number.
    pub fn parse(s: &str) -> Result<Self, Invalid> {
        let v = s.trim();
        let ok = (1..=50).contains(&v.chars().count())
            && !v.chars().any(|c| c.is_whitespace() || c.is_control());
        if ok {
            Ok(Self(v.to_string()))
        } else {
            Err(Invalid::new(
                "virtual_no须为1-50个字符,不能包含空白或控制字符",
                "virtual_no must be 1-50 characters without whitespace or control characters",
            ))
        }
    }
}

identifier_impls!(VirtualNo);
crate::wire_schema!(
    VirtualNo,
    string(
        "",
        "Virtual number: 1-50 characters without whitespace or control characters"
    )
);

#[cfg(test)]
mod tests {
    use super::*;

    /// Checks `parse` over (input, expected stored value) pairs and rejected inputs,
    /// and that every error names `field`.
    fn table<T: FromStr<Err = Invalid> + AsRef<str> + fmt::Debug>(
        field: &str,
        valid: &[(&str, &str)],
        invalid: &[&str],
    ) {
        for (input, stored) in valid {
            let v: T = input
                .parse()
                .unwrap_or_else(|e| panic!("{field} {input:?} rejected: {e}"));
            assert_eq!(v.as_ref(), *stored, "{field} {input:?}");
        }
        for input in invalid {
            let e = input
                .parse::<T>()
                .expect_err(&format!("{field} {input:?} accepted"));
            assert!(e.to_string().starts_with(field), "{field}: message {e:?}");
        }
    }

    #[test]
    fn iccid() {
        table::<Iccid>(
            "iccid",
            &[
                ("89860012345678901234", "89860012345678901234"),
                ("8986001234567890123", "8986001234567890123"),
                ("  8986001234567890123f ", "8986001234567890123F"),
                ("1234567890123456789", "1234567890123456789"),
            ],
            &[
                "",
                "   ",
                "898600123456789012",
                "898600123456789012345",
                "8986-0012345678901234",
                "8986 012345678901234",
                "89860012345678901２3",
            ],
        );
    }

    #[test]
    fn msisdn() {
        table::<Msisdn>(
            "msisdn",
            &[
                ("13800138000", "13800138000"),
                ("+8613800138000", "8613800138000"),
                (" 12345 ", "12345"),
                ("123456789012345", "123456789012345"),
            ],
            &[
                "",
                "+",
                "1234",
                "1234567890123456",
                "++8613800138000",
                "138-0013-8000",
                "1380013800a",
                "86+13800138000",
            ],
        );
    }

    #[test]
    fn imsi() {
        table::<Imsi>(
            "imsi",
            &[
                ("460001234567890", "460001234567890"),
                ("\t460011234567890\n", "460011234567890"),
            ],
            &["", "46000123456789", "4600012345678901", "46000123456789a"],
        );
    }

    #[test]
    fn imei() {
        table::<Imei>(
            "imei",
            &[
                ("490154203237518", "490154203237518"),
                (" 356938035643809 ", "356938035643809"),
                ("000000000000000", "000000000000000"),
            ],
            &[
                "",
                "490154203237519",
                "490154203237510",
                "49015420323751",
                "4901542032375180",
                "49015420323751a",
            ],
        );
    }

    #[test]
    fn sn() {
        let longest = "S".repeat(64);
        table::<Sn>(
            "sn",
            &[
                ("SN-2024_001.a", "SN-2024_001.a"),
                (" x ", "x"),
                (&longest, &longest),
            ],
            &["", "  ", "has space", "sn/1", "序列号", &"S".repeat(65)],
        );
    }

    #[test]
    fn virtual_no() {
        let longest = "号".repeat(50);
        table::<VirtualNo>(
            "virtual_no",
            &[
                ("VN-0001", "VN-0001"),
                ("  杭州-001  ", "杭州-001"),
                ("a/b#c@1", "a/b#c@1"),
                (&longest, &longest),
            ],
            &[
                "",
                "   ",
                "VN 0001",
                "VN\u{3000}0001",
                "VN\t01",
                "VN\u{7}01",
                &"号".repeat(51),
            ],
        );
    }

    #[test]
    fn luhn() {
        assert!(luhn_valid("79927398713"));
        assert!(!luhn_valid("79927398710"));
    }

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct Card {
        iccid: Iccid,
        msisdn: Option<Msisdn>,
        imei: Imei,
        virtual_no: VirtualNo,
    }

    #[test]
    fn serde_round_trip_and_rejection() {
        let card: Card = serde_json::from_value(serde_json::json!({
            "iccid": " 8986001234567890123f",
            "msisdn": "+8613800138000",
            "imei": "490154203237518",
            "virtual_no": "杭州-001",
        }))
        .unwrap();
        assert_eq!(card.iccid.as_str(), "8986001234567890123F");
        assert_eq!(card.msisdn.as_ref().unwrap().to_string(), "8613800138000");
        let json = serde_json::to_value(&card).unwrap();
        assert_eq!(
            json,
            serde_json::json!({
                "iccid": "8986001234567890123F",
                "msisdn": "8613800138000",
                "imei": "490154203237518",
                "virtual_no": "杭州-001",
            })
        );
        assert_eq!(serde_json::from_value::<Card>(json).unwrap(), card);

        let err = serde_json::from_str::<Imei>("\"490154203237519\"").unwrap_err();
        assert!(err.to_string().contains("imei"), "{err}");
        let err = serde_json::from_str::<Iccid>("\"123\"").unwrap_err();
        assert!(err.to_string().contains("iccid"), "{err}");
        assert!(
            serde_json::from_str::<Msisdn>("13800138000").is_err(),
            "not a string"
        );
        assert!(serde_json::from_str::<Sn>("\"a b\"").is_err());
        assert!(serde_json::from_str::<Imsi>("\"\"").is_err());
        assert!(serde_json::from_str::<VirtualNo>("\"a\\nb\"").is_err());
    }
}
