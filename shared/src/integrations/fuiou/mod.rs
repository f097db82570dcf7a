//! Fuiou (富友) aggregated payment (domain.md §4.13, §5.15): the merchant client
//! (`/preCreate`, `/wxPreCreate`, `/commonQuery`), the payment notification Fuiou posts
//! to `notify_url`, and a fake Fuiou server for tests and the local stack.
//!
//! Wire format, as Fuiou's own SDKs speak it:
//! - a request is a form post with one field `req`, whose value is the GBK bytes of an
//!   XML document `<xml><field>value</field>…</xml>` URL-encoded (Java's
//!   `URLEncoder.encode(xml, "GBK")`) and then form-encoded again, so the XML is
//!   URL-encoded twice on the wire; readers here accept it encoded once or twice;
//! - a response is the GBK XML URL-encoded once (raw XML is accepted too);
//! - every message carries `sign`: MD5withRSA (PKCS#1 v1.5) over `k=v` pairs joined by
//!   `&`, sorted by name, without `sign` and the `reserved*` fields, empty values kept,
//!   in GBK; Base64. We sign with the merchant's private key; Fuiou signs with its own,
//!   which we verify with `fy_public_key`.

pub mod client;
pub mod fake;
pub mod notify;
pub mod sign;
pub mod xml;

#[cfg(test)]
mod tests;

pub use client::{FuiouClient, Merchant, QueryResult, SdkParams, TradeType};
pub use notify::{answer_failure, answer_success, parse_notify, verify_notify, Notify};
pub use sign::{sign, sign_string, verify};

/// Fields of one message by name (sorted, as the signature wants them).
pub type Fields = std::collections::BTreeMap<String, String>;

/// `result_code` of a successful call or payment.
pub const SUCCESS: &str = "000000";

/// Why a Fuiou call or message failed. Never carries key material.
#[derive(Clone, Debug, thiserror::Error, PartialEq, Eq)]
pub enum FuiouError {
    /// Fuiou answered with a `result_code` other than `000000`.
    #[error("Fuiou rejected the request: {code} {message}")]
    Rejected { code: String, message: String },
    /// The request did not get an answer: network error, timeout, HTTP status.
    #[error("Fuiou request failed: {0}")]
    Transport(String),
    /// A message (answer or notification) that does not decode: form, URL-encoding,
    /// GBK, XML or a required field.
    #[error("malformed Fuiou message: {0}")]
    Malformed(String),
    /// A message whose signature is missing or does not verify.
    #[error("bad Fuiou signature")]
    BadSignature,
    /// A request we cannot build: text outside GBK, an amount or time out of range.
    #[error("invalid Fuiou request: {0}")]
    Invalid(String),
}
