//! Items of cards, devices, SIM bindings and allocation records.
//!
//! Asset lists are served by two indexes (see `docs/data-model.md`):
//! - `gsi1` (scope): shop-owned assets under `CARDS#<top-level shop id>` with sort key
//!   `<owner path>#<iccid>`, so a subtree is one `begins_with(path)` Query and a
//!   single shop's own stock is `begins_with(path#)`; platform stock under
//!   `CARDS#P#<shard>` with sort key `<iccid>`.
//! - `gsi2` (platform lists): every asset under `CARDS#ALL#<shard>` by identifier.
//!
//! Shards spread bulk imports over 16 partitions (each takes ~1000 writes/s).

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;
use serde::{Deserialize, Serialize};

use super::tx::{Cond, Tx, Upd};
use super::{n, s, to_item, Item, Key, StoreError};
use crate::domain::assets::{AllocationRecord, Device, IotCard, SimBinding};
use crate::domain::shop_path::ShopPath;

/// Number of shards of platform-wide asset partitions.
pub const SHARDS: u32 = 16;

/// Stable shard of an identifier (FNV-1a).
pub fn shard(identifier: &str) -> u32 {
    let mut h: u32 = 0x811c_9dc5;
    for b in identifier.bytes() {
        h ^= b as u32;
        h = h.wrapping_mul(0x0100_0193);
    }
    h % SHARDS
}

/// Card `id`.
pub fn card_key(id: u64) -> Key {
    Key::new(format!("CARD#{id}"), "#")
}

/// Device `id`.
pub fn device_key(id: u64) -> Key {
    Key::new(format!("DEVICE#{id}"), "#")
}

/// Slot `slot` of device `device_id`.
pub fn binding_key(device_id: u64, slot: u32) -> Key {
    Key::new(format!("DEVICE#{device_id}"), format!("SLOT#{slot:02}"))
}

/// Allocation record `id`.
pub fn allocation_key(id: &str) -> Key {
    Key::new(format!("ALLOC#{id}"), "#")
}

/// Asset kind prefixes of the list partitions.
#[derive(Clone, Copy, Debug)]
pub enum Kind {
    /// `CARDS`.
    Cards,
    /// `DEVICES`.
    Devices,
}

impl Kind {
    fn prefix(self) -> &'static str {
        match self {
            Kind::Cards => "CARDS",
            Kind::Devices => "DEVICES",
        }
    }

    /// Scope partition of a top-level shop's subtree.
    pub fn tree_partition(self, root_shop: u64) -> String {
        format!("{}#{root_shop}", self.prefix())
    }

    /// Scope partition of a platform-stock shard.
    pub fn platform_partition(self, shard: u32) -> String {
        format!("{}#P#{shard}", self.prefix())
    }

    /// Platform-list partition of a shard.
    pub fn all_partition(self, shard: u32) -> String {
        format!("{}#ALL#{shard}", self.prefix())
    }
}

/// Index attributes of an asset owned by `owner` and identified by `identifier`.
pub fn index_attrs(kind: Kind, owner: Option<&ShopPath>, identifier: &str) -> Item {
    let sh = shard(identifier);
    let (g1pk, g1sk) = match owner {
        Some(p) => (
            kind.tree_partition(p.ids()[0]),
            format!("{}#{identifier}", p.as_str()),
        ),
        None => (kind.platform_partition(sh), identifier.to_string()),
    };
    HashMap::from([
        ("gsi1pk".to_string(), s(g1pk)),
        ("gsi1sk".to_string(), s(g1sk)),
        ("gsi2pk".to_string(), s(kind.all_partition(sh))),
        ("gsi2sk".to_string(), s(identifier)),
    ])
}

/// Item of a live card.
pub fn card_item(c: &IotCard) -> Result<Item, StoreError> {
    let mut item = to_item(c, &card_key(c.id))?;
    item.extend(index_attrs(Kind::Cards, c.owner_path.as_ref(), &c.iccid));
    Ok(item)
}

/// Item of a live device.
pub fn device_item(d: &Device) -> Result<Item, StoreError> {
    let mut item = to_item(d, &device_key(d.id))?;
    item.extend(index_attrs(
        Kind::Devices,
        d.owner_path.as_ref(),
        &d.virtual_no,
    ));
    Ok(item)
}

