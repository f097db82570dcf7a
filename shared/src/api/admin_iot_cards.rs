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
use crate::codes::Code as C;
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

/// IoT cards in the caller's view, a page at a time.
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

/// IoT cards bound to no device, a page at a time.
#[utoipa::path(get, path = "/api/admin/iot-cards/standalone", operation_id = "list_standalone_cards", tag = TAG,
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

/// Changes a card's details.
#[utoipa::path(put, path = "/api/admin/iot-cards/{id}", operation_id = "update_card", tag = TAG,
    params(("id" = u64, Path, minimum = 1)),
    request_body = UpdateCard,
    responses((status = 200, body = Envelope<IotCard>)),
    extensions(("x-codes" = json!([C::ASSET_NOT_FOUND.0, C::DUPLICATE_VIRTUAL_NO.0, C::DUPLICATE_IDENTIFIER.0, C::VERSION_CONFLICT.0]))))]
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

/// Deactivates a card.
#[utoipa::path(patch, path = "/api/admin/iot-cards/{id}/deactivate", operation_id = "deactivate_card", tag = TAG,
    params(("id" = u64, Path, minimum = 1)),
    responses((status = 200, body = Envelope<Nothing>)),
    extensions(("x-codes" = json!([C::ASSET_NOT_FOUND.0, C::ASSET_STATUS_INVALID.0, C::VERSION_CONFLICT.0]))))]
async fn deactivate(State(st): State<AppState>, caller: Caller, Id(id): Id) -> ApiResult<()> {
    assets::deactivate::<IotCard>(&st.store, &caller, st.clock.now(), id).await?;
    Ok(Data(()))
}

/// Allocates cards to a direct subordinate shop (more than 500: a bulk task).
#[utoipa::path(post, path = "/api/admin/iot-cards/allocate", operation_id = "allocate_cards", tag = TAG,
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
        assets::allocate::<IotCard>(&st, &caller, req).await?,
    ))
}

/// Recalls cards from a subordinate shop (more than 500: a bulk task).
#[utoipa::path(post, path = "/api/admin/iot-cards/recall", operation_id = "recall_cards", tag = TAG,
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
        assets::recall::<IotCard>(&st, &caller, req).await?,
    ))
}

/// Registers a CSV import of IoT cards and answers its presigned upload (the file's arrival starts it); with `file_key` of an uploaded file, starts at once.
#[utoipa::path(post, path = "/api/admin/iot-cards/import", operation_id = "import_cards", tag = TAG,
    request_body = CreateImport,
    responses((status = 200, body = Envelope<ImportCreated>)),
    extensions(("x-codes" = json!([C::TOO_MANY_REQUESTS.0]))))]
async fn import(
    State(st): State<AppState>,
    caller: Caller,
    Body(req): Body<CreateImport>,
) -> ApiResult<ImportCreated> {
    Ok(Data(
        imports::create(&st, &caller, ImportRoute::Cards, req).await?,
    ))
}

/// Card import tasks, a page at a time.
#[utoipa::path(get, path = "/api/admin/iot-cards/import/tasks", operation_id = "list_card_import_tasks", tag = TAG,
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

/// One card import task and its progress.
#[utoipa::path(get, path = "/api/admin/iot-cards/import/tasks/{id}", operation_id = "show_card_import_task", tag = TAG,
    params(("id" = u64, Path, minimum = 1)),
    responses((status = 200, body = Envelope<ImportTaskView>)))]
async fn task(State(st): State<AppState>, caller: Caller, Id(id): Id) -> ApiResult<ImportTaskView> {
    Ok(Data(
        imports::get(&st, &caller, ImportRoute::Cards, id).await?,
    ))
}
