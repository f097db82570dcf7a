//! Signed webhooks (alert notifications; `docs/webhooks.md`): a JSON POST carrying
//! `X-CMP-Timestamp: <epoch seconds>` and
//! `X-CMP-Signature: sha256=<hex HMAC-SHA256(secret, "<timestamp>.<body>")>`.

use std::time::Duration;

use hmac::{KeyInit, Mac};

/// Header with the signing time (epoch seconds).
pub const TIMESTAMP_HEADER: &str = "X-CMP-Timestamp";
/// Header with the signature.
pub const SIGNATURE_HEADER: &str = "X-CMP-Signature";
/// Header naming the event (`alert.opened`, `alert.closed`).
pub const EVENT_HEADER: &str = "X-CMP-Event";
/// Header with the delivery id (the same on every attempt: receivers deduplicate).
pub const DELIVERY_HEADER: &str = "X-CMP-Delivery";
/// Timeout of one delivery attempt.
pub const TIMEOUT: Duration = Duration::from_secs(10);

type HmacSha256 = hmac::Hmac<sha2::Sha256>;

/// HMAC-SHA256 of `message` under `key` (RFC 2104).
pub fn hmac_sha256(key: &[u8], message: &[u8]) -> [u8; 32] {
    // HMAC accepts keys of any length: this never fails.
    let Ok(mut mac) = <HmacSha256 as KeyInit>::new_from_slice(key) else {
        return [0; 32];
    };
    mac.update(message);
    mac.finalize().into_bytes().into()
}

/// The `X-CMP-Signature` value of `body` sent at `timestamp` under `secret`.
pub fn signature(secret: &str, timestamp: i64, body: &[u8]) -> String {
    let mut message = format!("{timestamp}.").into_bytes();
    message.extend_from_slice(body);
    format!(
        "sha256={}",
        hex::encode(hmac_sha256(secret.as_bytes(), &message))
    )
}

/// Whether `header` is the signature of `body` at `timestamp` under `secret`
/// (compared in constant time).
pub fn verify(secret: &str, timestamp: i64, body: &[u8], header: &str) -> bool {
    let Some(hex_sig) = header.strip_prefix("sha256=") else {
        return false;
    };
    let Ok(given) = hex::decode(hex_sig) else {
        return false;
    };
    let mut message = format!("{timestamp}.").into_bytes();
    message.extend_from_slice(body);
    let Ok(mut mac) = <HmacSha256 as KeyInit>::new_from_slice(secret.as_bytes()) else {
        return false;
    };
    mac.update(&message);
    mac.verify_slice(&given).is_ok()
}

/// How one attempt ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Attempt {
    /// The receiver's HTTP status (none when it could not be reached).
    pub http_status: Option<u16>,
    /// Why it failed (`None`: delivered, a 2xx answer).
    pub error: Option<String>,
}

/// POSTs `body` to `url`, signed with `secret` at `timestamp`.
pub async fn post(
    http: &reqwest::Client,
    url: &str,
    secret: &str,
    timestamp: i64,
    event: &str,
    delivery_id: &str,
    body: Vec<u8>,
) -> Attempt {
    let sig = signature(secret, timestamp, &body);
    let res = http
        .post(url)
        .timeout(TIMEOUT)
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .header(TIMESTAMP_HEADER, timestamp.to_string())
        .header(SIGNATURE_HEADER, sig)
        .header(EVENT_HEADER, event)
        .header(DELIVERY_HEADER, delivery_id)
        .body(body)
        .send()
        .await;
    match res {
        Ok(r) if r.status().is_success() => Attempt {
            http_status: Some(r.status().as_u16()),
            error: None,
        },
        Ok(r) => Attempt {
            http_status: Some(r.status().as_u16()),
            error: Some(format!("receiver answered HTTP {}", r.status().as_u16())),
        },
        Err(e) => Attempt {
            http_status: None,
            error: Some(if e.is_timeout() {
                "timed out".to_string()
            } else {
                format!("unreachable: {e}")
            }),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // RFC 4231 test cases 1, 2, 3, 4, 6 and 7 (HMAC-SHA-256).
    #[test]
    fn rfc_4231_vectors() {
        let cases: [(Vec<u8>, Vec<u8>, &str); 6] = [
            (
                vec![0x0b; 20],
                b"Hi There".to_vec(),
                "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7",
            ),
            (
                b"Jefe".to_vec(),
                b"what do ya want for nothing?".to_vec(),
                "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843",
            ),
            (
                vec![0xaa; 20],
                vec![0xdd; 50],
                "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe",
            ),
            (
                (1u8..=25).collect(),
                vec![0xcd; 50],
                "82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b",
            ),
            (
                vec![0xaa; 131],
                b"Test Using Larger Than Block-Size Key - Hash Key First".to_vec(),
                "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54",
            ),
            (
                vec![0xaa; 131],
                b"This is a test using a larger than block-size key and a larger than block-size data. The key needs to be hashed before being used by the HMAC algorithm.".to_vec(),
                "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2",
            ),
        ];
        for (key, data, want) in cases {
            assert_eq!(hex::encode(hmac_sha256(&key, &data)), want);
        }
    }

    #[test]
    fn signatures_verify_only_unchanged() {
        let sig = signature("whsec_abc", 1_700_000_000, b"{\"a\":1}");
        assert!(verify("whsec_abc", 1_700_000_000, b"{\"a\":1}", &sig));
        assert!(!verify("whsec_abd", 1_700_000_000, b"{\"a\":1}", &sig));
        assert!(!verify("whsec_abc", 1_700_000_001, b"{\"a\":1}", &sig));
        assert!(!verify("whsec_abc", 1_700_000_000, b"{\"a\":2}", &sig));
        assert!(!verify("whsec_abc", 1_700_000_000, b"{\"a\":1}", "sha1=00"));
    }
}
