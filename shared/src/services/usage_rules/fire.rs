//! How usage rules fire. A batch of card data checks reads the rules of its cards'
//! shop paths once ([`RuleBook`]: no read per card). A deduction that crosses a
//! rule's threshold writes a firing in the check's own transaction, so a firing
//! exists exactly when the deduction does: a replayed or racing check cannot fire
//! twice. The check then takes the action (stop the card, queue the webhook) and
//! marks the firing done; a check that dies before leaves the firing pending, and
//! the sweeper ([`sweep`], run every minute by the alert check) takes it up once the
//! check's lease has expired. A firing acted twice (a sweep racing a slow check)
//! stops an already stopped card (nothing changes) and sends the same delivery id
//! again, which receivers deduplicate.

use crate::app::AppState;
use crate::domain::assets::IotCard;
use crate::domain::usage::PackageUsage;
use crate::domain::usage_rules::{firing, LiveRule, UsageAction, UsageChange};
use crate::services::card_network::stop_by_rule;
use crate::store::usage_rules::{Firing, FiringStatus, UsageRuleRecord};
use crate::store::{keys, Item, StoreError};

/// How long the check that wrote a firing holds its action (seconds).
pub const LEASE_SECS: i64 = 120;
/// Firings one sweep takes up.
const SWEEP_LIMIT: i32 = 100;

/// The enabled rules that may watch a batch's cards.
#[derive(Clone, Debug, Default)]
pub struct RuleBook {
    rules: Vec<LiveRule>,
}

fn live(r: UsageRuleRecord) -> Option<LiveRule> {
    r.fields.enabled.then(|| LiveRule {
        id: r.id,
        scope: r.scope_path,
        threshold_pct: r.fields.threshold_pct,
        action: r.fields.action,
        resume_on_renewal: r.fields.resume_on_renewal,
        has_webhook: r.notify.is_some(),
    })
}

impl RuleBook {
    /// Reads the rules of `cards`' shop paths and the platform's: one read of the
    /// scopes holding rules, then one Query per such scope on the paths.
    pub async fn load<'a>(
        state: &AppState,
        cards: impl Iterator<Item = &'a IotCard>,
    ) -> Result<Self, StoreError> {
        let mut scopes = vec![0];
        for card in cards {
            if let Some(path) = &card.owner_path {
                scopes.extend(path.ids());
            }
        }
        scopes.sort_unstable();
        scopes.dedup();
        let rules = state.store.usage_rules_of(&scopes).await?;
        Ok(Self {
            rules: rules.into_iter().filter_map(live).collect(),
        })
    }

    /// The firings of `card`'s deduction: `before` its usages, `after` those
    /// that changed. Ids are taken only when something fires.
    pub async fn firings(
        &self,
        state: &AppState,
        card: &IotCard,
        before: &[PackageUsage],
        after: &[PackageUsage],
        now: i64,
    ) -> Result<Vec<Firing>, StoreError> {
        if self.rules.is_empty() {
            return Ok(Vec::new());
        }
        let changes: Vec<UsageChange> = after
            .iter()
            .filter_map(|a| {
                let b = before.iter().find(|b| b.id == a.id)?;
                Some(UsageChange {
                    usage_id: a.id,
                    before_mb: b.data_usage_mb,
                    after_mb: a.data_usage_mb,
                    limit_mb: b.stop_threshold_mb(),
                })
            })
            .collect();
        let fired = firing(&self.rules, card.owner_path.as_ref(), &changes);
        if fired.is_empty() {
            return Ok(Vec::new());
        }
        let first = state
            .store
            .next_ids("usage_firing", fired.len() as u64)
            .await?;
        Ok(fired
            .into_iter()
            .enumerate()
            .map(|(i, (rule, c))| Firing {
                id: first + i as u64,
                rule_id: rule.id,
                card_id: card.id,
                iccid: card.iccid.clone(),
                usage_id: c.usage_id,
                package_name: before
                    .iter()
                    .find(|u| u.id == c.usage_id)
                    .map(|u| u.package_name.clone())
                    .unwrap_or_default(),
                threshold_pct: rule.threshold_pct,
                action: rule.action,
                before_mb: c.before_mb,
                used_mb: c.after_mb,
                limit_mb: c.limit_mb,
                fired_at: now,
                status: FiringStatus::Pending,
                outcome: None,
                acted_at: None,
                delivery_status: None,
                delivery_attempts: 0,
                last_http_status: None,
                last_error: None,
            })
            .collect())
    }
}

