//! Bulk allocation and recall (decisions.md B4). The allocate and recall routes run
//! [`super::moves`]; a selection of more than
//! [`BULK_THRESHOLD`](crate::domain::bulk::BULK_THRESHOLD) assets comes back
//! checked but unmoved, and becomes a task here (answered 202). The bulk worker
//! (`jobs::bulk`) then runs [`run_slice`] once per queue message: the same rules as
//! the request, for the account and scope that created the task, one slice of at
//! most [`SLICE`] assets at a time, each asset's result recorded with its move.
//!
//! Idempotent by construction: an asset moved by an earlier attempt has left the
//! source (a range re-read no longer meets it; named again, it is refused and its
//! "moved" result stays), and the result written with a move forbids moving it
//! again for this task.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use super::moves::{self, select, Chosen, MoveResult, Moved};
use super::transfer::{move_selected, Destination};
use super::{require_asset_admin, AllocateRequest, Asset, AssetError, BatchResult, RecallRequest};
use crate::app::AppState;
use crate::clock::rfc3339;
use crate::domain::assets::{AssetType, Device, IotCard, MoveOp};
use crate::domain::bulk::{
    BulkOp, BulkOrder, BulkOutcome, BulkResult, BulkStatus, BulkTask, SelectionKind, SLICE,
};
use crate::domain::caller::Caller;
use crate::services::storage::{self, DownloadUrl};
use crate::store::asset_lists::Pick;
use crate::store::cursor::Cursor;
use crate::store::{Store, StoreError};

/// Query calls one slice of a range or batch may spend (a selective filter reads
/// items it drops; the next slice goes on where this one stopped).
const SLICE_QUERY_CALLS: usize = 10;

/// What an allocate or recall route answers.
#[derive(Debug)]
pub enum MoveAnswer {
    /// Moved inside the request (200).
    Done(MoveResult),
    /// Queued as a bulk task (202).
    Queued(Box<BulkTaskView>),
}

/// A bulk task as its routes show it (the 202 answer, `GET /api/admin/bulk-tasks/{id}`).
#[derive(Debug, Serialize, Deserialize, PartialEq, Eq, utoipa::ToSchema)]
pub struct BulkTaskView {
    pub task_id: u64,
    pub status: BulkStatus,
    pub operation: BulkOp,
    pub asset_type: AssetType,
    pub to_shop_id: Option<u64>,
    /// The enterprise of an authorisation or revocation.
    pub enterprise_id: Option<u64>,
    pub selection: SelectionKind,
    pub range_start: Option<String>,
    pub range_end: Option<String>,
    pub batch_no: Option<String>,
    /// How many values a list named (`null` for a range or batch, whose size is
    /// known once done).
    pub requested_count: Option<u64>,
    /// Assets with a result so far, moved and not (exact once finished).
    pub processed_count: u64,
    pub moved_count: u64,
    pub failed_count: u64,
    /// Whether `GET .../results` has a file to give.
    pub results_ready: bool,
    pub error: Option<String>,
    pub created_by: u64,
    pub created_at: String,
    pub started_at: Option<String>,
    pub finished_at: Option<String>,
}

impl From<&BulkTask> for BulkTaskView {
    fn from(t: &BulkTask) -> Self {
        BulkTaskView {
            task_id: t.id,
            status: t.status,
            operation: t.operation,
            asset_type: t.asset_type,
            to_shop_id: t.to_shop_id,
            enterprise_id: t.enterprise_id,
            selection: t.selection,
            range_start: t.range_start.clone(),
            range_end: t.range_end.clone(),
            batch_no: t.batch_no.clone(),
            requested_count: t.requested_count,
            processed_count: t.processed_count,
            moved_count: t.moved_count,
            failed_count: t.failed_count,
            results_ready: t.status.is_finished() && t.results_key.is_some(),
            error: t.error.clone(),
            created_by: t.created_by,
            created_at: t.created_at.clone(),
            started_at: t.started_at.clone(),
            finished_at: t.finished_at.clone(),
        }
    }
}

/// `POST .../allocate`: moves the assets now, or queues a bulk task for more than
/// [`BULK_THRESHOLD`](crate::domain::bulk::BULK_THRESHOLD).
pub async fn allocate<A: Asset>(
    state: &AppState,
    caller: &Caller,
    req: AllocateRequest,
) -> Result<MoveAnswer, AssetError> {
    let now = state.clock.now();
    let moved = moves::allocate::<A>(&state.store, caller, now, req).await?;
    answer(state, caller, moved, now).await
}

