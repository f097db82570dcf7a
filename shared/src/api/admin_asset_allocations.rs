//! `admin-asset-allocations`: allocation and recall records (api.md §9).

use axum::extract::{Path, State};
use axum::routing::get;
use axum::Router;

use super::envelope::{ApiResult, Data};
use super::extract::Query;
use crate::app::AppState;
use crate::domain::caller::Caller;
use crate::services::assets::{self, CursorPage, RecordFilter, RecordView};

/// Routes of the `admin-asset-allocations` function.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/admin/asset-allocation-records", get(list))
        .route("/api/admin/asset-allocation-records/{id}", get(show))
}

async fn list(
    State(st): State<AppState>,
    caller: Caller,
    Query(f): Query<RecordFilter>,
) -> ApiResult<CursorPage<RecordView>> {
    Ok(Data(assets::records(&st.store, &caller, &f).await?))
}

async fn show(
    State(st): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<RecordView> {
    Ok(Data(assets::record(&st.store, &caller, &id).await?))
}
