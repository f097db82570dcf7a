//! `admin-packages`: packages, an agent's own retail price and shelf status, batch
//! allocation and batch pricing (api.md §13).

use axum::extract::State;
use axum::routing::{get, patch, post, put};
use axum::Router;

use super::envelope::{ApiResult, Data};
use super::extract::{Body, Id, Query};
use crate::app::AppState;
use crate::domain::caller::Caller;
use crate::paging::{CursorPage, PageQuery};
use crate::services::allocations::{self, BatchAllocation, BatchItem, BatchPricing};
use crate::services::catalog::{
    self, CreatePackage, PackageFilter, PackageView, RetailPrice, ShelfRequest, UpdatePackage,
};
use crate::services::org::StatusRequest;

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

async fn create(
    State(st): State<AppState>,
    caller: Caller,
    Body(req): Body<CreatePackage>,
) -> ApiResult<PackageView> {
    Ok(Data(
        catalog::create_package(&st.store, &caller, st.clock.now(), req).await?,
    ))
}

async fn show(State(st): State<AppState>, caller: Caller, Id(id): Id) -> ApiResult<PackageView> {
    Ok(Data(catalog::get_package(&st.store, &caller, id).await?))
}

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

async fn delete(State(st): State<AppState>, caller: Caller, Id(id): Id) -> ApiResult<()> {
    catalog::delete_package(&st.store, &caller, st.clock.now(), id).await?;
    Ok(Data(()))
}

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

async fn batch_allocation(
    State(st): State<AppState>,
    caller: Caller,
    Body(req): Body<BatchAllocation>,
) -> ApiResult<Vec<BatchItem>> {
    Ok(Data(
        allocations::batch_allocate(&st.store, &caller, st.clock.now(), req).await?,
    ))
}

async fn batch_pricing(
    State(st): State<AppState>,
    caller: Caller,
    Body(req): Body<BatchPricing>,
) -> ApiResult<Vec<BatchItem>> {
    Ok(Data(
        allocations::batch_price(&st.store, &caller, st.clock.now(), req).await?,
    ))
}
