//! Where asset lists, allocation-record lists and range/batch selections read from
//! (partitions, key conditions) and the filters they apply. The key layout is in
//! [`super::assets`].

use aws_sdk_dynamodb::types::AttributeValue;

use super::assets::{root, SHARDS};
use super::cursor::Source;
use super::tx::Cond;
use super::{keys, n, s, On, Query, SkCond};
use crate::domain::assets::{AssetStatus, AssetType, MoveOp};
use crate::domain::shop_path::ShopPath;

/// Whose assets a list reads.
#[derive(Clone, Copy, Debug)]
pub enum ListScope<'a> {
    /// Platform stock (assets no shop holds).
    PlatformStock,
    /// One shop's own stock, not its descendants'.
    ShopStock(&'a ShopPath),
    /// Every asset held in a subtree.
    Subtree(&'a ShopPath),
    /// Every asset.
    All,
}

/// Filters of an asset list (absent = any).
#[derive(Clone, Debug, Default)]
pub struct ListFilter {
    /// Identifier prefix (ICCID or virtual number), in stored form.
    pub prefix: Option<String>,
    pub batch_no: Option<String>,
    pub asset_status: Option<AssetStatus>,
    pub carrier_id: Option<u64>,
    pub network_status: Option<i64>,
    pub real_name_status: Option<i64>,
    /// Only cards not bound to a device.
    pub standalone_only: bool,
}

/// Where a list of assets of type `t` reads from and the filter it applies: the
/// identifier prefix is part of the key condition except in a subtree, whose sort
/// keys start with the owner's path.
pub fn asset_list(t: AssetType, scope: ListScope, f: &ListFilter) -> (Source, Option<Cond>) {
    let p = f.prefix.as_deref().unwrap_or("");
    let mut conds = Vec::new();
    let source = match scope {
        ListScope::PlatformStock => Source::new(
            On::Gsi1,
            (0..SHARDS)
                .map(|sh| keys::assets_platform_stock(t, sh))
                .collect(),
            SkCond::Prefix(p.to_string()),
        ),
        ListScope::ShopStock(path) => Source::new(
            On::Gsi1,
            vec![keys::assets_tree(t, root(path))],
            SkCond::Prefix(format!("{}#{p}", path.as_str())),
        ),
        ListScope::Subtree(path) => {
            if let Some(p) = &f.prefix {
                let attr = t.identifier_field();
                conds.push(
                    Cond::new(format!("begins_with({attr}, :prefix_f)")).value(":prefix_f", s(p)),
                );
            }
            Source::new(
                On::Gsi1,
                vec![keys::assets_tree(t, root(path))],
                SkCond::Prefix(path.as_str().to_string()),
            )
        }
        ListScope::All => Source::new(
            On::Gsi2,
            (0..SHARDS).map(|sh| keys::assets_all(t, sh)).collect(),
            SkCond::Prefix(p.to_string()),
        ),
    };
    if let Some(b) = f.batch_no.as_deref() {
        conds.push(batch_cond(b));
    }
    for (name, value) in [
        ("asset_status", f.asset_status.map(i64::from)),
        ("network_status", f.network_status),
        ("real_name_status", f.real_name_status),
        ("carrier_id", f.carrier_id.map(|c| c as i64)),
    ] {
        if let Some(v) = value {
            conds.push(Cond::new(format!("{name} = :{name}")).value(&format!(":{name}"), n(v)));
        }
    }
    if f.standalone_only {
        conds.push(
            Cond::new("is_standalone = :standalone")
                .value(":standalone", AttributeValue::Bool(true)),
        );
    }
    (source, conds.into_iter().reduce(Cond::and))
}

fn batch_cond(batch_no: &str) -> Cond {
    Cond::new("batch_no = :batch").value(":batch", s(batch_no))
}

/// Filters of the allocation-record list (absent = any).
#[derive(Clone, Debug, Default)]
pub struct RecordFilter {
    pub asset_type: Option<AssetType>,
    pub identifier: Option<String>,
    pub operation: Option<MoveOp>,
    pub from_shop_id: Option<u64>,
    pub to_shop_id: Option<u64>,
    /// Created at or after (RFC 3339 in the business time zone, as stored).
    pub created_from: Option<String>,
    /// Created at or before (same form).
    pub created_to: Option<String>,
}

/// Where the allocation records of a subtree (platform: all of them) are read from,
/// and the filter applied.
pub fn record_list(subtree: Option<&ShopPath>, f: &RecordFilter) -> (Source, Option<Cond>) {
    let mut conds = Vec::new();
    let (from, to) = (f.created_from.as_deref(), f.created_to.as_deref());
    let source = match subtree {
        Some(p) => {
            if let Some(from) = from {
                conds
                    .push(Cond::new("created_at >= :created_from").value(":created_from", s(from)));
            }
            if let Some(to) = to {
                conds.push(Cond::new("created_at <= :created_to").value(":created_to", s(to)));
            }
            Source::new(
                On::Gsi1,
                vec![keys::allocation_records_tree(root(p))],
                SkCond::Prefix(p.as_str().to_string()),
            )
        }
        None => Source::new(
            On::Gsi2,
            (0..SHARDS).map(keys::allocation_records_all).collect(),
            // Sort keys are `<created_at>#<id>` and start with a digit: `0` sorts
            // before every one, and `<to>~` after every one created at `to` or before.
            match (from, to) {
                (None, None) => SkCond::Any,
                (from, to) => SkCond::Between(
                    from.unwrap_or("0").to_string(),
                    format!("{}~", to.unwrap_or("~")),
                ),
            },
        ),
    };
    if let Some(t) = f.asset_type {
        conds.push(Cond::new("asset_type = :t").value(":t", s(t.as_str())));
    }
    if let Some(i) = &f.identifier {
        conds.push(Cond::new("identifier = :i").value(":i", s(i)));
    }
    if let Some(o) = f.operation {
        conds.push(
            Cond::new("#op = :o")
                .name("#op", "operation")
                .value(":o", s(o.as_str())),
        );
    }
    if let Some(id) = f.from_shop_id {
        conds.push(Cond::new("from_shop_id = :from").value(":from", n(id)));
    }
    if let Some(id) = f.to_shop_id {
        conds.push(Cond::new("to_shop_id = :to").value(":to", n(id)));
    }
    (source, conds.into_iter().reduce(Cond::and))
}

/// A range or batch selection of assets.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Pick {
    /// Identifiers from `.0` to `.1` inclusive (stored form).
    Range(String, String),
    /// Every asset of a batch.
    Batch(String),
}

