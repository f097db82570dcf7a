//! `admin-devices`: device lists, edits, soft delete, deactivation, SIM bindings,
//! allocation, recall and imports (api.md §8; gateway commands arrive with [3/5]).

use axum::extract::{Path, State};
use axum::response::Response;
use axum::routing::{delete, get, patch, post, put};
use axum::Router;

use super::admin_asset_allocations::move_answer;
use super::envelope::{ApiError, ApiResult, Data, Envelope, Nothing};
use super::extract::{parse_id, Body, Id, Query};
use crate::app::AppState;
use crate::domain::assets::{Device, ImportTask};
use crate::domain::caller::Caller;
use crate::paging::PageQuery;
use crate::services::asset_ops::{self, Command, SpeedLimit, SwitchCard, Wifi};
use crate::services::assets::{
    self, AllocateRequest, AssetFilter, BulkTaskView, CursorPage, MoveResult, RecallRequest,
};
use crate::services::devices::{self, BindCard, BoundCard, DeviceFilter, DeviceView, UpdateDevice};
use crate::services::imports::{self, CreateImport, ImportCreated, ImportRoute, ImportTaskView};

/// The tag of this group's operations in the OpenAPI document.
const TAG: &str = "admin-devices";

/// This group's operations in the OpenAPI document.
#[derive(utoipa::OpenApi)]
#[openapi(paths(
    list,
    update,
    remove,
    deactivate,
    cards,
    bind,
    unbind,
    allocate,
    recall,
    import,
    tasks,
    task,
    speed_limit,
    wifi,
    switch_card,
    reboot,
    factory_reset
))]
pub struct Doc;

/// Routes of the `admin-devices` function.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/admin/devices", get(list))
        .route("/api/admin/devices/{id}", put(update).delete(remove))
        .route("/api/admin/devices/{id}/deactivate", patch(deactivate))
        .route("/api/admin/devices/{id}/cards", get(cards).post(bind))
        .route("/api/admin/devices/{id}/cards/{card_id}", delete(unbind))
        .route("/api/admin/devices/allocate", post(allocate))
        .route("/api/admin/devices/recall", post(recall))
        .route("/api/admin/devices/import", post(import))
        .route("/api/admin/devices/import/tasks", get(tasks))
        .route("/api/admin/devices/import/tasks/{id}", get(task))
        .route("/api/admin/devices/{id}/speed-limit", post(speed_limit))
        .route("/api/admin/devices/{id}/wifi", post(wifi))
        .route("/api/admin/devices/{id}/switch-card", post(switch_card))
        .route("/api/admin/devices/{id}/reboot", post(reboot))
        .route("/api/admin/devices/{id}/factory-reset", post(factory_reset))
}

async fn command(st: &AppState, caller: &Caller, id: u64, cmd: Command) -> ApiResult<()> {
    asset_ops::device_command(st, caller, id, cmd).await?;
    Ok(Data(()))
}

#[utoipa::path(post, path = "/api/admin/devices/{id}/speed-limit", operation_id = "speed_limit_device", tag = TAG,
    params(("id" = u64, Path, minimum = 1)),
    request_body = SpeedLimit,
    responses((status = 200, body = Envelope<Nothing>)))]
async fn speed_limit(
    State(st): State<AppState>,
    caller: Caller,
    Id(id): Id,
    Body(req): Body<SpeedLimit>,
) -> ApiResult<()> {
    command(&st, &caller, id, Command::SpeedLimit(req)).await
}

#[utoipa::path(post, path = "/api/admin/devices/{id}/wifi", operation_id = "wifi_device", tag = TAG,
    params(("id" = u64, Path, minimum = 1)),
    request_body = Wifi,
    responses((status = 200, body = Envelope<Nothing>)))]
async fn wifi(
    State(st): State<AppState>,
    caller: Caller,
    Id(id): Id,
    Body(req): Body<Wifi>,
) -> ApiResult<()> {
    command(&st, &caller, id, Command::Wifi(req)).await
}

