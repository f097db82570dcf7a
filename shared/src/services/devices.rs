//! Devices: lists, edits, soft delete, SIM-slot bindings (api.md §8).

use aws_sdk_dynamodb::types::AttributeValue;
use serde::{Deserialize, Serialize};

use super::assets::{
    self, require_asset_admin, swap_unique, visible, AssetError, AssetFilter, CursorPage,
};
use crate::clock::rfc3339;
use crate::domain::assets::{Device, IotCard, SimBinding};
use crate::domain::caller::{Caller, SA_PL};
use crate::domain::identifiers::{Imei, Sn, VirtualNo};
use crate::domain::stamp::Stamped;
use crate::domain::validate::{self, Invalid};
use crate::store::assets::{binding_item, binding_key, card_key, device_item, device_key};
use crate::store::org::soft_deleted;
use crate::store::tx::{Cond, Tx, Upd};
use crate::store::{from_item, keys, n, Key, On, Store, StoreError};

/// Exact-identifier filters of devices.
#[derive(Debug, Default, Deserialize)]
pub struct DeviceFilter {
    pub virtual_no: Option<String>,
    pub imei: Option<String>,
    pub sn: Option<String>,
    /// Virtual-number prefix.
    pub virtual_no_prefix: Option<String>,
}

/// A device as listed: with its owner shop's name.
#[derive(Debug, Serialize, Deserialize)]
pub struct DeviceView {
    #[serde(flatten)]
    pub device: Device,
    pub shop_name: Option<String>,
}

/// `PUT /api/admin/devices/:id` body; absent fields stay, `""` clears optional text.
#[derive(Debug, Deserialize)]
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
#[derive(Debug, Deserialize)]
pub struct BindCard {
    pub iot_card_id: u64,
    pub slot_position: u32,
}

/// A bound card as listed under its device.
#[derive(Debug, Serialize, Deserialize)]
pub struct BoundCard {
    pub slot_position: u32,
    pub bound_at: String,
    pub card: IotCard,
}

/// A page of devices visible to the caller.
pub async fn list(
    store: &Store,
    caller: &Caller,
    exact: &DeviceFilter,
    mut f: AssetFilter,
) -> Result<CursorPage<DeviceView>, AssetError> {
    require_asset_admin(caller)?;
    let lookup = match (&exact.virtual_no, &exact.imei, &exact.sn) {
        (Some(v), _, _) if !v.trim().is_empty() => {
            Some(("device_virtual_no", VirtualNo::parse(v)?.to_string()))
        }
        (_, Some(i), _) if !i.trim().is_empty() => Some(("imei", Imei::parse(i)?.to_string())),
        (_, _, Some(s)) if !s.trim().is_empty() => Some(("sn", Sn::parse(s)?.to_string())),
        _ => None,
    };
    let page = match lookup {
        Some((kind, value)) => {
            let list = assets::find::<Device>(store, kind, &value)
                .await?
                .into_iter()
                .filter(|d| d.deleted_at.is_none() && caller.sees_shop_owned(d.owner_path.as_ref()))
                .collect();
            CursorPage {
                list,
                page_size: f.page_size.unwrap_or(20),
                next_cursor: None,
            }
        }
        None => {
            f.prefix = exact.virtual_no_prefix.clone();
            assets::list::<Device>(store, caller, &f, None).await?
        }
    };
    let names = assets::owner_names(store, &page.list).await?;
    let list = page
        .list
        .into_iter()
        .map(|device| DeviceView {
            shop_name: device.shop_id.and_then(|s| names.get(&s).cloned()),
            device,
        })
        .collect();
    Ok(CursorPage {
        list,
        page_size: page.page_size,
        next_cursor: page.next_cursor,
    })
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
        let highest = bindings(store, id)
            .await?
            .iter()
            .map(|b| b.slot_position)
            .max()
            .unwrap_or(0);
        if !(1..=8).contains(&slots) || slots < highest {
            return Err(Invalid(format!(
                "max_sim_slots must be 1-8 and at least the highest used slot ({highest})"
            ))
            .into());
        }
        d.max_sim_slots = slots;
    }
    d.touch(caller.account_id, now);
    let mut tx = Tx::new().put(
        "device",
        device_item(&d)?,
        Some(Cond::live().and(Cond::version(old.version))),
    );
    tx = swap_unique(
        tx,
        "device_virtual_no",
        "virtual_no",
        Some(&old.virtual_no),
        Some(&d.virtual_no),
        id,
    );
    tx = swap_unique(tx, "imei", "imei", old.imei.as_ref(), d.imei.as_ref(), id);
    tx = swap_unique(tx, "sn", "sn", old.sn.as_ref(), d.sn.as_ref(), id);
    store
        .transact(tx)
        .await
        .map_err(|e| match e.failed_label() {
            Some("virtual_no") => AssetError::DuplicateVirtualNo,
            Some("imei") => AssetError::DuplicateIdentifier("imei"),
            Some("sn") => AssetError::DuplicateIdentifier("sn"),
            Some(_) => AssetError::VersionConflict,
            None => e.into(),
        })?;
    Ok(d)
}

