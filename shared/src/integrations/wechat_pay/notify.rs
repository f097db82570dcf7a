//! Payment notifications WeChat Pay posts to `notify_url`: header extraction,
//! signature/serial/freshness checks, resource decryption, and our answer.
//!
//! Handle in this order: [`NotifyHeaders::from_lookup`], [`verify_notification`] (on
//! the raw body bytes, before any parsing), [`parse_notification`],
//! [`decrypt_transaction`], then the idempotent state change and [`answer_success`].

use serde::{Deserialize, Serialize};

use super::sign::{decrypt_resource, platform_message, verify};
use super::{NotifyError, Transaction};

/// How far `Wechatpay-Timestamp` may be from now, in seconds.
pub const MAX_SKEW_SECONDS: i64 = 300;

/// The `Wechatpay-*` headers of a notification (or of an API response).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NotifyHeaders {
    /// `Wechatpay-Timestamp`: epoch seconds.
    pub timestamp: String,
    /// `Wechatpay-Nonce`.
    pub nonce: String,
    /// `Wechatpay-Signature`: Base64 RSA-SHA256.
    pub signature: String,
    /// `Wechatpay-Serial`: id of the WeChat Pay key that signed.
    pub serial: String,
}

impl NotifyHeaders {
    /// Reads the four headers through `get`, which must look names up
    /// case-insensitively (as `http::HeaderMap` does; the names are passed as
    /// `Wechatpay-Timestamp`...). Missing or blank → [`NotifyError::MissingHeader`].
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Self, NotifyError> {
        let read = |name: &'static str| {
            get(name)
                .or_else(|| get(&name.to_ascii_lowercase()))
                .map(|v| v.trim().to_string())
                .filter(|v| !v.is_empty())
                .ok_or(NotifyError::MissingHeader(name))
        };
        Ok(Self {
            timestamp: read("Wechatpay-Timestamp")?,
            nonce: read("Wechatpay-Nonce")?,
            signature: read("Wechatpay-Signature")?,
            serial: read("Wechatpay-Serial")?,
        })
    }

    /// Reads the headers from (name, value) pairs, names compared case-insensitively.
    pub fn from_pairs<'a>(
        pairs: impl IntoIterator<Item = (&'a str, &'a str)> + Clone,
    ) -> Result<Self, NotifyError> {
        Self::from_lookup(|name| {
            pairs
                .clone()
                .into_iter()
                .find(|(n, _)| n.eq_ignore_ascii_case(name))
                .map(|(_, v)| v.to_string())
        })
    }
}

/// The encrypted resource of a notification.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Resource {
    /// `transaction` for payment notifications.
    #[serde(default)]
    pub original_type: String,
    /// `AEAD_AES_256_GCM`.
    pub algorithm: String,
    /// Base64 of ciphertext and tag.
    pub ciphertext: String,
    /// AAD (`transaction`), may be empty.
    #[serde(default)]
    pub associated_data: String,
    /// The 12-character GCM nonce.
    pub nonce: String,
}

/// A notification body.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Notification {
    /// Notification id (the same on every redelivery).
    pub id: String,
    /// RFC 3339 creation time.
    #[serde(default)]
    pub create_time: String,
    /// `encrypt-resource`.
    #[serde(default)]
    pub resource_type: String,
    /// `TRANSACTION.SUCCESS` for a payment.
    pub event_type: String,
    /// `支付成功`.
    #[serde(default)]
    pub summary: String,
    /// The encrypted transaction.
    pub resource: Resource,
}

/// Parses a notification body.
pub fn parse_notification(body: &[u8]) -> Result<Notification, NotifyError> {
    serde_json::from_slice(body).map_err(|e| NotifyError::Malformed(format!("body: {e}")))
}

/// Checks the serial equals `platform_key_id`, the timestamp is within 5 minutes of
/// `now` (epoch s), and the signature over `TIMESTAMP\nNONCE\nBODY\n` with
/// `platform_key`. Run on the exact body bytes received. WeChat's signature probes
/// (`WECHATPAY/SIGNTEST/...`) fail with [`NotifyError::BadSignature`], as they should.
pub fn verify_notification(
    h: &NotifyHeaders,
    body: &[u8],
    platform_key_id: &str,
    platform_key: &rsa::PublicKey,
    now: i64,
) -> Result<(), NotifyError> {
    if h.serial != platform_key_id {
        return Err(NotifyError::WrongSerial);
    }
    let timestamp: i64 = h
        .timestamp
        .parse()
        .map_err(|_| NotifyError::Malformed("Wechatpay-Timestamp is not a number".into()))?;
    if (now - timestamp).abs() > MAX_SKEW_SECONDS {
        return Err(NotifyError::Stale);
    }
    if !verify(
        platform_key,
        &platform_message(&h.timestamp, &h.nonce, body),
        &h.signature,
    ) {
        return Err(NotifyError::BadSignature);
    }
    Ok(())
}

/// Decrypts a `transaction` resource with the API v3 key and parses it.
pub fn decrypt_transaction(
    resource: &Resource,
    api_v3_key: &str,
) -> Result<Transaction, NotifyError> {
    if resource.algorithm != "AEAD_AES_256_GCM" {
        return Err(NotifyError::Malformed(format!(
            "unsupported algorithm {}",
            resource.algorithm
        )));
    }
    let plain = decrypt_resource(
        api_v3_key,
        &resource.nonce,
        &resource.associated_data,
        &resource.ciphertext,
    )
    .ok_or(NotifyError::Decrypt)?;
    serde_json::from_slice(&plain).map_err(|e| NotifyError::Malformed(format!("transaction: {e}")))
}

/// Our answer to a notification we accepted: HTTP 200 with an empty body (the v3
/// convention; WeChat stops redelivering on any 2xx).
pub fn answer_success() -> (u16, String) {
    (200, String::new())
}

/// Our answer to a notification we refuse (WeChat redelivers later): HTTP 500 with
/// `{"code":"FAIL","message":...}`. Use it for bad signatures too: the message is
/// ours, never key material.
pub fn answer_failure(message: &str) -> (u16, String) {
    answer_failure_with(500, message)
}

/// [`answer_failure`] with another 4xx/5xx status (e.g. 401 for a bad signature);
/// a status outside 400–599 becomes 500.
pub fn answer_failure_with(status: u16, message: &str) -> (u16, String) {
    let status = if (400..600).contains(&status) {
        status
    } else {
        500
    };
    (
        status,
        serde_json::json!({ "code": "FAIL", "message": message }).to_string(),
    )
}