/// `POST .../recall`: like [`allocate`].
pub async fn recall<A: Asset>(
    state: &AppState,
    caller: &Caller,
    req: RecallRequest,
) -> Result<MoveAnswer, AssetError> {
    let now = state.clock.now();
    let moved = moves::recall::<A>(&state.store, caller, now, req).await?;
    answer(state, caller, moved, now).await
}

async fn answer(
    state: &AppState,
    caller: &Caller,
    moved: Moved,
    now: i64,
) -> Result<MoveAnswer, AssetError> {
    match moved {
        Moved::Done(result) => Ok(MoveAnswer::Done(result)),
        Moved::Deferred(order) => {
            let task = queue(state, caller, &order, now).await?;
            Ok(MoveAnswer::Queued(Box::new(task)))
        }
    }
}

/// Saves a task for `order` (of any operation) and sends its first message. A task that cannot be
/// queued is marked failed at once (never left for nothing to process); one saved
/// but not queued because the function died in between is re-sent by the sweep.
pub(crate) async fn queue(
    state: &AppState,
    caller: &Caller,
    order: &BulkOrder,
    now: i64,
) -> Result<BulkTaskView, AssetError> {
    let store = &state.store;
    let id = store.next_id("bulk").await?;
    let task = BulkTask::new(id, order, caller, rfc3339(now));
    store
        .create_bulk_task(&task, &order.selection.pages())
        .await?;
    let queued = match state.bulk_queue() {
        Ok(q) => q.send(id, 0).await.map_err(|e| e.to_string()),
        Err(e) => Err(e.to_string()),
    };
    if let Err(e) = queued {
        tracing::error!(task_id = id, error = %e, "could not queue bulk task");
        store
            .fail_bulk_task(&task, "could not be queued; send the request again", now)
            .await?;
        return Err(AssetError::Store(StoreError::Dynamo(e)));
    }
    tracing::info!(
        task_id = id,
        operation = order.operation.as_str(),
        asset_type = order.asset_type.as_str(),
        "bulk task created"
    );
    Ok(BulkTaskView::from(&task))
}

/// A task the caller may see (platform staff: any; an agent: its shop's); others
/// answer not found, like any out-of-scope object.
async fn visible_task(state: &AppState, caller: &Caller, id: u64) -> Result<BulkTask, AssetError> {
    require_asset_admin(caller)?;
    state
        .store
        .bulk_task(id)
        .await?
        .filter(|t| t.visible_to(caller))
        .ok_or(AssetError::NotFound("bulk task"))
}

/// `GET /api/admin/bulk-tasks/{id}`: the task with its progress and counts.
pub async fn bulk_task(
    state: &AppState,
    caller: &Caller,
    id: u64,
) -> Result<BulkTaskView, AssetError> {
    Ok(BulkTaskView::from(&visible_task(state, caller, id).await?))
}

/// `GET /api/admin/bulk-tasks/{id}/results`: a presigned URL of the results CSV
/// (`identifier,result,reason`), written by the worker when the task finished.
pub async fn bulk_task_results(
    state: &AppState,
    caller: &Caller,
    id: u64,
) -> Result<DownloadUrl, AssetError> {
    let task = visible_task(state, caller, id).await?;
    match task.results_key {
        Some(key) if task.status.is_finished() => {
            Ok(storage::presigned_download(state, &key).await?)
        }
        _ => Err(AssetError::BulkUnfinished),
    }
}

/// What one slice did: the results it recorded (an asset an earlier attempt moved,
/// named again, counts as moved) and where the next slice starts (`None`: the
/// selection is exhausted).
#[derive(Debug, Default, PartialEq, Eq)]
pub struct SliceDone {
    pub moved: u64,
    pub failed: u64,
    pub next: Option<(u32, Option<HashMap<String, String>>)>,
}

/// Runs the slice of `task` that starts at its saved position. Fails with
/// `NotFound`/`NotDirectSubordinate` when the task can no longer run (its target or
/// home shop is gone), with a store error when it should be retried.
pub async fn run_slice(store: &Store, task: &BulkTask, now: i64) -> Result<SliceDone, AssetError> {
    match task.asset_type {
        AssetType::Card => slice::<IotCard>(store, task, now).await,
        AssetType::Device => slice::<Device>(store, task, now).await,
    }
}

