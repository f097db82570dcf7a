//! Items of bulk tasks (decisions.md B4) under one partition `BULK#<id>`: the task
//! (`#`), the pages of a listed selection (`SEL#<page>`) and one result per asset
//! (`R#<identifier>`). A moved asset's result is written in the transaction that
//! moves it ([`moved_result`]); a refusal only where the asset has no result yet
//! ([`Store::put_bulk_refusals`]), so a replayed slice never turns a "moved" into a
//! refusal. Task updates are conditioned on the slice they follow, so a duplicate
//! delivery records nothing twice. See `docs/data-model.md`.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;

use super::keys::{self, BULK_PENDING};
use super::queued::{self, applied, pending_sort_key};
use super::steps::Op;
use super::tx::{Cond, Upd};
use super::{from_item, n, s, str_attr, to_item, Item, On, Store, StoreError};
use crate::clock::rfc3339;
use crate::domain::bulk::{BulkOutcome, BulkResult, BulkStatus, BulkTask, SelectionPage};

/// Label of the result written with a move.
const RESULT: &str = "result";

/// Refusals written at once.
const IN_FLIGHT: usize = 8;

/// Item of a bulk task; while pending it is also in the sparse `gsi2` partition of
/// pending tasks (its first progress or its end removes it).
pub fn bulk_item(t: &BulkTask) -> Result<Item, StoreError> {
    let mut item = to_item(t, &keys::bulk_task(t.id))?;
    if t.status == BulkStatus::Pending {
        item.insert("gsi2pk".into(), s(BULK_PENDING));
        item.insert("gsi2sk".into(), s(pending_sort_key(&t.created_at, t.id)));
    }
    Ok(item)
}

fn result_item(task: u64, r: &BulkResult, at: &str) -> Result<Item, StoreError> {
    let mut item = to_item(r, &keys::bulk_result(task, &r.identifier))?;
    item.insert("at".into(), s(at));
    Ok(item)
}

/// The result of task `task` for the asset `identifier`, to write in the same
/// transaction as its move (label `result`): it may replace a refusal an earlier
/// attempt recorded, never a "moved" — so an asset this task moved is never moved
/// by it again, even if it came back meanwhile (see [`already_moved`]).
pub fn moved_result(task: u64, identifier: &str, at: &str) -> Result<Op, StoreError> {
    let r = BulkResult {
        identifier: identifier.to_string(),
        result: BulkOutcome::Moved,
        reason: None,
    };
    let cond = Cond::new("attribute_not_exists(pk) OR #result <> :moved")
        .name("#result", "result")
        .value(":moved", s(BulkOutcome::Moved.as_str()));
    Ok(Op::Put(RESULT, result_item(task, &r, at)?, Some(cond)))
}

/// Whether a move failed because this task had moved the asset already.
pub fn already_moved(e: &StoreError) -> bool {
    e.failed_label() == Some(RESULT)
}

/// What one slice adds to its task.
#[derive(Clone, Debug, Default)]
pub struct SliceProgress {
    /// Where the next slice starts.
    pub next_part: u32,
    pub next_key: Option<HashMap<String, String>>,
    /// Results the slice recorded, moved and not.
    pub moved: u64,
    pub failed: u64,
}

/// How a task ends.
#[derive(Clone, Debug)]
pub struct Finish<'a> {
    /// `Done` or `Failed`.
    pub status: BulkStatus,
    /// Counts of the recorded results.
    pub moved: u64,
    pub failed: u64,
    /// The results file.
    pub results_key: &'a str,
    /// Why it failed.
    pub error: Option<&'a str>,
}

/// The condition of every task update: nobody recorded this slice (or ended the
/// task) since it was read, so a duplicate delivery records nothing.
fn at_slice(task: &BulkTask) -> Cond {
    Cond::new("slice = :slice AND #status IN (:pending, :running)")
        .name("#status", "status")
        .value(":slice", n(task.slice))
        .value(":pending", s(BulkStatus::Pending.as_str()))
        .value(":running", s(BulkStatus::Running.as_str()))
}

fn started(task: &BulkTask, now: i64) -> AttributeValue {
    queued::started(task.started_at.as_ref(), now)
}

impl Store {
    /// Stores a new task with the pages of its listed selection: the pages first
    /// (batch writes), then the task, which is what makes them reachable (pages of a
    /// task that was never saved are never read).
    pub async fn create_bulk_task(
        &self,
        task: &BulkTask,
        pages: &[SelectionPage],
    ) -> Result<(), StoreError> {
        let mut items = Vec::with_capacity(pages.len());
        for (i, p) in pages.iter().enumerate() {
            let page = u32::try_from(i).map_err(|e| StoreError::Codec(e.to_string()))?;
            items.push(to_item(p, &keys::bulk_page(task.id, page))?);
        }
        self.put_all(items).await?;
        self.put_new("task", bulk_item(task)?).await
    }

    /// Bulk task `id`.
    pub async fn bulk_task(&self, id: u64) -> Result<Option<BulkTask>, StoreError> {
        self.get_as(&keys::bulk_task(id)).await
    }

    /// Page `page` of task `id`'s listed selection.
    pub async fn bulk_page(&self, id: u64, page: u32) -> Result<Option<SelectionPage>, StoreError> {
        self.get_as(&keys::bulk_page(id, page)).await
    }

