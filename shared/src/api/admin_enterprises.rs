//! `admin-enterprises`: enterprise CRUD (api.md §6; card and device authorisation
//! routes arrive with the asset inventory).

use axum::extract::State;
use axum::routing::{get, put};
use axum::Router;

use super::envelope::{ApiResult, Data};
use super::extract::{Body, Id, Query};
use crate::app::AppState;
use crate::domain::caller::Caller;
use crate::paging::{CursorPage, PageQuery};
use crate::services::enterprises::{
    self, CreateEnterprise, EnterpriseFilter, EnterpriseView, UpdateEnterprise,
};
use crate::services::org::StatusRequest;

/// Routes of the `admin-enterprises` function.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/admin/enterprises", get(list).post(create))
        .route(
            "/api/admin/enterprises/{id}",
            get(show).put(update).delete(delete),
        )
        .route("/api/admin/enterprises/{id}/status", put(status))
}

async fn list(
    State(st): State<AppState>,
    caller: Caller,
    Query(page): Query<PageQuery>,
    Query(filter): Query<EnterpriseFilter>,
) -> ApiResult<CursorPage<EnterpriseView>> {
    Ok(Data(
        enterprises::list(&st.store, &caller, &filter, &page).await?,
    ))
}

async fn create(
    State(st): State<AppState>,
    caller: Caller,
    Body(req): Body<CreateEnterprise>,
) -> ApiResult<EnterpriseView> {
    Ok(Data(
        enterprises::create(&st.store, &caller, st.clock.now(), req).await?,
    ))
}

async fn show(State(st): State<AppState>, caller: Caller, Id(id): Id) -> ApiResult<EnterpriseView> {
    Ok(Data(enterprises::get(&st.store, &caller, id).await?))
}

async fn update(
    State(st): State<AppState>,
    caller: Caller,
    Id(id): Id,
    Body(req): Body<UpdateEnterprise>,
) -> ApiResult<EnterpriseView> {
    Ok(Data(
        enterprises::update(&st.store, &caller, st.clock.now(), id, req).await?,
    ))
}

async fn delete(State(st): State<AppState>, caller: Caller, Id(id): Id) -> ApiResult<()> {
    enterprises::delete(&st.store, &caller, st.clock.now(), id).await?;
    Ok(Data(()))
}

async fn status(
    State(st): State<AppState>,
    caller: Caller,
    Id(id): Id,
    Body(req): Body<StatusRequest>,
) -> ApiResult<EnterpriseView> {
    Ok(Data(
        enterprises::set_status(&st.store, &caller, st.clock.now(), id, req.status).await?,
    ))
}
