//! Asset operations through the carrier gateway (api.md §18, domain.md §5.13, §6.6):
//! persisted status, refresh (device cooldown 30 s), card stop/start by ICCID, device
//! stop/start with 1-hour protect periods. Protect periods and the cooldown are TTL
//! items, claimed and read through the asset repository.

use rust_decimal::prelude::FromPrimitive;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use super::assets::{find, save_error, visible, Asset, AssetError};
use super::resolve::ResolvedCard;
use crate::app::AppState;
use crate::clock::rfc3339;
use crate::domain::assets::{
    AssetType, Device, Direction, IdentifierKind, IotCard, ProtectStatus, SimBinding,
};
use crate::domain::caller::Caller;
use crate::domain::identifiers::Iccid;
use crate::domain::polling::TaskType;
use crate::domain::stamp::Stamped;
use crate::domain::validate::Invalid;
use crate::integrations::gateway::client::{GatewayClient, GatewayError};
use crate::integrations::gateway::types::WifiReq;
use crate::store::assets::card_item;
use crate::store::{Store, StoreError};

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
    /// A gateway failure as callers other than platform staff see it: its kind and
    /// the gateway's own code; URLs, network errors and upstream texts go to the log.
    #[error("carrier gateway error (gateway code {})", gateway_code.map_or("-".to_string(), |c| c.to_string()))]
    GatewayHidden {
        code: crate::codes::Code,
        gateway_code: Option<i64>,
    },
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
    /// The gateway's app secret could not be read.
    #[error(transparent)]
    Keys(#[from] crate::app::KeysUnavailable),
}

impl crate::codes::BusinessError for OpsError {
    fn code(&self) -> crate::codes::Code {
        use crate::codes::Code;
        match self {
            OpsError::Asset(e) => e.code(),
            OpsError::Gateway(e) => e.code(),
            OpsError::GatewayHidden { code, .. } => *code,
            OpsError::NoGateway => Code::GATEWAY_ERROR,
            OpsError::Cooldown => Code::REFRESH_COOLDOWN,
            OpsError::Protected => Code::PROTECT_PERIOD,
            OpsError::NotVerified => Code::CARD_NOT_VERIFIED,
            OpsError::Store(e) => e.code(),
            OpsError::Keys(e) => e.code(),
        }
    }

    fn detail(&self) -> Option<crate::codes::Text> {
        match self {
            OpsError::Asset(e) => e.detail(),
            OpsError::Gateway(e) => e.detail(),
            OpsError::GatewayHidden { gateway_code, .. } => {
                let code = gateway_code.map_or("-".to_string(), |c| c.to_string());
                Some(crate::codes::Text::new(
                    format!("运营商网关错误(网关代码 {code})"),
                    self.to_string(),
                ))
            }
            _ => None,
        }
    }

    fn shows_message(&self) -> bool {
        match self {
            OpsError::Gateway(_) | OpsError::GatewayHidden { .. } | OpsError::NoGateway => true,
            OpsError::Asset(e) => e.shows_message(),
            _ => !self.code().http_status().is_server_error(),
        }
    }
}

impl OpsError {
    /// What `caller` may see of a gateway failure: platform staff the upstream
    /// reason; everyone else its kind and the gateway's code (the reason is logged).
    fn for_caller(self, caller: &Caller) -> Self {
        match self {
            OpsError::Gateway(e) if !caller.is_platform() => {
                tracing::warn!(error = %e, "gateway failure shown without its upstream text");
                let gateway_code = match &e {
                    GatewayError::Business { code, .. } => Some(*code),
                    GatewayError::Status(s) => Some(i64::from(*s)),
                    _ => None,
                };
                OpsError::GatewayHidden {
                    code: crate::codes::BusinessError::code(&e),
                    gateway_code,
                }
            }
            other => other,
        }
    }
}

impl From<Invalid> for OpsError {
    fn from(e: Invalid) -> Self {
        OpsError::Asset(e.into())
    }
}

async fn gateway(state: &AppState) -> Result<&GatewayClient, OpsError> {
    state.gateway().await?.ok_or(OpsError::NoGateway)
}

