//! Items of the package catalogue and the price chain: series, packages, grants with
//! their claims, package allocations and cost-price history, and the repository of
//! grants and allocations: their reads, the phase writes of a grant (see
//! `services::grants`) and the changes of its allocations (applied with
//! [`Store::apply_changes`](super::steps)). See `docs/data-model.md`.

use super::keys::{self, gsi1};
use super::org::{soft_deleted, with_gsi1};
use super::steps::{tx_of, Change, Op};
use super::tally;
use super::tx::{Cond, Tx, Upd};
use super::{n, s, to_item, Item, Key, On, Query, SkCond, Store, StoreError};
use crate::domain::catalog::{Package, PackageSeries};
use crate::domain::grants::{GrantPhase, Grantor, PackageAllocation, PriceChange, SeriesGrant};

/// `gsi2` partition of grants still being created or deleted (a sparse index the
/// sweeper reads by age).
const UNSETTLED_GRANTS: &str = "GRANTS#UNSETTLED";

/// `gsi2` sort key of an unsettled grant: since when, then the id.
fn unsettled_sort_key(since: &str, id: u64) -> String {
    format!("{since}#{}", gsi1::padded(id))
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

/// `gsi1` sort-key prefix of the grants a grantor issued (`P` = the platform).
pub(super) fn grantor_prefix(grantor: Grantor) -> String {
    match grantor {
        Grantor::Platform => "P#".into(),
        Grantor::Shop(id) => format!("S{}#", gsi1::padded(id)),
    }
}

/// `gsi1` sort-key prefix of the grants of `series_id` a grantor issued.
pub(super) fn grantor_series_prefix(grantor: Grantor, series_id: u64) -> String {
    format!("{}{}#", grantor_prefix(grantor), gsi1::padded(series_id))
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

/// Key and item of one cost-price change.
fn price_change_item(c: &PriceChange) -> Result<(Key, Item), StoreError> {
    let sk = format!("{}#{}", c.changed_at, uuid::Uuid::new_v4().simple());
    let key = Key::new(keys::price_history_pk(c.allocation_id), sk);
    Ok((key.clone(), to_item(c, &key)?))
}

// ---------------------------------------------------------------- reads

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
            backward: false,
        };
        let (items, _) = self.query(&q).await?;
        Ok(items
            .iter()
            .filter_map(|item| super::num_attr(item, "id"))
            .map(|id| id as u64)
            .collect())
    }

    /// Id of the grant holding shop `shop_id`'s claim on series `series_id`, if any.
    pub async fn claimed_grant_id(
        &self,
        shop_id: u64,
        series_id: u64,
    ) -> Result<Option<u64>, StoreError> {
        Ok(self
            .get(&keys::grant_claim(shop_id, series_id))
            .await?
            .and_then(|claim| super::num_attr(&claim, "target_id"))
            .map(|id| id as u64))
    }

    /// The grant holding shop `shop_id`'s claim on series `series_id` (in whatever
    /// phase or status), if any.
    pub async fn claimed_grant(
        &self,
        shop_id: u64,
        series_id: u64,
    ) -> Result<Option<SeriesGrant>, StoreError> {
        match self.claimed_grant_id(shop_id, series_id).await? {
            Some(id) => self.entity(&keys::grant(id)).await,
            None => Ok(None),
        }
    }

    /// The grants a shop holds (its live claims → grants), in effect or not.
    pub async fn shop_grants(&self, shop_id: u64) -> Result<Vec<SeriesGrant>, StoreError> {
        let claims = self
            .query_prefix(On::Table, &keys::shop(shop_id).pk, keys::GRANT_CLAIM_PREFIX)
            .await?;
        let ids: Vec<_> = claims
            .iter()
            .filter_map(|c| super::num_attr(c, "target_id"))
            .map(|id| keys::grant(id as u64))
            .collect();
        self.entities(&ids).await
    }

    /// The listed grants of `series_id` that shop `shop_id` passed down to its
    /// subordinates.
    pub async fn grants_passed_down(
        &self,
        shop_id: u64,
        series_id: u64,
    ) -> Result<Vec<SeriesGrant>, StoreError> {
        let prefix = grantor_series_prefix(Grantor::Shop(shop_id), series_id);
        self.list_scope(gsi1::GRANTS, &prefix).await
    }

    /// The live allocations of a shop (all packages), one Query.
    pub async fn shop_allocations(
        &self,
        shop_id: u64,
    ) -> Result<Vec<PackageAllocation>, StoreError> {
        let items = self
            .query_prefix(On::Table, &keys::shop(shop_id).pk, keys::ALLOCATION_PREFIX)
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
            pk: keys::shop(shop_id).pk,
            sk: SkCond::Prefix(keys::ALLOCATION_PREFIX.into()),
            filter: Some(
                Cond::new("series_allocation_id = :g AND attribute_not_exists(deleted_at)")
                    .value(":g", n(grant_id)),
            ),
            limit: None,
            start: None,
            backward: false,
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
}

