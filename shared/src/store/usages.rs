//! Package usages: each lives in its asset's partition (`CARD#<id>` or
//! `DEVICE#<id>`, sort key `USAGE#<id:020>`), so an asset's packages are one Query;
//! a pointer `USAGE#<id>`/`#` names the asset for reads by usage id, and the usage's
//! daily records sit under it (`DAY#<yyyy-mm-dd>`).

use serde::{Deserialize, Serialize};

use super::keys::{self, daily_record, usage, usage_pointer};
use super::tx::Tx;
use super::{from_item, s, to_item, Item, On, Store, StoreError};
use crate::domain::assets::AssetType;
use crate::domain::usage::PackageUsage;

/// Where a usage lives.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct UsagePointer {
    pub asset_type: AssetType,
    pub asset_id: u64,
}

/// One day of a usage's consumption.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct DailyRecord {
    /// `YYYY-MM-DD` (Asia/Shanghai).
    pub date: String,
    pub daily_usage_mb: i64,
    pub cumulative_usage_mb: i64,
}

/// The stored item of `u`, with its due-index entries derived from it (so every
/// writer keeps them true): the expiry index (`gsi3`) while [`PackageUsage::expiry_due_at`]
/// says so, the reset index (`gsi4`) while [`PackageUsage::reset_due_at`] does;
/// both sharded by usage id.
pub fn usage_item(u: &PackageUsage) -> Result<Item, StoreError> {
    let mut item = to_item(u, &usage(u.asset_type, u.asset_id, u.id))?;
    let shard = u.id % keys::USAGE_DUE_SHARDS;
    if let Some(at) = u.expiry_due_at() {
        item.insert("gsi3pk".into(), s(keys::usage_expiry_due(shard)));
        item.insert("gsi3sk".into(), s(keys::usage_due_sort(at, u.id)));
    }
    if let Some(at) = u.reset_due_at() {
        item.insert("gsi4pk".into(), s(keys::usage_reset_due(shard)));
        item.insert("gsi4sk".into(), s(keys::usage_due_sort(at, u.id)));
    }
    Ok(item)
}

/// Adds a new usage and its pointer to `tx` (both must not exist).
pub fn put_new_usage(tx: Tx, u: &PackageUsage) -> Result<Tx, StoreError> {
    let pointer = UsagePointer {
        asset_type: u.asset_type,
        asset_id: u.asset_id,
    };
    Ok(tx
        .put_new("usage", usage_item(u)?)
        .put_new("usage_pointer", to_item(&pointer, &usage_pointer(u.id))?))
}

impl Store {
    /// Every package usage of an asset, oldest first (one Query; an asset holds a
    /// handful per generation).
    pub async fn asset_usages(
        &self,
        t: AssetType,
        asset_id: u64,
    ) -> Result<Vec<PackageUsage>, StoreError> {
        self.query_prefix(On::Table, &keys::asset(t, asset_id).pk, "USAGE#")
            .await?
            .into_iter()
            .map(from_item)
            .collect()
    }

    /// The asset usage `id` belongs to, if it exists.
    pub async fn usage_pointer(&self, id: u64) -> Result<Option<UsagePointer>, StoreError> {
        self.get_as(&usage_pointer(id)).await
    }

    /// Usage `id` of the asset named by `pointer`.
    pub async fn usage(
        &self,
        pointer: UsagePointer,
        id: u64,
    ) -> Result<Option<PackageUsage>, StoreError> {
        self.get_as(&usage(pointer.asset_type, pointer.asset_id, id))
            .await
    }

    /// Daily records of usage `id` from `from` to `to` (dates `YYYY-MM-DD`,
    /// inclusive), in date order; at most 366 days, one Query.
    pub async fn daily_records(
        &self,
        id: u64,
        from: &str,
        to: &str,
    ) -> Result<Vec<DailyRecord>, StoreError> {
        let mut q = super::Query {
            on: On::Table,
            pk: usage_pointer(id).pk,
            sk: super::SkCond::Between(daily_record(id, from).sk, daily_record(id, to).sk),
            filter: None,
            limit: None,
            start: None,
            backward: false,
        };
        let mut out = Vec::new();
        loop {
            let (items, next) = self.query(&q).await?;
            for item in items {
                out.push(from_item(item)?);
            }
            match next {
                Some(k) => q.start = Some(k),
                None => break,
            }
        }
        Ok(out)
    }
}
