//! `GET /api/admin/assets/resolve/:identifier` (api.md §18, domain.md §3.2): a device
//! first (virtual number, IMEI, SN), then a card (virtual number, ICCID, MSISDN).
//!
//! Cost: the auth batch read (which also reads every uniqueness item the identifier
//! could name: the route reads them ahead), the asset, then what the answer shows
//! (card: one batch read of shop, bound device and its protect periods = 3 calls;
//! device: bindings query, then one batch read of cards, shop and protect periods =
//! 4 calls).

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use super::assets::{Asset, AssetError};
use crate::domain::assets::{
    AssetStatus, AssetType, Device, IdentifierKind, IotCard, ProtectStatus, SimBinding,
};
use crate::domain::caller::Caller;
use crate::domain::entities::Shop;
use crate::domain::usage::{virtual_view, PackageUsage};
use crate::domain::validate::Invalid;
use crate::store::assets::{identifier_keys, protect_keys, protect_status_in};
use crate::store::prefetch::Prefetched;
use crate::store::{from_item, keys, Item, Key, Store};

/// A card of a resolved device.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ResolvedCard {
    pub card_id: u64,
    pub iccid: String,
    pub msisdn: Option<String>,
    pub network_status: i64,
    pub real_name_status: i64,
    pub slot_position: u32,
    pub virtual_no: Option<String>,
    #[serde(with = "rust_decimal::serde::float")]
    #[schema(value_type = f64)]
    pub current_month_usage_mb: Decimal,
    pub last_sync_at: Option<String>,
}

impl ResolvedCard {
    /// A bound card as shown under its device.
    pub fn new(c: IotCard, b: &SimBinding) -> Self {
        ResolvedCard {
            card_id: c.id,
            iccid: c.iccid,
            msisdn: c.msisdn,
            network_status: c.network_status,
            real_name_status: c.real_name_status,
            slot_position: b.slot_position,
            virtual_no: c.virtual_no,
            current_month_usage_mb: c.current_month_usage_mb,
            last_sync_at: c.last_sync_time,
        }
    }
}

/// The resolve answer (fields of the other asset type are empty).
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Resolved {
    pub asset_type: AssetType,
    pub asset_id: u64,
    pub virtual_no: Option<String>,
    pub status: i64,
    pub asset_status: AssetStatus,
    pub batch_no: Option<String>,
    pub shop_id: Option<u64>,
    pub shop_name: Option<String>,
    pub series_id: Option<u64>,
    pub series_name: Option<String>,
    pub real_name_status: i64,
    pub network_status: i64,
    /// Name of the active main package; `""` when none is active.
    pub current_package: String,
    pub package_total_mb: i64,
    #[serde(with = "rust_decimal::serde::float_option")]
    #[schema(value_type = Option<f64>)]
    pub package_virtual_mb: Option<Decimal>,
    #[serde(with = "rust_decimal::serde::float")]
    #[schema(value_type = f64)]
    pub package_used_mb: Decimal,
    #[serde(with = "rust_decimal::serde::float")]
    #[schema(value_type = f64)]
    pub package_remain_mb: Decimal,
    /// The live protect period of the device, or of the device a card is bound to.
    pub device_protect_status: ProtectStatus,
    pub activated_at: Option<String>,
    pub created_at: String,
    pub updated_at: String,
    pub iccid: String,
    pub bound_device_id: Option<u64>,
    pub bound_device_no: String,
    pub bound_device_name: String,
    pub bound_card_count: u32,
    pub cards: Vec<ResolvedCard>,
    pub device_name: String,
    pub imei: String,
    pub sn: String,
    pub device_model: String,
    pub device_type: String,
    pub max_sim_slots: u32,
    pub manufacturer: String,
    pub carrier_type: String,
    pub carrier_name: String,
    pub msisdn: String,
    pub imsi: String,
    pub card_category: String,
    pub supplier: String,
    pub activation_status: i64,
    pub enable_polling: bool,
}

