//! Real-name check (jobs.md J5): the carrier's verification status; a card verified
//! for the first time gets its waiting packages activated (J12) and leaves the
//! real-name checks.

use super::checks::{gateway, timed, Done, Fail};
use crate::app::AppState;
use crate::clock::rfc3339;
use crate::domain::assets::{AssetType, IotCard};
use crate::domain::polling::TaskType;
use crate::domain::stamp::Stamped;
use crate::jobs::package_activation::request_first_activation;
use crate::services::card_network::SYSTEM;
use crate::store::assets::card_item;

/// Checks `card`'s real-name status.
pub(crate) async fn check(
    state: &AppState,
    card: &IotCard,
    cohort: Option<&str>,
) -> Result<Done, Fail> {
    let leave = || async {
        match cohort {
            Some(sk) => {
                state
                    .store
                    .leave_cohort(TaskType::Realname, sk, card.id)
                    .await
            }
            None => Ok(()),
        }
    };
    if card.is_verified() {
        leave().await?;
        return Ok(Done::Skipped);
    }
    let gw = gateway(state).await?;
    let (res, ms) = timed(gw.realname(&card.iccid)).await;
    if !res?.real_status {
        return Ok(Done::Checked(ms));
    }
    // The activation requests go first: if storing the status then fails, the
    // retried check asks again (activation is idempotent), and no request is lost.
    request_first_activation(state, AssetType::Card, card.id).await?;
    if let Some(device) = card.bound_device_id {
        request_first_activation(state, AssetType::Device, device).await?;
    }
    let now = state.clock.now();
    let mut c = card.clone();
    c.mark_verified(rfc3339(now));
    c.touch(SYSTEM, now);
    state
        .store
        .save_asset(card_item(&c)?, card.version, c.id, &[])
        .await?;
    leave().await?;
    Ok(Done::Checked(ms))
}
