//! `admin-devices`: device lists, edits, soft delete, deactivation, SIM bindings,
//! allocation, recall and imports (api.md §8; gateway commands arrive with [3/5]).

use axum::extract::{Path, State};
use axum::response::Response;
use axum::routing::{delete, get, patch, post, put};
use axum::Router;

use super::admin_asset_allocations::move_answer;
use super::envelope::{ApiError, ApiResult, Data};
use super::extract::{parse_id, Body, Id, Query};
use crate::app::AppState;
use crate::domain::assets::{Device, ImportTask};
use crate::domain::caller::Caller;
use crate::paging::PageQuery;
use crate::services::asset_ops::{self, Command, SpeedLimit, SwitchCard, Wifi};
use crate::services::assets::{self, AllocateRequest, AssetFilter, CursorPage, RecallRequest};
use crate::services::devices::{self, BindCard, BoundCard, DeviceFilter, DeviceView, UpdateDevice};
use crate::services::imports::{self, CreateImport, ImportCreated, ImportRoute, ImportTaskView};

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

async fn speed_limit(
    State(st): State<AppState>,
    caller: Caller,
    Id(id): Id,
    Body(req): Body<SpeedLimit>,
) -> ApiResult<()> {
    command(&st, &caller, id, Command::SpeedLimit(req)).await
}

async fn wifi(
    State(st): State<AppState>,
    caller: Caller,
    Id(id): Id,
    Body(req): Body<Wifi>,
) -> ApiResult<()> {
    command(&st, &caller, id, Command::Wifi(req)).await
}

async fn switch_card(
    State(st): State<AppState>,
    caller: Caller,
    Id(id): Id,
    Body(req): Body<SwitchCard>,
) -> ApiResult<()> {
    command(&st, &caller, id, Command::SwitchCard(req)).await
}

async fn reboot(State(st): State<AppState>, caller: Caller, Id(id): Id) -> ApiResult<()> {
    command(&st, &caller, id, Command::Reboot).await
}

async fn factory_reset(State(st): State<AppState>, caller: Caller, Id(id): Id) -> ApiResult<()> {
    command(&st, &caller, id, Command::FactoryReset).await
}

async fn list(
    State(st): State<AppState>,
    caller: Caller,
    Query(exact): Query<DeviceFilter>,
    Query(f): Query<AssetFilter>,
) -> ApiResult<CursorPage<DeviceView>> {
    Ok(Data(devices::list(&st.store, &caller, &exact, f).await?))
}

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

async fn remove(State(st): State<AppState>, caller: Caller, Id(id): Id) -> ApiResult<()> {
    devices::delete(&st.store, &caller, st.clock.now(), id).await?;
    Ok(Data(()))
}

async fn deactivate(State(st): State<AppState>, caller: Caller, Id(id): Id) -> ApiResult<()> {
    assets::deactivate::<Device>(&st.store, &caller, st.clock.now(), id).await?;
    Ok(Data(()))
}

async fn cards(
    State(st): State<AppState>,
    caller: Caller,
    Id(id): Id,
) -> ApiResult<Vec<BoundCard>> {
    Ok(Data(devices::cards(&st.store, &caller, id).await?))
}

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

async fn unbind(
    State(st): State<AppState>,
    caller: Caller,
    Path((id, card_id)): Path<(String, String)>,
) -> ApiResult<()> {
    devices::unbind(&st.store, &caller, parse_id(&id)?, parse_id(&card_id)?).await?;
    Ok(Data(()))
}

async fn allocate(
    State(st): State<AppState>,
    caller: Caller,
    Body(req): Body<AllocateRequest>,
) -> Result<Response, ApiError> {
    Ok(move_answer(
        assets::allocate::<Device>(&st, &caller, req).await?,
    ))
}

async fn recall(
    State(st): State<AppState>,
    caller: Caller,
    Body(req): Body<RecallRequest>,
) -> Result<Response, ApiError> {
    Ok(move_answer(
        assets::recall::<Device>(&st, &caller, req).await?,
    ))
}

async fn import(
    State(st): State<AppState>,
    caller: Caller,
    Body(req): Body<CreateImport>,
) -> ApiResult<ImportCreated> {
    Ok(Data(
        imports::create(&st, &caller, ImportRoute::Devices, req).await?,
    ))
}

async fn tasks(
    State(st): State<AppState>,
    caller: Caller,
    Query(page): Query<PageQuery>,
) -> ApiResult<CursorPage<ImportTask>> {
    Ok(Data(
        imports::list(&st, &caller, ImportRoute::Devices, &page).await?,
    ))
}

async fn task(State(st): State<AppState>, caller: Caller, Id(id): Id) -> ApiResult<ImportTaskView> {
    Ok(Data(
        imports::get(&st, &caller, ImportRoute::Devices, id).await?,
    ))
}
