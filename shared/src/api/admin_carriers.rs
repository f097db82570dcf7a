//! `admin-carriers`: telecom carriers (api.md §11).

use axum::extract::State;
use axum::routing::{get, put};
use axum::Router;

use super::envelope::{ApiResult, Data};
use super::extract::{Body, Id, Query};
use crate::app::AppState;
use crate::domain::caller::Caller;
use crate::domain::entities::Carrier;
use crate::paging::{CursorPage, PageQuery};
use crate::services::carriers::{self, CarrierFilter, CreateCarrier, UpdateCarrier};
use crate::services::org::StatusRequest;

/// Routes of the `admin-carriers` function.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/admin/carriers", get(list).post(create))
        .route(
            "/api/admin/carriers/{id}",
            get(show).put(update).delete(delete),
        )
        .route("/api/admin/carriers/{id}/status", put(status))
}

async fn list(
    State(st): State<AppState>,
    caller: Caller,
    Query(page): Query<PageQuery>,
    Query(filter): Query<CarrierFilter>,
) -> ApiResult<CursorPage<Carrier>> {
    Ok(Data(
        carriers::list_carriers(&st.store, &caller, &filter, &page).await?,
    ))
}

async fn create(
    State(st): State<AppState>,
    caller: Caller,
    Body(req): Body<CreateCarrier>,
) -> ApiResult<Carrier> {
    Ok(Data(
        carriers::create_carrier(&st.store, &caller, st.clock.now(), req).await?,
    ))
}

async fn show(State(st): State<AppState>, caller: Caller, Id(id): Id) -> ApiResult<Carrier> {
    Ok(Data(carriers::get_carrier(&st.store, &caller, id).await?))
}

async fn update(
    State(st): State<AppState>,
    caller: Caller,
    Id(id): Id,
    Body(req): Body<UpdateCarrier>,
) -> ApiResult<Carrier> {
    Ok(Data(
        carriers::update_carrier(&st.store, &caller, st.clock.now(), id, req).await?,
    ))
}

async fn delete(State(st): State<AppState>, caller: Caller, Id(id): Id) -> ApiResult<()> {
    carriers::delete_carrier(&st.store, &caller, st.clock.now(), id).await?;
    Ok(Data(()))
}

async fn status(
    State(st): State<AppState>,
    caller: Caller,
    Id(id): Id,
    Body(req): Body<StatusRequest>,
) -> ApiResult<Carrier> {
    Ok(Data(
        carriers::set_carrier_status(&st.store, &caller, st.clock.now(), id, req.status).await?,
    ))
}
