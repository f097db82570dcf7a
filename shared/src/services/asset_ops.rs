//! Asset operations through the carrier gateway (api.md §18, domain.md §5.13, §6.6):
//! persisted status, refresh (device cooldown 30 s), card stop/start by ICCID, device
//! stop/start with 1-hour protect periods.
//!
//! Protect periods and the cooldown are TTL items (`PROTECT#device#<id>` with sort
//! key `stop`/`start`, `COOLDOWN#refresh#device#<id>`), written with
//! `attribute_not_exists(pk) OR expires_at <= :now` and read as absent once expired,
//! whether or not DynamoDB has deleted them yet.

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::assets::{require_asset_admin, visible, AssetError};
use crate::app::AppState;
use crate::clock::rfc3339;
use crate::domain::assets::{Device, IotCard};
use crate::domain::caller::Caller;
use crate::integrations::gateway::client::{GatewayClient, GatewayError};
use crate::integrations::gateway::types::WifiReq;
use crate::services::devices::bindings;
use crate::store::assets::{card_item, card_key};
use crate::store::tx::Cond;
use crate::store::{n, ttl, Item, Key, Store, StoreError};

/// Length of a device protect period.
pub const PROTECT_SECS: i64 = 3600;
/// Device refresh cooldown.
pub const REFRESH_COOLDOWN_SECS: i64 = 30;

/// Failures of asset operations.
#[derive(Debug, thiserror::Error)]
pub enum OpsError {
    #[error(transparent)]
    Asset(#[from] AssetError),
    #[error(transparent)]
    Gateway(#[from] GatewayError),
    #[error("the carrier gateway is not configured")]
    NoGateway,
    #[error("do not refresh too often")]
    Cooldown,
    #[error("the device is in a protect period")]
    Protected,
    #[error("unverified cards cannot be stopped or started")]
    NotVerified,
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl crate::codes::BusinessError for OpsError {
    fn code(&self) -> crate::codes::Code {
        use crate::codes::Code;
        match self {
            OpsError::Asset(e) => e.code(),
            OpsError::Gateway(e) => e.code(),
            OpsError::NoGateway => Code::GATEWAY_ERROR,
            OpsError::Cooldown => Code::REFRESH_COOLDOWN,
            OpsError::Protected => Code::PROTECT_PERIOD,
            OpsError::NotVerified => Code::CARD_NOT_VERIFIED,
            OpsError::Store(_) => Code::DATABASE,
        }
    }

    fn shows_message(&self) -> bool {
        match self {
            OpsError::Gateway(_) | OpsError::NoGateway => true,
            OpsError::Asset(e) => e.shows_message(),
            _ => !self.code().http_status().is_server_error(),
        }
    }
}

/// Stop or start.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    Stop,
    Start,
}

impl Direction {
    fn as_str(self) -> &'static str {
        match self {
            Direction::Stop => "stop",
            Direction::Start => "start",
        }
    }

    fn opposite(self) -> Direction {
        match self {
            Direction::Stop => Direction::Start,
            Direction::Start => Direction::Stop,
        }
    }
}

/// Protect-period item of a device.
pub fn protect_key(device_id: u64, dir: Direction) -> Key {
    Key::new(format!("PROTECT#device#{device_id}"), dir.as_str())
}

fn cooldown_key(device_id: u64) -> Key {
    Key::new(format!("COOLDOWN#refresh#device#{device_id}"), "#")
}

/// The live protect period of a device (`none`, `stop` or `start`).
pub async fn protect_status(
    store: &Store,
    device_id: u64,
    now: i64,
) -> Result<&'static str, StoreError> {
    let items = store
        .get_many(&[
            protect_key(device_id, Direction::Stop),
            protect_key(device_id, Direction::Start),
        ])
        .await?;
    let live = |dir: Direction| {
        items.iter().any(|i| {
            crate::store::str_attr(i, "sk") == Some(dir.as_str()) && !ttl::is_expired(i, now)
        })
    };
    Ok(if live(Direction::Stop) {
        "stop"
    } else if live(Direction::Start) {
        "start"
    } else {
        "none"
    })
}

