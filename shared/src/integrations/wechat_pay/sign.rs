//! WeChat Pay v3 signatures (RSA PKCS#1 v1.5 with SHA-256, Base64) over the
//! newline-terminated messages the protocol defines, the `Authorization` header,
//! and the AES-256-GCM resource encryption of notifications.

use aes_gcm::aead::generic_array::GenericArray;
use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::Aes256Gcm;
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use rand::distributions::Alphanumeric;
use rand::Rng;
use rsa::pkcs1v15::{Signature, SigningKey, VerifyingKey};
use rsa::sha2::Sha256;
use rsa::signature::{SignatureEncoding, Signer, Verifier};
use rsa::{PrivateKey, PublicKey};

use super::{Merchant, PayError};

/// The `Authorization` scheme of WeChat Pay v3.
pub const AUTH_SCHEME: &str = "WECHATPAY2-SHA256-RSA2048";

/// A random alphanumeric string of `len` characters (request nonces are 32, the
/// AES-GCM nonce of a notification resource is 12).
pub fn nonce_str(len: usize) -> String {
    rand::thread_rng()
        .sample_iter(&Alphanumeric)
        .take(len)
        .map(char::from)
        .collect()
}

/// Base64 RSA-SHA256 (PKCS#1 v1.5) signature of `message`.
pub fn sign(key: &PrivateKey, message: &[u8]) -> Result<String, PayError> {
    let signer = SigningKey::<Sha256>::new(key.clone());
    let signature = signer
        .try_sign(message)
        .map_err(|_| PayError::Invalid("the private key cannot sign".into()))?;
    Ok(B64.encode(signature.to_bytes()))
}

/// Whether `signature` (Base64) is `key`'s RSA-SHA256 signature of `message`.
pub fn verify(key: &PublicKey, message: &[u8], signature: &str) -> bool {
    let Ok(bytes) = B64.decode(signature.trim().as_bytes()) else {
        return false;
    };
    let Ok(signature) = Signature::try_from(bytes.as_slice()) else {
        return false;
    };
    VerifyingKey::<Sha256>::new(key.clone())
        .verify(message, &signature)
        .is_ok()
}

/// The message a request signature covers:
/// `METHOD\nPATH_AND_QUERY\nTIMESTAMP\nNONCE\nBODY\n` (BODY empty for GET).
pub fn request_message(
    method: &str,
    path_and_query: &str,
    timestamp: &str,
    nonce: &str,
    body: &str,
) -> String {
    format!("{method}\n{path_and_query}\n{timestamp}\n{nonce}\n{body}\n")
}

/// The message a response or notification signature covers: `TIMESTAMP\nNONCE\nBODY\n`.
pub fn platform_message(timestamp: &str, nonce: &str, body: &[u8]) -> Vec<u8> {
    let mut message = Vec::with_capacity(timestamp.len() + nonce.len() + body.len() + 3);
    message.extend_from_slice(timestamp.as_bytes());
    message.push(b'\n');
    message.extend_from_slice(nonce.as_bytes());
    message.push(b'\n');
    message.extend_from_slice(body);
    message.push(b'\n');
    message
}

/// The `Authorization` header value of a request signed by `merchant`.
pub fn authorization(
    merchant: &Merchant,
    method: &str,
    path_and_query: &str,
    body: &str,
    timestamp: i64,
    nonce: &str,
) -> Result<String, PayError> {
    let message = request_message(method, path_and_query, &timestamp.to_string(), nonce, body);
    let signature = sign(&merchant.private_key, message.as_bytes())?;
    Ok(format!(
        "{AUTH_SCHEME} mchid=\"{}\",nonce_str=\"{nonce}\",signature=\"{signature}\",timestamp=\"{timestamp}\",serial_no=\"{}\"",
        merchant.mch_id, merchant.serial_no
    ))
}

/// The parts of an `Authorization` header (what WeChat Pay reads from a request).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Authorization {
    /// Merchant id.
    pub mchid: String,
    /// Request nonce.
    pub nonce_str: String,
    /// Base64 signature.
    pub signature: String,
    /// Epoch seconds, as sent.
    pub timestamp: String,
    /// Merchant certificate serial number.
    pub serial_no: String,
}

impl Authorization {
    /// Parses `WECHATPAY2-SHA256-RSA2048 k="v",...`; `None` unless the scheme is right
    /// and all five parts are present exactly once and non-empty.
    pub fn parse(header: &str) -> Option<Self> {
        let rest = header.strip_prefix(AUTH_SCHEME)?.strip_prefix(' ')?;
        let mut parts: [Option<String>; 5] = Default::default();
        const NAMES: [&str; 5] = ["mchid", "nonce_str", "signature", "timestamp", "serial_no"];
        for item in rest.split(',') {
            let (name, value) = item.trim().split_once('=')?;
            let value = value.strip_prefix('"')?.strip_suffix('"')?;
            if let Some(i) = NAMES.iter().position(|n| *n == name) {
                let slot = parts.get_mut(i)?;
                if slot.is_some() || value.is_empty() {
                    return None;
                }
                *slot = Some(value.to_string());
            }
        }
        let [mchid, nonce_str, signature, timestamp, serial_no] = parts;
        Some(Self {
            mchid: mchid?,
            nonce_str: nonce_str?,
            signature: signature?,
            timestamp: timestamp?,
            serial_no: serial_no?,
        })
    }
}

