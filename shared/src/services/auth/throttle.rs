//! Throttling of secret checks (decisions.md B3): failures counted per (subject,
//! client IP) and per subject, in fixed windows, so nobody can lock another out.

use super::AuthError;
use crate::app::AppState;
use crate::store::keys;

/// Throttling of a secret check (a login, a current password): failures counted per
/// (subject, client IP) and per subject in a fixed window. Too many failures of the
/// pair refuse that pair; the much higher subject ceiling stops distributed guessing.
/// A success clears its pair.
pub(super) struct Throttle {
    pair: String,
    subject: String,
}

impl Throttle {
    pub(super) fn login(username: &str, ip: &str) -> Self {
        Self {
            pair: keys::login_pair_scope(username, ip),
            subject: keys::login_user_scope(username),
        }
    }

    pub(super) fn password(account_id: u64, ip: &str) -> Self {
        Self {
            pair: keys::password_pair_scope(account_id, ip),
            subject: keys::password_account_scope(account_id),
        }
    }

    /// Refuses the attempt when either limit is reached.
    pub(super) async fn check(&self, state: &AppState, now: i64) -> Result<(), AuthError> {
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

    pub(super) async fn failed(&self, state: &AppState, now: i64) -> Result<(), AuthError> {
        let window = state.cfg.login_user_window;
        for scope in [&self.pair, &self.subject] {
            state.store.count_failure(scope, window, now).await?;
        }
        Ok(())
    }

    pub(super) async fn succeeded(&self, state: &AppState, now: i64) -> Result<(), AuthError> {
        let window = state.cfg.login_user_window;
        Ok(state.store.clear_failures(&self.pair, window, now).await?)
    }
}
