//! Items of the organisation aggregates: how each entity is keyed and indexed, and
//! the reads the services share. See `docs/data-model.md`.

use serde::de::DeserializeOwned;

use super::keys::{self, gsi1};
use super::tx::Cond;
use super::{from_item, n, s, to_item, Item, Key, On, Store, StoreError};
use crate::domain::entities::{AccountRecord, Carrier, Enterprise, Permission, Role, Shop};
use crate::domain::org::{RoleType, Status};
use crate::domain::shop_path::ShopPath;

/// Scope-index sort key of an item owned by `owner` (platform when `None`).
pub fn owner_sort_key(owner: Option<&ShopPath>, suffix: &str) -> String {
    match owner {
        Some(p) => format!("{}#{suffix}", p.as_str()),
        None => format!("{}#{suffix}", gsi1::PLATFORM),
    }
}

/// Adds scope-index (`gsi1`) keys to an item.
pub(crate) fn with_gsi1(mut item: Item, pk: &str, sk: String) -> Item {
    item.insert("gsi1pk".into(), s(pk));
    item.insert("gsi1sk".into(), s(sk));
    item
}

/// Item of a live shop (listed under `SHOPS` by path).
pub fn shop_item(shop: &Shop) -> Result<Item, StoreError> {
    let item = to_item(shop, &keys::shop(shop.id))?;
    Ok(with_gsi1(item, gsi1::SHOPS, shop.path.as_str().to_string()))
}

/// Item of a live account (listed under `ACCOUNTS` by owner path).
pub fn account_item(a: &AccountRecord) -> Result<Item, StoreError> {
    let item = to_item(a, &keys::account(a.id))?;
    let suffix = format!("A{}", gsi1::padded(a.id));
    Ok(with_gsi1(
        item,
        gsi1::ACCOUNTS,
        owner_sort_key(a.owner_path.as_ref(), &suffix),
    ))
}

/// Item of a live enterprise (listed under `ENTERPRISES` by owner path).
pub fn enterprise_item(e: &Enterprise) -> Result<Item, StoreError> {
    let item = to_item(e, &keys::enterprise(e.id))?;
    let suffix = format!("E{}", gsi1::padded(e.id));
    Ok(with_gsi1(
        item,
        gsi1::ENTERPRISES,
        owner_sort_key(e.owner_path.as_ref(), &suffix),
    ))
}

/// Item of a live role.
pub fn role_item(r: &Role) -> Result<Item, StoreError> {
    let item = to_item(r, &keys::role(r.id))?;
    Ok(with_gsi1(item, gsi1::ROLES, gsi1::padded(r.id)))
}

/// Item of a live permission.
pub fn permission_item(p: &Permission) -> Result<Item, StoreError> {
    let item = to_item(p, &keys::permission(p.id))?;
    Ok(with_gsi1(item, gsi1::PERMISSIONS, gsi1::padded(p.id)))
}

/// Item of a live carrier.
pub fn carrier_item(c: &Carrier) -> Result<Item, StoreError> {
    let item = to_item(c, &keys::carrier(c.id))?;
    Ok(with_gsi1(item, gsi1::CARRIERS, gsi1::padded(c.id)))
}

/// A soft-deleted copy: `deleted_at` set and the scope-index keys (and an asset's
/// batch- and range-index keys) removed, so the item leaves every list and selection
/// but still resolves by id (names of deleted shops display).
pub fn soft_deleted(mut item: Item, at: &str) -> Item {
    item.remove("gsi1pk");
    item.remove("gsi1sk");
    for attr in super::asset_index::SELECTION_INDEX_ATTRS {
        item.remove(attr);
    }
    item.insert("deleted_at".into(), s(at));
    item
}

/// A shop without live sub-shops (its `child_count` is kept by the transactions that
/// create and delete them).
pub fn shop_has_no_children() -> Cond {
    Cond::new("child_count = :zero").value(":zero", n(0))
}

/// A live role of `role_type`.
pub fn role_is(role_type: RoleType) -> Cond {
    Cond::live()
        .and(Cond::new("role_type = :role_type").value(":role_type", n(i64::from(role_type))))
}

/// A live, enabled role of `role_type`.
pub fn role_is_enabled(role_type: RoleType) -> Cond {
    role_is(role_type).and(
        Cond::new("#status = :enabled")
            .name("#status", "status")
            .value(":enabled", n(i64::from(Status::Enabled))),
    )
}

/// Uniqueness item pointing at the entity that holds the value.
pub fn unique_item(kind: &str, value: &str, target_id: u64) -> Item {
    let mut item = keys::unique(kind, value).item();
    item.insert("target_id".into(), super::n(target_id));
    item
}

impl Store {
    /// Reads an entity, live or soft-deleted.
    pub async fn entity<T: DeserializeOwned>(&self, key: &Key) -> Result<Option<T>, StoreError> {
        self.get_as(key).await
    }

    /// Reads a live (not soft-deleted) entity.
    pub async fn live_entity<T: DeserializeOwned + HasDeletedAt>(
        &self,
        key: &Key,
    ) -> Result<Option<T>, StoreError> {
        Ok(self.get_as::<T>(key).await?.filter(|e| !e.is_deleted()))
    }

    /// Decodes every item of a scope-index partition under `prefix`.
    pub async fn list_scope<T: DeserializeOwned>(
        &self,
        partition: &str,
        prefix: &str,
    ) -> Result<Vec<T>, StoreError> {
        self.query_prefix(On::Gsi1, partition, prefix)
            .await?
            .into_iter()
            .map(from_item)
            .collect()
    }

    /// Reads many entities by key in one call (missing ones are skipped).
    pub async fn entities<T: DeserializeOwned>(&self, keys: &[Key]) -> Result<Vec<T>, StoreError> {
        self.get_many(keys)
            .await?
            .into_iter()
            .map(from_item)
            .collect()
    }
}

/// Entities with a soft-delete marker.
pub trait HasDeletedAt {
    /// True once soft-deleted.
    fn is_deleted(&self) -> bool;
}

macro_rules! has_deleted_at {
    ($($t:ty),*) => {$(
        impl HasDeletedAt for $t {
            fn is_deleted(&self) -> bool { self.deleted_at.is_some() }
        }
    )*};
}

has_deleted_at!(Shop, AccountRecord, Enterprise, Role, Permission, Carrier);
has_deleted_at!(
    crate::domain::catalog::PackageSeries,
    crate::domain::catalog::Package,
    crate::domain::grants::SeriesGrant,
    crate::domain::grants::PackageAllocation
);
