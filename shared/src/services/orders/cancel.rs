//! Cancelling a pending order (domain.md §5.4).

use super::{visible_order, write, OrderError, OrderView, Outcome};
use crate::app::AppState;
use crate::domain::caller::Caller;
use crate::domain::orders::{PaymentMethod, PaymentStatus};
use crate::domain::wallet::{LedgerEntry, Movement, TxType, WalletKind};
use crate::store::orders::cancel_ops;
use crate::store::tx::Tx;
use crate::store::wallets::LedgerError;

/// Cancels a pending order (domain.md §5.4): `payment_status` 1 → 5 and, for an
/// agent's wallet order, its frozen money released, in one transaction; anything
/// but a pending order answers `1135`, so a repeat releases nothing twice.
pub async fn cancel_order(
    state: &AppState,
    caller: &Caller,
    id: u64,
) -> Result<OrderView, OrderError> {
    let now = state.clock.now();
    let order = visible_order(state, caller, id).await?;
    if order.payment_status != PaymentStatus::Pending {
        return Err(OrderError::NotPending);
    }
    let entry = match (
        order.payment_method,
        order.buyer_type.as_str(),
        order.operator_id,
    ) {
        (PaymentMethod::Wallet, "agent", Some(payer)) if order.frozen_amount > 0 => {
            Some(LedgerEntry {
                reference_type: Some("order".into()),
                reference_id: Some(order.id),
                reference_no: Some(order.order_no.clone()),
                remark: "取消订单,解冻".into(),
                operator_id: Some(caller.account_id),
                ..LedgerEntry::new(
                    format!("order-cancel:{}", order.id),
                    payer,
                    WalletKind::Main,
                    Movement::Unfreeze(order.frozen_amount),
                    TxType::Unfreeze,
                    now,
                )
            })
        }
        _ => None,
    };
    let mut cancelled = order.clone();
    cancelled.payment_status = PaymentStatus::Cancelled;
    cancelled.pay_by = None;
    cancelled.version = order.version + 1;
    let base = cancel_ops(Tx::new(), &order, &cancelled)?;
    let written = match write(state, base, entry.as_ref()).await {
        // The money is no longer frozen: a concurrent cancel released it first.
        Err(e @ OrderError::Ledger(LedgerError::Refused(_))) => {
            let now_order = state.store.order(id).await?;
            if now_order.is_some_and(|o| o.payment_status != PaymentStatus::Pending) {
                return Err(OrderError::NotPending);
            }
            return Err(e);
        }
        other => other?,
    };
    match written {
        Outcome::Written => {
            tracing::info!(order_id = id, "order cancelled");
            Ok(OrderView::new(cancelled, caller, now))
        }
        Outcome::Refused(_) => Err(OrderError::NotPending),
    }
}
