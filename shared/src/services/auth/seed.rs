//! Seeds the permission catalogue (`domain::permissions::CATALOGUE`) and two built-in
//! roles, so a fresh install can grant every route: "平台管理员" (platform role, every
//! code) and "代理商管理员" (customer role, the codes meant for agents and
//! enterprises). Idempotent and cheap once done: a marker named after the
//! catalogue's fingerprint says this catalogue was seeded. A later release that adds
//! codes creates only the missing permissions and grants those new ones to the
//! built-in roles; codes an operator removed from a role stay removed.

use std::collections::BTreeMap;

use crate::clock::rfc3339;
use crate::domain::entities::{Permission, Role};
use crate::domain::org::{RoleType, Status};
use crate::domain::permissions::{Audience, PermDef, CATALOGUE};
use crate::store::idempotency::payload_hash;
use crate::store::links::Links;
use crate::store::org::{permission_item, role_item, unique_item};
use crate::store::tally::{self, Counted};
use crate::store::tx::{Cond, Tx};
use crate::store::{keys, num_attr, permissions, Store, StoreError};

/// The built-in roles: name, type, and which codes they are given.
pub const BUILT_IN_ROLES: [(&str, RoleType, Audience); 2] = [
    ("平台管理员", RoleType::Platform, Audience::Platform),
    ("代理商管理员", RoleType::Customer, Audience::Everyone),
];

/// Permissions created per transaction (two operations each, plus the index).
const CHUNK: usize = 45;

fn marker() -> crate::store::Key {
    let codes: Vec<&str> = CATALOGUE.iter().map(|d| d.code).collect();
    let fingerprint = payload_hash(&codes);
    keys::unique(
        "bootstrap",
        &format!(
            "permissions:{}",
            fingerprint.get(..16).unwrap_or(&fingerprint)
        ),
    )
}

/// Whether a built-in role of `audience` gets `def`.
fn granted(audience: Audience, def: &PermDef) -> bool {
    audience == Audience::Platform || def.audience == Audience::Everyone
}

/// Seeds what is missing; returns how many permissions it created.
pub async fn seed_permissions(store: &Store, now: i64) -> Result<usize, StoreError> {
    let marker = marker();
    if store.get(&marker).await?.is_some() {
        return Ok(0);
    }
    let mut ids = existing_ids(store, CATALOGUE.iter().map(|d| ("perm_code", d.code))).await?;
    // With their place in the catalogue, which orders the tree (`sort`).
    let missing: Vec<(usize, &PermDef)> = CATALOGUE
        .iter()
        .enumerate()
        .filter(|(_, d)| !ids.contains_key(d.code))
        .collect();
    if !missing.is_empty() {
        let first = store.next_ids("permission", missing.len() as u64).await?;
        for (i, (_, def)) in missing.iter().enumerate() {
            ids.insert(def.code, first + i as u64);
        }
        let at = rfc3339(now);
        let created: Vec<Permission> = missing
            .iter()
            .enumerate()
            .map(|(i, (place, def))| Permission {
                id: first + i as u64,
                perm_name: def.name.to_string(),
                perm_code: def.code.to_string(),
                perm_type: def.perm_type(),
                parent_id: def.parent.and_then(|p| ids.get(p).copied()),
                url: None,
                sort: (*place as i64 + 1) * 10,
                status: Status::Enabled,
                created_at: at.clone(),
                updated_at: at.clone(),
                deleted_at: None,
                creator: 0,
                updater: 0,
                version: 1,
            })
            .collect();
        for chunk in created.chunks(CHUNK) {
            let mut tx = Tx::new();
            for p in chunk {
                tx = tx
                    .put_new("permission", permission_item(p)?)
                    .put_new("perm_code", unique_item("perm_code", &p.perm_code, p.id));
            }
            let tx = permissions::record(tx, chunk);
            match store.transact(tx).await {
                // A concurrent cold start seeded them first: its ids win.
                Err(StoreError::ConditionFailed { .. }) => return Ok(0),
                other => other?,
            }
        }
    }
    let new_codes: Vec<&PermDef> = missing.into_iter().map(|(_, d)| d).collect();
    seed_roles(store, now, &ids, &new_codes).await?;
    store.put(marker.item()).await?;
    Ok(new_codes.len())
}

/// Ids behind uniqueness items of `(kind, value)`, by value.
async fn existing_ids<'a>(
    store: &Store,
    wanted: impl Iterator<Item = (&'a str, &'a str)>,
) -> Result<BTreeMap<&'a str, u64>, StoreError> {
    let wanted: Vec<(&str, &str)> = wanted.collect();
    let keys_: Vec<_> = wanted.iter().map(|(k, v)| keys::unique(k, v)).collect();
    let items = store.get_many(&keys_).await?;
    let mut ids = BTreeMap::new();
    for ((_, value), key) in wanted.iter().zip(&keys_) {
        let id = items
            .iter()
            .find(|i| key.matches(i))
            .and_then(|i| num_attr(i, "target_id"));
        if let Some(id) = id {
            ids.insert(*value, id as u64);
        }
    }
    Ok(ids)
}

/// Creates the built-in roles with their codes, or grants existing ones the codes
/// created by this run.
async fn seed_roles(
    store: &Store,
    now: i64,
    ids: &BTreeMap<&str, u64>,
    new_codes: &[&PermDef],
) -> Result<(), StoreError> {
    let names = BUILT_IN_ROLES
        .iter()
        .map(|(name, _, _)| ("role_name", *name));
    let roles = existing_ids(store, names).await?;
    for (name, role_type, audience) in BUILT_IN_ROLES {
        let codes_for = |defs: &mut dyn Iterator<Item = &PermDef>| -> Vec<u64> {
            defs.filter(|d| granted(audience, d))
                .filter_map(|d| ids.get(d.code).copied())
                .collect()
        };
        match roles.get(name) {
            Some(&role_id) => {
                let mut wanted = store.linked_ids(Links::RolePermissions(role_id)).await?;
                let added = codes_for(&mut new_codes.iter().copied());
                if added.is_empty() {
                    continue;
                }
                wanted.extend(added);
                wanted.sort_unstable();
                wanted.dedup();
                store
                    .replace_links(Links::RolePermissions(role_id), &wanted, Cond::live())
                    .await?;
            }
            None => {
                let id = store.next_id("role").await?;
                let at = rfc3339(now);
                let role = Role {
                    id,
                    role_name: name.to_string(),
                    role_desc: Some("系统内置角色".into()),
                    role_type,
                    status: Status::Enabled,
                    permission_ids: codes_for(&mut CATALOGUE.iter()),
                    holders: 0,
                    created_at: at.clone(),
                    updated_at: at,
                    deleted_at: None,
                    creator: 0,
                    updater: 0,
                    version: 1,
                };
                let tx = Tx::new()
                    .put_new("role", role_item(&role)?)
                    .put_new("role_name", unique_item("role_name", name, id));
                let tx = permissions::count_grants(tx, "index", &role.permission_ids, &[]);
                let tx = tally::count(tx, None, &[(Counted::Roles, 1)]);
                match store.transact(tx).await {
                    Err(StoreError::ConditionFailed { .. }) => {}
                    other => other?,
                }
            }
        }
    }
    Ok(())
}
