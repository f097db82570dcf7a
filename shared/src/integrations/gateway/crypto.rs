//! The carrier gateway's payload encryption and request signature
//! (carrier-gateway.md §2, unknowns U1–U4).
//!
//! The upstream document does not say how the AES key is derived, which padding and
//! ciphertext encoding are used, or how the MD5 sign string is composed. This module
//! is the only place that decides, so it is the only place to change when the
//! document arrives. The default, [`AesEcbMd5`]:
//! - key: the first 16 bytes of the app secret (UTF-8);
//! - AES-128-ECB with PKCS#7 padding, ciphertext as standard Base64;
//! - sign: lowercase hex MD5 of `appId + data + timestamp + appSecret`.
//!
//! [`Transparent`] is the fake gateway's test mode of §7: `data` is Base64 of the
//! plain JSON and signatures are not checked.

use aes::cipher::generic_array::GenericArray;
use aes::cipher::{BlockDecrypt, BlockEncrypt, KeyInit};
use aes::Aes128;
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use md5::{Digest, Md5};

/// The payload could not be decrypted (wrong key, corrupt data, bad padding).
#[derive(Debug, thiserror::Error, PartialEq)]
#[error("gateway crypto: {0}")]
pub struct CryptoError(pub String);

/// Encryption and signing of gateway requests, shared by the client and the fake.
pub trait GatewayCrypto: Send + Sync + std::fmt::Debug {
    /// Encrypts the `{"params": ...}` JSON into the envelope's `data`.
    fn encrypt(&self, plain: &[u8]) -> String;
    /// Recovers the JSON from `data` (the fake gateway's side).
    fn decrypt(&self, data: &str) -> Result<Vec<u8>, CryptoError>;
    /// The envelope's `sign` for one attempt.
    fn sign(&self, app_id: &str, data: &str, timestamp: i64) -> String;
    /// Whether `sign` is right for this attempt (constant-time comparison).
    fn verify(&self, app_id: &str, data: &str, timestamp: i64, sign: &str) -> bool {
        let want = self.sign(app_id, data, timestamp);
        want.len() == sign.len()
            && want
                .bytes()
                .zip(sign.bytes())
                .fold(0u8, |acc, (a, b)| acc | (a ^ b))
                == 0
    }
}

/// The project's default scheme (see the module documentation).
#[derive(Clone)]
pub struct AesEcbMd5 {
    cipher: Aes128,
    secret: String,
}

impl std::fmt::Debug for AesEcbMd5 {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AesEcbMd5(..)")
    }
}

impl AesEcbMd5 {
    /// A scheme for `app_secret`, which must hold at least 16 bytes.
    pub fn new(app_secret: &str) -> Result<Self, CryptoError> {
        let key = app_secret
            .as_bytes()
            .get(..16)
            .ok_or_else(|| CryptoError("the app secret must be at least 16 bytes".into()))?;
        Ok(Self {
            cipher: Aes128::new(GenericArray::from_slice(key)),
            secret: app_secret.to_string(),
        })
    }
}

impl GatewayCrypto for AesEcbMd5 {
    fn encrypt(&self, plain: &[u8]) -> String {
        let pad = 16 - plain.len() % 16;
        let mut buf = plain.to_vec();
        buf.extend(std::iter::repeat_n(pad as u8, pad));
        for block in buf.chunks_exact_mut(16) {
            self.cipher
                .encrypt_block(GenericArray::from_mut_slice(block));
        }
        STANDARD.encode(buf)
    }

    fn decrypt(&self, data: &str) -> Result<Vec<u8>, CryptoError> {
        let mut buf = STANDARD
            .decode(data)
            .map_err(|e| CryptoError(format!("not Base64: {e}")))?;
        if buf.is_empty() || buf.len() % 16 != 0 {
            return Err(CryptoError(
                "ciphertext is not a whole number of blocks".into(),
            ));
        }
        for block in buf.chunks_exact_mut(16) {
            self.cipher
                .decrypt_block(GenericArray::from_mut_slice(block));
        }
        let pad = *buf.last().unwrap_or(&0) as usize;
        let valid = (1..=16).contains(&pad)
            && buf
                .get(buf.len().saturating_sub(pad)..)
                .is_some_and(|tail| tail.len() == pad && tail.iter().all(|b| *b as usize == pad));
        if !valid {
            return Err(CryptoError("bad padding (wrong key?)".into()));
        }
        buf.truncate(buf.len() - pad);
        Ok(buf)
    }

