//! Fixed-window rate limits: one counter item per scope and window, incremented with
//! a condition so the limit holds under concurrency; the item expires with the window.

use aws_sdk_dynamodb::operation::update_item::UpdateItemError;

use super::{keys, n, Store, StoreError};

impl Store {
    /// Counts one hit for `scope` in the current window of `window` seconds.
    /// Returns `false` (and counts nothing) once `limit` hits were already counted.
    pub async fn hit_rate_limit(
        &self,
        scope: &str,
        limit: i64,
        window: i64,
        now: i64,
    ) -> Result<bool, StoreError> {
        let start = window_start(now, window);
        let res = self
            .client()
            .update_item()
            .table_name(self.table())
            .set_key(Some(keys::rate_limit(scope, start).item()))
            .update_expression("SET expires_at = :exp ADD hits :one")
            .condition_expression("attribute_not_exists(hits) OR hits < :limit")
            .expression_attribute_values(":exp", n(start + window))
            .expression_attribute_values(":one", n(1))
            .expression_attribute_values(":limit", n(limit))
            .send()
            .await;
        match res {
            Ok(_) => Ok(true),
            Err(e) => match e.as_service_error() {
                Some(UpdateItemError::ConditionalCheckFailedException(_)) => Ok(false),
                _ => Err(StoreError::dynamo(e)),
            },
        }
    }
}

/// Failure counters: failed attempts counted per scope and fixed window, read before
/// an attempt and cleared by a success (login and password-change throttling).
impl Store {
    /// Failures counted for each of `scopes` in the current window (one BatchGetItem).
    pub async fn failure_counts(
        &self,
        scopes: &[&str],
        window: i64,
        now: i64,
    ) -> Result<Vec<i64>, StoreError> {
        let keys_: Vec<super::Key> = scopes
            .iter()
            .map(|s| keys::rate_limit(s, window_start(now, window)))
            .collect();
        let items = self.get_many(&keys_).await?;
        Ok(keys_
            .iter()
            .map(|k| {
                items
                    .iter()
                    .find(|i| k.matches(i))
                    .and_then(|i| super::num_attr(i, "hits"))
                    .unwrap_or(0)
            })
            .collect())
    }

    /// Counts one failure for `scope` in the current window.
    pub async fn count_failure(
        &self,
        scope: &str,
        window: i64,
        now: i64,
    ) -> Result<(), StoreError> {
        let start = window_start(now, window);
        self.client()
            .update_item()
            .table_name(self.table())
            .set_key(Some(keys::rate_limit(scope, start).item()))
            .update_expression("SET expires_at = :exp ADD hits :one")
            .expression_attribute_values(":exp", n(start + window))
            .expression_attribute_values(":one", n(1))
            .send()
            .await
            .map_err(StoreError::dynamo)?;
        Ok(())
    }

    /// Forgets the failures of `scope` in the current window.
    pub async fn clear_failures(
        &self,
        scope: &str,
        window: i64,
        now: i64,
    ) -> Result<(), StoreError> {
        self.delete(&keys::rate_limit(scope, window_start(now, window)))
            .await
    }
}

/// Start of the fixed window of `window` seconds holding `now`.
fn window_start(now: i64, window: i64) -> i64 {
    now - now.rem_euclid(window)
}