#[utoipa::path(post, path = "/api/admin/devices/{id}/switch-card", operation_id = "switch_card_device", tag = TAG,
    params(("id" = u64, Path, minimum = 1)),
    request_body = SwitchCard,
    responses((status = 200, body = Envelope<Nothing>)))]
async fn switch_card(
    State(st): State<AppState>,
    caller: Caller,
    Id(id): Id,
    Body(req): Body<SwitchCard>,
) -> ApiResult<()> {
    command(&st, &caller, id, Command::SwitchCard(req)).await
}

#[utoipa::path(post, path = "/api/admin/devices/{id}/reboot", operation_id = "reboot_device", tag = TAG,
    params(("id" = u64, Path, minimum = 1)),
    responses((status = 200, body = Envelope<Nothing>)))]
async fn reboot(State(st): State<AppState>, caller: Caller, Id(id): Id) -> ApiResult<()> {
    command(&st, &caller, id, Command::Reboot).await
}

#[utoipa::path(post, path = "/api/admin/devices/{id}/factory-reset", operation_id = "factory_reset_device", tag = TAG,
    params(("id" = u64, Path, minimum = 1)),
    responses((status = 200, body = Envelope<Nothing>)))]
async fn factory_reset(State(st): State<AppState>, caller: Caller, Id(id): Id) -> ApiResult<()> {
    command(&st, &caller, id, Command::FactoryReset).await
}

#[utoipa::path(get, path = "/api/admin/devices", operation_id = "list_devices", tag = TAG,
    params(DeviceFilter, AssetFilter),
    responses((status = 200, body = Envelope<CursorPage<DeviceView>>)))]
async fn list(
    State(st): State<AppState>,
    caller: Caller,
    Query(exact): Query<DeviceFilter>,
    Query(f): Query<AssetFilter>,
) -> ApiResult<CursorPage<DeviceView>> {
    Ok(Data(devices::list(&st.store, &caller, &exact, f).await?))
}

#[utoipa::path(put, path = "/api/admin/devices/{id}", operation_id = "update_device", tag = TAG,
    params(("id" = u64, Path, minimum = 1)),
    request_body = UpdateDevice,
    responses((status = 200, body = Envelope<Device>)))]
async fn update(
    State(st): State<AppState>,
    caller: Caller,
    Id(id): Id,
    Body(req): Body<UpdateDevice>,
) -> ApiResult<Device> {
    Ok(Data(
        devices::update(&st.store, &caller, st.clock.now(), id, req).await?,
    ))
}

#[utoipa::path(delete, path = "/api/admin/devices/{id}", operation_id = "remove_device", tag = TAG,
    params(("id" = u64, Path, minimum = 1)),
    responses((status = 200, body = Envelope<Nothing>)))]
async fn remove(State(st): State<AppState>, caller: Caller, Id(id): Id) -> ApiResult<()> {
    devices::delete(&st.store, &caller, st.clock.now(), id).await?;
    Ok(Data(()))
}

#[utoipa::path(patch, path = "/api/admin/devices/{id}/deactivate", operation_id = "deactivate_device", tag = TAG,
    params(("id" = u64, Path, minimum = 1)),
    responses((status = 200, body = Envelope<Nothing>)))]
async fn deactivate(State(st): State<AppState>, caller: Caller, Id(id): Id) -> ApiResult<()> {
    assets::deactivate::<Device>(&st.store, &caller, st.clock.now(), id).await?;
    Ok(Data(()))
}

#[utoipa::path(get, path = "/api/admin/devices/{id}/cards", operation_id = "cards_device", tag = TAG,
    params(("id" = u64, Path, minimum = 1)),
    responses((status = 200, body = Envelope<Vec<BoundCard>>)))]
async fn cards(
    State(st): State<AppState>,
    caller: Caller,
    Id(id): Id,
) -> ApiResult<Vec<BoundCard>> {
    Ok(Data(devices::cards(&st.store, &caller, id).await?))
}

