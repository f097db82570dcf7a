//! Items of cards, devices, SIM bindings and allocation records, and
//! the asset repository: list sources and filters, selections, moves, bindings,
//! identifier lookups and device protect periods.
//!
//! Their index attributes are in [`super::asset_index`].
//!
//! Protect periods and the refresh cooldown are TTL items (see [`super::ttl`]).

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;
use serde::de::DeserializeOwned;

use super::org::{soft_deleted, unique_item};
use super::prefetch::Prefetched;
use super::steps::{tx_of, Op};
use super::tx::{Cond, Tx, Upd};
use super::{
    from_item, keys, n, num_attr, s, str_attr, to_item, ttl, Item, Key, On, Store, StoreError,
};
use crate::domain::assets::{
    AllocationRecord, AssetStatus, AssetType, Device, Direction, IdentifierKind, IotCard,
    ProtectStatus, SimBinding,
};
use crate::domain::shop_path::ShopPath;

use super::asset_index::root;
pub use super::asset_index::{index_attrs, shard, SHARDS};
use super::authorizations::{end_ops, enterprise_index, record_item, CardEnds, Carry};

/// Item of a live card.
pub fn card_item(c: &IotCard) -> Result<Item, StoreError> {
    let mut item = to_item(c, &keys::card(c.id))?;
    item.extend(index_attrs(
        AssetType::Card,
        c.owner_path.as_ref(),
        &c.iccid,
        c.batch_no.as_deref(),
    ));
    item.extend(enterprise_index(
        AssetType::Card,
        c.authorization.as_ref(),
        &c.iccid,
    ));
    Ok(item)
}

/// Item of a live device.
pub fn device_item(d: &Device) -> Result<Item, StoreError> {
    let mut item = to_item(d, &keys::device(d.id))?;
    item.extend(index_attrs(
        AssetType::Device,
        d.owner_path.as_ref(),
        &d.virtual_no,
        d.batch_no.as_deref(),
    ));
    item.extend(enterprise_index(
        AssetType::Device,
        d.authorization.as_ref(),
        &d.virtual_no,
    ));
    Ok(item)
}

/// Item of a SIM binding.
pub fn binding_item(b: &SimBinding) -> Result<Item, StoreError> {
    to_item(b, &keys::sim_slot(b.device_id, b.slot_position))
}

/// Item of an allocation record, indexed under the subordinate shop's path (the
/// shop that received or gave back the asset), so it and every ancestor see it.
pub fn allocation_item(
    r: &AllocationRecord,
    subordinate: Option<&ShopPath>,
) -> Result<Item, StoreError> {
    let mut item = to_item(r, &keys::allocation_record(&r.id))?;
    let sort = format!("{}#{}", r.created_at, r.id);
    if let Some(p) = subordinate {
        item.insert("gsi1pk".into(), s(keys::allocation_records_tree(root(p))));
        item.insert("gsi1sk".into(), s(format!("{}{sort}", p.as_str())));
    }
    item.insert(
        "gsi2pk".into(),
        s(keys::allocation_records_all(shard(&r.id))),
    );
    item.insert("gsi2sk".into(), s(sort));
    Ok(item)
}

/// A change of one unique identifier of an asset: the old value's uniqueness item
/// is released and the new one claimed (nothing happens when they are equal).
#[derive(Clone, Copy, Debug)]
pub struct UniqueSwap<'a> {
    pub kind: IdentifierKind,
    pub old: Option<&'a str>,
    pub new: Option<&'a str>,
}

/// The identifier another asset already holds, when that is why
/// [`Store::save_asset`] failed.
pub fn taken_identifier(e: &StoreError) -> Option<IdentifierKind> {
    let label = e.failed_label()?;
    IdentifierKind::ALL
        .into_iter()
        .find(|k| k.as_str() == label)
}

/// What a refused [`Store::bind_card`] ran into.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BindConflict {
    /// The slot already holds a card.
    SlotTaken,
    /// The card is bound already (or was deleted).
    CardNotStandalone,
    /// The device was deleted.
    DeviceGone,
}

impl BindConflict {
    /// The conflict behind a failed binding, if a condition failed.
    pub fn of(e: &StoreError) -> Option<BindConflict> {
        match e.failed_label()? {
            "slot" => Some(BindConflict::SlotTaken),
            "card" => Some(BindConflict::CardNotStandalone),
            "device" => Some(BindConflict::DeviceGone),
            _ => None,
        }
    }
}

