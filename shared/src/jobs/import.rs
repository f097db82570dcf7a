//! CSV imports of cards, card virtual numbers and devices (jobs.md J16, J17).
//!
//! A task is processed in chunks through the FIFO import queue (message group = task,
//! so chunks of one task never run concurrently). Each message names the byte offset
//! it starts at; the task item holds the offset of the next unprocessed line:
//!
//! 1. a message whose offset is not the task's `next_offset` is a duplicate: dropped;
//! 2. the chunk's rows are written idempotently: each created asset's uniqueness item
//!    remembers `(import_task_id, import_row)`, so a replayed row is recognised as
//!    already done instead of being counted as a duplicate;
//! 3. the message for the next chunk is sent (deduplicated by task and offset);
//! 4. the task's counters and `next_offset` advance in one conditional update.
//!
//! A Lambda dying anywhere leaves the message unacknowledged; its redelivery redoes
//! the chunk without duplicates and counts it exactly once.

use std::collections::{HashMap, HashSet};

use super::sqs::JobError;
use crate::app::AppState;
use crate::clock::rfc3339;
use crate::domain::assets::{
    AssetStatus, Device, FailedItem, ImportStatus, ImportTask, ImportType, IotCard, SimBinding,
};
use crate::domain::entities::{Carrier, Shop};
use crate::domain::identifiers::{Iccid, Imei, Imsi, Msisdn, Sn, VirtualNo};
use crate::domain::validate;
use crate::integrations::import_queue::ImportMessage;
use crate::store::assets::{binding_item, card_item, device_item, import_failure_key, import_key};
use crate::store::keys::{self, gsi1};
use crate::store::tx::{Cond, Tx, Upd};
use crate::store::{n, num_attr, s, str_attr, to_item, Item, Key, Store, StoreError};

/// Largest virtual-number fill file (rows); it is validated as a whole.
pub const MAX_FILL_ROWS: usize = 50_000;
/// Virtual-number fill rows written per transaction (card + uniqueness item each).
const FILL_ROWS_PER_TX: usize = 50;

/// Handles one message.
pub async fn process(state: &AppState, msg: ImportMessage) -> Result<(), JobError> {
    let store = &state.store;
    let Some(task) = store.get_as::<ImportTask>(&import_key(msg.task_id)).await? else {
        tracing::warn!(
            task_id = msg.task_id,
            "import task not found; message dropped"
        );
        return Ok(());
    };
    if matches!(task.status, ImportStatus::Completed | ImportStatus::Failed)
        || task.next_offset != msg.offset
    {
        tracing::info!(
            task_id = task.id,
            offset = msg.offset,
            "stale import message dropped"
        );
        return Ok(());
    }
    let chunk = match read_chunk(state, &task).await {
        Ok(c) => c,
        Err(ChunkError::Fatal(reason)) => {
            return fail_task(store, &task, &reason, state.clock.now()).await
        }
        Err(ChunkError::Retry(e)) => return Err(e),
    };
    let required: &[&str] = match task.import_type {
        ImportType::Cards => &["iccid"],
        ImportType::Devices => &["virtual_no"],
        ImportType::VirtualNo => &["iccid", "virtual_no"],
    };
    if let Some(missing) = required.iter().find(|c| !chunk.columns.contains_key(**c)) {
        let reason = format!("the file has no {missing} column");
        return fail_task(store, &task, &reason, state.clock.now()).await;
    }
    let outcome = match task.import_type {
        ImportType::Cards => import_cards(state, &task, &chunk).await?,
        ImportType::Devices => import_devices(state, &task, &chunk).await?,
        ImportType::VirtualNo => return fill_virtual_numbers(state, &task, chunk).await,
    };
    store
        .put_all(failure_items(task.id, &outcome.failed)?)
        .await?;
    if !chunk.eof {
        state
            .import_queue()?
            .send(task.id, chunk.next_offset)
            .await?;
    }
    record_progress(store, &task, &chunk, &outcome, state.clock.now()).await
}

/// Rows of one chunk of the file.
#[derive(Debug)]
pub struct Chunk {
    /// Column name → index.
    pub columns: HashMap<String, usize>,
    /// Header names in order.
    pub header: Vec<String>,
    /// (row number, fields) of each non-empty line.
    pub rows: Vec<(u64, Vec<String>)>,
    /// Offset after the last complete line of this chunk.
    pub next_offset: u64,
    /// Row number of the last row of this chunk.
    pub last_row: u64,
    /// True when the chunk reaches the end of the file.
    pub eof: bool,
}

/// Why a chunk could not be read.
pub enum ChunkError {
    /// The file itself is unusable: the task fails.
    Fatal(String),
    /// A transient failure: the message is retried.
    Retry(JobError),
}

