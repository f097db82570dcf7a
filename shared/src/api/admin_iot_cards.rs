//! `admin-iot-cards`: card lists, edits, deactivation, allocation, recall and imports
//! (api.md §7).

use axum::extract::State;
use axum::response::Response;
use axum::routing::{get, patch, post, put};
use axum::Router;

use super::admin_asset_allocations::move_answer;
use super::envelope::{ApiError, ApiResult, Data, Envelope, Nothing};
use super::extract::{Body, Id, Query};
use crate::app::AppState;
use crate::domain::assets::{ImportTask, IotCard};
use crate::domain::caller::Caller;
use crate::paging::PageQuery;
use crate::services::assets::{
    self, AllocateRequest, AssetFilter, BulkTaskView, CursorPage, MoveResult, RecallRequest,
};
use crate::services::cards::{self, CardFilter, CardView, UpdateCard};
use crate::services::imports::{self, CreateImport, ImportCreated, ImportRoute, ImportTaskView};

/// The tag of this group's operations in the OpenAPI document.
const TAG: &str = "admin-iot-cards";

/// This group's operations in the OpenAPI document.
#[derive(utoipa::OpenApi)]
#[openapi(paths(
    list, standalone, update, deactivate, allocate, recall, import, tasks, task
))]
pub struct Doc;

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

#[utoipa::path(get, path = "/api/admin/iot-cards", operation_id = "list_cards", tag = TAG,
    params(CardFilter, AssetFilter),
    responses((status = 200, body = Envelope<CursorPage<CardView>>)))]
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

#[utoipa::path(get, path = "/api/admin/iot-cards/standalone", operation_id = "standalone_card", tag = TAG,
    params(CardFilter, AssetFilter),
    responses((status = 200, body = Envelope<CursorPage<CardView>>)))]
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

#[utoipa::path(put, path = "/api/admin/iot-cards/{id}", operation_id = "update_card", tag = TAG,
    params(("id" = u64, Path, minimum = 1)),
    request_body = UpdateCard,
    responses((status = 200, body = Envelope<IotCard>)))]
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

#[utoipa::path(patch, path = "/api/admin/iot-cards/{id}/deactivate", operation_id = "deactivate_card", tag = TAG,
    params(("id" = u64, Path, minimum = 1)),
    responses((status = 200, body = Envelope<Nothing>)))]
async fn deactivate(State(st): State<AppState>, caller: Caller, Id(id): Id) -> ApiResult<()> {
    assets::deactivate::<IotCard>(&st.store, &caller, st.clock.now(), id).await?;
    Ok(Data(()))
}

#[utoipa::path(post, path = "/api/admin/iot-cards/allocate", operation_id = "allocate_card", tag = TAG,
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
        assets::allocate::<IotCard>(&st, &caller, req).await?,
    ))
}

#[utoipa::path(post, path = "/api/admin/iot-cards/recall", operation_id = "recall_card", tag = TAG,
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
        assets::recall::<IotCard>(&st, &caller, req).await?,
    ))
}

#[utoipa::path(post, path = "/api/admin/iot-cards/import", operation_id = "import_card", tag = TAG,
    request_body = CreateImport,
    responses((status = 200, body = Envelope<ImportCreated>)))]
async fn import(
    State(st): State<AppState>,
    caller: Caller,
    Body(req): Body<CreateImport>,
) -> ApiResult<ImportCreated> {
    Ok(Data(
        imports::create(&st, &caller, ImportRoute::Cards, req).await?,
    ))
}

#[utoipa::path(get, path = "/api/admin/iot-cards/import/tasks", operation_id = "card_import_tasks", tag = TAG,
    params(PageQuery),
    responses((status = 200, body = Envelope<CursorPage<ImportTask>>)))]
async fn tasks(
    State(st): State<AppState>,
    caller: Caller,
    Query(page): Query<PageQuery>,
) -> ApiResult<CursorPage<ImportTask>> {
    Ok(Data(
        imports::list(&st, &caller, ImportRoute::Cards, &page).await?,
    ))
}

#[utoipa::path(get, path = "/api/admin/iot-cards/import/tasks/{id}", operation_id = "card_import_task", tag = TAG,
    params(("id" = u64, Path, minimum = 1)),
    responses((status = 200, body = Envelope<ImportTaskView>)))]
async fn task(State(st): State<AppState>, caller: Caller, Id(id): Id) -> ApiResult<ImportTaskView> {
    Ok(Data(
        imports::get(&st, &caller, ImportRoute::Cards, id).await?,
    ))
}
