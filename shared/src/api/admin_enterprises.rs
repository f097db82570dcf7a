//! `admin-enterprises`: enterprise CRUD and the card and device authorisations of
//! enterprises with their records (api.md §6; docs/authorizations.md).

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::Router;

use super::envelope::{Accepted, ApiError, ApiResult, Data, Envelope, Nothing};
use super::extract::{Body, Id, Query};
use crate::app::AppState;
use crate::codes::Code as C;
use crate::domain::authorization::AuthorizationRecord;
use crate::domain::caller::Caller;
use crate::paging::{CursorPage, PageQuery};
use crate::services::assets::{AssetFilter, BulkTaskView};
use crate::services::authorizations::{
    self, Act, AuthAnswer, AuthRecordFilter, AuthSummary, CardSelection, DeviceSelection,
};
use crate::services::cards::CardView;
use crate::services::devices::DeviceView;
use crate::services::enterprises::{
    self, CreateEnterprise, EnterpriseFilter, EnterpriseView, UpdateEnterprise,
};
use crate::services::org::StatusRequest;

/// The tag of this group's operations in the OpenAPI document.
const TAG: &str = "admin-enterprises";

/// This group's operations in the OpenAPI document.
#[derive(utoipa::OpenApi)]
#[openapi(paths(
    list,
    create,
    show,
    update,
    delete,
    status,
    cards,
    authorize_cards,
    revoke_cards,
    devices,
    authorize_devices,
    revoke_devices,
    authorizations
))]
pub struct Doc;

/// Routes of the `admin-enterprises` function.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/admin/enterprises", get(list).post(create))
        .route(
            "/api/admin/enterprises/{id}",
            get(show).put(update).delete(delete),
        )
        .route("/api/admin/enterprises/{id}/status", put(status))
        .route("/api/admin/enterprises/{id}/cards", get(cards))
        .route(
            "/api/admin/enterprises/{id}/cards/authorize",
            post(authorize_cards),
        )
        .route(
            "/api/admin/enterprises/{id}/cards/revoke",
            post(revoke_cards),
        )
        .route("/api/admin/enterprises/{id}/devices", get(devices))
        .route(
            "/api/admin/enterprises/{id}/devices/authorize",
            post(authorize_devices),
        )
        .route(
            "/api/admin/enterprises/{id}/devices/revoke",
            post(revoke_devices),
        )
        .route("/api/admin/authorizations", get(authorizations))
}

/// The answer of an authorise or revoke route: 200 with each asset's outcome, or
/// 202 with the bulk task that will produce them.
fn auth_answer(answer: AuthAnswer) -> Response {
    match answer {
        AuthAnswer::Done(summary) => Data(summary).into_response(),
        AuthAnswer::Queued(task) => Accepted(task).into_response(),
    }
}

/// Enterprises in the caller's view, a page at a time.
#[utoipa::path(get, path = "/api/admin/enterprises", operation_id = "list_enterprises", tag = TAG,
    params(PageQuery, EnterpriseFilter),
    responses((status = 200, body = Envelope<CursorPage<EnterpriseView>>)))]
async fn list(
    State(st): State<AppState>,
    caller: Caller,
    Query(page): Query<PageQuery>,
    Query(filter): Query<EnterpriseFilter>,
) -> ApiResult<CursorPage<EnterpriseView>> {
    Ok(Data(
        enterprises::list(&st.store, &caller, &filter, &page).await?,
    ))
}

/// Creates an enterprise.
#[utoipa::path(post, path = "/api/admin/enterprises", operation_id = "create_enterprise", tag = TAG,
    request_body = CreateEnterprise,
    responses((status = 200, body = Envelope<EnterpriseView>)),
    extensions(("x-codes" = json!([C::DUPLICATE_ENTERPRISE_CODE.0, C::OWNER_SHOP_NOT_FOUND.0]))))]
async fn create(
    State(st): State<AppState>,
    caller: Caller,
    Body(req): Body<CreateEnterprise>,
) -> ApiResult<EnterpriseView> {
    Ok(Data(
        enterprises::create(&st.store, &caller, st.clock.now(), req).await?,
    ))
}

