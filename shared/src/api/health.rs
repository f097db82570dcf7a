//! `health`: liveness.

use axum::routing::get;
use axum::Router;
use serde_json::{json, Value};

use super::envelope::Data;

/// `GET /health`; needs no state, so the `health` function builds no client.
pub fn routes<S: Clone + Send + Sync + 'static>() -> Router<S> {
    Router::new().route("/health", get(health))
}

async fn health() -> Data<Value> {
    Data(json!({ "status": "ok" }))
}
