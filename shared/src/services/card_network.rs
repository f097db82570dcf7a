//! Automatic stop and start of cards by the system: for data exhaustion (domain.md
//! §5.7.7, §6.6) and to match a device's protect period (J8).
//!
//! The package check stops a verified card whose usages are all used up, and a
//! usage rule may stop one earlier; a new package, a data reset or a queued
//! activation resumes it (a rule's stop only if the rule resumes on renewal). Unverified cards never
//! take part; a device protect period in the opposite direction leaves the card as
//! it is (the protect check owns it then). Each change is stored conditioned on the
//! card's version read (and on the protect period still not running).

use super::asset_ops::OpsError;
use crate::app::AppState;
use crate::clock::rfc3339;
use crate::domain::assets::{Direction, IotCard};
use crate::domain::stamp::Stamped;
use crate::domain::usage::PackageUsage;
use crate::domain::usage_rules::RuleStop;
use crate::store::assets::card_item;

/// Account id recorded on changes made by the system (polling, jobs).
pub const SYSTEM: u64 = 0;

/// Stops `card` for data exhaustion: gateway stop, `network_status = 0`,
/// `stopped_at`, `stop_reason = 流量耗尽`. `Ok(false)` when it is left as is
/// (unverified, already stopped, deleted, or its device is in a start protect
/// period).
pub async fn stop_exhausted(state: &AppState, card: &IotCard) -> Result<bool, OpsError> {
    if !card.is_verified() || card.network_status == 0 || card.deleted_at.is_some() {
        return Ok(false);
    }
    switch(state, card, Direction::Stop, |c, at| c.stop_exhausted(at)).await
}

/// Stops `card` for usage rule `stop` (`stop_reason = 用量规则停机`, the rule kept
/// on the card). `Ok(false)` when it is left as is (unverified, already stopped,
/// deleted, or its device is in a start protect period).
pub async fn stop_by_rule(
    state: &AppState,
    card: &IotCard,
    stop: RuleStop,
) -> Result<bool, OpsError> {
    if !card.is_verified() || card.network_status == 0 || card.deleted_at.is_some() {
        return Ok(false);
    }
    switch(state, card, Direction::Stop, |c, at| {
        c.stop_by_rule(stop, at)
    })
    .await
}

/// Resumes `card` if the system stopped it (for exhaustion, or by a usage rule that
/// resumes on renewal) and `usages`, its absorbing live usages, give it data again:
/// gateway start, `network_status = 1`, `resumed_at`, no stop reason. `Ok(false)`
/// when it is left as is (not such a stop, no fresh data, unverified, deleted, or
/// its device is in a stop protect period).
pub async fn resume_with_data(
    state: &AppState,
    card: &IotCard,
    usages: &[PackageUsage],
) -> Result<bool, OpsError> {
    if !card.resumable(usages) || !card.is_verified() || card.deleted_at.is_some() {
        return Ok(false);
    }
    switch(state, card, Direction::Start, |c, at| c.resume(at)).await
}

/// Stops (`Direction::Stop`) or starts a verified card to match its device's
/// protect period (J8); `Ok(false)` when it already matches.
pub async fn enforce_protect(
    state: &AppState,
    card: &IotCard,
    dir: Direction,
) -> Result<bool, OpsError> {
    if !card.is_verified() || card.is_started() == (dir == Direction::Start) {
        return Ok(false);
    }
    switch(state, card, dir, |c, at| c.switch(dir, at)).await
}

/// Switches `card` at the gateway, then stores `change` of it conditioned on the
/// version read; leaves it as is while its device's protect period runs the other
/// way.
async fn switch(
    state: &AppState,
    card: &IotCard,
    dir: Direction,
    change: impl FnOnce(&mut IotCard, String),
) -> Result<bool, OpsError> {
    let store = &state.store;
    let now = state.clock.now();
    if let Some(device) = card.bound_device_id {
        if store
            .device_protect_live(device, dir.opposite(), now)
            .await?
        {
            tracing::info!(
                card_id = card.id,
                direction = dir.as_str(),
                "card left to its device's protect period"
            );
            return Ok(false);
        }
    }
    let gateway = state.gateway().await?.ok_or(OpsError::NoGateway)?;
    gateway
        .switch_card_network(&card.iccid, dir == Direction::Stop)
        .await?;
    let mut changed = card.clone();
    change(&mut changed, rfc3339(now));
    changed.touch(SYSTEM, now);
    store
        .save_switched_card(
            card_item(&changed)?,
            card.version,
            card.bound_device_id,
            dir,
            now,
        )
        .await?;
    tracing::info!(
        card_id = card.id,
        direction = dir.as_str(),
        "card switched by the system"
    );
    Ok(true)
}
