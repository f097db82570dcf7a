//! `admin-polling`: polling configurations, one per task type (api.md §23).

use axum::extract::State;
use axum::routing::{get, put};
use axum::Router;

use super::admin_polling::TAG;
use super::envelope::{ApiResult, Data, Envelope, Nothing};
use super::extract::{Body, Id};
use crate::app::AppState;
use crate::codes::Code as C;
use crate::domain::caller::Caller;
use crate::domain::polling::PollingConfig;
use crate::paging::CursorPage;
use crate::services::polling_configs::{
    self as configs, EnabledInput, PollingConfigInput, PollingConfigUpdate,
};

/// These routes' operations in the OpenAPI document.
#[derive(utoipa::OpenApi)]
#[openapi(paths(list, create, show, update, delete, status))]
pub struct Doc;

/// The polling-configuration routes.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/admin/polling-configs", get(list).post(create))
        .route(
            "/api/admin/polling-configs/{id}",
            get(show).put(update).delete(delete),
        )
        .route("/api/admin/polling-configs/{id}/status", put(status))
}

/// Every configuration (at most one per task type; a task type without one polls
/// with its defaults), in task-type order, in one page.
#[utoipa::path(get, path = "/api/admin/polling-configs", operation_id = "list_polling_configs", tag = TAG,
    responses((status = 200, body = Envelope<CursorPage<PollingConfig>>)),
    extensions(("x-codes" = json!([]))))]
async fn list(State(st): State<AppState>, caller: Caller) -> ApiResult<CursorPage<PollingConfig>> {
    Ok(Data(configs::list(&st, &caller).await?))
}

/// Creates the configuration of a task type.
#[utoipa::path(post, path = "/api/admin/polling-configs", operation_id = "create_polling_config", tag = TAG,
    request_body = PollingConfigInput,
    responses((status = 200, body = Envelope<PollingConfig>)),
    extensions(("x-codes" = json!([C::POLLING_CONFIG_EXISTS.0]))))]
async fn create(
    State(st): State<AppState>,
    caller: Caller,
    Body(req): Body<PollingConfigInput>,
) -> ApiResult<PollingConfig> {
    Ok(Data(configs::create(&st, &caller, req).await?))
}

/// One configuration.
#[utoipa::path(get, path = "/api/admin/polling-configs/{id}", operation_id = "show_polling_config", tag = TAG,
    params(("id" = u64, Path, minimum = 1)),
    responses((status = 200, body = Envelope<PollingConfig>)),
    extensions(("x-codes" = json!([C::POLLING_CONFIG_NOT_FOUND.0]))))]
async fn show(State(st): State<AppState>, caller: Caller, Id(id): Id) -> ApiResult<PollingConfig> {
    Ok(Data(configs::get(&st, &caller, id).await?))
}

/// Changes a configuration: given fields replace; the task type cannot change.
#[utoipa::path(put, path = "/api/admin/polling-configs/{id}", operation_id = "update_polling_config", tag = TAG,
    params(("id" = u64, Path, minimum = 1)),
    request_body = PollingConfigUpdate,
    responses((status = 200, body = Envelope<PollingConfig>)),
    extensions(("x-codes" = json!([C::POLLING_CONFIG_NOT_FOUND.0, C::VERSION_CONFLICT.0]))))]
async fn update(
    State(st): State<AppState>,
    caller: Caller,
    Id(id): Id,
    Body(req): Body<PollingConfigUpdate>,
) -> ApiResult<PollingConfig> {
    Ok(Data(configs::update(&st, &caller, id, req).await?))
}

/// Deletes a configuration: its task type polls with the defaults again.
#[utoipa::path(delete, path = "/api/admin/polling-configs/{id}", operation_id = "delete_polling_config", tag = TAG,
    params(("id" = u64, Path, minimum = 1)),
    responses((status = 200, body = Envelope<Nothing>)),
    extensions(("x-codes" = json!([C::POLLING_CONFIG_NOT_FOUND.0, C::VERSION_CONFLICT.0]))))]
async fn delete(State(st): State<AppState>, caller: Caller, Id(id): Id) -> ApiResult<()> {
    configs::delete(&st, &caller, id).await?;
    Ok(Data(()))
}

/// Switches a task type's polling on or off.
#[utoipa::path(put, path = "/api/admin/polling-configs/{id}/status", operation_id = "set_polling_config_status", tag = TAG,
    params(("id" = u64, Path, minimum = 1)),
    request_body = EnabledInput,
    responses((status = 200, body = Envelope<PollingConfig>)),
    extensions(("x-codes" = json!([C::POLLING_CONFIG_NOT_FOUND.0, C::VERSION_CONFLICT.0]))))]
async fn status(
    State(st): State<AppState>,
    caller: Caller,
    Id(id): Id,
    Body(req): Body<EnabledInput>,
) -> ApiResult<PollingConfig> {
    Ok(Data(
        configs::set_enabled(&st, &caller, id, req.enabled).await?,
    ))
}
