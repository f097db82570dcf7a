//! Devices: lists, edits, soft delete, SIM-slot bindings (api.md §8).

use serde::{Deserialize, Serialize};

use super::assets::{
    self, require_asset_admin, save_error, visible, with_shop_names, without_device_grant,
    AssetError, AssetFilter, CursorPage,
};
use crate::clock::rfc3339;
use crate::domain::assets::AssetType;
use crate::domain::assets::{Device, IdentifierKind, IotCard, SimBinding};
use crate::domain::authorization::{
    add_grant, ended, remove_grants, AuthGrant, AuthorizationRecord, EndReason, Granted,
};
use crate::domain::caller::{Caller, SA_PL};
use crate::domain::entities::Enterprise;
use crate::domain::identifiers::{Imei, Sn, VirtualNo};
use crate::domain::stamp::Stamped;
use crate::domain::validate::{self, Invalid};
use crate::store::assets::{card_item, device_item, BindConflict, UniqueSwap};
use crate::store::authorizations::{CardEnds, Carry, RECORD_IDS};
use crate::store::{keys, Key, Store, StoreError};

/// Exact-identifier filters of devices.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DeviceFilter {
    pub virtual_no: Option<String>,
    pub imei: Option<String>,
    pub sn: Option<String>,
    /// Virtual-number prefix.
    pub virtual_no_prefix: Option<String>,
}

/// A device as listed: with its owner shop's name.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct DeviceView {
    #[serde(flatten)]
    pub device: Device,
    pub shop_name: Option<String>,
}

/// `PUT /api/admin/devices/:id` body; absent fields stay, `""` clears optional text.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct UpdateDevice {
    pub virtual_no: Option<String>,
    pub imei: Option<String>,
    pub sn: Option<String>,
    pub device_name: Option<String>,
    pub device_model: Option<String>,
    pub device_type: Option<String>,
    pub manufacturer: Option<String>,
    pub max_sim_slots: Option<u32>,
    pub version: Option<i64>,
}

/// `POST /api/admin/devices/:id/cards` body.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct BindCard {
    pub iot_card_id: u64,
    pub slot_position: u32,
}

/// A bound card as listed under its device.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct BoundCard {
    pub slot_position: u32,
    pub bound_at: String,
    pub card: IotCard,
}

/// A page of devices visible to the caller (an enterprise account: those authorised
/// to it).
pub async fn list(
    store: &Store,
    caller: &Caller,
    exact: &DeviceFilter,
    mut f: AssetFilter,
) -> Result<CursorPage<DeviceView>, AssetError> {
    let lookup = match (&exact.virtual_no, &exact.imei, &exact.sn) {
        (Some(v), _, _) if !v.trim().is_empty() => Some((
            IdentifierKind::DeviceVirtualNo,
            VirtualNo::parse(v)?.to_string(),
        )),
        (_, Some(i), _) if !i.trim().is_empty() => {
            Some((IdentifierKind::Imei, Imei::parse(i)?.to_string()))
        }
        (_, _, Some(s)) if !s.trim().is_empty() => {
            Some((IdentifierKind::Sn, Sn::parse(s)?.to_string()))
        }
        _ => None,
    };
    f.prefix = exact.virtual_no_prefix.clone();
    let page = assets::list::<Device>(store, caller, lookup, &f, false).await?;
    with_shop_names(store, page, |device, shop_name| DeviceView {
        device,
        shop_name,
    })
    .await
}

