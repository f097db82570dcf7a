//! Items of the package catalogue and the price chain: series, packages, grants with
//! their claims, package allocations and cost-price history. See `docs/data-model.md`.

use super::keys::{self, gsi1};
use super::org::with_gsi1;
use super::{n, s, to_item, Item, Key, On, Query, SkCond, Store, StoreError};
use crate::domain::catalog::{Package, PackageSeries};
use crate::domain::grants::{GrantPhase, PackageAllocation, PriceChange, SeriesGrant, PLATFORM};
use crate::store::tx::Cond;

/// `gsi2` partition of grants still being created or deleted (a sparse index the
/// sweeper reads by age).
pub const UNSETTLED_GRANTS: &str = "GRANTS#UNSETTLED";

/// `gsi2` sort key of an unsettled grant: since when, then the id.
pub fn unsettled_sort_key(since: &str, id: u64) -> String {
    format!("{since}#{}", gsi1::padded(id))
}

impl Store {
    /// Ids of grants unsettled since before `cutoff` (RFC 3339), oldest first, at
    /// most `limit`.
    pub async fn unsettled_grants_before(
        &self,
        cutoff: &str,
        limit: i32,
    ) -> Result<Vec<u64>, StoreError> {
        let q = Query {
            on: On::Gsi2,
            pk: UNSETTLED_GRANTS.into(),
            sk: SkCond::Between("0".into(), format!("{cutoff}#~")),
            filter: None,
            limit: Some(limit),
            start: None,
        };
        let (items, _) = self.query(&q).await?;
        Ok(items
            .iter()
            .filter_map(|item| super::num_attr(item, "id"))
            .map(|id| id as u64)
            .collect())
    }
}

/// Item of a live series.
pub fn series_item(x: &PackageSeries) -> Result<Item, StoreError> {
    let item = to_item(x, &keys::series(x.id))?;
    Ok(with_gsi1(item, gsi1::SERIES, gsi1::padded(x.id)))
}

/// Item of a live package.
pub fn package_item(p: &Package) -> Result<Item, StoreError> {
    let item = to_item(p, &keys::package(p.id))?;
    Ok(with_gsi1(item, gsi1::PACKAGES, gsi1::padded(p.id)))
}

/// Sort-key prefix of the grants a grantor issued (`P` = the platform).
pub fn grantor_prefix(allocator_shop_id: u64) -> String {
    if allocator_shop_id == PLATFORM {
        "P#".into()
    } else {
        format!("S{}#", gsi1::padded(allocator_shop_id))
    }
}

/// Sort-key prefix of the grants of `series_id` a grantor issued.
pub fn grantor_series_prefix(allocator_shop_id: u64, series_id: u64) -> String {
    format!(
        "{}{}#",
        grantor_prefix(allocator_shop_id),
        gsi1::padded(series_id)
    )
}

/// Item of a live grant: listed under `GRANTS` by grantor and series; while not
/// ready it is also in the sparse `gsi2` partition of unsettled grants.
pub fn grant_item(g: &SeriesGrant) -> Result<Item, StoreError> {
    let item = to_item(g, &keys::grant(g.id))?;
    let sk = format!(
        "{}{}",
        grantor_series_prefix(g.allocator_shop_id, g.series_id),
        gsi1::padded(g.id)
    );
    let mut item = with_gsi1(item, gsi1::GRANTS, sk);
    if g.phase != GrantPhase::Ready {
        item.insert("gsi2pk".into(), s(UNSETTLED_GRANTS));
        item.insert("gsi2sk".into(), s(unsettled_sort_key(&g.updated_at, g.id)));
    }
    Ok(item)
}

/// The claim item of a grant (shop + series → grant id).
pub fn claim_item(g: &SeriesGrant) -> Item {
    let mut item = keys::grant_claim(g.shop_id, g.series_id).item();
    item.insert("target_id".into(), n(g.id));
    item
}

/// Item of a package allocation, listed under its package by shop.
pub fn allocation_item(a: &PackageAllocation) -> Result<Item, StoreError> {
    let item = to_item(a, &keys::allocation(a.shop_id, a.package_id))?;
    Ok(with_gsi1(
        item,
        &gsi1::package_allocations(a.package_id),
        gsi1::padded(a.shop_id),
    ))
}

/// Item of one cost-price change.
pub fn price_change_item(c: &PriceChange) -> Result<Item, StoreError> {
    let sk = format!("{}#{}", c.changed_at, uuid::Uuid::new_v4().simple());
    to_item(c, &Key::new(keys::price_history_pk(c.allocation_id), sk))
}

/// Condition of writing a new allocation: none at the key, or only a deleted one.
pub fn allocation_free() -> Cond {
    Cond::new("attribute_not_exists(pk) OR attribute_exists(deleted_at)")
}

impl Store {
    /// The live allocations of a shop (all packages), one Query.
    pub async fn shop_allocations(
        &self,
        shop_id: u64,
    ) -> Result<Vec<PackageAllocation>, StoreError> {
        let pk = format!("SHOP#{shop_id}");
        let items = self
            .query_prefix(On::Table, &pk, keys::ALLOCATION_PREFIX)
            .await?;
        let all: Vec<PackageAllocation> = items
            .into_iter()
            .map(super::from_item)
            .collect::<Result<_, _>>()?;
        Ok(all.into_iter().filter(|a| a.deleted_at.is_none()).collect())
    }

    /// The live allocations of one grant (a Query of the grantee's allocations
    /// filtered by grant id).
    pub async fn grant_allocations(
        &self,
        shop_id: u64,
        grant_id: u64,
    ) -> Result<Vec<PackageAllocation>, StoreError> {
        let mut q = Query {
            on: On::Table,
            pk: format!("SHOP#{shop_id}"),
            sk: SkCond::Prefix(keys::ALLOCATION_PREFIX.into()),
            filter: Some(
                Cond::new("series_allocation_id = :g AND attribute_not_exists(deleted_at)")
                    .value(":g", n(grant_id)),
            ),
            limit: None,
            start: None,
        };
        let mut out = Vec::new();
        loop {
            let (page, next) = self.query(&q).await?;
            for item in page {
                out.push(super::from_item(item)?);
            }
            match next {
                Some(k) => q.start = Some(k),
                None => return Ok(out),
            }
        }
    }

    /// Whether any live allocation of package `id` exists (one Query, `Limit 1`).
    pub async fn package_allocated(&self, id: u64) -> Result<bool, StoreError> {
        let found = self
            .query_page(On::Gsi1, &gsi1::package_allocations(id), "", Some(1))
            .await?;
        Ok(!found.is_empty())
    }
}