/// Reads the chunk starting at the task's `next_offset` (the whole file for
/// virtual-number fills).
pub async fn read_chunk(state: &AppState, task: &ImportTask) -> Result<Chunk, ChunkError> {
    let whole = task.import_type == ImportType::VirtualNo;
    let s3 = state.s3().map_err(|e| ChunkError::Retry(e.into()))?;
    let mut req = s3
        .get_object()
        .bucket(&state.cfg.bucket)
        .key(&task.file_key);
    if !whole {
        let end = task.next_offset + state.cfg.import_chunk_bytes as u64 - 1;
        req = req.range(format!("bytes={}-{end}", task.next_offset));
    }
    let out = match req.send().await {
        Ok(o) => o,
        Err(e) => {
            let text = aws_sdk_s3::error::DisplayErrorContext(&e).to_string();
            if e.as_service_error().is_some_and(|se| se.is_no_such_key()) {
                return Err(ChunkError::Fatal(
                    "the uploaded file no longer exists".into(),
                ));
            }
            return Err(ChunkError::Retry(JobError(text)));
        }
    };
    let total = out
        .content_range()
        .and_then(|r| r.rsplit('/').next())
        .and_then(|t| t.parse::<u64>().ok());
    let bytes = out
        .body
        .collect()
        .await
        .map_err(|e| ChunkError::Retry(JobError(e.to_string())))?
        .into_bytes();
    let total = total.unwrap_or(task.next_offset + bytes.len() as u64);
    let eof = whole || task.next_offset + bytes.len() as u64 >= total;
    let mut data: &[u8] = &bytes;
    if !eof {
        match data.iter().rposition(|b| *b == b'\n') {
            Some(pos) => data = &data[..=pos],
            None => {
                return Err(ChunkError::Fatal(
                    "a line is longer than the import chunk size".into(),
                ))
            }
        }
    }
    let consumed = data.len() as u64;
    let mut header = task.columns.clone();
    if task.next_offset == 0 {
        data = data.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(data);
        let line_end = data.iter().position(|b| *b == b'\n').unwrap_or(data.len());
        let line = std::str::from_utf8(&data[..line_end])
            .map_err(|_| ChunkError::Fatal("the file is not UTF-8".into()))?;
        header = line
            .split(',')
            .map(|c| c.trim().trim_matches('"').to_ascii_lowercase())
            .collect();
        data = data.get(line_end + 1..).unwrap_or_default();
    }
    let columns: HashMap<String, usize> = header
        .iter()
        .enumerate()
        .map(|(i, c)| (c.clone(), i))
        .collect();
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .trim(csv::Trim::All)
        .from_reader(data);
    let mut rows = Vec::new();
    let mut row = task.next_row;
    for record in reader.records() {
        let record = record.map_err(|e| ChunkError::Fatal(format!("unreadable CSV: {e}")))?;
        if record.iter().all(str::is_empty) {
            continue;
        }
        row += 1;
        rows.push((row, record.iter().map(str::to_string).collect()));
    }
    if whole && rows.len() > MAX_FILL_ROWS {
        return Err(ChunkError::Fatal(format!(
            "a virtual-number file holds at most {MAX_FILL_ROWS} rows"
        )));
    }
    Ok(Chunk {
        columns,
        header,
        rows,
        next_offset: task.next_offset + consumed,
        last_row: row,
        eof,
    })
}

/// Result of one chunk.
#[derive(Debug, Default)]
pub struct Outcome {
    /// Rows created (or found already created by this task).
    pub success: u64,
    /// Rows rejected.
    pub failed: Vec<FailedItem>,
}

impl Outcome {
    fn fail(&mut self, row: u64, identifier: &str, reason: impl Into<String>) {
        self.failed.push(FailedItem {
            row,
            identifier: identifier.to_string(),
            reason: reason.into(),
        });
    }
}

fn failure_items(task_id: u64, failed: &[FailedItem]) -> Result<Vec<Item>, StoreError> {
    failed
        .iter()
        .map(|f| to_item(f, &import_failure_key(task_id, f.row)))
        .collect()
}

fn field<'a>(chunk: &Chunk, fields: &'a [String], name: &str) -> Option<&'a str> {
    chunk
        .columns
        .get(name)
        .and_then(|i| fields.get(*i))
        .map(String::as_str)
        .filter(|v| !v.is_empty())
}

