//! Withdrawal requests and their review (api.md §22, domain.md §5.5). A request
//! freezes its amount in the shop's commission wallet, in one transaction with the
//! request, the shop's daily amount (the daily maximum is its condition) and the
//! month's totals. Approval takes the frozen amount out of the wallet; rejection
//! makes it available again; either happens once: the request's status and version
//! are conditions of the same transaction as the wallet's movement, whose ledger
//! event id (`withdrawal:{id}:approve` / `:reject`) refuses a second line.

use serde::Deserialize;

use super::{listed_shop, own_shop, CommissionError};
use crate::app::AppState;
use crate::clock::rfc3339;
use crate::domain::caller::{Caller, SA_PL, SA_PL_AG};
use crate::domain::commission::month_of;
use crate::domain::validate::{day_range, opt_text};
use crate::domain::wallet::{LedgerEntry, Movement, TxType, WalletKind};
use crate::domain::withdrawal::{
    admissible, day_of, withdrawal_no, Payee, Withdrawal, WithdrawalSettings, WithdrawalStatus,
};
use crate::paging::{CursorPage, PageQuery};
use crate::services::audit::{audit, Audited};
use crate::store::commissions::{month_ops, MonthFigure};
use crate::store::tx::{backoff, Tx, TxOutcome};
use crate::store::wallets::{ledger_cancel, ledger_ops, LedgerCancel, LedgerError};
use crate::store::withdrawals::{
    new_withdrawal_ops, review_ops, WithdrawalQuery, DAY_LABEL, WITHDRAWAL_LABEL,
};
use crate::store::StoreError;

/// Who did an operation on withdrawal `id`.
fn audited(caller: &Caller, ip: &str, operation_type: &'static str, id: u64) -> Audited {
    Audited {
        operator_id: caller.account_id,
        ip: ip.to_string(),
        operation_type,
        target_type: "withdrawal",
        target_id: id,
    }
}

/// Attempts when the wallet moved between read and write.
const ATTEMPTS: usize = 10;

/// `POST /api/admin/my-commission/withdrawal-requests` body.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateWithdrawal {
    /// Fen, within the settings' minimum and maximum.
    pub amount: i64,
    pub payee: Payee,
    /// Up to 200 characters.
    #[serde(default)]
    pub remark: Option<String>,
}

/// Approval or rejection body.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Review {
    /// Up to 200 characters (a rejection's reason).
    #[serde(default)]
    pub remark: Option<String>,
}

/// Filters of the withdrawal lists.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct WithdrawalFilter {
    /// The shop (`shop-commission` and platform lists; required for agents).
    pub shop_id: Option<u64>,
    /// 1 pending, 2 approved, 3 rejected.
    #[param(value_type = Option<i64>)]
    pub status: Option<WithdrawalStatus>,
    /// First day (`YYYY-MM-DD`, Asia/Shanghai), included.
    #[param(pattern = r"^\d{4}-\d{2}-\d{2}$")]
    pub start_date: Option<String>,
    /// Last day (`YYYY-MM-DD`, Asia/Shanghai), included.
    #[param(pattern = r"^\d{4}-\d{2}-\d{2}$")]
    pub end_date: Option<String>,
}

fn query(f: &WithdrawalFilter) -> Result<WithdrawalQuery, CommissionError> {
    let (from, to) = day_range(f.start_date.as_deref(), f.end_date.as_deref())?;
    Ok(WithdrawalQuery {
        status: f.status,
        from,
        to,
    })
}

/// The calling agent's new withdrawal request (its amount frozen).
pub async fn request(
    state: &AppState,
    caller: &Caller,
    ip: &str,
    req: CreateWithdrawal,
) -> Result<Withdrawal, CommissionError> {
    let store = &state.store;
    let shop_id = own_shop(caller)?;
    let payee = req.payee.checked()?;
    let remark = opt_text("remark", req.remark.as_deref(), 200)?;
    let settings = store.withdrawal_settings().await?;
    admissible(&settings, req.amount, &payee)?;
    let shop = super::super::shops::visible_shop(store, caller, shop_id).await?;
    let now = state.clock.now();
    let id = store.next_id("withdrawal").await?;
    let fee = settings.fee(req.amount);
    let w = Withdrawal {
        id,
        withdrawal_no: withdrawal_no(id, now),
        shop_id,
        shop_name: shop.shop_name,
        amount: req.amount,
        fee,
        actual_amount: req.amount - fee,
        fee_rate_bp: settings.fee_rate_bp,
        payee,
        status: WithdrawalStatus::Pending,
        applicant_id: caller.account_id,
        remark,
        reviewer_id: None,
        reviewed_at: None,
        review_remark: None,
        day: day_of(now),
        created_at: rfc3339(now),
        at: now,
        version: 1,
    };
    let entry = LedgerEntry {
        reference_type: Some("withdrawal".into()),
        reference_id: Some(id),
        reference_no: Some(w.withdrawal_no.clone()),
        remark: "提现申请冻结".into(),
        operator_id: Some(caller.account_id),
        ..LedgerEntry::new(
            format!("withdrawal:{id}:request"),
            shop_id,
            WalletKind::Commission,
            Movement::Freeze(w.amount),
            TxType::Withdrawal,
            now,
        )
    };
    let base = new_withdrawal_ops(Tx::new(), &w, settings.daily_max_amount)?;
    move_wallet(
        state,
        base,
        &entry,
        &[(MonthFigure::WithdrawalRequested, w.amount)],
    )
    .await?;
    tracing::info!(
        withdrawal = id,
        shop_id,
        amount = w.amount,
        "withdrawal requested"
    );
    let desc = format!("申请提现 {} 分", w.amount);
    audit(
        state,
        audited(caller, ip, "withdrawal_request", id),
        desc,
        None,
        Some(&w),
    )
    .await;
    Ok(w)
}