fn gateway(state: &AppState) -> Result<&GatewayClient, OpsError> {
    state.gateway().ok_or(OpsError::NoGateway)
}

fn card_status(c: &IotCard) -> Value {
    json!({
        "card_id": c.id, "iccid": c.iccid, "msisdn": c.msisdn, "virtual_no": c.virtual_no,
        "network_status": c.network_status, "real_name_status": c.real_name_status,
        "current_month_usage_mb": c.current_month_usage_mb, "last_sync_at": c.last_sync_time,
        "slot_position": c.slot_position,
    })
}

/// Persisted status (no gateway call).
pub async fn realtime_status(
    state: &AppState,
    caller: &Caller,
    asset_type: &str,
    id: u64,
) -> Result<Value, OpsError> {
    require_asset_admin(caller)?;
    let store = &state.store;
    match asset_type {
        "card" => {
            let c: IotCard = visible(store, caller, id).await?;
            Ok(json!({
                "asset_type": "card", "asset_id": c.id, "network_status": c.network_status,
                "real_name_status": c.real_name_status, "current_month_usage_mb": c.current_month_usage_mb,
                "last_sync_time": c.last_sync_time,
            }))
        }
        "device" => {
            let d: Device = visible(store, caller, id).await?;
            let cards = device_cards(store, d.id).await?;
            Ok(json!({
                "asset_type": "device", "asset_id": d.id,
                "device_protect_status": protect_status(store, d.id, state.clock.now()).await?,
                "cards": cards.iter().map(card_status).collect::<Vec<_>>(),
            }))
        }
        _ => Err(AssetError::Invalid(crate::domain::validate::Invalid(
            "asset_type must be card or device".into(),
        ))
        .into()),
    }
}

async fn device_cards(store: &Store, device_id: u64) -> Result<Vec<IotCard>, StoreError> {
    let keys: Vec<Key> = bindings(store, device_id)
        .await?
        .iter()
        .map(|b| card_key(b.iot_card_id))
        .collect();
    Ok(store
        .entities::<IotCard>(&keys)
        .await?
        .into_iter()
        .filter(|c| c.deleted_at.is_none())
        .collect())
}

/// Pulls a card's status, real-name status and usage from the gateway and stores them.
async fn sync_card(state: &AppState, card: &IotCard) -> Result<IotCard, OpsError> {
    let gw = gateway(state)?;
    let status = gw.card_status(&card.iccid).await?;
    let real = gw.realname(&card.iccid).await?;
    let flow = gw.flow(&card.iccid).await?;
    let mut c = card.clone();
    c.network_status = status.status;
    c.real_name_status = if real.real_status { 2 } else { 0 };
    c.current_month_usage_mb = flow.used;
    let now = rfc3339(state.clock.now());
    c.last_sync_time = Some(now.clone());
    save_card(&state.store, card, c, &now).await
}

async fn save_card(
    store: &Store,
    old: &IotCard,
    mut c: IotCard,
    now: &str,
) -> Result<IotCard, OpsError> {
    c.updated_at = now.to_string();
    c.version = old.version + 1;
    store
        .put_if(
            "card",
            card_item(&c)?,
            Cond::live().and(Cond::version(old.version)),
        )
        .await
        .map_err(|e| match e {
            StoreError::ConditionFailed { .. } => AssetError::VersionConflict.into(),
            other => OpsError::Store(other),
        })?;
    Ok(c)
}

/// Refreshes a card, or every card of a device (at most once per 30 s per device).
pub async fn refresh(
    state: &AppState,
    caller: &Caller,
    asset_type: &str,
    id: u64,
) -> Result<Value, OpsError> {
    require_asset_admin(caller)?;
    let store = &state.store;
    let now = state.clock.now();
    match asset_type {
        "card" => {
            let c: IotCard = visible(store, caller, id).await?;
            sync_card(state, &c).await?;
        }
        "device" => {
            let d: Device = visible(store, caller, id).await?;
            gateway(state)?;
            let mut item: Item = cooldown_key(d.id).item();
            item.insert("expires_at".into(), n(now + REFRESH_COOLDOWN_SECS));
            store
                .put_if("cooldown", item, Cond::absent_or_expired(now))
                .await
                .map_err(|e| match e {
                    StoreError::ConditionFailed { .. } => OpsError::Cooldown,
                    other => other.into(),
                })?;
            for c in device_cards(store, d.id).await? {
                sync_card(state, &c).await?;
            }
        }
        _ => return realtime_status(state, caller, asset_type, id).await,
    }
    realtime_status(state, caller, asset_type, id).await
}