/// Edits identifiers (each unique) and descriptive fields.
pub async fn update(
    store: &Store,
    caller: &Caller,
    now: i64,
    id: u64,
    req: UpdateDevice,
) -> Result<Device, AssetError> {
    require_asset_admin(caller)?;
    let old: Device = visible(store, caller, id).await?;
    if req.version.is_some_and(|v| v != old.version) {
        return Err(AssetError::VersionConflict);
    }
    if (req.imei.is_some() || req.sn.is_some()) && !caller.is_platform() {
        // Gateway commands are addressed by IMEI: an agent re-pointing its device's
        // IMEI could reset someone else's device.
        return Err(AssetError::Forbidden(
            "imei and sn are set by platform staff only",
        ));
    }
    let mut d = old.clone();
    if let Some(v) = &req.virtual_no {
        d.virtual_no = VirtualNo::parse(v)?.to_string();
    }
    if let Some(v) = &req.imei {
        d.imei = if v.trim().is_empty() {
            None
        } else {
            Some(Imei::parse(v)?.to_string())
        };
    }
    if let Some(v) = &req.sn {
        d.sn = if v.trim().is_empty() {
            None
        } else {
            Some(Sn::parse(v)?.to_string())
        };
    }
    let text = |field: &str,
                v: &Option<String>,
                cur: &Option<String>,
                max|
     -> Result<Option<String>, Invalid> {
        match v {
            Some(v) => validate::opt_text(field, Some(v), max),
            None => Ok(cur.clone()),
        }
    };
    d.device_name = text("device_name", &req.device_name, &d.device_name, 100)?;
    d.device_model = text("device_model", &req.device_model, &d.device_model, 50)?;
    d.device_type = text("device_type", &req.device_type, &d.device_type, 50)?;
    d.manufacturer = text("manufacturer", &req.manufacturer, &d.manufacturer, 100)?;
    if let Some(slots) = req.max_sim_slots {
        let highest = store
            .sim_bindings(id)
            .await?
            .iter()
            .map(|b| b.slot_position)
            .max()
            .unwrap_or(0);
        if !(1..=8).contains(&slots) || slots < highest {
            return Err(Invalid::new(
                format!("max_sim_slots须为1-8,且不小于已使用的最大卡槽({highest})"),
                format!("max_sim_slots must be 1-8 and at least the highest used slot ({highest})"),
            )
            .into());
        }
        d.max_sim_slots = slots;
    }
    d.touch(caller.account_id, now);
    let swaps = [
        UniqueSwap {
            kind: IdentifierKind::DeviceVirtualNo,
            old: Some(&old.virtual_no),
            new: Some(&d.virtual_no),
        },
        UniqueSwap {
            kind: IdentifierKind::Imei,
            old: old.imei.as_deref(),
            new: d.imei.as_deref(),
        },
        UniqueSwap {
            kind: IdentifierKind::Sn,
            old: old.sn.as_deref(),
            new: d.sn.as_deref(),
        },
    ];
    store
        .save_asset(device_item(&d)?, old.version, id, &swaps)
        .await
        .map_err(save_error)?;
    Ok(d)
}

/// Soft-deletes a device (platform only): its identifiers become reusable and its
/// cards standalone again, in one transaction.
pub async fn delete(store: &Store, caller: &Caller, now: i64, id: u64) -> Result<(), AssetError> {
    caller.require(SA_PL)?;
    let old: Device = visible(store, caller, id).await?;
    let mut d = old.clone();
    d.touch(caller.account_id, now);
    d.bound_card_count = 0;
    let bindings = store.sim_bindings(id).await?;
    let by = caller.account_id;
    let cards: Vec<u64> = bindings.iter().map(|b| b.iot_card_id).collect();
    let mut ends = via_device_ends(store, id, &cards, EndReason::DeviceDeleted, by, now).await?;
    let gone = remove_grants(&mut d.authorization, |_| true);
    let at = rfc3339(now);
    ends.ended
        .extend(ended(&gone, EndReason::DeviceDeleted, Some(by), &at));
    store
        .delete_device(&d, old.version, &at, &bindings, &ends)
        .await
        .map_err(|e| match e {
            StoreError::ConditionFailed { .. } => AssetError::VersionConflict,
            other => other.into(),
        })
}

/// Cards bound to a visible device.
pub async fn cards(store: &Store, caller: &Caller, id: u64) -> Result<Vec<BoundCard>, AssetError> {
    require_asset_admin(caller)?;
    visible::<Device>(store, caller, id).await?;
    Ok(store
        .bound_cards(id)
        .await?
        .into_iter()
        .map(|(b, card)| BoundCard {
            slot_position: b.slot_position,
            bound_at: b.bound_at,
            card,
        })
        .collect())
}

/// Binds a standalone card of the same owner into a free slot; a card bound into a
/// device authorised to an enterprise is authorised through it (a card authorised to
/// another enterprise is refused).
pub async fn bind(
    store: &Store,
    caller: &Caller,
    now: i64,
    id: u64,
    req: BindCard,
) -> Result<Vec<BoundCard>, AssetError> {
    require_asset_admin(caller)?;
    let device: Device = visible(store, caller, id).await?;
    if req.slot_position == 0 || req.slot_position > device.max_sim_slots {
        return Err(Invalid::new(
            format!("slot_position须为1-{}", device.max_sim_slots),
            format!("slot_position must be 1..={}", device.max_sim_slots),
        )
        .into());
    }
    let card: IotCard = visible(store, caller, req.iot_card_id).await?;
    if card.shop_id != device.shop_id {
        return Err(Invalid::new(
            "卡和设备必须属于同一店铺",
            "the card and the device must belong to the same shop",
        )
        .into());
    }
    if !card.is_standalone {
        return Err(AssetError::CardBound);
    }
    let binding = SimBinding {
        device_id: id,
        iot_card_id: card.id,
        iccid: card.iccid.clone(),
        slot_position: req.slot_position,
        bound_at: rfc3339(now),
    };
    let carry = carried_grant(store, caller, &device, &card, now).await?;
    store
        .bind_card(&binding, device.shop_id, carry.as_ref())
        .await
        .map_err(|e| match BindConflict::of(&e) {
            Some(BindConflict::SlotTaken) => AssetError::SlotOccupied(req.slot_position),
            Some(BindConflict::CardNotStandalone) => AssetError::CardBound,
            Some(BindConflict::DeviceGone) => AssetError::AssetNotFound,
            None => e.into(),
        })?;
    cards(store, caller, id).await
}

