//! The unfreeze sweep: frozen commission records whose time came become
//! withdrawable. It reads only due records (the sparse unfreeze index, 16 shards)
//! and moves each shop's records in transactions of at most [`CHUNK`]: every
//! record `frozen → available` (on condition that it is still frozen), one wallet
//! update with one `unfreeze` ledger line per record, and the month's totals. Two
//! overlapping sweeps unfreeze each record once: the record's condition and the
//! line's event id both refuse a second time.

use std::collections::BTreeMap;

use crate::app::AppState;
use crate::domain::commission::{month_of, unfreeze_event, CommissionRecord, CommissionStatus};
use crate::domain::wallet::{LedgerEntry, Movement, TxType, WalletKind};
use crate::store::commissions::{month_ops, unfreeze_record_ops, MonthFigure};
use crate::store::keys::UNFREEZE_SHARDS;
use crate::store::tx::{backoff, Tx, TxOutcome};
use crate::store::wallets::ledger_ops_many;
use crate::store::{Store, StoreError};

/// Most records of one shop unfrozen in one transaction (2 operations each, plus
/// the wallet and the month's totals).
pub const CHUNK: usize = 40;
/// Attempts of a chunk whose wallet moved meanwhile.
const ATTEMPTS: usize = 5;

/// What a sweep did.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct UnfreezeReport {
    /// Records unfrozen now.
    pub unfrozen: usize,
    /// Their amount (fen).
    pub amount: i64,
    /// True when a shard had more due records than one pass reads.
    pub more: bool,
}

/// Unfreezes the records due by `now`, at most `per_shard` per shard.
pub async fn unfreeze_due(state: &AppState, per_shard: i32) -> Result<UnfreezeReport, StoreError> {
    let store = &state.store;
    let now = state.clock.now();
    let mut report = UnfreezeReport::default();
    for shard in 0..UNFREEZE_SHARDS {
        let due = store.commissions_to_unfreeze(shard, now, per_shard).await?;
        report.more |= due.len() >= per_shard.max(1) as usize;
        let mut by_shop: BTreeMap<u64, Vec<CommissionRecord>> = BTreeMap::new();
        for r in due {
            by_shop.entry(r.shop_id).or_default().push(r);
        }
        for (shop, records) in by_shop {
            for chunk in records.chunks(CHUNK) {
                let (n, amount) = unfreeze_chunk(store, shop, chunk, now).await?;
                report.unfrozen += n;
                report.amount += amount;
            }
        }
    }
    if report.unfrozen > 0 {
        tracing::info!(
            unfrozen = report.unfrozen,
            amount = report.amount,
            "commissions unfrozen"
        );
    }
    Ok(report)
}

/// Unfreezes `records` of `shop` (those still frozen): how many and how much.
async fn unfreeze_chunk(
    store: &Store,
    shop: u64,
    records: &[CommissionRecord],
    now: i64,
) -> Result<(usize, i64), StoreError> {
    let mut pending: Vec<CommissionRecord> = records.to_vec();
    for attempt in 1..=ATTEMPTS {
        if pending.is_empty() {
            return Ok((0, 0));
        }
        let Some(wallet) = store.wallet(shop, WalletKind::Commission).await? else {
            tracing::error!(
                shop,
                "commission records of a shop without commission wallet"
            );
            return Ok((0, 0));
        };
        let entries: Vec<LedgerEntry> = pending
            .iter()
            .map(|r| LedgerEntry {
                subtype: Some(r.commission_type.as_str().into()),
                reference_type: Some("commission".into()),
                reference_id: Some(r.id),
                reference_no: Some(r.order_no.clone()),
                remark: format!("订单{}佣金解冻", r.order_no),
                ..LedgerEntry::new(
                    unfreeze_event(&r.event_id),
                    shop,
                    WalletKind::Commission,
                    Movement::Unfreeze(r.amount),
                    TxType::Commission,
                    now,
                )
            })
            .collect();
        let mut tx = Tx::new();
        for r in &pending {
            tx = unfreeze_record_ops(tx, r, now);
        }
        tx = match ledger_ops_many(tx, &wallet, &entries) {
            Ok((tx, _)) => tx,
            Err(e) => {
                tracing::error!(shop, error = %e, "commission unfreeze refused by the wallet");
                return Ok((0, 0));
            }
        };
        let amount: i64 = pending.iter().map(|r| r.amount).sum();
        tx = month_ops(
            tx,
            (shop, month_of(now.max(wallet.ledger_at))),
            &[(MonthFigure::Unfrozen, amount)],
        );
        match store.transact_each(tx).await? {
            TxOutcome::Written => return Ok((pending.len(), amount)),
            TxOutcome::Cancelled(_) => {
                // Another sweep may have unfrozen some; keep the ones still frozen.
                let mut still = Vec::with_capacity(pending.len());
                for r in &pending {
                    if let Some(now_r) = store.commission_record(r).await? {
                        if now_r.status == CommissionStatus::Frozen {
                            still.push(now_r);
                        }
                    }
                }
                pending = still;
            }
        }
        tokio::time::sleep(backoff(attempt)).await;
    }
    Err(StoreError::Contended { attempts: ATTEMPTS })
}
