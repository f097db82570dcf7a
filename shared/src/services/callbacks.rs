//! Payment notifications (api.md §24, jobs.md J18): parse, find the record by its
//! merchant order number's prefix (`ARCH` agent recharge; `ORD` orders and `CRCH`
//! asset recharges answer a clean failure until client payments exist), verify with
//! the payment configuration the record names (also when inactive or deleted),
//! check merchant, amount and currency, apply the transition once, and only then
//! answer success in the provider's format.
//!
//! Answers: success for a payment applied now or before, and for a late payment
//! (the record expired or was cancelled: nothing is credited, a manual refund is
//! recorded); a failure (the provider redelivers) for anything that does not verify
//! or match, and for transient errors.

use super::audit::wall_nanos;
use super::payment_configs::{open, OpenConfig};
use super::recharges::{recharge_paid, RechargeError};
use crate::app::AppState;
use crate::clock::rfc3339;
use crate::domain::payment_config::ProviderType;
use crate::domain::recharge::{recharge_id_of, RECHARGE_NO_PREFIX};
use crate::integrations::fuiou;
use crate::integrations::pay_keys::parse_public_key;
use crate::integrations::wechat_pay::{self, NotifyHeaders};
use crate::store::refunds::ManualRefund;

/// What the provider is told when a notification could not be applied now (the
/// cause is logged, never answered).
const RETRY_MESSAGE: &str = "temporarily unable to process, retry later";

/// An HTTP answer to the provider.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Answer {
    pub status: u16,
    pub content_type: &'static str,
    pub body: Vec<u8>,
}

/// What became of a notification, before it is put in the provider's words.
#[derive(Debug, PartialEq, Eq)]
enum Outcome {
    /// Applied now or before, or recorded as a late payment: stop redelivering.
    Done,
    /// Refused (does not verify or match): the message says why.
    Refused(String),
    /// Could not be applied now: redeliver.
    Retry(String),
}

/// The payment a notification reports, verified.
struct Paid<'a> {
    config: &'a OpenConfig,
    provider: ProviderType,
    out_trade_no: String,
    transaction_id: String,
    amount: i64,
}

fn wall_now() -> i64 {
    i64::try_from(wall_nanos() / 1_000_000_000).unwrap_or(0)
}

/// Handles a WeChat Pay notification. The record's configuration is found through
/// the notification's key id (`Wechatpay-Serial`), since the order number is inside
/// the encrypted resource; the record must then name that same configuration.
pub async fn wechat(
    state: &AppState,
    header: impl Fn(&str) -> Option<String>,
    body: &[u8],
) -> Answer {
    let outcome = wechat_outcome(state, header, body).await;
    let (status, text) = match &outcome {
        Outcome::Done => wechat_pay::answer_success(),
        Outcome::Refused(m) => wechat_pay::answer_failure_with(400, m),
        Outcome::Retry(_) => wechat_pay::answer_failure(RETRY_MESSAGE),
    };
    log(&outcome, "wechat");
    Answer {
        status,
        content_type: "application/json",
        body: text.into_bytes(),
    }
}

async fn wechat_outcome(
    state: &AppState,
    header: impl Fn(&str) -> Option<String>,
    body: &[u8],
) -> Outcome {
    let headers = match NotifyHeaders::from_lookup(header) {
        Ok(h) => h,
        Err(e) => return Outcome::Refused(e.to_string()),
    };
    let note = match wechat_pay::parse_notification(body) {
        Ok(n) => n,
        Err(e) => return Outcome::Refused(e.to_string()),
    };
    let candidates = match state.store.payment_configs_by_key(&headers.serial).await {
        Ok(c) => c,
        Err(e) => return Outcome::Retry(e.to_string()),
    };
    let mut refusal = "notification signed with an unknown key".to_string();
    // The first configuration of the key that verifies and decrypts tells the order
    // number; the record then names its own configuration, which must hold the same
    // key, and is the one the payment is checked against.
    let mut opened = None;
    for record in candidates {
        match open_wechat(state, &headers, body, &note.resource, record).await {
            Ok(found) => {
                opened = Some(found);
                break;
            }
            Err(Outcome::Refused(m)) => refusal = m,
            Err(other) => return other,
        }
    }
    let Some((mut config, mut txn)) = opened else {
        return Outcome::Refused(refusal);
    };
    let owner = match record_config(state, &txn.out_trade_no).await {
        Ok(id) => id,
        Err(o) => return o,
    };
    if owner != config.record.id {
        let record = match state.store.payment_config(owner).await {
            Ok(Some(r)) if r.fields.wx_pay_public_key_id == headers.serial => r,
            Ok(_) => return Outcome::Refused("the record was not paid through this key".into()),
            Err(e) => return Outcome::Retry(e.to_string()),
        };
        (config, txn) = match open_wechat(state, &headers, body, &note.resource, record).await {
            Ok(found) => found,
            Err(o) => return o,
        };
    }
    if txn.mchid != config.record.fields.wx_mch_id {
        return Outcome::Refused("merchant does not match the configuration".into());
    }
    if txn.trade_state != "SUCCESS" {
        // Not a payment (closed, refunded, …): nothing to apply.
        return Outcome::Done;
    }
    if txn.amount.currency != "CNY" {
        return Outcome::Refused("currency is not CNY".into());
    }
    let paid = Paid {
        config: &config,
        provider: ProviderType::Wechat,
        out_trade_no: txn.out_trade_no.clone(),
        transaction_id: txn.transaction_id.clone().unwrap_or_default(),
        amount: txn.amount.total,
    };
    apply(state, paid).await
}

