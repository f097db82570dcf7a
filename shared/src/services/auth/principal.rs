//! The principal behind a login or a token: the account, the shops on its owner path
//! and its enterprise, read in one batch with the session, and the rules that keep a
//! disabled account, shop (and its subtree) or enterprise out. The same batch reads
//! the roles the token names and the permission index, so an account's permission
//! codes cost no extra round trip (a second read happens only when the account's
//! roles changed since the token was issued).

use super::AuthError;
use crate::auth::Claims;
use crate::domain::entities::{AccountRecord, Enterprise, Role, Shop};
use crate::domain::org::{Status, UserType};
use crate::domain::permissions::{codes_of, effective_role_ids, Grants};
use crate::store::permissions::{index_key, parse_index};
use crate::store::prefetch::Prefetched;
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

    /// The roles that count (decisions.md B2): platform accounts' own; an agent's
    /// only if its shop holds them too; an enterprise account's only if its
    /// enterprise's owner shop holds them (a platform-owned enterprise's: its own).
    /// The super admin needs none.
    pub(super) fn effective_role_ids(&self) -> Vec<u64> {
        let held = &self.account.role_ids;
        let owner_shop = |id: u64| self.shops.iter().find(|s| s.id == id);
        match self.account.user_type {
            UserType::SuperAdmin => Vec::new(),
            UserType::Platform => held.clone(),
            UserType::Agent => match self.shop() {
                Some(shop) => effective_role_ids(held, Some(&shop.role_ids)),
                None => Vec::new(),
            },
            UserType::Enterprise => match &self.account.owner_path {
                None => held.clone(),
                Some(path) => match owner_shop(path.shop_id()) {
                    Some(shop) => effective_role_ids(held, Some(&shop.role_ids)),
                    None => Vec::new(),
                },
            },
        }
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
/// status bounds it) and its enterprise. Token checks add the roles the token names
/// and the permission index.
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

/// A token's session, and its principal with what it may do.
pub(super) type Loaded = (Option<Session>, Option<(Principal, Grants)>);

/// Loads a token's session, principal and grants in one batch (the token names the
/// shops on the owner path and the roles that counted when it was issued), with the
/// items of `ahead` read in the same batch.
pub(super) async fn load_session(
    store: &Store,
    claims: &Claims,
    now: i64,
    ahead: Vec<Key>,
) -> Result<(Loaded, Prefetched), AuthError> {
    let mut shops = claims.owners.clone();
    shops.extend(claims.shop.filter(|s| !claims.owners.contains(s)));
    let mut keys_ = account_key_set(claims.sub, Some(&claims.sid), &shops, claims.ent);
    if claims.uty != i64::from(UserType::SuperAdmin) {
        keys_.extend(claims.rol.iter().map(|id| keys::role(*id)));
        keys_.push(index_key());
    }
    keys_.extend(ahead.iter().cloned());
    let mut items = store.get_many(&keys_).await?;
    let read_ahead: Vec<Item> = items
        .iter()
        .filter(|i| ahead.iter().any(|k| k.matches(i)))
        .cloned()
        .collect();
    let read_ahead = Prefetched::new(ahead, read_ahead);
    let session = take(&mut items, &keys::session(claims.sub, &claims.sid))
        .filter(|i| !crate::store::ttl::is_expired(i, now))
        .map(from_item::<Session>)
        .transpose()?;
    let Some(principal) = principal_from(store, &mut items, claims.sub).await? else {
        return Ok(((session, None), read_ahead));
    };
    let grants = grants_of(store, &mut items, &principal).await?;
    Ok(((session, Some((principal, grants))), read_ahead))
}

/// What the principal may do: everything for the super admin, else the codes of its
/// effective roles. Roles missing from `items` (changed since the token was issued)
/// are read in one more batch.
async fn grants_of(
    store: &Store,
    items: &mut Vec<Item>,
    p: &Principal,
) -> Result<Grants, AuthError> {
    if p.account.user_type == UserType::SuperAdmin {
        return Ok(Grants::Everything);
    }
    let index = parse_index(take(items, &index_key()).as_ref());
    let mut roles = Vec::new();
    let mut missing = Vec::new();
    for id in p.effective_role_ids() {
        match take(items, &keys::role(id)) {
            Some(item) => roles.push(from_item::<Role>(item)?),
            None => missing.push(keys::role(id)),
        }
    }
    if !missing.is_empty() {
        roles.extend(store.entities::<Role>(&missing).await?);
    }
    Ok(Grants::Codes(codes_of(&roles, &index)))
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
