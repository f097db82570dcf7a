//! Admin accounts: platform, agent and enterprise staff (api.md §3).

use crate::domain::stamp::Stamped;
use serde::Deserialize;

use super::audit;
use super::org::{
    self, check_version, distinct, links_failed, soft_delete_tx, stamp, tallied, version_conflict,
    OrgError, Rename,
};
use crate::domain::caller::{Caller, SA_PL, SA_PL_AG};
use crate::domain::entities::{Account, AccountLog, AccountRecord, Enterprise, Role, Shop};
use crate::domain::org::{RoleType, Status, UserType};
use crate::domain::password;
use crate::domain::validate::{self, filter_term, Invalid};
use crate::paging::{CursorPage, PageQuery};
use crate::services::auth::username_item;
use crate::store::keys::{self, gsi1};
use crate::store::links::{release_roles, Links};
use crate::store::lists::{self, Filter};
use crate::store::org::{account_item, role_is, unique_item};
use crate::store::tally::{self, Counted, Tally};
use crate::store::tx::{Cond, Tx};
use crate::store::Store;

/// `POST /api/admin/accounts` body.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct CreateAccount {
    pub username: String,
    pub password: String,
    pub phone: Option<String>,
    pub user_type: UserType,
    pub shop_id: Option<u64>,
    pub enterprise_id: Option<u64>,
    pub status: Option<Status>,
}

/// `PUT /api/admin/accounts/:id` body.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct UpdateAccount {
    pub username: Option<String>,
    pub phone: Option<String>,
    pub version: Option<i64>,
}

/// `PUT /api/admin/accounts/:id/password` body.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct ResetPassword {
    pub password: String,
}

/// `PUT /api/admin/accounts/:id/roles` body.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct AccountRoles {
    pub role_ids: Vec<u64>,
}

/// List filters of `GET /api/admin/accounts`.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AccountFilter {
    /// Substring of the username.
    pub username: Option<String>,
    pub user_type: Option<i64>,
    pub shop_id: Option<u64>,
    pub enterprise_id: Option<u64>,
    pub status: Option<i64>,
}

/// Most roles an account may hold.
pub const MAX_ACCOUNT_ROLES: usize = 40;

fn sees(caller: &Caller, a: &AccountRecord) -> bool {
    caller.sees_shop_owned(a.owner_path.as_ref())
}

/// A live account the caller may see; others look missing.
pub async fn visible_account(
    store: &Store,
    caller: &Caller,
    id: u64,
) -> Result<AccountRecord, OrgError> {
    let a: AccountRecord = store
        .live_entity(&keys::account(id))
        .await?
        .ok_or(OrgError::NotFound("account"))?;
    if !sees(caller, &a) {
        return Err(OrgError::NotFound("account"));
    }
    Ok(a)
}

/// A visible account the caller may change: never a super admin (except through
/// `/me`), never the caller's own status or existence.
async fn changeable_account(
    store: &Store,
    caller: &Caller,
    id: u64,
) -> Result<AccountRecord, OrgError> {
    let a = visible_account(store, caller, id).await?;
    if a.user_type == UserType::SuperAdmin && caller.account_id != a.id {
        return Err(OrgError::Forbidden(
            "the super admin account cannot be changed here",
        ));
    }
    Ok(a)
}

