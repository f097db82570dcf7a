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

/// Throttling of a secret check (a login, a current password): failures counted per
/// (subject, client IP) and per subject in a fixed window. Too many failures of the
/// pair refuse that pair; the much higher subject ceiling stops distributed guessing.
/// A success clears its pair.
struct Throttle {
    pair: String,
    subject: String,
}

impl Throttle {
    fn login(username: &str, ip: &str) -> Self {
        Self {
            pair: keys::login_pair_scope(username, ip),
            subject: keys::login_user_scope(username),
        }
    }

    fn password(account_id: u64, ip: &str) -> Self {
        Self {
            pair: keys::password_pair_scope(account_id, ip),
            subject: keys::password_account_scope(account_id),
        }
    }

    /// Refuses the attempt when either limit is reached.
    async fn check(&self, state: &AppState, now: i64) -> Result<(), AuthError> {
        let cfg = &state.cfg;
        let counts = state
            .store
            .failure_counts(&[&self.pair, &self.subject], cfg.login_user_window, now)
            .await?;
        let limits = [cfg.login_limit_per_user, cfg.login_limit_per_username];
        if counts
            .iter()
            .zip(limits)
            .any(|(count, limit)| *count >= limit)
        {
            tracing::warn!(scope = %self.pair, "failure limit reached");
            return Err(AuthError::RateLimited);
        }
        Ok(())
    }

    async fn failed(&self, state: &AppState, now: i64) -> Result<(), AuthError> {
        let window = state.cfg.login_user_window;
        for scope in [&self.pair, &self.subject] {
            state.store.count_failure(scope, window, now).await?;
        }
        Ok(())
    }

    async fn succeeded(&self, state: &AppState, now: i64) -> Result<(), AuthError> {
        let window = state.cfg.login_user_window;
        Ok(state.store.clear_failures(&self.pair, window, now).await?)
    }
}

/// The account and its organisation, loaded together.
struct Principal {
    account: AccountRecord,
    /// The shops on the account's owner path (and its own shop).
    shops: Vec<Shop>,
    enterprise: Option<Enterprise>,
}

impl Principal {
    /// Ids of the shops on the owner path, top-level first.
    fn owner_ids(&self) -> Vec<u64> {
        self.account
            .owner_path
            .as_ref()
            .map(|p| p.ids())
            .unwrap_or_default()
    }

    /// The account's own shop.
    fn shop(&self) -> Option<&Shop> {
        let id = self.account.shop_id?;
        self.shops.iter().find(|s| s.id == id)
    }
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
    // Every attempt counts against the client IP; only failures against the
    // username, so nobody can lock another person out (decisions.md B3).
    let per_ip = store
        .hit_rate_limit(
            &keys::login_ip_scope(ip),
            cfg.login_limit_per_ip,
            cfg.login_ip_window,
            now,
        )
        .await?;
    if !per_ip {
        tracing::warn!(ip, "login rate limit of the client IP reached");
        return Err(AuthError::RateLimited);
    }
    let throttle = Throttle::login(username, ip);
    throttle.check(state, now).await?;
    let principal = match username_lookup(store, username).await? {
        Some((id, shop, ent)) => load_principal(store, id, None, shop, ent).await?,
        None => None,
    };
    let principal = match principal {
        Some(p) if password::verify(&req.password, &p.account.password_hash) => p,
        Some(_) => {
            throttle.failed(state, now).await?;
            return Err(AuthError::BadCredentials);
        }
        None => {
            password::verify_dummy(&req.password);
            throttle.failed(state, now).await?;
            return Err(AuthError::BadCredentials);
        }
    };
    check_active(&principal)?;
    throttle.succeeded(state, now).await?;
    let pair = start_session(state, &principal, now).await?;
    tracing::info!(account_id = principal.account.id, "login");
    Ok(pair)
}

/// Exchanges a refresh token for a new pair; the old refresh token stops working.
/// Presenting a refresh token that was already rotated (a replay: someone holds a
/// copy) ends the whole session, so both the thief and the owner must log in again.
/// A session never outlives its absolute lifetime, however often it is refreshed.
pub async fn refresh(state: &AppState, req: RefreshRequest) -> Result<TokenPair, AuthError> {
    let now = state.clock.now();
    let store = &state.store;
    let claims = state
        .tokens
        .verify(&req.refresh_token, TokenKind::Refresh, now)?;
    let (session, principal) = load_session(store, &claims, now).await?;
    let session = session.ok_or(AuthError::Revoked)?;
    if session.refresh_jti != claims.jti {
        tracing::warn!(
            account_id = claims.sub,
            "rotated refresh token replayed: session ended"
        );
        store.delete_session(claims.sub, &session.sid).await?;
        return Err(AuthError::Revoked);
    }
    let principal = principal.ok_or(AuthError::Revoked)?;
    session_current(&session, &principal, now)?;
    check_active(&principal)?;
    let rotated = Session {
        access_jti: new_id(),
        refresh_jti: new_id(),
        expires_at: (now + state.cfg.refresh_token_ttl).min(session.ends_at),
        ..session.clone()
    };
    store
        .rotate_session(&rotated, &claims.jti, now)
        .await
        .map_err(|e| match e {
            StoreError::ConditionFailed { .. } => AuthError::Revoked,
            other => other.into(),
        })?;
    Ok(token_pair(state, &principal, &rotated, now))
}

