//! `admin-carriers` (placeholder until written).

use axum::Router;

use super::AppState;

/// Routes of the `admin-carriers` function.
pub fn routes() -> Router<AppState> {
    Router::new()
}