/// Cards bound to a device, by slot.
pub async fn bindings(store: &Store, device_id: u64) -> Result<Vec<SimBinding>, StoreError> {
    store
        .query_prefix(On::Table, &device_key(device_id).pk, "SLOT#")
        .await?
        .into_iter()
        .map(from_item)
        .collect()
}

/// Soft-deletes a device (platform only): its identifiers become reusable and its
/// cards standalone again, in one transaction.
pub async fn delete(store: &Store, caller: &Caller, now: i64, id: u64) -> Result<(), AssetError> {
    caller.require(SA_PL)?;
    let old: Device = visible(store, caller, id).await?;
    let at = rfc3339(now);
    let mut d = old.clone();
    d.touch(caller.account_id, now);
    d.bound_card_count = 0;
    let mut tx = Tx::new()
        .put(
            "device",
            soft_deleted(device_item(&d)?, &at),
            Some(Cond::live().and(Cond::version(old.version))),
        )
        .delete(
            "release",
            &keys::unique("device_virtual_no", &old.virtual_no),
            None,
        );
    for (kind, v) in [("imei", &old.imei), ("sn", &old.sn)] {
        if let Some(v) = v {
            tx = tx.delete("release", &keys::unique(kind, v), None);
        }
    }
    for b in bindings(store, id).await? {
        tx = tx
            .delete("binding", &binding_key(id, b.slot_position), None)
            .update("card", &card_key(b.iot_card_id), unbind_card(), None);
    }
    store.transact(tx).await.map_err(|e| match e {
        StoreError::ConditionFailed { .. } => AssetError::VersionConflict,
        other => other.into(),
    })
}

fn unbind_card() -> Upd {
    Upd::new("SET is_standalone = :true, bound_device_id = :null, slot_position = :null ADD version :one")
        .value(":true", AttributeValue::Bool(true))
        .value(":null", AttributeValue::Null(true))
        .value(":one", n(1))
}

/// Cards bound to a visible device.
pub async fn cards(store: &Store, caller: &Caller, id: u64) -> Result<Vec<BoundCard>, AssetError> {
    require_asset_admin(caller)?;
    visible::<Device>(store, caller, id).await?;
    let bound = bindings(store, id).await?;
    let keys_: Vec<Key> = bound.iter().map(|b| card_key(b.iot_card_id)).collect();
    let cards: Vec<IotCard> = store.entities(&keys_).await?;
    Ok(bound
        .into_iter()
        .filter_map(|b| {
            let card = cards.iter().find(|c| c.id == b.iot_card_id)?.clone();
            Some(BoundCard {
                slot_position: b.slot_position,
                bound_at: b.bound_at,
                card,
            })
        })
        .collect())
}

/// Binds a standalone card of the same owner into a free slot.
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
        return Err(Invalid(format!(
            "slot_position must be 1..={}",
            device.max_sim_slots
        ))
        .into());
    }
    let card: IotCard = visible(store, caller, req.iot_card_id).await?;
    if card.shop_id != device.shop_id {
        return Err(Invalid("the card and the device must belong to the same shop".into()).into());
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
    let tx = Tx::new()
        .put_new("slot", binding_item(&binding)?)
        .update(
            "card",
            &card_key(card.id),
            Upd::new("SET is_standalone = :false, bound_device_id = :device, slot_position = :slot ADD version :one")
                .value(":false", AttributeValue::Bool(false))
                .value(":device", n(id))
                .value(":slot", n(req.slot_position))
                .value(":one", n(1)),
            Some(Cond::live().and(Cond::new("is_standalone = :true").value(":true", AttributeValue::Bool(true)))),
        )
        .update(
            "device",
            &device_key(id),
            Upd::counter("bound_card_count", 1),
            Some(Cond::live()),
        );
    store
        .transact(tx)
        .await
        .map_err(|e| match e.failed_label() {
            Some("slot") => AssetError::SlotOccupied(req.slot_position),
            Some("card") => AssetError::CardBound,
            Some("device") => AssetError::AssetNotFound,
            _ => e.into(),
        })?;
    cards(store, caller, id).await
}

/// Unbinds a card from a device; the card becomes standalone.
pub async fn unbind(
    store: &Store,
    caller: &Caller,
    id: u64,
    card_id: u64,
) -> Result<(), AssetError> {
    require_asset_admin(caller)?;
    visible::<Device>(store, caller, id).await?;
    let Some(b) = bindings(store, id)
        .await?
        .into_iter()
        .find(|b| b.iot_card_id == card_id)
    else {
        return Err(AssetError::NotFound("binding"));
    };
    let tx = Tx::new()
        .delete(
            "slot",
            &binding_key(id, b.slot_position),
            Some(Cond::new("iot_card_id = :card").value(":card", n(card_id))),
        )
        .update("card", &card_key(card_id), unbind_card(), None)
        .update(
            "device",
            &device_key(id),
            Upd::counter("bound_card_count", -1),
            None,
        );
    store.transact(tx).await.map_err(|e| match e {
        StoreError::ConditionFailed { .. } => AssetError::NotFound("binding"),
        other => other.into(),
    })
}
