//! Argon2id password hashing.

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;

/// A hash of a well-known dummy password, verified against when the username does not
/// exist so that unknown usernames take as long as wrong passwords.
static DUMMY_HASH: std::sync::OnceLock<String> = std::sync::OnceLock::new();

/// A password could not be hashed (Argon2 refused its parameters; not expected with
/// the defaults, answered as an internal error if it happens).
#[derive(Debug, thiserror::Error)]
#[error("password hashing failed: {0}")]
pub struct HashError(String);

/// Hashes `password` with Argon2id (PHC string with a random salt).
pub fn hash(password: &str) -> Result<String, HashError> {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| HashError(e.to_string()))
}

/// Verifies `password` against a PHC hash; a malformed hash never verifies.
pub fn verify(password: &str, phc: &str) -> bool {
    PasswordHash::new(phc)
        .map(|h| {
            Argon2::default()
                .verify_password(password.as_bytes(), &h)
                .is_ok()
        })
        .unwrap_or(false)
}

/// Spends the same work as [`verify`] without a real account; always false.
pub fn verify_dummy(password: &str) -> bool {
    let h = DUMMY_HASH.get_or_init(|| hash("dummy-password-for-timing").unwrap_or_default());
    let _ = verify(password, h);
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_then_verify() {
        let h = hash("s3cret-pass").unwrap();
        assert!(h.starts_with("$argon2id$"));
        assert!(verify("s3cret-pass", &h));
        assert!(!verify("wrong", &h));
        assert!(!verify("s3cret-pass", "not-a-hash"));
        assert_ne!(h, hash("s3cret-pass").unwrap(), "salted");
        assert!(!verify_dummy("anything"));
    }
}
