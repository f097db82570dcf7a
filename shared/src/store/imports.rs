//! Items of import tasks and their rejected rows, and the writes of the import worker:
//! task progress and outcome, the operations of an imported card row (uniqueness
//! claims that remember the task and row that made them, so a redelivered chunk
//! recognises its own rows, and the card), and virtual-number fills with their
//! rollback. See `docs/data-model.md` and `docs/architecture.md` (Imports).

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;

use super::assets::card_item;
use super::keys::{self, gsi1};
use super::org::{unique_item, with_gsi1};
use super::queued::{self, applied, pending_sort_key};
use super::tx::{Cond, FailedCondition, Tx, Upd};
use super::{from_item, n, num_attr, s, str_attr, to_item, Item, Key, On, Store, StoreError};
use crate::clock::rfc3339;
use crate::domain::assets::{FailedItem, ImportStatus, ImportTask, IotCard};

/// `gsi2` partition of import tasks that have not started (a sparse index the
/// pending-import sweep reads by age).
const PENDING_IMPORTS: &str = "IMPORTS#PENDING";

/// `gsi2` partition of import tasks awaiting their upload (the sweep expires them
/// by age).
const AWAITING_IMPORTS: &str = "IMPORTS#AWAITING";

/// Item of an import task, listed under its import type by id; while pending it is
/// also in the sparse `gsi2` partition of pending tasks (the worker's first progress
/// removes it), while awaiting its upload in that of awaiting tasks (its start moves
/// it to the pending one).
pub fn import_item(t: &ImportTask) -> Result<Item, StoreError> {
    let item = to_item(t, &keys::import(t.id))?;
    let mut item = with_gsi1(
        item,
        &keys::imports_partition(t.import_type),
        gsi1::padded(t.id),
    );
    let partition = match t.status {
        ImportStatus::Pending => Some(PENDING_IMPORTS),
        ImportStatus::AwaitingUpload => Some(AWAITING_IMPORTS),
        _ => None,
    };
    if let Some(partition) = partition {
        item.insert("gsi2pk".into(), s(partition));
        item.insert("gsi2sk".into(), s(pending_sort_key(&t.created_at, t.id)));
    }
    Ok(item)
}

/// An asset value an import keeps unique.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Unique {
    /// A card's ICCID.
    Iccid,
    /// A card's MSISDN.
    Msisdn,
    /// A card's virtual number.
    CardVirtualNo,
    /// A device's virtual number.
    DeviceVirtualNo,
    /// A device's IMEI.
    Imei,
    /// A device's serial number.
    Sn,
}

impl Unique {
    /// The uniqueness kind in keys.
    pub fn kind(self) -> &'static str {
        match self {
            Unique::Iccid => "iccid",
            Unique::Msisdn => "msisdn",
            Unique::CardVirtualNo => "card_virtual_no",
            Unique::DeviceVirtualNo => "device_virtual_no",
            Unique::Imei => "imei",
            Unique::Sn => "sn",
        }
    }

    /// The column (and field) name of the value; also the label of its write in a
    /// transaction.
    pub fn field(self) -> &'static str {
        match self {
            Unique::Iccid => "iccid",
            Unique::Msisdn => "msisdn",
            Unique::CardVirtualNo | Unique::DeviceVirtualNo => "virtual_no",
            Unique::Imei => "imei",
            Unique::Sn => "sn",
        }
    }

    /// Key of the uniqueness item of `value`.
    pub fn key(self, value: &str) -> Key {
        keys::unique(self.kind(), value)
    }
}

/// The row of an import task that wrote a uniqueness item.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ImportRow {
    /// The task.
    pub task: u64,
    /// The row of its file.
    pub row: u64,
}

/// What an import needs to know of an existing uniqueness item.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Holder {
    /// The entity holding the value.
    pub target_id: Option<u64>,
    /// The import row that claimed it, if an import did.
    pub import: Option<ImportRow>,
}

impl Holder {
    fn of(item: &Item) -> Self {
        let num = |name| num_attr(item, name).map(|v| v as u64);
        let import = match (num("import_task_id"), num("import_row")) {
            (Some(task), Some(row)) => Some(ImportRow { task, row }),
            _ => None,
        };
        Holder {
            target_id: num("target_id"),
            import,
        }
    }

    /// Whether row `row` of task `task` claimed the value (an earlier delivery).
    pub fn written_by(&self, task: u64, row: u64) -> bool {
        self.import == Some(ImportRow { task, row })
    }

    /// The holder of a value whose write failed its condition in a transaction (an
    /// empty holder when the old item did not come back).
    pub fn of_failed(failed: &FailedCondition) -> Holder {
        failed.old.as_ref().map(Holder::of).unwrap_or_default()
    }
}

/// Label of an imported card's own write in its row's operations (the uniqueness
/// claims are labelled by [`Unique::field`]).
pub const CARD_LABEL: &str = "card";