/// Refuses a session past its absolute lifetime or created with credentials the
/// account has since replaced (a password change or reset racing a login).
fn session_current(session: &Session, principal: &Principal, now: i64) -> Result<(), AuthError> {
    if session.ends_at <= now || session.credential_version != principal.account.credential_version
    {
        return Err(AuthError::Revoked);
    }
    Ok(())
}

/// Ends the caller's session: its access and refresh tokens stop working at once.
pub async fn logout(state: &AppState, token: &str) -> Result<(), AuthError> {
    let claims = state
        .tokens
        .verify(token, TokenKind::Access, state.clock.now())?;
    state.store.delete_session(claims.sub, &claims.sid).await?;
    Ok(())
}

/// Checks an access token and loads the caller (one BatchGetItem: session, account,
/// the shops on its owner path and its enterprise).
pub async fn authenticate(state: &AppState, token: &str) -> Result<Caller, AuthError> {
    let now = state.clock.now();
    let claims: Claims = state.tokens.verify(token, TokenKind::Access, now)?;
    let (session, principal) = load_session(&state.store, &claims, now).await?;
    let session = session
        .filter(|s| s.access_jti == claims.jti)
        .ok_or(AuthError::Revoked)?;
    let principal = principal.ok_or(AuthError::Revoked)?;
    session_current(&session, &principal, now)?;
    check_active(&principal)?;
    let shop_path = match principal.account.user_type {
        UserType::Agent => principal.shop().map(|s| s.path.clone()),
        _ => None,
    };
    let account = principal.account;
    Ok(Caller {
        account_id: account.id,
        username: account.username,
        user_type: account.user_type,
        shop_id: account.shop_id,
        shop_path,
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

/// Changes the caller's own password: the old one must be given (wrong ones are
/// throttled like logins), every other session ends, and the current one carries on
/// under the new credentials.
pub async fn change_password(
    state: &AppState,
    caller: &Caller,
    token: &str,
    ip: &str,
    req: ChangePasswordRequest,
) -> Result<(), AuthError> {
    let new = validate::password("new_password", &req.new_password)?;
    let store = &state.store;
    let now = state.clock.now();
    let claims = state.tokens.verify(token, TokenKind::Access, now)?;
    let throttle = Throttle::password(caller.account_id, ip);
    throttle.check(state, now).await?;
    let account: AccountRecord = store
        .live_entity(&keys::account(caller.account_id))
        .await?
        .ok_or(AuthError::Revoked)?;
    if !password::verify(&req.old_password, &account.password_hash) {
        throttle.failed(state, now).await?;
        return Err(AuthError::WrongPassword);
    }
    throttle.succeeded(state, now).await?;
    let mut updated = account.clone();
    updated.password_hash = password::hash(&new);
    updated.credential_version += 1;
    updated.touch(caller.account_id, now);
    store
        .put_versioned("account", account_item(&updated)?, account.version)
        .await?;
    store
        .delete_sessions(caller.account_id, Some(&claims.sid))
        .await?;
    store
        .renew_session_credentials(caller.account_id, &claims.sid, updated.credential_version)
        .await?;
    Ok(())
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
        credential_version: 0,
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
    principal: &Principal,
    now: i64,
) -> Result<TokenPair, AuthError> {
    let cfg = &state.cfg;
    let ends_at = now + cfg.session_max_age;
    let session = Session {
        account_id: principal.account.id,
        sid: new_id(),
        access_jti: new_id(),
        refresh_jti: new_id(),
        expires_at: (now + cfg.refresh_token_ttl).min(ends_at),
        created_at: rfc3339(now),
        ends_at,
        credential_version: principal.account.credential_version,
    };
    state.store.put_session(&session).await?;
    Ok(token_pair(state, principal, &session, now))
}

fn token_pair(state: &AppState, principal: &Principal, session: &Session, now: i64) -> TokenPair {
    let cfg = &state.cfg;
    let account = &principal.account;
    let claims = |typ, jti: &str, ttl: i64| Claims {
        sub: account.id,
        sid: session.sid.clone(),
        jti: jti.to_string(),
        typ,
        uty: account.user_type.into(),
        shop: account.shop_id,
        ent: account.enterprise_id,
        owners: principal.owner_ids(),
        iat: now,
        exp: (now + ttl).min(session.ends_at.max(now + 1)),
    };
    TokenPair {
        access_token: state.tokens.issue(&claims(
            TokenKind::Access,
            &session.access_jti,
            cfg.access_token_ttl,
        )),
        refresh_token: state.tokens.issue(&claims(
            TokenKind::Refresh,
            &session.refresh_jti,
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
async fn load_principal(
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
async fn load_session(
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
fn check_active(p: &Principal) -> Result<(), AuthError> {
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