/// Persisted status of a card.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct CardStatus {
    pub asset_type: AssetType,
    pub asset_id: u64,
    pub network_status: i64,
    pub real_name_status: i64,
    #[serde(with = "rust_decimal::serde::float")]
    #[schema(value_type = f64)]
    pub current_month_usage_mb: Decimal,
    pub last_sync_time: Option<String>,
}

/// Persisted status of a device: its protect period and its cards.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct DeviceStatus {
    pub asset_type: AssetType,
    pub asset_id: u64,
    pub device_protect_status: ProtectStatus,
    pub cards: Vec<ResolvedCard>,
}

/// The realtime-status (and refresh) answer.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(untagged)]
pub enum StatusView {
    Card(CardStatus),
    Device(DeviceStatus),
}

/// Persisted status (no gateway call).
pub async fn realtime_status(
    state: &AppState,
    caller: &Caller,
    asset_type: AssetType,
    id: u64,
) -> Result<StatusView, OpsError> {
    let store = &state.store;
    Ok(match asset_type {
        AssetType::Card => {
            let c: IotCard = visible(store, caller, id).await?;
            StatusView::Card(CardStatus {
                asset_type,
                asset_id: c.id,
                network_status: c.network_status,
                real_name_status: c.real_name_status,
                current_month_usage_mb: c.current_month_usage_mb,
                last_sync_time: c.last_sync_time,
            })
        }
        AssetType::Device => {
            let d: Device = visible(store, caller, id).await?;
            let cards = device_cards(store, d.id).await?;
            StatusView::Device(DeviceStatus {
                asset_type,
                asset_id: d.id,
                device_protect_status: store.device_protect_status(d.id, state.clock.now()).await?,
                cards: cards
                    .into_iter()
                    .map(|(b, c)| ResolvedCard::new(c, &b))
                    .collect(),
            })
        }
    })
}

/// The live cards bound to a device, by slot.
async fn device_cards(
    store: &Store,
    device_id: u64,
) -> Result<Vec<(SimBinding, IotCard)>, StoreError> {
    Ok(store
        .bound_cards(device_id)
        .await?
        .into_iter()
        .filter(|(_, c)| c.deleted_at.is_none())
        .collect())
}

/// Pulls a card's status, real-name status and usage from the gateway and stores them
/// (a change made by account `by`).
async fn sync_card(state: &AppState, by: u64, card: &IotCard) -> Result<IotCard, OpsError> {
    let gw = gateway(state).await?;
    // The three reads run at once: a card's worst case is one gateway call's.
    let (status, real, flow) = tokio::join!(
        gw.card_status(&card.iccid),
        gw.realname(&card.iccid),
        gw.flow(&card.iccid)
    );
    let (status, real, flow) = (status?, real?, flow?);
    let used = Decimal::from_f64(flow.used).ok_or_else(|| {
        GatewayError::InvalidResponse(format!("flow usage {} is not a number", flow.used))
    })?;
    let now = state.clock.now();
    let mut c = card.clone();
    c.set_carrier_view(status.status, real.real_status, used, rfc3339(now));
    save_card(&state.store, card, c, by, now).await
}

/// Syncs `cards` (a device's) all at once, so a device's worst case is one card's;
/// every card is tried, and the first failure in slot order is answered.
async fn sync_cards(state: &AppState, by: u64, cards: Vec<IotCard>) -> Result<(), OpsError> {
    let mut set = tokio::task::JoinSet::new();
    for (slot, card) in cards.into_iter().enumerate() {
        let state = state.clone();
        set.spawn(crate::store::calls::inherit(async move {
            (slot, sync_card(&state, by, &card).await)
        }));
    }
    let mut first: Option<(usize, OpsError)> = None;
    while let Some(done) = set.join_next().await {
        let (slot, res) =
            done.map_err(|e| OpsError::from(StoreError::Dynamo(format!("card sync: {e}"))))?;
        if let Err(e) = res {
            if first.as_ref().is_none_or(|(s, _)| slot < *s) {
                first = Some((slot, e));
            }
        }
    }
    first.map_or(Ok(()), |(_, e)| Err(e))
}

/// Stores a card changed by account `by`, provided nobody changed it since `old` was
/// read.
async fn save_card(
    store: &Store,
    old: &IotCard,
    mut c: IotCard,
    by: u64,
    now: i64,
) -> Result<IotCard, OpsError> {
    c.touch(by, now);
    store
        .save_asset(card_item(&c)?, old.version, c.id, &[])
        .await
        .map_err(save_error)?;
    Ok(c)
}

