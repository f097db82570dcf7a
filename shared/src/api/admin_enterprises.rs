//! `admin-enterprises`: enterprise CRUD (api.md §6; card and device authorisation
//! routes arrive with the asset inventory).

use axum::extract::State;
use axum::routing::{get, put};
use axum::Router;

use super::envelope::{ApiResult, Data, Envelope, Nothing};
use super::extract::{Body, Id, Query};
use crate::app::AppState;
use crate::domain::caller::Caller;
use crate::paging::{CursorPage, PageQuery};
use crate::services::enterprises::{
    self, CreateEnterprise, EnterpriseFilter, EnterpriseView, UpdateEnterprise,
};
use crate::services::org::StatusRequest;

/// The tag of this group's operations in the OpenAPI document.
const TAG: &str = "admin-enterprises";

/// This group's operations in the OpenAPI document.
#[derive(utoipa::OpenApi)]
#[openapi(paths(list, create, show, update, delete, status))]
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
}

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

#[utoipa::path(post, path = "/api/admin/enterprises", operation_id = "create_enterprise", tag = TAG,
    request_body = CreateEnterprise,
    responses((status = 200, body = Envelope<EnterpriseView>)))]
async fn create(
    State(st): State<AppState>,
    caller: Caller,
    Body(req): Body<CreateEnterprise>,
) -> ApiResult<EnterpriseView> {
    Ok(Data(
        enterprises::create(&st.store, &caller, st.clock.now(), req).await?,
    ))
}

#[utoipa::path(get, path = "/api/admin/enterprises/{id}", operation_id = "show_enterprise", tag = TAG,
    params(("id" = u64, Path, minimum = 1)),
    responses((status = 200, body = Envelope<EnterpriseView>)))]
async fn show(State(st): State<AppState>, caller: Caller, Id(id): Id) -> ApiResult<EnterpriseView> {
    Ok(Data(enterprises::get(&st.store, &caller, id).await?))
}

#[utoipa::path(put, path = "/api/admin/enterprises/{id}", operation_id = "update_enterprise", tag = TAG,
    params(("id" = u64, Path, minimum = 1)),
    request_body = UpdateEnterprise,
    responses((status = 200, body = Envelope<EnterpriseView>)))]
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

#[utoipa::path(delete, path = "/api/admin/enterprises/{id}", operation_id = "delete_enterprise", tag = TAG,
    params(("id" = u64, Path, minimum = 1)),
    responses((status = 200, body = Envelope<Nothing>)))]
async fn delete(State(st): State<AppState>, caller: Caller, Id(id): Id) -> ApiResult<()> {
    enterprises::delete(&st.store, &caller, st.clock.now(), id).await?;
    Ok(Data(()))
}

#[utoipa::path(put, path = "/api/admin/enterprises/{id}/status", operation_id = "set_enterprise_status", tag = TAG,
    params(("id" = u64, Path, minimum = 1)),
    request_body = StatusRequest,
    responses((status = 200, body = Envelope<EnterpriseView>)))]
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
