//! HTTP routers: one per Lambda function group (api.md §0.5), each an axum `Router`
//! that `lambda_http` serves on AWS and the dev server merges locally.

pub mod access;
pub mod admin_accounts;
pub mod admin_agent_recharges;
pub mod admin_asset_allocations;
pub mod admin_assets;
pub mod admin_auth;
pub mod admin_carriers;
pub mod admin_commissions;
pub mod admin_data_cleanup;
pub mod admin_data_reset;
pub mod admin_devices;
pub mod admin_enterprises;
pub mod admin_iot_cards;
pub mod admin_orders;
pub mod admin_package_series;
pub mod admin_package_usage;
pub mod admin_packages;
pub mod admin_polling;
pub mod admin_polling_alerts;
pub mod admin_polling_configs;
pub mod admin_polling_ops;
pub mod admin_roles;
pub mod admin_shop_series_grants;
pub mod admin_shops;
pub mod admin_storage;
pub mod admin_usage_rules;
pub mod admin_wallets;
pub mod admin_wechat_configs;
pub mod envelope;
pub mod extract;
pub mod health;
pub mod idempotency;
pub mod openapi;
pub mod payment_callbacks;

use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::{header, HeaderValue};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::Router;
use tracing::Instrument;

use crate::app::AppState;
use crate::codes::{Code, Lang};
use crate::store::calls;
use envelope::ApiError;

/// A function group: its routes behind the access check (`access::authorize`) and,
/// inside it, the `Idempotency-Key` layer (`idempotency::layer`, which needs the
/// authenticated caller), with the shared layers (request id, DynamoDB call count,
/// body limit, envelope 404) applied.
pub fn group(routes: Router<AppState>, state: AppState) -> Router {
    let limit = state.cfg.max_body_bytes;
    let expose = ExposeCalls(state.cfg.expose_ddb_calls);
    let guarded = routes
        .route_layer(middleware::from_fn_with_state(
            state.clone(),
            idempotency::layer,
        ))
        .route_layer(middleware::from_fn_with_state(
            state.clone(),
            access::authorize,
        ));
    layered(guarded.with_state(state), limit, expose)
}

/// Whether responses report their DynamoDB call count in a header (never on AWS:
/// the count would tell an attacker which code path a request took).
#[derive(Clone, Copy, Debug)]
pub struct ExposeCalls(pub bool);

/// The shared layers around routes that need no state (`health`).
pub fn layered(routes: Router, body_limit: usize, expose: ExposeCalls) -> Router {
    routes
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(body_limit))
        .layer(middleware::from_fn_with_state(expose, request_context))
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
        .merge(admin_package_usage::routes())
        .merge(admin_shop_series_grants::routes())
        .merge(admin_agent_recharges::routes())
        .merge(admin_wechat_configs::routes())
        .merge(payment_callbacks::routes())
        .merge(admin_orders::routes())
        .merge(admin_polling::routes())
        .merge(admin_commissions::routes());
    group(routes, state)
}

async fn method_not_allowed() -> ApiError {
    ApiError::new(Code::METHOD_NOT_ALLOWED)
}

async fn not_found() -> ApiError {
    ApiError::no_route()
}

/// Header carrying the request id.
pub const REQUEST_ID: &str = "x-request-id";
/// Header reporting how many DynamoDB operations the request used (only with
/// `CMP_EXPOSE_DDB_CALLS=1`; the request log always has it).
pub const DDB_CALLS: &str = "x-ddb-calls";
/// Header reporting the read capacity units the request's reads consumed (with
/// [`DDB_CALLS`]).
pub const DDB_READ_UNITS: &str = "x-ddb-read-units";
/// Header reporting how many items those operations read (same condition).
pub const DDB_ITEMS_READ: &str = "x-ddb-items-read";

/// Gives each request an id, a log span and its language (`Accept-Language`), counts
/// its DynamoDB calls and the items they read, and reports the id and the counts in
/// response headers.
async fn request_context(State(expose): State<ExposeCalls>, req: Request, next: Next) -> Response {
    let request_id = req
        .headers()
        .get(REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty() && v.len() <= 128)
        .map(str::to_string)
        .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
    let lang = Lang::from_accept_language(
        req.headers()
            .get(header::ACCEPT_LANGUAGE)
            .and_then(|v| v.to_str().ok()),
    );
    let span = tracing::info_span!("request", request_id = %request_id, method = %req.method(), path = %req.uri().path());
    let (mut res, usage) =
        calls::measured(envelope::in_language(lang, next.run(req)).instrument(span.clone())).await;
    span.in_scope(|| {
        tracing::info!(
            status = res.status().as_u16(),
            ddb_calls = usage.calls,
            ddb_read_units = usage.read_units,
            ddb_items_read = usage.items_read,
            "request done"
        );
    });
    let headers = res.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&request_id) {
        headers.insert(REQUEST_ID, v);
    }
    if expose.0 {
        headers.insert(DDB_CALLS, HeaderValue::from(usage.calls));
        if let Ok(v) = HeaderValue::from_str(&usage.read_units.to_string()) {
            headers.insert(DDB_READ_UNITS, v);
        }
        headers.insert(DDB_ITEMS_READ, HeaderValue::from(usage.items_read));
    }
    res.into_response()
}