/// Refreshes a card, or every card of a device (at most once per 30 s per device).
pub async fn refresh(
    state: &AppState,
    caller: &Caller,
    asset_type: AssetType,
    id: u64,
) -> Result<StatusView, OpsError> {
    async {
        let store = &state.store;
        let now = state.clock.now();
        // Every refresh costs gateway calls: cards and devices alike get the cooldown.
        let cooldown = |id: u64| async move {
            store
                .claim_refresh_cooldown(asset_type, id, now, now + REFRESH_COOLDOWN_SECS)
                .await
                .map_err(|e| match e {
                    StoreError::ConditionFailed { .. } => OpsError::Cooldown,
                    other => other.into(),
                })
        };
        match asset_type {
            AssetType::Card => {
                let c: IotCard = visible(store, caller, id).await?;
                gateway(state).await?;
                cooldown(c.id).await?;
                sync_card(state, caller.account_id, &c).await?;
            }
            AssetType::Device => {
                let d: Device = visible(store, caller, id).await?;
                gateway(state).await?;
                cooldown(d.id).await?;
                let cards = device_cards(store, d.id).await?;
                sync_cards(
                    state,
                    caller.account_id,
                    cards.into_iter().map(|(_, c)| c).collect(),
                )
                .await?;
            }
        }
        realtime_status(state, caller, asset_type, id).await
    }
    .await
    .map_err(|e| e.for_caller(caller))
}

/// Stops or starts one card by ICCID: verified cards only, refused while its device's
/// protect period runs in the opposite direction.
pub async fn card_switch(
    state: &AppState,
    caller: &Caller,
    iccid: &str,
    dir: Direction,
) -> Result<(), OpsError> {
    async {
        let store = &state.store;
        let iccid = Iccid::parse(iccid)?.to_string();
        let card = find::<IotCard>(store, IdentifierKind::Iccid, &iccid)
            .await?
            .filter(|c| c.deleted_at.is_none())
            .ok_or(AssetError::AssetNotFound)?;
        if !card.seen_by(caller) {
            return Err(AssetError::AssetNotFound.into());
        }
        if !card.is_verified() {
            return Err(OpsError::NotVerified);
        }
        let now = state.clock.now();
        if let Some(device) = card.bound_device_id {
            if store
                .device_protect_live(device, dir.opposite(), now)
                .await?
            {
                return Err(OpsError::Protected);
            }
        }
        gateway(state)
            .await?
            .switch_card_network(&card.iccid, dir == Direction::Stop)
            .await?;
        record_switch(store, caller.account_id, &card, dir, now).await
    }
    .await
    .map_err(|e| e.for_caller(caller))
}

/// Stores a card's manual stop or start by account `by`.
async fn record_switch(
    store: &Store,
    by: u64,
    card: &IotCard,
    dir: Direction,
    now: i64,
) -> Result<(), OpsError> {
    let mut c = card.clone();
    c.switch(dir, rfc3339(now));
    c.touch(by, now);
    store
        .save_switched_card(card_item(&c)?, card.version, card.bound_device_id, dir, now)
        .await
        .map_err(|e| match e.failed_label() {
            Some("protect") => OpsError::Protected,
            _ => save_error(e).into(),
        })
}

/// A card that a device stop/start could not switch.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct FailedCard {
    pub iccid: String,
    pub reason: String,
}

