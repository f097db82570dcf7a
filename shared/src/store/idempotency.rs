//! Idempotency records after the AWS Powertools design.
//!
//! One record per idempotency key: `IN_PROGRESS` while the work runs, `COMPLETED`
//! with the stored response afterwards, a hash of the request payload checked on
//! every path, `expires_at` (TTL) and `in_progress_until` so a crashed attempt can
//! be taken over. Claiming is one conditional put that returns the old record when
//! it fails.

use serde::de::DeserializeOwned;
use serde::Serialize;
use sha2::{Digest, Sha256};

use super::tx::Cond;
use super::{keys, n, s, str_attr, Item, Store, StoreError};

const IN_PROGRESS: &str = "IN_PROGRESS";
const COMPLETED: &str = "COMPLETED";

/// Lifetimes of idempotency records.
#[derive(Clone, Copy, Debug)]
pub struct IdempotencyTtl {
    /// How long a completed record answers replays (seconds).
    pub completed: i64,
    /// How long an in-progress claim blocks others before it counts as crashed.
    pub in_progress: i64,
}

/// What a claim found.
#[derive(Debug, PartialEq)]
pub enum Claim {
    /// The caller owns the key now and must do the work; completing or releasing the
    /// claim needs this owner token, so an attempt whose claim was taken over (it ran
    /// past its in-progress time) cannot overwrite or free its successor's.
    Proceed(ClaimToken),
    /// The work was done before; this is its stored response.
    Replay(serde_json::Value),
}

/// Proof of owning an idempotency claim.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClaimToken(String);

/// Why a key could not be claimed.
#[derive(Debug, thiserror::Error)]
pub enum IdempotencyError {
    /// Same key, different payload.
    #[error("idempotency key reused with a different payload")]
    PayloadMismatch,
    /// Another attempt holds the key and has not finished yet.
    #[error("a request with this idempotency key is in progress")]
    InProgress,
    /// Storage failure.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The idempotency key of an admin request: the client's `key`, per account (two
/// accounts sending the same key do not meet).
pub fn account_key(account_id: u64, key: &str) -> String {
    format!("admin#{account_id}#{key}")
}

/// Stable hash of a request payload (SHA-256 of its JSON form, keys sorted).
pub fn payload_hash<T: Serialize>(payload: &T) -> String {
    let value = serde_json::to_value(payload).unwrap_or(serde_json::Value::Null);
    hex::encode(Sha256::digest(value.to_string().as_bytes()))
}

impl Store {
    /// Claims `key` for a request whose payload hashes to `hash`.
    pub async fn idempotency_claim(
        &self,
        key: &str,
        hash: &str,
        now: i64,
        ttl: IdempotencyTtl,
    ) -> Result<Claim, IdempotencyError> {
        let token = ClaimToken(uuid::Uuid::new_v4().simple().to_string());
        let mut item: Item = keys::idempotency(key).item();
        item.insert("status".into(), s(IN_PROGRESS));
        item.insert("payload_hash".into(), s(hash));
        item.insert("owner".into(), s(token.0.clone()));
        item.insert("in_progress_until".into(), n(now + ttl.in_progress));
        item.insert(
            "expires_at".into(),
            n(now + ttl.completed.max(ttl.in_progress)),
        );
        let cond = Cond::new(
            "attribute_not_exists(pk) OR expires_at <= :now OR \
             (#status = :in_progress AND in_progress_until <= :now AND payload_hash = :hash)",
        )
        .name("#status", "status")
        .value(":now", n(now))
        .value(":in_progress", s(IN_PROGRESS))
        .value(":hash", s(hash));
        match self.put_if("idempotency_claim", item, cond).await {
            Ok(()) => Ok(Claim::Proceed(token)),
            Err(StoreError::ConditionFailed { old: Some(old), .. }) => {
                if str_attr(&old, "payload_hash") != Some(hash) {
                    return Err(IdempotencyError::PayloadMismatch);
                }
                match str_attr(&old, "status") {
                    Some(COMPLETED) => {
                        let stored = str_attr(&old, "response").unwrap_or("null");
                        let value = serde_json::from_str(stored)
                            .map_err(|e| StoreError::Codec(e.to_string()))?;
                        Ok(Claim::Replay(value))
                    }
                    _ => Err(IdempotencyError::InProgress),
                }
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Stores the response of the work that claimed `key` with `token`; a claim since
    /// taken over by another attempt fails its condition and stores nothing.
    pub async fn idempotency_complete(
        &self,
        key: &str,
        hash: &str,
        token: &ClaimToken,
        response: &serde_json::Value,
        now: i64,
        ttl: IdempotencyTtl,
    ) -> Result<(), StoreError> {
        let mut item: Item = keys::idempotency(key).item();
        item.insert("status".into(), s(COMPLETED));
        item.insert("payload_hash".into(), s(hash));
        item.insert("response".into(), s(response.to_string()));
        item.insert("expires_at".into(), n(now + ttl.completed));
        self.put_if("idempotency_complete", item, owned_claim(token))
            .await
    }

    /// Gives up a claim after failed work, so a retry can start again at once (a claim
    /// taken over by another attempt is left alone).
    pub async fn idempotency_release(
        &self,
        key: &str,
        token: &ClaimToken,
    ) -> Result<(), StoreError> {
        let cond = owned_claim(token);
        let res = self
            .client()
            .delete_item()
            .table_name(self.table())
            .set_key(Some(keys::idempotency(key).item()))
            .condition_expression(cond.expr())
            .set_expression_attribute_names(cond.names_map())
            .set_expression_attribute_values(cond.values_map())
            .send()
            .await;
        match res {
            Ok(_) => Ok(()),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|se| se.is_conditional_check_failed_exception()) =>
            {
                Ok(())
            }
            Err(e) => Err(StoreError::dynamo(e)),
        }
    }

    /// Runs `work` at most once per `key`: a replay with the same payload returns the
    /// stored result; failed work releases the key so it can be retried.
    pub async fn idempotent<T, E, F, Fut>(
        &self,
        key: &str,
        payload_hash: &str,
        now: i64,
        ttl: IdempotencyTtl,
        work: F,
    ) -> Result<Result<T, E>, IdempotencyError>
    where
        T: Serialize + DeserializeOwned,
        F: FnOnce() -> Fut,
        Fut: std::future::Future<Output = Result<T, E>>,
    {
        match self.idempotency_claim(key, payload_hash, now, ttl).await? {
            Claim::Replay(v) => {
                let t = serde_json::from_value(v).map_err(|e| StoreError::Codec(e.to_string()))?;
                Ok(Ok(t))
            }
            Claim::Proceed(token) => match work().await {
                Ok(t) => {
                    let v =
                        serde_json::to_value(&t).map_err(|e| StoreError::Codec(e.to_string()))?;
                    self.idempotency_complete(key, payload_hash, &token, &v, now, ttl)
                        .await?;
                    Ok(Ok(t))
                }
                Err(e) => {
                    self.idempotency_release(key, &token).await?;
                    Ok(Err(e))
                }
            },
        }
    }
}

/// The record is still the in-progress claim made with `token`.
fn owned_claim(token: &ClaimToken) -> Cond {
    Cond::new("#status = :in_progress AND #owner = :owner")
        .name("#status", "status")
        .name("#owner", "owner")
        .value(":in_progress", s(IN_PROGRESS))
        .value(":owner", s(token.0.clone()))
}
