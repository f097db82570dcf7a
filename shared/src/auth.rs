//! Admin tokens: HS256 JWTs whose `jti` must also be named by a live session item
//! (see `store::sessions`), so they can be revoked.

use jsonwebtoken::{decode, encode, Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

/// A token could not be signed.
#[derive(Debug, thiserror::Error)]
#[error("token signing failed: {0}")]
pub struct SigningError(pub String);

/// Which token of the pair.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TokenKind {
    /// Sent as `Authorization: Bearer` on every admin request.
    Access,
    /// Exchanged for a new pair at `/api/admin/refresh-token`.
    Refresh,
}

/// Claims of an admin token.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Claims {
    /// Account id.
    pub sub: u64,
    /// Session id.
    pub sid: String,
    /// Token id; must match the session's current id for this kind.
    pub jti: String,
    /// Access or refresh.
    pub typ: TokenKind,
    /// User type (1–4).
    pub uty: i64,
    /// Agent's shop.
    pub shop: Option<u64>,
    /// Enterprise account's enterprise.
    pub ent: Option<u64>,
    /// Shops on the account's owner path, top-level first (shops never move, so this
    /// stays true); the per-request read checks each is still enabled.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub owners: Vec<u64>,
    /// Roles that counted for the account when the token was issued: the
    /// per-request read fetches them with the account (a hint only; the account's
    /// and shop's stored role sets decide).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rol: Vec<u64>,
    /// Issued at (epoch seconds).
    pub iat: i64,
    /// Expires at (epoch seconds).
    pub exp: i64,
}

/// Why a token was refused (all answer `1004`).
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum TokenError {
    /// Malformed, wrong algorithm, wrong key, or tampered.
    #[error("token invalid: {0}")]
    Invalid(String),
    /// Past its expiry.
    #[error("token expired")]
    Expired,
    /// An access token used as refresh token or the reverse.
    #[error("wrong token kind")]
    WrongKind,
}

/// Signing and verification keys, built once per cold start.
#[derive(Clone)]
pub struct TokenKeys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
}

impl std::fmt::Debug for TokenKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TokenKeys(..)")
    }
}

impl TokenKeys {
    /// Keys for the HS256 secret.
    pub fn new(secret: &str) -> Self {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.algorithms = vec![Algorithm::HS256];
        // Expiry is checked against the service clock (which tests can move).
        validation.validate_exp = false;
        validation.required_spec_claims = ["exp".to_string()].into_iter().collect();
        Self {
            encoding: EncodingKey::from_secret(secret.as_bytes()),
            decoding: DecodingKey::from_secret(secret.as_bytes()),
            validation,
        }
    }

    /// Signs `claims` (HS256 over plain claims does not fail in practice; if it did,
    /// the caller answers an internal error).
    pub fn issue(&self, claims: &Claims) -> Result<String, SigningError> {
        encode(&Header::new(Algorithm::HS256), claims, &self.encoding)
            .map_err(|e| SigningError(e.to_string()))
    }

    /// Verifies signature, algorithm, kind and expiry.
    pub fn verify(&self, token: &str, kind: TokenKind, now: i64) -> Result<Claims, TokenError> {
        let data = decode::<Claims>(token, &self.decoding, &self.validation)
            .map_err(|e| TokenError::Invalid(e.to_string()))?;
        let claims = data.claims;
        if claims.typ != kind {
            return Err(TokenError::WrongKind);
        }
        if claims.exp <= now {
            return Err(TokenError::Expired);
        }
        Ok(claims)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims(typ: TokenKind, exp: i64) -> Claims {
        Claims {
            sub: 7,
            sid: "s".into(),
            jti: "j".into(),
            typ,
            uty: 2,
            shop: None,
            ent: None,
            owners: vec![],
            rol: vec![],
            iat: 0,
            exp,
        }
    }

    const SECRET: &str = "0123456789abcdef0123456789abcdef";

    #[test]
    fn round_trip_and_expiry() {
        let keys = TokenKeys::new(SECRET);
        let t = keys.issue(&claims(TokenKind::Access, 100)).unwrap();
        assert_eq!(keys.verify(&t, TokenKind::Access, 99).unwrap().sub, 7);
        assert_eq!(
            keys.verify(&t, TokenKind::Access, 100),
            Err(TokenError::Expired)
        );
        assert_eq!(
            keys.verify(&t, TokenKind::Refresh, 99),
            Err(TokenError::WrongKind)
        );
    }

    #[test]
    fn forged_tokens_are_refused() {
        let keys = TokenKeys::new(SECRET);
        let other = TokenKeys::new("another-secret-another-secret-xx");
        let t = other.issue(&claims(TokenKind::Access, 100)).unwrap();
        assert!(matches!(
            keys.verify(&t, TokenKind::Access, 1),
            Err(TokenError::Invalid(_))
        ));

        // alg "none": header {"alg":"none","typ":"JWT"}, no signature.
        use base64_url as b64;
        let header = b64::encode(br#"{"alg":"none","typ":"JWT"}"#);
        let body = b64::encode(
            serde_json::to_string(&claims(TokenKind::Access, 100))
                .unwrap()
                .as_bytes(),
        );
        for forged in [format!("{header}.{body}."), format!("{header}.{body}")] {
            assert!(matches!(
                keys.verify(&forged, TokenKind::Access, 1),
                Err(TokenError::Invalid(_))
            ));
        }

        // Tampered payload with the original signature.
        let good = keys.issue(&claims(TokenKind::Access, 100)).unwrap();
        let parts: Vec<&str> = good.split('.').collect();
        let mut c = claims(TokenKind::Access, 100);
        c.uty = 1;
        let tampered = format!(
            "{}.{}.{}",
            parts[0],
            b64::encode(serde_json::to_string(&c).unwrap().as_bytes()),
            parts[2]
        );
        assert!(matches!(
            keys.verify(&tampered, TokenKind::Access, 1),
            Err(TokenError::Invalid(_))
        ));
        assert!(keys.verify("garbage", TokenKind::Access, 1).is_err());
    }

    /// Minimal unpadded base64url encoder for building forged tokens.
    mod base64_url {
        pub fn encode(data: &[u8]) -> String {
            const T: &[u8; 64] =
                b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
            let mut out = String::new();
            for chunk in data.chunks(3) {
                let b = [
                    chunk[0],
                    *chunk.get(1).unwrap_or(&0),
                    *chunk.get(2).unwrap_or(&0),
                ];
                let v = (b[0] as u32) << 16 | (b[1] as u32) << 8 | b[2] as u32;
                for i in 0..=chunk.len() {
                    out.push(T[(v >> (18 - 6 * i) & 63) as usize] as char);
                }
            }
            out
        }
    }
}