#[utoipa::path(post, path = "/api/admin/devices/{id}/cards", operation_id = "bind_device", tag = TAG,
    params(("id" = u64, Path, minimum = 1)),
    request_body = BindCard,
    responses((status = 200, body = Envelope<Vec<BoundCard>>)))]
async fn bind(
    State(st): State<AppState>,
    caller: Caller,
    Id(id): Id,
    Body(req): Body<BindCard>,
) -> ApiResult<Vec<BoundCard>> {
    Ok(Data(
        devices::bind(&st.store, &caller, st.clock.now(), id, req).await?,
    ))
}

#[utoipa::path(delete, path = "/api/admin/devices/{id}/cards/{card_id}", operation_id = "unbind_device", tag = TAG,
    params(("id" = u64, Path, minimum = 1), ("card_id" = u64, Path, minimum = 1)),
    responses((status = 200, body = Envelope<Nothing>)))]
async fn unbind(
    State(st): State<AppState>,
    caller: Caller,
    Path((id, card_id)): Path<(String, String)>,
) -> ApiResult<()> {
    devices::unbind(&st.store, &caller, parse_id(&id)?, parse_id(&card_id)?).await?;
    Ok(Data(()))
}

#[utoipa::path(post, path = "/api/admin/devices/allocate", operation_id = "allocate_device", tag = TAG,
    request_body = AllocateRequest,
    responses(
        (status = 200, description = "Moved at once (at most 500 assets)", body = Envelope<MoveResult>),
        (status = 202, description = "More than 500 assets: checked and queued as a bulk task", body = Envelope<BulkTaskView>)))]
async fn allocate(
    State(st): State<AppState>,
    caller: Caller,
    Body(req): Body<AllocateRequest>,
) -> Result<Response, ApiError> {
    Ok(move_answer(
        assets::allocate::<Device>(&st, &caller, req).await?,
    ))
}

#[utoipa::path(post, path = "/api/admin/devices/recall", operation_id = "recall_device", tag = TAG,
    request_body = RecallRequest,
    responses(
        (status = 200, description = "Moved at once (at most 500 assets)", body = Envelope<MoveResult>),
        (status = 202, description = "More than 500 assets: checked and queued as a bulk task", body = Envelope<BulkTaskView>)))]
async fn recall(
    State(st): State<AppState>,
    caller: Caller,
    Body(req): Body<RecallRequest>,
) -> Result<Response, ApiError> {
    Ok(move_answer(
        assets::recall::<Device>(&st, &caller, req).await?,
    ))
}

#[utoipa::path(post, path = "/api/admin/devices/import", operation_id = "import_device", tag = TAG,
    request_body = CreateImport,
    responses((status = 200, body = Envelope<ImportCreated>)))]
async fn import(
    State(st): State<AppState>,
    caller: Caller,
    Body(req): Body<CreateImport>,
) -> ApiResult<ImportCreated> {
    Ok(Data(
        imports::create(&st, &caller, ImportRoute::Devices, req).await?,
    ))
}

#[utoipa::path(get, path = "/api/admin/devices/import/tasks", operation_id = "device_import_tasks", tag = TAG,
    params(PageQuery),
    responses((status = 200, body = Envelope<CursorPage<ImportTask>>)))]
async fn tasks(
    State(st): State<AppState>,
    caller: Caller,
    Query(page): Query<PageQuery>,
) -> ApiResult<CursorPage<ImportTask>> {
    Ok(Data(
        imports::list(&st, &caller, ImportRoute::Devices, &page).await?,
    ))
}

#[utoipa::path(get, path = "/api/admin/devices/import/tasks/{id}", operation_id = "device_import_task", tag = TAG,
    params(("id" = u64, Path, minimum = 1)),
    responses((status = 200, body = Envelope<ImportTaskView>)))]
async fn task(State(st): State<AppState>, caller: Caller, Id(id): Id) -> ApiResult<ImportTaskView> {
    Ok(Data(
        imports::get(&st, &caller, ImportRoute::Devices, id).await?,
    ))
}
