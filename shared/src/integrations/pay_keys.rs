//! RSA keys of the payment providers, as merchants receive and paste them: PEM
//! (PKCS#8 `PRIVATE KEY`, PKCS#1 `RSA PRIVATE KEY`, SPKI `PUBLIC KEY`, PKCS#1
//! `RSA PUBLIC KEY`) or the bare Base64 DER that Fuiou's portal hands out.

use base64::Engine;
use rsa::pkcs1::{DecodeRsaPrivateKey, DecodeRsaPublicKey};
use rsa::pkcs8::{
    DecodePrivateKey, DecodePublicKey, EncodePrivateKey, EncodePublicKey, LineEnding,
};
use rsa::{Generate, PrivateKey, PublicKey};

/// A key that is none of the accepted forms.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("not an RSA {0} key in PEM or Base64 DER form")]
pub struct BadKey(pub &'static str);

/// The DER bytes of a PEM block, or of bare Base64 (whitespace ignored).
fn der_of(text: &str) -> Option<Vec<u8>> {
    let body: String = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with("-----"))
        .collect();
    base64::engine::general_purpose::STANDARD
        .decode(body.as_bytes())
        .ok()
}

/// Parses a private key: PKCS#8 or PKCS#1, PEM or bare Base64 DER.
pub fn parse_private_key(text: &str) -> Result<PrivateKey, BadKey> {
    let der = der_of(text).ok_or(BadKey("private"))?;
    PrivateKey::from_pkcs8_der(&der)
        .or_else(|_| PrivateKey::from_pkcs1_der(&der))
        .map_err(|_| BadKey("private"))
}

/// Parses a public key: SPKI or PKCS#1, PEM or bare Base64 DER.
pub fn parse_public_key(text: &str) -> Result<PublicKey, BadKey> {
    let der = der_of(text).ok_or(BadKey("public"))?;
    PublicKey::from_public_key_der(&der)
        .or_else(|_| PublicKey::from_pkcs1_der(&der))
        .map_err(|_| BadKey("public"))
}

/// A new key pair (`rsa`'s default size, 3072 bits) as (PKCS#8 PEM private key, SPKI PEM public key): for the
/// fake providers and tests. Seconds in an unoptimised build of `rsa` (the workspace
/// optimises it in dev builds).
pub fn generate_key_pair() -> Result<(String, String), BadKey> {
    let key = PrivateKey::generate();
    let private = key
        .to_pkcs8_pem(LineEnding::LF)
        .map_err(|_| BadKey("generated"))?
        .to_string();
    let public = key
        .to_public_key()
        .to_public_key_pem(LineEnding::LF)
        .map_err(|_| BadKey("generated"))?;
    Ok((private, public))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rsa::pkcs1::{EncodeRsaPrivateKey, EncodeRsaPublicKey};

    #[test]
    fn every_accepted_form_parses() {
        let (private, public) = generate_key_pair().unwrap();
        let key = parse_private_key(&private).unwrap();
        assert_eq!(parse_public_key(&public).unwrap(), key.to_public_key());
        let pkcs1 = key.to_pkcs1_pem(LineEnding::CRLF).unwrap().to_string();
        assert_eq!(parse_private_key(&pkcs1).unwrap(), key);
        let bare: String = private
            .lines()
            .filter(|l| !l.starts_with("-----"))
            .collect();
        assert_eq!(parse_private_key(&bare).unwrap(), key);
        let pub1 = key.to_public_key().to_pkcs1_pem(LineEnding::LF).unwrap();
        assert_eq!(parse_public_key(&pub1).unwrap(), key.to_public_key());
        assert_eq!(parse_private_key("hello"), Err(BadKey("private")));
        assert_eq!(parse_public_key(&private), Err(BadKey("public")));
    }
}
