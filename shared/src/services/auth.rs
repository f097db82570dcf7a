//! Admin authentication: login, refresh, logout, who-am-I, own password change, the
//! per-request token check, and the super-admin bootstrap.

use serde::{Deserialize, Serialize};

use super::org::linked_roles;
use crate::app::AppState;
use crate::auth::{Claims, TokenError, TokenKind};
use crate::clock::rfc3339;
use crate::codes::BusinessError;
use crate::codes::Code;
use crate::domain::caller::Caller;
use crate::domain::entities::{Account, AccountRecord, Enterprise, Permission, Role, Shop};
use crate::domain::org::{Status, UserType};
use crate::domain::password;
use crate::domain::stamp::Stamped;
use crate::domain::validate::{self, Invalid};
use crate::store::links::Links;
use crate::store::org::{account_item, unique_item};
use crate::store::sessions::Session;
use crate::store::tx::Tx;
use crate::store::{from_item, keys, Item, Key, Store, StoreError};

/// Failures of authentication use cases.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// Malformed input.
    #[error(transparent)]
    Invalid(#[from] Invalid),
    /// Unknown username or wrong password (indistinguishable on purpose).
    #[error("wrong username or password")]
    BadCredentials,
    /// Too many attempts for this username or IP.
    #[error("too many login attempts, try again later")]
    RateLimited,
    /// The account is disabled.
    #[error("account disabled")]
    AccountDisabled,
    /// The agent's shop is disabled or deleted.
    #[error("shop disabled, login refused")]
    ShopDisabled,
    /// The enterprise is disabled or deleted.
    #[error("enterprise disabled, login refused")]
    EnterpriseDisabled,
    /// Missing, malformed, forged, expired or wrong-kind token.
    #[error("token invalid or expired")]
    Token(#[from] TokenError),
    /// The token's session ended (logout, rotation, password reset) or its account is gone.
    #[error("token revoked")]
    Revoked,
    /// Wrong current password on a password change.
    #[error("current password is wrong")]
    WrongPassword,
    /// Storage failure.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl BusinessError for AuthError {
    fn code(&self) -> Code {
        match self {
            AuthError::Invalid(_) => Code::INVALID_PARAM,
            AuthError::BadCredentials => Code::INVALID_CREDENTIALS,
            AuthError::RateLimited => Code::TOO_MANY_REQUESTS,
            AuthError::AccountDisabled => Code::ACCOUNT_DISABLED,
            AuthError::ShopDisabled => Code::SHOP_DISABLED,
            AuthError::EnterpriseDisabled => Code::ENTERPRISE_DISABLED,
            AuthError::Token(_) | AuthError::Revoked => Code::INVALID_TOKEN,
            AuthError::WrongPassword => Code::WRONG_PASSWORD,
            AuthError::Store(_) => Code::DATABASE,
        }
    }

    fn detail(&self) -> Option<crate::codes::Text> {
        match self {
            AuthError::Invalid(i) => Some(i.text().clone()),
            _ => None,
        }
    }
}

/// `POST /api/admin/login` body.
#[derive(Debug, Deserialize)]
pub struct LoginRequest {
    pub username: String,
    pub password: String,
}

/// `POST /api/admin/refresh-token` body.
#[derive(Debug, Deserialize)]
pub struct RefreshRequest {
    pub refresh_token: String,
}

/// `PUT /api/admin/me/password` body.
#[derive(Debug, Deserialize)]
pub struct ChangePasswordRequest {
    pub old_password: String,
    pub new_password: String,
}

/// The logged-in user as returned with tokens.
#[derive(Debug, Serialize, Deserialize)]
pub struct TokenUser {
    pub id: u64,
    pub username: String,
    pub user_type: UserType,
    pub shop_id: Option<u64>,
    pub enterprise_id: Option<u64>,
}

/// A token pair.
#[derive(Debug, Serialize, Deserialize)]
pub struct TokenPair {
    pub access_token: String,
    pub refresh_token: String,
    pub token_type: String,
    /// Access token lifetime in seconds.
    pub expires_in: i64,
    /// Refresh token lifetime in seconds.
    pub refresh_expires_in: i64,
    pub user: TokenUser,
}

/// `GET /api/admin/me` answer.
#[derive(Debug, Serialize, Deserialize)]
pub struct Me {
    pub account: Account,
    pub roles: Vec<Role>,
    /// Codes of every enabled permission of the account's enabled roles.
    pub permissions: Vec<String>,
    /// The permissions themselves, for building menus.
    pub menus: Vec<Permission>,
}

/// The account and its organisation, loaded together.
struct Principal {
    account: AccountRecord,
    shop: Option<Shop>,
    enterprise: Option<Enterprise>,
}

/// Logs in with username and password.
pub async fn login(state: &AppState, req: LoginRequest, ip: &str) -> Result<TokenPair, AuthError> {
    if req.username.trim().is_empty() || req.password.is_empty() {
        return Err(
            Invalid::new("用户名和密码不能为空", "username and password are required").into(),
        );
    }
    if req.username.len() > 64 || req.password.len() > 128 {
        return Err(AuthError::BadCredentials);
    }
    let cfg = &state.cfg;
    let store = &state.store;
    let now = state.clock.now();
    let username = req.username.trim();
    let per_ip = store
        .hit_rate_limit(
            &keys::login_ip_scope(ip),
            cfg.login_limit_per_ip,
            cfg.login_ip_window,
            now,
        )
        .await?;
    let per_user = per_ip
        && store
            .hit_rate_limit(
                &keys::login_user_scope(username),
                cfg.login_limit_per_user,
                cfg.login_user_window,
                now,
            )
            .await?;
    if !per_user {
        tracing::warn!(username, ip, "login rate limit reached");
        return Err(AuthError::RateLimited);
    }
    let principal = match username_lookup(store, username).await? {
        Some((id, shop, ent)) => {
            load_principal(store, &account_key_set(id, None, shop, ent)).await?
        }
        None => None,
    };
    let principal = match principal {
        Some(p) if password::verify(&req.password, &p.account.password_hash) => p,
        Some(_) => return Err(AuthError::BadCredentials),
        None => {
            password::verify_dummy(&req.password);
            return Err(AuthError::BadCredentials);
        }
    };
    check_active(&principal)?;
    let pair = start_session(state, &principal.account, now).await?;
    tracing::info!(account_id = principal.account.id, "login");
    Ok(pair)
}

/// Exchanges a refresh token for a new pair; the old refresh token stops working.
pub async fn refresh(state: &AppState, req: RefreshRequest) -> Result<TokenPair, AuthError> {
    let now = state.clock.now();
    let claims = state
        .tokens
        .verify(&req.refresh_token, TokenKind::Refresh, now)?;
    let keys = account_key_set(claims.sub, Some(&claims.sid), claims.shop, claims.ent);
    let (session, principal) = load_session(&state.store, &keys, now).await?;
    let session = session
        .filter(|s| s.refresh_jti == claims.jti)
        .ok_or(AuthError::Revoked)?;
    let principal = principal.ok_or(AuthError::Revoked)?;
    check_active(&principal)?;
    let account = &principal.account;
    let (access_jti, refresh_jti) = (new_id(), new_id());
    let expires_at = now + state.cfg.refresh_token_ttl;
    state
        .store
        .rotate_session(
            account.id,
            &session.sid,
            &claims.jti,
            &access_jti,
            &refresh_jti,
            expires_at,
            now,
        )
        .await
        .map_err(|e| match e {
            StoreError::ConditionFailed { .. } => AuthError::Revoked,
            other => other.into(),
        })?;
    Ok(token_pair(
        state,
        account,
        &session.sid,
        &access_jti,
        &refresh_jti,
        now,
    ))
}

/// Ends the caller's session: its access and refresh tokens stop working at once.
pub async fn logout(state: &AppState, token: &str) -> Result<(), AuthError> {
    let claims = state
        .tokens
        .verify(token, TokenKind::Access, state.clock.now())?;
    state.store.delete_session(claims.sub, &claims.sid).await?;
    Ok(())
}

/// Checks an access token and loads the caller (one BatchGetItem: session, account
/// and the account's shop or enterprise).
pub async fn authenticate(state: &AppState, token: &str) -> Result<Caller, AuthError> {
    let now = state.clock.now();
    let claims: Claims = state.tokens.verify(token, TokenKind::Access, now)?;
    let keys = account_key_set(claims.sub, Some(&claims.sid), claims.shop, claims.ent);
    let (session, principal) = load_session(&state.store, &keys, now).await?;
    session
        .filter(|s| s.access_jti == claims.jti)
        .ok_or(AuthError::Revoked)?;
    let principal = principal.ok_or(AuthError::Revoked)?;
    check_active(&principal)?;
    let account = principal.account;
    Ok(Caller {
        account_id: account.id,
        username: account.username,
        user_type: account.user_type,
        shop_id: account.shop_id,
        shop_path: match account.user_type {
            UserType::Agent => principal.shop.map(|s| s.path),
            _ => None,
        },
        enterprise_id: account.enterprise_id,
    })
}

/// The caller's account, roles and permissions.
pub async fn me(state: &AppState, caller: &Caller) -> Result<Me, AuthError> {
    let store = &state.store;
    let account: AccountRecord = store
        .live_entity(&keys::account(caller.account_id))
        .await?
        .ok_or(AuthError::Revoked)?;
    let (roles, menus) = account_permissions(store, caller.account_id).await?;
    let mut permissions: Vec<String> = menus.iter().map(|p| p.perm_code.clone()).collect();
    permissions.sort();
    permissions.dedup();
    Ok(Me {
        account: account.view(),
        roles,
        permissions,
        menus,
    })
}

/// Enabled roles of an account and the enabled permissions they grant.
pub async fn account_permissions(
    store: &Store,
    account_id: u64,
) -> Result<(Vec<Role>, Vec<Permission>), StoreError> {
    let roles: Vec<Role> = linked_roles(store, Links::AccountRoles(account_id))
        .await?
        .into_iter()
        .filter(|r| r.status == Status::Enabled)
        .collect();
    let mut perm_keys = Vec::new();
    for role in &roles {
        let links = Links::RolePermissions(role.id);
        let ids = store.linked_ids(links).await?;
        perm_keys.extend(ids.into_iter().map(|p| links.target(p)));
    }
    let mut perms: Vec<Permission> = store
        .entities::<Permission>(&perm_keys)
        .await?
        .into_iter()
        .filter(|p| p.deleted_at.is_none() && p.status == Status::Enabled)
        .collect();
    perms.sort_by_key(|p| (p.sort, p.id));
    Ok((roles, perms))
}

/// Changes the caller's own password and ends their other sessions.
pub async fn change_password(
    state: &AppState,
    caller: &Caller,
    token: &str,
    req: ChangePasswordRequest,
) -> Result<(), AuthError> {
    let new = validate::password("new_password", &req.new_password)?;
    let store = &state.store;
    let account: AccountRecord = store
        .live_entity(&keys::account(caller.account_id))
        .await?
        .ok_or(AuthError::Revoked)?;
    if !password::verify(&req.old_password, &account.password_hash) {
        return Err(AuthError::WrongPassword);
    }
    let now = state.clock.now();
    let mut updated = account.clone();
    updated.password_hash = password::hash(&new);
    updated.touch(caller.account_id, now);
    store
        .put_versioned("account", account_item(&updated)?, account.version)
        .await?;
    let claims = state.tokens.verify(token, TokenKind::Access, now)?;
    store
        .delete_sessions(caller.account_id, Some(&claims.sid))
        .await?;
    Ok(())
}

/// Creates the super admin once, if none exists. Concurrent cold starts race on one
/// conditional transaction; exactly one wins. Returns the new account's id.
pub async fn ensure_super_admin(state: &AppState) -> Result<Option<u64>, StoreError> {
    let Some(pass) = state.cfg.super_admin_password.clone() else {
        return Ok(None);
    };
    let store = &state.store;
    let marker = keys::unique("bootstrap", "super_admin");
    if store.get(&marker).await?.is_some() {
        return Ok(None);
    }
    let username = state.cfg.super_admin_username.clone();
    let id = store.next_id("account").await?;
    let now = rfc3339(state.clock.now());
    let account = AccountRecord {
        id,
        username: username.clone(),
        phone: None,
        password_hash: password::hash(&pass),
        user_type: UserType::SuperAdmin,
        shop_id: None,
        enterprise_id: None,
        owner_path: None,
        status: Status::Enabled,
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

/// Account id, shop id and enterprise id registered for a username.
async fn username_lookup(
    store: &Store,
    username: &str,
) -> Result<Option<(u64, Option<u64>, Option<u64>)>, StoreError> {
    let Some(unique) = store.get(&keys::unique("username", username)).await? else {
        return Ok(None);
    };
    let id = |name| crate::store::num_attr(&unique, name).map(|v| v as u64);
    Ok(id("target_id").map(|account| (account, id("shop_id"), id("enterprise_id"))))
}

fn new_id() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

async fn start_session(
    state: &AppState,
    account: &AccountRecord,
    now: i64,
) -> Result<TokenPair, AuthError> {
    let session = Session {
        account_id: account.id,
        sid: new_id(),
        access_jti: new_id(),
        refresh_jti: new_id(),
        expires_at: now + state.cfg.refresh_token_ttl,
        created_at: rfc3339(now),
    };
    state.store.put_session(&session).await?;
    Ok(token_pair(
        state,
        account,
        &session.sid,
        &session.access_jti,
        &session.refresh_jti,
        now,
    ))
}

fn token_pair(
    state: &AppState,
    account: &AccountRecord,
    sid: &str,
    access_jti: &str,
    refresh_jti: &str,
    now: i64,
) -> TokenPair {
    let cfg = &state.cfg;
    let claims = |typ, jti: &str, ttl| Claims {
        sub: account.id,
        sid: sid.to_string(),
        jti: jti.to_string(),
        typ,
        uty: account.user_type.into(),
        shop: account.shop_id,
        ent: account.enterprise_id,
        iat: now,
        exp: now + ttl,
    };
    TokenPair {
        access_token: state.tokens.issue(&claims(
            TokenKind::Access,
            access_jti,
            cfg.access_token_ttl,
        )),
        refresh_token: state.tokens.issue(&claims(
            TokenKind::Refresh,
            refresh_jti,
            cfg.refresh_token_ttl,
        )),
        token_type: "Bearer".into(),
        expires_in: cfg.access_token_ttl,
        refresh_expires_in: cfg.refresh_token_ttl,
        user: TokenUser {
            id: account.id,
            username: account.username.clone(),
            user_type: account.user_type,
            shop_id: account.shop_id,
            enterprise_id: account.enterprise_id,
        },
    }
}

/// Keys read together for a principal: its session (when checking a token), the
/// account, and its shop or enterprise.
fn account_key_set(
    account_id: u64,
    sid: Option<&str>,
    shop: Option<u64>,
    ent: Option<u64>,
) -> Vec<Key> {
    let mut keys_ = vec![keys::account(account_id)];
    if let Some(sid) = sid {
        keys_.push(keys::session(account_id, sid));
    }
    if let Some(shop) = shop {
        keys_.push(keys::shop(shop));
    }
    if let Some(ent) = ent {
        keys_.push(keys::enterprise(ent));
    }
    keys_
}

fn take(items: &mut Vec<Item>, key: &Key) -> Option<Item> {
    let pos = items.iter().position(|i| key.matches(i))?;
    Some(items.swap_remove(pos))
}

async fn load_principal(store: &Store, keys_: &[Key]) -> Result<Option<Principal>, AuthError> {
    let mut items = store.get_many(keys_).await?;
    principal_from(&mut items, keys_)
}

async fn load_session(
    store: &Store,
    keys_: &[Key],
    now: i64,
) -> Result<(Option<Session>, Option<Principal>), AuthError> {
    let mut items = store.get_many(keys_).await?;
    let session = take(&mut items, &keys_[1])
        .filter(|i| !crate::store::ttl::is_expired(i, now))
        .map(from_item::<Session>)
        .transpose()?;
    Ok((session, principal_from(&mut items, keys_)?))
}

fn principal_from(items: &mut Vec<Item>, keys_: &[Key]) -> Result<Option<Principal>, AuthError> {
    let Some(account) = take(items, &keys_[0])
        .map(from_item::<AccountRecord>)
        .transpose()?
    else {
        return Ok(None);
    };
    if account.deleted_at.is_some() {
        return Ok(None);
    }
    let shop = match account.shop_id {
        Some(id) => take(items, &keys::shop(id))
            .map(from_item::<Shop>)
            .transpose()?,
        None => None,
    };
    let enterprise = match account.enterprise_id {
        Some(id) => take(items, &keys::enterprise(id))
            .map(from_item::<Enterprise>)
            .transpose()?,
        None => None,
    };
    Ok(Some(Principal {
        account,
        shop,
        enterprise,
    }))
}

/// Refuses disabled accounts and accounts whose shop or enterprise is disabled or gone.
fn check_active(p: &Principal) -> Result<(), AuthError> {
    if p.account.status != Status::Enabled {
        return Err(AuthError::AccountDisabled);
    }
    match p.account.user_type {
        UserType::Agent => match &p.shop {
            Some(s) if s.deleted_at.is_none() && s.status == Status::Enabled => Ok(()),
            _ => Err(AuthError::ShopDisabled),
        },
        UserType::Enterprise => match &p.enterprise {
            Some(e) if e.deleted_at.is_none() && e.status == Status::Enabled => Ok(()),
            _ => Err(AuthError::EnterpriseDisabled),
        },
        _ => Ok(()),
    }
}
