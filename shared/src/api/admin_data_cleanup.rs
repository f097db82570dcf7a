//! `admin-polling`: data cleanup configurations, run logs and run-now requests
//! (api.md §23, jobs.md J3).

use axum::extract::State;
use axum::routing::{get, post, put};
use axum::Router;

use super::admin_polling::TAG;
use super::envelope::{ApiError, ApiResult, Data, Envelope, Nothing};
use super::extract::{Body, Id, Query};
use crate::app::AppState;
use crate::codes::Code as C;
use crate::domain::caller::Caller;
use crate::domain::data_cleanup::{DataCleanupConfig, DataCleanupLog};
use crate::paging::{CursorPage, PageQuery};
use crate::services::data_cleanup::{
    self as cleanup, CleanupConfigInput, CleanupConfigUpdate, LogFilter, RunQueued, RunRequest,
};

/// These routes' operations in the OpenAPI document.
#[derive(utoipa::OpenApi)]
#[openapi(paths(list, create, update, delete, logs, run))]
pub struct Doc;

/// The data-cleanup routes.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/admin/data-cleanup-configs", get(list).post(create))
        .route(
            "/api/admin/data-cleanup-configs/{id}",
            put(update).delete(delete),
        )
        .route("/api/admin/data-cleanup-logs", get(logs))
        .route("/api/admin/data-cleanup/run", post(run))
}

/// Every cleanup configuration (at most one per target), in one page.
#[utoipa::path(get, path = "/api/admin/data-cleanup-configs", operation_id = "list_data_cleanup_configs", tag = TAG,
    responses((status = 200, body = Envelope<CursorPage<DataCleanupConfig>>)),
    extensions(("x-codes" = json!([]))))]
async fn list(
    State(st): State<AppState>,
    caller: Caller,
) -> ApiResult<CursorPage<DataCleanupConfig>> {
    Ok(Data(cleanup::list(&st, &caller).await?))
}

/// Creates the cleanup configuration of a target: its items are deleted after
/// `retention_days` (at most the target's default retention, after which they
/// expire anyway).
#[utoipa::path(post, path = "/api/admin/data-cleanup-configs", operation_id = "create_data_cleanup_config", tag = TAG,
    request_body = CleanupConfigInput,
    responses((status = 200, body = Envelope<DataCleanupConfig>)),
    extensions(("x-codes" = json!([C::CLEANUP_CONFIG_EXISTS.0]))))]
async fn create(
    State(st): State<AppState>,
    caller: Caller,
    Body(req): Body<CleanupConfigInput>,
) -> ApiResult<DataCleanupConfig> {
    Ok(Data(cleanup::create(&st, &caller, req).await?))
}

/// Changes a cleanup configuration: given fields replace; the target cannot change.
#[utoipa::path(put, path = "/api/admin/data-cleanup-configs/{id}", operation_id = "update_data_cleanup_config", tag = TAG,
    params(("id" = u64, Path, minimum = 1)),
    request_body = CleanupConfigUpdate,
    responses((status = 200, body = Envelope<DataCleanupConfig>)),
    extensions(("x-codes" = json!([C::CLEANUP_CONFIG_NOT_FOUND.0, C::VERSION_CONFLICT.0]))))]
async fn update(
    State(st): State<AppState>,
    caller: Caller,
    Id(id): Id,
    Body(req): Body<CleanupConfigUpdate>,
) -> ApiResult<DataCleanupConfig> {
    Ok(Data(cleanup::update(&st, &caller, id, req).await?))
}

/// Deletes a cleanup configuration (its target's items then live until their TTL).
#[utoipa::path(delete, path = "/api/admin/data-cleanup-configs/{id}", operation_id = "delete_data_cleanup_config", tag = TAG,
    params(("id" = u64, Path, minimum = 1)),
    responses((status = 200, body = Envelope<Nothing>)),
    extensions(("x-codes" = json!([C::CLEANUP_CONFIG_NOT_FOUND.0, C::VERSION_CONFLICT.0]))))]
async fn delete(State(st): State<AppState>, caller: Caller, Id(id): Id) -> ApiResult<()> {
    cleanup::delete(&st, &caller, id).await?;
    Ok(Data(()))
}

/// Cleanup run logs (one per configuration and run), newest first.
#[utoipa::path(get, path = "/api/admin/data-cleanup-logs", operation_id = "list_data_cleanup_logs", tag = TAG,
    params(PageQuery, LogFilter),
    responses((status = 200, body = Envelope<CursorPage<DataCleanupLog>>)),
    extensions(("x-codes" = json!([]))))]
async fn logs(
    State(st): State<AppState>,
    caller: Caller,
    Query(page): Query<PageQuery>,
    Query(filter): Query<LogFilter>,
) -> ApiResult<CursorPage<DataCleanupLog>> {
    Ok(Data(cleanup::logs(&st, &caller, filter, &page).await?))
}

/// Queues a cleanup run now: every enabled configuration, or only `config_id`
/// (even disabled). Answers the run id its logs will carry; a run meeting one in
/// progress does nothing.
#[utoipa::path(post, path = "/api/admin/data-cleanup/run", operation_id = "run_data_cleanup", tag = TAG,
    request_body(content = Option<RunRequest>, description = "Optional: `{config_id}`"),
    responses((status = 200, body = Envelope<RunQueued>)),
    extensions(("x-codes" = json!([C::CLEANUP_CONFIG_NOT_FOUND.0]))))]
async fn run(
    State(st): State<AppState>,
    caller: Caller,
    raw: axum::body::Bytes,
) -> ApiResult<RunQueued> {
    let req = if raw.iter().all(u8::is_ascii_whitespace) {
        RunRequest::default()
    } else {
        serde_json::from_slice(&raw).map_err(|e| {
            ApiError::invalid(
                format!("请求体格式错误: {e}"),
                format!("invalid request body: {e}"),
            )
        })?
    };
    Ok(Data(cleanup::run_now(&st, &caller, req).await?))
}