/// The items of `firings`, held by the writing check until `now +` [`LEASE_SECS`].
pub fn items(firings: &[Firing], now: i64) -> Result<Vec<Item>, StoreError> {
    firings
        .iter()
        .map(|f| crate::store::usage_rules::firing_item(f, now + LEASE_SECS))
        .collect()
}

/// Why a firing's action must be tried again.
#[derive(Debug, thiserror::Error)]
pub enum ActError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("stop: {0}")]
    Stop(#[from] crate::services::asset_ops::OpsError),
    #[error("queue: {0}")]
    Queue(#[from] crate::integrations::fifo::QueueError),
}

/// A webhook delivery of a firing (the `alert-webhooks` queue's usage messages).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct UsageDelivery {
    pub firing_id: u64,
}

impl UsageDelivery {
    /// The delivery id (`X-CMP-Delivery`, the same on every attempt and replay).
    pub fn id(&self) -> String {
        format!("usage-{}", self.firing_id)
    }
}

/// The event name of usage-rule deliveries.
pub const EVENT: &str = "usage.threshold_crossed";

/// Takes firing `f`'s action: stop the card (stop rules), queue the webhook (rules
/// with one), then mark it done. An error leaves it pending for the sweeper.
pub async fn act(state: &AppState, f: &Firing) -> Result<(), ActError> {
    let store = &state.store;
    let rule = store.usage_rule(f.rule_id).await?;
    let Some(rule) = rule else {
        store
            .finish_firing(f.id, "rule_gone", state.clock.now())
            .await?;
        return Ok(());
    };
    let mut outcome = "notified";
    if f.action == UsageAction::Stop {
        let card = store.get_as::<IotCard>(&keys::card(f.card_id)).await?;
        let stopped = match (card, live(rule.clone())) {
            (Some(card), Some(r)) => stop_by_rule(state, &card, r.stop()).await?,
            _ => false,
        };
        outcome = if stopped { "stopped" } else { "not_stopped" };
    }
    if rule.notify.is_some() {
        state
            .job_queue(crate::config::JobQueue::AlertWebhooks)
            .send(&UsageDelivery { firing_id: f.id })
            .await?;
    }
    store
        .finish_firing(f.id, outcome, state.clock.now())
        .await?;
    tracing::info!(
        firing_id = f.id,
        rule_id = f.rule_id,
        card_id = f.card_id,
        outcome,
        "usage rule fired"
    );
    Ok(())
}

/// Acts on firings just written by a check (failures wait for the sweeper).
pub async fn act_now(state: &AppState, firings: &[Firing]) {
    for f in firings {
        if let Err(e) = act(state, f).await {
            tracing::warn!(firing_id = f.id, error = %e, "usage rule action failed; swept later");
        }
    }
}

/// What a sweep did.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct SweepReport {
    /// Pending firings whose lease had ended.
    pub due: usize,
    /// Acted on by this sweep.
    pub acted: usize,
    /// Failed again (retried next sweep).
    pub failed: usize,
}

/// Acts on pending firings whose check's lease ended (the check died or failed).
pub async fn sweep(state: &AppState) -> Result<SweepReport, StoreError> {
    let now = state.clock.now();
    let due = state.store.firings_due(now, SWEEP_LIMIT).await?;
    let mut report = SweepReport {
        due: due.len(),
        ..Default::default()
    };
    for f in due {
        if !state
            .store
            .lease_firing(f.id, now, now + LEASE_SECS)
            .await?
        {
            continue;
        }
        match act(state, &f).await {
            Ok(()) => report.acted += 1,
            Err(e) => {
                report.failed += 1;
                tracing::warn!(firing_id = f.id, error = %e, "usage rule action failed again");
            }
        }
    }
    Ok(report)
}