/// The JSAPI `paySign`: Base64 RSA-SHA256 over `appId\ntimeStamp\nnonceStr\npackage\n`.
pub fn pay_sign(
    key: &PrivateKey,
    app_id: &str,
    time_stamp: &str,
    nonce_str: &str,
    package: &str,
) -> Result<String, PayError> {
    sign(
        key,
        format!("{app_id}\n{time_stamp}\n{nonce_str}\n{package}\n").as_bytes(),
    )
}

/// AES-256-GCM seal: ciphertext with the 16-byte tag appended. `None` unless the key
/// is 32 bytes and the nonce 12.
pub fn seal(key: &[u8], nonce: &[u8], aad: &[u8], plaintext: &[u8]) -> Option<Vec<u8>> {
    let cipher = Aes256Gcm::new_from_slice(key).ok()?;
    if nonce.len() != 12 {
        return None;
    }
    let nonce = GenericArray::clone_from_slice(nonce);
    cipher
        .encrypt(
            &nonce,
            Payload {
                msg: plaintext,
                aad,
            },
        )
        .ok()
}

/// AES-256-GCM open of `ciphertext || tag`. `None` if the key or nonce has the wrong
/// size or the tag does not verify.
pub fn open(key: &[u8], nonce: &[u8], aad: &[u8], sealed: &[u8]) -> Option<Vec<u8>> {
    let cipher = Aes256Gcm::new_from_slice(key).ok()?;
    if nonce.len() != 12 {
        return None;
    }
    let nonce = GenericArray::clone_from_slice(nonce);
    cipher.decrypt(&nonce, Payload { msg: sealed, aad }).ok()
}

/// Encrypts a notification resource the way WeChat Pay does: key = the API v3 key's
/// bytes, nonce = the 12-character nonce's bytes; Base64 of ciphertext and tag.
pub fn encrypt_resource(
    api_v3_key: &str,
    nonce: &str,
    aad: &str,
    plaintext: &[u8],
) -> Option<String> {
    seal(
        api_v3_key.as_bytes(),
        nonce.as_bytes(),
        aad.as_bytes(),
        plaintext,
    )
    .map(|c| B64.encode(c))
}

