//! Admin login sessions: one TTL item per login holding the ids of the current access
//! and refresh tokens. A token is valid only while its session item is live and names
//! it, so logout, refresh rotation and password resets revoke tokens at once.

use serde::{Deserialize, Serialize};

use super::tx::{Cond, Tx, Upd};
use super::{keys, n, s, to_item, On, Store, StoreError};

/// A login session.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Session {
    pub account_id: u64,
    pub sid: String,
    pub access_jti: String,
    pub refresh_jti: String,
    /// Epoch seconds; the TTL attribute (moved on by each refresh, never past `ends_at`).
    pub expires_at: i64,
    pub created_at: String,
    /// Epoch seconds: the absolute end of the session, however often it is refreshed.
    pub ends_at: i64,
    /// The account's credential version when the session began; a password change
    /// or reset moves the account's on, which ends this session.
    pub credential_version: i64,
}

impl Store {
    /// Stores a new session.
    pub async fn put_session(&self, session: &Session) -> Result<(), StoreError> {
        let key = keys::session(session.account_id, &session.sid);
        self.put_new("session", to_item(session, &key)?).await
    }

    /// Replaces the token ids and expiry of a session with `rotated`'s, only if it is
    /// live and still names `old_refresh_jti` (a refresh token works once).
    pub async fn rotate_session(
        &self,
        rotated: &Session,
        old_refresh_jti: &str,
        now: i64,
    ) -> Result<(), StoreError> {
        let key = keys::session(rotated.account_id, &rotated.sid);
        let upd = Upd::new("SET access_jti = :a, refresh_jti = :r, expires_at = :exp")
            .value(":a", s(&rotated.access_jti))
            .value(":r", s(&rotated.refresh_jti))
            .value(":exp", n(rotated.expires_at));
        let cond = Cond::new("refresh_jti = :old AND expires_at > :now")
            .value(":old", s(old_refresh_jti))
            .value(":now", n(now));
        self.transact(Tx::new().update("session", &key, upd, Some(cond)))
            .await
    }

    /// Moves a live session onto the account's new credential version (the session
    /// that changed the password carries on).
    pub async fn renew_session_credentials(
        &self,
        account_id: u64,
        sid: &str,
        credential_version: i64,
    ) -> Result<(), StoreError> {
        let key = keys::session(account_id, sid);
        let upd = Upd::new("SET credential_version = :v").value(":v", n(credential_version));
        self.transact(Tx::new().update(
            "session",
            &key,
            upd,
            Some(Cond::new("attribute_exists(pk)")),
        ))
        .await
    }

    /// Ends one session.
    pub async fn delete_session(&self, account_id: u64, sid: &str) -> Result<(), StoreError> {
        self.delete(&keys::session(account_id, sid)).await
    }

    /// Ends every session of an account except `keep`.
    pub async fn delete_sessions(
        &self,
        account_id: u64,
        keep: Option<&str>,
    ) -> Result<(), StoreError> {
        let pk = keys::account(account_id).pk;
        for item in self.query_prefix(On::Table, &pk, "SESSION#").await? {
            let sk = super::str_attr(&item, "sk").unwrap_or_default().to_string();
            if keep.is_some_and(|k| sk == format!("SESSION#{k}")) {
                continue;
            }
            self.delete(&super::Key::new(pk.clone(), sk)).await?;
        }
        Ok(())
    }
}