/// Creates an account. Agents create agent accounts of shops in their subtree;
/// platform staff create platform, agent and enterprise accounts (one per enterprise).
pub async fn create(
    store: &Store,
    caller: &Caller,
    now: i64,
    req: CreateAccount,
) -> Result<Account, OrgError> {
    caller.require(SA_PL_AG)?;
    let username = validate::username(&req.username)?;
    let pass = validate::password("password", &req.password)?;
    let phone = validate::opt_phone("phone", req.phone.as_deref())?;
    if caller.user_type == UserType::Agent && req.user_type != UserType::Agent {
        return Err(OrgError::Forbidden("agents can only create agent accounts"));
    }
    let mut tx = Tx::new();
    let (shop_id, enterprise_id, owner_path) = match req.user_type {
        UserType::SuperAdmin => {
            return Err(Invalid::new(
                "不能创建 user_type 1(超级管理员)",
                "user_type 1 (super admin) cannot be created",
            )
            .into())
        }
        UserType::Platform => (None, None, None),
        UserType::Agent => {
            let sid = req.shop_id.ok_or_else(|| {
                Invalid::new(
                    "代理账号必须填写shop_id",
                    "shop_id is required for agent accounts",
                )
            })?;
            let shop: Shop = store
                .live_entity(&keys::shop(sid))
                .await?
                .filter(|s: &Shop| caller.sees_shop_owned(Some(&s.path)))
                .ok_or(OrgError::NotFound("shop"))?;
            tx = tx.check("shop", &keys::shop(sid), Cond::live());
            (Some(sid), None, Some(shop.path))
        }
        UserType::Enterprise => {
            let eid = req.enterprise_id.ok_or_else(|| {
                Invalid::new(
                    "企业账号必须填写enterprise_id",
                    "enterprise_id is required for enterprise accounts",
                )
            })?;
            let ent: Enterprise = store
                .live_entity(&keys::enterprise(eid))
                .await?
                .ok_or(OrgError::NotFound("enterprise"))?;
            tx = tx
                .check("enterprise", &keys::enterprise(eid), Cond::live())
                .put_new(
                    "enterprise_account",
                    unique_item("enterprise_account", &eid.to_string(), 0),
                );
            (None, Some(eid), ent.owner_path)
        }
    };
    let id = store.next_id("account").await?;
    let at = stamp(now);
    let account = AccountRecord {
        id,
        username,
        phone,
        password_hash: password::hash(&pass)?,
        user_type: req.user_type,
        shop_id,
        enterprise_id,
        owner_path,
        status: req.status.unwrap_or(Status::Enabled),
        credential_version: 0,
        role_ids: Vec::new(),
        created_at: at.clone(),
        updated_at: at,
        deleted_at: None,
        creator: caller.account_id,
        updater: caller.account_id,
        version: 1,
    };
    let tx = tx
        .put_new("account", account_item(&account)?)
        .put_new("username", username_item(&account));
    let tx = tally::count(tx, account.owner_path.as_ref(), &[(Counted::Accounts, 1)]);
    store
        .transact(tx)
        .await
        .map_err(|e| match e.failed_label() {
            Some("username") => OrgError::DuplicateUsername,
            Some("enterprise_account") => OrgError::EnterpriseAccountExists,
            Some("shop") => OrgError::NotFound("shop"),
            Some("enterprise") => OrgError::NotFound("enterprise"),
            _ => e.into(),
        })?;
    audit::log_account(
        store,
        caller.account_id,
        id,
        "create",
        None,
        Some(&account),
        now,
    )
    .await;
    Ok(account.view())
}

/// One account.
pub async fn get(store: &Store, caller: &Caller, id: u64) -> Result<Account, OrgError> {
    caller.require(SA_PL_AG)?;
    Ok(visible_account(store, caller, id).await?.view())
}

/// One page of the accounts of the caller's scope matching `f` (platform accounts
/// first, then by owner path): one Query (two when a filter drops items) and,
/// unfiltered, the scope's account count.
pub async fn list(
    store: &Store,
    caller: &Caller,
    f: &AccountFilter,
    page: &PageQuery,
) -> Result<CursorPage<Account>, OrgError> {
    caller.require(SA_PL_AG)?;
    let (cursor, size) = page.parse()?;
    let prefix = caller.shop_path.as_ref().map_or("", |p| p.as_str());
    let filter = Filter::new()
        .contains("username", filter_term(f.username.as_deref()))
        .eq("user_type", f.user_type)
        .eq_id("shop_id", f.shop_id)
        .eq_id("enterprise_id", f.enterprise_id)
        .eq("status", f.status);
    let source = lists::scope(gsi1::ACCOUNTS, prefix);
    let accounts = store
        .read_page(&source, filter.cond(), size, cursor, |a: &AccountRecord| {
            sees(caller, a)
        })
        .await?;
    let total = match tallied(caller).filter(|_| filter.cond().is_none()) {
        Some(t) => Some(store.tally(&Tally::of(t, Counted::Accounts)).await?),
        None => None,
    };
    Ok(accounts.map(|a| a.view()).with_total(total))
}