/// Writes `base` with `entry`'s wallet movement and the month's figure, retrying
/// while only the wallet moved.
async fn move_wallet(
    state: &AppState,
    base: Tx,
    entry: &LedgerEntry,
    figures: &[(MonthFigure, i64)],
) -> Result<(), CommissionError> {
    let store = &state.store;
    let mut wallet = store
        .wallet(entry.shop_id, WalletKind::Commission)
        .await?
        .ok_or(LedgerError::WalletNotFound)?;
    for attempt in 1..=ATTEMPTS {
        let (tx, _) = ledger_ops(base.clone(), &wallet, entry)?;
        let tx = month_ops(
            tx,
            (entry.shop_id, month_of(entry.at.max(wallet.ledger_at))),
            figures,
        );
        let failed = match store.transact_each(tx).await? {
            TxOutcome::Written => return Ok(()),
            TxOutcome::Cancelled(failed) => failed,
        };
        match ledger_cancel(entry, &failed)? {
            LedgerCancel::Replayed(_) => return Ok(()),
            LedgerCancel::WalletChanged(now) => {
                wallet = match now {
                    Some(w) => w,
                    None => store
                        .wallet(entry.shop_id, WalletKind::Commission)
                        .await?
                        .ok_or(LedgerError::WalletNotFound)?,
                };
            }
            LedgerCancel::NotLedger => {
                return Err(if failed.iter().any(|f| f.label == DAY_LABEL) {
                    CommissionError::DailyLimit
                } else if failed.iter().any(|f| f.label == WITHDRAWAL_LABEL) {
                    CommissionError::NotPending
                } else {
                    StoreError::Dynamo("withdrawal transaction cancelled".into()).into()
                })
            }
        }
        tokio::time::sleep(backoff(attempt.min(4))).await;
    }
    Err(StoreError::Contended { attempts: ATTEMPTS }.into())
}

/// Approves (`approve = true`) or rejects pending request `id` (platform staff).
/// Reviewing a request already in the asked state answers it as it is; the other
/// state answers `1141`.
pub async fn review(
    state: &AppState,
    caller: &Caller,
    ip: &str,
    id: u64,
    approve: bool,
    body: Review,
) -> Result<Withdrawal, CommissionError> {
    caller.require(SA_PL)?;
    let store = &state.store;
    let remark = opt_text("remark", body.remark.as_deref(), 200)?;
    let wanted = if approve {
        WithdrawalStatus::Approved
    } else {
        WithdrawalStatus::Rejected
    };
    let before = store
        .withdrawal(id)
        .await?
        .ok_or(CommissionError::WithdrawalNotFound)?;
    if before.status == wanted {
        return Ok(before);
    }
    if before.status != WithdrawalStatus::Pending {
        return Err(CommissionError::NotPending);
    }
    let now = state.clock.now();
    let after = Withdrawal {
        status: wanted,
        reviewer_id: Some(caller.account_id),
        reviewed_at: Some(rfc3339(now)),
        review_remark: remark,
        version: before.version + 1,
        ..before.clone()
    };
    let (movement, event, figures, text) = if approve {
        (
            Movement::DebitFrozen(before.amount),
            "approve",
            vec![
                (MonthFigure::Withdrawn, before.amount),
                (MonthFigure::Fees, before.fee),
            ],
            "提现审核通过",
        )
    } else {
        (
            Movement::Unfreeze(before.amount),
            "reject",
            vec![(MonthFigure::WithdrawalReturned, before.amount)],
            "提现申请驳回",
        )
    };
    let entry = LedgerEntry {
        reference_type: Some("withdrawal".into()),
        reference_id: Some(id),
        reference_no: Some(before.withdrawal_no.clone()),
        remark: text.into(),
        operator_id: Some(caller.account_id),
        ..LedgerEntry::new(
            format!("withdrawal:{id}:{event}"),
            before.shop_id,
            WalletKind::Commission,
            movement,
            TxType::Withdrawal,
            now,
        )
    };
    let base = review_ops(Tx::new(), &before, &after)?;
    match move_wallet(state, base, &entry, &figures).await {
        Ok(()) => {
            tracing::info!(withdrawal = id, approve, "withdrawal reviewed");
            let op = if approve {
                "withdrawal_approve"
            } else {
                "withdrawal_reject"
            };
            let desc = format!("{text} {} {} 分", after.withdrawal_no, after.amount);
            audit(
                state,
                audited(caller, ip, op, id),
                desc,
                Some(&before),
                Some(&after),
            )
            .await;
            Ok(after)
        }
        // Reviewed meanwhile (a concurrent review won; the wallet may already have
        // moved): answer as it stands now.
        Err(e) => {
            let now_w = store
                .withdrawal(id)
                .await?
                .ok_or(CommissionError::WithdrawalNotFound)?;
            match now_w.status {
                s if s == wanted => Ok(now_w),
                WithdrawalStatus::Pending => Err(e),
                _ => Err(CommissionError::NotPending),
            }
        }
    }
}

