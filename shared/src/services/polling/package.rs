//! Package check (jobs.md J7) and protect consistency check (J8): a verified card
//! with no active usage left is stopped, one stopped for exhaustion (or by a usage
//! rule that resumes on renewal) that has data again is resumed, and a device's live
//! protect period wins over both.

use super::carddata::absorbing_usages;
use super::checks::{Done, Fail};
use crate::app::AppState;
use crate::domain::assets::{Direction, IotCard, ProtectStatus};
use crate::domain::polling::TaskType;
use crate::domain::usage::UsageStatus;
use crate::services::card_network::{enforce_protect, resume_with_data, stop_exhausted};

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
        stop_exhausted(state, card).await?
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
