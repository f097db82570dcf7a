//! Where asset lists, allocation-record lists and range/batch selections read from
//! (partitions, key conditions) and the filters they apply. The key layout is in
//! [`super::assets`].

use aws_sdk_dynamodb::types::AttributeValue;

use super::asset_index::{root, SHARDS};
use super::assets::owned_by;
use super::authorizations::enterprise_assets;
use super::cursor::Source;
use super::org::owner_sort_key;
use super::tx::Cond;
use super::{keys, n, s, On, Query, SkCond};
use crate::domain::assets::ranges::range_buckets;
use crate::domain::assets::{AssetStatus, AssetType, MoveOp};
use crate::domain::shop_path::ShopPath;
use crate::domain::validate::Invalid;

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
    /// The assets authorised to an enterprise.
    Enterprise(u64),
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
        ListScope::Enterprise(e) => enterprise_assets(t, e, p),
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

/// Every page of a selection of assets of type `t` by list filters (a manual
/// polling trigger), as Queries reading `page` items each: with a batch, the batch
/// index (platform stock and shops' assets, two Queries) instead of every asset;
/// otherwise what [`asset_list`] reads, one Query per partition.
pub fn selection_queries(t: AssetType, scope: ListScope, f: &ListFilter, page: i32) -> Vec<Query> {
    let with_page = |mut q: Query| {
        q.limit = Some(page);
        q
    };
    if let (ListScope::All, Some(b)) = (scope, f.batch_no.as_deref()) {
        let rest = ListFilter {
            prefix: None,
            batch_no: None,
            ..f.clone()
        };
        let (_, rest) = asset_list(t, ListScope::All, &rest);
        let prefix = f.prefix.as_deref().map(|p| {
            let attr = t.identifier_field();
            Cond::new(format!("begins_with({attr}, :prefix_f)")).value(":prefix_f", s(p))
        });
        let filter = [rest, prefix].into_iter().flatten().reduce(Cond::and);
        let batch = keys::assets_batch(t, b);
        return [owner_sort_key(None, ""), "/".to_string()]
            .into_iter()
            .map(|within| {
                with_page(full_query(
                    On::Gsi3,
                    batch.clone(),
                    SkCond::Prefix(within),
                    filter.clone(),
                ))
            })
            .collect();
    }
    let (source, filter) = asset_list(t, scope, f);
    source
        .partitions
        .into_iter()
        .map(|pk| with_page(full_query(source.on, pk, source.sk.clone(), filter.clone())))
        .collect()
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

/// Queries reading `pick` out of a holder's own stock (a shop's own assets, not its
/// descendants'; platform stock when `holder` is `None`), each by key condition:
/// a batch is one `gsi3` Query on `<holder>#`; a shop's range one `gsi1` `BETWEEN`
/// on its own stock; the platform's range one `gsi4` `BETWEEN` per bucket, filtered
/// to platform stock. A range that cannot be read so is refused.
pub fn own_stock_selection(
    t: AssetType,
    holder: Option<&ShopPath>,
    pick: &Pick,
) -> Result<Vec<Query>, Invalid> {
    Ok(match (pick, holder) {
        (Pick::Batch(b), _) => vec![full_query(
            On::Gsi3,
            keys::assets_batch(t, b),
            SkCond::Prefix(owner_sort_key(holder, "")),
            None,
        )],
        (Pick::Range(a, b), Some(p)) => {
            range_buckets(a, b)?;
            vec![full_query(
                On::Gsi1,
                keys::assets_tree(t, root(p)),
                SkCond::Between(owner_sort_key(holder, a), owner_sort_key(holder, b)),
                None,
            )]
        }
        (Pick::Range(a, b), None) => range_queries(t, a, b, owned_by(None))?,
    })
}

/// Queries reading `pick` among assets held by shops in a subtree (every shop when
/// `subtree` is `None`), each by key condition: a batch is one `gsi3` Query on the
/// subtree's path (`/` for every shop); a range one `gsi4` `BETWEEN` per bucket,
/// filtered to holders in the subtree. A range that cannot be read so is refused.
pub fn held_selection(
    t: AssetType,
    subtree: Option<&ShopPath>,
    pick: &Pick,
) -> Result<Vec<Query>, Invalid> {
    let within = subtree.map_or("/", ShopPath::as_str);
    Ok(match pick {
        Pick::Batch(b) => vec![full_query(
            On::Gsi3,
            keys::assets_batch(t, b),
            SkCond::Prefix(within.to_string()),
            None,
        )],
        Pick::Range(a, b) => {
            let held =
                Cond::new("begins_with(owner_path, :held_within)").value(":held_within", s(within));
            range_queries(t, a, b, held)?
        }
    })
}

/// One `gsi4` Query per bucket of the range `a..=b`, each `BETWEEN a AND b` with
/// `filter`.
fn range_queries(t: AssetType, a: &str, b: &str, filter: Cond) -> Result<Vec<Query>, Invalid> {
    Ok(range_buckets(a, b)?
        .into_iter()
        .map(|bucket| {
            full_query(
                On::Gsi4,
                keys::assets_range(t, &bucket),
                SkCond::Between(a.to_string(), b.to_string()),
                Some(filter.clone()),
            )
        })
        .collect())
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

#[cfg(test)]
mod tests {
    use super::*;

    fn shape(queries: &[Query]) -> Vec<(String, String, bool)> {
        queries
            .iter()
            .map(|q| (format!("{:?}", q.on), q.pk.clone(), q.filter.is_some()))
            .collect()
    }

    #[test]
    fn a_filter_selection_with_a_batch_reads_the_batch_index() {
        let f = ListFilter {
            batch_no: Some("B1".into()),
            prefix: Some("8986".into()),
            ..ListFilter::default()
        };
        let q = selection_queries(AssetType::Card, ListScope::All, &f, 100);
        assert_eq!(
            shape(&q),
            [
                ("Gsi3".into(), "CARDS#BATCH#B1".into(), true),
                ("Gsi3".into(), "CARDS#BATCH#B1".into(), true),
            ]
        );
        assert!(q.iter().all(|q| q.limit == Some(100)));
        let f = ListFilter {
            carrier_id: Some(1),
            ..ListFilter::default()
        };
        let q = selection_queries(AssetType::Card, ListScope::All, &f, 100);
        assert_eq!(q.len(), SHARDS as usize);
        assert!(q.iter().all(|q| q.filter.is_some()));
    }

    #[test]
    fn selections_are_key_conditions_never_a_whole_stock_or_every_shard() {
        let a = ShopPath::top(3).child(9);
        let batch = Pick::Batch("B1".into());
        let q = own_stock_selection(AssetType::Card, Some(&a), &batch).unwrap();
        assert_eq!(shape(&q), [("Gsi3".into(), "CARDS#BATCH#B1".into(), false)]);
        assert!(matches!(&q[0].sk, SkCond::Prefix(p) if p == "/3/9/#"));
        let q = own_stock_selection(AssetType::Card, None, &batch).unwrap();
        assert!(matches!(&q[0].sk, SkCond::Prefix(p) if p == "!P#"));
        let q = held_selection(AssetType::Device, None, &batch).unwrap();
        assert_eq!(
            shape(&q),
            [("Gsi3".into(), "DEVICES#BATCH#B1".into(), false)]
        );
        assert!(matches!(&q[0].sk, SkCond::Prefix(p) if p == "/"));

        // Two buckets: one Query each, filtered by holder.
        let range = Pick::Range("89860000000000009990".into(), "89860000000000010009".into());
        for q in [
            own_stock_selection(AssetType::Card, None, &range).unwrap(),
            held_selection(AssetType::Card, Some(&a), &range).unwrap(),
            held_selection(AssetType::Card, None, &range).unwrap(),
        ] {
            assert_eq!(
                shape(&q),
                [
                    ("Gsi4".into(), "CARDS#RANGE#8986000000000000".into(), true),
                    ("Gsi4".into(), "CARDS#RANGE#8986000000000001".into(), true),
                ]
            );
        }
        // A shop's own range stays on its own stock in the scope index.
        let q = own_stock_selection(AssetType::Card, Some(&a), &range).unwrap();
        assert_eq!(shape(&q), [("Gsi1".into(), "CARDS#3".into(), false)]);
        let bad = Pick::Range("DVA00001".into(), "DVB00001".into());
        assert!(own_stock_selection(AssetType::Device, Some(&a), &bad).is_err());
        assert!(held_selection(AssetType::Device, None, &bad).is_err());
    }
}
