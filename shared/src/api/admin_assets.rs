//! `admin-assets`: resolve, persisted status, refresh, stop/start (api.md §18).
//! Package routes arrive with the package catalogue.

use axum::extract::{Path, State};
use axum::routing::get;
use axum::Router;
use serde_json::Value;

use super::envelope::{ApiError, ApiResult, Data};
use crate::app::AppState;
use crate::codes::Code;
use crate::domain::caller::Caller;
use crate::services::asset_ops::{self, Direction};
use crate::services::resolve::{self, Resolved};

/// Routes of the `admin-assets` function.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route(
            "/api/admin/assets/resolve/{identifier}",
            get(resolve_identifier),
        )
        .route(
            "/api/admin/assets/{asset_type}/{id}/{action}",
            get(read).post(act),
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

fn no_route() -> ApiError {
    ApiError::no_route()
}

fn id(raw: &str) -> Result<u64, ApiError> {
    raw.parse()
        .ok()
        .filter(|n| *n > 0)
        .ok_or_else(|| ApiError::invalid("无效的资产ID", "invalid asset id"))
}

async fn read(
    State(st): State<AppState>,
    caller: Caller,
    Path((kind, raw, action)): Path<(String, String, String)>,
) -> ApiResult<Value> {
    if action != "realtime-status" || !matches!(kind.as_str(), "card" | "device") {
        return Err(no_route());
    }
    Ok(Data(
        asset_ops::realtime_status(&st, &caller, &kind, id(&raw)?).await?,
    ))
}

async fn act(
    State(st): State<AppState>,
    caller: Caller,
    Path((kind, raw, action)): Path<(String, String, String)>,
) -> ApiResult<Value> {
    let dir = match action.as_str() {
        "stop" => Some(Direction::Stop),
        "start" => Some(Direction::Start),
        "refresh" => None,
        _ => return Err(no_route()),
    };
    let data = match (kind.as_str(), dir) {
        ("card" | "device", None) => asset_ops::refresh(&st, &caller, &kind, id(&raw)?).await?,
        ("card", Some(d)) => {
            asset_ops::card_switch(&st, &caller, &raw, d).await?;
            Value::Null
        }
        ("device", Some(d)) => {
            serde_json::to_value(asset_ops::device_switch(&st, &caller, id(&raw)?, d).await?)
                .map_err(|_| ApiError::new(Code::INTERNAL))?
        }
        _ => return Err(no_route()),
    };
    Ok(Data(data))
}