impl Resolved {
    /// An answer about asset `asset_id` with every other field empty.
    fn blank(asset_type: AssetType, asset_id: u64, asset_status: AssetStatus) -> Self {
        Resolved {
            asset_type,
            asset_id,
            virtual_no: None,
            status: 0,
            asset_status,
            batch_no: None,
            shop_id: None,
            shop_name: None,
            series_id: None,
            series_name: None,
            real_name_status: 0,
            network_status: 0,
            current_package: String::new(),
            package_total_mb: 0,
            package_virtual_mb: None,
            package_used_mb: Decimal::ZERO,
            package_remain_mb: Decimal::ZERO,
            device_protect_status: ProtectStatus::None,
            activated_at: None,
            created_at: String::new(),
            updated_at: String::new(),
            iccid: String::new(),
            bound_device_id: None,
            bound_device_no: String::new(),
            bound_device_name: String::new(),
            bound_card_count: 0,
            cards: Vec::new(),
            device_name: String::new(),
            imei: String::new(),
            sn: String::new(),
            device_model: String::new(),
            device_type: String::new(),
            max_sim_slots: 0,
            manufacturer: String::new(),
            carrier_type: String::new(),
            carrier_name: String::new(),
            msisdn: String::new(),
            imsi: String::new(),
            card_category: String::new(),
            supplier: String::new(),
            activation_status: 0,
            enable_polling: false,
        }
    }
}

/// The identifier trimmed, and where it could be stored, in the order of the search
/// (devices first); `None` when it is empty.
fn candidates(identifier: &str) -> Option<[(IdentifierKind, String); 6]> {
    let id = identifier.trim();
    if id.is_empty() {
        return None;
    }
    let digits = id.strip_prefix('+').unwrap_or(id);
    Some([
        (IdentifierKind::DeviceVirtualNo, id.to_string()),
        (IdentifierKind::Imei, id.to_string()),
        (IdentifierKind::Sn, id.to_string()),
        (IdentifierKind::CardVirtualNo, id.to_string()),
        (IdentifierKind::Iccid, id.to_ascii_uppercase()),
        (IdentifierKind::Msisdn, digits.to_string()),
    ])
}

/// The uniqueness items `resolve` reads first, for reading ahead with the request's
/// authentication.
pub fn lookup_keys(identifier: &str) -> Vec<Key> {
    candidates(identifier).map_or_else(Vec::new, |c| identifier_keys(&c))
}

/// Finds the asset an identifier names and describes it (protect periods as of `now`);
/// `ahead` may hold the uniqueness items of [`lookup_keys`].
pub async fn resolve(
    store: &Store,
    caller: &Caller,
    identifier: &str,
    now: i64,
    ahead: Option<&Prefetched>,
) -> Result<Resolved, AssetError> {
    let Some(order) = candidates(identifier) else {
        return Err(Invalid::new("标识符不能为空", "identifier must not be empty").into());
    };
    let found = store.asset_ids(&order, ahead).await?;
    let hit = order
        .iter()
        .zip(found)
        .find_map(|((kind, _), target)| Some((kind.asset_type(), target?)));
    match hit {
        None => Err(AssetError::AssetNotFound),
        Some((AssetType::Device, id)) => device(store, caller, id, now).await,
        Some((AssetType::Card, id)) => card(store, caller, id, now).await,
    }
}

fn out_of_scope() -> AssetError {
    AssetError::Forbidden("the asset is outside your data scope")
}

fn take<T: serde::de::DeserializeOwned>(items: &[Item], key: &Key) -> Option<T> {
    items
        .iter()
        .find(|i| key.matches(i))
        .and_then(|i| from_item(i.clone()).ok())
}

async fn card(store: &Store, caller: &Caller, id: u64, now: i64) -> Result<Resolved, AssetError> {
    let c: IotCard = store
        .get_as(&keys::card(id))
        .await?
        .ok_or(AssetError::AssetNotFound)?;
    if c.deleted_at.is_some() {
        return Err(AssetError::AssetNotFound);
    }
    if !c.seen_by(caller) {
        return Err(out_of_scope());
    }
    let mut wanted = Vec::new();
    if let Some(s) = c.shop_id {
        wanted.push(keys::shop(s));
    }
    if let Some(d) = c.bound_device_id {
        wanted.push(keys::device(d));
        wanted.extend(protect_keys(d));
    }
    let (items, usages) = tokio::try_join!(
        store.get_many(&wanted),
        store.asset_usages(AssetType::Card, id)
    )?;
    let shop: Option<Shop> = c.shop_id.and_then(|s| take(&items, &keys::shop(s)));
    // A card bound to a soft-deleted device counts as standalone.
    let device: Option<Device> = c
        .bound_device_id
        .and_then(|d| take::<Device>(&items, &keys::device(d)))
        .filter(|d| d.deleted_at.is_none());
    let resolved = Resolved {
        virtual_no: c.virtual_no.clone(),
        status: c.status,
        batch_no: c.batch_no.clone(),
        shop_id: c.shop_id,
        shop_name: shop.map(|s| s.shop_name),
        series_id: c.series_id,
        real_name_status: c.real_name_status,
        network_status: c.network_status,
        device_protect_status: device
            .as_ref()
            .map(|d| protect_status_in(&items, d.id, now))
            .unwrap_or_default(),
        activated_at: c.activated_at.clone(),
        created_at: c.created_at.clone(),
        updated_at: c.updated_at.clone(),
        iccid: c.iccid.clone(),
        bound_device_id: device.as_ref().map(|d| d.id),
        bound_device_no: device
            .as_ref()
            .map(|d| d.virtual_no.clone())
            .unwrap_or_default(),
        bound_device_name: device
            .as_ref()
            .and_then(|d| d.device_name.clone())
            .unwrap_or_default(),
        carrier_type: c.carrier_type.clone(),
        carrier_name: c.carrier_name.clone(),
        msisdn: c.msisdn.clone().unwrap_or_default(),
        imsi: c.imsi.clone().unwrap_or_default(),
        card_category: c.card_category.clone().unwrap_or_default(),
        supplier: c.supplier.clone().unwrap_or_default(),
        activation_status: c.activation_status,
        enable_polling: c.enable_polling,
        ..Resolved::blank(AssetType::Card, c.id, c.asset_status)
    };
    Ok(with_package(resolved, &usages, c.generation))
}

