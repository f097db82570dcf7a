//! Fuiou's signature: MD5withRSA (RSA PKCS#1 v1.5 over MD5) of the GBK bytes of the
//! sorted `k=v&…` string, Base64.

use base64::Engine;
use md5::Md5;
use rsa::pkcs1v15::{Signature, SigningKey, VerifyingKey};
use rsa::signature::{SignatureEncoding, Signer, Verifier};
use rsa::{PrivateKey, PublicKey};

use super::xml::to_gbk;
use super::{Fields, FuiouError};

/// Whether a field takes part in the signature: all but `sign` and `reserved*`.
pub fn is_signed(name: &str) -> bool {
    name != "sign" && !name.starts_with("reserved")
}

/// The string that is signed: every signed field (see [`is_signed`]) as `k=v`, in name
/// order, joined with `&`; empty values are kept (`k=`).
pub fn sign_string(fields: &Fields) -> String {
    let mut out = String::new();
    for (name, value) in fields.iter().filter(|(name, _)| is_signed(name)) {
        if !out.is_empty() {
            out.push('&');
        }
        out.push_str(name);
        out.push('=');
        out.push_str(value);
    }
    out
}

/// Signs `fields` (their `sign` is ignored) with a signing key: Base64 signature.
pub fn sign_with(fields: &Fields, key: &SigningKey<Md5>) -> Result<String, FuiouError> {
    let bytes = to_gbk(&sign_string(fields))
        .ok_or_else(|| FuiouError::Invalid("text outside GBK".into()))?;
    let signature = key
        .try_sign(&bytes)
        .map_err(|_| FuiouError::Invalid("RSA signing failed".into()))?;
    Ok(base64::engine::general_purpose::STANDARD.encode(signature.to_bytes()))
}

/// Checks the `sign` field of `fields` with a verifying key.
pub fn verify_with(fields: &Fields, key: &VerifyingKey<Md5>) -> Result<(), FuiouError> {
    let sign: String = fields
        .get("sign")
        .ok_or(FuiouError::BadSignature)?
        .chars()
        .filter(|c| !c.is_ascii_whitespace())
        .collect();
    let raw = base64::engine::general_purpose::STANDARD
        .decode(sign.as_bytes())
        .map_err(|_| FuiouError::BadSignature)?;
    let signature = Signature::try_from(raw.as_slice()).map_err(|_| FuiouError::BadSignature)?;
    let bytes = to_gbk(&sign_string(fields)).ok_or(FuiouError::BadSignature)?;
    key.verify(&bytes, &signature)
        .map_err(|_| FuiouError::BadSignature)
}

/// Signs `fields` (their `sign` is ignored) with `key`: Base64 signature.
pub fn sign(fields: &Fields, key: &PrivateKey) -> Result<String, FuiouError> {
    sign_with(fields, &SigningKey::<Md5>::new(key.clone()))
}

/// Checks the `sign` field of `fields` against `key`.
pub fn verify(fields: &Fields, key: &PublicKey) -> Result<(), FuiouError> {
    verify_with(fields, &VerifyingKey::<Md5>::new(key.clone()))
}

/// `fields` with their `sign` set.
pub fn signed(mut fields: Fields, key: &SigningKey<Md5>) -> Result<Fields, FuiouError> {
    let sign = sign_with(&fields, key)?;
    fields.insert("sign".into(), sign);
    Ok(fields)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::integrations::fuiou::tests::merchant_keys;
    use crate::integrations::pay_keys::{parse_private_key, parse_public_key};

    fn sample() -> Fields {
        [
            ("version", "1.0"),
            ("mchnt_cd", "0002900F0313432"),
            ("goods_des", "流量套餐"),
            ("goods_detail", ""),
            ("order_amt", "990"),
            ("sign", "ignored"),
            ("reserved_expire_minute", "30"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
    }

    #[test]
    fn sign_string_sorts_and_skips_sign_and_reserved() {
        assert_eq!(
            sign_string(&sample()),
            "goods_des=流量套餐&goods_detail=&mchnt_cd=0002900F0313432&order_amt=990&version=1.0"
        );
    }

    /// Cross-check with openssl: `openssl dgst -md5 -sign` over the same GBK bytes gives
    /// the same signature (PKCS#1 v1.5 is deterministic), and ours verifies theirs.
    #[test]
    fn signature_matches_openssl() {
        let (private_pem, public_pem) = merchant_keys();
        let key = parse_private_key(&private_pem).unwrap();
        let fields = sample();
        let ours = sign(&fields, &key).unwrap();

        let dir = std::env::temp_dir().join(format!("fuiou-sign-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let key_file = dir.join("key.pem");
        let data_file = dir.join("data.bin");
        std::fs::write(&key_file, &private_pem).unwrap();
        let gbk = to_gbk(&sign_string(&fields)).unwrap();
        assert!(gbk.windows(2).any(|w| w == [0xC1, 0xF7]), "GBK, not UTF-8");
        std::fs::write(&data_file, &gbk).unwrap();
        let out = std::process::Command::new("openssl")
            .args(["dgst", "-md5", "-sign"])
            .arg(&key_file)
            .arg(&data_file)
            .output()
            .expect("openssl");
        std::fs::remove_dir_all(&dir).unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let theirs = base64::engine::general_purpose::STANDARD.encode(&out.stdout);
        assert_eq!(ours, theirs);

        let mut with_theirs = fields.clone();
        with_theirs.insert("sign".into(), theirs);
        let public = parse_public_key(&public_pem).unwrap();
        verify(&with_theirs, &public).unwrap();
        // Reserved fields may change without breaking the signature; others may not.
        with_theirs.insert("reserved_fy_settle_dt".into(), "20240101".into());
        verify(&with_theirs, &public).unwrap();
        with_theirs.insert("order_amt".into(), "1".into());
        assert_eq!(verify(&with_theirs, &public), Err(FuiouError::BadSignature));
    }

    #[test]
    fn broken_signatures_are_bad_never_a_panic() {
        let (private_pem, _) = merchant_keys();
        let key = parse_private_key(&private_pem).unwrap();
        let public = key.to_public_key();
        let mut fields = sample();
        for bad in ["", "!!!", "AAAA", &"A".repeat(4000)] {
            fields.insert("sign".into(), bad.into());
            assert_eq!(verify(&fields, &public), Err(FuiouError::BadSignature));
        }
        fields.remove("sign");
        assert_eq!(verify(&fields, &public), Err(FuiouError::BadSignature));
        fields.insert("goods_des".into(), "😀".into());
        assert!(matches!(sign(&fields, &key), Err(FuiouError::Invalid(_))));
    }
}
