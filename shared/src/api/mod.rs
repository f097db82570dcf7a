//! HTTP routers: one per Lambda function group (api.md §0.5), each an axum `Router`
//! that `lambda_http` serves on AWS and the dev server merges locally.

pub mod admin_accounts;
pub mod admin_asset_allocations;
pub mod admin_assets;
pub mod admin_auth;
pub mod admin_carriers;
pub mod admin_devices;
pub mod admin_enterprises;
pub mod admin_iot_cards;
pub mod admin_package_series;
pub mod admin_packages;
pub mod admin_roles;
pub mod admin_shop_series_grants;
pub mod admin_shops;
pub mod admin_storage;
pub mod envelope;
pub mod extract;
pub mod health;
pub mod pagination;

use std::sync::Arc;

use axum::extract::{DefaultBodyLimit, Request};
use axum::http::HeaderValue;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::Router;
use tracing::Instrument;

use crate::auth::TokenKeys;
use crate::clock::Clock;
use crate::codes::Code;
use crate::config::Config;
use crate::store::calls;
use crate::store::Store;
use envelope::ApiError;

/// Everything a handler needs; built once per cold start.
#[derive(Clone, Debug)]
pub struct AppState {
    /// Configuration.
    pub cfg: Arc<Config>,
    /// The table.
    pub store: Store,
    /// Time source.
    pub clock: Clock,
    /// Token signing keys.
    pub tokens: Arc<TokenKeys>,
    /// Object storage (uploads, imports).
    pub s3: aws_sdk_s3::Client,
    /// Queues (import chunks).
    pub sqs: aws_sdk_sqs::Client,
    /// Carrier gateway client, when configured.
    pub gateway: Option<crate::integrations::gateway::client::GatewayClient>,
}

impl AppState {
    /// State over existing clients.
    pub fn new(
        cfg: Config,
        store: Store,
        s3: aws_sdk_s3::Client,
        sqs: aws_sdk_sqs::Client,
    ) -> Self {
        use crate::integrations::gateway::client::{GatewayClient, GatewayConfig};
        use crate::integrations::gateway::crypto::AesEcbMd5;
        let tokens = Arc::new(TokenKeys::new(&cfg.jwt_secret));
        let clock = Clock::default();
        let gateway = cfg.gateway_url.as_ref().and_then(|url| {
            let crypto = AesEcbMd5::new(&cfg.gateway_app_secret)
                .map_err(|e| tracing::error!(error = %e, "gateway disabled"))
                .ok()?;
            let gcfg = GatewayConfig {
                base_url: url.clone(),
                app_id: cfg.gateway_app_id.clone(),
                attempt_timeout: std::time::Duration::from_millis(cfg.gateway_timeout_ms as u64),
                max_retries: 2,
            };
            Some(GatewayClient::new(gcfg, Arc::new(crypto), clock.clone()))
        });
        Self {
            cfg: Arc::new(cfg),
            store,
            clock,
            tokens,
            s3,
            sqs,
            gateway,
        }
    }

    /// Builds every AWS client from the environment and configuration, once.
    pub async fn connect(cfg: Config) -> Self {
        let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest())
            .region(aws_config::Region::new(cfg.region.clone()));
        if let Some(endpoint) = &cfg.aws_endpoint {
            loader = loader.endpoint_url(endpoint);
        }
        let sdk = loader.load().await;
        let store = Store::from_sdk(&sdk, &cfg.table);
        let s3 = aws_sdk_s3::Client::from_conf(
            aws_sdk_s3::config::Builder::from(&sdk)
                .force_path_style(cfg.aws_endpoint.is_some())
                .build(),
        );
        let sqs = aws_sdk_sqs::Client::new(&sdk);
        Self::new(cfg, store, s3, sqs)
    }
}

/// A function group: its routes, with the shared layers (request id, DynamoDB call
/// count, body limit, envelope 404) applied.
pub fn group(routes: Router<AppState>, state: AppState) -> Router {
    let limit = state.cfg.max_body_bytes;
    routes
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(limit))
        .layer(middleware::from_fn(request_context))
        .with_state(state)
}

/// Every route of every group in one router (the local dev server, tests).
pub fn app(state: AppState) -> Router {
    let routes = Router::new()
        .merge(health::routes())
        .merge(admin_auth::routes())
        .merge(admin_carriers::routes())
        .merge(admin_accounts::routes())
        .merge(admin_roles::routes())
        .merge(admin_shops::routes())
        .merge(admin_enterprises::routes())
        .merge(admin_iot_cards::routes())
        .merge(admin_devices::routes())
        .merge(admin_asset_allocations::routes())
        .merge(admin_storage::routes())
        .merge(admin_assets::routes())
        .merge(admin_package_series::routes())
        .merge(admin_packages::routes())
        .merge(admin_shop_series_grants::routes());
    group(routes, state)
}

async fn method_not_allowed() -> ApiError {
    ApiError::with_msg(Code::METHOD_NOT_ALLOWED, "method not allowed on this route")
}

async fn not_found() -> ApiError {
    ApiError::with_msg(Code::NOT_FOUND, "no such route")
}

/// Header carrying the request id.
pub const REQUEST_ID: &str = "x-request-id";
/// Header reporting how many DynamoDB operations the request used.
pub const DDB_CALLS: &str = "x-ddb-calls";

/// Gives each request an id and a log span, counts its DynamoDB calls and reports
/// both in response headers.
async fn request_context(req: Request, next: Next) -> Response {
    let request_id = req
        .headers()
        .get(REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty() && v.len() <= 128)
        .map(str::to_string)
        .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
    let span = tracing::info_span!("request", request_id = %request_id, method = %req.method(), path = %req.uri().path());
    let (mut res, calls) = calls::counted(next.run(req).instrument(span.clone())).await;
    span.in_scope(|| {
        tracing::info!(
            status = res.status().as_u16(),
            ddb_calls = calls,
            "request done"
        );
    });
    let headers = res.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&request_id) {
        headers.insert(REQUEST_ID, v);
    }
    headers.insert(DDB_CALLS, HeaderValue::from(calls));
    res.into_response()
}
