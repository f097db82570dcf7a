//! Envelope encryption with KMS: each sealed value gets its own data key
//! (`GenerateDataKey`, AES-256), the value is encrypted locally with AES-256-GCM, and
//! only the KMS-encrypted data key is stored beside it. Opening asks KMS to decrypt
//! the data key (`Decrypt`) under the same encryption context, so a sealed value
//! copied onto another record does not open.
//!
//! The plaintext data keys of opened values are kept for the life of the process
//! (keyed by their encrypted form), so a warm function calls KMS once per sealed
//! value, not once per use.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use aws_sdk_kms::primitives::Blob;
use aws_sdk_kms::types::DataKeySpec;
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use serde::{Deserialize, Serialize};

/// A value sealed under a data key.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sealed {
    /// The data key, encrypted by KMS (Base64).
    pub key: String,
    /// The AES-GCM nonce (Base64, 12 bytes).
    pub nonce: String,
    /// The ciphertext with its tag (Base64).
    pub data: String,
}

impl std::fmt::Debug for Sealed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Sealed(..)")
    }
}

/// Sealing or opening failed (KMS unreachable or refusing, or a damaged value).
#[derive(Debug, thiserror::Error)]
pub enum SealError {
    #[error("KMS: {0}")]
    Kms(String),
    #[error("the sealed value does not open")]
    Corrupt,
    #[error("no KMS key is configured (CMP_PAYMENT_KMS_KEY)")]
    NoKey,
}

/// Seals and opens values with one KMS key.
#[derive(Clone, Debug)]
pub struct Envelope {
    client: aws_sdk_kms::Client,
    key_id: String,
    keys: Arc<Mutex<HashMap<String, [u8; 32]>>>,
}

impl Envelope {
    /// An envelope using KMS key `key_id` (id, ARN or `alias/…`).
    pub fn new(client: aws_sdk_kms::Client, key_id: &str) -> Self {
        Self {
            client,
            key_id: key_id.into(),
            keys: Arc::default(),
        }
    }

    /// The KMS client (the local stack creates its key with it).
    pub fn client(&self) -> &aws_sdk_kms::Client {
        &self.client
    }

    /// Seals `plain` for the record named `context` (its encryption context).
    pub async fn seal(&self, plain: &[u8], context: &str) -> Result<Sealed, SealError> {
        if self.key_id.is_empty() {
            return Err(SealError::NoKey);
        }
        let out = self
            .client
            .generate_data_key()
            .key_id(&self.key_id)
            .key_spec(DataKeySpec::Aes256)
            .encryption_context("record", context)
            .send()
            .await
            .map_err(|e| SealError::Kms(aws_sdk_kms::error::DisplayErrorContext(e).to_string()))?;
        let (Some(plain_key), Some(blob)) = (out.plaintext(), out.ciphertext_blob()) else {
            return Err(SealError::Kms("GenerateDataKey answered no key".into()));
        };
        let key: [u8; 32] = plain_key.as_ref().try_into().map_err(|_| {
            SealError::Kms("GenerateDataKey answered a key of the wrong size".into())
        })?;
        let nonce: [u8; 12] = rand::random();
        let data = cipher(&key)
            .encrypt(
                Nonce::from_slice(&nonce),
                Payload {
                    msg: plain,
                    aad: context.as_bytes(),
                },
            )
            .map_err(|_| SealError::Corrupt)?;
        let encrypted_key = B64.encode(blob.as_ref());
        if let Ok(mut keys) = self.keys.lock() {
            keys.insert(encrypted_key.clone(), key);
        }
        Ok(Sealed {
            key: encrypted_key,
            nonce: B64.encode(nonce),
            data: B64.encode(data),
        })
    }

    /// Opens `sealed`, sealed for `context`.
    pub async fn open(&self, sealed: &Sealed, context: &str) -> Result<Vec<u8>, SealError> {
        let known = self
            .keys
            .lock()
            .ok()
            .and_then(|k| k.get(&sealed.key).copied());
        let key = match known {
            Some(key) => key,
            None => {
                let blob = B64.decode(&sealed.key).map_err(|_| SealError::Corrupt)?;
                let out = self
                    .client
                    .decrypt()
                    .ciphertext_blob(Blob::new(blob))
                    .encryption_context("record", context)
                    .send()
                    .await
                    .map_err(|e| {
                        SealError::Kms(aws_sdk_kms::error::DisplayErrorContext(e).to_string())
                    })?;
                let key: [u8; 32] = out
                    .plaintext()
                    .map(|p| p.as_ref())
                    .ok_or(SealError::Corrupt)?
                    .try_into()
                    .map_err(|_| SealError::Corrupt)?;
                if let Ok(mut keys) = self.keys.lock() {
                    keys.insert(sealed.key.clone(), key);
                }
                key
            }
        };
        let nonce = B64.decode(&sealed.nonce).map_err(|_| SealError::Corrupt)?;
        if nonce.len() != 12 {
            return Err(SealError::Corrupt);
        }
        let data = B64.decode(&sealed.data).map_err(|_| SealError::Corrupt)?;
        cipher(&key)
            .decrypt(
                Nonce::from_slice(&nonce),
                Payload {
                    msg: &data,
                    aad: context.as_bytes(),
                },
            )
            .map_err(|_| SealError::Corrupt)
    }
}

fn cipher(key: &[u8; 32]) -> Aes256Gcm {
    Aes256Gcm::new(key.into())
}
