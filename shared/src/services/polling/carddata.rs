//! Card data check (jobs.md J6): the month's usage from the gateway; the whole MB
//! newly used are deducted from the asset's live usages in the §5.7.6 order
//! (device-level usages when the card's device has them), recorded day by day, and a
//! usage reaching its stop threshold is used up. Usage rules whose threshold the
//! deduction crosses fire in the same transaction. A reading equal to the stored
//! one writes nothing.

use rust_decimal::prelude::FromPrimitive;
use rust_decimal::Decimal;

use super::checks::{gateway, timed, Done, Fail};
use crate::app::AppState;
use crate::clock::rfc3339;
use crate::domain::assets::{AssetType, Device, IotCard};
use crate::domain::catalog::PackageType;
use crate::domain::polling::{usage_delta, TaskType};
use crate::domain::stamp::Stamped;
use crate::domain::usage::{deduct, Deductible, PackageUsage, UsageStatus};
use crate::services::card_network::SYSTEM;
use crate::services::usage_rules::fire::{self, RuleBook};
use crate::store::assets::card_item;
use crate::store::usage_checks::{DailyAdd, UsageCheck};
use crate::store::usage_rules::Firing;
use crate::store::{keys, StoreError};

/// The live usages that absorb `card`'s data: its device's when the device has
/// live usages of its generation (device-level packages), else the card's own.
pub async fn absorbing_usages(
    state: &AppState,
    card: &IotCard,
) -> Result<Vec<PackageUsage>, StoreError> {
    let store = &state.store;
    if let Some(device_id) = card.bound_device_id {
        if let Some(device) = store.get_as::<Device>(&keys::device(device_id)).await? {
            let usages: Vec<PackageUsage> = store
                .asset_usages(AssetType::Device, device_id)
                .await?
                .into_iter()
                .filter(|u| u.generation == device.generation && u.status.is_live())
                .collect();
            if !usages.is_empty() {
                return Ok(usages);
            }
        }
    }
    Ok(store
        .asset_usages(AssetType::Card, card.id)
        .await?
        .into_iter()
        .filter(|u| u.generation == card.generation && u.status.is_live())
        .collect())
}

/// The usages changed by deducting `delta` MB, with what each absorbed.
fn deducted(usages: &[PackageUsage], delta: i64) -> Vec<(PackageUsage, i64)> {
    let ds: Vec<Deductible> = usages
        .iter()
        .map(|u| Deductible {
            id: u.id,
            is_addon: u.package_type == PackageType::Addon,
            priority: u.priority,
            limit_mb: u.stop_threshold_mb(),
            used_mb: u.data_usage_mb,
        })
        .collect();
    let mut out = Vec::new();
    for (id, used) in deduct(&ds, delta) {
        let Some(u) = usages.iter().find(|u| u.id == id) else {
            continue;
        };
        if used == u.data_usage_mb {
            continue;
        }
        let mut changed = u.clone();
        let took = used - u.data_usage_mb;
        changed.data_usage_mb = used;
        if used >= u.stop_threshold_mb() && changed.status == UsageStatus::Active {
            changed.status = UsageStatus::UsedUp;
        }
        changed.version += 1;
        out.push((changed, took));
    }
    out
}

/// Checks `card`'s data usage; the usage rules of `book` fire on its deduction.
pub(crate) async fn check(state: &AppState, card: &IotCard, book: &RuleBook) -> Result<Done, Fail> {
    let gw = gateway(state).await?;
    let (res, ms) = timed(gw.flow(&card.iccid)).await;
    let flow = res?;
    let used = Decimal::from_f64(flow.used)
        .ok_or_else(|| Fail::Other(format!("flow usage {} is not a number", flow.used)))?
        .round_dp(3);
    let mut card = card.clone();
    // A conflicting write (another check of the card or of its device's cards)
    // re-reads and recomputes once; a second conflict retries the message.
    for attempt in 0..2 {
        if used == card.current_month_usage_mb {
            return Ok(Done::Checked(ms));
        }
        match record(state, &card, used, book).await {
            Ok((exhausted, firings)) => {
                fire::act_now(state, &firings).await;
                if exhausted {
                    super::enqueue_checks(state, TaskType::Package, &[card.id]).await?;
                }
                return Ok(Done::Checked(ms));
            }
            Err(StoreError::ConditionFailed { .. }) if attempt == 0 => {
                match state.store.get_as::<IotCard>(&keys::card(card.id)).await? {
                    Some(fresh) => card = fresh,
                    None => return Ok(Done::Skipped),
                }
            }
            Err(e) => return Err(e.into()),
        }
    }
    Ok(Done::Checked(ms))
}

/// Stores `card`'s new usage `used` and deducts it, with the firings of `book`'s
/// rules; answers whether the deduction used up the last active usage, and the
/// firings written.
async fn record(
    state: &AppState,
    card: &IotCard,
    used: Decimal,
    book: &RuleBook,
) -> Result<(bool, Vec<Firing>), StoreError> {
    let now = state.clock.now();
    let at = rfc3339(now);
    let date = at.get(..10).unwrap_or_default().to_string();
    let delta = usage_delta(card.current_month_usage_mb, used);
    let usages = if delta > 0 {
        absorbing_usages(state, card).await?
    } else {
        Vec::new()
    };
    let changed = deducted(&usages, delta);
    let days: Vec<DailyAdd> = changed
        .iter()
        .map(|(u, took)| DailyAdd {
            usage_id: u.id,
            date: date.clone(),
            add_mb: *took,
            cumulative_mb: u.data_usage_mb,
        })
        .collect();
    let changed_usages: Vec<PackageUsage> = changed.into_iter().map(|(u, _)| u).collect();
    let firings = book
        .firings(state, card, &usages, &changed_usages, now)
        .await?;
    let was_active = usages.iter().any(|u| u.status == UsageStatus::Active);
    let still_active = usages.iter().any(|u| {
        let now_u = changed_usages.iter().find(|c| c.id == u.id).unwrap_or(u);
        now_u.status == UsageStatus::Active
    });
    let grew = if used >= card.current_month_usage_mb {
        used - card.current_month_usage_mb
    } else {
        used
    };
    let mut c = card.clone();
    c.current_month_usage_mb = used;
    c.last_data_check_at = Some(at.clone());
    c.last_sync_time = Some(at);
    c.touch(SYSTEM, now);
    state
        .store
        .record_usage_check(UsageCheck {
            card: (card_item(&c)?, card.version),
            card_id: c.id,
            usages: &changed_usages,
            days: &days,
            card_day: (grew > Decimal::ZERO).then_some((date.as_str(), grew)),
            firings: fire::items(&firings, now)?,
            now,
        })
        .await?;
    Ok((was_active && !still_active, firings))
}