/// Verifies a WeChat Pay notification with configuration `record`'s public key and
/// decrypts its transaction with the configuration's API v3 key.
async fn open_wechat(
    state: &AppState,
    headers: &NotifyHeaders,
    body: &[u8],
    resource: &wechat_pay::Resource,
    record: crate::store::payment_configs::ConfigRecord,
) -> Result<(OpenConfig, wechat_pay::Transaction), Outcome> {
    let key = parse_public_key(&record.fields.wx_pay_public_key)
        .map_err(|_| Outcome::Refused("the configuration's public key does not parse".into()))?;
    let key_id = record.fields.wx_pay_public_key_id.clone();
    wechat_pay::verify_notification(headers, body, &key_id, &key, wall_now())
        .map_err(|e| Outcome::Refused(e.to_string()))?;
    let config = open(state, record)
        .await
        .map_err(|e| Outcome::Retry(e.to_string()))?;
    let txn = wechat_pay::decrypt_transaction(resource, &config.secrets.wx_api_v3_key)
        .map_err(|e| Outcome::Refused(e.to_string()))?;
    Ok((config, txn))
}

/// Handles a Fuiou notification: the order number is read before verification, the
/// record names its configuration, and that configuration's Fuiou public key
/// verifies the signature (`1174` in the logs when it does not).
pub async fn fuiou(state: &AppState, body: &[u8]) -> Answer {
    let outcome = fuiou_outcome(state, body).await;
    // Fuiou reads the acknowledgement's `result_code`; the HTTP status says the same
    // to everyone else: 400 refused, 500 not applied now.
    let (status, bytes) = match &outcome {
        Outcome::Done => fuiou::answer_success(),
        Outcome::Refused(m) => (400, fuiou::answer_failure(m).1),
        Outcome::Retry(_) => (500, fuiou::answer_failure(RETRY_MESSAGE).1),
    };
    log(&outcome, "fuiou");
    Answer {
        status,
        content_type: "text/xml; charset=GBK",
        body: bytes,
    }
}

async fn fuiou_outcome(state: &AppState, body: &[u8]) -> Outcome {
    let note = match fuiou::parse_notify(body) {
        Ok(n) => n,
        Err(e) => return Outcome::Refused(e.to_string()),
    };
    let config_id = match record_config(state, &note.mchnt_order_no).await {
        Ok(id) => id,
        Err(o) => return o,
    };
    let record = match state.store.payment_config(config_id).await {
        Ok(Some(r)) => r,
        Ok(None) => return Outcome::Refused("the record's payment config is missing".into()),
        Err(e) => return Outcome::Retry(e.to_string()),
    };
    let Ok(key) = parse_public_key(&record.fields.fy_public_key) else {
        return Outcome::Refused("the record's payment config has no Fuiou key".into());
    };
    if let Err(e) = fuiou::verify_notify(&note, &key) {
        tracing::warn!(code = 1174, order = %note.mchnt_order_no, "Fuiou notification signature invalid");
        return Outcome::Refused(e.to_string());
    }
    if note.mchnt_cd != record.fields.fy_mchnt_cd {
        return Outcome::Refused("merchant does not match the configuration".into());
    }
    if note.result_code != "000000" {
        // A failed payment (`1173` in the source): nothing to apply.
        return Outcome::Done;
    }
    let config = match open(state, record).await {
        Ok(c) => c,
        Err(e) => return Outcome::Retry(e.to_string()),
    };
    let paid = Paid {
        config: &config,
        provider: ProviderType::Fuiou,
        out_trade_no: note.mchnt_order_no.clone(),
        transaction_id: note.transaction_id.clone(),
        amount: note.order_amt,
    };
    apply(state, paid).await
}