/// Outcome of a device stop or start (a start answers `null` to the client).
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct DeviceSwitch {
    pub success_count: u64,
    /// Unverified cards are skipped, not failed.
    pub skipped_count: u64,
    pub failed_cards: Vec<FailedCard>,
    /// A one-line summary for the operator.
    pub message: String,
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
    async {
        let store = &state.store;
        let d: Device = visible(store, caller, id).await?;
        let gw = gateway(state).await?;
        let now = state.clock.now();
        if store.device_protect_live(d.id, dir.opposite(), now).await? {
            return Err(OpsError::Protected);
        }
        // Claim this direction's protect item first: two concurrent requests cannot both act.
        store
            .claim_device_protect(d.id, dir, now, now + PROTECT_SECS)
            .await
            .map_err(|e| match e {
                StoreError::ConditionFailed { .. } => OpsError::Protected,
                other => other.into(),
            })?;
        let mut success_count = 0;
        let mut skipped_count = 0;
        let mut failed_cards = Vec::new();
        let mut last_error = None;
        let cards = device_cards(store, d.id).await?;
        // The protect consistency checks (J8) watch the cards while the period runs.
        let ids: Vec<u64> = cards.iter().map(|(_, c)| c.id).collect();
        crate::services::polling::schedule_now(store, TaskType::Protect, &ids, now).await?;
        // The cards are switched one by one within one gateway call's worst case: a
        // card whose turn comes (or whose call runs) past it fails as a timeout.
        let deadline = tokio::time::Instant::now() + gw.worst_case();
        for (_, card) in cards {
            if !card.is_verified() {
                skipped_count += 1;
                continue;
            }
            let call = gw.switch_card_network(&card.iccid, dir == Direction::Stop);
            let res = tokio::time::timeout_at(deadline, call)
                .await
                .unwrap_or(Err(GatewayError::Timeout));
            match res {
                Ok(_) => {
                    record_switch(store, caller.account_id, &card, dir, now).await?;
                    success_count += 1;
                }
                Err(e) => {
                    tracing::warn!(iccid = %card.iccid, error = %e, "device card switch failed");
                    failed_cards.push(FailedCard {
                        iccid: card.iccid.clone(),
                        reason: OpsError::from(e.clone()).for_caller(caller).to_string(),
                    });
                    last_error = Some(e);
                }
            }
        }
        if dir == Direction::Start && success_count == 0 {
            if let Some(e) = last_error {
                store.release_device_protect(d.id, dir).await?;
                return Err(e.into());
            }
        }
        let message = format!(
            "{} {success_count} card(s); {skipped_count} unverified skipped, {} failed",
            match dir {
                Direction::Stop => "stopped",
                Direction::Start => "started",
            },
            failed_cards.len()
        );
        Ok(DeviceSwitch {
            success_count,
            skipped_count,
            failed_cards,
            message,
        })
    }
    .await
    .map_err(|e| e.for_caller(caller))
}

/// `POST /api/admin/devices/:id/speed-limit` body.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct SpeedLimit {
    /// KB/s, at least 1.
    pub speed_limit: i64,
}

/// `POST /api/admin/devices/:id/wifi` body.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct Wifi {
    pub ssid: String,
    pub password: Option<String>,
    pub enabled: bool,
}

/// `POST /api/admin/devices/:id/switch-card` body.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
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
    async {
        let store = &state.store;
        let d: Device = visible(store, caller, id).await?;
        let gw = gateway(state).await?;
        let imei = d.imei.clone().ok_or_else(|| {
            AssetError::Invalid(Invalid::new(
                "该设备未登记IMEI",
                "the device has no IMEI registered",
            ))
        })?;
        let cards: Vec<IotCard> = device_cards(store, d.id)
            .await?
            .into_iter()
            .map(|(_, c)| c)
            .collect();
        match &cmd {
            Command::SpeedLimit(sl) => {
                if sl.speed_limit < 1 {
                    return Err(AssetError::Invalid(Invalid::new(
                        "speed_limit至少为1(KB/s)",
                        "speed_limit must be at least 1 (KB/s)",
                    ))
                    .into());
                }
                gw.speed_limit(&imei, sl.speed_limit).await?;
            }
            Command::Wifi(w) => {
                if !(1..=32).contains(&w.ssid.chars().count()) {
                    return Err(AssetError::Invalid(Invalid::new(
                        "ssid须为1-32个字符",
                        "ssid must be 1-32 characters",
                    ))
                    .into());
                }
                let card = cards
                    .iter()
                    .min_by_key(|c| c.slot_position)
                    .ok_or_else(|| {
                        AssetError::Invalid(Invalid::new("该设备没有卡", "the device has no card"))
                    })?;
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
                let target = Iccid::parse(&sc.target_iccid)?;
                if !cards.iter().any(|c| c.iccid == target.as_str()) {
                    return Err(AssetError::Invalid(Invalid::new(
                        "target_iccid未绑定到该设备",
                        "target_iccid is not bound to this device",
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
    .await
    .map_err(|e: OpsError| e.for_caller(caller))
}
