//! Package lifecycle writes and reads (jobs.md J10–J13): the usage due indexes
//! (sparse, derived by [`usage_item`] from each usage: expiry on `gsi3`, reset on
//! `gsi4`, both in [`keys::USAGE_DUE_SHARDS`] shards by usage id), read only up to
//! now and bounded; usage changes conditioned on the version read; the asset's usage
//! head moved by every change that may start or end a main package, so a purchase
//! and an activation (or an expiry) of one asset never both succeed on what they
//! read.

use super::keys;
use super::orders::HEAD_LABEL;
use super::tx::{Cond, Tx, Upd};
use super::usages::usage_item;
use super::{from_item, n, On, Query, SkCond, Store, StoreError};
use crate::domain::assets::AssetType;
use crate::domain::usage::PackageUsage;

/// Label of a usage change in its transaction.
pub const USAGE_LABEL: &str = "usage";

/// Which due index to read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DueIndex {
    /// Usages whose validity ends (`valid_until`).
    Expiry,
    /// Usages whose data resets (`next_reset_at`).
    Reset,
}

/// Adds to `tx` usage `u` as it becomes, on condition that the stored usage is still
/// at version `expected` (the item, due entries included, comes from [`usage_item`]).
pub fn usage_change_ops(tx: Tx, u: &PackageUsage, expected: i64) -> Result<Tx, StoreError> {
    Ok(tx.put(USAGE_LABEL, usage_item(u)?, Some(Cond::version(expected))))
}

/// Adds to `tx` the move of the asset's usage head from `version` (0: none yet), on
/// condition that no purchase or activation moved it meanwhile (label
/// [`HEAD_LABEL`]).
pub fn head_move_ops(tx: Tx, t: AssetType, asset_id: u64, version: i64) -> Tx {
    let cond = if version == 0 {
        Cond::absent()
    } else {
        Cond::version(version)
    };
    let upd = Upd::new("SET version = :next").value(":next", n(version + 1));
    tx.update(HEAD_LABEL, &keys::usage_head(t, asset_id), upd, Some(cond))
}

impl Store {
    /// Up to `limit` usages due at or before `now` in `index`, read shard by shard
    /// from `first_shard` on (a pass starting elsewhere each time keeps every shard
    /// moving under a backlog), earliest first within a shard; and whether more were
    /// left. The index projects whole items, eventually consistent: a usage may be
    /// one write behind, which the version condition of its change catches.
    pub async fn usages_due(
        &self,
        index: DueIndex,
        now: i64,
        limit: usize,
        first_shard: u64,
    ) -> Result<(Vec<PackageUsage>, bool), StoreError> {
        let mut out = Vec::new();
        let mut more = false;
        for i in 0..keys::USAGE_DUE_SHARDS {
            let shard = (first_shard + i) % keys::USAGE_DUE_SHARDS;
            let (on, pk) = match index {
                DueIndex::Expiry => (On::Gsi3, keys::usage_expiry_due(shard)),
                DueIndex::Reset => (On::Gsi4, keys::usage_reset_due(shard)),
            };
            let mut q = Query {
                on,
                pk,
                sk: SkCond::Between(keys::usage_due_sort(0, 0), format!("{:012}#~", now.max(0))),
                filter: None,
                limit: None,
                start: None,
                backward: false,
            };
            loop {
                let left = limit.saturating_sub(out.len());
                if left == 0 {
                    more = true;
                    break;
                }
                q.limit = Some(i32::try_from(left.min(1000)).unwrap_or(1000));
                let (items, next) = self.query(&q).await?;
                for item in items {
                    out.push(from_item(item)?);
                }
                match next {
                    Some(k) => q.start = Some(k),
                    None => break,
                }
            }
            if more {
                break;
            }
        }
        Ok((out, more))
    }

    /// The version of the asset's usage head (0 when none yet) and its usages, the
    /// head read first so a change conditioned on it covers what was read.
    pub async fn head_and_usages(
        &self,
        t: AssetType,
        asset_id: u64,
    ) -> Result<(i64, Vec<PackageUsage>), StoreError> {
        let (head, _) = self.usage_head_and_shop_names(t, asset_id, &[]).await?;
        Ok((head, self.asset_usages(t, asset_id).await?))
    }

    /// Replaces usage `u` on condition that the stored one is still at version
    /// `expected`; on failure the stored item comes back in the error.
    pub async fn save_usage(&self, u: &PackageUsage, expected: i64) -> Result<(), StoreError> {
        self.put_if(USAGE_LABEL, usage_item(u)?, Cond::version(expected))
            .await
    }
}
