//! The super-admin bootstrap and the username uniqueness item.

use crate::app::AppState;
use crate::clock::rfc3339;
use crate::domain::entities::AccountRecord;
use crate::domain::org::{Status, UserType};
use crate::domain::{password, validate};
use crate::store::org::{account_item, unique_item};
use crate::store::tally::{self, Counted};
use crate::store::tx::Tx;
use crate::store::{keys, Item, StoreError};

/// Everything a fresh install needs before anyone can log in and work: the
/// permission catalogue with its built-in roles, and the super admin. Returns the
/// super admin's id when this call created it.
pub async fn bootstrap(state: &AppState) -> Result<Option<u64>, StoreError> {
    let created = super::seed::seed_permissions(&state.store, state.clock.now()).await?;
    if created > 0 {
        tracing::info!(created, "permission catalogue seeded");
    }
    ensure_super_admin(state).await
}

/// Creates the super admin once, if none exists: the configured password is read only
/// then, and must pass the password rules. Concurrent cold starts race on one
/// conditional transaction; exactly one wins. Returns the new account's id.
pub async fn ensure_super_admin(state: &AppState) -> Result<Option<u64>, StoreError> {
    let cfg = &state.cfg;
    if cfg.super_admin_password.is_none() && cfg.super_admin_secret_id.is_none() {
        return Ok(None);
    }
    let store = &state.store;
    let marker = keys::unique("bootstrap", "super_admin");
    if store.get(&marker).await?.is_some() {
        return Ok(None);
    }
    let pass = match (
        &cfg.super_admin_password,
        &cfg.super_admin_secret_id,
        state.secrets(),
    ) {
        (Some(pass), _, _) => pass.clone(),
        (None, Some(id), Some(secrets)) => match secrets.get_many(&[id]).await {
            Ok(mut values) => values.remove(id).unwrap_or_default(),
            Err(e) => {
                tracing::error!(error = %e, "super admin not created: its password secret is unreadable");
                return Ok(None);
            }
        },
        _ => return Ok(None),
    };
    if let Err(e) = validate::password("the super admin password", &pass) {
        tracing::error!(error = %e, "super admin not created: its password breaks the password rules");
        return Ok(None);
    }
    let password_hash = match password::hash(&pass) {
        Ok(h) => h,
        Err(e) => {
            tracing::error!(error = %e, "super admin not created");
            return Ok(None);
        }
    };
    let username = state.cfg.super_admin_username.clone();
    let id = store.next_id("account").await?;
    let now = rfc3339(state.clock.now());
    let account = AccountRecord {
        id,
        username: username.clone(),
        phone: None,
        password_hash,
        user_type: UserType::SuperAdmin,
        shop_id: None,
        enterprise_id: None,
        owner_path: None,
        status: Status::Enabled,
        credential_version: 0,
        role_ids: Vec::new(),
        created_at: now.clone(),
        updated_at: now,
        deleted_at: None,
        creator: 0,
        updater: 0,
        version: 1,
    };
    let tx = Tx::new()
        .put_new("bootstrap", unique_item("bootstrap", "super_admin", id))
        .put_new("username", username_item(&account))
        .put_new("account", account_item(&account)?);
    let tx = tally::count(tx, None, &[(Counted::Accounts, 1)]);
    match store.transact(tx).await {
        Ok(()) => {
            tracing::info!(account_id = id, username, "super admin created");
            Ok(Some(id))
        }
        Err(StoreError::ConditionFailed {
            label: "bootstrap", ..
        }) => Ok(None),
        Err(StoreError::ConditionFailed {
            label: "username", ..
        }) => {
            tracing::error!(username, "cannot create the super admin: username taken");
            Ok(None)
        }
        Err(e) => Err(e),
    }
}

/// The uniqueness item of a username; it also names the account's shop or
/// enterprise so login reads everything else in one batch.
pub fn username_item(account: &AccountRecord) -> Item {
    let mut item = unique_item("username", &account.username, account.id);
    if let Some(shop) = account.shop_id {
        item.insert("shop_id".into(), crate::store::n(shop));
    }
    if let Some(ent) = account.enterprise_id {
        item.insert("enterprise_id".into(), crate::store::n(ent));
    }
    item
}