/// Decrypts a notification resource (inverse of [`encrypt_resource`]).
pub fn decrypt_resource(
    api_v3_key: &str,
    nonce: &str,
    aad: &str,
    ciphertext: &str,
) -> Option<Vec<u8>> {
    let sealed = B64.decode(ciphertext.trim().as_bytes()).ok()?;
    open(
        api_v3_key.as_bytes(),
        nonce.as_bytes(),
        aad.as_bytes(),
        &sealed,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::integrations::pay_keys::parse_private_key;
    use crate::integrations::wechat_pay::tests::key_pem;
    use std::process::Command;

    fn temp_file(name: &str, content: &[u8]) -> std::path::PathBuf {
        let path = std::env::temp_dir().join(format!("wxpay-{}-{name}", uuid::Uuid::new_v4()));
        std::fs::write(&path, content).unwrap();
        path
    }

    fn openssl_available() -> bool {
        Command::new("openssl")
            .arg("version")
            .output()
            .is_ok_and(|o| o.status.success())
    }

    #[test]
    fn rsa_signatures_match_openssl_both_ways() {
        if !openssl_available() {
            eprintln!("openssl not on PATH: cross-check skipped");
            return;
        }
        let (private_pem, public_pem) = key_pem(0);
        let key = parse_private_key(private_pem).unwrap();
        let message = request_message(
            "POST",
            "/v3/pay/transactions/native?x=1",
            "1554208460",
            "593BEC0C930BF1AFEB40B4A08C8FB242",
            "{\"a\":\"支付\"}",
        );
        let key_file = temp_file("key.pem", private_pem.as_bytes());
        let pub_file = temp_file("pub.pem", public_pem.as_bytes());
        let msg_file = temp_file("msg", message.as_bytes());
        let out = Command::new("openssl")
            .args(["dgst", "-sha256", "-sign"])
            .arg(&key_file)
            .arg(&msg_file)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let theirs = B64.encode(&out.stdout);
        let ours = sign(&key, message.as_bytes()).unwrap();
        assert_eq!(ours, theirs, "PKCS#1 v1.5 is deterministic");
        assert!(verify(&key.to_public_key(), message.as_bytes(), &theirs));
        // And openssl accepts ours.
        let sig_file = temp_file("sig", &B64.decode(&ours).unwrap());
        let out = Command::new("openssl")
            .args(["dgst", "-sha256", "-verify"])
            .arg(&pub_file)
            .arg("-signature")
            .arg(&sig_file)
            .arg(&msg_file)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stdout)
        );
        for f in [key_file, pub_file, msg_file, sig_file] {
            let _ = std::fs::remove_file(f);
        }
        assert!(!verify(&key.to_public_key(), b"other", &ours));
        assert!(!verify(
            &key.to_public_key(),
            message.as_bytes(),
            "not base64!"
        ));
    }

    fn hex(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    /// Test Case 16 of McGrew & Viega, "The Galois/Counter Mode of Operation" (the NIST
    /// GCM submission): AES-256, 96-bit IV, with AAD.
    #[test]
    fn aes_gcm_matches_the_published_vector() {
        let key = hex("feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308");
        let iv = hex("cafebabefacedbaddecaf888");
        let aad = hex("feedfacedeadbeeffeedfacedeadbeefabaddad2");
        let plain = hex("d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a721c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b39");
        let expected = hex("522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f662\
             76fc6ece0f4e1768cddf8853bb2d551b");
        assert_eq!(seal(&key, &iv, &aad, &plain).unwrap(), expected);
        assert_eq!(open(&key, &iv, &aad, &expected).unwrap(), plain);
        let mut bad = expected.clone();
        bad[3] ^= 1;
        assert_eq!(open(&key, &iv, &aad, &bad), None);
        assert_eq!(open(&key, &iv, b"other", &expected), None);
        assert_eq!(seal(&key[..31], &iv, &aad, &plain), None);
        assert_eq!(seal(&key, &iv[..11], &aad, &plain), None);
    }

    /// The resource encryption as WeChat Pay's own SDKs do it (Python `cryptography`'s
    /// AESGCM here), when python3 has that package.
    #[test]
    fn resource_encryption_matches_python_cryptography() {
        let key = "0123456789abcdefghijABCDEFGHIJ01";
        let nonce = "fdasflkja484";
        let plain =
            "{\"out_trade_no\":\"ORD123\",\"trade_state\":\"SUCCESS\",\"summary\":\"支付成功\"}";
        let ours = encrypt_resource(key, nonce, "transaction", plain.as_bytes()).unwrap();
        assert_eq!(
            decrypt_resource(key, nonce, "transaction", &ours).unwrap(),
            plain.as_bytes()
        );
        let script = "import sys,base64\nfrom cryptography.hazmat.primitives.ciphers.aead import AESGCM\n\
            k,n,a,c=sys.argv[1:5]\n\
            sys.stdout.write(AESGCM(k.encode()).decrypt(n.encode(),base64.b64decode(c),a.encode()).decode())\n";
        match Command::new("python3")
            .args(["-c", script, key, nonce, "transaction", &ours])
            .output()
        {
            Ok(out) if out.status.success() => {
                assert_eq!(String::from_utf8(out.stdout).unwrap(), plain)
            }
            Ok(out) => eprintln!(
                "python3 cross-check skipped: {}",
                String::from_utf8_lossy(&out.stderr)
            ),
            Err(e) => eprintln!("python3 cross-check skipped: {e}"),
        }
        assert_eq!(decrypt_resource(key, nonce, "other", &ours), None);
        assert_eq!(decrypt_resource("short", nonce, "transaction", &ours), None);
    }

    #[test]
    fn authorization_headers_parse() {
        let header = "WECHATPAY2-SHA256-RSA2048 mchid=\"1900009191\",nonce_str=\"593BEC0C930BF1AFEB40B4A08C8FB242\",signature=\"uOVRnA4qG/MNnYzdQxJanN+zU+lTgIcnU9BxGw5dKjK+VdEUz2FeIoC+D5sB/LN+nGzX3hfZg6r5wT1pl2ZobmIc6p0ldN7J6yDgUzbX8Uk3sD4a4eZVPTBvqNDoUqcYMlZ9uuDdCvNv4TM3c1WzsXUrExwVkI1XO5jCNbgDJ25nkT/c1gIFvqoogl7MdSFGc4W4xZsqCItnqbypR3RuGIlR9h9vlRsy7zJR9PBI83X8alLDIfR1ukt1P7tMnmogZ0cuDY8cZsd8ZlCgLadmvej58SLsIkVxFJ8XmUgx9mUe4UkPrYm1EMKFjuHlEJXm5/TSJa8AdVfw8L8IIx6Gu7qwO4w==\",timestamp=\"1554208460\",serial_no=\"1DDE55AD98ED71D6EDD4A4A16996DE7B47773A8C\"";
        let auth = Authorization::parse(header).unwrap();
        assert_eq!(auth.mchid, "1900009191");
        assert_eq!(auth.timestamp, "1554208460");
        assert_eq!(auth.serial_no, "1DDE55AD98ED71D6EDD4A4A16996DE7B47773A8C");
        assert!(auth.signature.ends_with("=="));
        assert_eq!(
            Authorization::parse(&header.replace("RSA2048", "RSA1024")),
            None
        );
        assert_eq!(
            Authorization::parse(&header.replace(",timestamp=\"1554208460\"", "")),
            None
        );
        assert_eq!(
            Authorization::parse(&header.replace("mchid=\"1900009191\"", "mchid=\"\"")),
            None
        );
        let twice = format!("{header},mchid=\"1\"");
        assert_eq!(Authorization::parse(&twice), None);
    }
}
