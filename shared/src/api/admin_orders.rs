//! `admin-orders`: placing an order that is paid and activated at once, and reading
//! one (api.md §16).

use axum::extract::State;
use axum::routing::get;
use axum::Router;

use super::envelope::{ApiResult, Data, Envelope};
use super::extract::{Body, Id, Query};
use crate::app::AppState;
use crate::codes::Code as C;
use crate::domain::caller::Caller;
use crate::paging::{CursorPage, PageQuery};
use crate::services::orders::{
    self, CreateOrder, OrderFilter, OrderView, PurchaseCheck, PurchaseCheckRequest,
};

/// The tag of this group's operations in the OpenAPI document.
const TAG: &str = "admin-orders";

/// This group's operations in the OpenAPI document.
#[derive(utoipa::OpenApi)]
#[openapi(paths(list, create, show, cancel, purchase_check))]
pub struct Doc;

/// Routes of the `admin-orders` function.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/admin/orders", get(list).post(create))
        .route("/api/admin/orders/{id}", get(show))
        .route("/api/admin/orders/{id}/cancel", axum::routing::post(cancel))
        .route(
            "/api/admin/orders/purchase-check",
            axum::routing::post(purchase_check),
        )
}

/// Orders the caller sees, newest first: platform staff every order, an agent those
/// its shop bought or placed.
#[utoipa::path(get, path = "/api/admin/orders", operation_id = "list_orders", tag = TAG,
    params(PageQuery, OrderFilter),
    responses((status = 200, body = Envelope<CursorPage<OrderView>>)))]
async fn list(
    State(st): State<AppState>,
    caller: Caller,
    Query(page): Query<PageQuery>,
    Query(filter): Query<OrderFilter>,
) -> ApiResult<CursorPage<OrderView>> {
    Ok(Data(
        orders::list_orders(&st, &caller, &filter, &page).await?,
    ))
}

/// Buys packages for a card or device: agents pay from their main wallet
/// (`wallet`), the platform records an offline payment (`offline`). The order is
/// paid and its packages started (or queued) at once; the same purchase repeated
/// within 3 minutes answers the first order.
#[utoipa::path(post, path = "/api/admin/orders", operation_id = "create_order", tag = TAG,
    request_body = CreateOrder,
    responses((status = 200, body = Envelope<OrderView>)),
    extensions(("x-codes" = json!([C::ASSET_NOT_FOUND.0, C::NO_ALLOCATION.0, C::PACKAGE_NOT_SELLABLE.0, C::NO_MAIN_PACKAGE.0, C::MIXED_ORDER_FORBIDDEN.0, C::PACKAGE_ACTIVATION_CONFLICT.0, C::INSUFFICIENT_BALANCE.0]))))]
async fn create(
    State(st): State<AppState>,
    caller: Caller,
    Body(req): Body<CreateOrder>,
) -> ApiResult<OrderView> {
    Ok(Data(orders::create_order(&st, &caller, req).await?))
}

/// One order: platform staff see every order, an agent those its shop bought or
/// placed.
#[utoipa::path(get, path = "/api/admin/orders/{id}", operation_id = "show_order", tag = TAG,
    params(("id" = u64, Path, minimum = 1)),
    responses((status = 200, body = Envelope<OrderView>)),
    extensions(("x-codes" = json!([C::ORDER_NOT_FOUND.0]))))]
async fn show(State(st): State<AppState>, caller: Caller, Id(id): Id) -> ApiResult<OrderView> {
    Ok(Data(orders::order(&st, &caller, id).await?))
}

/// Whether a purchase would be accepted, its total and whether the series requires a
/// forced recharge first; nothing is written.
#[utoipa::path(post, path = "/api/admin/orders/purchase-check", operation_id = "order_purchase_check", tag = TAG,
    request_body = PurchaseCheckRequest,
    responses((status = 200, body = Envelope<PurchaseCheck>)),
    extensions(("x-codes" = json!([C::ASSET_NOT_FOUND.0]))))]
async fn purchase_check(
    State(st): State<AppState>,
    caller: Caller,
    Body(req): Body<PurchaseCheckRequest>,
) -> ApiResult<PurchaseCheck> {
    Ok(Data(orders::purchase_check(&st, &caller, req).await?))
}

/// Cancels a pending order and releases the wallet money it froze (`1135` for any
/// other order: admin orders are paid when created).
#[utoipa::path(post, path = "/api/admin/orders/{id}/cancel", operation_id = "cancel_order", tag = TAG,
    params(("id" = u64, Path, minimum = 1)),
    responses((status = 200, body = Envelope<OrderView>)),
    extensions(("x-codes" = json!([C::ORDER_NOT_FOUND.0, C::ORDER_NOT_PENDING.0]))))]
async fn cancel(State(st): State<AppState>, caller: Caller, Id(id): Id) -> ApiResult<OrderView> {
    Ok(Data(orders::cancel_order(&st, &caller, id).await?))
}