/// Advances the task past `chunk`, adding its counts exactly once.
async fn record_progress(
    store: &Store,
    task: &ImportTask,
    chunk: &Chunk,
    outcome: &Outcome,
    now: i64,
) -> Result<(), JobError> {
    let rows = chunk.rows.len() as u64;
    let status = if chunk.eof {
        ImportStatus::Completed
    } else {
        ImportStatus::Processing
    };
    let mut upd = Upd::new(
        "SET next_offset = :next, next_row = :row, #status = :status, #columns = :columns, \
         started_at = :started, finished_at = :finished \
         ADD total_count :total, success_count :ok, fail_count :failed, version :one",
    )
    .name("#status", "status")
    .name("#columns", "columns")
    .value(":next", n(chunk.next_offset))
    .value(":row", n(chunk.last_row))
    .value(":status", status_value(status))
    .value(
        ":columns",
        serde_dynamo::to_attribute_value(&chunk.header).map_err(|e| JobError(e.to_string()))?,
    )
    .value(
        ":started",
        s(task.started_at.clone().unwrap_or_else(|| rfc3339(now))),
    )
    .value(":total", n(rows))
    .value(":ok", n(outcome.success))
    .value(":failed", n(outcome.failed.len()))
    .value(":one", n(1));
    upd = if chunk.eof {
        upd.value(":finished", s(rfc3339(now)))
    } else {
        upd.value(
            ":finished",
            aws_sdk_dynamodb::types::AttributeValue::Null(true),
        )
    };
    let cond = Cond::new("next_offset = :offset").value(":offset", n(task.next_offset));
    match store
        .update_if("task", &import_key(task.id), upd, cond)
        .await
    {
        Ok(()) => {
            tracing::info!(
                task_id = task.id,
                rows,
                ok = outcome.success,
                failed = outcome.failed.len(),
                "import chunk done"
            );
            Ok(())
        }
        // Another delivery of the same chunk recorded it first: nothing to add.
        Err(StoreError::ConditionFailed { .. }) => Ok(()),
        Err(e) => Err(e.into()),
    }
}

fn status_value(status: ImportStatus) -> aws_sdk_dynamodb::types::AttributeValue {
    serde_dynamo::to_attribute_value(status).unwrap_or_else(|_| s("processing"))
}

/// Marks the whole task failed (unusable file, or a rejected virtual-number batch).
async fn fail_task(
    store: &Store,
    task: &ImportTask,
    reason: &str,
    now: i64,
) -> Result<(), JobError> {
    let upd =
        Upd::new("SET #status = :failed, #error = :reason, finished_at = :now ADD version :one")
            .name("#status", "status")
            .name("#error", "error")
            .value(":failed", status_value(ImportStatus::Failed))
            .value(":reason", s(reason))
            .value(":now", s(rfc3339(now)))
            .value(":one", n(1));
    let cond = Cond::new("next_offset = :offset").value(":offset", n(task.next_offset));
    match store
        .update_if("task", &import_key(task.id), upd, cond)
        .await
    {
        Ok(()) | Err(StoreError::ConditionFailed { .. }) => {
            tracing::warn!(task_id = task.id, reason, "import task failed");
            Ok(())
        }
        Err(e) => Err(e.into()),
    }
}

/// Live carriers by id and by code.
async fn carriers(store: &Store) -> Result<Vec<Carrier>, StoreError> {
    store.list_scope(gsi1::CARRIERS, "").await
}

/// The task's target shop (its path), if any.
async fn target_shop(store: &Store, task: &ImportTask) -> Result<Option<Shop>, StoreError> {
    match task.shop_id {
        Some(id) => store.entity::<Shop>(&keys::shop(id)).await,
        None => Ok(None),
    }
}

/// Live cards named by ICCIDs: ICCID → card id, and card id → card (two batch reads).
async fn live_cards_by_iccid(
    store: &Store,
    iccids: Vec<String>,
) -> Result<(HashMap<String, u64>, HashMap<u64, IotCard>), StoreError> {
    let keys_: Vec<Key> = iccids.iter().map(|i| keys::unique("iccid", i)).collect();
    let ids: HashMap<String, u64> = store
        .get_many(&keys_)
        .await?
        .iter()
        .filter_map(|i| {
            let iccid = str_attr(i, "pk")?
                .trim_start_matches("UNIQUE#iccid#")
                .to_string();
            Some((iccid, num_attr(i, "target_id")? as u64))
        })
        .collect();
    let card_keys: Vec<Key> = ids.values().map(|id| keys::card(*id)).collect();
    let cards = store
        .entities::<IotCard>(&card_keys)
        .await?
        .into_iter()
        .filter(|c| c.deleted_at.is_none())
        .map(|c| (c.id, c))
        .collect();
    Ok((ids, cards))
}

/// Uniqueness item created with an imported asset: it remembers the task and row so
/// a replayed row is recognised.
fn import_unique(kind: &str, value: &str, target: u64, task: u64, row: u64) -> Item {
    let mut item = crate::store::org::unique_item(kind, value, target);
    item.insert("import_task_id".into(), n(task));
    item.insert("import_row".into(), n(row));
    item
}

/// Whether an existing uniqueness item was written by this task for this row.
fn written_by(item: &Item, task: u64, row: u64) -> bool {
    num_attr(item, "import_task_id") == Some(task as i64)
        && num_attr(item, "import_row") == Some(row as i64)
}

/// Why an existing uniqueness item blocks a row.
fn conflict_reason(item: &Item, task: u64, what: &str) -> String {
    match (
        num_attr(item, "import_task_id"),
        num_attr(item, "import_row"),
    ) {
        (Some(t), Some(r)) if t == task as i64 => {
            format!("{what} duplicated in the file (row {r})")
        }
        _ => format!("{what} already exists"),
    }
}