/// Item of a SIM binding.
pub fn binding_item(b: &SimBinding) -> Result<Item, StoreError> {
    to_item(b, &binding_key(b.device_id, b.slot_position))
}

/// Adds binding `b` to `tx`: its slot item (label `slot`, must be free) and the
/// card's update (label `card`: live and standalone, then bound into the slot).
pub fn bind_card(tx: Tx, b: &SimBinding) -> Result<Tx, StoreError> {
    let upd = Upd::new(
        "SET is_standalone = :false, bound_device_id = :device, slot_position = :slot ADD version :one",
    )
    .value(":false", AttributeValue::Bool(false))
    .value(":device", n(b.device_id))
    .value(":slot", n(b.slot_position))
    .value(":one", n(1));
    let standalone = Cond::live()
        .and(Cond::new("is_standalone = :true").value(":true", AttributeValue::Bool(true)));
    Ok(tx.put_new("slot", binding_item(b)?).update(
        "card",
        &card_key(b.iot_card_id),
        upd,
        Some(standalone),
    ))
}

/// Item of an allocation record, indexed under the subordinate shop's path (the
/// shop that received or gave back the asset), so it and every ancestor see it.
pub fn allocation_item(
    r: &AllocationRecord,
    subordinate: Option<&ShopPath>,
) -> Result<Item, StoreError> {
    let mut item = to_item(r, &allocation_key(&r.id))?;
    let sort = format!("{}#{}", r.created_at, r.id);
    if let Some(p) = subordinate {
        item.insert("gsi1pk".into(), s(format!("ALLOCS#{}", p.ids()[0])));
        item.insert("gsi1sk".into(), s(format!("{}{sort}", p.as_str())));
    }
    item.insert("gsi2pk".into(), s(format!("ALLOCS#ALL#{}", shard(&r.id))));
    item.insert("gsi2sk".into(), s(sort));
    Ok(item)
}

/// Opaque position in a paged asset list: the shard being read and where it stopped.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct Cursor {
    /// Shard of a platform-wide list (0 for single-partition lists).
    pub shard: u32,
    /// Last evaluated key of that partition (string attributes only).
    pub key: Option<HashMap<String, String>>,
}

impl Cursor {
    /// Encodes for the `next_cursor` field.
    pub fn encode(&self) -> String {
        hex::encode(serde_json::to_vec(self).unwrap_or_default())
    }

    /// Decodes a `cursor` parameter; `None` when malformed.
    pub fn decode(raw: &str) -> Option<Cursor> {
        serde_json::from_slice(&hex::decode(raw).ok()?).ok()
    }

    /// The DynamoDB start key.
    pub fn start_key(&self) -> Option<Item> {
        self.key.as_ref().map(|k| {
            k.iter()
                .map(|(n, v)| (n.clone(), AttributeValue::S(v.clone())))
                .collect()
        })
    }

    /// A cursor at `shard` continuing after `key`.
    pub fn after(shard: u32, key: &Item) -> Cursor {
        let key = key
            .iter()
            .filter_map(|(n, v)| v.as_s().ok().map(|s| (n.clone(), s.clone())))
            .collect();
        Cursor {
            shard,
            key: Some(key),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_are_stable_and_spread() {
        assert_eq!(shard("89860012345678901234"), shard("89860012345678901234"));
        let used: std::collections::HashSet<u32> =
            (0..1000).map(|i| shard(&format!("8986{i:016}"))).collect();
        assert_eq!(used.len(), SHARDS as usize);
    }

    #[test]
    fn index_attributes_follow_the_owner() {
        let path = ShopPath::top(3).child(9);
        let owned = index_attrs(Kind::Cards, Some(&path), "8986A");
        assert_eq!(owned["gsi1pk"], s("CARDS#3"));
        assert_eq!(owned["gsi1sk"], s("/3/9/#8986A"));
        let stock = index_attrs(Kind::Cards, None, "8986A");
        assert_eq!(stock["gsi1pk"], s(format!("CARDS#P#{}", shard("8986A"))));
        assert_eq!(stock["gsi2pk"], owned["gsi2pk"]);
    }

    #[test]
    fn cursor_round_trip() {
        let mut key = Item::new();
        key.insert("pk".into(), s("CARD#1"));
        let c = Cursor::after(4, &key);
        assert_eq!(Cursor::decode(&c.encode()), Some(c));
        assert_eq!(Cursor::decode("zz"), None);
    }
}
