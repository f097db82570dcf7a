//! Shared test fixtures.

use std::sync::OnceLock;

use crate::integrations::pay_keys::generate_key_pair;

/// The merchant's key pair (PEM), made once per test run.
pub(crate) fn merchant_keys() -> (String, String) {
    static KEYS: OnceLock<(String, String)> = OnceLock::new();
    KEYS.get_or_init(|| generate_key_pair().unwrap()).clone()
}
