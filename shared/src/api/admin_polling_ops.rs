//! Polling operations of the `admin-polling` group (api.md §23): concurrency limits,
//! monitoring and manual triggers. Platform staff only.

use axum::extract::{Path, State};
use axum::routing::{get, post, put};
use axum::Router;

use super::envelope::{ApiResult, Data, Envelope};
use super::extract::{Body, Query};
use crate::app::AppState;
use crate::codes::Code as C;
use crate::domain::caller::Caller;
use crate::paging::{CursorPage, PageQuery};
use crate::services::polling::admin::{
    self, ConcurrencyView, QueueView, SetConcurrency, TriggerRequest, Triggered,
};
use crate::services::polling::backfill::{self, BackfillReport};
use crate::store::polling_triggers::TriggerLog;

use super::admin_polling::TAG;

/// These operations in the OpenAPI document.
#[derive(utoipa::OpenApi)]
#[openapi(paths(
    concurrency,
    set_concurrency,
    overview,
    queue,
    trigger,
    trigger_logs,
    polling_backfill
))]
pub struct Doc;

/// The routes.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/admin/polling-concurrency", get(concurrency))
        .route(
            "/api/admin/polling-concurrency/{task_type}",
            put(set_concurrency),
        )
        .route("/api/admin/polling-monitoring/overview", get(overview))
        .route(
            "/api/admin/polling-monitoring/queues/{task_type}",
            get(queue),
        )
        .route("/api/admin/polling-manual-trigger", post(trigger))
        .route("/api/admin/polling-manual-trigger/logs", get(trigger_logs))
        .route(
            "/api/admin/internal/polling-backfill",
            post(polling_backfill),
        )
}

/// Backfill pages one call runs (100 cards each).
pub const BACKFILL_PAGES_PER_CALL: u32 = 20;

/// Each task type's concurrency limit and the permits held now.
#[utoipa::path(get, path = "/api/admin/polling-concurrency", operation_id = "polling_concurrency", tag = TAG,
    responses((status = 200, body = Envelope<Vec<ConcurrencyView>>)))]
async fn concurrency(
    State(st): State<AppState>,
    caller: Caller,
) -> ApiResult<Vec<ConcurrencyView>> {
    Ok(Data(admin::concurrency(&st, &caller).await?))
}

/// Sets a task type's concurrency limit (default 50).
#[utoipa::path(put, path = "/api/admin/polling-concurrency/{task_type}", operation_id = "set_polling_concurrency", tag = TAG,
    params(("task_type" = String, Path, description = "realname, carddata, package or protect")),
    request_body = SetConcurrency,
    responses((status = 200, body = Envelope<ConcurrencyView>)))]
async fn set_concurrency(
    State(st): State<AppState>,
    caller: Caller,
    Path(task): Path<String>,
    Body(req): Body<SetConcurrency>,
) -> ApiResult<ConcurrencyView> {
    Ok(Data(
        admin::set_concurrency(&st, &caller, &task, req).await?,
    ))
}

/// Every polling queue: due cards, backlog, checks in flight, last hour's rates,
/// last dispatch.
#[utoipa::path(get, path = "/api/admin/polling-monitoring/overview", operation_id = "polling_overview", tag = TAG,
    responses((status = 200, body = Envelope<Vec<QueueView>>)))]
async fn overview(State(st): State<AppState>, caller: Caller) -> ApiResult<Vec<QueueView>> {
    Ok(Data(admin::overview(&st, &caller).await?))
}

/// One polling queue.
#[utoipa::path(get, path = "/api/admin/polling-monitoring/queues/{task_type}", operation_id = "polling_queue", tag = TAG,
    params(("task_type" = String, Path, description = "realname, carddata, package or protect")),
    responses((status = 200, body = Envelope<QueueView>)))]
async fn queue(
    State(st): State<AppState>,
    _caller: Caller,
    Path(task): Path<String>,
) -> ApiResult<QueueView> {
    let task = admin::task_type(&task).map_err(admin::PollingAdminError::from)?;
    Ok(Data(admin::queue(&st, task).await?))
}

/// Queues immediate checks of the cards named by ids or ICCIDs (up to 1000), of a
/// shop's own cards or of the cards matching card-list filters (up to 10 000
/// polled cards; a larger selection is refused with 1001), each card once, under
/// the task type's concurrency limit; logged with its selector and target.
#[utoipa::path(post, path = "/api/admin/polling-manual-trigger", operation_id = "polling_manual_trigger", tag = TAG,
    request_body = TriggerRequest,
    responses((status = 200, body = Envelope<Triggered>)),
    extensions(("x-codes" = json!([C::INVALID_PARAM.0, C::NOT_FOUND.0]))))]
async fn trigger(
    State(st): State<AppState>,
    caller: Caller,
    Body(req): Body<TriggerRequest>,
) -> ApiResult<Triggered> {
    Ok(Data(admin::trigger(&st, &caller, req).await?))
}

/// Manual trigger logs, newest first.
#[utoipa::path(get, path = "/api/admin/polling-manual-trigger/logs", operation_id = "polling_manual_trigger_logs", tag = TAG,
    params(PageQuery),
    responses((status = 200, body = Envelope<CursorPage<TriggerLog>>)))]
async fn trigger_logs(
    State(st): State<AppState>,
    caller: Caller,
    Query(page): Query<PageQuery>,
) -> ApiResult<CursorPage<TriggerLog>> {
    Ok(Data(admin::trigger_logs(&st, &caller, &page).await?))
}

/// Schedules polled cards that have no polling cohorts yet (cards from before
/// polling): up to 20 pages of 100 cards of the pass under way, resuming where the
/// last call stopped. Call again until `done`; cards already scheduled are skipped,
/// and running it twice (even at once) schedules no card twice.
#[utoipa::path(post, path = "/api/admin/internal/polling-backfill", operation_id = "polling_backfill", tag = TAG,
    responses((status = 200, body = Envelope<BackfillReport>)),
    extensions(("x-codes" = json!([C::DATABASE.0]))))]
async fn polling_backfill(
    State(st): State<AppState>,
    _caller: Caller,
) -> ApiResult<BackfillReport> {
    let now = st.clock.now();
    let report = backfill::backfill(&st.store, now, BACKFILL_PAGES_PER_CALL)
        .await
        .map_err(admin::PollingAdminError::from)?;
    tracing::info!(?report, "polling backfill");
    Ok(Data(report))
}
