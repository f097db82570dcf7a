//! `admin-assets`: resolve (api.md §18; status, refresh and stop/start arrive with [3/5]).

use axum::extract::{Path, State};
use axum::routing::get;
use axum::Router;

use super::envelope::{ApiResult, Data};
use super::AppState;
use crate::domain::caller::Caller;
use crate::services::resolve::{self, Resolved};

/// Routes of the `admin-assets` function.
pub fn routes() -> Router<AppState> {
    Router::new().route(
        "/api/admin/assets/resolve/{identifier}",
        get(resolve_identifier),
    )
}

async fn resolve_identifier(
    State(st): State<AppState>,
    caller: Caller,
    Path(identifier): Path<String>,
) -> ApiResult<Resolved> {
    Ok(Data(
        resolve::resolve(&st.store, &caller, &identifier).await?,
    ))
}
