//! `admin-auth`: login, refresh, logout, who-am-I, own password (api.md §2).

use axum::extract::State;
use axum::http::HeaderMap;
use axum::routing::{get, post, put};
use axum::Router;

use super::envelope::{ApiResult, Data};
use super::extract::{bearer, Body, ClientIp};
use crate::app::AppState;
use crate::domain::caller::Caller;
use crate::services::auth::{
    self, ChangePasswordRequest, LoginRequest, Me, RefreshRequest, TokenPair,
};

/// Routes of the `admin-auth` function.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/admin/login", post(login))
        .route("/api/admin/refresh-token", post(refresh))
        .route("/api/admin/logout", post(logout))
        .route("/api/admin/me", get(me))
        .route("/api/admin/me/password", put(change_password))
}

async fn login(
    State(state): State<AppState>,
    ip: ClientIp,
    Body(req): Body<LoginRequest>,
) -> ApiResult<TokenPair> {
    Ok(Data(auth::login(&state, req, &ip.0).await?))
}

async fn refresh(
    State(state): State<AppState>,
    Body(req): Body<RefreshRequest>,
) -> ApiResult<TokenPair> {
    Ok(Data(auth::refresh(&state, req).await?))
}

fn token(headers: &HeaderMap) -> &str {
    bearer(headers).unwrap_or_default()
}

async fn logout(
    State(state): State<AppState>,
    _caller: Caller,
    headers: HeaderMap,
) -> ApiResult<()> {
    auth::logout(&state, token(&headers)).await?;
    Ok(Data(()))
}

async fn me(State(state): State<AppState>, caller: Caller) -> ApiResult<Me> {
    Ok(Data(auth::me(&state, &caller).await?))
}

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