/// `resolved` with its active main package of generation `generation` (name, real
/// total, stop threshold when virtual data is on, used and remaining as shown).
fn with_package(mut resolved: Resolved, usages: &[PackageUsage], generation: i64) -> Resolved {
    let current = usages
        .iter()
        .find(|u| u.generation == generation && u.is_current_main());
    if let Some(u) = current {
        let view = virtual_view(
            u.data_limit_mb,
            u.virtual_data_mb,
            u.enable_virtual_data,
            u.data_usage_mb,
        );
        resolved.current_package = u.package_name.clone();
        resolved.package_total_mb = u.data_limit_mb;
        resolved.package_virtual_mb = u
            .enable_virtual_data
            .then(|| Decimal::from(view.stop_threshold_mb));
        resolved.package_used_mb = Decimal::from(view.virtual_used_mb);
        resolved.package_remain_mb = Decimal::from(view.virtual_remain_mb);
    }
    resolved
}

async fn device(store: &Store, caller: &Caller, id: u64, now: i64) -> Result<Resolved, AssetError> {
    let d: Device = store
        .get_as(&keys::device(id))
        .await?
        .ok_or(AssetError::AssetNotFound)?;
    if d.deleted_at.is_some() {
        return Err(AssetError::AssetNotFound);
    }
    if !d.seen_by(caller) {
        return Err(out_of_scope());
    }
    let bindings: Vec<SimBinding> = store.sim_bindings(id).await?;
    let mut wanted: Vec<Key> = bindings.iter().map(|b| keys::card(b.iot_card_id)).collect();
    if let Some(s) = d.shop_id {
        wanted.push(keys::shop(s));
    }
    wanted.extend(protect_keys(id));
    let (items, usages) = tokio::try_join!(
        store.get_many(&wanted),
        store.asset_usages(AssetType::Device, id)
    )?;
    let shop: Option<Shop> = d.shop_id.and_then(|s| take(&items, &keys::shop(s)));
    let cards = bindings
        .iter()
        .filter_map(|b| {
            Some(ResolvedCard::new(
                take(&items, &keys::card(b.iot_card_id))?,
                b,
            ))
        })
        .collect::<Vec<_>>();
    let resolved = Resolved {
        virtual_no: Some(d.virtual_no.clone()),
        status: d.status,
        batch_no: d.batch_no.clone(),
        shop_id: d.shop_id,
        shop_name: shop.map(|s| s.shop_name),
        series_id: d.series_id,
        device_protect_status: protect_status_in(&items, id, now),
        activated_at: d.activated_at.clone(),
        created_at: d.created_at.clone(),
        updated_at: d.updated_at.clone(),
        bound_card_count: cards.len() as u32,
        cards,
        device_name: d.device_name.clone().unwrap_or_default(),
        imei: d.imei.clone().unwrap_or_default(),
        sn: d.sn.clone().unwrap_or_default(),
        device_model: d.device_model.clone().unwrap_or_default(),
        device_type: d.device_type.clone().unwrap_or_default(),
        max_sim_slots: d.max_sim_slots,
        manufacturer: d.manufacturer.clone().unwrap_or_default(),
        ..Resolved::blank(AssetType::Device, d.id, d.asset_status)
    };
    Ok(with_package(resolved, &usages, d.generation))
}
