//! `health`: liveness.

use axum::routing::get;
use axum::Router;
use serde_json::{json, Value};

use super::envelope::Data;
use super::AppState;

/// `GET /health`.
pub fn routes() -> Router<AppState> {
    Router::new().route("/health", get(health))
}

async fn health() -> Data<Value> {
    Data(json!({ "status": "ok" }))
}