/// Unbinds a card from a device; the card becomes standalone and loses the
/// authorisation it had through the device.
pub async fn unbind(
    store: &Store,
    caller: &Caller,
    now: i64,
    id: u64,
    card_id: u64,
) -> Result<(), AssetError> {
    require_asset_admin(caller)?;
    visible::<Device>(store, caller, id).await?;
    let Some(b) = store
        .sim_bindings(id)
        .await?
        .into_iter()
        .find(|b| b.iot_card_id == card_id)
    else {
        return Err(AssetError::NotFound("binding"));
    };
    let ends = via_device_ends(
        store,
        id,
        &[card_id],
        EndReason::Unbound,
        caller.account_id,
        now,
    )
    .await?;
    store.unbind_card(&b, &ends).await.map_err(|e| match e {
        StoreError::ConditionFailed { .. } => AssetError::NotFound("binding"),
        other => other.into(),
    })
}

/// What cards `card_ids` lose when they leave device `device` (unbound, or the
/// device deleted): their grants through it, ended for `reason` by `by` at `now`.
async fn via_device_ends(
    store: &Store,
    device: u64,
    card_ids: &[u64],
    reason: EndReason,
    by: u64,
    now: i64,
) -> Result<CardEnds, StoreError> {
    let keys_: Vec<Key> = card_ids.iter().map(|c| keys::card(*c)).collect();
    let mut ends = CardEnds::default();
    for card in store.entities::<IotCard>(&keys_).await? {
        if let Some((mut c, gone)) = without_device_grant(&card, device, reason, by, now) {
            c.is_standalone = true;
            c.bound_device_id = None;
            c.slot_position = None;
            ends.cards.insert(c.id, (card_item(&c)?, card.version));
            ends.ended.extend(gone);
        }
    }
    Ok(ends)
}

/// The grant a card bound into `device` gets through it, when the device is
/// authorised to an enterprise: the device's own grant, as the card's grant through
/// the device, with its record.
async fn carried_grant(
    store: &Store,
    caller: &Caller,
    device: &Device,
    card: &IotCard,
    now: i64,
) -> Result<Option<Carry>, AssetError> {
    let Some(auth) = &device.authorization else {
        return Ok(None);
    };
    let Some(own) = auth.grants.iter().find(|g| g.via_device_id.is_none()) else {
        return Ok(None);
    };
    let enterprise: Option<Enterprise> =
        store.entity(&keys::enterprise(auth.enterprise_id)).await?;
    let mut card_auth = card.authorization.clone();
    let grant = AuthGrant {
        record_id: store.next_id(RECORD_IDS).await?,
        via_device_id: Some(device.id),
        branch: own.branch.clone(),
        authorized_by: caller.account_id,
        authorized_at: rfc3339(now),
    };
    match add_grant(&mut card_auth, auth.enterprise_id, grant.clone()) {
        Granted::New => {}
        Granted::Already => return Ok(None),
        Granted::Elsewhere(_) => {
            return Err(Invalid::new(
                "该卡已授权给其他企业,不能绑定到已授权给本企业的设备",
                "the card is authorised to another enterprise than the device's",
            )
            .into())
        }
    }
    let Some(auth_after) = card_auth else {
        return Ok(None);
    };
    let record = AuthorizationRecord {
        id: grant.record_id,
        enterprise_id: auth.enterprise_id,
        enterprise_path: enterprise.and_then(|e| e.owner_path),
        asset_type: AssetType::Card,
        asset_id: card.id,
        identifier: card.iccid.clone(),
        via_device_id: Some(device.id),
        branch: grant.branch,
        authorized_by: grant.authorized_by,
        authorized_at: grant.authorized_at,
        remark: Some("bound into an authorised device".into()),
        revoked_by: None,
        revoked_at: None,
        end_reason: None,
    };
    Ok(Some(Carry {
        auth: auth_after,
        card_version: card.version,
        record,
    }))
}
