//! `admin-shops`: the shop tree, shop roles and subtree lookups (api.md §5).

use axum::extract::State;
use axum::routing::{get, put};
use axum::Router;

use super::envelope::{ApiResult, Data, Envelope, Nothing};
use super::extract::{Body, Id, Query};
use crate::app::AppState;
use crate::codes::Code as C;
use crate::domain::caller::Caller;
use crate::domain::entities::Role;
use crate::paging::{CursorPage, PageQuery};
use crate::services::org::StatusRequest;
use crate::services::shops::{self, CreateShop, ShopFilter, ShopRoles, ShopView, UpdateShop};

/// The tag of this group's operations in the OpenAPI document.
const TAG: &str = "admin-shops";

/// This group's operations in the OpenAPI document.
#[derive(utoipa::OpenApi)]
#[openapi(paths(
    list,
    create,
    show,
    update,
    delete,
    status,
    roles,
    set_roles,
    subordinates
))]
pub struct Doc;

/// Routes of the `admin-shops` function (with the agent wallets').
pub fn routes() -> Router<AppState> {
    Router::new()
        .merge(super::admin_wallets::routes())
        .route("/api/admin/shops", get(list).post(create))
        .route(
            "/api/admin/shops/{id}",
            get(show).put(update).delete(delete),
        )
        .route("/api/admin/shops/{id}/status", put(status))
        .route("/api/admin/shops/{id}/roles", get(roles).put(set_roles))
        .route("/api/admin/shops/{id}/subordinate-ids", get(subordinates))
}

/// Shops in the caller's view, a page at a time.
#[utoipa::path(get, path = "/api/admin/shops", operation_id = "list_shops", tag = TAG,
    params(PageQuery, ShopFilter),
    responses((status = 200, body = Envelope<CursorPage<ShopView>>)))]
async fn list(
    State(st): State<AppState>,
    caller: Caller,
    Query(page): Query<PageQuery>,
    Query(filter): Query<ShopFilter>,
) -> ApiResult<CursorPage<ShopView>> {
    Ok(Data(shops::list(&st.store, &caller, &filter, &page).await?))
}

/// Creates a shop (with its first account) under a parent shop.
#[utoipa::path(post, path = "/api/admin/shops", operation_id = "create_shop", tag = TAG,
    request_body = CreateShop,
    responses((status = 200, body = Envelope<ShopView>)),
    extensions(("x-codes" = json!([C::DUPLICATE_SHOP_CODE.0, C::SHOP_LEVEL_EXCEEDED.0, C::PARENT_SHOP_NOT_FOUND.0, C::INVALID_DEFAULT_ROLE.0, C::DUPLICATE_USERNAME.0]))))]
async fn create(
    State(st): State<AppState>,
    caller: Caller,
    Body(req): Body<CreateShop>,
) -> ApiResult<ShopView> {
    Ok(Data(
        shops::create(&st.store, &caller, st.clock.now(), req).await?,
    ))
}

/// One shop.
#[utoipa::path(get, path = "/api/admin/shops/{id}", operation_id = "show_shop", tag = TAG,
    params(("id" = u64, Path, minimum = 1)),
    responses((status = 200, body = Envelope<ShopView>)))]
async fn show(State(st): State<AppState>, caller: Caller, Id(id): Id) -> ApiResult<ShopView> {
    Ok(Data(shops::get(&st.store, &caller, id).await?))
}

/// Changes a shop.
#[utoipa::path(put, path = "/api/admin/shops/{id}", operation_id = "update_shop", tag = TAG,
    params(("id" = u64, Path, minimum = 1)),
    request_body = UpdateShop,
    responses((status = 200, body = Envelope<ShopView>)),
    extensions(("x-codes" = json!([C::DUPLICATE_SHOP_CODE.0, C::INVALID_DEFAULT_ROLE.0, C::VERSION_CONFLICT.0]))))]
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

/// Deletes a shop (soft delete).
#[utoipa::path(delete, path = "/api/admin/shops/{id}", operation_id = "delete_shop", tag = TAG,
    params(("id" = u64, Path, minimum = 1)),
    responses((status = 200, body = Envelope<Nothing>)),
    extensions(("x-codes" = json!([C::SHOP_HAS_CHILDREN.0, C::VERSION_CONFLICT.0]))))]
async fn delete(State(st): State<AppState>, caller: Caller, Id(id): Id) -> ApiResult<()> {
    shops::delete(&st.store, &caller, st.clock.now(), id).await?;
    Ok(Data(()))
}

/// Enables or disables a shop.
#[utoipa::path(put, path = "/api/admin/shops/{id}/status", operation_id = "set_shop_status", tag = TAG,
    params(("id" = u64, Path, minimum = 1)),
    request_body = StatusRequest,
    responses((status = 200, body = Envelope<ShopView>)),
    extensions(("x-codes" = json!([C::VERSION_CONFLICT.0]))))]
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

/// The roles a shop's accounts may be given.
#[utoipa::path(get, path = "/api/admin/shops/{id}/roles", operation_id = "shop_roles", tag = TAG,
    params(("id" = u64, Path, minimum = 1)),
    responses((status = 200, body = Envelope<Vec<Role>>)))]
async fn roles(State(st): State<AppState>, caller: Caller, Id(id): Id) -> ApiResult<Vec<Role>> {
    Ok(Data(shops::roles(&st.store, &caller, id).await?))
}

/// Replaces the roles a shop's accounts may be given.
#[utoipa::path(put, path = "/api/admin/shops/{id}/roles", operation_id = "set_shop_roles", tag = TAG,
    params(("id" = u64, Path, minimum = 1)),
    request_body = ShopRoles,
    responses((status = 200, body = Envelope<Vec<Role>>)),
    extensions(("x-codes" = json!([C::VERSION_CONFLICT.0]))))]
async fn set_roles(
    State(st): State<AppState>,
    caller: Caller,
    Id(id): Id,
    Body(req): Body<ShopRoles>,
) -> ApiResult<Vec<Role>> {
    Ok(Data(shops::set_roles(&st.store, &caller, id, req).await?))
}

/// The ids of a shop and all shops below it.
#[utoipa::path(get, path = "/api/admin/shops/{id}/subordinate-ids", operation_id = "shop_subordinate_ids", tag = TAG,
    params(("id" = u64, Path, minimum = 1)),
    responses((status = 200, body = Envelope<Vec<u64>>)))]
async fn subordinates(
    State(st): State<AppState>,
    caller: Caller,
    Id(id): Id,
) -> ApiResult<Vec<u64>> {
    Ok(Data(shops::subordinate_ids(&st.store, &caller, id).await?))
}
