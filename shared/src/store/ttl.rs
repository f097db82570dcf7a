//! Items that expire (`expires_at`, the table's TTL attribute). DynamoDB deletes them
//! late, so every read here treats `expires_at <= now` as absent.

use super::{num_attr, Item, Key, Store, StoreError};

/// True when the item carries an `expires_at` that has passed.
pub fn is_expired(item: &Item, now: i64) -> bool {
    num_attr(item, "expires_at").is_some_and(|at| at <= now)
}

/// Drops an item that has expired.
pub fn live(item: Option<Item>, now: i64) -> Option<Item> {
    item.filter(|i| !is_expired(i, now))
}

impl Store {
    /// Reads a TTL item, treating an expired one as absent.
    pub async fn get_live(&self, key: &Key, now: i64) -> Result<Option<Item>, StoreError> {
        Ok(live(self.get(key).await?, now))
    }
}

impl Store {
    /// Claims a TTL item until `until`: written when absent or expired, otherwise
    /// `ConditionFailed { label }` (someone holds it).
    pub async fn claim_ttl(
        &self,
        label: &'static str,
        key: &Key,
        now: i64,
        until: i64,
    ) -> Result<(), StoreError> {
        let mut item = key.item();
        item.insert("expires_at".into(), super::n(until));
        self.put_if(label, item, super::tx::Cond::absent_or_expired(now))
            .await
    }
}
