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
        let start = now - now.rem_euclid(window);
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
