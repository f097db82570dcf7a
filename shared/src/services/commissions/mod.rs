//! Commissions and withdrawals (api.md §22, domain.md §5.5, jobs.md J14): the
//! calculation ([`calculate`]), the unfreeze sweep ([`unfreeze`]), withdrawal
//! requests and their review ([`withdrawals`]), monthly statements
//! ([`statements`]), and here the summaries and record lists.
//!
//! Who sees what: platform staff every shop; an agent its own shop (`my-…`) and the
//! shops below it (`shop-…`); enterprise accounts nothing. A shop outside the
//! caller's subtree answers as not found.

pub mod calculate;
pub mod statements;
pub mod unfreeze;
pub mod withdrawals;

use serde::{Deserialize, Serialize};

use super::org::OrgError;
use super::shops::{visible_shop, ShopFilter};
use crate::codes::{BusinessError, Code, Text};
use crate::domain::caller::{Caller, NotAllowed, SA_PL, SA_PL_AG};
use crate::domain::commission::{CommissionKind, CommissionRecord, CommissionStatus};
use crate::domain::org::UserType;
use crate::domain::validate::{day_range, Invalid};
use crate::domain::withdrawal::WithdrawalRefused;
use crate::paging::{CursorPage, PageQuery};
use crate::store::commissions::{CommissionAccount, RecordQuery};
use crate::store::wallets::LedgerError;
use crate::store::{Store, StoreError};