fn unique_map(items: Vec<Item>) -> HashMap<String, Item> {
    items
        .into_iter()
        .filter_map(|i| str_attr(&i, "pk").map(|pk| (pk.to_string(), i.clone())))
        .collect()
}

struct CardRow {
    row: u64,
    card: IotCard,
}

/// Validates and writes the card rows of a chunk (without recording progress).
pub async fn import_cards(
    state: &AppState,
    task: &ImportTask,
    chunk: &Chunk,
) -> Result<Outcome, JobError> {
    let store = &state.store;
    let mut out = Outcome::default();
    let carriers = carriers(store).await?;
    let shop = target_shop(store, task).await?;
    let now = rfc3339(state.clock.now());
    // Values seen earlier in this chunk (a transaction may not touch one item twice,
    // and a later row repeating a value is a duplicate anyway).
    let mut seen: HashMap<(&str, String), u64> = HashMap::new();
    let mut valid: Vec<(u64, IotCard)> = Vec::new();
    'rows: for (row, fields) in &chunk.rows {
        let raw_iccid = field(chunk, fields, "iccid").unwrap_or_default();
        match card_from_row(chunk, fields, task, &carriers, shop.as_ref(), &now) {
            Err(reason) => out.fail(*row, raw_iccid, reason),
            Ok(card) => {
                let values = [
                    ("iccid", Some(card.iccid.clone())),
                    ("msisdn", card.msisdn.clone()),
                    ("virtual_no", card.virtual_no.clone()),
                ];
                for (what, value) in &values {
                    if let Some(first) = value.as_ref().and_then(|v| seen.get(&(*what, v.clone())))
                    {
                        out.fail(
                            *row,
                            &card.iccid,
                            format!("{what} duplicated in the file (row {first})"),
                        );
                        continue 'rows;
                    }
                }
                for (what, value) in values {
                    if let Some(v) = value {
                        seen.insert((what, v), *row);
                    }
                }
                valid.push((*row, card));
            }
        }
    }
    // Existing ICCIDs: replays of this task's rows count as done, others fail.
    let keys_: Vec<Key> = valid
        .iter()
        .map(|(_, c)| keys::unique("iccid", &c.iccid))
        .collect();
    let existing = unique_map(store.get_many(&keys_).await?);
    let mut todo = Vec::new();
    for (row, card) in valid {
        match existing.get(&keys::unique("iccid", &card.iccid).pk) {
            // Claimed by an earlier delivery of this row: write it again (same card id),
            // the card itself may not have been written before that delivery died.
            Some(item) if written_by(item, task.id, row) => todo.push(CardRow { row, card }),
            Some(item) => out.fail(row, &card.iccid, conflict_reason(item, task.id, "iccid")),
            None => todo.push(CardRow { row, card }),
        }
    }
    if todo.is_empty() {
        return Ok(out);
    }
    let first_id = store.next_ids("card", todo.len() as u64).await?;
    for (i, r) in todo.iter_mut().enumerate() {
        r.card.id = first_id + i as u64;
    }
    // Rows are claimed concurrently; cards are then written in batches.
    let mut set = tokio::task::JoinSet::new();
    let mut pending = todo.into_iter();
    let mut cards = Vec::new();
    loop {
        while set.len() < ROW_CONCURRENCY {
            let Some(r) = pending.next() else { break };
            let store = store.clone();
            let task_id = task.id;
            set.spawn(crate::store::calls::inherit(async move {
                let claim = claim_card_values(&store, &r, task_id).await;
                (r, claim)
            }));
        }
        let Some(joined) = set.join_next().await else {
            break;
        };
        let (mut r, claim) = joined.map_err(|e| JobError(e.to_string()))?;
        match claim? {
            Claimed::Ok(id) => {
                r.card.id = id;
                cards.push(card_item(&r.card)?);
                out.success += 1;
            }
            Claimed::Conflict(reason) => out.fail(r.row, &r.card.iccid, reason),
        }
    }
    store.put_all(cards).await?;
    Ok(out)
}

/// Rows of a chunk written at the same time.
const ROW_CONCURRENCY: usize = 16;

/// Outcome of claiming a row's unique values.
enum Claimed {
    /// All values are this row's; the card id to write.
    Ok(u64),
    /// A value belongs to something else; nothing of this row remains claimed.
    Conflict(String),
}

