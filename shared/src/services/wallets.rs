//! Agent wallets seen by people (decisions.md B5): a shop's two wallets and one
//! wallet's ledger, scoped like the shop (platform: every shop; an agent: its shop
//! and the shops below it; enterprise accounts: none). And the ledger invariant
//! check used by the tests and the `check-ledger` script.

use serde::{Deserialize, Serialize};

use super::org::OrgError;
use super::shops::visible_shop;
use crate::codes::{BusinessError, Code, Text};
use crate::domain::caller::{Caller, NotAllowed, SA_PL_AG};
use crate::domain::entities::AgentWallet;
use crate::domain::org::Status;
use crate::domain::validate::{day_range, Invalid};
use crate::domain::wallet::{invariant_problems, wallet_of, LedgerLine, TxType};
use crate::paging::{CursorPage, PageQuery};
use crate::store::wallets::{LedgerError, LineQuery};
use crate::store::{Store, StoreError};

/// Failures of wallet use cases.
#[derive(Debug, thiserror::Error)]
pub enum WalletError {
    #[error(transparent)]
    Invalid(#[from] Invalid),
    /// No such wallet, or one outside the caller's shops.
    #[error("wallet not found")]
    NotFound,
    #[error("insufficient permission")]
    NotAllowed(#[from] NotAllowed),
    #[error(transparent)]
    Org(#[from] OrgError),
    #[error(transparent)]
    Ledger(#[from] LedgerError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl BusinessError for WalletError {
    fn code(&self) -> Code {
        match self {
            WalletError::Invalid(_) => Code::INVALID_PARAM,
            WalletError::NotFound => Code::NOT_FOUND,
            WalletError::NotAllowed(_) => Code::FORBIDDEN,
            WalletError::Org(e) => e.code(),
            WalletError::Ledger(e) => e.code(),
            WalletError::Store(e) => e.code(),
        }
    }

    fn detail(&self) -> Option<Text> {
        match self {
            WalletError::Invalid(i) => Some(i.text().clone()),
            WalletError::Org(e) => e.detail(),
            _ => None,
        }
    }
}

/// A wallet as answered.
#[derive(Debug, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
pub struct WalletView {
    /// The wallet's id (for its transactions).
    pub id: u64,
    pub shop_id: u64,
    /// `main` or `commission`.
    pub wallet_type: String,
    /// Everything the wallet holds (fen), frozen money included.
    pub balance: i64,
    /// The reserved part of `balance`.
    pub frozen_balance: i64,
    /// `balance − frozen_balance`: what may be spent.
    pub available_balance: i64,
    pub currency: String,
    pub status: Status,
    pub created_at: String,
    pub updated_at: String,
    pub version: i64,
}

impl From<AgentWallet> for WalletView {
    fn from(w: AgentWallet) -> Self {
        WalletView {
            id: w.id(),
            available_balance: w.balances().available(),
            shop_id: w.shop_id,
            wallet_type: w.wallet_type,
            balance: w.balance,
            frozen_balance: w.frozen_balance,
            currency: w.currency,
            status: w.status,
            created_at: w.created_at,
            updated_at: w.updated_at,
            version: w.version,
        }
    }
}

/// Filters of `GET /api/admin/wallets/{id}/transactions`.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct LineFilter {
    /// Only lines of this type.
    pub transaction_type: Option<TxType>,
    /// First day (`YYYY-MM-DD`, Asia/Shanghai), included.
    #[param(pattern = r"^\d{4}-\d{2}-\d{2}$")]
    pub start_date: Option<String>,
    /// Last day (`YYYY-MM-DD`, Asia/Shanghai), included.
    #[param(pattern = r"^\d{4}-\d{2}-\d{2}$")]
    pub end_date: Option<String>,
}

/// A shop's wallets, `main` first.
pub async fn shop_wallets(
    store: &Store,
    caller: &Caller,
    shop_id: u64,
) -> Result<Vec<WalletView>, WalletError> {
    caller.require(SA_PL_AG)?;
    visible_shop(store, caller, shop_id).await?;
    let wallets = store.shop_wallets(shop_id).await?;
    Ok(wallets.into_iter().map(WalletView::from).collect())
}

/// One page of a wallet's ledger, newest first (one read of the shop for the
/// scope, one Query; a type filter may need a second).
pub async fn transactions(
    store: &Store,
    caller: &Caller,
    wallet_id: u64,
    f: &LineFilter,
    page: &PageQuery,
) -> Result<CursorPage<LedgerLine>, WalletError> {
    caller.require(SA_PL_AG)?;
    let (cursor, size) = page.parse()?;
    let (from, to) = day_range(f.start_date.as_deref(), f.end_date.as_deref())?;
    let (shop_id, kind) = wallet_of(wallet_id).ok_or(WalletError::NotFound)?;
    visible_shop(store, caller, shop_id)
        .await
        .map_err(|e| match e {
            OrgError::NotFound(_) => WalletError::NotFound,
            other => other.into(),
        })?;
    let q = LineQuery {
        tx_type: f.transaction_type,
        from,
        to,
    };
    Ok(store.ledger_page(shop_id, kind, &q, size, cursor).await?)
}

/// A wallet that breaks the ledger invariant, and how.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Violation {
    pub shop_id: u64,
    pub wallet_type: String,
    /// Each break in words ([`invariant_problems`]).
    pub problems: Vec<String>,
}

/// Checks the ledger invariant of the wallets of `shop_ids` (every wallet of the
/// table when `None`, by Scan: an operations tool, never a request): for each, its
/// balances are sound, its lines chain from zero in version order, each line is its
/// movement's result, and the lines sum to the balances. Lines are read from the
/// scope index, which DynamoDB updates a moment after the write: a wallet changed
/// during the check may be reported, and checking it again tells.
pub async fn check_wallet_invariants(
    store: &Store,
    shop_ids: Option<&[u64]>,
) -> Result<Vec<Violation>, StoreError> {
    let wallets = match shop_ids {
        Some(ids) => {
            let mut all = Vec::new();
            for id in ids {
                all.extend(store.shop_wallets(*id).await?);
            }
            all
        }
        None => store.scan_wallets().await?,
    };
    let mut violations = Vec::new();
    for w in wallets {
        let problems = match w.kind() {
            Some(kind) => {
                let lines = store.wallet_lines(w.shop_id, kind).await?;
                invariant_problems(w.balances(), &lines)
            }
            None => vec![format!("unknown wallet type {}", w.wallet_type)],
        };
        if !problems.is_empty() {
            violations.push(Violation {
                shop_id: w.shop_id,
                wallet_type: w.wallet_type,
                problems,
            });
        }
    }
    Ok(violations)
}
