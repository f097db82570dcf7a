//! Admin authentication: login, refresh, logout, who-am-I, own password change, the
//! per-request token check (`principal`), failure throttling (`throttle`) and the
//! super-admin bootstrap (`bootstrap`).

use serde::{Deserialize, Serialize};

mod bootstrap;
mod principal;
mod seed;
mod throttle;

pub use bootstrap::{bootstrap, ensure_super_admin, username_item};
use principal::{check_active, load_principal, load_session, username_lookup, Principal};
pub use seed::{seed_permissions, BUILT_IN_ROLES};
use throttle::Throttle;

use crate::app::AppState;
use crate::auth::{Claims, TokenError, TokenKind};
use crate::clock::rfc3339;
use crate::codes::BusinessError;
use crate::codes::Code;
use crate::domain::caller::Caller;
use crate::domain::entities::{Account, AccountRecord, Permission, Role};
use crate::domain::org::{Status, UserType};
use crate::domain::password;
use crate::domain::stamp::Stamped;
use crate::domain::validate::{self, Invalid};
use crate::store::keys::{self, gsi1};
use crate::store::org::account_item;
use crate::store::prefetch::Prefetched;
use crate::store::sessions::Session;
use crate::store::{from_item, Key, StoreError};

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
    /// A token could not be signed.
    #[error(transparent)]
    Signing(#[from] crate::auth::SigningError),
    /// A password could not be hashed.
    #[error(transparent)]
    Hashing(#[from] password::HashError),
    /// The token keys could not be read.
    #[error(transparent)]
    Keys(#[from] crate::app::KeysUnavailable),
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
            AuthError::Store(e) => e.code(),
            AuthError::Signing(_) | AuthError::Hashing(_) | AuthError::Keys(_) => Code::INTERNAL,
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
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct LoginRequest {
    pub username: String,
    pub password: String,
}

/// `POST /api/admin/refresh-token` body.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct RefreshRequest {
    pub refresh_token: String,
}

/// `PUT /api/admin/me/password` body.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct ChangePasswordRequest {
    pub old_password: String,
    pub new_password: String,
}

/// The logged-in user as returned with tokens.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct TokenUser {
    pub id: u64,
    pub username: String,
    pub user_type: UserType,
    pub shop_id: Option<u64>,
    pub enterprise_id: Option<u64>,
}

/// A token pair.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
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
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Me {
    pub account: Account,
    pub roles: Vec<Role>,
    /// The permission codes the account holds (every code for the super admin).
    pub permissions: Vec<String>,
    /// The permissions themselves, for building menus.
    pub menus: Vec<Permission>,
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
    // The auth function creates the catalogue and the super admin before the first
    // login of each process, not at cold start.
    state
        .bootstrapped(|| async { bootstrap(state).await.map(|_| ()) })
        .await?;
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
        .tokens()
        .await?
        .verify(&req.refresh_token, TokenKind::Refresh, now)?;
    let ((session, loaded), _) = load_session(store, &claims, now, Vec::new()).await?;
    let session = session.ok_or(AuthError::Revoked)?;
    if session.refresh_jti != claims.jti {
        tracing::warn!(
            account_id = claims.sub,
            "rotated refresh token replayed: session ended"
        );
        store.delete_session(claims.sub, &session.sid).await?;
        return Err(AuthError::Revoked);
    }
    let (principal, _) = loaded.ok_or(AuthError::Revoked)?;
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
    token_pair(state, &principal, &rotated, now).await
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
        .tokens()
        .await?
        .verify(token, TokenKind::Access, state.clock.now())?;
    state.store.delete_session(claims.sub, &claims.sid).await?;
    Ok(())
}

/// Checks an access token and loads the caller with its permission codes (one
/// BatchGetItem: session, account, the shops on its owner path, its enterprise, its
/// roles and the permission index).
pub async fn authenticate(state: &AppState, token: &str) -> Result<Caller, AuthError> {
    Ok(authenticate_with(state, token, Vec::new()).await?.0)
}

