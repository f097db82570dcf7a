//! Data cleanup (jobs.md J3): the configurations (one per target), the run logs, the
//! run lock, and reading and deleting the items of a cleanable kind oldest first
//! through the cleanup index (`keys::cleanup_index`; docs/data-model.md "Data
//! cleanup").
//!
//! - `CLEANCFG#<target>` / `#`: the [`DataCleanupConfig`]; `CLEANCFGID#<id>` / `#`:
//!   `target` (the shape of `store::polling_configs`).
//! - `CLEANLOG#<id>` / `#`: a [`DataCleanupLog`], listed newest first in `gsi2`
//!   (`CLEANLOGS`, `<started:012>#<id:020>`), itself cleanable (`data_cleanup_logs`).
//! - `LOCK#data_cleanup` / `#`: the run lock, a TTL item of one hour.

use aws_sdk_dynamodb::types::{DeleteRequest, WriteRequest};

use super::cursor::{Cursor, Source};
use super::keys::{
    cleanup_config, cleanup_config_id, cleanup_cutoff_sort, cleanup_lock, cleanup_log,
    cleanup_partition, mark_cleanable, CLEANUP_INDEX, CLEANUP_LOGS,
};
use super::polling_configs::{Slot, SlotRefusal};
use super::tx::{Cond, Upd};
use super::{n, s, str_attr, to_item, Item, Key, On, Query, SkCond, Store, StoreError};
use crate::domain::data_cleanup::{CleanupTarget, DataCleanupConfig, DataCleanupLog};
use crate::paging::CursorPage;

/// Label of the run lock.
pub const LOCK_LABEL: &str = "data_cleanup_lock";
/// Label of a log's writes.
pub const LOG_LABEL: &str = "data_cleanup_log";

fn slot(target: CleanupTarget, id: u64) -> Slot {
    Slot {
        key: cleanup_config(target),
        pointer: cleanup_config_id(id),
        name_attr: "target",
        name: target.as_str().to_string(),
    }
}

fn log_item(log: &DataCleanupLog, started: i64) -> Result<Item, StoreError> {
    let mut item = to_item(log, &cleanup_log(log.id))?;
    item.insert("gsi2pk".into(), s(CLEANUP_LOGS));
    item.insert(
        "gsi2sk".into(),
        s(format!("{:012}#{:020}", started.max(0), log.id)),
    );
    mark_cleanable(
        &mut item,
        CleanupTarget::DataCleanupLogs,
        started,
        &log.id.to_string(),
    );
    Ok(item)
}

/// One page of the items of a kind written before a cutoff, oldest first.
#[derive(Debug, Default)]
pub struct OldItems {
    /// Their table keys.
    pub keys: Vec<Key>,
    /// Where the next page starts in the same partition (`None`: none left).
    pub next: Option<Item>,
}

impl Store {
    /// The cleanup configuration of `target`.
    pub async fn cleanup_config(
        &self,
        target: CleanupTarget,
    ) -> Result<Option<DataCleanupConfig>, StoreError> {
        self.get_as(&cleanup_config(target)).await
    }

    /// Every cleanup configuration, in target order (one BatchGetItem).
    pub async fn cleanup_configs(&self) -> Result<Vec<DataCleanupConfig>, StoreError> {
        let keys: Vec<Key> = CleanupTarget::ALL.into_iter().map(cleanup_config).collect();
        let mut all: Vec<DataCleanupConfig> = self.slots_at(&keys).await?;
        all.sort_by_key(|c| c.target);
        Ok(all)
    }

    /// Cleanup configuration `id` (its pointer, then the configuration).
    pub async fn cleanup_config_by_id(
        &self,
        id: u64,
    ) -> Result<Option<DataCleanupConfig>, StoreError> {
        let Some(name) = self.slot_name(&cleanup_config_id(id), "target").await? else {
            return Ok(None);
        };
        let Some(target) = CleanupTarget::parse(&name) else {
            return Ok(None);
        };
        Ok(self.cleanup_config(target).await?.filter(|c| c.id == id))
    }

    /// Creates `c`: refused with `Exists` when its target has a configuration.
    pub async fn create_cleanup_config(
        &self,
        c: &DataCleanupConfig,
    ) -> Result<Result<(), SlotRefusal>, StoreError> {
        self.create_slot(&slot(c.target, c.id), c.id, c).await
    }

    /// Replaces `c` (its version already moved on by one).
    pub async fn replace_cleanup_config(
        &self,
        c: &DataCleanupConfig,
    ) -> Result<Result<(), SlotRefusal>, StoreError> {
        self.replace_slot(&slot(c.target, c.id), c.id, c.version, c)
            .await
    }

    /// Deletes `c` (as read, at its version) and its pointer.
    pub async fn delete_cleanup_config(
        &self,
        c: &DataCleanupConfig,
    ) -> Result<Result<(), SlotRefusal>, StoreError> {
        self.delete_slot(&slot(c.target, c.id), c.id, c.version)
            .await
    }

    /// Writes a new log (started at `started`, epoch seconds).
    pub async fn create_cleanup_log(
        &self,
        log: &DataCleanupLog,
        started: i64,
    ) -> Result<(), StoreError> {
        self.put_new(LOG_LABEL, log_item(log, started)?).await
    }

