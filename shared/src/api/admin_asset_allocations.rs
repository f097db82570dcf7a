//! `admin-asset-allocations`: allocation and recall records (api.md §9) and the bulk
//! tasks that move more than 500 assets at once (decisions.md B4).

use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;

use super::envelope::{Accepted, ApiResult, Data, Envelope};
use super::extract::{Id, Query};
use crate::app::AppState;
use crate::domain::caller::Caller;
use crate::services::assets::{
    self, BulkTaskView, CursorPage, MoveAnswer, RecordFilter, RecordView,
};
use crate::services::storage::DownloadUrl;

/// The tag of this group's operations in the OpenAPI document.
const TAG: &str = "admin-asset-allocations";

/// This group's operations in the OpenAPI document.
#[derive(utoipa::OpenApi)]
#[openapi(paths(list, show, bulk_task, bulk_results))]
pub struct Doc;

/// Routes of the `admin-asset-allocations` function.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/admin/asset-allocation-records", get(list))
        .route("/api/admin/asset-allocation-records/{id}", get(show))
        .route("/api/admin/bulk-tasks/{id}", get(bulk_task))
        .route("/api/admin/bulk-tasks/{id}/results", get(bulk_results))
}

/// The answer of an allocate or recall route: 200 with what moved, or 202 with the
/// bulk task that will move it.
pub fn move_answer(answer: MoveAnswer) -> Response {
    match answer {
        MoveAnswer::Done(result) => Data(result).into_response(),
        MoveAnswer::Queued(task) => Accepted(task).into_response(),
    }
}

#[utoipa::path(get, path = "/api/admin/asset-allocation-records", operation_id = "list_allocation_records", tag = TAG,
    params(RecordFilter),
    responses((status = 200, body = Envelope<CursorPage<RecordView>>)))]
async fn list(
    State(st): State<AppState>,
    caller: Caller,
    Query(f): Query<RecordFilter>,
) -> ApiResult<CursorPage<RecordView>> {
    Ok(Data(assets::records(&st.store, &caller, &f).await?))
}

#[utoipa::path(get, path = "/api/admin/asset-allocation-records/{id}", operation_id = "show_allocation_record", tag = TAG,
    params(("id" = u64, Path, minimum = 1)),
    responses((status = 200, body = Envelope<RecordView>)))]
async fn show(
    State(st): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<RecordView> {
    Ok(Data(assets::record(&st.store, &caller, &id).await?))
}

#[utoipa::path(get, path = "/api/admin/bulk-tasks/{id}", operation_id = "bulk_task_allocation_record", tag = TAG,
    params(("id" = u64, Path, minimum = 1)),
    responses((status = 200, body = Envelope<BulkTaskView>)))]
async fn bulk_task(
    State(st): State<AppState>,
    caller: Caller,
    Id(id): Id,
) -> ApiResult<BulkTaskView> {
    Ok(Data(assets::bulk_task(&st, &caller, id).await?))
}

#[utoipa::path(get, path = "/api/admin/bulk-tasks/{id}/results", operation_id = "bulk_results_allocation_record", tag = TAG,
    params(("id" = u64, Path, minimum = 1)),
    responses((status = 200, body = Envelope<DownloadUrl>)))]
async fn bulk_results(
    State(st): State<AppState>,
    caller: Caller,
    Id(id): Id,
) -> ApiResult<DownloadUrl> {
    Ok(Data(assets::bulk_task_results(&st, &caller, id).await?))
}