/// Claims a card row's ICCID, virtual number and MSISDN with conditional puts. A
/// value already claimed by this task and row (an earlier delivery) counts as
/// claimed and fixes the card id, so a replay writes the same card again.
async fn claim_card_values(store: &Store, r: &CardRow, task: u64) -> Result<Claimed, StoreError> {
    let c = &r.card;
    let mut id = c.id;
    let mut claimed: Vec<Key> = Vec::new();
    let values = [
        ("iccid", "iccid", Some(&c.iccid)),
        ("card_virtual_no", "virtual_no", c.virtual_no.as_ref()),
        ("msisdn", "msisdn", c.msisdn.as_ref()),
    ];
    for (kind, what, value) in values {
        let Some(value) = value else { continue };
        match store
            .put_new("unique", import_unique(kind, value, id, task, r.row))
            .await
        {
            Ok(()) => claimed.push(keys::unique(kind, value)),
            Err(StoreError::ConditionFailed { old: Some(old), .. })
                if written_by(&old, task, r.row) =>
            {
                id = num_attr(&old, "target_id").map_or(id, |t| t as u64);
            }
            Err(StoreError::ConditionFailed { old, .. }) => {
                // Give back what this attempt claimed, then report the conflict.
                for key in &claimed {
                    store.delete(key).await?;
                }
                let old = old.map(|b| *b).unwrap_or_default();
                return Ok(Claimed::Conflict(conflict_reason(&old, task, what)));
            }
            Err(e) => return Err(e),
        }
    }
    Ok(Claimed::Ok(id))
}

/// A new card from a CSV row (id assigned later), or why the row is rejected.
pub fn card_from_row(
    chunk: &Chunk,
    fields: &[String],
    task: &ImportTask,
    carriers: &[Carrier],
    shop: Option<&Shop>,
    now: &str,
) -> Result<IotCard, String> {
    let get = |name: &str| field(chunk, fields, name);
    let iccid = Iccid::parse(get("iccid").ok_or("iccid is required")?).map_err(|e| e.0)?;
    let msisdn = get("msisdn")
        .map(Msisdn::parse)
        .transpose()
        .map_err(|e| e.0)?;
    let imsi = get("imsi").map(Imsi::parse).transpose().map_err(|e| e.0)?;
    let virtual_no = get("virtual_no")
        .map(VirtualNo::parse)
        .transpose()
        .map_err(|e| e.0)?;
    let carrier = match (get("carrier_id"), get("carrier_code"), task.carrier_id) {
        (Some(id), _, _) => {
            let id: u64 = id
                .parse()
                .map_err(|_| "carrier_id must be a number".to_string())?;
            carriers.iter().find(|c| c.id == id)
        }
        (None, Some(code), _) => carriers
            .iter()
            .find(|c| c.carrier_code.as_deref() == Some(code)),
        (None, None, Some(id)) => carriers.iter().find(|c| c.id == id),
        (None, None, None) => return Err("carrier_id or carrier_code is required".into()),
    }
    .ok_or("carrier not found")?;
    let opt = |name: &str, max| validate::opt_text(name, get(name), max).map_err(|e| e.0);
    Ok(IotCard {
        id: 0,
        iccid: iccid.to_string(),
        msisdn: msisdn.map(|m| m.to_string()),
        imsi: imsi.map(|m| m.to_string()),
        virtual_no: virtual_no.map(|v| v.to_string()),
        carrier_id: carrier.id,
        carrier_type: carrier.carrier_type.clone(),
        carrier_name: carrier.carrier_name.clone(),
        card_category: opt("card_category", 50)?,
        supplier: opt("supplier", 100)?,
        batch_no: opt("batch_no", 50)?.or_else(|| task.batch_no.clone()),
        shop_id: shop.map(|s| s.id),
        owner_path: shop.map(|s| s.path.clone()),
        series_id: None,
        status: 1,
        asset_status: AssetStatus::InStock,
        generation: 1,
        network_status: 0,
        real_name_status: 0,
        activation_status: 0,
        activated_at: None,
        enable_polling: true,
        current_month_usage_mb: rust_decimal::Decimal::ZERO,
        last_data_check_at: None,
        last_sync_time: None,
        is_standalone: true,
        bound_device_id: None,
        slot_position: None,
        stopped_at: None,
        resumed_at: None,
        stop_reason: None,
        remark: None,
        import_task_id: Some(task.id),
        created_at: now.to_string(),
        updated_at: now.to_string(),
        deleted_at: None,
        creator: task.created_by,
        updater: task.created_by,
        version: 1,
    })
}