/// The asset still belongs to `shop` (platform stock when `None`): the condition of
/// a write that relied on the owner it read.
pub fn owned_by(shop: Option<u64>) -> Cond {
    match shop {
        Some(id) => Cond::new("shop_id = :owner").value(":owner", n(id)),
        None => Cond::new("attribute_not_exists(shop_id) OR attribute_type(shop_id, :null_type)")
            .value(":null_type", s("NULL")),
    }
}

/// The card-side updates of a new SIM binding: the slot item (label `slot`, fails
/// when the slot is taken) and the card marked bound (label `card`, fails unless the
/// card is live, standalone and still owned by `owner`, the shop it was read with).
/// The device's `bound_card_count` is the caller's.
pub fn bind_ops(
    tx: Tx,
    b: &SimBinding,
    owner: Option<u64>,
    carry: Option<&Carry>,
) -> Result<Tx, StoreError> {
    let mut set =
        "SET is_standalone = :false, bound_device_id = :device, slot_position = :slot".to_string();
    let mut cond = Cond::live()
        .and(Cond::new("is_standalone = :true").value(":true", AttributeValue::Bool(true)))
        .and(owned_by(owner));
    let mut upd_values = vec![];
    if let Some(c) = carry {
        set.push_str(", #auth = :auth, gsi5pk = :g5pk, gsi5sk = :g5sk");
        let index = enterprise_index(AssetType::Card, Some(&c.auth), &b.iccid);
        let auth = serde_dynamo::to_item(&c.auth).map_err(|e| StoreError::Codec(e.to_string()))?;
        upd_values.push((":auth", AttributeValue::M(auth)));
        for (name, placeholder) in [("gsi5pk", ":g5pk"), ("gsi5sk", ":g5sk")] {
            let v = index
                .get(name)
                .cloned()
                .unwrap_or(AttributeValue::Null(true));
            upd_values.push((placeholder, v));
        }
        // The grants were computed from the card at this version.
        cond = cond.and(Cond::version(c.card_version));
    }
    let mut upd = Upd::new(format!("{set} ADD version :one"))
        .value(":false", AttributeValue::Bool(false))
        .value(":device", n(b.device_id))
        .value(":slot", n(b.slot_position))
        .value(":one", n(1));
    if carry.is_some() {
        upd = upd.name("#auth", "authorization");
    }
    for (placeholder, v) in upd_values {
        upd = upd.value(placeholder, v);
    }
    let tx = tx.put_new("slot", binding_item(b)?).update(
        "card",
        &keys::card(b.iot_card_id),
        upd,
        Some(cond),
    );
    Ok(match carry {
        Some(c) => tx.put_new("created", record_item(&c.record)?),
        None => tx,
    })
}

/// A card made standalone again (its binding goes away).
pub(super) fn unbind_card() -> Upd {
    Upd::new("SET is_standalone = :true, bound_device_id = :null, slot_position = :null ADD version :one")
        .value(":true", AttributeValue::Bool(true))
        .value(":null", AttributeValue::Null(true))
        .value(":one", n(1))
}

/// The asset's current state, decoded from the old item a failed condition returned.
pub fn old_state<T: DeserializeOwned>(e: &StoreError) -> Option<T> {
    match e {
        StoreError::ConditionFailed { old: Some(old), .. } => from_item((**old).clone()).ok(),
        _ => None,
    }
}

/// The uniqueness items naming each identifier (aligned with `wanted`).
pub fn identifier_keys(wanted: &[(IdentifierKind, String)]) -> Vec<Key> {
    wanted
        .iter()
        .map(|(kind, v)| keys::unique(kind.as_str(), v))
        .collect()
}