    /// Replaces log `log` (its outcome), on condition that it exists.
    pub async fn finish_cleanup_log(
        &self,
        log: &DataCleanupLog,
        started: i64,
    ) -> Result<(), StoreError> {
        self.put_if(
            LOG_LABEL,
            log_item(log, started)?,
            Cond::new("attribute_exists(pk)"),
        )
        .await
    }

    /// Cleanup log `id`.
    pub async fn cleanup_log(&self, id: u64) -> Result<Option<DataCleanupLog>, StoreError> {
        self.get_as(&cleanup_log(id)).await
    }

    /// One page of the logs, newest first.
    pub async fn cleanup_log_page(
        &self,
        page_size: u32,
        cursor: Cursor,
        config_id: Option<u64>,
    ) -> Result<CursorPage<DataCleanupLog>, StoreError> {
        let source = Source::scope(On::Gsi2, CLEANUP_LOGS.to_string(), SkCond::Any).backward();
        let filter = super::lists::Filter::new().eq_id("config_id", config_id);
        self.read_page(&source, filter.cond(), page_size, cursor, |_| true)
            .await
    }

    /// Takes the run lock until `until`; `false` when another run holds it.
    pub async fn claim_cleanup_lock(&self, now: i64, until: i64) -> Result<bool, StoreError> {
        match self
            .claim_ttl(LOCK_LABEL, &cleanup_lock(), now, until)
            .await
        {
            Ok(()) => Ok(true),
            Err(StoreError::ConditionFailed { .. }) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Releases the run lock taken until `until` (not one taken since by another run).
    pub async fn release_cleanup_lock(&self, until: i64) -> Result<(), StoreError> {
        let res = self
            .update_if(
                LOCK_LABEL,
                &cleanup_lock(),
                Upd::new("SET expires_at = :zero").value(":zero", n(0)),
                Cond::new("expires_at = :until").value(":until", n(until)),
            )
            .await;
        match res {
            Ok(()) | Err(StoreError::ConditionFailed { .. }) => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// Up to `limit` items of `kind` in cleanup shard `shard` written before `cutoff`
    /// (epoch seconds), oldest first, from `start` (a previous page's `next`).
    pub async fn cleanup_candidates(
        &self,
        kind: CleanupTarget,
        shard: u32,
        cutoff: i64,
        limit: i32,
        start: Option<Item>,
    ) -> Result<OldItems, StoreError> {
        let q = Query {
            on: CLEANUP_INDEX,
            pk: cleanup_partition(kind, shard),
            sk: SkCond::Between("0".into(), cleanup_cutoff_sort(cutoff)),
            filter: None,
            limit: Some(limit.max(1)),
            start,
            backward: false,
        };
        let (items, next) = self.query(&q).await?;
        let keys = items
            .iter()
            .filter_map(|i| Some(Key::new(str_attr(i, "pk")?, str_attr(i, "sk")?)))
            .collect();
        Ok(OldItems { keys, next })
    }

    /// Deletes the items at `keys` (BatchWriteItem, 25 a call, unprocessed ones
    /// retried). Unconditional: the cleanup index sorts by the time an item was
    /// written, which never changes, so an item found older than the cutoff stays so.
    pub async fn delete_all(&self, keys: &[Key]) -> Result<(), StoreError> {
        for chunk in keys.chunks(25) {
            let mut requests: Vec<WriteRequest> = chunk
                .iter()
                .map(|k| {
                    DeleteRequest::builder()
                        .set_key(Some(k.item()))
                        .build()
                        .map(|d| WriteRequest::builder().delete_request(d).build())
                        .map_err(StoreError::dynamo)
                })
                .collect::<Result<_, _>>()?;
            let mut attempt = 0;
            while !requests.is_empty() {
                if attempt > 0 {
                    tokio::time::sleep(super::tx::backoff(attempt)).await;
                }
                attempt += 1;
                let out = self
                    .client()
                    .batch_write_item()
                    .request_items(self.table(), requests)
                    .send()
                    .await
                    .map_err(StoreError::dynamo)?;
                requests = out
                    .unprocessed_items
                    .and_then(|mut u| u.remove(self.table()))
                    .unwrap_or_default();
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::data_cleanup::CleanupStatus;

    #[test]
    fn logs_are_listed_and_cleanable() {
        let log = DataCleanupLog {
            id: 9,
            config_id: 1,
            target: CleanupTarget::WebhookDeliveries,
            run_id: "r".into(),
            trigger: "manual".into(),
            cutoff: 0,
            started_at: String::new(),
            finished_at: None,
            deleted_count: 0,
            status: CleanupStatus::Running,
            error: None,
        };
        let item = log_item(&log, 100).unwrap();
        assert_eq!(str_attr(&item, "gsi2pk"), Some(CLEANUP_LOGS));
        assert!(str_attr(&item, "gsi4pk")
            .unwrap()
            .starts_with("CLEAN#data_cleanup_logs#"));
        assert_eq!(str_attr(&item, "gsi4sk"), Some("000000000100#9"));
    }
}
