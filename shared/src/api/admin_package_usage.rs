//! `admin-package-usage`: a package usage's daily records (api.md §14).

use axum::extract::State;
use axum::routing::get;
use axum::Router;
use serde::Deserialize;

use super::envelope::{ApiResult, Data, Envelope};
use super::extract::{Id, Query};
use crate::app::AppState;
use crate::codes::Code as C;
use crate::domain::caller::Caller;
use crate::services::usages::{self, DailyRecords};

/// The tag of this group's operations in the OpenAPI document.
const TAG: &str = "admin-package-usage";

/// This group's operations in the OpenAPI document.
#[derive(utoipa::OpenApi)]
#[openapi(paths(daily_records))]
pub struct Doc;

/// Routes of the `admin-package-usage` function.
pub fn routes() -> Router<AppState> {
    Router::new().route(
        "/api/admin/package-usage/{id}/daily-records",
        get(daily_records),
    )
}

/// `start_date` and `end_date`, both required.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
struct DateRange {
    /// First day, `YYYY-MM-DD` (Asia/Shanghai).
    #[param(pattern = r"^\d{4}-\d{2}-\d{2}$")]
    start_date: String,
    /// Last day (inclusive), at most 366 days after the first.
    #[param(pattern = r"^\d{4}-\d{2}-\d{2}$")]
    end_date: String,
}

/// A package usage's consumption per day (empty until polling records usage).
#[utoipa::path(get, path = "/api/admin/package-usage/{id}/daily-records", operation_id = "package_usage_daily_records", tag = TAG,
    params(("id" = u64, Path, minimum = 1, description = "Package usage id"), DateRange),
    responses((status = 200, body = Envelope<DailyRecords>)),
    extensions(("x-codes" = json!([C::PACKAGE_USAGE_NOT_FOUND.0]))))]
async fn daily_records(
    State(st): State<AppState>,
    caller: Caller,
    Id(id): Id,
    Query(range): Query<DateRange>,
) -> ApiResult<DailyRecords> {
    Ok(Data(
        usages::daily_records(&st.store, &caller, id, &range.start_date, &range.end_date).await?,
    ))
}