/// Changes username and phone.
pub async fn update(
    store: &Store,
    caller: &Caller,
    now: i64,
    id: u64,
    req: UpdateAccount,
) -> Result<Account, OrgError> {
    caller.require(SA_PL_AG)?;
    let old = changeable_account(store, caller, id).await?;
    check_version(req.version, old.version)?;
    let mut a = old.clone();
    if let Some(u) = &req.username {
        a.username = validate::username(u)?;
    }
    if let Some(p) = &req.phone {
        a.phone = validate::opt_phone("phone", Some(p))?;
    }
    save(store, caller, now, &old, a, "update").await
}

/// Enables or disables an account (never the caller's own).
pub async fn set_status(
    store: &Store,
    caller: &Caller,
    now: i64,
    id: u64,
    status: Status,
) -> Result<Account, OrgError> {
    caller.require(SA_PL_AG)?;
    if caller.account_id == id {
        return Err(OrgError::Forbidden(
            "you cannot change the status of your own account",
        ));
    }
    let old = changeable_account(store, caller, id).await?;
    let mut a = old.clone();
    a.status = status;
    let view = save(store, caller, now, &old, a, "status").await?;
    if status == Status::Disabled {
        store.delete_sessions(id, None).await?;
    }
    Ok(view)
}

/// Sets a new password and ends every session of the account.
pub async fn reset_password(
    store: &Store,
    caller: &Caller,
    now: i64,
    id: u64,
    req: ResetPassword,
) -> Result<(), OrgError> {
    caller.require(SA_PL_AG)?;
    if id == caller.account_id {
        // Without the old password a stolen token would take the account over.
        return Err(OrgError::Forbidden(
            "change your own password with PUT /api/admin/me/password",
        ));
    }
    let pass = validate::password("password", &req.password)?;
    let old = changeable_account(store, caller, id).await?;
    let mut a = old.clone();
    a.password_hash = password::hash(&pass)?;
    a.credential_version += 1;
    save(store, caller, now, &old, a, "reset_password").await?;
    store.delete_sessions(id, None).await?;
    Ok(())
}

async fn save(
    store: &Store,
    caller: &Caller,
    now: i64,
    old: &AccountRecord,
    mut a: AccountRecord,
    operation: &str,
) -> Result<Account, OrgError> {
    a.touch(caller.account_id, now);
    let rename = (a.username != old.username)
        .then(|| Rename::with_item("username", &old.username, username_item(&a)));
    org::save(
        store,
        account_item(&a)?,
        old.version,
        rename,
        OrgError::DuplicateUsername,
    )
    .await?;
    audit::log_account(
        store,
        caller.account_id,
        a.id,
        operation,
        Some(old),
        Some(&a),
        now,
    )
    .await;
    Ok(a.view())
}

/// Soft-deletes an account (never the caller's own); its username becomes reusable
/// and its sessions end.
pub async fn delete(store: &Store, caller: &Caller, now: i64, id: u64) -> Result<(), OrgError> {
    caller.require(SA_PL_AG)?;
    if caller.account_id == id {
        return Err(OrgError::Forbidden("you cannot delete your own account"));
    }
    let old = changeable_account(store, caller, id).await?;
    let mut a = old.clone();
    a.touch(caller.account_id, now);
    let mut release = vec![keys::unique("username", &old.username)];
    if let Some(eid) = old.enterprise_id {
        release.push(keys::unique("enterprise_account", &eid.to_string()));
    }
    let tx = soft_delete_tx(account_item(&a)?, old.version, now, None, &release);
    let tx = release_roles(tx, &old.role_ids);
    let tx = tally::count(tx, old.owner_path.as_ref(), &[(Counted::Accounts, -1)]);
    store.transact(tx).await.map_err(version_conflict)?;
    store.delete_sessions(id, None).await?;
    audit::log_account(
        store,
        caller.account_id,
        id,
        "delete",
        Some(&old),
        None,
        now,
    )
    .await;
    Ok(())
}

/// Roles held by an account.
pub async fn roles(store: &Store, caller: &Caller, id: u64) -> Result<Vec<Role>, OrgError> {
    caller.require(SA_PL_AG)?;
    let account = visible_account(store, caller, id).await?;
    Ok(org::live_roles(store, &account.role_ids).await?)
}