/// Stops or starts one card by ICCID: verified cards only, refused while its device's
/// protect period runs in the opposite direction.
pub async fn card_switch(
    state: &AppState,
    caller: &Caller,
    iccid: &str,
    dir: Direction,
) -> Result<(), OpsError> {
    require_asset_admin(caller)?;
    let store = &state.store;
    let iccid = crate::domain::identifiers::Iccid::parse(iccid)
        .map_err(AssetError::from)?
        .to_string();
    let card = assets_find_card(store, &iccid).await?;
    if !caller.sees_shop_owned(card.owner_path.as_ref()) {
        return Err(AssetError::AssetNotFound.into());
    }
    if card.real_name_status != 2 {
        return Err(OpsError::NotVerified);
    }
    let now = state.clock.now();
    if let Some(device) = card.bound_device_id {
        let opposite = store
            .get_live(&protect_key(device, dir.opposite()), now)
            .await?;
        if opposite.is_some() {
            return Err(OpsError::Protected);
        }
    }
    gateway(state)?
        .switch_card_network(&card.iccid, dir == Direction::Stop)
        .await?;
    record_switch(store, &card, dir, now).await
}

async fn assets_find_card(store: &Store, iccid: &str) -> Result<IotCard, OpsError> {
    let found = crate::services::assets::find::<IotCard>(store, "iccid", iccid).await?;
    found
        .filter(|c| c.deleted_at.is_none())
        .ok_or(OpsError::Asset(AssetError::AssetNotFound))
}

async fn record_switch(
    store: &Store,
    card: &IotCard,
    dir: Direction,
    now: i64,
) -> Result<(), OpsError> {
    let at = rfc3339(now);
    let mut c = card.clone();
    match dir {
        Direction::Stop => {
            c.network_status = 0;
            c.stopped_at = Some(at.clone());
            c.stop_reason = Some("manual".into());
        }
        Direction::Start => {
            c.network_status = 1;
            c.resumed_at = Some(at.clone());
        }
    }
    save_card(store, card, c, &at).await?;
    Ok(())
}

/// A card that a device stop/start could not switch.
#[derive(Debug, Serialize, Deserialize)]
pub struct FailedCard {
    pub iccid: String,
    pub reason: String,
}

/// Outcome of a device stop/start.
#[derive(Debug, Serialize, Deserialize)]
pub struct DeviceSwitch {
    pub success_count: u64,
    /// Unverified cards are skipped, not failed.
    pub skipped_count: u64,
    pub failed_cards: Vec<FailedCard>,
}

/// Stops or starts every verified card of a device and sets the 1-hour protect period
/// (a stop keeps it even when some cards fail; a start that fails for every card
/// answers 1110 and sets none). Refused while any protect period is live.
pub async fn device_switch(
    state: &AppState,
    caller: &Caller,
    id: u64,
    dir: Direction,
) -> Result<DeviceSwitch, OpsError> {
    require_asset_admin(caller)?;
    let store = &state.store;
    let d: Device = visible(store, caller, id).await?;
    let gw = gateway(state)?;
    let now = state.clock.now();
    if store
        .get_live(&protect_key(d.id, dir.opposite()), now)
        .await?
        .is_some()
    {
        return Err(OpsError::Protected);
    }
    // Claim this direction's protect item first: two concurrent requests cannot both act.
    let mut item: Item = protect_key(d.id, dir).item();
    item.insert("expires_at".into(), n(now + PROTECT_SECS));
    store
        .put_if("protect", item, Cond::absent_or_expired(now))
        .await
        .map_err(|e| match e {
            StoreError::ConditionFailed { .. } => OpsError::Protected,
            other => other.into(),
        })?;
    let mut out = DeviceSwitch {
        success_count: 0,
        skipped_count: 0,
        failed_cards: Vec::new(),
    };
    let mut last_error = None;
    for card in device_cards(store, d.id).await? {
        if card.real_name_status != 2 {
            out.skipped_count += 1;
            continue;
        }
        match gw
            .switch_card_network(&card.iccid, dir == Direction::Stop)
            .await
        {
            Ok(_) => {
                record_switch(store, &card, dir, now).await?;
                out.success_count += 1;
            }
            Err(e) => {
                tracing::warn!(iccid = %card.iccid, error = %e, "device card switch failed");
                out.failed_cards.push(FailedCard {
                    iccid: card.iccid.clone(),
                    reason: e.to_string(),
                });
                last_error = Some(e);
            }
        }
    }
    if dir == Direction::Start && out.success_count == 0 {
        if let Some(e) = last_error {
            store.delete(&protect_key(d.id, dir)).await?;
            return Err(e.into());
        }
    }
    Ok(out)
}

