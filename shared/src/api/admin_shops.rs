//! `admin-shops`: the shop tree, shop roles and subtree lookups (api.md §5).

use axum::extract::State;
use axum::routing::{get, put};
use axum::Router;

use super::envelope::{ApiResult, Data};
use super::extract::{Body, Id, Query};
use crate::app::AppState;
use crate::domain::caller::Caller;
use crate::domain::entities::Role;
use crate::paging::{CursorPage, PageQuery};
use crate::services::org::StatusRequest;
use crate::services::shops::{self, CreateShop, ShopFilter, ShopRoles, ShopView, UpdateShop};

/// Routes of the `admin-shops` function.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/admin/shops", get(list).post(create))
        .route(
            "/api/admin/shops/{id}",
            get(show).put(update).delete(delete),
        )
        .route("/api/admin/shops/{id}/status", put(status))
        .route("/api/admin/shops/{id}/roles", get(roles).put(set_roles))
        .route("/api/admin/shops/{id}/subordinate-ids", get(subordinates))
}

async fn list(
    State(st): State<AppState>,
    caller: Caller,
    Query(page): Query<PageQuery>,
    Query(filter): Query<ShopFilter>,
) -> ApiResult<CursorPage<ShopView>> {
    Ok(Data(shops::list(&st.store, &caller, &filter, &page).await?))
}

async fn create(
    State(st): State<AppState>,
    caller: Caller,
    Body(req): Body<CreateShop>,
) -> ApiResult<ShopView> {
    Ok(Data(
        shops::create(&st.store, &caller, st.clock.now(), req).await?,
    ))
}

async fn show(State(st): State<AppState>, caller: Caller, Id(id): Id) -> ApiResult<ShopView> {
    Ok(Data(shops::get(&st.store, &caller, id).await?))
}

async fn update(
    State(st): State<AppState>,
    caller: Caller,
    Id(id): Id,
    Body(req): Body<UpdateShop>,
) -> ApiResult<ShopView> {
    Ok(Data(
        shops::update(&st.store, &caller, st.clock.now(), id, req).await?,
    ))
}

async fn delete(State(st): State<AppState>, caller: Caller, Id(id): Id) -> ApiResult<()> {
    shops::delete(&st.store, &caller, st.clock.now(), id).await?;
    Ok(Data(()))
}

async fn status(
    State(st): State<AppState>,
    caller: Caller,
    Id(id): Id,
    Body(req): Body<StatusRequest>,
) -> ApiResult<ShopView> {
    Ok(Data(
        shops::set_status(&st.store, &caller, st.clock.now(), id, req.status).await?,
    ))
}

async fn roles(State(st): State<AppState>, caller: Caller, Id(id): Id) -> ApiResult<Vec<Role>> {
    Ok(Data(shops::roles(&st.store, &caller, id).await?))
}

async fn set_roles(
    State(st): State<AppState>,
    caller: Caller,
    Id(id): Id,
    Body(req): Body<ShopRoles>,
) -> ApiResult<Vec<Role>> {
    Ok(Data(shops::set_roles(&st.store, &caller, id, req).await?))
}

async fn subordinates(
    State(st): State<AppState>,
    caller: Caller,
    Id(id): Id,
) -> ApiResult<Vec<u64>> {
    Ok(Data(shops::subordinate_ids(&st.store, &caller, id).await?))
}