// ---------------------------------------------------------------- grant phases

/// The grant is in `phase`.
fn phase_is(phase: GrantPhase) -> Cond {
    Cond::new("phase = :phase").value(":phase", s(phase.as_str()))
}

/// Moves a grant to `phase`, bumping its version; `also` continues the `SET` clause
/// or adds further clauses.
fn set_phase(phase: GrantPhase, also: &str) -> Upd {
    Upd::new(format!("SET phase = :new_phase{also} ADD version :one"))
        .value(":new_phase", s(phase.as_str()))
        .value(":one", n(1))
}

/// Guard of the chunks of a grant's package changes: the grant must still be live and
/// in `phase` when each chunk commits.
pub fn grant_phase_guard(grant_id: u64, phase: GrantPhase) -> Op {
    Op::Check(
        "grant",
        keys::grant(grant_id),
        Cond::live().and(phase_is(phase)),
    )
}

impl Store {
    /// Phase 1 of a creation: the new grant `g` (`creating`, so it takes no effect)
    /// with its claim, the series' grant count (series unchanged since read) and,
    /// for an agent grant, the `parent` grant's count of grants passed down (parent
    /// unchanged and ready). Labels: `entity`, `claim`, `series`, `parent_grant`.
    pub async fn open_grant(
        &self,
        g: &SeriesGrant,
        series: &PackageSeries,
        parent: Option<&SeriesGrant>,
    ) -> Result<(), StoreError> {
        let mut ops = vec![
            Op::Put("entity", grant_item(g)?, Some(Cond::absent())),
            Op::Put("claim", claim_item(g), Some(Cond::absent())),
            Op::Update(
                "series",
                keys::series(series.id),
                Upd::counter("grant_count", 1),
                Some(Cond::live().and(Cond::version(series.version))),
            ),
        ];
        if let Some(p) = parent {
            let guard = Cond::live()
                .and(Cond::version(p.version))
                .and(phase_is(GrantPhase::Ready));
            ops.push(Op::Update(
                "parent_grant",
                keys::grant(p.id),
                Upd::counter("sub_grant_count", 1),
                Some(guard),
            ));
        }
        self.transact(tx_of(ops)).await
    }

    /// Saves grant `item` read at `expected`. When its amounts were checked against
    /// the grantor's grant `parent`, the parent must be unchanged since that read and
    /// its version moves on (label `parent_grant`): a concurrent change of the parent's
    /// amounts (conditioned on its version) and this one cannot both pass their checks.
    pub async fn save_grant(
        &self,
        item: Item,
        expected: i64,
        parent: Option<&SeriesGrant>,
    ) -> Result<(), StoreError> {
        let mut tx = Tx::new().put(
            "grant",
            item,
            Some(Cond::live().and(Cond::version(expected))),
        );
        if let Some(p) = parent {
            tx = tx.update(
                "parent_grant",
                &keys::grant(p.id),
                Upd::bump(),
                Some(Cond::live().and(Cond::version(p.version))),
            );
        }
        self.transact(tx).await
    }

    /// Last phase of a creation: `creating` → `ready` (the grant takes effect, leaves
    /// the unsettled index and counts among the grants its grantor issued). Fails
    /// (label `grant`) if it is no longer `creating`.
    pub async fn finish_grant(&self, g: &SeriesGrant) -> Result<(), StoreError> {
        let upd = set_phase(GrantPhase::Ready, " REMOVE gsi2pk, gsi2sk");
        let tx = Tx::new().update(
            "grant",
            &keys::grant(g.id),
            upd,
            Some(phase_is(GrantPhase::Creating)),
        );
        self.transact(tally::count_issued(tx, g.allocator_shop_id, 1))
            .await
    }

