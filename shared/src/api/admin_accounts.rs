//! `admin-accounts`: platform, agent and enterprise accounts (api.md §3).

use axum::extract::State;
use axum::routing::{get, put};
use axum::Router;

use super::envelope::{ApiResult, Data, Envelope, Nothing};
use super::extract::{Body, Id, Query};
use crate::app::AppState;
use crate::domain::caller::Caller;
use crate::domain::entities::{Account, AccountLog, Role};
use crate::paging::{CursorPage, PageQuery};
use crate::services::accounts::{
    self, AccountFilter, AccountRoles, CreateAccount, ResetPassword, UpdateAccount,
};
use crate::services::org::StatusRequest;

/// The tag of this group's operations in the OpenAPI document.
const TAG: &str = "admin-accounts";

/// This group's operations in the OpenAPI document.
#[derive(utoipa::OpenApi)]
#[openapi(paths(
    list, create, show, update, delete, status, password, roles, set_roles, logs
))]
pub struct Doc;

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

#[utoipa::path(get, path = "/api/admin/accounts", operation_id = "list_accounts", tag = TAG,
    params(PageQuery, AccountFilter),
    responses((status = 200, body = Envelope<CursorPage<Account>>)))]
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

#[utoipa::path(post, path = "/api/admin/accounts", operation_id = "create_account", tag = TAG,
    request_body = CreateAccount,
    responses((status = 200, body = Envelope<Account>)))]
async fn create(
    State(st): State<AppState>,
    caller: Caller,
    Body(req): Body<CreateAccount>,
) -> ApiResult<Account> {
    Ok(Data(
        accounts::create(&st.store, &caller, st.clock.now(), req).await?,
    ))
}

#[utoipa::path(get, path = "/api/admin/accounts/{id}", operation_id = "show_account", tag = TAG,
    params(("id" = u64, Path, minimum = 1)),
    responses((status = 200, body = Envelope<Account>)))]
async fn show(State(st): State<AppState>, caller: Caller, Id(id): Id) -> ApiResult<Account> {
    Ok(Data(accounts::get(&st.store, &caller, id).await?))
}

#[utoipa::path(put, path = "/api/admin/accounts/{id}", operation_id = "update_account", tag = TAG,
    params(("id" = u64, Path, minimum = 1)),
    request_body = UpdateAccount,
    responses((status = 200, body = Envelope<Account>)))]
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

#[utoipa::path(delete, path = "/api/admin/accounts/{id}", operation_id = "delete_account", tag = TAG,
    params(("id" = u64, Path, minimum = 1)),
    responses((status = 200, body = Envelope<Nothing>)))]
async fn delete(State(st): State<AppState>, caller: Caller, Id(id): Id) -> ApiResult<()> {
    accounts::delete(&st.store, &caller, st.clock.now(), id).await?;
    Ok(Data(()))
}

#[utoipa::path(put, path = "/api/admin/accounts/{id}/status", operation_id = "set_account_status", tag = TAG,
    params(("id" = u64, Path, minimum = 1)),
    request_body = StatusRequest,
    responses((status = 200, body = Envelope<Account>)))]
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

#[utoipa::path(put, path = "/api/admin/accounts/{id}/password", operation_id = "password_account", tag = TAG,
    params(("id" = u64, Path, minimum = 1)),
    request_body = ResetPassword,
    responses((status = 200, body = Envelope<Nothing>)))]
async fn password(
    State(st): State<AppState>,
    caller: Caller,
    Id(id): Id,
    Body(req): Body<ResetPassword>,
) -> ApiResult<()> {
    accounts::reset_password(&st.store, &caller, st.clock.now(), id, req).await?;
    Ok(Data(()))
}

#[utoipa::path(get, path = "/api/admin/accounts/{id}/roles", operation_id = "roles_account", tag = TAG,
    params(("id" = u64, Path, minimum = 1)),
    responses((status = 200, body = Envelope<Vec<Role>>)))]
async fn roles(State(st): State<AppState>, caller: Caller, Id(id): Id) -> ApiResult<Vec<Role>> {
    Ok(Data(accounts::roles(&st.store, &caller, id).await?))
}

#[utoipa::path(put, path = "/api/admin/accounts/{id}/roles", operation_id = "set_roles_account", tag = TAG,
    params(("id" = u64, Path, minimum = 1)),
    request_body = AccountRoles,
    responses((status = 200, body = Envelope<Vec<Role>>)))]
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

#[utoipa::path(get, path = "/api/admin/accounts/{id}/operation-logs", operation_id = "logs_account", tag = TAG,
    params(("id" = u64, Path, minimum = 1), PageQuery),
    responses((status = 200, body = Envelope<CursorPage<AccountLog>>)))]
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