/// Queries reading `pick` out of a holder's own stock: a shop's own assets (not its
/// descendants'), or the platform stock shards when `holder` is `None`.
pub fn own_stock_selection(t: AssetType, holder: Option<&ShopPath>, pick: &Pick) -> Vec<Query> {
    let bases: Vec<(String, String)> = match holder {
        Some(p) => vec![(keys::assets_tree(t, root(p)), format!("{}#", p.as_str()))],
        None => (0..SHARDS)
            .map(|sh| (keys::assets_platform_stock(t, sh), String::new()))
            .collect(),
    };
    bases
        .into_iter()
        .map(|(pk, base)| {
            let (sk, filter) = match pick {
                Pick::Range(a, b) => (
                    SkCond::Between(format!("{base}{a}"), format!("{base}{b}")),
                    None,
                ),
                Pick::Batch(b) => (SkCond::Prefix(base), Some(batch_cond(b))),
            };
            full_query(On::Gsi1, pk, sk, filter)
        })
        .collect()
}

/// Queries reading `pick` among assets held in a subtree (one scope partition, the
/// range as a filter) or everywhere (`None`: the platform-list shards, the range as
/// a key condition). Platform stock is read too when `subtree` is `None`.
pub fn held_selection(t: AssetType, subtree: Option<&ShopPath>, pick: &Pick) -> Vec<Query> {
    match subtree {
        Some(p) => {
            let filter = match pick {
                Pick::Range(a, b) => {
                    Cond::new(format!("{} BETWEEN :from AND :to", t.identifier_field()))
                        .value(":from", s(a))
                        .value(":to", s(b))
                }
                Pick::Batch(b) => batch_cond(b),
            };
            vec![full_query(
                On::Gsi1,
                keys::assets_tree(t, root(p)),
                SkCond::Prefix(p.as_str().to_string()),
                Some(filter),
            )]
        }
        None => (0..SHARDS)
            .map(|sh| {
                let (sk, filter) = match pick {
                    Pick::Range(a, b) => (SkCond::Between(a.clone(), b.clone()), None),
                    Pick::Batch(b) => (SkCond::Any, Some(batch_cond(b))),
                };
                full_query(On::Gsi2, keys::assets_all(t, sh), sk, filter)
            })
            .collect(),
    }
}

fn full_query(on: On, pk: String, sk: SkCond, filter: Option<Cond>) -> Query {
    Query {
        on,
        pk,
        sk,
        filter,
        limit: None,
        start: None,
        backward: false,
    }
}
