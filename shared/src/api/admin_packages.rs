//! `admin-packages`: packages, an agent's own retail price and shelf status, batch
//! allocation and batch pricing (api.md §13).

use axum::extract::State;
use axum::routing::{get, patch, post, put};
use axum::Router;

use super::envelope::{ApiResult, Data, Envelope, Nothing};
use super::extract::{Body, Id, Query};
use crate::app::AppState;
use crate::domain::caller::Caller;
use crate::paging::{CursorPage, PageQuery};
use crate::services::allocations::{self, BatchAllocation, BatchItem, BatchPricing};
use crate::services::catalog::{
    self, CreatePackage, PackageFilter, PackageView, RetailPrice, ShelfRequest, UpdatePackage,
};
use crate::services::org::StatusRequest;

/// The tag of this group's operations in the OpenAPI document.
const TAG: &str = "admin-packages";

/// This group's operations in the OpenAPI document.
#[derive(utoipa::OpenApi)]
#[openapi(paths(
    list,
    create,
    show,
    update,
    delete,
    status,
    retail_price,
    shelf_status,
    batch_allocation,
    batch_pricing
))]
pub struct Doc;

/// Routes of the `admin-packages` function.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/admin/packages", get(list).post(create))
        .route(
            "/api/admin/packages/{id}",
            get(show).put(update).delete(delete),
        )
        .route("/api/admin/packages/{id}/status", put(status))
        .route("/api/admin/packages/{id}/retail-price", patch(retail_price))
        .route("/api/admin/packages/{id}/shelf-status", patch(shelf_status))
        .route(
            "/api/admin/shop-package-batch-allocations",
            post(batch_allocation),
        )
        .route("/api/admin/shop-package-batch-pricing", post(batch_pricing))
}

#[utoipa::path(get, path = "/api/admin/packages", operation_id = "list_packages", tag = TAG,
    params(PageQuery, PackageFilter),
    responses((status = 200, body = Envelope<CursorPage<PackageView>>)))]
async fn list(
    State(st): State<AppState>,
    caller: Caller,
    Query(page): Query<PageQuery>,
    Query(filter): Query<PackageFilter>,
) -> ApiResult<CursorPage<PackageView>> {
    Ok(Data(
        catalog::list_packages(&st.store, &caller, &filter, &page).await?,
    ))
}

#[utoipa::path(post, path = "/api/admin/packages", operation_id = "create_package", tag = TAG,
    request_body = CreatePackage,
    responses((status = 200, body = Envelope<PackageView>)))]
async fn create(
    State(st): State<AppState>,
    caller: Caller,
    Body(req): Body<CreatePackage>,
) -> ApiResult<PackageView> {
    Ok(Data(
        catalog::create_package(&st.store, &caller, st.clock.now(), req).await?,
    ))
}

#[utoipa::path(get, path = "/api/admin/packages/{id}", operation_id = "show_package", tag = TAG,
    params(("id" = u64, Path, minimum = 1)),
    responses((status = 200, body = Envelope<PackageView>)))]
async fn show(State(st): State<AppState>, caller: Caller, Id(id): Id) -> ApiResult<PackageView> {
    Ok(Data(catalog::get_package(&st.store, &caller, id).await?))
}

#[utoipa::path(put, path = "/api/admin/packages/{id}", operation_id = "update_package", tag = TAG,
    params(("id" = u64, Path, minimum = 1)),
    request_body = UpdatePackage,
    responses((status = 200, body = Envelope<PackageView>)))]
async fn update(
    State(st): State<AppState>,
    caller: Caller,
    Id(id): Id,
    Body(req): Body<UpdatePackage>,
) -> ApiResult<PackageView> {
    Ok(Data(
        catalog::update_package(&st.store, &caller, st.clock.now(), id, req).await?,
    ))
}

#[utoipa::path(delete, path = "/api/admin/packages/{id}", operation_id = "delete_package", tag = TAG,
    params(("id" = u64, Path, minimum = 1)),
    responses((status = 200, body = Envelope<Nothing>)))]
async fn delete(State(st): State<AppState>, caller: Caller, Id(id): Id) -> ApiResult<()> {
    catalog::delete_package(&st.store, &caller, st.clock.now(), id).await?;
    Ok(Data(()))
}

#[utoipa::path(put, path = "/api/admin/packages/{id}/status", operation_id = "set_package_status", tag = TAG,
    params(("id" = u64, Path, minimum = 1)),
    request_body = StatusRequest,
    responses((status = 200, body = Envelope<PackageView>)))]
async fn status(
    State(st): State<AppState>,
    caller: Caller,
    Id(id): Id,
    Body(req): Body<StatusRequest>,
) -> ApiResult<PackageView> {
    Ok(Data(
        catalog::set_package_status(&st.store, &caller, st.clock.now(), id, req.status).await?,
    ))
}

#[utoipa::path(patch, path = "/api/admin/packages/{id}/retail-price", operation_id = "retail_price_package", tag = TAG,
    params(("id" = u64, Path, minimum = 1)),
    request_body = RetailPrice,
    responses((status = 200, body = Envelope<PackageView>)))]
async fn retail_price(
    State(st): State<AppState>,
    caller: Caller,
    Id(id): Id,
    Body(req): Body<RetailPrice>,
) -> ApiResult<PackageView> {
    Ok(Data(
        catalog::set_retail_price(&st.store, &caller, st.clock.now(), id, req).await?,
    ))
}

#[utoipa::path(patch, path = "/api/admin/packages/{id}/shelf-status", operation_id = "shelf_status_package", tag = TAG,
    params(("id" = u64, Path, minimum = 1)),
    request_body = ShelfRequest,
    responses((status = 200, body = Envelope<PackageView>)))]
async fn shelf_status(
    State(st): State<AppState>,
    caller: Caller,
    Id(id): Id,
    Body(req): Body<ShelfRequest>,
) -> ApiResult<PackageView> {
    Ok(Data(
        catalog::set_shelf_status(&st.store, &caller, st.clock.now(), id, req).await?,
    ))
}

#[utoipa::path(post, path = "/api/admin/shop-package-batch-allocations", operation_id = "batch_allocation_package", tag = TAG,
    request_body = BatchAllocation,
    responses((status = 200, body = Envelope<Vec<BatchItem>>)))]
async fn batch_allocation(
    State(st): State<AppState>,
    caller: Caller,
    Body(req): Body<BatchAllocation>,
) -> ApiResult<Vec<BatchItem>> {
    Ok(Data(
        allocations::batch_allocate(&st.store, &caller, st.clock.now(), req).await?,
    ))
}

#[utoipa::path(post, path = "/api/admin/shop-package-batch-pricing", operation_id = "batch_pricing_package", tag = TAG,
    request_body = BatchPricing,
    responses((status = 200, body = Envelope<Vec<BatchItem>>)))]
async fn batch_pricing(
    State(st): State<AppState>,
    caller: Caller,
    Body(req): Body<BatchPricing>,
) -> ApiResult<Vec<BatchItem>> {
    Ok(Data(
        allocations::batch_price(&st.store, &caller, st.clock.now(), req).await?,
    ))
}