/// Adds to `tx` the operations of card row `row` of task `task`: the claim of each
/// unique value of the card (ICCID, virtual number, MSISDN, labelled by field), then
/// the card ([`CARD_LABEL`]). A fresh row needs every item absent. A replay (an
/// earlier delivery of the row claimed its values, and `card.id` is the id they
/// name) also accepts the row's own claims, and rewrites the card only if it is
/// missing or still exactly as the task created it (`version` 1), so a move,
/// binding or deactivation made since fails the card's condition instead of being
/// undone.
pub fn import_card_ops(
    mut tx: Tx,
    card: &IotCard,
    task: u64,
    row: u64,
    replay: bool,
) -> Result<Tx, StoreError> {
    let values = [
        (Unique::Iccid, Some(card.iccid.as_str())),
        (Unique::CardVirtualNo, card.virtual_no.as_deref()),
        (Unique::Msisdn, card.msisdn.as_deref()),
    ];
    for (kind, value) in values {
        let Some(value) = value else { continue };
        let item = import_unique(kind, value, card.id, task, row);
        tx = if replay {
            tx.put(
                kind.field(),
                item,
                Some(Cond::absent().or(claimed_by(task, row))),
            )
        } else {
            tx.put_new(kind.field(), item)
        };
    }
    let item = card_item(card)?;
    Ok(if replay {
        let unchanged = Cond::new("import_task_id = :task AND version = :first")
            .value(":task", n(task))
            .value(":first", n(1));
        tx.put(CARD_LABEL, item, Some(Cond::absent().or(unchanged)))
    } else {
        tx.put_new(CARD_LABEL, item)
    })
}

/// Uniqueness item of a value claimed by an import row: it remembers the task and
/// row, so a replayed row is recognised.
pub fn import_unique(kind: Unique, value: &str, target: u64, task: u64, row: u64) -> Item {
    let mut item = unique_item(kind.kind(), value, target);
    item.insert("import_task_id".into(), n(task));
    item.insert("import_row".into(), n(row));
    item
}

/// Progress of one chunk of a task, added to the task exactly once.
#[derive(Clone, Copy, Debug)]
pub struct ChunkProgress<'a> {
    /// Offset after the chunk's last line.
    pub next_offset: u64,
    /// Number of the chunk's last row.
    pub next_row: u64,
    /// The file's header.
    pub columns: &'a [String],
    /// True when the chunk ends the file (the task completes).
    pub done: bool,
    /// Rows read.
    pub rows: u64,
    /// Rows imported.
    pub ok: u64,
    /// Rows rejected.
    pub failed: u64,
}

/// Final counts of a task processed in one go (a virtual-number fill).
#[derive(Clone, Copy, Debug)]
pub struct FinalCounts<'a> {
    /// Offset after the file's last line.
    pub next_offset: u64,
    /// Number of the file's last row.
    pub next_row: u64,
    /// Rows read.
    pub total: u64,
    /// Rows written.
    pub ok: u64,
    /// Rows rejected.
    pub failed: u64,
    /// Why the task failed; `None` when it completed.
    pub error: Option<&'a str>,
}

/// The condition every task update carries: nobody advanced the task since it was
/// read (a duplicate delivery loses).
fn still_at(task: &ImportTask) -> Cond {
    Cond::new("next_offset = :offset").value(":offset", n(task.next_offset))
}

/// The task is still awaiting its upload (nothing started or failed it).
fn still_awaiting() -> Cond {
    Cond::new("#status = :awaiting")
        .name("#status", "status")
        .value(":awaiting", status(ImportStatus::AwaitingUpload))
}

fn status(status: ImportStatus) -> AttributeValue {
    s(status.as_str())
}

fn null() -> AttributeValue {
    AttributeValue::Null(true)
}

fn started(task: &ImportTask, now: i64) -> AttributeValue {
    queued::started(task.started_at.as_ref(), now)
}

impl Store {
    /// Import task `id`.
    pub async fn import_task(&self, id: u64) -> Result<Option<ImportTask>, StoreError> {
        self.get_as(&keys::import(id)).await
    }

    /// Stores a new task.
    pub async fn create_import_task(&self, task: &ImportTask) -> Result<(), StoreError> {
        self.put_new("task", import_item(task)?).await
    }

    /// Tasks pending (nothing processed) since before `cutoff` (RFC 3339; creation
    /// or last re-send), oldest first, at most `limit`.
    pub async fn pending_imports_before(
        &self,
        cutoff: &str,
        limit: i32,
    ) -> Result<Vec<ImportTask>, StoreError> {
        self.pending_before(PENDING_IMPORTS, cutoff, limit).await
    }

