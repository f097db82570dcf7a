//! `admin-package-series`: package series (api.md §12).

use axum::extract::State;
use axum::routing::{get, put};
use axum::Router;

use super::envelope::{ApiResult, Data};
use super::extract::{Body, Id, Query};
use crate::app::AppState;
use crate::domain::caller::Caller;
use crate::domain::catalog::PackageSeries;
use crate::paging::{CursorPage, PageQuery};
use crate::services::catalog::{self, CreateSeries, SeriesFilter, UpdateSeries};
use crate::services::org::StatusRequest;

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

async fn create(
    State(st): State<AppState>,
    caller: Caller,
    Body(req): Body<CreateSeries>,
) -> ApiResult<PackageSeries> {
    Ok(Data(
        catalog::create_series(&st.store, &caller, st.clock.now(), req).await?,
    ))
}

async fn show(State(st): State<AppState>, caller: Caller, Id(id): Id) -> ApiResult<PackageSeries> {
    Ok(Data(catalog::get_series(&st.store, &caller, id).await?))
}

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

async fn delete(State(st): State<AppState>, caller: Caller, Id(id): Id) -> ApiResult<()> {
    catalog::delete_series(&st.store, &caller, st.clock.now(), id).await?;
    Ok(Data(()))
}

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
