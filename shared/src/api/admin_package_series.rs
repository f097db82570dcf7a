//! `admin-package-series`: package series (api.md §12).

use axum::extract::State;
use axum::routing::{get, put};
use axum::Router;

use super::envelope::{ApiResult, Data, Envelope, Nothing};
use super::extract::{Body, Id, Query};
use crate::app::AppState;
use crate::domain::caller::Caller;
use crate::domain::catalog::PackageSeries;
use crate::paging::{CursorPage, PageQuery};
use crate::services::catalog::{self, CreateSeries, SeriesFilter, UpdateSeries};
use crate::services::org::StatusRequest;

/// The tag of this group's operations in the OpenAPI document.
const TAG: &str = "admin-package-series";

/// This group's operations in the OpenAPI document.
#[derive(utoipa::OpenApi)]
#[openapi(paths(list, create, show, update, delete, status))]
pub struct Doc;

/// Routes of the `admin-package-series` function.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/admin/package-series", get(list).post(create))
        .route(
            "/api/admin/package-series/{id}",
            get(show).put(update).delete(delete),
        )
        .route("/api/admin/package-series/{id}/status", put(status))
}

#[utoipa::path(get, path = "/api/admin/package-series", operation_id = "list_series", tag = TAG,
    params(PageQuery, SeriesFilter),
    responses((status = 200, body = Envelope<CursorPage<PackageSeries>>)))]
async fn list(
    State(st): State<AppState>,
    caller: Caller,
    Query(page): Query<PageQuery>,
    Query(filter): Query<SeriesFilter>,
) -> ApiResult<CursorPage<PackageSeries>> {
    Ok(Data(
        catalog::list_series(&st.store, &caller, &filter, &page).await?,
    ))
}

#[utoipa::path(post, path = "/api/admin/package-series", operation_id = "create_series", tag = TAG,
    request_body = CreateSeries,
    responses((status = 200, body = Envelope<PackageSeries>)))]
async fn create(
    State(st): State<AppState>,
    caller: Caller,
    Body(req): Body<CreateSeries>,
) -> ApiResult<PackageSeries> {
    Ok(Data(
        catalog::create_series(&st.store, &caller, st.clock.now(), req).await?,
    ))
}

#[utoipa::path(get, path = "/api/admin/package-series/{id}", operation_id = "show_series", tag = TAG,
    params(("id" = u64, Path, minimum = 1)),
    responses((status = 200, body = Envelope<PackageSeries>)))]
async fn show(State(st): State<AppState>, caller: Caller, Id(id): Id) -> ApiResult<PackageSeries> {
    Ok(Data(catalog::get_series(&st.store, &caller, id).await?))
}

#[utoipa::path(put, path = "/api/admin/package-series/{id}", operation_id = "update_series", tag = TAG,
    params(("id" = u64, Path, minimum = 1)),
    request_body = UpdateSeries,
    responses((status = 200, body = Envelope<PackageSeries>)))]
async fn update(
    State(st): State<AppState>,
    caller: Caller,
    Id(id): Id,
    Body(req): Body<UpdateSeries>,
) -> ApiResult<PackageSeries> {
    Ok(Data(
        catalog::update_series(&st.store, &caller, st.clock.now(), id, req).await?,
    ))
}

#[utoipa::path(delete, path = "/api/admin/package-series/{id}", operation_id = "delete_series", tag = TAG,
    params(("id" = u64, Path, minimum = 1)),
    responses((status = 200, body = Envelope<Nothing>)))]
async fn delete(State(st): State<AppState>, caller: Caller, Id(id): Id) -> ApiResult<()> {
    catalog::delete_series(&st.store, &caller, st.clock.now(), id).await?;
    Ok(Data(()))
}

#[utoipa::path(put, path = "/api/admin/package-series/{id}/status", operation_id = "set_series_status", tag = TAG,
    params(("id" = u64, Path, minimum = 1)),
    request_body = StatusRequest,
    responses((status = 200, body = Envelope<PackageSeries>)))]
async fn status(
    State(st): State<AppState>,
    caller: Caller,
    Id(id): Id,
    Body(req): Body<StatusRequest>,
) -> ApiResult<PackageSeries> {
    Ok(Data(
        catalog::set_series_status(&st.store, &caller, st.clock.now(), id, req.status).await?,
    ))
}
