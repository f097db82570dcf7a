//! `admin-polling` (data reset part): the manual trigger of the data reset (jobs.md
//! J13, domain.md §5.7.4): one bounded pass now, synchronously.

use axum::extract::State;
use axum::routing::post;
use axum::Router;
use serde::Serialize;

use super::envelope::{ApiError, ApiResult, Data, Envelope};
use crate::app::AppState;
use crate::codes::Code as C;
use crate::domain::caller::Caller;
use crate::jobs::data_reset;

/// The tag of this group's operations in the OpenAPI document.
use super::admin_polling::TAG;

/// Most usages one manual trigger resets (the rest: call again, or the schedule).
pub const TRIGGER_LIMIT: usize = 1000;

/// This group's operations in the OpenAPI document.
#[derive(utoipa::OpenApi)]
#[openapi(paths(trigger_data_reset))]
pub struct Doc;

/// Routes of the data reset trigger.
pub fn routes() -> Router<AppState> {
    Router::new().route(
        "/api/admin/internal/trigger-data-reset",
        post(trigger_data_reset),
    )
}

/// What a manual data reset did.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct DataResetTriggered {
    /// Usages reset by this call.
    pub reset_count: u64,
    /// More usages may be due (the call stopped at its limit of 1000): call again.
    pub more: bool,
}

/// Resets now the data of up to 1000 usages whose reset moment passed (as the
/// scheduled job does every 10 s); cards stopped for exhaustion resume shortly after.
#[utoipa::path(post, path = "/api/admin/internal/trigger-data-reset", operation_id = "trigger_data_reset", tag = TAG,
    responses((status = 200, body = Envelope<DataResetTriggered>)),
    extensions(("x-codes" = json!([C::BUSY.0, C::DATABASE.0]))))]
async fn trigger_data_reset(
    State(st): State<AppState>,
    _caller: Caller,
) -> ApiResult<DataResetTriggered> {
    let report = data_reset::run_pass(&st, st.clock.now(), TRIGGER_LIMIT)
        .await
        .map_err(|e| {
            tracing::error!(error = %e, "manual data reset failed");
            ApiError::new(C::DATABASE)
        })?;
    tracing::info!(?report, "manual data reset");
    Ok(Data(DataResetTriggered {
        reset_count: report.reset_count as u64,
        more: report.more,
    }))
}
