//! The error type of the organisation use cases (shops, accounts, enterprises,
//! roles, permissions) and the helpers they share.

use crate::clock::rfc3339;
use crate::codes::BusinessError;
use crate::codes::Code;
use crate::domain::caller::{Caller, NotAllowed, Scope};
use crate::domain::entities::Role;
use crate::domain::shop_path::MAX_SHOP_LEVEL;
use crate::domain::validate::Invalid;
use crate::store::keys;
use crate::store::links::{self, Links};
use crate::store::org::{soft_deleted, unique_item};
use crate::store::tally::Tallied;
use crate::store::tx::{Cond, Tx, MAX_TX_ITEMS};
use crate::store::{Item, Key, Store, StoreError};

/// Failures of organisation use cases.
#[derive(Debug, thiserror::Error)]
pub enum OrgError {
    #[error(transparent)]
    Invalid(#[from] Invalid),
    #[error("{0} not found")]
    NotFound(&'static str),
    #[error("insufficient permission: {0}")]
    Forbidden(&'static str),
    #[error("insufficient permission")]
    NotAllowed(#[from] NotAllowed),
    #[error("shop level would exceed {MAX_SHOP_LEVEL}")]
    LevelExceeded,
    #[error("shop code already exists")]
    DuplicateShopCode,
    #[error("default role must be an existing, enabled customer role")]
    InvalidDefaultRole,
    #[error("parent shop not found")]
    ParentNotFound,
    #[error("username already exists")]
    DuplicateUsername,
    #[error("shop still has sub-shops")]
    ShopHasChildren,
    #[error("enterprise code already exists")]
    DuplicateEnterpriseCode,
    #[error("the enterprise already has an account")]
    EnterpriseAccountExists,
    #[error("the enterprise still has an account; delete the account first")]
    EnterpriseHasAccount,
    #[error("owner shop not found")]
    OwnerShopNotFound,
    #[error("role name already exists")]
    DuplicateRoleName,
    #[error("role is still in use")]
    RoleInUse,
    #[error("permission code already exists")]
    DuplicatePermissionCode,
    #[error("permission still has children")]
    PermissionHasChildren,
    #[error("the permission is still granted by a role")]
    PermissionInUse,
    #[error("the object was changed concurrently, retry")]
    VersionConflict,
    #[error("carrier code already exists")]
    DuplicateCarrierCode,
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Hashing(#[from] crate::domain::password::HashError),
}

impl BusinessError for OrgError {
    fn detail(&self) -> Option<crate::codes::Text> {
        match self {
            OrgError::Invalid(i) => Some(i.text().clone()),
            _ => None,
        }
    }

    fn code(&self) -> Code {
        use OrgError::*;
        match self {
            Invalid(_) => Code::INVALID_PARAM,
            NotFound(_) => Code::NOT_FOUND,
            Forbidden(_) | NotAllowed(_) => Code::FORBIDDEN,
            LevelExceeded => Code::SHOP_LEVEL_EXCEEDED,
            DuplicateShopCode => Code::DUPLICATE_SHOP_CODE,
            InvalidDefaultRole => Code::INVALID_DEFAULT_ROLE,
            ParentNotFound => Code::PARENT_SHOP_NOT_FOUND,
            DuplicateUsername => Code::DUPLICATE_USERNAME,
            ShopHasChildren => Code::SHOP_HAS_CHILDREN,
            DuplicateEnterpriseCode => Code::DUPLICATE_ENTERPRISE_CODE,
            EnterpriseAccountExists => Code::ENTERPRISE_ACCOUNT_EXISTS,
            EnterpriseHasAccount => Code::ENTERPRISE_HAS_ACCOUNT,
            OwnerShopNotFound => Code::OWNER_SHOP_NOT_FOUND,
            DuplicateRoleName => Code::DUPLICATE_ROLE_NAME,
            RoleInUse => Code::ROLE_IN_USE,
            DuplicatePermissionCode => Code::DUPLICATE_PERMISSION_CODE,
            PermissionHasChildren => Code::PERMISSION_HAS_CHILDREN,
            PermissionInUse => Code::PERMISSION_IN_USE,
            VersionConflict => Code::VERSION_CONFLICT,
            DuplicateCarrierCode => Code::DUPLICATE_CARRIER_CODE,
            Store(e) => e.code(),
            Hashing(_) => Code::INTERNAL,
        }
    }
}

/// `PUT /.../:id/status` body.
#[derive(Debug, serde::Deserialize, utoipa::ToSchema)]
pub struct StatusRequest {
    /// 1 enabled, 0 disabled.
    pub status: crate::domain::org::Status,
}

/// Current time as stored (`created_at`, `updated_at`, `deleted_at`).
pub fn stamp(now: i64) -> String {
    rfc3339(now)
}

/// Refuses a stale client-supplied version (optimistic locking through the API).
pub fn check_version(expected: Option<i64>, actual: i64) -> Result<(), OrgError> {
    match expected {
        Some(v) if v != actual => Err(OrgError::VersionConflict),
        _ => Ok(()),
    }
}

/// Maps a failed condition of an optimistic write to `VersionConflict`.
pub fn version_conflict(e: StoreError) -> OrgError {
    match e {
        StoreError::ConditionFailed { .. } => OrgError::VersionConflict,
        other => other.into(),
    }
}

/// Applies an optional text update: `None` keeps, `Some("")` clears.
pub fn patch_opt(
    target: &mut Option<String>,
    field: &str,
    value: Option<&str>,
    max: usize,
) -> Result<(), Invalid> {
    if let Some(v) = value {
        *target = crate::domain::validate::opt_text(field, Some(v), max)?;
    }
    Ok(())
}

/// A unique value replaced by an update: the old uniqueness item is released and the
/// new one claimed in the same transaction.
pub struct Rename {
    old: Key,
    new: Item,
}

impl Rename {
    /// A rename of a plain uniqueness item; `None` when the value did not change.
    pub fn of(kind: &str, old: &str, new: &str, id: u64) -> Option<Rename> {
        (old != new).then(|| Rename {
            old: keys::unique(kind, old),
            new: unique_item(kind, new, id),
        })
    }

    /// A rename whose new uniqueness item carries more than the owner id.
    pub fn with_item(kind: &str, old: &str, new: Item) -> Rename {
        Rename {
            old: keys::unique(kind, old),
            new,
        }
    }
}

/// Writes `item`, the new state of an entity read at `version`: only if it is still
/// live and unchanged (else `VersionConflict`), with an optional rename whose taken
/// new value answers `duplicate`.
pub async fn save(
    store: &Store,
    item: Item,
    version: i64,
    rename: Option<Rename>,
    duplicate: OrgError,
) -> Result<(), OrgError> {
    store
        .transact(save_tx(item, version, rename))
        .await
        .map_err(|e| match e.failed_label() {
            Some("unique") => duplicate,
            _ => version_conflict(e),
        })
}

/// The transaction of [`save`]: the put guarded by liveness and version (label
/// `entity`), and the rename's release and claim (label `unique` for the claim).
pub fn save_tx(item: Item, version: i64, rename: Option<Rename>) -> Tx {
    let tx = Tx::new().put(
        "entity",
        item,
        Some(Cond::live().and(Cond::version(version))),
    );
    match rename {
        Some(r) => tx
            .delete("old_unique", &r.old, None)
            .put_new("unique", r.new),
        None => tx,
    }
}

/// A transaction soft-deleting an entity read at `version` (`item` is its touched
/// state), guarded by the optimistic lock and `extra` conditions, releasing its
/// uniqueness items. Callers may add operations before running it.
pub fn soft_delete_tx(
    item: Item,
    version: i64,
    now: i64,
    extra: Option<Cond>,
    release: &[Key],
) -> Tx {
    let mut cond = Cond::live().and(Cond::version(version));
    if let Some(extra) = extra {
        cond = cond.and(extra);
    }
    let mut tx = Tx::new().put("entity", soft_deleted(item, &stamp(now)), Some(cond));
    for key in release {
        tx = tx.delete("release", key, None);
    }
    tx
}

/// The live roles among `ids` (a shop's or an account's `role_ids`), one batch read.
pub async fn live_roles(store: &Store, ids: &[u64]) -> Result<Vec<Role>, StoreError> {
    let role_keys: Vec<Key> = ids.iter().map(|id| keys::role(*id)).collect();
    let roles: Vec<Role> = store.entities(&role_keys).await?;
    Ok(roles
        .into_iter()
        .filter(|r| r.deleted_at.is_none())
        .collect())
}

/// Maps a failed link replacement: a missing owner answers `NotFound(owner)`, a
/// refused target or a change too large for one request answers `Invalid`.
pub fn links_failed(e: StoreError, owner: &'static str, bad_target: Invalid) -> OrgError {
    match e {
        StoreError::TooLarge { ops } => OrgError::Invalid(Invalid::new(
            format!(
                "一次修改过多({ops} 项操作,最多 {MAX_TX_ITEMS} 项):每次最多增删 {} 个关联",
                Links::MAX_ADDED
            ),
            format!(
                "too many changes in one request ({ops} operations, at most {MAX_TX_ITEMS}): \
                 add or remove at most {} links per request",
                Links::MAX_ADDED
            ),
        )),
        e => match e.failed_label() {
            Some(links::label::OWNER) => OrgError::NotFound(owner),
            Some(links::label::CONCURRENT) => OrgError::VersionConflict,
            Some(links::label::TARGET) => OrgError::Invalid(bad_target),
            _ => e.into(),
        },
    }
}

/// Ids sorted, without duplicates.
pub fn distinct(mut ids: Vec<u64>) -> Vec<u64> {
    ids.sort_unstable();
    ids.dedup();
    ids
}

/// Whose tallies count the caller's scope: the platform's, or an agent's subtree
/// (none for enterprise accounts).
pub fn tallied(caller: &Caller) -> Option<Tallied> {
    match caller.scope() {
        Scope::All => Some(Tallied::Platform),
        Scope::Subtree(path) => Some(Tallied::Shop(path.shop_id())),
        Scope::Enterprise(_) => None,
    }
}
