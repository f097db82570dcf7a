//! Agent recharges (api.md §21, domain.md §5.8, §6.3): created by an agent for its
//! own shop (`wechat`) or by the platform for any shop (`wechat` or `offline`);
//! completed once, crediting the shop's main wallet through the ledger in the same
//! transaction as the status change 1 → 2, either by the platform's offline
//! confirmation or by the payment callback ([`recharge_paid`]).

use serde::{Deserialize, Serialize};

use super::auth::{verify_own_password, AuthError};
use super::shops::shop_names;
use crate::app::AppState;
use crate::clock::rfc3339;
use crate::codes::{BusinessError, Code, Text};
use crate::domain::caller::{Caller, NotAllowed, SA_PL, SA_PL_AG};
use crate::domain::entities::{OperationAudit, Shop};
use crate::domain::recharge::{
    check_amount, recharge_event, recharge_id_of, recharge_no, AgentRecharge, PaymentChannel,
    PaymentMethod, RechargeStatus,
};
use crate::domain::validate::{day_range, Invalid};
use crate::domain::wallet::{wallet_id, LedgerEntry, Movement, TxType, WalletKind};
use crate::paging::{CursorPage, PageQuery};
use crate::store::audit::audit_ops;
use crate::store::keys;
use crate::store::recharges::{complete_ops, RechargeQuery, RECHARGE_LABEL};
use crate::store::tx::{backoff, Tx, TxOutcome};
use crate::store::wallets::{
    ledger_cancel, ledger_ops, LedgerCancel, LedgerError, LEDGER_ATTEMPTS,
};
use crate::store::{from_item, Store, StoreError};

