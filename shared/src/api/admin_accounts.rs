//! `admin-accounts`: platform, agent and enterprise accounts (api.md §3).

use axum::extract::State;
use axum::routing::{get, put};
use axum::Router;

use super::envelope::{ApiResult, Data};
use super::extract::{Body, Id, Query};
use crate::app::AppState;
use crate::domain::caller::Caller;
use crate::domain::entities::{Account, AccountLog, Role};
use crate::paging::{CursorPage, PageQuery};
use crate::services::accounts::{
    self, AccountFilter, AccountRoles, CreateAccount, ResetPassword, UpdateAccount,
};
use crate::services::org::StatusRequest;

/// Routes of the `admin-accounts` function.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/admin/accounts", get(list).post(create))
        .route(
            "/api/admin/accounts/{id}",
            get(show).put(update).delete(delete),
        )
        .route("/api/admin/accounts/{id}/status", put(status))
        .route("/api/admin/accounts/{id}/password", put(password))
        .route("/api/admin/accounts/{id}/roles", get(roles).put(set_roles))
        .route("/api/admin/accounts/{id}/operation-logs", get(logs))
}

async fn list(
    State(st): State<AppState>,
    caller: Caller,
    Query(page): Query<PageQuery>,
    Query(filter): Query<AccountFilter>,
) -> ApiResult<CursorPage<Account>> {
    Ok(Data(
        accounts::list(&st.store, &caller, &filter, &page).await?,
    ))
}

async fn create(
    State(st): State<AppState>,
    caller: Caller,
    Body(req): Body<CreateAccount>,
) -> ApiResult<Account> {
    Ok(Data(
        accounts::create(&st.store, &caller, st.clock.now(), req).await?,
    ))
}

async fn show(State(st): State<AppState>, caller: Caller, Id(id): Id) -> ApiResult<Account> {
    Ok(Data(accounts::get(&st.store, &caller, id).await?))
}

async fn update(
    State(st): State<AppState>,
    caller: Caller,
    Id(id): Id,
    Body(req): Body<UpdateAccount>,
) -> ApiResult<Account> {
    Ok(Data(
        accounts::update(&st.store, &caller, st.clock.now(), id, req).await?,
    ))
}

async fn delete(State(st): State<AppState>, caller: Caller, Id(id): Id) -> ApiResult<()> {
    accounts::delete(&st.store, &caller, st.clock.now(), id).await?;
    Ok(Data(()))
}

async fn status(
    State(st): State<AppState>,
    caller: Caller,
    Id(id): Id,
    Body(req): Body<StatusRequest>,
) -> ApiResult<Account> {
    Ok(Data(
        accounts::set_status(&st.store, &caller, st.clock.now(), id, req.status).await?,
    ))
}

async fn password(
    State(st): State<AppState>,
    caller: Caller,
    Id(id): Id,
    Body(req): Body<ResetPassword>,
) -> ApiResult<()> {
    accounts::reset_password(&st.store, &caller, st.clock.now(), id, req).await?;
    Ok(Data(()))
}

async fn roles(State(st): State<AppState>, caller: Caller, Id(id): Id) -> ApiResult<Vec<Role>> {
    Ok(Data(accounts::roles(&st.store, &caller, id).await?))
}

async fn set_roles(
    State(st): State<AppState>,
    caller: Caller,
    Id(id): Id,
    Body(req): Body<AccountRoles>,
) -> ApiResult<Vec<Role>> {
    Ok(Data(
        accounts::set_roles(&st.store, &caller, st.clock.now(), id, req).await?,
    ))
}

async fn logs(
    State(st): State<AppState>,
    caller: Caller,
    Id(id): Id,
    Query(page): Query<PageQuery>,
) -> ApiResult<CursorPage<AccountLog>> {
    Ok(Data(
        accounts::operation_logs(&st.store, &caller, id, &page).await?,
    ))
}
