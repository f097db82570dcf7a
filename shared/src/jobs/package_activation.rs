//! Queued main-package activation and first activation after real-name (jobs.md
//! J11, J12), from the `package-activation` queue. Each message names an asset; the
//! asset's usage head serialises the activation with purchases and expiries (the
//! transaction moves it from the version read with the usages: a purchase placed
//! meanwhile makes it read again). Then cards stopped for data exhaustion (or by a
//! usage rule that resumes on renewal) are resumed when the usages give them data. A redelivered message finds the
//! main active and the card running: it changes nothing.

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use serde::{Deserialize, Serialize};

use super::sqs::{handle_batch, JobError};
use crate::app::AppState;
use crate::config::JobQueue;
use crate::domain::assets::{AssetType, Device, IotCard};
use crate::domain::usage::lifecycle::activation;
use crate::domain::usage::{PackageUsage, UsageStatus};
use crate::services::card_network::resume_with_data;
use crate::store::keys;
use crate::store::tx::{Tx, MAX_TX_ITEMS};
use crate::store::usage_lifecycle::{head_move_ops, usage_change_ops};
use crate::store::StoreError;

/// Attempts at an activation whose asset changed meanwhile (then SQS retries).
const ATTEMPTS: usize = 3;

/// What a message asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ActivationKind {
    /// J11: the current main ended (or data was reset); start the next queued main
    /// and resume the asset's cards.
    QueueActivation,
    /// J12: the asset passed real-name verification; start what waited for it.
    FirstActivation,
}

/// A message of the `package-activation` queue.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActivationMessage {
    pub kind: ActivationKind,
    pub asset_type: AssetType,
    pub asset_id: u64,
}

/// Asks for J11 on an asset (its main ended, or its data was reset).
pub async fn request_queue_activation(
    state: &AppState,
    asset_type: AssetType,
    asset_id: u64,
) -> Result<(), JobError> {
    send(state, ActivationKind::QueueActivation, asset_type, asset_id).await
}

/// Asks for J12 on an asset that just passed real-name verification.
pub async fn request_first_activation(
    state: &AppState,
    asset_type: AssetType,
    asset_id: u64,
) -> Result<(), JobError> {
    send(state, ActivationKind::FirstActivation, asset_type, asset_id).await
}

async fn send(
    state: &AppState,
    kind: ActivationKind,
    asset_type: AssetType,
    asset_id: u64,
) -> Result<(), JobError> {
    let message = ActivationMessage {
        kind,
        asset_type,
        asset_id,
    };
    state
        .job_queue(JobQueue::PackageActivation)
        .send(&message)
        .await?;
    Ok(())
}

/// Handles a batch of the `package-activation` queue (partial batch failures: a
/// failed message is retried, then dead-lettered).
pub async fn handle(state: &AppState, event: SqsEvent) -> SqsBatchResponse {
    let decode =
        |body: &str| serde_json::from_str::<ActivationMessage>(body).map_err(|e| e.to_string());
    handle_batch(
        event,
        decode,
        |_| false,
        |m| async move { activate(state, m).await.map(|_| ()) },
    )
    .await
}

/// What an activation did.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct ActivationReport {
    /// Usages written (activated, flag cleared, expiry aligned).
    pub changed: usize,
    /// Cards resumed.
    pub resumed: usize,
}

/// The asset as activation needs it: generation, whether it counts as verified, and
/// its cards (a card itself; a device's bound cards).
struct Asset {
    generation: i64,
    verified: bool,
    cards: Vec<IotCard>,
}

async fn asset(state: &AppState, t: AssetType, id: u64) -> Result<Option<Asset>, StoreError> {
    let store = &state.store;
    Ok(match t {
        AssetType::Card => store
            .entity::<IotCard>(&keys::card(id))
            .await?
            .filter(|c| c.deleted_at.is_none())
            .map(|c| Asset {
                generation: c.generation,
                verified: c.is_verified(),
                cards: vec![c],
            }),
        AssetType::Device => match store.entity::<Device>(&keys::device(id)).await? {
            Some(d) if d.deleted_at.is_none() => Some(Asset {
                generation: d.generation,
                // As purchases: a device's packages need no real-name wait.
                verified: true,
                cards: store
                    .bound_cards(id)
                    .await?
                    .into_iter()
                    .map(|(_, c)| c)
                    .collect(),
            }),
            _ => None,
        },
    })
}

/// Runs one message: activation (J11 or J12), then the resume of cards stopped for
/// exhaustion while the asset has an active usage.
pub async fn activate(
    state: &AppState,
    m: ActivationMessage,
) -> Result<ActivationReport, JobError> {
    let store = &state.store;
    let (t, id) = (m.asset_type, m.asset_id);
    let first = m.kind == ActivationKind::FirstActivation;
    let mut report = ActivationReport::default();
    let mut attempt = 0;
    let (asset, usages) = loop {
        attempt += 1;
        let Some(asset) = asset(state, t, id).await? else {
            tracing::info!(asset_type = t.as_str(), asset_id = id, "no such asset");
            return Ok(report);
        };
        let now = state.clock.now();
        let (head, all) = store.head_and_usages(t, id).await?;
        let mut usages: Vec<PackageUsage> = all
            .into_iter()
            .filter(|u| u.generation == asset.generation)
            .collect();
        let changes = activation(&usages, asset.verified, first, now);
        if changes.is_empty() {
            break (asset, usages);
        }
        if changes.len() + 1 > MAX_TX_ITEMS {
            return Err(JobError(format!(
                "asset {id}: activation of {} usages exceeds a transaction",
                changes.len()
            )));
        }
        let mut tx = head_move_ops(Tx::new(), t, id, head);
        for c in &changes {
            let expected = usages
                .iter()
                .find(|u| u.id == c.id)
                .map_or(c.version, |u| u.version);
            tx = usage_change_ops(tx, c, expected)?;
        }
        match store.transact(tx).await {
            Ok(()) => {
                report.changed = changes.len();
                tracing::info!(
                    asset_type = t.as_str(),
                    asset_id = id,
                    kind = ?m.kind,
                    changed = changes.len(),
                    "package activation"
                );
                for c in changes {
                    if let Some(slot) = usages.iter_mut().find(|u| u.id == c.id) {
                        *slot = c;
                    }
                }
                break (asset, usages);
            }
            Err(StoreError::ConditionFailed { label, .. }) if attempt < ATTEMPTS => {
                tracing::info!(
                    label,
                    asset_id = id,
                    "asset changed meanwhile; reading again"
                );
            }
            Err(e) => return Err(e.into()),
        }
    };
    if usages.iter().any(|u| u.status == UsageStatus::Active) {
        for card in &asset.cards {
            if resume_with_data(state, card, &usages)
                .await
                .map_err(|e| JobError(format!("resume of card {}: {e}", card.id)))?
            {
                report.resumed += 1;
            }
        }
    }
    Ok(report)
}
