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
use crate::codes::Code as C;
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

/// Sets a device's speed limit at the carrier.
#[utoipa::path(post, path = "/api/admin/devices/{id}/speed-limit", operation_id = "set_device_speed_limit", tag = TAG,
    params(("id" = u64, Path, minimum = 1)),
    request_body = SpeedLimit,
    responses((status = 200, body = Envelope<Nothing>)),
    extensions(("x-codes" = json!([C::ASSET_NOT_FOUND.0, C::GATEWAY_ERROR.0, C::GATEWAY_TIMEOUT.0, C::GATEWAY_INVALID_RESPONSE.0]))))]
async fn speed_limit(
    State(st): State<AppState>,
    caller: Caller,
    Id(id): Id,
    Body(req): Body<SpeedLimit>,
) -> ApiResult<()> {
    command(&st, &caller, id, Command::SpeedLimit(req)).await
}

/// Sets a device's Wi-Fi name and password.
#[utoipa::path(post, path = "/api/admin/devices/{id}/wifi", operation_id = "set_device_wifi", tag = TAG,
    params(("id" = u64, Path, minimum = 1)),
    request_body = Wifi,
    responses((status = 200, body = Envelope<Nothing>)),
    extensions(("x-codes" = json!([C::ASSET_NOT_FOUND.0, C::GATEWAY_ERROR.0, C::GATEWAY_TIMEOUT.0, C::GATEWAY_INVALID_RESPONSE.0]))))]
async fn wifi(
    State(st): State<AppState>,
    caller: Caller,
    Id(id): Id,
    Body(req): Body<Wifi>,
) -> ApiResult<()> {
    command(&st, &caller, id, Command::Wifi(req)).await
}

/// Switches a device to another of its cards.
#[utoipa::path(post, path = "/api/admin/devices/{id}/switch-card", operation_id = "switch_device_card", tag = TAG,
    params(("id" = u64, Path, minimum = 1)),
    request_body = SwitchCard,
    responses((status = 200, body = Envelope<Nothing>)),
    extensions(("x-codes" = json!([C::ASSET_NOT_FOUND.0, C::GATEWAY_ERROR.0, C::GATEWAY_TIMEOUT.0, C::GATEWAY_INVALID_RESPONSE.0]))))]
async fn switch_card(
    State(st): State<AppState>,
    caller: Caller,
    Id(id): Id,
    Body(req): Body<SwitchCard>,
) -> ApiResult<()> {
    command(&st, &caller, id, Command::SwitchCard(req)).await
}

/// Reboots a device.
#[utoipa::path(post, path = "/api/admin/devices/{id}/reboot", operation_id = "reboot_device", tag = TAG,
    params(("id" = u64, Path, minimum = 1)),
    responses((status = 200, body = Envelope<Nothing>)),
    extensions(("x-codes" = json!([C::ASSET_NOT_FOUND.0, C::GATEWAY_ERROR.0, C::GATEWAY_TIMEOUT.0, C::GATEWAY_INVALID_RESPONSE.0]))))]
async fn reboot(State(st): State<AppState>, caller: Caller, Id(id): Id) -> ApiResult<()> {
    command(&st, &caller, id, Command::Reboot).await
}

/// Resets a device to factory settings.
#[utoipa::path(post, path = "/api/admin/devices/{id}/factory-reset", operation_id = "factory_reset_device", tag = TAG,
    params(("id" = u64, Path, minimum = 1)),
    responses((status = 200, body = Envelope<Nothing>)),
    extensions(("x-codes" = json!([C::ASSET_NOT_FOUND.0, C::GATEWAY_ERROR.0, C::GATEWAY_TIMEOUT.0, C::GATEWAY_INVALID_RESPONSE.0]))))]
async fn factory_reset(State(st): State<AppState>, caller: Caller, Id(id): Id) -> ApiResult<()> {
    command(&st, &caller, id, Command::FactoryReset).await
}

/// Devices in the caller's view, a page at a time.
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

/// Changes a device's details.
#[utoipa::path(put, path = "/api/admin/devices/{id}", operation_id = "update_device", tag = TAG,
    params(("id" = u64, Path, minimum = 1)),
    request_body = UpdateDevice,
    responses((status = 200, body = Envelope<Device>)),
    extensions(("x-codes" = json!([C::ASSET_NOT_FOUND.0, C::DUPLICATE_VIRTUAL_NO.0, C::DUPLICATE_IDENTIFIER.0, C::VERSION_CONFLICT.0]))))]
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

/// Deletes a device (soft delete).
#[utoipa::path(delete, path = "/api/admin/devices/{id}", operation_id = "delete_device", tag = TAG,
    params(("id" = u64, Path, minimum = 1)),
    responses((status = 200, body = Envelope<Nothing>)),
    extensions(("x-codes" = json!([C::ASSET_NOT_FOUND.0, C::ASSET_STATUS_INVALID.0, C::VERSION_CONFLICT.0]))))]
async fn remove(State(st): State<AppState>, caller: Caller, Id(id): Id) -> ApiResult<()> {
    devices::delete(&st.store, &caller, st.clock.now(), id).await?;
    Ok(Data(()))
}

/// Deactivates a device.
#[utoipa::path(patch, path = "/api/admin/devices/{id}/deactivate", operation_id = "deactivate_device", tag = TAG,
    params(("id" = u64, Path, minimum = 1)),
    responses((status = 200, body = Envelope<Nothing>)),
    extensions(("x-codes" = json!([C::ASSET_NOT_FOUND.0, C::ASSET_STATUS_INVALID.0, C::VERSION_CONFLICT.0]))))]