/// One enterprise.
#[utoipa::path(get, path = "/api/admin/enterprises/{id}", operation_id = "show_enterprise", tag = TAG,
    params(("id" = u64, Path, minimum = 1)),
    responses((status = 200, body = Envelope<EnterpriseView>)))]
async fn show(State(st): State<AppState>, caller: Caller, Id(id): Id) -> ApiResult<EnterpriseView> {
    Ok(Data(enterprises::get(&st.store, &caller, id).await?))
}

/// Changes an enterprise.
#[utoipa::path(put, path = "/api/admin/enterprises/{id}", operation_id = "update_enterprise", tag = TAG,
    params(("id" = u64, Path, minimum = 1)),
    request_body = UpdateEnterprise,
    responses((status = 200, body = Envelope<EnterpriseView>)),
    extensions(("x-codes" = json!([C::DUPLICATE_ENTERPRISE_CODE.0, C::OWNER_SHOP_NOT_FOUND.0, C::VERSION_CONFLICT.0]))))]
async fn update(
    State(st): State<AppState>,
    caller: Caller,
    Id(id): Id,
    Body(req): Body<UpdateEnterprise>,
) -> ApiResult<EnterpriseView> {
    Ok(Data(
        enterprises::update(&st.store, &caller, st.clock.now(), id, req).await?,
    ))
}

/// Deletes an enterprise (soft delete).
#[utoipa::path(delete, path = "/api/admin/enterprises/{id}", operation_id = "delete_enterprise", tag = TAG,
    params(("id" = u64, Path, minimum = 1)),
    responses((status = 200, body = Envelope<Nothing>)),
    extensions(("x-codes" = json!([C::ENTERPRISE_HAS_ACCOUNT.0, C::VERSION_CONFLICT.0]))))]
async fn delete(State(st): State<AppState>, caller: Caller, Id(id): Id) -> ApiResult<()> {
    enterprises::delete(&st.store, &caller, st.clock.now(), id).await?;
    Ok(Data(()))
}

/// Enables or disables an enterprise.
#[utoipa::path(put, path = "/api/admin/enterprises/{id}/status", operation_id = "set_enterprise_status", tag = TAG,
    params(("id" = u64, Path, minimum = 1)),
    request_body = StatusRequest,
    responses((status = 200, body = Envelope<EnterpriseView>)),
    extensions(("x-codes" = json!([C::VERSION_CONFLICT.0]))))]
async fn status(
    State(st): State<AppState>,
    caller: Caller,
    Id(id): Id,
    Body(req): Body<StatusRequest>,
) -> ApiResult<EnterpriseView> {
    Ok(Data(
        enterprises::set_status(&st.store, &caller, st.clock.now(), id, req.status).await?,
    ))
}

/// Cards authorised to the enterprise (on their own or through a device), a page at
/// a time.
#[utoipa::path(get, path = "/api/admin/enterprises/{id}/cards", operation_id = "list_enterprise_cards", tag = TAG,
    params(("id" = u64, Path, minimum = 1), AssetFilter),
    responses((status = 200, body = Envelope<CursorPage<CardView>>)))]
async fn cards(
    State(st): State<AppState>,
    caller: Caller,
    Id(id): Id,
    Query(f): Query<AssetFilter>,
) -> ApiResult<CursorPage<CardView>> {
    Ok(Data(
        authorizations::enterprise_cards(&st.store, &caller, id, &f).await?,
    ))
}

/// Authorises cards to the enterprise (more than 500: a bulk task).
#[utoipa::path(post, path = "/api/admin/enterprises/{id}/cards/authorize", operation_id = "authorize_enterprise_cards", tag = TAG,
    params(("id" = u64, Path, minimum = 1)),
    request_body = CardSelection,
    responses(
        (status = 200, description = "Done at once (at most 500 cards)", body = Envelope<AuthSummary>),
        (status = 202, description = "More than 500 cards: queued as a bulk task", body = Envelope<BulkTaskView>)))]
