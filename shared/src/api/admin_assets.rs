//! `admin-assets`: resolve, persisted status, refresh, stop/start, an asset's package
//! usages and current main package (api.md §18).

use axum::extract::{Path, State};
use axum::routing::get;
use axum::{Extension, Router};
use serde::Serialize;

use super::access::RESOLVE;
use super::envelope::{ApiError, ApiResult, Data, Envelope};
use crate::app::AppState;
use crate::codes::Code as C;
use crate::domain::assets::{AssetType, Direction};
use crate::domain::caller::Caller;
use crate::domain::usage::UsageView;
use crate::services::asset_ops::{self, DeviceSwitch, StatusView};
use crate::services::resolve::{self, Resolved};
use crate::services::usages;
use crate::store::prefetch::Prefetched;

/// The tag of this group's operations in the OpenAPI document.
const TAG: &str = "admin-assets";

/// This group's operations in the OpenAPI document.
#[derive(utoipa::OpenApi)]
#[openapi(paths(resolve_identifier, read, act))]
pub struct Doc;

/// Routes of the `admin-assets` function.
pub fn routes() -> Router<AppState> {
    Router::new().route(RESOLVE, get(resolve_identifier)).route(
        "/api/admin/assets/{asset_type}/{id}/{action}",
        get(read).post(act),
    )
}

/// Finds a card or device by any identifier, with its package and status.
#[utoipa::path(get, path = "/api/admin/assets/resolve/{identifier}", operation_id = "resolve_asset", tag = TAG,
    params(("identifier" = String, Path, description = "A virtual number, IMEI, SN, ICCID or MSISDN")),
    responses((status = 200, body = Envelope<Resolved>)),
    extensions(("x-codes" = json!([C::ASSET_NOT_FOUND.0]))))]
async fn resolve_identifier(
    State(st): State<AppState>,
    caller: Caller,
    Path(identifier): Path<String>,
    ahead: Option<Extension<Prefetched>>,
) -> ApiResult<Resolved> {
    let ahead = ahead.as_ref().map(|Extension(a)| a);
    let now = st.clock.now();
    Ok(Data(
        resolve::resolve(&st.store, &caller, &identifier, now, ahead).await?,
    ))
}

fn no_route() -> ApiError {
    ApiError::no_route()
}

fn asset_type(raw: &str) -> Result<AssetType, ApiError> {
    AssetType::parse(raw).ok_or_else(no_route)
}

fn id(raw: &str) -> Result<u64, ApiError> {
    raw.parse()
        .ok()
        .filter(|n| *n > 0)
        .ok_or_else(|| ApiError::invalid("无效的资产ID", "invalid asset id"))
}

/// What an asset read answers: its persisted status (`realtime-status`), its package
/// usages of the current generation, newest first (`packages`), or its active main
/// package (`current-package`).
#[derive(Serialize, utoipa::ToSchema)]
#[serde(untagged)]
enum Read {
    Status(StatusView),
    Packages(Vec<UsageView>),
    Current(UsageView),
}

/// A card's or device's persisted status, package usages or current main package.
#[utoipa::path(get, path = "/api/admin/assets/{asset_type}/{id}/{action}", operation_id = "asset_read", tag = TAG,
    params(("asset_type" = String, Path, pattern = "^(card|device)$"), ("id" = String, Path, description = "The asset id"), ("action" = String, Path, pattern = "^(realtime-status|packages|current-package)$")),
    responses((status = 200, description = "The status, the package usages, or the current main package", body = Envelope<Read>)),
    extensions(("x-codes" = json!([C::ASSET_NOT_FOUND.0, C::PACKAGE_USAGE_NOT_FOUND.0]))))]
async fn read(
    State(st): State<AppState>,
    caller: Caller,
    Path((kind, raw, action)): Path<(String, String, String)>,
) -> ApiResult<Read> {
    let t = asset_type(&kind)?;
    let data = match action.as_str() {
        "realtime-status" => {
            Read::Status(asset_ops::realtime_status(&st, &caller, t, id(&raw)?).await?)
        }
        "packages" => {
            Read::Packages(usages::asset_packages(&st.store, &caller, t, id(&raw)?).await?)
        }
        "current-package" => {
            Read::Current(usages::current_package(&st.store, &caller, t, id(&raw)?).await?)
        }
        _ => return Err(no_route()),
    };
    Ok(Data(data))
}

/// What an asset action answers: the refreshed status, a device stop's outcome, or
/// `null` (card stop/start, device start).
#[derive(Serialize, utoipa::ToSchema)]
#[serde(untagged)]
enum Acted {
    Status(StatusView),
    Stopped(DeviceSwitch),
}

/// Stops, starts or refreshes a card or device at the carrier.
#[utoipa::path(post, path = "/api/admin/assets/{asset_type}/{id}/{action}", operation_id = "asset_action", tag = TAG,
    params(("asset_type" = String, Path, pattern = "^(card|device)$"), ("id" = String, Path, description = "The asset id; a card's stop and start take its ICCID"), ("action" = String, Path, pattern = "^(stop|start|refresh)$")),
    responses((status = 200, description = "The refreshed status, a device stop's outcome, or null", body = Envelope<Option<Acted>>)),
    extensions(("x-codes" = json!([C::ASSET_NOT_FOUND.0, C::ASSET_STATUS_INVALID.0, C::CARD_NOT_VERIFIED.0, C::PROTECT_PERIOD.0, C::REFRESH_COOLDOWN.0, C::VERSION_CONFLICT.0, C::GATEWAY_ERROR.0, C::GATEWAY_TIMEOUT.0, C::GATEWAY_INVALID_RESPONSE.0]))))]
async fn act(
    State(st): State<AppState>,
    caller: Caller,
    Path((kind, raw, action)): Path<(String, String, String)>,
) -> ApiResult<Option<Acted>> {
    let t = asset_type(&kind)?;
    let dir = match action.as_str() {
        "stop" => Some(Direction::Stop),
        "start" => Some(Direction::Start),
        "refresh" => None,
        _ => return Err(no_route()),
    };
    let data = match (t, dir) {
        (_, None) => Some(Acted::Status(
            asset_ops::refresh(&st, &caller, t, id(&raw)?).await?,
        )),
        (AssetType::Card, Some(d)) => {
            asset_ops::card_switch(&st, &caller, &raw, d).await?;
            None
        }
        (AssetType::Device, Some(d)) => {
            let out = asset_ops::device_switch(&st, &caller, id(&raw)?, d).await?;
            (d == Direction::Stop).then_some(Acted::Stopped(out))
        }
    };
    Ok(Data(data))
}