    /// First phase of a deletion: ready grant `g` → `deleting` (from then on nothing
    /// of it takes effect and it no longer counts among its grantor's grants),
    /// stamped by `by` at `at` and put in the unsettled index.
    /// Fails (`grant`, with the stored grant) unless it is live, unchanged since read
    /// and has no grants passed down.
    pub async fn start_grant_deletion(
        &self,
        g: &SeriesGrant,
        by: u64,
        at: &str,
    ) -> Result<(), StoreError> {
        let upd = set_phase(
            GrantPhase::Deleting,
            ", updated_at = :at, updater = :by, gsi2pk = :u, gsi2sk = :usk",
        )
        .value(":at", s(at))
        .value(":by", n(by))
        .value(":u", s(UNSETTLED_GRANTS))
        .value(":usk", s(unsettled_sort_key(at, g.id)));
        let cond = Cond::live()
            .and(Cond::version(g.version))
            .and(Cond::new("sub_grant_count = :zero").value(":zero", n(0)));
        let tx = Tx::new().update("grant", &keys::grant(g.id), upd, Some(cond));
        self.transact(tally::count_issued(tx, g.allocator_shop_id, -1))
            .await
    }

    /// Stops an interrupted creation: `creating` → `deleting`, so no further chunk of
    /// it can commit. Fails if it is not live and `creating`.
    pub async fn abandon_grant(&self, grant_id: u64) -> Result<(), StoreError> {
        let upd = set_phase(GrantPhase::Deleting, "");
        let cond = Cond::live().and(phase_is(GrantPhase::Creating));
        self.update_if("grant", &keys::grant(grant_id), upd, cond)
            .await
    }

    /// Soft-deletes allocations of grant `g` at `at` in one transaction (each only if
    /// still live and of `g`), releasing the grantor's allocations they counted.
    pub async fn retire_allocations(
        &self,
        g: &SeriesGrant,
        allocations: &[PackageAllocation],
        at: &str,
    ) -> Result<(), StoreError> {
        let mut ops = vec![];
        for a in allocations {
            let upd = Upd::new("SET deleted_at = :at REMOVE gsi1pk, gsi1sk ADD version :one")
                .value(":at", s(at))
                .value(":one", n(1));
            let cond =
                Cond::live().and(Cond::new("series_allocation_id = :g").value(":g", n(g.id)));
            ops.push(Op::Update(
                "allocation",
                keys::allocation(a.shop_id, a.package_id),
                upd,
                Some(cond),
            ));
            if let Grantor::Shop(grantor) = g.allocator_shop_id {
                ops.push(Op::Update(
                    "parent",
                    keys::allocation(grantor, a.package_id),
                    Upd::counter("sub_allocation_count", -1),
                    Some(Cond::new("attribute_exists(pk)")),
                ));
            }
            ops.push(Op::Update(
                "package",
                keys::package(a.package_id),
                Upd::counter("allocation_count", -1),
                None,
            ));
        }
        self.transact(tx_of(ops)).await
    }

    /// Last phase of a deletion: the `deleting` grant `g` soft-deleted at `at` (out of
    /// every index), its claim released and the counters it moved restored.
    pub async fn close_grant(&self, g: &SeriesGrant, at: &str) -> Result<(), StoreError> {
        let upd =
            Upd::new("SET deleted_at = :at REMOVE gsi1pk, gsi1sk, gsi2pk, gsi2sk ADD version :one")
                .value(":at", s(at))
                .value(":one", n(1));
        let mut ops = vec![
            Op::Update(
                "grant",
                keys::grant(g.id),
                upd,
                Some(Cond::live().and(phase_is(GrantPhase::Deleting))),
            ),
            Op::Delete(
                "claim",
                keys::grant_claim(g.shop_id, g.series_id),
                Some(Cond::new("target_id = :g").value(":g", n(g.id))),
            ),
            Op::Update(
                "series",
                keys::series(g.series_id),
                Upd::counter("grant_count", -1),
                None,
            ),
        ];
        if let Some(parent) = g.allocator_grant_id {
            ops.push(Op::Update(
                "parent_grant",
                keys::grant(parent),
                Upd::counter("sub_grant_count", -1),
                None,
            ));
        }
        self.transact(tx_of(ops)).await
    }
}

// ---------------------------------------------------------------- allocation changes

