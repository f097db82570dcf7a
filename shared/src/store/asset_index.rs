//! Index attributes of cards and devices: where an asset is listed and selected.
//!
//! - `gsi1` (scope): shop-owned assets under `CARDS#<top-level shop id>` with sort key
//!   `<owner path>#<iccid>`, so a subtree is one `begins_with(path)` Query and a
//!   single shop's own stock is `begins_with(path#)`; platform stock under
//!   `CARDS#P#<shard>` with sort key `<iccid>`.
//! - `gsi2` (platform lists): every asset under `CARDS#ALL#<shard>` by identifier.
//! - `gsi3` (batch): assets with a batch number under `CARDS#BATCH#<batch_no>` with
//!   sort key `<owner path or !P>#<identifier>`, so a batch in one holder's stock or
//!   in a subtree is one `begins_with` Query.
//! - `gsi4` (range): every asset under `CARDS#RANGE#<bucket>` by identifier, the
//!   bucket being the identifier without its last four characters, so an identifier
//!   range is one `BETWEEN` Query per bucket it spans.
//!
//! Shards spread bulk imports over 16 partitions (each takes ~1000 writes/s).

use std::collections::HashMap;

use super::org::owner_sort_key;
use super::{keys, s, Item};
use crate::domain::assets::ranges::range_bucket;
use crate::domain::assets::AssetType;
use crate::domain::shop_path::ShopPath;

/// Number of shards of platform-wide asset partitions.
pub const SHARDS: u32 = 16;

/// Attributes of the batch and range indexes (`gsi3`, `gsi4`); a soft-deleted asset
/// loses them with its scope-index keys.
pub const SELECTION_INDEX_ATTRS: [&str; 4] = ["gsi3pk", "gsi3sk", "gsi4pk", "gsi4sk"];

/// Stable shard of an identifier (FNV-1a).
pub fn shard(identifier: &str) -> u32 {
    let mut h: u32 = 0x811c_9dc5;
    for b in identifier.bytes() {
        h ^= b as u32;
        h = h.wrapping_mul(0x0100_0193);
    }
    h % SHARDS
}

/// Id of the top-level shop of a path (its scope partition).
pub(super) fn root(p: &ShopPath) -> u64 {
    p.ids().first().copied().unwrap_or_default()
}

/// Index attributes of an asset of type `t` owned by `owner` (platform stock when
/// `None`), identified by `identifier`, of batch `batch_no` (an asset without one
/// has no batch-index keys).
pub fn index_attrs(
    t: AssetType,
    owner: Option<&ShopPath>,
    identifier: &str,
    batch_no: Option<&str>,
) -> Item {
    let sh = shard(identifier);
    let (g1pk, g1sk) = match owner {
        Some(p) => (
            keys::assets_tree(t, root(p)),
            owner_sort_key(owner, identifier),
        ),
        None => (keys::assets_platform_stock(t, sh), identifier.to_string()),
    };
    let mut item = HashMap::from([
        ("gsi1pk".to_string(), s(g1pk)),
        ("gsi1sk".to_string(), s(g1sk)),
        ("gsi2pk".to_string(), s(keys::assets_all(t, sh))),
        ("gsi2sk".to_string(), s(identifier)),
        (
            "gsi4pk".to_string(),
            s(keys::assets_range(t, range_bucket(identifier))),
        ),
        ("gsi4sk".to_string(), s(identifier)),
    ]);
    if let Some(b) = batch_no.filter(|b| !b.is_empty()) {
        item.insert("gsi3pk".into(), s(keys::assets_batch(t, b)));
        item.insert("gsi3sk".into(), s(owner_sort_key(owner, identifier)));
    }
    item
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
        let owned = index_attrs(AssetType::Card, Some(&path), "8986A", Some("B1"));
        assert_eq!(owned["gsi1pk"], s("CARDS#3"));
        assert_eq!(owned["gsi1sk"], s("/3/9/#8986A"));
        assert_eq!(owned["gsi3pk"], s("CARDS#BATCH#B1"));
        assert_eq!(owned["gsi3sk"], s("/3/9/#8986A"));
        assert_eq!(owned["gsi4pk"], s("CARDS#RANGE#8"));
        assert_eq!(owned["gsi4sk"], s("8986A"));
        let stock = index_attrs(AssetType::Card, None, "8986A", Some("B1"));
        assert_eq!(stock["gsi1pk"], s(format!("CARDS#P#{}", shard("8986A"))));
        assert_eq!(stock["gsi2pk"], owned["gsi2pk"]);
        assert_eq!(stock["gsi3sk"], s("!P#8986A"));
        assert_eq!(stock["gsi4pk"], owned["gsi4pk"]);
        let device = index_attrs(AssetType::Device, None, "DV-12345", None);
        assert_eq!(device["gsi4pk"], s("DEVICES#RANGE#DV-1"));
        for no_batch in [None, Some("")] {
            let item = index_attrs(AssetType::Device, None, "DV-12345", no_batch);
            assert!(!item.contains_key("gsi3pk") && !item.contains_key("gsi3sk"));
        }
    }
}