impl Store {
    /// Replaces a live asset at `expected` version and swaps its unique identifiers,
    /// in one transaction. A failure is labelled `asset` (changed or deleted
    /// meanwhile) or with the kind of the identifier already taken.
    pub async fn save_asset(
        &self,
        item: Item,
        expected: i64,
        id: u64,
        swaps: &[UniqueSwap<'_>],
    ) -> Result<(), StoreError> {
        let mut tx = Tx::new().put(
            "asset",
            item,
            Some(Cond::live().and(Cond::version(expected))),
        );
        for swap in swaps.iter().filter(|w| w.old != w.new) {
            let kind = swap.kind.as_str();
            if let Some(o) = swap.old {
                tx = tx.delete("release", &keys::unique(kind, o), None);
            }
            if let Some(v) = swap.new {
                tx = tx.put_new(kind, unique_item(kind, v, id));
            }
        }
        self.transact(tx).await
    }

    /// Saves a card stopped or started (`dir`) at `expected` version; when it is bound
    /// to `device`, only while no protect period of the opposite direction is live at
    /// `now` (label `protect`), checked in the same transaction.
    pub async fn save_switched_card(
        &self,
        item: Item,
        expected: i64,
        device: Option<u64>,
        dir: Direction,
        now: i64,
    ) -> Result<(), StoreError> {
        let mut tx = Tx::new().put(
            "asset",
            item,
            Some(Cond::live().and(Cond::version(expected))),
        );
        if let Some(device) = device {
            tx = tx.check(
                "protect",
                &keys::device_protect(device),
                no_opposite_protect(dir, now),
            );
        }
        self.transact(tx).await
    }

    /// Deactivates the asset at `key` provided it is live, in stock or sold and
    /// authorised to no enterprise, changing only its status and audit fields (a move
    /// or binding made meanwhile is kept); the old item comes back in the error
    /// otherwise (see [`old_state`]). An authorised asset is deactivated with
    /// [`Store::write_authorizations`], which ends its grants.
    pub async fn deactivate_asset(&self, key: &Key, by: u64, at: &str) -> Result<(), StoreError> {
        let cond = Cond::live()
            .and(Cond::new(
                "asset_status IN (:in_stock, :sold) AND attribute_not_exists(#auth)",
            ))
            // `authorization` is a reserved word.
            .name("#auth", "authorization")
            .value(":in_stock", n(i64::from(AssetStatus::InStock)))
            .value(":sold", n(i64::from(AssetStatus::Sold)));
        let upd = Upd::new(
            "SET asset_status = :deactivated, updated_at = :at, updater = :by ADD version :one",
        )
        .value(":deactivated", n(i64::from(AssetStatus::Deactivated)))
        .value(":at", s(at))
        .value(":by", n(by))
        .value(":one", n(1));
        self.transact(Tx::new().update("asset", key, upd, Some(cond)))
            .await
    }

    /// Moves an asset (still live at `expected` version) together with the cards that
    /// follow it (each at its version), and writes the move's record and closes the
    /// authorisation records `ended`, atomically;
    /// `extra` (a bulk task's result, first so its label is the one reported when it
    /// fails) commits or fails with them.
    pub async fn move_asset(
        &self,
        moved: Item,
        expected: i64,
        record: Item,
        followers: Vec<(Item, i64)>,
        extra: Option<Op>,
        ended: &[crate::domain::authorization::Ended],
    ) -> Result<(), StoreError> {
        let tx = extra.map_or_else(Tx::new, |op| tx_of([op]));
        let tx = end_ops(tx, ended);
        let mut tx = tx
            .put(
                "asset",
                moved,
                Some(Cond::live().and(Cond::version(expected))),
            )
            .put_new("record", record);
        for (item, version) in followers {
            tx = tx.put("card", item, Some(Cond::version(version)));
        }
        self.transact(tx).await
    }

    /// The SIM bindings of a device, by slot.
    pub async fn sim_bindings(&self, device_id: u64) -> Result<Vec<SimBinding>, StoreError> {
        self.query_prefix(
            On::Table,
            &keys::device(device_id).pk,
            keys::SIM_SLOT_PREFIX,
        )
        .await?
        .into_iter()
        .map(from_item)
        .collect()
    }

    /// The cards bound to a device with their bindings, by slot (soft-deleted cards
    /// included).
    pub async fn bound_cards(
        &self,
        device_id: u64,
    ) -> Result<Vec<(SimBinding, IotCard)>, StoreError> {
        let bindings = self.sim_bindings(device_id).await?;
        let keys_: Vec<Key> = bindings.iter().map(|b| keys::card(b.iot_card_id)).collect();
        let mut cards: HashMap<u64, IotCard> = self
            .entities::<IotCard>(&keys_)
            .await?
            .into_iter()
            .map(|c| (c.id, c))
            .collect();
        Ok(bindings
            .into_iter()
            .filter_map(|b| {
                let card = cards.remove(&b.iot_card_id)?;
                Some((b, card))
            })
            .collect())
    }

    /// Binds a standalone card into a free slot of a live device, both still owned by
    /// `owner` (the shop they were read with: a move in between refuses the binding),
    /// carrying the device's enterprise grant to the card when `carry` says so; a
    /// refusal is told by [`BindConflict::of`].
    pub async fn bind_card(
        &self,
        b: &SimBinding,
        owner: Option<u64>,
        carry: Option<&Carry>,
    ) -> Result<(), StoreError> {
        let tx = bind_ops(Tx::new(), b, owner, carry)?.update(
            "device",
            &keys::device(b.device_id),
            Upd::counter("bound_card_count", 1),
            Some(Cond::live().and(owned_by(owner))),
        );
        self.transact(tx).await
    }

    /// Removes a binding (label `slot` when it no longer holds that card); the card
    /// becomes standalone (with the grants `ends` ends).
    pub async fn unbind_card(&self, b: &SimBinding, ends: &CardEnds) -> Result<(), StoreError> {
        let tx = Tx::new().delete(
            "slot",
            &keys::sim_slot(b.device_id, b.slot_position),
            Some(Cond::new("iot_card_id = :card").value(":card", n(b.iot_card_id))),
        );
        let tx = ends.card_op(tx, b.iot_card_id).update(
            "device",
            &keys::device(b.device_id),
            Upd::counter("bound_card_count", -1),
            None,
        );
        self.transact(end_ops(tx, &ends.ended)).await
    }

    /// Soft-deletes a device still at `expected` version: its identifiers become
    /// reusable, its cards (`bindings`) standalone and the grants `ends` ends end, in
    /// one transaction.
    pub async fn delete_device(
        &self,
        deleted: &Device,
        expected: i64,
        at: &str,
        bindings: &[SimBinding],
        ends: &CardEnds,
    ) -> Result<(), StoreError> {
        let mut tx = Tx::new().put(
            "device",
            soft_deleted(device_item(deleted)?, at),
            Some(Cond::live().and(Cond::version(expected))),
        );
        for (kind, value) in [
            (IdentifierKind::DeviceVirtualNo, Some(&deleted.virtual_no)),
            (IdentifierKind::Imei, deleted.imei.as_ref()),
            (IdentifierKind::Sn, deleted.sn.as_ref()),
        ] {
            if let Some(v) = value {
                tx = tx.delete("release", &keys::unique(kind.as_str(), v), None);
            }
        }
        for b in bindings {
            tx = tx.delete(
                "binding",
                &keys::sim_slot(deleted.id, b.slot_position),
                None,
            );
            tx = ends.card_op(tx, b.iot_card_id);
        }
        self.transact(end_ops(tx, &ends.ended)).await
    }

    /// Ids of the assets holding each identifier (aligned with `wanted`; `None` when
    /// nothing holds it): one batch read of uniqueness items, none when `ahead` holds
    /// them.
    pub async fn asset_ids(
        &self,
        wanted: &[(IdentifierKind, String)],
        ahead: Option<&Prefetched>,
    ) -> Result<Vec<Option<u64>>, StoreError> {
        let lookups = identifier_keys(wanted);
        let found = self.get_many_ahead(ahead, &lookups).await?;
        Ok(lookups
            .iter()
            .map(|k| {
                found
                    .iter()
                    .find(|i| k.matches(i))
                    .and_then(|i| num_attr(i, "target_id"))
                    .and_then(|id| u64::try_from(id).ok())
            })
            .collect())
    }

    /// The assets (live or soft-deleted) holding `values` of uniqueness kind `kind`,
    /// in no particular order: two batch reads.
    pub async fn assets_by_identifier<T: DeserializeOwned>(
        &self,
        kind: IdentifierKind,
        values: &[String],
    ) -> Result<Vec<T>, StoreError> {
        let wanted: Vec<(IdentifierKind, String)> =
            values.iter().map(|v| (kind, v.clone())).collect();
        let asset_keys: Vec<Key> = self
            .asset_ids(&wanted, None)
            .await?
            .into_iter()
            .flatten()
            .map(|id| keys::asset(kind.asset_type(), id))
            .collect();
        self.entities(&asset_keys).await
    }

    /// Starts a protect period of direction `dir` for a device until `until`; fails
    /// with `ConditionFailed` while any protect period of the device is live (one item
    /// per device, so a concurrent stop and start cannot both claim one).
    pub async fn claim_device_protect(
        &self,
        device_id: u64,
        dir: Direction,
        now: i64,
        until: i64,
    ) -> Result<(), StoreError> {
        let mut item = keys::device_protect(device_id).item();
        item.insert("direction".into(), s(dir.as_str()));
        item.insert("expires_at".into(), n(until));
        self.put_if("protect", item, Cond::absent_or_expired(now))
            .await
    }

    /// Ends the device's protect period if it is of direction `dir` (another one is
    /// left alone).
    pub async fn release_device_protect(
        &self,
        device_id: u64,
        dir: Direction,
    ) -> Result<(), StoreError> {
        let tx = Tx::new().delete(
            "protect",
            &keys::device_protect(device_id),
            Some(protect_is(dir)),
        );
        match self.transact(tx).await {
            Err(StoreError::ConditionFailed { .. }) => Ok(()),
            other => other,
        }
    }

    /// Whether a protect period of direction `dir` is live for the device.
    pub async fn device_protect_live(
        &self,
        device_id: u64,
        dir: Direction,
        now: i64,
    ) -> Result<bool, StoreError> {
        let item = self.get_live(&keys::device_protect(device_id), now).await?;
        Ok(item.is_some_and(|i| str_attr(&i, "direction") == Some(dir.as_str())))
    }

    /// The live protect period of a device (one batch read).
    pub async fn device_protect_status(
        &self,
        device_id: u64,
        now: i64,
    ) -> Result<ProtectStatus, StoreError> {
        let items = self.get_many(&protect_keys(device_id)).await?;
        Ok(protect_status_in(&items, device_id, now))
    }

    /// Starts an asset's refresh cooldown until `until`; fails with
    /// `ConditionFailed` while it runs.
    pub async fn claim_refresh_cooldown(
        &self,
        t: AssetType,
        id: u64,
        now: i64,
        until: i64,
    ) -> Result<(), StoreError> {
        self.claim_ttl("cooldown", &keys::refresh_cooldown(t, id), now, until)
            .await
    }
}

/// Keys of both protect periods of a device, for a batch read.
pub fn protect_keys(device_id: u64) -> Vec<Key> {
    vec![keys::device_protect(device_id)]
}

/// The live protect period of a device among batch-read `items`.
pub fn protect_status_in(items: &[Item], device_id: u64, now: i64) -> ProtectStatus {
    let key = keys::device_protect(device_id);
    let live = items
        .iter()
        .find(|i| key.matches(i) && !ttl::is_expired(i, now));
    ProtectStatus::from(live.and_then(|i| {
        [Direction::Stop, Direction::Start]
            .into_iter()
            .find(|d| str_attr(i, "direction") == Some(d.as_str()))
    }))
}

/// The device's protect period, if any, is of direction `dir`.
fn protect_is(dir: Direction) -> Cond {
    Cond::new("direction = :protect_dir").value(":protect_dir", s(dir.as_str()))
}

/// No protect period of the opposite direction to `dir` is live for the device at
/// `now`: the condition a card's switch carries for the device it is bound to.
fn no_opposite_protect(dir: Direction, now: i64) -> Cond {
    Cond::new("attribute_not_exists(pk) OR expires_at <= :protect_now")
        .value(":protect_now", n(now))
        .or(protect_is(dir))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_expired_protect_item_counts_as_none() {
        let item = |dir: Direction, until: i64| {
            let mut i = keys::device_protect(7).item();
            i.insert("direction".into(), s(dir.as_str()));
            i.insert("expires_at".into(), n(until));
            vec![i]
        };
        let stop = item(Direction::Stop, 100);
        assert_eq!(protect_status_in(&stop, 7, 50), ProtectStatus::Stop);
        assert_eq!(protect_status_in(&stop, 7, 100), ProtectStatus::None);
        assert_eq!(protect_status_in(&stop, 8, 50), ProtectStatus::None);
        let start = item(Direction::Start, 200);
        assert_eq!(protect_status_in(&start, 7, 150), ProtectStatus::Start);
        assert_eq!(
            no_opposite_protect(Direction::Start, 5).expr(),
            "(attribute_not_exists(pk) OR expires_at <= :protect_now) OR (direction = :protect_dir)"
        );
    }
}