/// [`authenticate`], reading the items of `ahead` in the same batch for the use case
/// that follows.
pub async fn authenticate_with(
    state: &AppState,
    token: &str,
    ahead: Vec<Key>,
) -> Result<(Caller, Prefetched), AuthError> {
    let now = state.clock.now();
    let claims: Claims = state
        .tokens()
        .await?
        .verify(token, TokenKind::Access, now)?;
    let ((session, loaded), read_ahead) = load_session(&state.store, &claims, now, ahead).await?;
    let session = session
        .filter(|s| s.access_jti == claims.jti)
        .ok_or(AuthError::Revoked)?;
    let (principal, grants) = loaded.ok_or(AuthError::Revoked)?;
    session_current(&session, &principal, now)?;
    check_active(&principal)?;
    let shop_path = match principal.account.user_type {
        UserType::Agent => principal.shop().map(|s| s.path.clone()),
        _ => None,
    };
    let role_ids = principal.effective_role_ids();
    let account = principal.account;
    let caller = Caller {
        account_id: account.id,
        username: account.username,
        user_type: account.user_type,
        shop_id: account.shop_id,
        shop_path,
        enterprise_id: account.enterprise_id,
        role_ids,
        grants,
    };
    Ok((caller, read_ahead))
}

/// The caller's account, the roles that count for it, its permission codes and the
/// permissions themselves (for menus), as the request's own check saw them.
pub async fn me(state: &AppState, caller: &Caller) -> Result<Me, AuthError> {
    let store = &state.store;
    // The account and the roles in one batch.
    let account_key = keys::account(caller.account_id);
    let mut wanted = vec![account_key.clone()];
    wanted.extend(caller.role_ids.iter().map(|id| keys::role(*id)));
    let mut account = None;
    let mut roles: Vec<Role> = Vec::new();
    for item in store.get_many(&wanted).await? {
        if account_key.matches(&item) {
            account = Some(from_item::<AccountRecord>(item)?);
        } else {
            roles.push(from_item::<Role>(item)?);
        }
    }
    let account = account
        .filter(|a| a.deleted_at.is_none())
        .ok_or(AuthError::Revoked)?;
    roles.retain(|r| r.deleted_at.is_none() && r.status == Status::Enabled);
    roles.sort_by_key(|r| r.id);
    let mut menus: Vec<Permission> = store
        .list_scope::<Permission>(gsi1::PERMISSIONS, "")
        .await?
        .into_iter()
        .filter(|p| p.status == Status::Enabled && caller.grants.allows(&p.perm_code))
        .collect();
    menus.sort_by_key(|p| (p.sort, p.id));
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
    let claims = state
        .tokens()
        .await?
        .verify(token, TokenKind::Access, now)?;
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
    updated.password_hash = password::hash(&new)?;
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

/// Checks the caller's own password, asked again to confirm a money operation (an
/// offline recharge). Wrong passwords are throttled, and counted, with the wrong
/// current passwords of a password change: both guess the same secret.
pub async fn verify_own_password(
    state: &AppState,
    caller: &Caller,
    ip: &str,
    given: &str,
) -> Result<(), AuthError> {
    let now = state.clock.now();
    let throttle = Throttle::password(caller.account_id, ip);
    throttle.check(state, now).await?;
    let account: AccountRecord = state
        .store
        .live_entity(&keys::account(caller.account_id))
        .await?
        .ok_or(AuthError::Revoked)?;
    if !password::verify(given, &account.password_hash) {
        throttle.failed(state, now).await?;
        return Err(AuthError::WrongPassword);
    }
    throttle.succeeded(state, now).await
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
    token_pair(state, principal, &session, now).await
}

async fn token_pair(
    state: &AppState,
    principal: &Principal,
    session: &Session,
    now: i64,
) -> Result<TokenPair, AuthError> {
    let cfg = &state.cfg;
    let keys = state.tokens().await?;
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
        rol: principal.effective_role_ids(),
        iat: now,
        exp: (now + ttl).min(session.ends_at.max(now + 1)),
    };
    Ok(TokenPair {
        access_token: keys.issue(&claims(
            TokenKind::Access,
            &session.access_jti,
            cfg.access_token_ttl,
        ))?,
        refresh_token: keys.issue(&claims(
            TokenKind::Refresh,
            &session.refresh_jti,
            cfg.refresh_token_ttl,
        ))?,
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
    })
}
