//! Start-up code shared by the Lambda binaries: build configuration and clients once
//! per cold start, then hand the function group's router to `lambda_http`.

use axum::extract::Request;
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::Router;
use lambda_http::request::RequestContext;
use shared::api::extract::ClientIp;
use shared::api::{group, AppState};
use shared::config::Config;

/// Serves one function group on Lambda.
pub async fn serve_group(routes: fn() -> Router<AppState>) -> Result<(), lambda_http::Error> {
    let state = start().await?;
    lambda_http::run(lambda_app(routes(), state)).await
}

/// Logging, configuration and clients, once per cold start.
pub async fn start() -> Result<AppState, lambda_http::Error> {
    shared::telemetry::init();
    let cfg = Config::from_env()?;
    Ok(AppState::connect(cfg).await)
}

/// The group's router with the caller's source IP taken from the API Gateway context.
pub fn lambda_app(routes: Router<AppState>, state: AppState) -> Router {
    group(routes, state).layer(middleware::from_fn(source_ip))
}

async fn source_ip(mut req: Request, next: Next) -> Response {
    let ip = match req.extensions().get::<RequestContext>() {
        Some(RequestContext::ApiGatewayV2(ctx)) => ctx.http.source_ip.clone(),
        _ => None,
    };
    req.extensions_mut()
        .insert(ClientIp(ip.unwrap_or_else(|| "unknown".into())));
    next.run(req).await
}