/// The payment configuration named by the record of `out_trade_no`.
async fn record_config(state: &AppState, out_trade_no: &str) -> Result<u64, Outcome> {
    if out_trade_no.starts_with(RECHARGE_NO_PREFIX) {
        let id = recharge_id_of(out_trade_no)
            .ok_or_else(|| Outcome::Refused("unknown order number".into()))?;
        let r = state
            .store
            .recharge(id)
            .await
            .map_err(|e| Outcome::Retry(e.to_string()))?
            .filter(|r| r.recharge_no == out_trade_no)
            .ok_or_else(|| Outcome::Refused("unknown order number".into()))?;
        return r
            .payment_config_id
            .ok_or_else(|| Outcome::Refused("the record is not an online payment".into()));
    }
    Err(unsupported(out_trade_no))
}

/// `ORD` and `CRCH` payments arrive with the client's orders and asset recharges;
/// any other prefix is unknown.
fn unsupported(out_trade_no: &str) -> Outcome {
    if out_trade_no.starts_with("ORD") || out_trade_no.starts_with("CRCH") {
        Outcome::Retry("payments of orders and asset recharges are not handled yet".into())
    } else {
        Outcome::Refused("unknown order number prefix".into())
    }
}

/// Applies a verified payment to its record.
async fn apply(state: &AppState, p: Paid<'_>) -> Outcome {
    if !p.out_trade_no.starts_with(RECHARGE_NO_PREFIX) {
        return unsupported(&p.out_trade_no);
    }
    let Some(id) = recharge_id_of(&p.out_trade_no) else {
        return Outcome::Refused("unknown order number".into());
    };
    let r = match state.store.recharge(id).await {
        Ok(Some(r)) if r.recharge_no == p.out_trade_no => r,
        Ok(_) => return Outcome::Refused("unknown order number".into()),
        Err(e) => return Outcome::Retry(e.to_string()),
    };
    if r.payment_config_id != Some(p.config.record.id) {
        return Outcome::Refused("the record was not paid through this configuration".into());
    }
    if r.amount != p.amount {
        tracing::error!(
            recharge_id = id,
            expected = r.amount,
            paid = p.amount,
            "payment amount does not match"
        );
        return Outcome::Refused("amount does not match".into());
    }
    match recharge_paid(state, id, state.clock.now()).await {
        Ok(settled) => {
            tracing::info!(
                recharge_id = id,
                credited = settled.credited,
                "recharge payment applied"
            );
            Outcome::Done
        }
        Err(RechargeError::NotPending) => {
            late(
                state,
                &p,
                "the recharge was cancelled before the payment arrived",
            )
            .await
        }
        Err(e) => Outcome::Retry(e.to_string()),
    }
}

/// A payment for a record that can no longer be paid: nothing is credited, a
/// manual refund is recorded (once), and the provider is told it was received.
async fn late(state: &AppState, p: &Paid<'_>, reason: &str) -> Outcome {
    let refund = ManualRefund {
        out_trade_no: p.out_trade_no.clone(),
        provider: p.provider.as_str().into(),
        transaction_id: p.transaction_id.clone(),
        amount: p.amount,
        payment_config_id: p.config.record.id,
        reason: reason.into(),
        status: "open".into(),
        created_at: rfc3339(state.clock.now()),
        closed_at: None,
        closed_by: None,
        remark: None,
    };
    match state
        .store
        .record_manual_refund(&refund, wall_nanos())
        .await
    {
        Ok(()) => {
            tracing::warn!(out_trade_no = %p.out_trade_no, amount = p.amount, "late payment recorded for manual refund");
            Outcome::Done
        }
        Err(e) => Outcome::Retry(e.to_string()),
    }
}

fn log(outcome: &Outcome, provider: &str) {
    match outcome {
        Outcome::Done => {}
        Outcome::Refused(m) => {
            tracing::warn!(provider, reason = %m, "payment notification refused")
        }
        Outcome::Retry(m) => {
            tracing::error!(provider, error = %m, "payment notification not applied; the provider will retry")
        }
    }
}
