//! `admin-shop-series-grants`: series grants, the agent price chain (api.md §15).

use axum::extract::State;
use axum::routing::{get, put};
use axum::Router;

use super::envelope::{ApiResult, Data};
use super::extract::{Body, Id, Query};
use crate::app::AppState;
use crate::domain::caller::Caller;
use crate::paging::{CursorPage, PageQuery};
use crate::services::grants::{
    self, CreateGrant, GrantFilter, GrantView, ManagePackages, UpdateGrant,
};

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

async fn create(
    State(st): State<AppState>,
    caller: Caller,
    Body(req): Body<CreateGrant>,
) -> ApiResult<GrantView> {
    Ok(Data(
        grants::create_grant(&st.store, &caller, st.clock.now(), req).await?,
    ))
}

async fn show(State(st): State<AppState>, caller: Caller, Id(id): Id) -> ApiResult<GrantView> {
    Ok(Data(grants::get_grant(&st.store, &caller, id).await?))
}

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

async fn delete(State(st): State<AppState>, caller: Caller, Id(id): Id) -> ApiResult<()> {
    grants::delete_grant(&st.store, &caller, st.clock.now(), id).await?;
    Ok(Data(()))
}

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
