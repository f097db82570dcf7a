//! Roles, permissions and their links (domain.md §2.4, api.md §4).

use crate::domain::stamp::Stamped;
use serde::{Deserialize, Serialize};

use super::org::{
    self, check_version, distinct, links_failed, patch_opt, soft_delete_tx, stamp, tallied,
    version_conflict, OrgError, Rename,
};
use crate::domain::caller::{Caller, ANY_ADMIN, SA, SA_PL, SA_PL_AG};
use crate::domain::entities::{Permission, Role};
use crate::domain::org::{PermType, RoleType, Status, UserType};
use crate::domain::validate::{self, filter_term, Invalid};
use crate::paging::{CursorPage, PageQuery};
use crate::services::shops::shop_roles;
use crate::store::cursor::Cursor;
use crate::store::keys::{self, gsi1};
use crate::store::links::{role_unheld, Links};
use crate::store::lists::{self, Filter};
use crate::store::org::{permission_item, role_item, unique_item};
use crate::store::permissions;
use crate::store::tally::{self, Counted, Tally};
use crate::store::tx::{Cond, Tx};
use crate::store::{num_attr, Key, Store, StoreError};

/// `POST /api/admin/roles` body.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct CreateRole {
    pub role_name: String,
    pub role_desc: Option<String>,
    pub role_type: RoleType,
    pub status: Option<Status>,
}

/// `PUT /api/admin/roles/:id` body (api.md §4); absent fields keep their value. The
/// role type changes only while no account or shop holds the role.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct UpdateRole {
    pub role_name: Option<String>,
    pub role_desc: Option<String>,
    pub role_type: Option<RoleType>,
    pub status: Option<Status>,
    pub version: Option<i64>,
}

/// List filters of `GET /api/admin/roles`.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct RoleFilter {
    pub role_name: Option<String>,
    pub role_type: Option<i64>,
    pub status: Option<i64>,
}

/// `PUT /api/admin/roles/:id/permissions` body.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct RolePermissions {
    pub permission_ids: Vec<u64>,
}

/// `POST /api/admin/permissions` body.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct CreatePermission {
    pub perm_name: String,
    pub perm_code: String,
    pub perm_type: PermType,
    pub parent_id: Option<u64>,
    pub url: Option<String>,
    pub sort: Option<i64>,
    pub status: Option<Status>,
}

/// `PUT /api/admin/permissions/:id` body.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct UpdatePermission {
    pub perm_name: Option<String>,
    pub perm_code: Option<String>,
    pub perm_type: Option<PermType>,
    pub url: Option<String>,
    pub sort: Option<i64>,
    pub status: Option<Status>,
    pub version: Option<i64>,
}

/// A permission with its children.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct PermissionNode {
    #[serde(flatten)]
    pub permission: Permission,
    /// The routes its code guards (`METHOD path`), filled in by the HTTP layer.
    #[serde(default)]
    pub routes: Vec<String>,
    #[schema(no_recursion)]
    pub children: Vec<PermissionNode>,
}

/// Most permissions one role may hold (bounded by the length of the condition that
/// checks newly granted ones are live).
pub const MAX_ROLE_PERMISSIONS: usize = 90;

async fn live_role(store: &Store, id: u64) -> Result<Role, OrgError> {
    store
        .live_entity(&keys::role(id))
        .await?
        .ok_or(OrgError::NotFound("role"))
}

async fn live_permission(store: &Store, id: u64) -> Result<Permission, OrgError> {
    store
        .live_entity(&keys::permission(id))
        .await?
        .ok_or(OrgError::NotFound("permission"))
}

/// Creates a role with a unique name.
pub async fn create_role(
    store: &Store,
    caller: &Caller,
    now: i64,
    req: CreateRole,
) -> Result<Role, OrgError> {
    caller.require(SA_PL)?;
    let name = validate::text("role_name", &req.role_name, 50)?;
    let id = store.next_id("role").await?;
    let at = stamp(now);
    let role = Role {
        id,
        role_name: name.clone(),
        role_desc: validate::opt_text("role_desc", req.role_desc.as_deref(), 200)?,
        role_type: req.role_type,
        status: req.status.unwrap_or(Status::Enabled),
        permission_ids: Vec::new(),
        holders: 0,
        created_at: at.clone(),
        updated_at: at,
        deleted_at: None,
        creator: caller.account_id,
        updater: caller.account_id,
        version: 1,
    };
    let tx = Tx::new()
        .put_new("role", role_item(&role)?)
        .put_new("role_name", unique_item("role_name", &name, id));
    let tx = tally::count(tx, None, &[(Counted::Roles, 1)]);
    store
        .transact(tx)
        .await
        .map_err(|e| match e.failed_label() {
            Some("role_name") => OrgError::DuplicateRoleName,
            _ => e.into(),
        })?;
    Ok(role)
}

