//! Numeric ids from per-kind counters (`UpdateItem ADD`), so ids stay small, ordered
//! and safe as JSON numbers. Gaps (ids taken by failed creates) are harmless.

use aws_sdk_dynamodb::types::ReturnValue;

use super::{keys, n, num_attr, Store, StoreError};

impl Store {
    /// Reserves `count` consecutive ids of `kind`; returns the first.
    pub async fn next_ids(&self, kind: &str, count: u64) -> Result<u64, StoreError> {
        if count == 0 {
            return Err(StoreError::Codec("zero ids requested".into()));
        }
        let out = self
            .client()
            .update_item()
            .table_name(self.table())
            .set_key(Some(keys::counter(kind).item()))
            .update_expression("ADD seq :n")
            .expression_attribute_values(":n", n(count))
            .return_values(ReturnValue::UpdatedNew)
            .send()
            .await
            .map_err(StoreError::dynamo)?;
        let last = out
            .attributes
            .as_ref()
            .and_then(|a| num_attr(a, "seq"))
            .ok_or_else(|| StoreError::Codec("counter returned no seq".into()))?;
        Ok(last as u64 - count + 1)
    }

    /// Reserves one id of `kind`.
    pub async fn next_id(&self, kind: &str) -> Result<u64, StoreError> {
        self.next_ids(kind, 1).await
    }
}
