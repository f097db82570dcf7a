//! Online agent recharges (api.md §21, domain.md §5.8, A28): created under the active
//! payment configuration, paid by QR code within 30 minutes, otherwise cancelled by
//! the expiry job ([`expire`]). The payment itself is settled by the callback
//! ([`super::recharges::recharge_paid`]).

use super::payment_configs;
use super::payments::{self, PaymentParams};
use super::recharges::{new_recharge, CreatedRecharge, RechargeError, RechargeView};
use crate::app::AppState;
use crate::clock::parse_rfc3339;
use crate::domain::caller::Caller;
use crate::domain::entities::Shop;
use crate::domain::payment_config::ProviderType;
use crate::domain::recharge::{AgentRecharge, PaymentChannel, RechargeStatus, PAYMENT_WINDOW_SECS};
use crate::store::recharges::{cancel_ops, create_online_ops};
use crate::store::tx::{Tx, TxOutcome};

/// Creates an online recharge of `amount` fen for `shop` under the active payment
/// configuration (none: `1175`; switched off meanwhile: `1175` too) and starts its
/// QR-code payment. When the provider refuses, the recharge is cancelled at once and
/// the answer is `1173`.
pub async fn create_online(
    state: &AppState,
    caller: &Caller,
    shop: Shop,
    amount: i64,
) -> Result<CreatedRecharge, RechargeError> {
    let store = &state.store;
    let config = payment_configs::active(state)
        .await?
        .ok_or(RechargeError::NoPaymentConfig)?;
    let channel = match config.record.provider_type {
        ProviderType::Wechat => PaymentChannel::WechatDirect,
        ProviderType::Fuiou => PaymentChannel::Fuyou,
    };
    let now = state.clock.now();
    let expires = now + PAYMENT_WINDOW_SECS;
    let id = store.next_id("agent_recharge").await?;
    let r = new_recharge(
        id,
        &shop,
        amount,
        caller,
        now,
        Some((config.record.id, channel, expires)),
    );
    let tx = create_online_ops(&r, now, expires, config.record.id)?;
    if let TxOutcome::Cancelled(failed) = store.transact_each(tx).await? {
        tracing::info!(
            ?failed,
            "payment config switched off during recharge creation"
        );
        return Err(RechargeError::NoPaymentConfig);
    }
    let description = format!("代理充值 {}", r.recharge_no);
    let payment: PaymentParams = match payments::start_qr(
        state,
        &config,
        &r.recharge_no,
        &description,
        amount,
        expires,
    )
    .await
    {
        Ok(p) => p,
        Err(e) => {
            tracing::warn!(recharge_id = id, error = %e, "payment not started; recharge cancelled");
            if let Err(e) = store.transact_each(cancel_ops(Tx::new(), &r, now)).await {
                tracing::error!(recharge_id = id, error = %e, "recharge left pending until it expires");
            }
            return Err(e.into());
        }
    };
    tracing::info!(
        recharge_id = id,
        shop_id = shop.id,
        amount,
        config_id = config.record.id,
        "online agent recharge created"
    );
    Ok(CreatedRecharge {
        view: RechargeView {
            recharge: r,
            shop_name: Some(shop.shop_name),
        },
        payment: Some(payment),
    })
}

/// Cancels online recharge `r` when it is still pending and its `expires_at` is at or
/// before `now`: status 1 → 3 on condition, out of the due index. Returns whether
/// this call cancelled it; a recharge paid or cancelled meanwhile is left alone.
/// The caller then closes the provider's order ([`payments::close`]).
pub async fn expire(state: &AppState, r: &AgentRecharge, now: i64) -> Result<bool, RechargeError> {
    let due = r.expires_at.as_deref().and_then(parse_rfc3339);
    if r.status != RechargeStatus::Pending || due.is_none_or(|d| d > now) {
        return Ok(false);
    }
    match state
        .store
        .transact_each(cancel_ops(Tx::new(), r, now))
        .await?
    {
        TxOutcome::Cancelled(_) => Ok(false),
        TxOutcome::Written => {
            tracing::info!(recharge_id = r.id, "unpaid online recharge cancelled");
            Ok(true)
        }
    }
}
