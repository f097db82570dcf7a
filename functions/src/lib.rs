//! Start-up code shared by the Lambda binaries: build configuration and clients once
//! per cold start, then hand the function group's router to `lambda_http`.

use axum::extract::Request;
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::Router;
use lambda_http::request::RequestContext;
use shared::api::extract::ClientIp;
use shared::api::group;
use shared::app::{AppState, Clients};
use shared::config::Config;

/// Serves one function group on Lambda, with the table and `clients`.
pub async fn serve_group(
    routes: fn() -> Router<AppState>,
    clients: Clients,
) -> Result<(), lambda_http::Error> {
    let state = start(clients).await?;
    lambda_http::run(lambda_app(routes(), state)).await
}

/// Serves routes that need no state (no configuration, no client).
pub async fn serve_stateless(routes: Router) -> Result<(), lambda_http::Error> {
    shared::telemetry::init();
    let app = shared::api::layered(
        routes,
        shared::config::DEFAULT_MAX_BODY_BYTES,
        shared::api::ExposeCalls(false),
    )
    .layer(middleware::from_fn(source_ip));
    lambda_http::run(app).await
}

/// Logging, configuration, the table and `clients`, once per cold start.
pub async fn start(clients: Clients) -> Result<AppState, lambda_http::Error> {
    shared::telemetry::init();
    let cfg = Config::from_env()?;
    Ok(AppState::connect(cfg, clients).await?)
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