/// Failures of commission use cases.
#[derive(Debug, thiserror::Error)]
pub enum CommissionError {
    #[error(transparent)]
    Invalid(#[from] Invalid),
    #[error("insufficient permission")]
    NotAllowed(#[from] NotAllowed),
    #[error(transparent)]
    Org(#[from] OrgError),
    #[error("withdrawal request not found")]
    WithdrawalNotFound,
    #[error("the withdrawal request was already reviewed")]
    NotPending,
    #[error(transparent)]
    Refused(#[from] WithdrawalRefused),
    #[error("the daily withdrawal maximum would be exceeded")]
    DailyLimit,
    #[error("order not found")]
    OrderNotFound,
    #[error("the order's commission calculation did not fail")]
    NotFailed,
    #[error("the settings were changed concurrently")]
    VersionConflict,
    #[error(transparent)]
    Ledger(#[from] LedgerError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Storage(#[from] super::storage::StorageError),
}

impl BusinessError for CommissionError {
    fn code(&self) -> Code {
        match self {
            CommissionError::Invalid(_) => Code::INVALID_PARAM,
            CommissionError::NotAllowed(_) => Code::FORBIDDEN,
            CommissionError::Org(e) => e.code(),
            CommissionError::WithdrawalNotFound => Code::WITHDRAWAL_NOT_FOUND,
            CommissionError::NotPending => Code::WITHDRAWAL_NOT_PENDING,
            CommissionError::Refused(WithdrawalRefused::Disabled) => Code::WITHDRAWAL_DISABLED,
            CommissionError::Refused(WithdrawalRefused::OutOfRange { .. }) => {
                Code::WITHDRAWAL_AMOUNT_OUT_OF_RANGE
            }
            CommissionError::Refused(WithdrawalRefused::PayeeNotAllowed) => {
                Code::PAYEE_TYPE_NOT_ALLOWED
            }
            CommissionError::DailyLimit => Code::WITHDRAWAL_DAILY_LIMIT,
            CommissionError::OrderNotFound => Code::ORDER_NOT_FOUND,
            CommissionError::NotFailed => Code::COMMISSION_NOT_FAILED,
            CommissionError::VersionConflict => Code::VERSION_CONFLICT,
            CommissionError::Ledger(e) => e.code(),
            CommissionError::Store(e) => e.code(),
            CommissionError::Storage(e) => e.code(),
        }
    }

    fn detail(&self) -> Option<Text> {
        match self {
            CommissionError::Invalid(i) => Some(i.text().clone()),
            CommissionError::Org(e) => e.detail(),
            CommissionError::Refused(WithdrawalRefused::OutOfRange { min, max }) => {
                Some(Text::new(
                    format!("提现金额须在{min}到{max}分之间"),
                    format!("the amount must be between {min} and {max} fen"),
                ))
            }
            _ => None,
        }
    }
}

/// The calling agent's shop (`my-…` routes); anyone else is not allowed.
pub fn own_shop(caller: &Caller) -> Result<u64, CommissionError> {
    match (caller.user_type, caller.shop_id) {
        (UserType::Agent, Some(shop)) => Ok(shop),
        (t, _) => Err(NotAllowed(t).into()),
    }
}

/// A shop's commission account as answered.
#[derive(Debug, Serialize, Deserialize, PartialEq, Eq, utoipa::ToSchema)]
pub struct CommissionSummary {
    pub shop_id: u64,
    pub shop_name: String,
    pub level: u8,
    /// Everything the commission wallet holds (fen), frozen money included.
    pub commission_wallet_balance: i64,
    /// Frozen: commissions not yet unfrozen plus pending withdrawals.
    pub frozen_balance: i64,
    /// What may be withdrawn now.
    pub available_balance: i64,
    /// Commissions not yet unfrozen.
    pub frozen_commission: i64,
    /// Requested and not yet reviewed.
    pub pending_withdrawal: i64,
    /// Every commission ever credited.
    pub total_commission: i64,
    /// Every approved withdrawal (fees included).
    pub withdrawn_total: i64,
}

fn summary_of(shop: &crate::domain::entities::Shop, a: CommissionAccount) -> CommissionSummary {
    CommissionSummary {
        shop_id: shop.id,
        shop_name: shop.shop_name.clone(),
        level: shop.level,
        commission_wallet_balance: a.balance,
        frozen_balance: a.frozen,
        available_balance: a.balance - a.frozen,
        frozen_commission: a.frozen_commission,
        pending_withdrawal: a.pending_withdrawal,
        total_commission: a.total_commission,
        withdrawn_total: a.withdrawn_total,
    }
}

/// `GET /api/admin/my-commission/summary`: the calling agent's account.
pub async fn my_summary(
    store: &Store,
    caller: &Caller,
) -> Result<CommissionSummary, CommissionError> {
    let shop_id = own_shop(caller)?;
    let shop = visible_shop(store, caller, shop_id).await?;
    let accounts = store.commission_accounts(&[shop_id]).await?;
    Ok(summary_of(
        &shop,
        accounts.get(&shop_id).copied().unwrap_or_default(),
    ))
}

/// `GET /api/admin/shop-commission/summary`: one page of the shops the caller sees
/// (the platform: all; an agent: the shops below its own) with their accounts: the
/// shop list's Query, then one batch read of the page's wallets.
pub async fn shop_summaries(
    store: &Store,
    caller: &Caller,
    f: &ShopFilter,
    page: &PageQuery,
) -> Result<CursorPage<CommissionSummary>, CommissionError> {
    caller.require(SA_PL_AG)?;
    let mut shops = super::shops::list_shops(store, caller, f, page).await?;
    let own = caller
        .shop_id
        .filter(|_| caller.user_type == UserType::Agent);
    let list: Vec<_> = std::mem::take(&mut shops.list)
        .into_iter()
        .filter(|s| Some(s.id) != own)
        .collect();
    let ids: Vec<u64> = list.iter().map(|s| s.id).collect();
    let accounts = store.commission_accounts(&ids).await?;
    let out = list
        .iter()
        .map(|s| summary_of(s, accounts.get(&s.id).copied().unwrap_or_default()))
        .collect();
    Ok(shops.with_list(out))
}

/// Filters of the record lists.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct RecordFilter {
    /// The shop (`shop-commission` routes; required for agents).
    pub shop_id: Option<u64>,
    pub commission_type: Option<CommissionKind>,
    pub status: Option<CommissionStatus>,
    /// First day (`YYYY-MM-DD`, Asia/Shanghai), included.
    #[param(pattern = r"^\d{4}-\d{2}-\d{2}$")]
    pub start_date: Option<String>,
    /// Last day (`YYYY-MM-DD`, Asia/Shanghai), included.
    #[param(pattern = r"^\d{4}-\d{2}-\d{2}$")]
    pub end_date: Option<String>,
}

fn record_query(f: &RecordFilter) -> Result<RecordQuery, Invalid> {
    let (from, to) = day_range(f.start_date.as_deref(), f.end_date.as_deref())?;
    Ok(RecordQuery {
        kind: f.commission_type,
        status: f.status,
        from,
        to,
    })
}

/// The shop a `shop-…` list reads: `shop_id` when given (within the caller's
/// subtree); for the platform `None` (every shop) otherwise; agents must name one.
pub async fn listed_shop(
    store: &Store,
    caller: &Caller,
    shop_id: Option<u64>,
) -> Result<Option<u64>, CommissionError> {
    caller.require(SA_PL_AG)?;
    match shop_id {
        Some(id) => Ok(Some(visible_shop(store, caller, id).await?.id)),
        None if caller.is_platform() => Ok(None),
        None => Err(Invalid::new(
            "请指定shop_id(下级店铺)",
            "shop_id is required: name a shop of your subtree",
        )
        .into()),
    }
}

/// `GET /api/admin/shop-commission/records`: one page of a shop's records (or, for
/// the platform without `shop_id`, every record), newest first.
pub async fn shop_records(
    store: &Store,
    caller: &Caller,
    f: &RecordFilter,
    page: &PageQuery,
) -> Result<CursorPage<CommissionRecord>, CommissionError> {
    let (cursor, size) = page.parse()?;
    let q = record_query(f)?;
    let shop = listed_shop(store, caller, f.shop_id).await?;
    Ok(store.commission_page(shop, &q, size, cursor).await?)
}

/// `GET /api/admin/my-commission/records`: one page of the calling agent's records.
pub async fn my_records(
    store: &Store,
    caller: &Caller,
    f: &RecordFilter,
    page: &PageQuery,
) -> Result<CursorPage<CommissionRecord>, CommissionError> {
    let shop = own_shop(caller)?;
    let (cursor, size) = page.parse()?;
    let q = record_query(f)?;
    Ok(store.commission_page(Some(shop), &q, size, cursor).await?)
}

/// An order whose commission calculation failed, as listed for the platform.
#[derive(Debug, Serialize, Deserialize, PartialEq, Eq, utoipa::ToSchema)]
pub struct FailedCalculation {
    pub order_id: u64,
    pub order_no: String,
    pub seller_shop_id: Option<u64>,
    pub source: String,
    pub total_amount: i64,
    /// Why it failed.
    pub commission_error: String,
    pub created_at: String,
}

/// `GET /api/admin/commission/failed-calculations`: one page of the orders whose
/// calculation failed, newest first (platform staff).
pub async fn failed_calculations(
    store: &Store,
    caller: &Caller,
    page: &PageQuery,
) -> Result<CursorPage<FailedCalculation>, CommissionError> {
    caller.require(SA_PL)?;
    let (cursor, size) = page.parse()?;
    let mut orders = store.failed_commission_page(size, cursor).await?;
    let list = std::mem::take(&mut orders.list)
        .into_iter()
        .map(|o| FailedCalculation {
            order_id: o.id,
            order_no: o.order_no,
            seller_shop_id: o.seller_shop_id,
            source: o.source,
            total_amount: o.total_amount,
            commission_error: o.commission_error.unwrap_or_default(),
            created_at: crate::clock::rfc3339(o.created_at),
        })
        .collect();
    Ok(orders.with_list(list))
}

/// The answer of a retried calculation.
#[derive(Debug, Serialize, Deserialize, PartialEq, Eq, utoipa::ToSchema)]
pub struct RetriedCalculation {
    pub order_id: u64,
    /// `due` again: the calculation was asked for.
    pub commission_status: String,
}

/// `POST /api/admin/commission/failed-calculations/{order_id}/retry` (platform
/// staff, after fixing the configuration): the order is `due` again and its
/// calculation asked for (`1146` unless it had failed).
pub async fn retry_calculation(
    state: &crate::app::AppState,
    caller: &Caller,
    order_id: u64,
) -> Result<RetriedCalculation, CommissionError> {
    use crate::store::orders::{settle_commission_ops, COMMISSION_DUE, COMMISSION_FAILED};
    caller.require(SA_PL)?;
    let order = state
        .store
        .order(order_id)
        .await?
        .ok_or(CommissionError::OrderNotFound)?;
    if order.commission_status.as_deref() != Some(COMMISSION_FAILED) {
        return Err(CommissionError::NotFailed);
    }
    let tx = settle_commission_ops(
        crate::store::tx::Tx::new(),
        &order,
        COMMISSION_FAILED,
        (COMMISSION_DUE, None),
    )?;
    match state.store.transact(tx).await {
        Ok(()) => {}
        Err(StoreError::ConditionFailed { .. }) => return Err(CommissionError::NotFailed),
        Err(e) => return Err(e.into()),
    }
    crate::jobs::commission::request_after_commit(state, order_id).await;
    Ok(RetriedCalculation {
        order_id,
        commission_status: COMMISSION_DUE.into(),
    })
}