    /// Records that the first message of pending `task` was sent again at `at`
    /// (RFC 3339): it is next due one threshold later. `Ok(false)` when the task is
    /// no longer pending.
    pub async fn mark_import_resent(
        &self,
        task: &ImportTask,
        at: &str,
    ) -> Result<bool, StoreError> {
        self.mark_resent(&keys::import(task.id), task.id, still_at(task), at)
            .await
    }

    /// Tasks awaiting their upload since before `cutoff` (RFC 3339, their creation),
    /// oldest first, at most `limit`.
    pub async fn awaiting_imports_before(
        &self,
        cutoff: &str,
        limit: i32,
    ) -> Result<Vec<ImportTask>, StoreError> {
        self.pending_before(AWAITING_IMPORTS, cutoff, limit).await
    }

    /// Starts `task`, awaiting its upload, now that its file of `size` bytes has
    /// arrived: pending from `now` (in the pending partition, so the sweep re-sends
    /// its first message if it is lost). `Ok(false)` when it was not awaiting any
    /// more (another delivery of the arrival started it, or the sweep expired it).
    pub async fn start_uploaded_import(
        &self,
        task: &ImportTask,
        size: u64,
        now: i64,
    ) -> Result<bool, StoreError> {
        let upd = Upd::new(
            "SET #status = :pending, file_size = :size, gsi2pk = :partition, gsi2sk = :since \
             ADD version :one",
        )
        .value(":pending", status(ImportStatus::Pending))
        .value(":size", n(size))
        .value(":partition", s(PENDING_IMPORTS))
        .value(":since", s(pending_sort_key(&rfc3339(now), task.id)))
        .value(":one", n(1));
        applied(
            self.update_if("task", &keys::import(task.id), upd, still_awaiting())
                .await,
        )
    }

    /// Fails `task`, still awaiting its upload, with `reason` (a file too large, or
    /// none uploaded in time). `Ok(false)` when it was not awaiting any more.
    pub async fn fail_awaiting_import(
        &self,
        task: &ImportTask,
        reason: &str,
        now: i64,
    ) -> Result<bool, StoreError> {
        let failed = ImportStatus::Failed.as_str();
        self.fail_task(
            &keys::import(task.id),
            still_awaiting(),
            failed,
            reason,
            now,
        )
        .await
    }

    /// The first `limit` rejected rows of task `id`, in row order.
    pub async fn import_failures(
        &self,
        id: u64,
        limit: i32,
    ) -> Result<Vec<FailedItem>, StoreError> {
        self.query_page(
            On::Table,
            &keys::import(id).pk,
            keys::IMPORT_FAILURE_PREFIX,
            Some(limit),
        )
        .await?
        .into_iter()
        .map(from_item)
        .collect()
    }

    /// Stores rejected rows of task `task_id` (a replayed row overwrites itself).
    pub async fn put_import_failures(
        &self,
        task_id: u64,
        failed: &[FailedItem],
    ) -> Result<(), StoreError> {
        let items = failed
            .iter()
            .map(|f| to_item(f, &keys::import_failure(task_id, f.row)))
            .collect::<Result<Vec<_>, _>>()?;
        self.put_all(items).await
    }

    /// Advances `task` past a chunk and adds the chunk's counts, unless another
    /// delivery of the chunk did first (`Ok(false)`).
    pub async fn record_import_chunk(
        &self,
        task: &ImportTask,
        p: &ChunkProgress<'_>,
        now: i64,
    ) -> Result<bool, StoreError> {
        let (state, finished) = if p.done {
            (ImportStatus::Completed, s(rfc3339(now)))
        } else {
            (ImportStatus::Processing, null())
        };
        let columns = serde_dynamo::to_attribute_value(p.columns)
            .map_err(|e| StoreError::Codec(e.to_string()))?;
        let upd = Upd::new(
            "SET next_offset = :next, next_row = :row, #status = :status, #columns = :columns, \
             started_at = :started, finished_at = :finished \
             ADD total_count :total, success_count :ok, fail_count :failed, version :one \
             REMOVE gsi2pk, gsi2sk",
        )
        .name("#status", "status")
        .name("#columns", "columns")
        .value(":next", n(p.next_offset))
        .value(":row", n(p.next_row))
        .value(":status", status(state))
        .value(":columns", columns)
        .value(":started", started(task, now))
        .value(":finished", finished)
        .value(":total", n(p.rows))
        .value(":ok", n(p.ok))
        .value(":failed", n(p.failed))
        .value(":one", n(1));
        applied(
            self.update_if("task", &keys::import(task.id), upd, still_at(task))
                .await,
        )
    }