    fn sign(&self, app_id: &str, data: &str, timestamp: i64) -> String {
        let mut md5 = Md5::new();
        md5.update(app_id.as_bytes());
        md5.update(data.as_bytes());
        md5.update(timestamp.to_string().as_bytes());
        md5.update(self.secret.as_bytes());
        hex::encode(md5.finalize())
    }
}

/// Test mode: `data` is Base64 of the plain JSON, any signature is accepted.
#[derive(Clone, Copy, Debug, Default)]
pub struct Transparent;

impl GatewayCrypto for Transparent {
    fn encrypt(&self, plain: &[u8]) -> String {
        STANDARD.encode(plain)
    }

    fn decrypt(&self, data: &str) -> Result<Vec<u8>, CryptoError> {
        STANDARD
            .decode(data)
            .map_err(|e| CryptoError(format!("not Base64: {e}")))
    }

    fn sign(&self, _: &str, _: &str, _: i64) -> String {
        String::new()
    }

    fn verify(&self, _: &str, _: &str, _: i64, _: &str) -> bool {
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "abcdefghijklmnopqrstuvwxyz";
    const PLAIN: &[u8] = br#"{"params":{"cardNo":"89860012345678901234"}}"#;

    #[test]
    fn matches_an_independent_implementation() {
        // `openssl enc -aes-128-ecb -K hex("abcdefghijklmnop") -nosalt | base64`
        let c = AesEcbMd5::new(SECRET).unwrap();
        assert_eq!(
            c.encrypt(PLAIN),
            "qz7/JfEFQXVCuRkx1OJ3g3G3sG/ML7hpCu2Yp5YVhEbzic1JLjDWwLmlpFeylPP6"
        );
        // Python: hashlib.md5(b"app-1" + b"DATA" + b"1741317000" + secret).hexdigest()
        assert_eq!(
            c.sign("app-1", "DATA", 1_741_317_000),
            "20c792d9591504c2ec1896ccbc3c5716"
        );
    }

    #[test]
    fn round_trips_and_rejects_tampering() {
        let c = AesEcbMd5::new(SECRET).unwrap();
        for len in [0, 1, 15, 16, 17, 100] {
            let plain = vec![b'x'; len];
            assert_eq!(c.decrypt(&c.encrypt(&plain)).unwrap(), plain);
        }
        let data = c.encrypt(PLAIN);
        let sign = c.sign("app-1", &data, 1_741_317_000);
        assert!(c.verify("app-1", &data, 1_741_317_000, &sign));
        assert!(
            !c.verify("app-1", &data, 1_741_317_001, &sign),
            "timestamp is signed"
        );
        assert!(
            !c.verify("app-2", &data, 1_741_317_000, &sign),
            "app id is signed"
        );
        assert!(
            !c.verify("app-1", &data, 1_741_317_000, &sign.to_uppercase()),
            "lowercase hex"
        );
        let other = AesEcbMd5::new("ABCDEFGHIJKLMNOPQRSTUVWXYZ").unwrap();
        assert!(other.decrypt(&data).is_err() || other.decrypt(&data).unwrap() != PLAIN);
        assert!(c.decrypt("not base64!").is_err());
        assert!(c.decrypt("AAAA").is_err(), "not a whole block");
        assert!(AesEcbMd5::new("short").is_err());
    }

    #[test]
    fn transparent_mode_is_base64_of_the_json() {
        let t = Transparent;
        assert_eq!(t.decrypt(&t.encrypt(PLAIN)).unwrap(), PLAIN);
        assert!(t.verify("a", "b", 1, "anything"));
    }
}