/// Fills blank virtual numbers, all or nothing: every conflict is reported and
/// nothing is written if there is any.
async fn fill_virtual_numbers(
    state: &AppState,
    task: &ImportTask,
    chunk: Chunk,
) -> Result<(), JobError> {
    let store = &state.store;
    let now = state.clock.now();
    let mut out = Outcome::default();
    let mut rows: Vec<(u64, String, String)> = Vec::new();
    let mut seen_iccid: HashMap<String, u64> = HashMap::new();
    let mut seen_vno: HashMap<String, u64> = HashMap::new();
    for (row, fields) in &chunk.rows {
        let raw = field(&chunk, fields, "iccid").unwrap_or_default();
        let iccid = match Iccid::parse(raw) {
            Ok(i) => i.to_string(),
            Err(e) => {
                out.fail(*row, raw, e.0);
                continue;
            }
        };
        let vno = match field(&chunk, fields, "virtual_no").map(VirtualNo::parse) {
            Some(Ok(v)) => v.to_string(),
            Some(Err(e)) => {
                out.fail(*row, &iccid, e.0);
                continue;
            }
            None => {
                out.fail(*row, &iccid, "virtual_no is required");
                continue;
            }
        };
        if let Some(first) = seen_iccid.insert(iccid.clone(), *row) {
            out.fail(
                *row,
                &iccid,
                format!("iccid duplicated in the file (row {first})"),
            );
            continue;
        }
        if let Some(first) = seen_vno.insert(vno.clone(), *row) {
            out.fail(
                *row,
                &iccid,
                format!("virtual_no {vno} duplicated in the file (row {first})"),
            );
            continue;
        }
        rows.push((*row, iccid, vno));
    }
    // Read phase: cards and the virtual numbers' uniqueness items.
    let (card_ids, cards) =
        live_cards_by_iccid(store, rows.iter().map(|(_, i, _)| i.clone()).collect()).await?;
    let vno_keys: Vec<Key> = rows
        .iter()
        .map(|(_, _, v)| keys::unique("card_virtual_no", v))
        .collect();
    let taken = unique_map(store.get_many(&vno_keys).await?);
    let mut writes: Vec<(u64, IotCard, String)> = Vec::new();
    for (row, iccid, vno) in rows {
        let Some(card) = card_ids.get(&iccid).and_then(|id| cards.get(id)) else {
            out.fail(row, &iccid, "card not found");
            continue;
        };
        let holder = taken.get(&keys::unique("card_virtual_no", &vno).pk);
        let ours = holder.is_some_and(|h| {
            written_by(h, task.id, row) && num_attr(h, "target_id") == Some(card.id as i64)
        });
        if ours && card.virtual_no.as_deref() == Some(vno.as_str()) {
            out.success += 1; // done by an earlier delivery of this task
            continue;
        }
        if let Some(current) = &card.virtual_no {
            out.fail(
                row,
                &iccid,
                format!("card already has virtual_no {current}"),
            );
            continue;
        }
        if holder.is_some() {
            out.fail(
                row,
                &iccid,
                format!("virtual_no {vno} already used by another card"),
            );
            continue;
        }
        writes.push((row, card.clone(), vno));
    }
    if !out.failed.is_empty() {
        store.put_all(failure_items(task.id, &out.failed)?).await?;
        let reason = format!("{} conflicting rows; nothing was written", out.failed.len());
        return record_fill(
            store,
            task,
            &chunk,
            0,
            out.failed.len() as u64,
            Some(&reason),
            now,
        )
        .await;
    }
    // Write phase, in transactions; a conflict found now (a race) rolls back what
    // this delivery wrote and fails the batch.
    let stamp = rfc3339(now);
    let mut done: Vec<(u64, IotCard, String)> = Vec::new();
    for group in writes.chunks(FILL_ROWS_PER_TX) {
        let mut tx = Tx::new();
        for (row, card, vno) in group {
            let mut filled = card.clone();
            filled.virtual_no = Some(vno.clone());
            filled.updated_at = stamp.clone();
            filled.version += 1;
            tx = tx
                .put(
                    "card",
                    card_item(&filled)?,
                    Some(Cond::live().and(Cond::version(card.version))),
                )
                .put_new(
                    "virtual_no",
                    import_unique("card_virtual_no", vno, card.id, task.id, *row),
                );
        }
        match store.transact(tx).await {
            Ok(()) => done.extend(group.iter().cloned()),
            Err(StoreError::ConditionFailed { .. }) => {
                roll_back_fill(store, &done, &stamp).await?;
                let failed: Vec<FailedItem> = group
                    .iter()
                    .map(|(row, card, vno)| FailedItem {
                        row: *row,
                        identifier: card.iccid.clone(),
                        reason: format!("virtual_no {vno} or the card changed during the import"),
                    })
                    .collect();
                store.put_all(failure_items(task.id, &failed)?).await?;
                let reason = "a concurrent change conflicted; the batch was rolled back";
                return record_fill(
                    store,
                    task,
                    &chunk,
                    0,
                    failed.len() as u64,
                    Some(reason),
                    now,
                )
                .await;
            }
            Err(e) => return Err(e.into()),
        }
    }
    let total_ok = out.success + done.len() as u64;
    record_fill(store, task, &chunk, total_ok, 0, None, now).await
}

async fn roll_back_fill(
    store: &Store,
    done: &[(u64, IotCard, String)],
    stamp: &str,
) -> Result<(), StoreError> {
    for (_, card, vno) in done {
        let mut restored = card.clone();
        restored.updated_at = stamp.to_string();
        restored.version += 2;
        let tx = Tx::new()
            .put(
                "card",
                card_item(&restored)?,
                Some(Cond::version(card.version + 1)),
            )
            .delete("virtual_no", &keys::unique("card_virtual_no", vno), None);
        store.transact(tx).await?;
    }
    Ok(())
}