/// One page of the roles matching `f`, by id: for platform staff all roles (one
/// Query, two when a filter drops items, and the role count when unfiltered); for
/// agents the roles their shop offers (at most [`super::shops::MAX_SHOP_ROLES`], read
/// with the shop and paged here).
pub async fn list_roles(
    store: &Store,
    caller: &Caller,
    f: &RoleFilter,
    page: &PageQuery,
) -> Result<CursorPage<Role>, OrgError> {
    caller.require(SA_PL_AG)?;
    let (cursor, size) = page.parse()?;
    let name = filter_term(f.role_name.as_deref());
    let filter = Filter::new()
        .contains("role_name", name)
        .eq("role_type", f.role_type)
        .eq("status", f.status);
    let unfiltered = filter.cond().is_none();
    if caller.user_type == UserType::Agent {
        let offered = match caller.shop_id {
            Some(sid) => shop_roles(store, sid).await?,
            None => Vec::new(),
        };
        let mut matching: Vec<Role> = offered
            .into_iter()
            .filter(|r| name.is_none_or(|n| r.role_name.contains(n)))
            .filter(|r| f.role_type.is_none_or(|t| i64::from(r.role_type) == t))
            .filter(|r| f.status.is_none_or(|s| i64::from(r.status) == s))
            .collect();
        matching.sort_by_key(|r| r.id);
        let total = unfiltered.then_some(matching.len() as u64);
        return Ok(page_held(matching, &cursor, size).with_total(total));
    }
    let roles = store
        .read_page(
            &lists::scope(gsi1::ROLES, ""),
            filter.cond(),
            size,
            cursor,
            |_: &Role| true,
        )
        .await?;
    let total = match tallied(caller).filter(|_| unfiltered) {
        Some(t) => Some(store.tally(&Tally::of(t, Counted::Roles)).await?),
        None => None,
    };
    Ok(roles.with_total(total))
}

/// One page of a role list held whole (sorted by id) after `cursor`, whose position
/// is the last role's scope-index sort key (as in the platform's list).
fn page_held(roles: Vec<Role>, cursor: &Cursor, size: u32) -> CursorPage<Role> {
    let after = cursor.key.as_ref().and_then(|k| k.get("gsi1sk")).cloned();
    let mut rest: Vec<Role> = roles
        .into_iter()
        .filter(|r| after.as_ref().is_none_or(|a| gsi1::padded(r.id) > *a))
        .collect();
    let more = rest.len() > size as usize;
    rest.truncate(size as usize);
    let next = rest.last().filter(|_| more).map(|last| {
        let mut key = std::collections::HashMap::new();
        key.insert("gsi1sk".to_string(), gsi1::padded(last.id));
        Cursor {
            shard: 0,
            key: Some(key),
        }
        .encode()
    });
    CursorPage::new(rest, size, next)
}

/// One role.
pub async fn get_role(store: &Store, caller: &Caller, id: u64) -> Result<Role, OrgError> {
    caller.require(SA_PL)?;
    live_role(store, id).await
}

/// Renames or re-describes a role (names stay unique).
pub async fn update_role(
    store: &Store,
    caller: &Caller,
    now: i64,
    id: u64,
    req: UpdateRole,
) -> Result<Role, OrgError> {
    caller.require(SA_PL)?;
    let old = live_role(store, id).await?;
    check_version(req.version, old.version)?;
    let mut role = old.clone();
    if let Some(n) = &req.role_name {
        role.role_name = validate::text("role_name", n, 50)?;
    }
    patch_opt(
        &mut role.role_desc,
        "role_desc",
        req.role_desc.as_deref(),
        200,
    )?;
    if let Some(status) = req.status {
        role.status = status;
    }
    if let Some(role_type) = req.role_type.filter(|t| *t != old.role_type) {
        // Giving or taking the role moves its version on, so the versioned save
        // below fails if anyone started holding it since this read.
        if old.holders > 0 {
            return Err(OrgError::RoleInUse);
        }
        role.role_type = role_type;
    }
    save_role(store, caller, now, &old, role).await
}

