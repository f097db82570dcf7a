//! Package check (jobs.md J7) and protect consistency check (J8): a verified card
//! with no active usage left is stopped (unless a queued main waits: its activation
//! is asked for again, so a lost J11 message costs one check interval at most), one stopped for exhaustion (or by a usage
//! rule that resumes on renewal) that has data again is resumed, and a device's live
//! protect period wins over both.

use super::carddata::absorbing_usages;
use super::checks::{Done, Fail};
use crate::app::AppState;
use crate::domain::assets::{AssetType, Device, Direction, IotCard, ProtectStatus};
use crate::domain::polling::TaskType;
use crate::domain::usage::{PackageUsage, UsageStatus};
use crate::jobs::package_activation::request_queue_activation;
use crate::services::card_network::{enforce_protect, resume_with_data, stop_exhausted};
use crate::store::keys;

/// The live protect direction of `card`'s device, if any.
async fn protect(state: &AppState, card: &IotCard) -> Result<ProtectStatus, Fail> {
    Ok(match card.bound_device_id {
        Some(d) => {
            state
                .store
                .device_protect_status(d, state.clock.now())
                .await?
        }
        None => ProtectStatus::None,
    })
}

/// The asset (`card`, or its device) holding a queued main package of its current
/// generation, if any.
async fn queued_main(state: &AppState, card: &IotCard) -> Result<Option<(AssetType, u64)>, Fail> {
    let store = &state.store;
    let queued = |usages: Vec<PackageUsage>, generation: i64| {
        usages.iter().any(|u| {
            u.status == UsageStatus::Pending
                && u.is_main()
                && !u.pending_realname_activation
                && u.generation == generation
        })
    };
    if queued(
        store.asset_usages(AssetType::Card, card.id).await?,
        card.generation,
    ) {
        return Ok(Some((AssetType::Card, card.id)));
    }
    if let Some(device_id) = card.bound_device_id {
        if let Some(device) = store.get_as::<Device>(&keys::device(device_id)).await? {
            let usages = store.asset_usages(AssetType::Device, device_id).await?;
            if queued(usages, device.generation) {
                return Ok(Some((AssetType::Device, device_id)));
            }
        }
    }
    Ok(None)
}

/// Checks whether `card` must be stopped or resumed for its packages.
pub(crate) async fn check(state: &AppState, card: &IotCard) -> Result<Done, Fail> {
    if !card.is_verified() {
        // Unverified cards stay stopped; nothing to decide.
        return Ok(Done::Skipped);
    }
    let usages = absorbing_usages(state, card).await?;
    let active = usages.iter().any(|u| u.status == UsageStatus::Active);
    let started = std::time::Instant::now();
    // A protect period in the opposite direction leaves the card as it is (A22;
    // `card_network` checks it inside).
    let acted = if !active && card.is_started() {
        match queued_main(state, card).await? {
            // A main waits behind the one that ended: its activation (J11) is due or
            // its message was lost. Ask again (J11 is idempotent) instead of stopping.
            Some((asset_type, asset_id)) => {
                request_queue_activation(state, asset_type, asset_id).await?;
                false
            }
            None => stop_exhausted(state, card).await?,
        }
    } else if card.resumable(&usages) {
        resume_with_data(state, card, &usages).await?
    } else {
        false
    };
    Ok(Done::Checked(if acted {
        started.elapsed().as_millis() as i64
    } else {
        0
    }))
}

/// Checks `card` against its device's protect period; a card whose device has no
/// live protect period leaves the protect checks.
pub(crate) async fn check_protect(
    state: &AppState,
    card: &IotCard,
    cohort: Option<&str>,
) -> Result<Done, Fail> {
    let dir = match protect(state, card).await? {
        ProtectStatus::Stop => Direction::Stop,
        ProtectStatus::Start => Direction::Start,
        ProtectStatus::None => {
            if let Some(sk) = cohort {
                state
                    .store
                    .leave_cohort(TaskType::Protect, sk, card.id)
                    .await?;
            }
            return Ok(Done::Skipped);
        }
    };
    if !card.is_verified() {
        return Ok(Done::Skipped);
    }
    let started = std::time::Instant::now();
    enforce_protect(state, card, dir).await?;
    Ok(Done::Checked(started.elapsed().as_millis() as i64))
}