async fn authorize_cards(
    State(st): State<AppState>,
    caller: Caller,
    Id(id): Id,
    Body(req): Body<CardSelection>,
) -> Result<Response, ApiError> {
    Ok(auth_answer(
        authorizations::cards(&st, &caller, id, Act::Authorize, req).await?,
    ))
}

/// Revokes cards' own authorisations (cards authorised through a device go with
/// the device).
#[utoipa::path(post, path = "/api/admin/enterprises/{id}/cards/revoke", operation_id = "revoke_enterprise_cards", tag = TAG,
    params(("id" = u64, Path, minimum = 1)),
    request_body = CardSelection,
    responses(
        (status = 200, description = "Done at once (at most 500 cards)", body = Envelope<AuthSummary>),
        (status = 202, description = "More than 500 cards: queued as a bulk task", body = Envelope<BulkTaskView>)))]
async fn revoke_cards(
    State(st): State<AppState>,
    caller: Caller,
    Id(id): Id,
    Body(req): Body<CardSelection>,
) -> Result<Response, ApiError> {
    Ok(auth_answer(
        authorizations::cards(&st, &caller, id, Act::Revoke, req).await?,
    ))
}

/// Devices authorised to the enterprise, a page at a time.
#[utoipa::path(get, path = "/api/admin/enterprises/{id}/devices", operation_id = "list_enterprise_devices", tag = TAG,
    params(("id" = u64, Path, minimum = 1), AssetFilter),
    responses((status = 200, body = Envelope<CursorPage<DeviceView>>)))]
async fn devices(
    State(st): State<AppState>,
    caller: Caller,
    Id(id): Id,
    Query(f): Query<AssetFilter>,
) -> ApiResult<CursorPage<DeviceView>> {
    Ok(Data(
        authorizations::enterprise_devices(&st.store, &caller, id, &f).await?,
    ))
}

/// Authorises devices, with their bound cards, to the enterprise (more than 500: a
/// bulk task).
#[utoipa::path(post, path = "/api/admin/enterprises/{id}/devices/authorize", operation_id = "authorize_enterprise_devices", tag = TAG,
    params(("id" = u64, Path, minimum = 1)),
    request_body = DeviceSelection,
    responses(
        (status = 200, description = "Done at once (at most 500 devices)", body = Envelope<AuthSummary>),
        (status = 202, description = "More than 500 devices: queued as a bulk task", body = Envelope<BulkTaskView>)))]
async fn authorize_devices(
    State(st): State<AppState>,
    caller: Caller,
    Id(id): Id,
    Body(req): Body<DeviceSelection>,
) -> Result<Response, ApiError> {
    Ok(auth_answer(
        authorizations::devices(&st, &caller, id, Act::Authorize, req).await?,
    ))
}

/// Revokes devices and the card authorisations that came with them.
#[utoipa::path(post, path = "/api/admin/enterprises/{id}/devices/revoke", operation_id = "revoke_enterprise_devices", tag = TAG,
    params(("id" = u64, Path, minimum = 1)),
    request_body = DeviceSelection,
    responses(
        (status = 200, description = "Done at once (at most 500 devices)", body = Envelope<AuthSummary>),
        (status = 202, description = "More than 500 devices: queued as a bulk task", body = Envelope<BulkTaskView>)))]
async fn revoke_devices(
    State(st): State<AppState>,
    caller: Caller,
    Id(id): Id,
    Body(req): Body<DeviceSelection>,
) -> Result<Response, ApiError> {
    Ok(auth_answer(
        authorizations::devices(&st, &caller, id, Act::Revoke, req).await?,
    ))
}

/// Authorisation records (live and ended), a page at a time.
#[utoipa::path(get, path = "/api/admin/authorizations", operation_id = "list_authorizations", tag = TAG,
    params(AuthRecordFilter),
    responses((status = 200, body = Envelope<CursorPage<AuthorizationRecord>>)))]
async fn authorizations(
    State(st): State<AppState>,
    caller: Caller,
    Query(f): Query<AuthRecordFilter>,
) -> ApiResult<CursorPage<AuthorizationRecord>> {
    Ok(Data(authorizations::records(&st.store, &caller, &f).await?))
}