/// Final state of a virtual-number fill.
async fn record_fill(
    store: &Store,
    task: &ImportTask,
    chunk: &Chunk,
    ok: u64,
    failed: u64,
    error: Option<&str>,
    now: i64,
) -> Result<(), JobError> {
    let status = if error.is_some() {
        ImportStatus::Failed
    } else {
        ImportStatus::Completed
    };
    let upd = Upd::new(
        "SET #status = :status, next_offset = :next, next_row = :row, total_count = :total, \
         success_count = :ok, fail_count = :failed, #error = :error, started_at = :started, \
         finished_at = :now ADD version :one",
    )
    .name("#status", "status")
    .name("#error", "error")
    .value(":status", status_value(status))
    .value(":next", n(chunk.next_offset))
    .value(":row", n(chunk.last_row))
    .value(":total", n(chunk.rows.len()))
    .value(":ok", n(ok))
    .value(":failed", n(failed))
    .value(
        ":error",
        error.map_or(aws_sdk_dynamodb::types::AttributeValue::Null(true), s),
    )
    .value(
        ":started",
        s(task.started_at.clone().unwrap_or_else(|| rfc3339(now))),
    )
    .value(":now", s(rfc3339(now)))
    .value(":one", n(1));
    let cond = Cond::new("next_offset = :offset").value(":offset", n(task.next_offset));
    match store
        .update_if("task", &import_key(task.id), upd, cond)
        .await
    {
        Ok(()) | Err(StoreError::ConditionFailed { .. }) => Ok(()),
        Err(e) => Err(e.into()),
    }
}

/// Validates and writes the device rows of a chunk (one transaction per device with
/// its uniqueness items and slot bindings).
async fn import_devices(
    state: &AppState,
    task: &ImportTask,
    chunk: &Chunk,
) -> Result<Outcome, JobError> {
    let store = &state.store;
    let mut out = Outcome::default();
    let shop = target_shop(store, task).await?;
    let now = rfc3339(state.clock.now());
    let mut seen: HashMap<String, u64> = HashMap::new();
    let mut parsed = Vec::new();
    for (row, fields) in &chunk.rows {
        let raw = field(chunk, fields, "virtual_no").unwrap_or_default();
        match device_from_row(chunk, fields, task, shop.as_ref(), &now) {
            Err(reason) => out.fail(*row, raw, reason),
            Ok((device, slots)) => {
                if let Some(first) = seen.insert(device.virtual_no.clone(), *row) {
                    out.fail(
                        *row,
                        &device.virtual_no,
                        format!("virtual_no duplicated in the file (row {first})"),
                    );
                    continue;
                }
                parsed.push((*row, device, slots));
            }
        }
    }
    // Slot cards, looked up in one pass.
    let slot_iccids = parsed
        .iter()
        .flat_map(|(_, _, slots)| slots.iter().map(|(_, i)| i.clone()))
        .collect();
    let (card_ids, cards) = live_cards_by_iccid(store, slot_iccids).await?;
    let vno_keys: Vec<Key> = parsed
        .iter()
        .map(|(_, d, _)| keys::unique("device_virtual_no", &d.virtual_no))
        .collect();
    let existing = unique_map(store.get_many(&vno_keys).await?);
    let mut todo = Vec::new();
    'rows: for (row, device, slots) in parsed {
        match existing.get(&keys::unique("device_virtual_no", &device.virtual_no).pk) {
            Some(item) if written_by(item, task.id, row) => {
                out.success += 1;
                continue;
            }
            Some(item) => {
                out.fail(
                    row,
                    &device.virtual_no,
                    conflict_reason(item, task.id, "virtual_no"),
                );
                continue;
            }
            None => {}
        }
        let mut bound = Vec::new();
        for (slot, iccid) in slots {
            let card = card_ids.get(&iccid).and_then(|id| cards.get(id));
            let Some(card) = card else {
                out.fail(
                    row,
                    &device.virtual_no,
                    format!("slot {slot}: card {iccid} not found"),
                );
                continue 'rows;
            };
            if !card.is_standalone {
                out.fail(
                    row,
                    &device.virtual_no,
                    format!("slot {slot}: card {iccid} is already bound to a device"),
                );
                continue 'rows;
            }
            if card.shop_id != device.shop_id {
                out.fail(
                    row,
                    &device.virtual_no,
                    format!("slot {slot}: card {iccid} belongs to another owner"),
                );
                continue 'rows;
            }
            bound.push((slot, card.clone()));
        }
        todo.push((row, device, bound));
    }
    if todo.is_empty() {
        return Ok(out);
    }
    let first_id = store.next_ids("device", todo.len() as u64).await?;
    for (i, (row, mut device, bound)) in todo.into_iter().enumerate() {
        device.id = first_id + i as u64;
        device.bound_card_count = bound.len() as u32;
        let mut tx = Tx::new().put_new("device", device_item(&device)?).put_new(
            "virtual_no",
            import_unique(
                "device_virtual_no",
                &device.virtual_no,
                device.id,
                task.id,
                row,
            ),
        );
        if let Some(imei) = &device.imei {
            tx = tx.put_new("imei", import_unique("imei", imei, device.id, task.id, row));
        }
        if let Some(sn) = &device.sn {
            tx = tx.put_new("sn", import_unique("sn", sn, device.id, task.id, row));
        }
        for (slot, card) in &bound {
            let binding = SimBinding {
                device_id: device.id,
                iot_card_id: card.id,
                iccid: card.iccid.clone(),
                slot_position: *slot,
                bound_at: now.clone(),
            };
            tx = tx.put_new("binding", binding_item(&binding)?).update(
                "card",
                &keys::card(card.id),
                Upd::new("SET is_standalone = :false, bound_device_id = :device, slot_position = :slot ADD version :one")
                    .value(":false", aws_sdk_dynamodb::types::AttributeValue::Bool(false))
                    .value(":device", n(device.id))
                    .value(":slot", n(*slot))
                    .value(":one", n(1)),
                Some(Cond::live().and(Cond::new("is_standalone = :true").value(":true", aws_sdk_dynamodb::types::AttributeValue::Bool(true)))),
            );
        }
        match store.transact(tx).await {
            Ok(()) => out.success += 1,
            Err(StoreError::ConditionFailed { label, old }) => {
                let old = old.map(|b| *b).unwrap_or_default();
                let reason = match label {
                    "virtual_no" if written_by(&old, task.id, row) => {
                        out.success += 1;
                        continue;
                    }
                    "virtual_no" => conflict_reason(&old, task.id, "virtual_no"),
                    "imei" => conflict_reason(&old, task.id, "imei"),
                    "sn" => conflict_reason(&old, task.id, "sn"),
                    "card" => "a slot card was bound meanwhile".to_string(),
                    _ => "could not be written".to_string(),
                };
                out.fail(row, &device.virtual_no, reason);
            }
            Err(e) => return Err(e.into()),
        }
    }
    Ok(out)
}

