//! `admin-shop-series-grants`: series grants, the agent price chain (api.md §15).

use axum::extract::State;
use axum::routing::{get, put};
use axum::Router;

use super::envelope::{ApiResult, Data, Envelope, Nothing};
use super::extract::{Body, Id, Query};
use crate::app::AppState;
use crate::domain::caller::Caller;
use crate::paging::{CursorPage, PageQuery};
use crate::services::grants::{
    self, CreateGrant, GrantFilter, GrantView, ManagePackages, UpdateGrant,
};

/// The tag of this group's operations in the OpenAPI document.
const TAG: &str = "admin-shop-series-grants";

/// This group's operations in the OpenAPI document.
#[derive(utoipa::OpenApi)]
#[openapi(paths(list, create, show, update, delete, packages))]
pub struct Doc;

/// Routes of the `admin-shop-series-grants` function.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/admin/shop-series-grants", get(list).post(create))
        .route(
            "/api/admin/shop-series-grants/{id}",
            get(show).put(update).delete(delete),
        )
        .route("/api/admin/shop-series-grants/{id}/packages", put(packages))
}

#[utoipa::path(get, path = "/api/admin/shop-series-grants", operation_id = "list_grants", tag = TAG,
    params(PageQuery, GrantFilter),
    responses((status = 200, body = Envelope<CursorPage<GrantView>>)))]
async fn list(
    State(st): State<AppState>,
    caller: Caller,
    Query(page): Query<PageQuery>,
    Query(filter): Query<GrantFilter>,
) -> ApiResult<CursorPage<GrantView>> {
    Ok(Data(
        grants::list_grants(&st.store, &caller, &filter, &page).await?,
    ))
}

#[utoipa::path(post, path = "/api/admin/shop-series-grants", operation_id = "create_grant", tag = TAG,
    request_body = CreateGrant,
    responses((status = 200, body = Envelope<GrantView>)))]
async fn create(
    State(st): State<AppState>,
    caller: Caller,
    Body(req): Body<CreateGrant>,
) -> ApiResult<GrantView> {
    Ok(Data(
        grants::create_grant(&st.store, &caller, st.clock.now(), req).await?,
    ))
}

#[utoipa::path(get, path = "/api/admin/shop-series-grants/{id}", operation_id = "show_grant", tag = TAG,
    params(("id" = u64, Path, minimum = 1)),
    responses((status = 200, body = Envelope<GrantView>)))]
async fn show(State(st): State<AppState>, caller: Caller, Id(id): Id) -> ApiResult<GrantView> {
    Ok(Data(grants::get_grant(&st.store, &caller, id).await?))
}

#[utoipa::path(put, path = "/api/admin/shop-series-grants/{id}", operation_id = "update_grant", tag = TAG,
    params(("id" = u64, Path, minimum = 1)),
    request_body = UpdateGrant,
    responses((status = 200, body = Envelope<GrantView>)))]
async fn update(
    State(st): State<AppState>,
    caller: Caller,
    Id(id): Id,
    Body(req): Body<UpdateGrant>,
) -> ApiResult<GrantView> {
    Ok(Data(
        grants::update_grant(&st.store, &caller, st.clock.now(), id, req).await?,
    ))
}

#[utoipa::path(delete, path = "/api/admin/shop-series-grants/{id}", operation_id = "delete_grant", tag = TAG,
    params(("id" = u64, Path, minimum = 1)),
    responses((status = 200, body = Envelope<Nothing>)))]
async fn delete(State(st): State<AppState>, caller: Caller, Id(id): Id) -> ApiResult<()> {
    grants::delete_grant(&st.store, &caller, st.clock.now(), id).await?;
    Ok(Data(()))
}

#[utoipa::path(put, path = "/api/admin/shop-series-grants/{id}/packages", operation_id = "packages_grant", tag = TAG,
    params(("id" = u64, Path, minimum = 1)),
    request_body = ManagePackages,
    responses((status = 200, body = Envelope<GrantView>)))]
async fn packages(
    State(st): State<AppState>,
    caller: Caller,
    Id(id): Id,
    Body(req): Body<ManagePackages>,
) -> ApiResult<GrantView> {
    Ok(Data(
        grants::manage_packages(&st.store, &caller, st.clock.now(), id, req).await?,
    ))
}
