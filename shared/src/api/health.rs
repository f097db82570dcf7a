//! `health`: liveness, and the API's contract (the OpenAPI document and a page
//! that shows it).

use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;
use serde::Serialize;
use utoipa::ToSchema;

use super::envelope::{Data, Envelope};
use super::openapi;

/// Routes of the `health` function; they need no state, so it builds no client.
pub fn routes<S: Clone + Send + Sync + 'static>() -> Router<S> {
    Router::new()
        .route("/health", get(health))
        .route("/api/openapi.json", get(openapi_json))
        .route("/api/docs", get(docs_page))
}

/// What `GET /health` answers.
#[derive(Debug, Serialize, ToSchema)]
pub struct Health {
    /// Always `ok`.
    pub status: &'static str,
}

/// Liveness.
#[utoipa::path(get, path = "/health", operation_id = "health", tag = "health",
    responses((status = 200, description = "The service is up", body = Envelope<Health>)))]
pub async fn health() -> Data<Health> {
    Data(Health { status: "ok" })
}

/// This document (OpenAPI 3.1, JSON).
#[utoipa::path(get, path = "/api/openapi.json", operation_id = "openapi_document", tag = "health",
    responses((status = 200, description = "The OpenAPI document", content_type = "application/json", body = Object)))]
pub async fn openapi_json() -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "application/json")],
        openapi::json(),
    )
}

/// A page that shows this document (self-contained: no external assets).
#[utoipa::path(get, path = "/api/docs", operation_id = "docs_page", tag = "health",
    responses((status = 200, description = "HTML page", content_type = "text/html", body = String)))]
pub async fn docs_page() -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
        include_str!("docs.html"),
    )
}