    /// Sets the final counts of a task processed in one go: completed, or failed
    /// with `error`. `Ok(false)` when another delivery finished it first.
    pub async fn finish_import_task(
        &self,
        task: &ImportTask,
        c: &FinalCounts<'_>,
        now: i64,
    ) -> Result<bool, StoreError> {
        let state = match c.error {
            Some(_) => ImportStatus::Failed,
            None => ImportStatus::Completed,
        };
        let upd = Upd::new(
            "SET #status = :status, next_offset = :next, next_row = :row, total_count = :total, \
             success_count = :ok, fail_count = :failed, #error = :error, started_at = :started, \
             finished_at = :now ADD version :one REMOVE gsi2pk, gsi2sk",
        )
        .name("#status", "status")
        .name("#error", "error")
        .value(":status", status(state))
        .value(":next", n(c.next_offset))
        .value(":row", n(c.next_row))
        .value(":total", n(c.total))
        .value(":ok", n(c.ok))
        .value(":failed", n(c.failed))
        .value(":error", c.error.map_or_else(null, s))
        .value(":started", started(task, now))
        .value(":now", s(rfc3339(now)))
        .value(":one", n(1));
        applied(
            self.update_if("task", &keys::import(task.id), upd, still_at(task))
                .await,
        )
    }

    /// Marks the whole task failed with `reason` (an unusable file, or a task that
    /// could not be queued). `Ok(false)` when the task moved on meanwhile.
    pub async fn fail_import_task(
        &self,
        task: &ImportTask,
        reason: &str,
        now: i64,
    ) -> Result<bool, StoreError> {
        let failed = ImportStatus::Failed.as_str();
        self.fail_task(&keys::import(task.id), still_at(task), failed, reason, now)
            .await
    }

    /// Holders of the given values of `kind`, by value (values nobody holds are absent).
    pub async fn unique_holders(
        &self,
        kind: Unique,
        values: &[String],
    ) -> Result<HashMap<String, Holder>, StoreError> {
        let by_pk: HashMap<String, &String> = values.iter().map(|v| (kind.key(v).pk, v)).collect();
        let keys_: Vec<Key> = values.iter().map(|v| kind.key(v)).collect();
        Ok(self
            .get_many(&keys_)
            .await?
            .iter()
            .filter_map(|item| {
                let value = by_pk.get(str_attr(item, "pk")?)?;
                Some(((*value).clone(), Holder::of(item)))
            })
            .collect())
    }

    /// Live cards named by ICCIDs, by ICCID (two batch reads per 100).
    pub async fn live_cards_by_iccid(
        &self,
        iccids: &[String],
    ) -> Result<HashMap<String, IotCard>, StoreError> {
        let holders = self.unique_holders(Unique::Iccid, iccids).await?;
        let ids: HashMap<u64, &String> = holders
            .iter()
            .filter_map(|(iccid, h)| Some((h.target_id?, iccid)))
            .collect();
        let card_keys: Vec<Key> = ids.keys().map(|id| keys::card(*id)).collect();
        Ok(self
            .entities::<IotCard>(&card_keys)
            .await?
            .into_iter()
            .filter(|c| c.deleted_at.is_none())
            .filter_map(|c| Some(((*ids.get(&c.id)?).clone(), c)))
            .collect())
    }

    /// Writes filled rows of task `task` in one transaction, each card with its new
    /// virtual number's uniqueness item; each card must still be live at the version
    /// it was read at.
    pub async fn write_fill(&self, task: u64, rows: &[FilledRow]) -> Result<(), StoreError> {
        let mut tx = Tx::new();
        for r in rows {
            let read_at = Cond::live().and(Cond::version(r.card.version - 1));
            tx = tx.put("card", card_item(&r.card)?, Some(read_at)).put_new(
                "virtual_no",
                import_unique(Unique::CardVirtualNo, &r.virtual_no, r.card.id, task, r.row),
            );
        }
        self.transact(tx).await
    }

    /// Undoes filled row `r` of task `task`: the card as `restored` (touched once
    /// more than the filled card) and the number given back.
    pub async fn undo_fill(
        &self,
        task: u64,
        r: &FilledRow,
        restored: &IotCard,
    ) -> Result<(), StoreError> {
        let tx = Tx::new()
            .put(
                "card",
                card_item(restored)?,
                Some(Cond::version(r.card.version)),
            )
            .delete(
                "virtual_no",
                &Unique::CardVirtualNo.key(&r.virtual_no),
                Some(claimed_by(task, r.row)),
            );
        self.transact(tx).await
    }
}

/// A row of a virtual-number fill as written.
#[derive(Clone, Debug)]
pub struct FilledRow {
    /// Row of the file.
    pub row: u64,
    /// The card with its number, touched (one version above the card read).
    pub card: IotCard,
    /// The number filled in.
    pub virtual_no: String,
}

/// The uniqueness item was claimed by row `row` of task `task`.
fn claimed_by(task: u64, row: u64) -> Cond {
    Cond::new("import_task_id = :task AND import_row = :row")
        .value(":task", n(task))
        .value(":row", n(row))
}