/// Creating allocation `a` where the shop holds none (or only a deleted one); undone
/// by deleting it if it is still this one.
pub fn allocation_created(a: &PackageAllocation) -> Result<Change, StoreError> {
    let mut c = Change {
        ops: vec![Op::Put(
            "allocation",
            allocation_item(a)?,
            Some(Cond::new(
                "attribute_not_exists(pk) OR attribute_exists(deleted_at)",
            )),
        )],
        undo: vec![Op::Delete(
            "allocation",
            keys::allocation(a.shop_id, a.package_id),
            Some(Cond::new("id = :id").value(":id", n(a.id))),
        )],
    };
    count_allocation(&mut c, a.package_id, 1);
    count_grant_package(&mut c, a.series_allocation_id, 1);
    Ok(c)
}

/// Adds to `c` a move by `delta` of the grant's package count (merged with the
/// grant's phase guard of the transaction; reverted by the undo).
fn count_grant_package(c: &mut Change, grant_id: u64, delta: i64) {
    let key = keys::grant(grant_id);
    c.ops
        .push(Op::Count("grant", key.clone(), "package_count", delta));
    c.undo
        .push(Op::Count("grant", key, "package_count", -delta));
}

/// Adds to `c` a move by `delta` of the package's live-allocation count (label
/// `package`; an allocation is created only while the package is live; reverted by
/// the undo).
fn count_allocation(c: &mut Change, package_id: u64, delta: i64) {
    let guard = (delta > 0).then(Cond::live);
    count(
        c,
        "package",
        keys::package(package_id),
        "allocation_count",
        delta,
        guard,
    );
}

/// Adds to `c` a move by `delta` of `counter` on the item at `key` (label `label`,
/// required to meet `guard`), and its reverse to the undo.
fn count(
    c: &mut Change,
    label: &'static str,
    key: Key,
    counter: &str,
    delta: i64,
    guard: Option<Cond>,
) {
    c.ops.push(Op::Update(
        label,
        key.clone(),
        Upd::counter(counter, delta),
        guard,
    ));
    c.undo
        .push(Op::Update(label, key, Upd::counter(counter, -delta), None));
}

/// A package no live allocation names (the condition of its deletion).
pub fn package_unallocated() -> Cond {
    Cond::new("attribute_not_exists(allocation_count) OR allocation_count = :none")
        .value(":none", n(0))
}

/// Replacing allocation `old` by `new` (its touched state, soft-deleted when `new`
/// carries `deleted_at`) if `old` is live and unchanged; undone by writing `old`'s
/// content back with a further version, if nobody changed it in between.
pub fn allocation_replaced(
    old: &PackageAllocation,
    new: &PackageAllocation,
) -> Result<Change, StoreError> {
    let mut back = old.clone();
    back.version = new.version + 1;
    let mut item = allocation_item(new)?;
    if let Some(at) = &new.deleted_at {
        item = soft_deleted(item, at);
    }
    let mut c = Change {
        ops: vec![Op::Put(
            "allocation",
            item,
            Some(Cond::live().and(Cond::version(old.version))),
        )],
        undo: vec![Op::Put(
            "allocation",
            allocation_item(&back)?,
            Some(Cond::version(new.version)),
        )],
    };
    if new.deleted_at.is_some() {
        count_allocation(&mut c, old.package_id, -1);
        count_grant_package(&mut c, old.series_allocation_id, -1);
    }
    Ok(c)
}

/// Adds to `c` the history item of cost-price change `p` (removed by the undo).
pub fn record_price_change(c: &mut Change, p: &PriceChange) -> Result<(), StoreError> {
    let (key, item) = price_change_item(p)?;
    c.ops.push(Op::Put("history", item, Some(Cond::absent())));
    c.undo.push(Op::Delete("history", key, None));
    Ok(())
}

/// Adds to `c` a move by `delta` of the sub-allocation count of `grantor`'s own
/// allocation of `package_id` (label `parent`; reverted by the undo). With
/// `expect_version` the move requires that allocation live and unchanged since read.
pub fn count_sub_allocation(
    c: &mut Change,
    grantor: u64,
    package_id: u64,
    delta: i64,
    expect_version: Option<i64>,
) {
    let guard = expect_version.map(|v| Cond::live().and(Cond::version(v)));
    count(
        c,
        "parent",
        keys::allocation(grantor, package_id),
        "sub_allocation_count",
        delta,
        guard,
    );
}
