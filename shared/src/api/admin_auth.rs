//! `admin-auth`: login, refresh, logout, who-am-I, own password (api.md §2).

use axum::extract::State;
use axum::http::HeaderMap;
use axum::routing::{get, post, put};
use axum::Router;

use super::envelope::{ApiResult, Data, Envelope, Nothing};
use super::extract::{bearer, Body, ClientIp};
use crate::app::AppState;
use crate::domain::caller::Caller;
use crate::services::auth::{
    self, ChangePasswordRequest, LoginRequest, Me, RefreshRequest, TokenPair,
};

/// The tag of this group's operations in the OpenAPI document.
const TAG: &str = "admin-auth";

/// This group's operations in the OpenAPI document.
#[derive(utoipa::OpenApi)]
#[openapi(paths(login, refresh, logout, me, change_password))]
pub struct Doc;

/// Routes of the `admin-auth` function.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/admin/login", post(login))
        .route("/api/admin/refresh-token", post(refresh))
        .route("/api/admin/logout", post(logout))
        .route("/api/admin/me", get(me))
        .route("/api/admin/me/password", put(change_password))
}

#[utoipa::path(post, path = "/api/admin/login", operation_id = "login", tag = TAG,
    request_body = LoginRequest,
    responses((status = 200, body = Envelope<TokenPair>)))]
async fn login(
    State(state): State<AppState>,
    ip: ClientIp,
    Body(req): Body<LoginRequest>,
) -> ApiResult<TokenPair> {
    Ok(Data(auth::login(&state, req, &ip.0).await?))
}

#[utoipa::path(post, path = "/api/admin/refresh-token", operation_id = "refresh", tag = TAG,
    request_body = RefreshRequest,
    responses((status = 200, body = Envelope<TokenPair>)))]
async fn refresh(
    State(state): State<AppState>,
    Body(req): Body<RefreshRequest>,
) -> ApiResult<TokenPair> {
    Ok(Data(auth::refresh(&state, req).await?))
}

fn token(headers: &HeaderMap) -> &str {
    bearer(headers).unwrap_or_default()
}

#[utoipa::path(post, path = "/api/admin/logout", operation_id = "logout", tag = TAG,
    responses((status = 200, body = Envelope<Nothing>)))]
async fn logout(
    State(state): State<AppState>,
    _caller: Caller,
    headers: HeaderMap,
) -> ApiResult<()> {
    auth::logout(&state, token(&headers)).await?;
    Ok(Data(()))
}

#[utoipa::path(get, path = "/api/admin/me", operation_id = "me", tag = TAG,
    responses((status = 200, body = Envelope<Me>)))]
async fn me(State(state): State<AppState>, caller: Caller) -> ApiResult<Me> {
    Ok(Data(auth::me(&state, &caller).await?))
}

#[utoipa::path(put, path = "/api/admin/me/password", operation_id = "change_password", tag = TAG,
    request_body = ChangePasswordRequest,
    responses((status = 200, body = Envelope<Nothing>)))]
async fn change_password(
    State(state): State<AppState>,
    caller: Caller,
    ip: ClientIp,
    headers: HeaderMap,
    Body(req): Body<ChangePasswordRequest>,
) -> ApiResult<()> {
    auth::change_password(&state, &caller, token(&headers), &ip.0, req).await?;
    Ok(Data(()))
}