/// Enables or disables a role.
pub async fn set_role_status(
    store: &Store,
    caller: &Caller,
    now: i64,
    id: u64,
    status: Status,
) -> Result<Role, OrgError> {
    caller.require(SA_PL)?;
    let old = live_role(store, id).await?;
    let mut role = old.clone();
    role.status = status;
    save_role(store, caller, now, &old, role).await
}

async fn save_role(
    store: &Store,
    caller: &Caller,
    now: i64,
    old: &Role,
    mut role: Role,
) -> Result<Role, OrgError> {
    role.touch(caller.account_id, now);
    let rename = Rename::of("role_name", &old.role_name, &role.role_name, role.id);
    org::save(
        store,
        role_item(&role)?,
        old.version,
        rename,
        OrgError::DuplicateRoleName,
    )
    .await?;
    Ok(role)
}

/// Soft-deletes a role that no account or shop holds (checked inside the write).
pub async fn delete_role(
    store: &Store,
    caller: &Caller,
    now: i64,
    id: u64,
) -> Result<(), OrgError> {
    caller.require(SA_PL)?;
    let old = live_role(store, id).await?;
    if old.holders > 0 {
        return Err(OrgError::RoleInUse);
    }
    let mut role = old.clone();
    role.touch(caller.account_id, now);
    let release = [keys::unique("role_name", &old.role_name)];
    let tx = soft_delete_tx(
        role_item(&role)?,
        old.version,
        now,
        Some(role_unheld()),
        &release,
    );
    let tx = permissions::count_grants(tx, "index", &[], &old.permission_ids);
    let tx = tally::count(tx, None, &[(Counted::Roles, -1)]);
    store.transact(tx).await.map_err(|e| match &e {
        StoreError::ConditionFailed {
            old: Some(item), ..
        } if num_attr(item, "holders").unwrap_or(0) > 0 => OrgError::RoleInUse,
        _ => version_conflict(e),
    })?;
    Ok(())
}

/// Permissions granted by a role (live ones, in tree order).
pub async fn role_permissions(
    store: &Store,
    caller: &Caller,
    id: u64,
) -> Result<Vec<Permission>, OrgError> {
    caller.require(SA_PL)?;
    let role = live_role(store, id).await?;
    let keys_: Vec<Key> = role
        .permission_ids
        .iter()
        .map(|p| keys::permission(*p))
        .collect();
    let perms: Vec<Permission> = store.entities(&keys_).await?;
    let mut perms: Vec<Permission> = perms
        .into_iter()
        .filter(|p| p.deleted_at.is_none())
        .collect();
    perms.sort_by_key(|p| (p.sort, p.id));
    Ok(perms)
}

/// Replaces the permissions of a role (at most [`MAX_ROLE_PERMISSIONS`], all live).
/// Takes effect from the next request of every account holding the role.
pub async fn set_role_permissions(
    store: &Store,
    caller: &Caller,
    id: u64,
    req: RolePermissions,
) -> Result<Vec<Permission>, OrgError> {
    caller.require(SA_PL)?;
    let wanted = distinct(req.permission_ids);
    if wanted.len() > MAX_ROLE_PERMISSIONS {
        return Err(Invalid::new(
            format!("permission_ids最多{MAX_ROLE_PERMISSIONS}个"),
            format!("at most {MAX_ROLE_PERMISSIONS} permissions"),
        )
        .into());
    }
    store
        .replace_links(Links::RolePermissions(id), &wanted, Cond::live())
        .await
        .map_err(|e| {
            let bad = Invalid::new(
                "permission_ids须为已存在的权限",
                "permission_ids must name existing permissions",
            );
            links_failed(e, "role", bad)
        })?;
    role_permissions(store, caller, id).await
}

fn no_parent() -> Invalid {
    Invalid::new("parent_id对应的权限不存在", "parent_id names no permission")
}

/// Every live permission as a tree ordered by `sort`.
pub async fn permission_tree(
    store: &Store,
    caller: &Caller,
) -> Result<Vec<PermissionNode>, OrgError> {
    caller.require(ANY_ADMIN)?;
    let mut all: Vec<Permission> = store.list_scope(gsi1::PERMISSIONS, "").await?;
    all.sort_by_key(|p| (p.sort, p.id));
    Ok(build_tree(&all, None))
}