async fn slice<A: Asset>(
    store: &Store,
    task: &BulkTask,
    now: i64,
) -> Result<SliceDone, AssetError> {
    let caller = task.creator();
    let Some(op) = task.operation.as_move() else {
        return Err(StoreError::Codec(format!("bulk task {} moves nothing", task.id)).into());
    };
    let shop = match (op, task.to_shop_id) {
        (MoveOp::Allocate, Some(to)) => Some(moves::allocation_target(store, &caller, to).await?),
        (MoveOp::Allocate, None) => return Err(AssetError::NotFound("shop")),
        (MoveOp::Recall, _) => moves::recall_home(store, &caller).await?,
    };
    let (selected, mut results, next) = read::<A>(store, task, &caller, op).await?;
    let to = Destination {
        shop: shop.as_ref(),
        op,
    };
    let remark = task.remark.clone();
    results.extend(move_selected(store, &caller, now, selected, to, remark, Some(task.id)).await?);
    let moved_now = results
        .iter()
        .filter(|(_, r)| *r == BatchResult::Moved)
        .count() as u64;
    let refused: Vec<BulkResult> = results
        .into_iter()
        .filter_map(|(identifier, r)| match r {
            BatchResult::Moved => None,
            BatchResult::Refused(why) => Some(BulkResult {
                identifier,
                result: BulkOutcome::Failed,
                reason: Some(why.to_string()),
            }),
        })
        .collect();
    let moved_before = store
        .put_bulk_refusals(task.id, &refused, &rfc3339(now))
        .await?
        .into_iter()
        .filter(|m| *m)
        .count() as u64;
    Ok(SliceDone {
        moved: moved_now + moved_before,
        failed: refused.len() as u64 - moved_before,
        next,
    })
}

/// The slice's assets and the names that matched none, and where the next slice
/// starts: a page of a list, or a bounded read of a range or batch.
#[allow(clippy::type_complexity)]
async fn read<A: Asset>(
    store: &Store,
    task: &BulkTask,
    caller: &Caller,
    op: MoveOp,
) -> Result<
    (
        Vec<A>,
        Vec<(String, BatchResult)>,
        Option<(u32, Option<HashMap<String, String>>)>,
    ),
    AssetError,
> {
    let pick = match (
        &task.selection,
        &task.range_start,
        &task.range_end,
        &task.batch_no,
    ) {
        (SelectionKind::Range, Some(a), Some(b), _) => Pick::Range(a.clone(), b.clone()),
        (SelectionKind::Batch, _, _, Some(b)) => Pick::Batch(b.clone()),
        (SelectionKind::Ids | SelectionKind::Identifiers, ..) => {
            let page = store
                .bulk_page(task.id, task.next_part)
                .await?
                .ok_or_else(|| StoreError::Codec(format!("bulk task {} lost a page", task.id)))?;
            let next = (task.next_part + 1 < task.pages).then(|| (task.next_part + 1, None));
            let (selected, missing) = if task.selection == SelectionKind::Ids {
                let (selected, missing) = select::<A>(
                    store,
                    Chosen::Ids(&page.ids),
                    |_| Ok(Vec::new()),
                    |_| true,
                    SLICE,
                )
                .await?;
                // Unknown ids are named `id <n>`: a name no identifier can take.
                let missing = missing
                    .into_iter()
                    .map(|(id, r)| (format!("id {id}"), r))
                    .collect();
                (selected, missing)
            } else {
                let chosen = Chosen::Identifiers(page.identifiers);
                select::<A>(store, chosen, |_| Ok(Vec::new()), |_| true, SLICE).await?
            };
            return Ok((selected, missing, next));
        }
        _ => {
            return Err(StoreError::Codec(format!("bulk task {} has no selection", task.id)).into())
        }
    };
    let queries = moves::pick_queries(op, A::TYPE, caller, &pick)?;
    let from = Cursor {
        shard: task.next_part,
        key: task.next_key.clone(),
    };
    let (selected, next) = store
        .read_slice(&queries, from, SLICE, SLICE_QUERY_CALLS, |a: &A| {
            moves::keeps(op, a)
        })
        .await?;
    Ok((selected, Vec::new(), next.map(|c| (c.shard, c.key))))
}
