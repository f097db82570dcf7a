//! `admin-iot-cards`: card lists, edits, deactivation, allocation, recall and imports
//! (api.md §7).

use axum::extract::State;
use axum::response::Response;
use axum::routing::{get, patch, post, put};
use axum::Router;

use super::admin_asset_allocations::move_answer;
use super::envelope::{ApiError, ApiResult, Data};
use super::extract::{Body, Id, Query};
use crate::app::AppState;
use crate::domain::assets::{ImportTask, IotCard};
use crate::domain::caller::Caller;
use crate::paging::PageQuery;
use crate::services::assets::{self, AllocateRequest, AssetFilter, CursorPage, RecallRequest};
use crate::services::cards::{self, CardFilter, CardView, UpdateCard};
use crate::services::imports::{self, CreateImport, ImportCreated, ImportRoute, ImportTaskView};

/// Routes of the `admin-iot-cards` function.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/admin/iot-cards", get(list))
        .route("/api/admin/iot-cards/standalone", get(standalone))
        .route("/api/admin/iot-cards/{id}", put(update))
        .route("/api/admin/iot-cards/{id}/deactivate", patch(deactivate))
        .route("/api/admin/iot-cards/allocate", post(allocate))
        .route("/api/admin/iot-cards/recall", post(recall))
        .route("/api/admin/iot-cards/import", post(import))
        .route("/api/admin/iot-cards/import/tasks", get(tasks))
        .route("/api/admin/iot-cards/import/tasks/{id}", get(task))
}

async fn list(
    State(st): State<AppState>,
    caller: Caller,
    Query(exact): Query<CardFilter>,
    Query(f): Query<AssetFilter>,
) -> ApiResult<CursorPage<CardView>> {
    Ok(Data(
        cards::list(&st.store, &caller, &exact, f, false).await?,
    ))
}

async fn standalone(
    State(st): State<AppState>,
    caller: Caller,
    Query(exact): Query<CardFilter>,
    Query(f): Query<AssetFilter>,
) -> ApiResult<CursorPage<CardView>> {
    Ok(Data(
        cards::list(&st.store, &caller, &exact, f, true).await?,
    ))
}

async fn update(
    State(st): State<AppState>,
    caller: Caller,
    Id(id): Id,
    Body(req): Body<UpdateCard>,
) -> ApiResult<IotCard> {
    Ok(Data(
        cards::update(&st.store, &caller, st.clock.now(), id, req).await?,
    ))
}

async fn deactivate(State(st): State<AppState>, caller: Caller, Id(id): Id) -> ApiResult<()> {
    assets::deactivate::<IotCard>(&st.store, &caller, st.clock.now(), id).await?;
    Ok(Data(()))
}

async fn allocate(
    State(st): State<AppState>,
    caller: Caller,
    Body(req): Body<AllocateRequest>,
) -> Result<Response, ApiError> {
    Ok(move_answer(
        assets::allocate::<IotCard>(&st, &caller, req).await?,
    ))
}

async fn recall(
    State(st): State<AppState>,
    caller: Caller,
    Body(req): Body<RecallRequest>,
) -> Result<Response, ApiError> {
    Ok(move_answer(
        assets::recall::<IotCard>(&st, &caller, req).await?,
    ))
}

async fn import(
    State(st): State<AppState>,
    caller: Caller,
    Body(req): Body<CreateImport>,
) -> ApiResult<ImportCreated> {
    Ok(Data(
        imports::create(&st, &caller, ImportRoute::Cards, req).await?,
    ))
}

async fn tasks(
    State(st): State<AppState>,
    caller: Caller,
    Query(page): Query<PageQuery>,
) -> ApiResult<CursorPage<ImportTask>> {
    Ok(Data(
        imports::list(&st, &caller, ImportRoute::Cards, &page).await?,
    ))
}

async fn task(State(st): State<AppState>, caller: Caller, Id(id): Id) -> ApiResult<ImportTaskView> {
    Ok(Data(
        imports::get(&st, &caller, ImportRoute::Cards, id).await?,
    ))
}
