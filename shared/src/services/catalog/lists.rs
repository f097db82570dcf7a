//! The catalogue lists (api.md §12–13): series and packages, one page read by key.
//! The platform pages the `SERIES`/`PACKAGES` partitions with the filters in
//! DynamoDB; an agent pages its own shop's grant claims or allocations and keeps
//! those in effect (so its pages may be short, and carry no total).

use super::packages::{PackageFilter, PackageView};
use super::series::SeriesFilter;
use super::{agent_shop, CatalogError};
use crate::domain::caller::{Caller, SA_PL_AG};
use crate::domain::catalog::{Package, PackageSeries};
use crate::domain::grants::{PackageAllocation, SeriesGrant};
use crate::domain::org::Status;
use crate::domain::validate::filter_term;
use crate::paging::{CursorPage, PageQuery};
use crate::store::keys::{self, gsi1};
use crate::store::lists::{self, ClaimRow, Filter};
use crate::store::tally::{Counted, Tallied, Tally};
use crate::store::{from_item, Key, Store};

/// One page of the series visible to the caller matching `f`, by key. Platform: all
/// series by id, one Query (two when a filter drops items) and, unfiltered, the
/// series count. Agents: the series granted to their own shop (grant in effect), in
/// the order of the shop's claims: one Query of the claims, one batch read of their
/// grants and series; filtered here, so a page may be short, and no total.
pub async fn list_series(
    store: &Store,
    caller: &Caller,
    f: &SeriesFilter,
    page: &PageQuery,
) -> Result<CursorPage<PackageSeries>, CatalogError> {
    caller.require(SA_PL_AG)?;
    let (cursor, size) = page.parse()?;
    let name = filter_term(f.series_name.as_deref());
    let code = filter_term(f.series_code.as_deref());
    let filter = Filter::new()
        .contains("series_name", name)
        .eq_str("series_code", code)
        .eq("status", f.status)
        .eq_str("commission_type", f.commission_type.map(|t| t.as_str()));
    if caller.is_platform() {
        let series = store
            .read_page(
                &lists::scope(gsi1::SERIES, ""),
                filter.cond(),
                size,
                cursor,
                |_: &PackageSeries| true,
            )
            .await?;
        let total = match filter.cond() {
            None => Some(
                store
                    .tally(&Tally::of(Tallied::Platform, Counted::Series))
                    .await?,
            ),
            Some(_) => None,
        };
        return Ok(series.with_total(total));
    }
    let shop = agent_shop(caller)?;
    let mut claims_page = store
        .read_page(
            &lists::shop_claims(shop),
            None,
            size,
            cursor,
            |_: &ClaimRow| true,
        )
        .await?;
    let claims = std::mem::take(&mut claims_page.list)
        .into_iter()
        .map(|c| (c.target_id, c.series_id()));
    let mut wanted: Vec<(u64, u64)> = vec![];
    let mut keys_: Vec<Key> = vec![];
    for (grant, series) in claims {
        if let Some(series) = series {
            wanted.push((grant, series));
            keys_.push(keys::grant(grant));
            keys_.push(keys::series(series));
        }
    }
    let items = store.get_many(&keys_).await?;
    let find = |k: &Key| items.iter().find(|i| k.matches(i)).cloned();
    let mut list = vec![];
    for (grant, series) in wanted {
        let g: Option<SeriesGrant> = find(&keys::grant(grant)).map(from_item).transpose()?;
        let x: Option<PackageSeries> = find(&keys::series(series)).map(from_item).transpose()?;
        if let (Some(g), Some(x)) = (g, x) {
            let matches = g.in_effect()
                && x.deleted_at.is_none()
                && name.is_none_or(|n| x.series_name.contains(n))
                && code.is_none_or(|c| x.series_code == c)
                && f.status.is_none_or(|s| i64::from(x.status) == s)
                && f.commission_type.is_none_or(|t| x.commission_type == t);
            if matches {
                list.push(x);
            }
        }
    }
    Ok(claims_page.with_list(list))
}

/// One page of the packages visible to the caller matching `f`. Platform: all
/// packages by id, one Query (two when a filter drops items) and, unfiltered, the
/// package count. Agents: the packages allocated to their own shop (allocation live,
/// enabled, under a grant in effect) with their prices, in the order of the shop's
/// allocations: one Query of the allocations (series and shelf filters applied
/// there), one batch read of their grants and packages; the package filters apply
/// here, so a page may be short, and no total.
pub async fn list_packages(
    store: &Store,
    caller: &Caller,
    f: &PackageFilter,
    page: &PageQuery,
) -> Result<CursorPage<PackageView>, CatalogError> {
    caller.require(SA_PL_AG)?;
    let (cursor, size) = page.parse()?;
    let name = filter_term(f.package_name.as_deref());
    let code = filter_term(f.package_code.as_deref());
    if caller.is_platform() {
        let filter = Filter::new()
            .contains("package_name", name)
            .eq_str("package_code", code)
            .eq_id("package_series_id", f.package_series_id)
            .eq_str("package_type", f.package_type.map(|t| t.as_str()))
            .eq("status", f.status);
        let packages = store
            .read_page(
                &lists::scope(gsi1::PACKAGES, ""),
                filter.cond(),
                size,
                cursor,
                |_: &Package| true,
            )
            .await?;
        let total = match filter.cond() {
            None => Some(
                store
                    .tally(&Tally::of(Tallied::Platform, Counted::Packages))
                    .await?,
            ),
            Some(_) => None,
        };
        return Ok(packages
            .map(|p| PackageView::of(&p, None))
            .with_total(total));
    }
    let shop = agent_shop(caller)?;
    let filter = Filter::new()
        .live()
        .eq("status", Some(i64::from(Status::Enabled)))
        .eq_id("series_id", f.package_series_id)
        .eq("shelf_status", f.shelf_status);
    let mut allocs_page = store
        .read_page(
            &lists::shop_allocations(shop),
            filter.cond(),
            size,
            cursor,
            |_: &PackageAllocation| true,
        )
        .await?;
    let allocs = std::mem::take(&mut allocs_page.list);
    let mut keys_: Vec<Key> = allocs.iter().map(|a| keys::package(a.package_id)).collect();
    let mut grant_ids: Vec<u64> = allocs.iter().map(|a| a.series_allocation_id).collect();
    grant_ids.sort_unstable();
    grant_ids.dedup();
    keys_.extend(grant_ids.into_iter().map(keys::grant));
    let items = store.get_many(&keys_).await?;
    let find = |k: &Key| items.iter().find(|i| k.matches(i)).cloned();
    let mut list = vec![];
    for a in allocs {
        let g: Option<SeriesGrant> = find(&keys::grant(a.series_allocation_id))
            .map(from_item)
            .transpose()?;
        let p: Option<Package> = find(&keys::package(a.package_id))
            .map(from_item)
            .transpose()?;
        if let (Some(g), Some(p)) = (g, p) {
            let matches = g.in_effect()
                && p.deleted_at.is_none()
                && name.is_none_or(|n| p.package_name.contains(n))
                && code.is_none_or(|c| p.package_code == c)
                && f.package_series_id.is_none_or(|s| p.package_series_id == s)
                && f.package_type.is_none_or(|t| p.package_type == t)
                && f.status.is_none_or(|s| i64::from(p.status) == s);
            if matches {
                list.push(PackageView::of(&p, Some(&a)));
            }
        }
    }
    Ok(allocs_page.with_list(list))
}