async fn deactivate(State(st): State<AppState>, caller: Caller, Id(id): Id) -> ApiResult<()> {
    assets::deactivate::<Device>(&st.store, &caller, st.clock.now(), id).await?;
    Ok(Data(()))
}

/// The cards bound to a device, by slot.
#[utoipa::path(get, path = "/api/admin/devices/{id}/cards", operation_id = "device_cards", tag = TAG,
    params(("id" = u64, Path, minimum = 1)),
    responses((status = 200, body = Envelope<Vec<BoundCard>>)),
    extensions(("x-codes" = json!([C::ASSET_NOT_FOUND.0]))))]
async fn cards(
    State(st): State<AppState>,
    caller: Caller,
    Id(id): Id,
) -> ApiResult<Vec<BoundCard>> {
    Ok(Data(devices::cards(&st.store, &caller, id).await?))
}

/// Binds a card to a device slot.
#[utoipa::path(post, path = "/api/admin/devices/{id}/cards", operation_id = "bind_device_card", tag = TAG,
    params(("id" = u64, Path, minimum = 1)),
    request_body = BindCard,
    responses((status = 200, body = Envelope<Vec<BoundCard>>)),
    extensions(("x-codes" = json!([C::SLOT_OCCUPIED.0, C::CARD_ALREADY_BOUND.0, C::ASSET_NOT_FOUND.0, C::VERSION_CONFLICT.0]))))]
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

/// Unbinds a card from a device.
#[utoipa::path(delete, path = "/api/admin/devices/{id}/cards/{card_id}", operation_id = "unbind_device_card", tag = TAG,
    params(("id" = u64, Path, minimum = 1), ("card_id" = u64, Path, minimum = 1)),
    responses((status = 200, body = Envelope<Nothing>)),
    extensions(("x-codes" = json!([C::ASSET_NOT_FOUND.0, C::VERSION_CONFLICT.0]))))]
async fn unbind(
    State(st): State<AppState>,
    caller: Caller,
    Path((id, card_id)): Path<(String, String)>,
) -> ApiResult<()> {
    devices::unbind(
        &st.store,
        &caller,
        st.clock.now(),
        parse_id(&id)?,
        parse_id(&card_id)?,
    )
    .await?;
    Ok(Data(()))
}

/// Allocates devices to a direct subordinate shop (more than 500: a bulk task).
#[utoipa::path(post, path = "/api/admin/devices/allocate", operation_id = "allocate_devices", tag = TAG,
    request_body = AllocateRequest,
    responses(
        (status = 200, description = "Moved at once (at most 500 assets)", body = Envelope<MoveResult>),
        (status = 202, description = "More than 500 assets: checked and queued as a bulk task", body = Envelope<BulkTaskView>)),
    extensions(("x-codes" = json!([C::NOT_DIRECT_SUBORDINATE.0, C::ASSET_NOT_FOUND.0]))))]
async fn allocate(
    State(st): State<AppState>,
    caller: Caller,
    Body(req): Body<AllocateRequest>,
) -> Result<Response, ApiError> {
    Ok(move_answer(
        assets::allocate::<Device>(&st, &caller, req).await?,
    ))
}

/// Recalls devices from a subordinate shop (more than 500: a bulk task).
#[utoipa::path(post, path = "/api/admin/devices/recall", operation_id = "recall_devices", tag = TAG,
    request_body = RecallRequest,
    responses(
        (status = 200, description = "Moved at once (at most 500 assets)", body = Envelope<MoveResult>),
        (status = 202, description = "More than 500 assets: checked and queued as a bulk task", body = Envelope<BulkTaskView>)),
    extensions(("x-codes" = json!([C::NOT_DIRECT_SUBORDINATE.0, C::ASSET_NOT_FOUND.0]))))]
async fn recall(
    State(st): State<AppState>,
    caller: Caller,
    Body(req): Body<RecallRequest>,
) -> Result<Response, ApiError> {
    Ok(move_answer(
        assets::recall::<Device>(&st, &caller, req).await?,
    ))
}

/// Registers a CSV import of devices and answers its presigned upload (the file's arrival starts it); with `file_key` of an uploaded file, starts at once.
#[utoipa::path(post, path = "/api/admin/devices/import", operation_id = "import_devices", tag = TAG,
    request_body = CreateImport,
    responses((status = 200, body = Envelope<ImportCreated>)),
    extensions(("x-codes" = json!([C::TOO_MANY_REQUESTS.0]))))]
async fn import(
    State(st): State<AppState>,
    caller: Caller,
    Body(req): Body<CreateImport>,
) -> ApiResult<ImportCreated> {
    Ok(Data(
        imports::create(&st, &caller, ImportRoute::Devices, req).await?,
    ))
}

/// Device import tasks, a page at a time.
#[utoipa::path(get, path = "/api/admin/devices/import/tasks", operation_id = "list_device_import_tasks", tag = TAG,
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

/// One device import task and its progress.
#[utoipa::path(get, path = "/api/admin/devices/import/tasks/{id}", operation_id = "show_device_import_task", tag = TAG,
    params(("id" = u64, Path, minimum = 1)),
    responses((status = 200, body = Envelope<ImportTaskView>)))]
async fn task(State(st): State<AppState>, caller: Caller, Id(id): Id) -> ApiResult<ImportTaskView> {
    Ok(Data(
        imports::get(&st, &caller, ImportRoute::Devices, id).await?,
    ))
}