fn build_tree(all: &[Permission], parent: Option<u64>) -> Vec<PermissionNode> {
    all.iter()
        .filter(|p| {
            p.parent_id == parent
                || (parent.is_none()
                    && p.parent_id
                        .is_some_and(|id| !all.iter().any(|q| q.id == id)))
        })
        .map(|p| PermissionNode {
            permission: p.clone(),
            routes: Vec::new(),
            children: build_tree(all, Some(p.id)),
        })
        .collect()
}

/// Creates a permission with a unique code.
pub async fn create_permission(
    store: &Store,
    caller: &Caller,
    now: i64,
    req: CreatePermission,
) -> Result<Permission, OrgError> {
    caller.require(SA)?;
    let name = validate::text("perm_name", &req.perm_name, 50)?;
    let code = validate::code("perm_code", &req.perm_code)?;
    let mut tx = Tx::new();
    if let Some(pid) = req.parent_id {
        live_permission(store, pid).await.map_err(|_| no_parent())?;
        tx = tx.check("parent", &keys::permission(pid), Cond::live());
    }
    let id = store.next_id("permission").await?;
    let at = stamp(now);
    let p = Permission {
        id,
        perm_name: name,
        perm_code: code.clone(),
        perm_type: req.perm_type,
        parent_id: req.parent_id,
        url: validate::opt_text("url", req.url.as_deref(), 200)?,
        sort: req.sort.unwrap_or(0),
        status: req.status.unwrap_or(Status::Enabled),
        created_at: at.clone(),
        updated_at: at,
        deleted_at: None,
        creator: caller.account_id,
        updater: caller.account_id,
        version: 1,
    };
    let tx = tx
        .put_new("permission", permission_item(&p)?)
        .put_new("perm_code", unique_item("perm_code", &code, id));
    let tx = permissions::record(tx, std::slice::from_ref(&p));
    store
        .transact(tx)
        .await
        .map_err(|e| match e.failed_label() {
            Some("perm_code") => OrgError::DuplicatePermissionCode,
            Some("parent") => OrgError::Invalid(no_parent()),
            _ => e.into(),
        })?;
    Ok(p)
}

/// Updates a permission.
pub async fn update_permission(
    store: &Store,
    caller: &Caller,
    now: i64,
    id: u64,
    req: UpdatePermission,
) -> Result<Permission, OrgError> {
    caller.require(SA)?;
    let old = live_permission(store, id).await?;
    check_version(req.version, old.version)?;
    let mut p = old.clone();
    if let Some(n) = &req.perm_name {
        p.perm_name = validate::text("perm_name", n, 50)?;
    }
    if let Some(c) = &req.perm_code {
        p.perm_code = validate::code("perm_code", c)?;
    }
    if let Some(t) = req.perm_type {
        p.perm_type = t;
    }
    patch_opt(&mut p.url, "url", req.url.as_deref(), 200)?;
    if let Some(s) = req.sort {
        p.sort = s;
    }
    if let Some(s) = req.status {
        p.status = s;
    }
    p.touch(caller.account_id, now);
    let rename = Rename::of("perm_code", &old.perm_code, &p.perm_code, id);
    let tx = org::save_tx(permission_item(&p)?, old.version, rename);
    let tx = permissions::record(tx, std::slice::from_ref(&p));
    store
        .transact(tx)
        .await
        .map_err(|e| match e.failed_label() {
            Some("unique") => OrgError::DuplicatePermissionCode,
            _ => version_conflict(e),
        })?;
    Ok(p)
}

/// Soft-deletes a permission without children that no live role grants (checked
/// inside the write).
pub async fn delete_permission(
    store: &Store,
    caller: &Caller,
    now: i64,
    id: u64,
) -> Result<(), OrgError> {
    caller.require(SA)?;
    let old = live_permission(store, id).await?;
    let all: Vec<Permission> = store.list_scope(gsi1::PERMISSIONS, "").await?;
    if all.iter().any(|p| p.parent_id == Some(id)) {
        return Err(OrgError::PermissionHasChildren);
    }
    let mut p = old.clone();
    p.touch(caller.account_id, now);
    let release = [keys::unique("perm_code", &old.perm_code)];
    let tx = soft_delete_tx(permission_item(&p)?, old.version, now, None, &release);
    let tx = permissions::forget(tx, id);
    store
        .transact(tx)
        .await
        .map_err(|e| match e.failed_label() {
            Some(permissions::GRANTED) => OrgError::PermissionInUse,
            _ => version_conflict(e),
        })?;
    Ok(())
}
