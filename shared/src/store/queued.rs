//! Bookkeeping shared by the queued tasks (imports, bulk moves): the sparse `gsi2`
//! partition of tasks still pending (for the re-send sweeps), the re-send mark, the
//! failure of a task that never ran, and the answer of a task update that may lose
//! to another delivery.

use aws_sdk_dynamodb::types::AttributeValue;

use super::keys::gsi1;
use super::tx::{Cond, Upd};
use super::{from_item, n, s, Key, On, Query, SkCond, Store, StoreError};
use crate::clock::rfc3339;
use serde::de::DeserializeOwned;

/// `gsi2` sort key of a pending task: since when (creation or last re-send), then
/// the id.
pub(super) fn pending_sort_key(since: &str, id: u64) -> String {
    format!("{since}#{}", gsi1::padded(id))
}

/// When a task started: as recorded, or now for its first progress.
pub(super) fn started(started_at: Option<&String>, now: i64) -> AttributeValue {
    s(started_at.cloned().unwrap_or_else(|| rfc3339(now)))
}

/// `Ok(false)` when the update lost to another delivery.
pub(super) fn applied(res: Result<(), StoreError>) -> Result<bool, StoreError> {
    match res {
        Ok(()) => Ok(true),
        Err(StoreError::ConditionFailed { .. }) => Ok(false),
        Err(e) => Err(e),
    }
}

impl Store {
    /// Tasks of pending partition `partition` pending since before `cutoff` (RFC
    /// 3339; creation or last re-send), oldest first, at most `limit`.
    pub(super) async fn pending_before<T: DeserializeOwned>(
        &self,
        partition: &str,
        cutoff: &str,
        limit: i32,
    ) -> Result<Vec<T>, StoreError> {
        let q = Query {
            on: On::Gsi2,
            pk: partition.into(),
            sk: SkCond::Between("0".into(), format!("{cutoff}#~")),
            filter: None,
            limit: Some(limit),
            start: None,
            backward: false,
        };
        let (items, _) = self.query(&q).await?;
        items.into_iter().map(from_item).collect()
    }

    /// Records that the first message of task `id` (at `key`, unchanged since read:
    /// `unchanged`) was sent again at `at`: it is next due one threshold later.
    /// `Ok(false)` when the task is no longer pending.
    pub(super) async fn mark_resent(
        &self,
        key: &Key,
        id: u64,
        unchanged: Cond,
        at: &str,
    ) -> Result<bool, StoreError> {
        let upd = Upd::new("SET gsi2sk = :since").value(":since", s(pending_sort_key(at, id)));
        let cond = unchanged.and(Cond::new("attribute_exists(gsi2pk)"));
        applied(self.update_if("task", key, upd, cond).await)
    }

    /// Marks the task at `key` (unchanged since read: `unchanged`) `failed` with
    /// `reason`, out of the pending partition. `Ok(false)` when it moved on meanwhile.
    pub(super) async fn fail_task(
        &self,
        key: &Key,
        unchanged: Cond,
        failed: &str,
        reason: &str,
        now: i64,
    ) -> Result<bool, StoreError> {
        let upd = Upd::new(
            "SET #status = :failed, #error = :reason, finished_at = :now ADD version :one \
             REMOVE gsi2pk, gsi2sk",
        )
        .name("#status", "status")
        .name("#error", "error")
        .value(":failed", s(failed))
        .value(":reason", s(reason))
        .value(":now", s(rfc3339(now)))
        .value(":one", n(1));
        applied(self.update_if("task", key, upd, unchanged).await)
    }
}
