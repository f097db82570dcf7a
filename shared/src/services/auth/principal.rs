//! The principal behind a login or a token: the account, the shops on its owner path
//! and its enterprise, read in one batch with the session, and the rules that keep a
//! disabled account, shop (and its subtree) or enterprise out.

use super::AuthError;
use crate::auth::Claims;
use crate::domain::entities::{AccountRecord, Enterprise, Shop};
use crate::domain::org::{Status, UserType};
use crate::store::sessions::Session;
use crate::store::{from_item, keys, Item, Key, Store, StoreError};

/// The account and its organisation, loaded together.
pub(super) struct Principal {
    pub(super) account: AccountRecord,
    /// The shops on the account's owner path (and its own shop).
    pub(super) shops: Vec<Shop>,
    pub(super) enterprise: Option<Enterprise>,
}

impl Principal {
    /// Ids of the shops on the owner path, top-level first.
    pub(super) fn owner_ids(&self) -> Vec<u64> {
        self.account
            .owner_path
            .as_ref()
            .map(|p| p.ids())
            .unwrap_or_default()
    }

    /// The account's own shop.
    pub(super) fn shop(&self) -> Option<&Shop> {
        let id = self.account.shop_id?;
        self.shops.iter().find(|s| s.id == id)
    }
}

/// Account id, shop id and enterprise id registered for a username.
pub(super) async fn username_lookup(
    store: &Store,
    username: &str,
) -> Result<Option<(u64, Option<u64>, Option<u64>)>, StoreError> {
    let Some(unique) = store.get(&keys::unique("username", username)).await? else {
        return Ok(None);
    };
    let id = |name| crate::store::num_attr(&unique, name).map(|v| v as u64);
    Ok(id("target_id").map(|account| (account, id("shop_id"), id("enterprise_id"))))
}

/// Keys read together for a principal: the account, its session (when checking a
/// token), every shop on its owner path (its own shop and the ancestors, whose
/// status bounds it) and its enterprise.
fn account_key_set(
    account_id: u64,
    sid: Option<&str>,
    shops: &[u64],
    ent: Option<u64>,
) -> Vec<Key> {
    let mut keys_ = vec![keys::account(account_id)];
    if let Some(sid) = sid {
        keys_.push(keys::session(account_id, sid));
    }
    keys_.extend(shops.iter().map(|id| keys::shop(*id)));
    if let Some(ent) = ent {
        keys_.push(keys::enterprise(ent));
    }
    keys_
}

fn take(items: &mut Vec<Item>, key: &Key) -> Option<Item> {
    let pos = items.iter().position(|i| key.matches(i))?;
    Some(items.swap_remove(pos))
}

/// Loads a principal at login: the account with its shop and enterprise, then (one
/// more batch, only for agents below level 1 or enterprises of a shop) the shops
/// above it.
pub(super) async fn load_principal(
    store: &Store,
    account_id: u64,
    sid: Option<&str>,
    shop: Option<u64>,
    ent: Option<u64>,
) -> Result<Option<Principal>, AuthError> {
    let shops: Vec<u64> = shop.into_iter().collect();
    let keys_ = account_key_set(account_id, sid, &shops, ent);
    let mut items = store.get_many(&keys_).await?;
    principal_from(store, &mut items, account_id).await
}

/// Loads a token's session and principal in one batch (the token names the shops on
/// the owner path).
pub(super) async fn load_session(
    store: &Store,
    claims: &Claims,
    now: i64,
) -> Result<(Option<Session>, Option<Principal>), AuthError> {
    let mut shops = claims.owners.clone();
    shops.extend(claims.shop.filter(|s| !claims.owners.contains(s)));
    let keys_ = account_key_set(claims.sub, Some(&claims.sid), &shops, claims.ent);
    let mut items = store.get_many(&keys_).await?;
    let session = take(&mut items, &keys::session(claims.sub, &claims.sid))
        .filter(|i| !crate::store::ttl::is_expired(i, now))
        .map(from_item::<Session>)
        .transpose()?;
    Ok((
        session,
        principal_from(store, &mut items, claims.sub).await?,
    ))
}

async fn principal_from(
    store: &Store,
    items: &mut Vec<Item>,
    account_id: u64,
) -> Result<Option<Principal>, AuthError> {
    let Some(account) = take(items, &keys::account(account_id))
        .map(from_item::<AccountRecord>)
        .transpose()?
    else {
        return Ok(None);
    };
    if account.deleted_at.is_some() {
        return Ok(None);
    }
    let owner_ids = account
        .owner_path
        .as_ref()
        .map(|p| p.ids())
        .unwrap_or_default();
    let mut shops = Vec::new();
    let mut missing = Vec::new();
    for id in owner_ids.iter().chain(account.shop_id.iter()) {
        match take(items, &keys::shop(*id)) {
            Some(item) => shops.push(from_item::<Shop>(item)?),
            None if !shops.iter().any(|s: &Shop| s.id == *id) => missing.push(keys::shop(*id)),
            None => {}
        }
    }
    if !missing.is_empty() {
        for item in store.get_many(&missing).await? {
            shops.push(from_item::<Shop>(item)?);
        }
    }
    let enterprise = match account.enterprise_id {
        Some(id) => take(items, &keys::enterprise(id))
            .map(from_item::<Enterprise>)
            .transpose()?,
        None => None,
    };
    Ok(Some(Principal {
        account,
        shops,
        enterprise,
    }))
}

/// Refuses disabled accounts, accounts whose enterprise is disabled or gone, and
/// accounts any shop of whose owner path (own shop and every ancestor) is disabled or
/// gone: disabling a shop shuts out its whole subtree.
pub(super) fn check_active(p: &Principal) -> Result<(), AuthError> {
    if p.account.status != Status::Enabled {
        return Err(AuthError::AccountDisabled);
    }
    let shop_ok = |id: u64| {
        p.shops
            .iter()
            .any(|s| s.id == id && s.deleted_at.is_none() && s.status == Status::Enabled)
    };
    if !p
        .owner_ids()
        .into_iter()
        .chain(p.account.shop_id)
        .all(shop_ok)
    {
        return Err(AuthError::ShopDisabled);
    }
    if p.account.user_type == UserType::Enterprise {
        match &p.enterprise {
            Some(e) if e.deleted_at.is_none() && e.status == Status::Enabled => {}
            _ => return Err(AuthError::EnterpriseDisabled),
        }
    }
    Ok(())
}
