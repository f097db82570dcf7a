//! Drives the Lambda adapter path end to end without AWS: API Gateway HTTP API v2.0
//! sample events from `events/` are decoded by `lambda_http` into requests and sent to
//! the router that `functions::lambda_app` builds, exactly as on Lambda.

// A test crate: a failure should stop it loudly (the workspace denies these lints
// in request and job code).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::path::PathBuf;

use axum::http::StatusCode;
use axum::routing::get;
use axum::Router;
use http_body_util::BodyExt;
use serde_json::Value;
use shared::api::envelope::Data;
use shared::api::extract::ClientIp;
use shared::app::AppState;
use shared::config::Config;
use tower::ServiceExt;

/// State whose DynamoDB client points at a closed local port; none of these requests
/// reach the table, so no network is used.
fn offline_state() -> AppState {
    let endpoint = "http://127.0.0.1:9";
    AppState::local(Config::for_local("unused-table", endpoint), endpoint)
}

/// Decodes a sample event the way the Lambda runtime does.
fn event(name: &str) -> lambda_http::Request {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../events")
        .join(name);
    let json = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    lambda_http::request::from_str(&json)
        .unwrap_or_else(|e| panic!("decoding {}: {e}", path.display()))
}

/// Sends the event through `lambda_app(routes, state)`; returns status and JSON body.
async fn invoke(routes: Router<AppState>, name: &str) -> (StatusCode, Value) {
    let app = functions::lambda_app(routes, offline_state());
    let res = app
        .oneshot(event(name))
        .await
        .expect("router is infallible");
    let status = res.status();
    let bytes = res
        .into_body()
        .collect()
        .await
        .expect("response body")
        .to_bytes();
    let body: Value = serde_json::from_slice(&bytes).unwrap_or_else(|e| {
        panic!(
            "body is not JSON ({e}): {}",
            String::from_utf8_lossy(&bytes)
        )
    });
    (status, body)
}

#[tokio::test]
async fn health_event_returns_ok() {
    let (status, body) = invoke(shared::api::health::routes(), "apigw-v2-health.json").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["code"], 0, "{body}");
    assert_eq!(body["data"]["status"], "ok", "{body}");
}

#[tokio::test]
async fn me_without_token_is_unauthorized() {
    let (status, body) = invoke(
        shared::api::admin_auth::routes(),
        "apigw-v2-me-no-token.json",
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    assert_eq!(body["code"], 1004, "{body}");
}

#[tokio::test]
async fn source_ip_from_request_context_reaches_handlers() {
    async fn echo_ip(ip: ClientIp) -> Data<String> {
        Data(ip.0)
    }
    let routes = Router::new().route("/health", get(echo_ip));
    let (status, body) = invoke(routes, "apigw-v2-health.json").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["data"], "203.0.113.7", "{body}");
}