    /// Records refusals of task `task`, each only where its asset has no result yet
    /// (one conditional put each, [`IN_FLIGHT`] at a time). Returns, aligned with
    /// `refused`, whether the asset had been moved by an earlier attempt of the
    /// task (its "moved" result stays).
    pub async fn put_bulk_refusals(
        &self,
        task: u64,
        refused: &[BulkResult],
        at: &str,
    ) -> Result<Vec<bool>, StoreError> {
        let mut out = vec![false; refused.len()];
        let mut set = tokio::task::JoinSet::new();
        let mut pending = refused.iter().enumerate();
        loop {
            while set.len() < IN_FLIGHT {
                let Some((i, r)) = pending.next() else { break };
                let item = result_item(task, r, at)?;
                let store = self.clone();
                set.spawn(super::calls::inherit(async move {
                    (i, store.put_if(RESULT, item, Cond::absent()).await)
                }));
            }
            let Some(done) = set.join_next().await else {
                break;
            };
            let (i, res) = done.map_err(|e| StoreError::Dynamo(e.to_string()))?;
            match res {
                Ok(()) => {}
                Err(StoreError::ConditionFailed { old, .. }) => {
                    let moved = old.as_deref().and_then(|o| str_attr(o, "result"))
                        == Some(BulkOutcome::Moved.as_str());
                    if let Some(slot) = out.get_mut(i) {
                        *slot = moved;
                    }
                }
                Err(e) => return Err(e),
            }
        }
        Ok(out)
    }

    /// Every result of task `id`, in identifier order (all pages).
    pub async fn bulk_results(&self, id: u64) -> Result<Vec<BulkResult>, StoreError> {
        self.query_prefix(On::Table, &keys::bulk_task(id).pk, keys::BULK_RESULT_PREFIX)
            .await?
            .into_iter()
            .map(from_item)
            .collect()
    }

    /// Records a slice of `task`: where the next one starts and the slice's counts
    /// (the task is running from now on). `Ok(false)` when another delivery of the
    /// slice recorded it first.
    pub async fn record_bulk_slice(
        &self,
        task: &BulkTask,
        p: &SliceProgress,
        now: i64,
    ) -> Result<bool, StoreError> {
        let next_key = serde_dynamo::to_attribute_value(&p.next_key)
            .map_err(|e| StoreError::Codec(e.to_string()))?;
        let upd = Upd::new(
            "SET slice = :next_slice, next_part = :part, next_key = :key, #status = :running, \
             started_at = :started ADD processed_count :processed, moved_count :moved, \
             failed_count :failed, version :one REMOVE gsi2pk, gsi2sk",
        )
        .name("#status", "status")
        .value(":running", s(BulkStatus::Running.as_str()))
        .value(":next_slice", n(task.slice + 1))
        .value(":part", n(p.next_part))
        .value(":key", next_key)
        .value(":started", started(task, now))
        .value(":processed", n(p.moved + p.failed))
        .value(":moved", n(p.moved))
        .value(":failed", n(p.failed))
        .value(":one", n(1));
        applied(
            self.update_if("task", &keys::bulk_task(task.id), upd, at_slice(task))
                .await,
        )
    }

    /// Ends `task` with the counts of its recorded results and their file.
    /// `Ok(false)` when another delivery ended it first.
    pub async fn finish_bulk_task(
        &self,
        task: &BulkTask,
        f: &Finish<'_>,
        now: i64,
    ) -> Result<bool, StoreError> {
        let upd = Upd::new(
            "SET #status = :status, slice = :next_slice, processed_count = :processed, \
             moved_count = :moved, failed_count = :failed, results_key = :results, \
             #error = :error, started_at = :started, finished_at = :now \
             ADD version :one REMOVE gsi2pk, gsi2sk",
        )
        .name("#status", "status")
        .name("#error", "error")
        .value(":status", s(f.status.as_str()))
        .value(":next_slice", n(task.slice + 1))
        .value(":processed", n(f.moved + f.failed))
        .value(":moved", n(f.moved))
        .value(":failed", n(f.failed))
        .value(":results", s(f.results_key))
        .value(":error", f.error.map_or(AttributeValue::Null(true), s))
        .value(":started", started(task, now))
        .value(":now", s(rfc3339(now)))
        .value(":one", n(1));
        applied(
            self.update_if("task", &keys::bulk_task(task.id), upd, at_slice(task))
                .await,
        )
    }

    /// Marks a task that never started failed (it could not be queued).
    pub async fn fail_bulk_task(
        &self,
        task: &BulkTask,
        reason: &str,
        now: i64,
    ) -> Result<bool, StoreError> {
        let failed = BulkStatus::Failed.as_str();
        self.fail_task(
            &keys::bulk_task(task.id),
            at_slice(task),
            failed,
            reason,
            now,
        )
        .await
    }

    /// Tasks pending since before `cutoff` (RFC 3339; creation or last re-send),
    /// oldest first, at most `limit`.
    pub async fn pending_bulk_before(
        &self,
        cutoff: &str,
        limit: i32,
    ) -> Result<Vec<BulkTask>, StoreError> {
        self.pending_before(BULK_PENDING, cutoff, limit).await
    }

    /// Records that the first message of pending `task` was sent again at `at`: it
    /// is next due one threshold later. `Ok(false)` when it is no longer pending.
    pub async fn mark_bulk_resent(&self, task: &BulkTask, at: &str) -> Result<bool, StoreError> {
        self.mark_resent(&keys::bulk_task(task.id), task.id, at_slice(task), at)
            .await
    }
}