/// A new device and its slot ICCIDs from a CSV row, or why the row is rejected.
pub fn device_from_row(
    chunk: &Chunk,
    fields: &[String],
    task: &ImportTask,
    shop: Option<&Shop>,
    now: &str,
) -> Result<(Device, Vec<(u32, String)>), String> {
    let get = |name: &str| field(chunk, fields, name);
    let vno =
        VirtualNo::parse(get("virtual_no").ok_or("virtual_no is required")?).map_err(|e| e.0)?;
    let imei = get("imei").map(Imei::parse).transpose().map_err(|e| e.0)?;
    let sn = get("sn").map(Sn::parse).transpose().map_err(|e| e.0)?;
    let max_sim_slots: u32 = match get("max_sim_slots") {
        None => 1,
        Some(v) => v
            .parse()
            .ok()
            .filter(|n| (1..=8).contains(n))
            .ok_or("max_sim_slots must be 1-8")?,
    };
    let mut slots = Vec::new();
    let mut seen = HashSet::new();
    for (name, _) in chunk.columns.iter() {
        if let Some(slot) = name
            .strip_prefix("iccid_")
            .and_then(|n| n.parse::<u32>().ok())
        {
            if let Some(raw) = get(name) {
                let iccid = Iccid::parse(raw)
                    .map_err(|e| format!("{name}: {}", e.0))?
                    .to_string();
                if slot == 0 || slot > max_sim_slots {
                    return Err(format!(
                        "{name}: slot {slot} exceeds max_sim_slots {max_sim_slots}"
                    ));
                }
                if !seen.insert(iccid.clone()) {
                    return Err(format!("{name}: card {iccid} appears in two slots"));
                }
                slots.push((slot, iccid));
            }
        }
    }
    slots.sort();
    let opt = |name: &str, max| validate::opt_text(name, get(name), max).map_err(|e| e.0);
    let device = Device {
        id: 0,
        virtual_no: vno.to_string(),
        imei: imei.map(|v| v.to_string()),
        sn: sn.map(|v| v.to_string()),
        device_name: opt("device_name", 100)?,
        device_model: opt("device_model", 50)?,
        device_type: opt("device_type", 50)?,
        manufacturer: opt("manufacturer", 100)?,
        max_sim_slots,
        batch_no: opt("batch_no", 50)?.or_else(|| task.batch_no.clone()),
        shop_id: shop.map(|s| s.id),
        owner_path: shop.map(|s| s.path.clone()),
        series_id: None,
        status: 1,
        asset_status: AssetStatus::InStock,
        generation: 1,
        activated_at: None,
        bound_card_count: 0,
        import_task_id: Some(task.id),
        created_at: now.to_string(),
        updated_at: now.to_string(),
        deleted_at: None,
        creator: task.created_by,
        updater: task.created_by,
        version: 1,
    };
    Ok((device, slots))
}

/// The import Lambda's handler: one FIFO batch, partial failures reported.
pub async fn handle(
    state: &AppState,
    event: aws_lambda_events::event::sqs::SqsEvent,
) -> aws_lambda_events::event::sqs::SqsBatchResponse {
    super::sqs::handle_fifo(event, |msg: ImportMessage| process(state, msg)).await
}