/// Replaces the roles of an account. Platform accounts take platform roles, agent and
/// enterprise accounts customer roles. Nobody changes their own roles. A role newly
/// given to an agent (or to the account of a shop's enterprise) must be one its shop
/// holds, since no other would count; agents may newly give only roles their own
/// shop holds. The change applies from the account's next request.
pub async fn set_roles(
    store: &Store,
    caller: &Caller,
    now: i64,
    id: u64,
    req: AccountRoles,
) -> Result<Vec<Role>, OrgError> {
    caller.require(SA_PL_AG)?;
    if id == caller.account_id {
        return Err(OrgError::Forbidden("nobody changes their own roles"));
    }
    let account = changeable_account(store, caller, id).await?;
    let wanted = distinct(req.role_ids.clone());
    if wanted.len() > MAX_ACCOUNT_ROLES {
        return Err(Invalid::new(
            format!("role_ids最多{MAX_ACCOUNT_ROLES}个"),
            format!("at most {MAX_ACCOUNT_ROLES} roles"),
        )
        .into());
    }
    let added: Vec<u64> = wanted
        .iter()
        .copied()
        .filter(|r| !account.role_ids.contains(r))
        .collect();
    check_offered(store, caller, &account, &added).await?;
    let role_type = if account.user_type.is_platform() {
        RoleType::Platform
    } else {
        RoleType::Customer
    };
    store
        .replace_links(Links::AccountRoles(id), &wanted, role_is(role_type))
        .await
        .map_err(|e| {
            let t = i64::from(role_type);
            let bad = Invalid::new(
                format!("role_ids须为已存在的 role_type {t} 的角色"),
                format!("role_ids must name existing roles of role_type {t}"),
            );
            links_failed(e, "account", bad)
        })?;
    let mut after = account.clone();
    after.role_ids = wanted.clone();
    audit::log_account(
        store,
        caller.account_id,
        id,
        "set_roles",
        Some(&account),
        Some(&after),
        now,
    )
    .await;
    Ok(org::live_roles(store, &wanted).await?)
}

/// Refuses newly given roles the account's shop does not hold (they would never
/// count) and, for agent callers, roles their own shop does not hold.
async fn check_offered(
    store: &Store,
    caller: &Caller,
    account: &AccountRecord,
    added: &[u64],
) -> Result<(), OrgError> {
    if added.is_empty() {
        return Ok(());
    }
    let bounding = match account.user_type {
        UserType::Agent => account.shop_id,
        UserType::Enterprise => account.owner_path.as_ref().map(|p| p.shop_id()),
        _ => None,
    };
    let own = caller
        .shop_id
        .filter(|_| caller.user_type == UserType::Agent);
    let keys_: Vec<_> = bounding
        .iter()
        .chain(own.iter())
        .map(|s| keys::shop(*s))
        .collect();
    let shops: Vec<Shop> = store.entities(&keys_).await?;
    let holds = |shop: u64| {
        let roles = shops.iter().find(|s| s.id == shop).map(|s| &s.role_ids);
        added
            .iter()
            .all(|r| roles.is_some_and(|held| held.contains(r)))
    };
    if let Some(own) = own {
        if !holds(own) {
            return Err(OrgError::Forbidden(
                "agents can only give roles their own shop holds",
            ));
        }
    }
    if let Some(shop) = bounding {
        if !holds(shop) {
            return Err(Invalid::new(
                "role_ids须为该账号所属店铺拥有的角色",
                "role_ids must be roles the account's shop holds",
            )
            .into());
        }
    }
    Ok(())
}

/// One page of the operation log of an account, newest first (platform only): the
/// account read, then one Query of its log with `Limit`. No total (the log keeps no
/// count); `has_more` says whether older entries follow.
pub async fn operation_logs(
    store: &Store,
    caller: &Caller,
    id: u64,
    page: &PageQuery,
) -> Result<CursorPage<AccountLog>, OrgError> {
    caller.require(SA_PL)?;
    let (cursor, size) = page.parse()?;
    let exists: Option<AccountRecord> = store.entity(&keys::account(id)).await?;
    exists.ok_or(OrgError::NotFound("account"))?;
    Ok(store
        .read_page(
            &lists::account_log(id),
            None,
            size,
            cursor,
            |_: &AccountLog| true,
        )
        .await?)
}