/// Failures of recharge use cases.
#[derive(Debug, thiserror::Error)]
pub enum RechargeError {
    #[error(transparent)]
    Invalid(#[from] Invalid),
    #[error("insufficient permission")]
    NotAllowed(#[from] NotAllowed),
    #[error("insufficient permission: {0}")]
    Forbidden(&'static str),
    /// No such recharge, or one outside the caller's shop (`1121`).
    #[error("recharge record not found")]
    NotFound,
    #[error("shop not found")]
    ShopNotFound,
    #[error("the target shop's main wallet does not exist")]
    MainWalletMissing,
    /// Online payment needs an active payment configuration.
    #[error("no payment config available")]
    NoPaymentConfig,
    #[error("wrong operation password")]
    WrongPassword,
    #[error("too many wrong passwords, try again later")]
    RateLimited,
    #[error("the recharge is not pending")]
    NotPending,
    #[error("only offline recharges can be confirmed offline")]
    NotOffline,
    #[error(transparent)]
    Ledger(#[from] LedgerError),
    #[error(transparent)]
    Auth(AuthError),
    #[error(transparent)]
    Payment(#[from] super::payments::PaymentError),
    #[error(transparent)]
    Config(#[from] super::payment_configs::ConfigError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<AuthError> for RechargeError {
    fn from(e: AuthError) -> Self {
        match e {
            AuthError::WrongPassword => RechargeError::WrongPassword,
            AuthError::RateLimited => RechargeError::RateLimited,
            AuthError::Store(e) => RechargeError::Store(e),
            other => RechargeError::Auth(other),
        }
    }
}

impl BusinessError for RechargeError {
    fn code(&self) -> Code {
        use RechargeError::*;
        match self {
            Invalid(_) => Code::INVALID_PARAM,
            NotAllowed(_) | Forbidden(_) => Code::FORBIDDEN,
            NotFound => Code::RECHARGE_NOT_FOUND,
            ShopNotFound => Code::NOT_FOUND,
            MainWalletMissing => Code::MAIN_WALLET_MISSING,
            NoPaymentConfig => Code::NO_PAYMENT_CONFIG,
            WrongPassword => Code::WRONG_OPERATION_PASSWORD,
            RateLimited => Code::TOO_MANY_REQUESTS,
            NotPending => Code::RECHARGE_NOT_PENDING,
            NotOffline => Code::RECHARGE_NOT_OFFLINE,
            Ledger(e) => e.code(),
            Auth(e) => e.code(),
            Payment(e) => e.code(),
            Config(e) => e.code(),
            Store(e) => e.code(),
        }
    }

    fn detail(&self) -> Option<Text> {
        match self {
            RechargeError::Invalid(i) => Some(i.text().clone()),
            _ => None,
        }
    }
}

/// `POST /api/admin/agent-recharges` body.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct CreateRecharge {
    /// The shop whose main wallet is credited (agents: their own).
    pub shop_id: u64,
    /// Fen, 10 000 to 100 000 000.
    #[schema(minimum = 10000, maximum = 100000000)]
    pub amount: i64,
    /// `wechat` (agents, platform) or `offline` (platform only).
    pub payment_method: PaymentMethod,
}

/// `POST /api/admin/agent-recharges/{id}/offline-pay` body.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct OfflinePay {
    /// The operator's own login password, asked again.
    #[schema(min_length = 1)]
    pub operation_password: String,
}

/// Filters of `GET /api/admin/agent-recharges`.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct RechargeFilter {
    /// Only this shop's recharges (agents see only their own shop's anyway).
    pub shop_id: Option<u64>,
    /// 1 pending, 2 completed, 3 cancelled.
    #[param(minimum = 1, maximum = 3)]
    pub status: Option<i64>,
    pub payment_method: Option<PaymentMethod>,
    /// Exactly this number.
    pub recharge_no: Option<String>,
    /// Created on or after this day (`YYYY-MM-DD`, Asia/Shanghai).
    #[param(pattern = r"^\d{4}-\d{2}-\d{2}$")]
    pub start_date: Option<String>,
    /// Created on or before this day (`YYYY-MM-DD`, Asia/Shanghai).
    #[param(pattern = r"^\d{4}-\d{2}-\d{2}$")]
    pub end_date: Option<String>,
}

/// A recharge with its shop's name.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct RechargeView {
    #[serde(flatten)]
    pub recharge: AgentRecharge,
    pub shop_name: Option<String>,
}

/// What a payment confirmation did.
#[derive(Clone, Debug, PartialEq)]
pub struct Settled {
    /// The recharge as it now is (completed).
    pub recharge: AgentRecharge,
    /// True when this call credited the wallet; false when it was done before.
    pub credited: bool,
}

/// A created recharge, with what the payer needs for an online one.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct CreatedRecharge {
    #[serde(flatten)]
    pub view: RechargeView,
    /// The QR code to pay an online recharge with (absent for offline ones).
    pub payment: Option<super::payments::PaymentParams>,
}

/// Creates a pending recharge (§6.3). Checks, in the spec's order: who may recharge
/// what (agents: their own shop, `wechat` only), the amount, the target's main
/// wallet, and for `wechat` the active payment configuration (none: `1175`); an
/// online recharge then starts its payment with that configuration's provider
/// ([`super::recharge_payments::create_online`]).
pub async fn create(
    state: &AppState,
    caller: &Caller,
    req: CreateRecharge,
) -> Result<CreatedRecharge, RechargeError> {
    let store = &state.store;
    let now = state.clock.now();
    caller.require(SA_PL_AG)?;
    if !caller.is_platform() {
        if caller.shop_id != Some(req.shop_id) {
            return Err(RechargeError::Forbidden(
                "agents can only recharge their own shop",
            ));
        }
        if req.payment_method == PaymentMethod::Offline {
            return Err(RechargeError::Forbidden(
                "only the platform records offline recharges",
            ));
        }
    }
    let amount = check_amount(req.amount)?;
    let shop: Shop = store
        .live_entity(&keys::shop(req.shop_id))
        .await?
        .ok_or(RechargeError::ShopNotFound)?;
    if store.wallet(shop.id, WalletKind::Main).await?.is_none() {
        return Err(RechargeError::MainWalletMissing);
    }
    if req.payment_method == PaymentMethod::Wechat {
        return super::recharge_payments::create_online(state, caller, shop, amount).await;
    }
    let id = store.next_id("agent_recharge").await?;
    let recharge = new_recharge(id, &shop, amount, caller, now, None);
    store.create_recharge(&recharge, now).await?;
    tracing::info!(
        recharge_id = id,
        shop_id = shop.id,
        amount,
        "agent recharge created"
    );
    Ok(CreatedRecharge {
        view: RechargeView {
            recharge,
            shop_name: Some(shop.shop_name),
        },
        payment: None,
    })
}

/// A new pending recharge `id` of `shop`'s main wallet: offline, or online under
/// payment configuration `online` = (id, channel, expires at).
pub fn new_recharge(
    id: u64,
    shop: &Shop,
    amount: i64,
    caller: &Caller,
    now: i64,
    online: Option<(u64, PaymentChannel, i64)>,
) -> AgentRecharge {
    let at = rfc3339(now);
    AgentRecharge {
        id,
        recharge_no: recharge_no(id, now),
        shop_id: shop.id,
        agent_wallet_id: wallet_id(shop.id, WalletKind::Main),
        amount,
        payment_method: if online.is_some() {
            PaymentMethod::Wechat
        } else {
            PaymentMethod::Offline
        },
        payment_channel: online.map_or(PaymentChannel::Offline, |(_, c, _)| c),
        payment_config_id: online.map(|(id, _, _)| id),
        status: RechargeStatus::Pending,
        expires_at: online.map(|(_, _, e)| rfc3339(e)),
        paid_at: None,
        completed_at: None,
        creator: caller.account_id,
        created_at: at.clone(),
        updated_at: at,
        version: 1,
    }
}

/// Loads a recharge the caller may see: platform staff every one, an agent its own
/// shop's; anything else looks missing (`1121`).
async fn visible(store: &Store, caller: &Caller, id: u64) -> Result<AgentRecharge, RechargeError> {
    caller.require(SA_PL_AG)?;
    let r = store.recharge(id).await?.ok_or(RechargeError::NotFound)?;
    if !sees(caller, &r) {
        return Err(RechargeError::NotFound);
    }
    Ok(r)
}

fn sees(caller: &Caller, r: &AgentRecharge) -> bool {
    caller.is_platform() || caller.shop_id == Some(r.shop_id)
}

/// One recharge with its shop's name.
pub async fn get(store: &Store, caller: &Caller, id: u64) -> Result<RechargeView, RechargeError> {
    let r = visible(store, caller, id).await?;
    Ok(with_shop_names(store, vec![r]).await?.remove(0))
}

/// One page of the recharges the caller sees, newest first: an agent's own shop's,
/// or for the platform every shop's (or one shop's with `shop_id`).
pub async fn list(
    store: &Store,
    caller: &Caller,
    f: &RechargeFilter,
    page: &PageQuery,
) -> Result<CursorPage<RechargeView>, RechargeError> {
    caller.require(SA_PL_AG)?;
    let (cursor, size) = page.parse()?;
    let (from, to) = day_range(f.start_date.as_deref(), f.end_date.as_deref())?;
    let status = f
        .status
        .map(RechargeStatus::try_from)
        .transpose()
        .map_err(|_| Invalid::new("status须为1、2或3", "status must be 1, 2 or 3"))?;
    let q = RechargeQuery {
        status,
        payment_method: f.payment_method,
        from,
        to,
    };
    let shop = if caller.is_platform() {
        f.shop_id
    } else {
        match (caller.shop_id, f.shop_id) {
            (Some(own), None) => Some(own),
            (Some(own), Some(wanted)) if wanted == own => Some(own),
            // Another shop's recharges, or an agent without a shop: nothing to see.
            _ => return Ok(CursorPage::empty(size)),
        }
    };
    let page = match f.recharge_no.as_deref().map(str::trim) {
        Some(no) => {
            let found = match recharge_id_of(no) {
                Some(id) => store.recharge(id).await?,
                None => None,
            };
            let hit = found.filter(|r| {
                r.recharge_no == no
                    && sees(caller, r)
                    && shop.is_none_or(|s| s == r.shop_id)
                    && q.status.is_none_or(|s| s == r.status)
                    && q.payment_method.is_none_or(|m| m == r.payment_method)
            });
            CursorPage::new(hit.into_iter().collect(), size, None)
        }
        None => store.recharge_page(shop, &q, size, cursor).await?,
    };
    let mut page = page;
    let list = with_shop_names(store, std::mem::take(&mut page.list)).await?;
    Ok(page.with_list(list))
}

pub(super) async fn with_shop_names(
    store: &Store,
    records: Vec<AgentRecharge>,
) -> Result<Vec<RechargeView>, StoreError> {
    let mut ids: Vec<u64> = records.iter().map(|r| r.shop_id).collect();
    ids.sort_unstable();
    ids.dedup();
    let names = shop_names(store, &ids).await?;
    Ok(records
        .into_iter()
        .map(|recharge| RechargeView {
            shop_name: names
                .iter()
                .find(|(id, _)| *id == recharge.shop_id)
                .map(|(_, n)| n.clone()),
            recharge,
        })
        .collect())
}

/// The platform confirms an offline recharge as paid: the operator's own password
/// again (wrong ones throttled), then one transaction moves the recharge from
/// pending to completed, credits the main wallet through the ledger (event
/// `recharge:<id>`) and writes the audit entry `offline_recharge`. A second
/// confirmation, even a concurrent one, answers `1126` and credits nothing.
pub async fn offline_pay(
    state: &AppState,
    caller: &Caller,
    ip: &str,
    id: u64,
    req: OfflinePay,
) -> Result<RechargeView, RechargeError> {
    caller.require(SA_PL)?;
    let store = &state.store;
    if req.operation_password.is_empty() {
        return Err(Invalid::new(
            "operation_password不能为空",
            "operation_password is required",
        )
        .into());
    }
    let r = visible(store, caller, id).await?;
    if r.payment_method != PaymentMethod::Offline {
        return Err(RechargeError::NotOffline);
    }
    if r.status != RechargeStatus::Pending {
        return Err(RechargeError::NotPending);
    }
    verify_own_password(state, caller, ip, &req.operation_password).await?;
    let shop: Option<Shop> = store.live_entity(&keys::shop(r.shop_id)).await?;
    let audit = Audit {
        operator_id: caller.account_id,
        ip: ip.to_string(),
        shop_path: shop.map(|s| s.path.as_str().to_string()),
    };
    let settled = settle(
        store,
        r,
        state.clock.now(),
        Some(caller.account_id),
        Some(audit),
    )
    .await?;
    if !settled.credited {
        return Err(RechargeError::NotPending);
    }
    tracing::info!(
        recharge_id = id,
        operator = caller.account_id,
        "offline recharge confirmed"
    );
    Ok(with_shop_names(store, vec![settled.recharge])
        .await?
        .remove(0))
}

/// The payment of recharge `recharge_id` succeeded at `paid_at` (the payment
/// callback; the offline confirmation goes through the same settlement): status
/// 1 → 2 and the credit of the main wallet, once. A recharge already completed
/// answers success without a second credit (`credited: false`); a cancelled one
/// answers `1126`.
pub async fn recharge_paid(
    state: &AppState,
    recharge_id: u64,
    paid_at: i64,
) -> Result<Settled, RechargeError> {
    let store = &state.store;
    let r = store
        .recharge(recharge_id)
        .await?
        .ok_or(RechargeError::NotFound)?;
    match r.status {
        RechargeStatus::Completed => Ok(Settled {
            recharge: r,
            credited: false,
        }),
        RechargeStatus::Cancelled => Err(RechargeError::NotPending),
        RechargeStatus::Pending => settle(store, r, paid_at, None, None).await,
    }
}

/// Who confirmed an offline recharge, for its audit entry.
struct Audit {
    operator_id: u64,
    ip: String,
    shop_path: Option<String>,
}

/// The ledger entry crediting recharge `r`.
fn credit_entry(r: &AgentRecharge, at: i64, operator: Option<u64>) -> LedgerEntry {
    let mut entry = LedgerEntry::new(
        recharge_event(r.id),
        r.shop_id,
        WalletKind::Main,
        Movement::Credit(r.amount),
        TxType::Recharge,
        at,
    );
    entry.reference_type = Some("agent_recharge".into());
    entry.reference_id = Some(r.id);
    entry.reference_no = Some(r.recharge_no.clone());
    entry.remark = format!("代理充值 {}", r.recharge_no);
    entry.operator_id = operator;
    entry
}

/// Completes pending recharge `r` at `at` and credits its wallet, in one
/// transaction (with the audit entry when `audit` is given). When the recharge's own
/// condition fails someone else completed (or cancelled) it: the current record
/// answers, with `credited: false`. A wallet that changed between read and write is
/// read again, [`LEDGER_ATTEMPTS`] times in all.
async fn settle(
    store: &Store,
    r: AgentRecharge,
    at: i64,
    operator: Option<u64>,
    audit: Option<Audit>,
) -> Result<Settled, RechargeError> {
    let entry = credit_entry(&r, at, operator);
    for attempt in 1..=LEDGER_ATTEMPTS {
        let wallet = store
            .wallet(r.shop_id, WalletKind::Main)
            .await?
            .ok_or(RechargeError::MainWalletMissing)?;
        let (tx, line) = ledger_ops(Tx::new(), &wallet, &entry)?;
        let mut tx = complete_ops(tx, &r, at);
        if let Some(a) = &audit {
            let snapshot = |status: RechargeStatus, balance: i64| serde_json::json!({"status": status, "wallet_balance": balance});
            let entry = OperationAudit {
                id: uuid::Uuid::new_v4().simple().to_string(),
                operator_id: a.operator_id,
                operation_type: "offline_recharge".into(),
                operation_desc: format!(
                    "确认代理充值到账:充值单号 {},金额 {} 分",
                    r.recharge_no, r.amount
                ),
                target_type: "agent_recharge".into(),
                target_id: r.id,
                before_data: Some(snapshot(RechargeStatus::Pending, line.balance_before)),
                after_data: Some(snapshot(RechargeStatus::Completed, line.balance_after)),
                ip: a.ip.clone(),
                created_at: rfc3339(at),
                shop_path: a.shop_path.clone(),
            };
            let nanos = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos());
            tx = audit_ops(tx, &entry, nanos)?;
        }
        let failed = match store.transact_each(tx).await? {
            TxOutcome::Written => {
                let mut done = r.clone();
                done.status = RechargeStatus::Completed;
                done.paid_at = Some(rfc3339(at));
                done.completed_at = done.paid_at.clone();
                done.updated_at = rfc3339(at);
                done.version += 1;
                tracing::info!(recharge_id = r.id, amount = r.amount, "recharge credited");
                return Ok(Settled {
                    recharge: done,
                    credited: true,
                });
            }
            TxOutcome::Cancelled(failed) => failed,
        };
        let moved = failed.iter().find(|f| f.label == RECHARGE_LABEL);
        let replayed = matches!(ledger_cancel(&entry, &failed)?, LedgerCancel::Replayed(_));
        if moved.is_some() || replayed {
            let now = match moved.and_then(|f| f.old.clone()) {
                Some(item) => Some(from_item::<AgentRecharge>(item)?),
                None => store.recharge(r.id).await?,
            };
            return match now {
                Some(now) if now.status == RechargeStatus::Completed => Ok(Settled {
                    recharge: now,
                    credited: false,
                }),
                Some(_) => Err(RechargeError::NotPending),
                None => Err(RechargeError::NotFound),
            };
        }
        if !failed
            .iter()
            .any(|f| f.label == crate::store::wallets::WALLET_LABEL)
        {
            return Err(StoreError::Dynamo(format!(
                "recharge {} settlement cancelled: {failed:?}",
                r.id
            ))
            .into());
        }
        if attempt < LEDGER_ATTEMPTS {
            tokio::time::sleep(backoff(attempt)).await;
        }
    }
    Err(StoreError::Contended {
        attempts: LEDGER_ATTEMPTS,
    }
    .into())
}
