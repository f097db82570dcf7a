//! `admin-carriers`: telecom carriers (api.md §11).

use axum::extract::State;
use axum::routing::{get, put};
use axum::Router;

use super::envelope::{ApiResult, Data, Envelope, Nothing};
use super::extract::{Body, Id, Query};
use crate::app::AppState;
use crate::domain::caller::Caller;
use crate::domain::entities::Carrier;
use crate::paging::{CursorPage, PageQuery};
use crate::services::carriers::{self, CarrierFilter, CreateCarrier, UpdateCarrier};
use crate::services::org::StatusRequest;

/// The tag of this group's operations in the OpenAPI document.
const TAG: &str = "admin-carriers";

/// This group's operations in the OpenAPI document.
#[derive(utoipa::OpenApi)]
#[openapi(paths(list, create, show, update, delete, status))]
pub struct Doc;

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

#[utoipa::path(get, path = "/api/admin/carriers", operation_id = "list_carriers", tag = TAG,
    params(PageQuery, CarrierFilter),
    responses((status = 200, body = Envelope<CursorPage<Carrier>>)))]
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

#[utoipa::path(post, path = "/api/admin/carriers", operation_id = "create_carrier", tag = TAG,
    request_body = CreateCarrier,
    responses((status = 200, body = Envelope<Carrier>)))]
async fn create(
    State(st): State<AppState>,
    caller: Caller,
    Body(req): Body<CreateCarrier>,
) -> ApiResult<Carrier> {
    Ok(Data(
        carriers::create_carrier(&st.store, &caller, st.clock.now(), req).await?,
    ))
}

#[utoipa::path(get, path = "/api/admin/carriers/{id}", operation_id = "show_carrier", tag = TAG,
    params(("id" = u64, Path, minimum = 1)),
    responses((status = 200, body = Envelope<Carrier>)))]
async fn show(State(st): State<AppState>, caller: Caller, Id(id): Id) -> ApiResult<Carrier> {
    Ok(Data(carriers::get_carrier(&st.store, &caller, id).await?))
}

#[utoipa::path(put, path = "/api/admin/carriers/{id}", operation_id = "update_carrier", tag = TAG,
    params(("id" = u64, Path, minimum = 1)),
    request_body = UpdateCarrier,
    responses((status = 200, body = Envelope<Carrier>)))]
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

#[utoipa::path(delete, path = "/api/admin/carriers/{id}", operation_id = "delete_carrier", tag = TAG,
    params(("id" = u64, Path, minimum = 1)),
    responses((status = 200, body = Envelope<Nothing>)))]
async fn delete(State(st): State<AppState>, caller: Caller, Id(id): Id) -> ApiResult<()> {
    carriers::delete_carrier(&st.store, &caller, st.clock.now(), id).await?;
    Ok(Data(()))
}

#[utoipa::path(put, path = "/api/admin/carriers/{id}/status", operation_id = "set_carrier_status", tag = TAG,
    params(("id" = u64, Path, minimum = 1)),
    request_body = StatusRequest,
    responses((status = 200, body = Envelope<Carrier>)))]
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