/// `GET /api/admin/my-commission/withdrawal-requests`: the calling agent's requests.
pub async fn my_requests(
    state: &AppState,
    caller: &Caller,
    f: &WithdrawalFilter,
    page: &PageQuery,
) -> Result<CursorPage<Withdrawal>, CommissionError> {
    let shop = own_shop(caller)?;
    let (cursor, size) = page.parse()?;
    let q = query(f)?;
    Ok(state
        .store
        .withdrawal_page(Some(shop), &q, size, cursor)
        .await?)
}

/// `GET /api/admin/shop-commission/withdrawal-requests`: a shop's requests (the
/// platform may omit `shop_id` for every shop; agents name a shop of their subtree).
pub async fn shop_requests(
    state: &AppState,
    caller: &Caller,
    f: &WithdrawalFilter,
    page: &PageQuery,
) -> Result<CursorPage<Withdrawal>, CommissionError> {
    caller.require(SA_PL_AG)?;
    let (cursor, size) = page.parse()?;
    let q = query(f)?;
    let shop = listed_shop(&state.store, caller, f.shop_id).await?;
    Ok(state.store.withdrawal_page(shop, &q, size, cursor).await?)
}

/// `GET /api/admin/commission/withdrawal-requests`: every request (platform staff),
/// optionally of one shop.
pub async fn all_requests(
    state: &AppState,
    caller: &Caller,
    f: &WithdrawalFilter,
    page: &PageQuery,
) -> Result<CursorPage<Withdrawal>, CommissionError> {
    caller.require(SA_PL)?;
    shop_requests(state, caller, f, page).await
}

/// `GET /api/admin/commission/withdrawal-settings` (platform staff and agents).
pub async fn settings(
    state: &AppState,
    caller: &Caller,
) -> Result<WithdrawalSettings, CommissionError> {
    caller.require(SA_PL_AG)?;
    Ok(state.store.withdrawal_settings().await?)
}

/// `POST /api/admin/commission/withdrawal-settings` body.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SetSettings {
    pub enabled: bool,
    pub min_amount: i64,
    pub max_amount: i64,
    pub daily_max_amount: i64,
    pub fee_rate_bp: i64,
    pub allowed_payee_types: Vec<crate::domain::withdrawal::PayeeType>,
    pub unfreeze_days: i64,
    /// The version read (0 when never set): a concurrent change answers `1007`.
    pub version: i64,
}

/// Replaces the withdrawal settings (platform staff).
pub async fn set_settings(
    state: &AppState,
    caller: &Caller,
    ip: &str,
    req: SetSettings,
) -> Result<WithdrawalSettings, CommissionError> {
    caller.require(SA_PL)?;
    let before = state.store.withdrawal_settings().await?;
    let mut payees = req.allowed_payee_types.clone();
    payees.sort();
    payees.dedup();
    let s = WithdrawalSettings {
        enabled: req.enabled,
        min_amount: req.min_amount,
        max_amount: req.max_amount,
        daily_max_amount: req.daily_max_amount,
        fee_rate_bp: req.fee_rate_bp,
        allowed_payee_types: payees,
        unfreeze_days: req.unfreeze_days,
        updated_at: Some(rfc3339(state.clock.now())),
        updated_by: Some(caller.account_id),
        version: req.version.saturating_add(1),
    };
    s.check()?;
    match state.store.put_withdrawal_settings(&s, req.version).await {
        Ok(()) => {
            let who = audited(caller, ip, "update", 0);
            let who = Audited {
                target_type: "withdrawal_settings",
                ..who
            };
            audit(state, who, "修改提现设置".into(), Some(&before), Some(&s)).await;
            Ok(s)
        }
        Err(StoreError::ConditionFailed { .. }) => Err(CommissionError::VersionConflict),
        Err(e) => Err(e.into()),
    }
}
