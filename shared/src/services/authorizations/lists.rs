//! What enterprise authorisations show: the cards and devices authorised to an
//! enterprise (one Query of the enterprise index per page, like every asset list)
//! and the authorisation records with their filters.

use serde::Deserialize;

use crate::clock::rfc3339;
use crate::domain::assets::{AssetType, Device, IotCard};
use crate::domain::authorization::AuthorizationRecord;
use crate::domain::caller::{Caller, Scope, SA_PL_AG};
use crate::domain::entities::Enterprise;
use crate::domain::validate::{filter_term, Invalid};
use crate::paging::page_params;
use crate::services::assets::{
    list_authorized, time_range, with_shop_names, AssetError, AssetFilter, CursorPage,
};
use crate::services::cards::CardView;
use crate::services::devices::DeviceView;
use crate::services::enterprises;
use crate::store::authorizations::{record_list, RecordFilter};
use crate::store::{keys, Store};

/// The enterprise `caller` may list: platform staff any, an agent those its subtree
/// owns, an enterprise account its own; others answer not found.
async fn listed_enterprise(
    store: &Store,
    caller: &Caller,
    id: u64,
) -> Result<Enterprise, AssetError> {
    store
        .live_entity(&keys::enterprise(id))
        .await?
        .filter(|e: &Enterprise| enterprises::sees(caller, e))
        .ok_or(AssetError::NotFound("enterprise"))
}

/// `GET /api/admin/enterprises/{id}/cards`: the cards authorised to the enterprise
/// (on their own or through a device; `authorization` says which).
pub async fn enterprise_cards(
    store: &Store,
    caller: &Caller,
    id: u64,
    f: &AssetFilter,
) -> Result<CursorPage<CardView>, AssetError> {
    let e = listed_enterprise(store, caller, id).await?;
    let page = list_authorized::<IotCard>(store, e.id, f).await?;
    with_shop_names(store, page, |card, shop_name| CardView {
        card,
        shop_name,
        is_replaced: false,
    })
    .await
}

/// `GET /api/admin/enterprises/{id}/devices`: the devices authorised to it.
pub async fn enterprise_devices(
    store: &Store,
    caller: &Caller,
    id: u64,
    f: &AssetFilter,
) -> Result<CursorPage<DeviceView>, AssetError> {
    let e = listed_enterprise(store, caller, id).await?;
    let page = list_authorized::<Device>(store, e.id, f).await?;
    with_shop_names(store, page, |device, shop_name| DeviceView {
        device,
        shop_name,
    })
    .await
}

/// Filters of `GET /api/admin/authorizations`.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AuthRecordFilter {
    pub cursor: Option<String>,
    #[param(minimum = 1, maximum = 100)]
    pub page_size: Option<u32>,
    pub enterprise_id: Option<u64>,
    pub asset_type: Option<AssetType>,
    /// Exact ICCID or device virtual number.
    pub identifier: Option<String>,
    /// `active` (live grants) or `revoked` (ended ones, whatever ended them).
    pub status: Option<String>,
    /// Granted at or after: a date, a business-time `YYYY-MM-DD HH:MM:SS` or RFC 3339.
    pub start_time: Option<String>,
    /// Granted at or before: as `start_time` (a date takes in its whole day).
    pub end_time: Option<String>,
}

/// `GET /api/admin/authorizations`: records of the enterprises the caller sees
/// (platform staff: all), newest grants last within a partition.
pub async fn records(
    store: &Store,
    caller: &Caller,
    f: &AuthRecordFilter,
) -> Result<CursorPage<AuthorizationRecord>, AssetError> {
    caller.require(SA_PL_AG)?;
    let (cursor, page_size) = page_params(f.cursor.as_deref(), f.page_size)?;
    let active = match filter_term(f.status.as_deref()) {
        None => None,
        Some("active") => Some(true),
        Some("revoked") => Some(false),
        Some(_) => {
            return Err(Invalid::new(
                "status须为active或revoked",
                "status must be active or revoked",
            )
            .into())
        }
    };
    let (start, end) = time_range(f.start_time.as_deref(), f.end_time.as_deref())?;
    let enterprise = match f.enterprise_id {
        Some(id) => Some(listed_enterprise(store, caller, id).await?.id),
        None => None,
    };
    let filter = RecordFilter {
        asset_type: f.asset_type,
        identifier: filter_term(f.identifier.as_deref()).map(str::to_string),
        active,
        from: start.map(rfc3339),
        to: end.map(rfc3339),
    };
    let subtree = match caller.scope() {
        Scope::Subtree(p) => Some(p),
        _ => None,
    };
    let (source, cond) = record_list(enterprise, subtree, &filter);
    let in_scope = |r: &AuthorizationRecord| match subtree {
        Some(p) => r.enterprise_path.as_ref().is_some_and(|e| p.contains(e)),
        None => true,
    };
    Ok(store
        .read_page(&source, cond.as_ref(), page_size, cursor, in_scope)
        .await?)
}