/// `POST /api/admin/devices/:id/speed-limit` body.
#[derive(Debug, Deserialize)]
pub struct SpeedLimit {
    /// KB/s, at least 1.
    pub speed_limit: i64,
}

/// `POST /api/admin/devices/:id/wifi` body.
#[derive(Debug, Deserialize)]
pub struct Wifi {
    pub ssid: String,
    pub password: Option<String>,
    pub enabled: bool,
}

/// `POST /api/admin/devices/:id/switch-card` body.
#[derive(Debug, Deserialize)]
pub struct SwitchCard {
    /// ICCID of a card bound to the device.
    pub target_iccid: String,
}

/// A device command.
#[derive(Debug)]
pub enum Command {
    SpeedLimit(SpeedLimit),
    Wifi(Wifi),
    SwitchCard(SwitchCard),
    Reboot,
    FactoryReset,
}

/// Sends a command to a visible device (identified at the gateway by its IMEI).
pub async fn device_command(
    state: &AppState,
    caller: &Caller,
    id: u64,
    cmd: Command,
) -> Result<(), OpsError> {
    use crate::domain::validate::Invalid;
    require_asset_admin(caller)?;
    let store = &state.store;
    let d: Device = visible(store, caller, id).await?;
    let gw = gateway(state)?;
    let imei = d
        .imei
        .clone()
        .ok_or_else(|| AssetError::Invalid(Invalid("the device has no IMEI registered".into())))?;
    let cards = device_cards(store, d.id).await?;
    match &cmd {
        Command::SpeedLimit(sl) => {
            if sl.speed_limit < 1 {
                return Err(AssetError::Invalid(Invalid(
                    "speed_limit must be at least 1 (KB/s)".into(),
                ))
                .into());
            }
            gw.speed_limit(&imei, sl.speed_limit).await?;
        }
        Command::Wifi(w) => {
            if !(1..=32).contains(&w.ssid.chars().count()) {
                return Err(
                    AssetError::Invalid(Invalid("ssid must be 1-32 characters".into())).into(),
                );
            }
            let card = cards
                .iter()
                .min_by_key(|c| c.slot_position)
                .ok_or_else(|| AssetError::Invalid(Invalid("the device has no card".into())))?;
            let req = WifiReq {
                card_no: &card.iccid,
                device_id: Some(&imei),
                ssid: &w.ssid,
                password: w.password.as_deref(),
                enabled: w.enabled,
            };
            gw.wifi(&req).await?;
        }
        Command::SwitchCard(sc) => {
            let target = crate::domain::identifiers::Iccid::parse(&sc.target_iccid)
                .map_err(AssetError::from)?;
            if !cards.iter().any(|c| c.iccid == target.as_str()) {
                return Err(AssetError::Invalid(Invalid(
                    "target_iccid is not bound to this device".into(),
                ))
                .into());
            }
            gw.switch_device_card(&imei, target.as_str()).await?;
        }
        Command::Reboot => gw.reboot(&imei).await?,
        Command::FactoryReset => gw.factory_reset(&imei).await?,
    }
    Ok(())
}
