//! Monthly commission statements (beyond the seed): a shop's commission wallet at
//! the start and end of a month (its last ledger line before each moment: one
//! Query of one item each), the month's totals (one item, kept by the transactions
//! that moved the wallet) and the names of the series. It reconciles to the fen:
//! the opening balances plus the month's movements equal the closing ones. As JSON,
//! or as a CSV file answered by a presigned download URL.

use serde::{Deserialize, Serialize};

use super::{listed_shop, own_shop, CommissionError};
use crate::app::AppState;
use crate::domain::caller::Caller;
use crate::domain::catalog::PackageSeries;
use crate::domain::commission::statement::Statement;
use crate::domain::commission::{month_bounds, parse_month};
use crate::domain::validate::Invalid;
use crate::domain::wallet::WalletKind;
use crate::services::org::OrgError;
use crate::services::shops::visible_shop;
use crate::services::storage::{presigned_download, put_object, DownloadUrl};
use crate::store::keys;

/// Query of the statement routes.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct StatementQuery {
    /// The shop (`shop-commission/statement`; required for agents and the platform).
    pub shop_id: Option<u64>,
    /// `YYYY-MM` (Asia/Shanghai), not after the current month.
    #[param(pattern = r"^\d{4}-\d{2}$")]
    pub month: String,
    /// `json` (default) or `csv` (adds a download URL of the statement as CSV).
    #[param(inline)]
    pub format: Option<StatementFormat>,
}

/// How the statement is answered.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum StatementFormat {
    #[default]
    Json,
    Csv,
}

/// A statement, with the CSV download when asked for.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct StatementAnswer {
    pub statement: Statement,
    /// `format=csv`: a presigned URL of the statement as CSV.
    pub csv: Option<DownloadUrl>,
}

/// `GET /api/admin/my-commission/statement`.
pub async fn my_statement(
    state: &AppState,
    caller: &Caller,
    q: &StatementQuery,
) -> Result<StatementAnswer, CommissionError> {
    let shop = own_shop(caller)?;
    answer(state, caller, shop, q).await
}

/// `GET /api/admin/shop-commission/statement`: a shop of the caller's scope.
pub async fn shop_statement(
    state: &AppState,
    caller: &Caller,
    q: &StatementQuery,
) -> Result<StatementAnswer, CommissionError> {
    let Some(shop) = q.shop_id else {
        return Err(Invalid::new("请指定shop_id", "shop_id is required").into());
    };
    let shop = listed_shop(&state.store, caller, Some(shop))
        .await?
        .ok_or(OrgError::NotFound("shop"))?;
    answer(state, caller, shop, q).await
}

async fn answer(
    state: &AppState,
    caller: &Caller,
    shop_id: u64,
    q: &StatementQuery,
) -> Result<StatementAnswer, CommissionError> {
    let statement = statement(state, caller, shop_id, &q.month).await?;
    let csv = match q.format.unwrap_or_default() {
        StatementFormat::Json => None,
        StatementFormat::Csv => {
            let key = format!(
                "results/commission-statements/{shop_id}/{}-{}.csv",
                statement.month,
                state.clock.now()
            );
            put_object(state, &key, statement.csv().into_bytes(), "text/csv").await?;
            Some(presigned_download(state, &key).await?)
        }
    };
    Ok(StatementAnswer { statement, csv })
}

/// The statement of `shop_id` for `month` (`YYYY-MM`).
pub async fn statement(
    state: &AppState,
    caller: &Caller,
    shop_id: u64,
    month: &str,
) -> Result<Statement, CommissionError> {
    let store = &state.store;
    let bad = || {
        Invalid::new(
            "month须为YYYY-MM格式且不晚于本月",
            "month must be YYYY-MM, not after this month",
        )
    };
    let yyyymm = parse_month(month).ok_or_else(bad)?;
    let (start, end) = month_bounds(yyyymm).ok_or_else(bad)?;
    let now = state.clock.now();
    if start > now {
        return Err(bad().into());
    }
    let shop = visible_shop(store, caller, shop_id).await?;
    let opening = store
        .wallet_balances_before(shop_id, WalletKind::Commission, start)
        .await?;
    let closing = store
        .wallet_balances_before(shop_id, WalletKind::Commission, end)
        .await?;
    let totals = store.commission_month(shop_id, yyyymm).await?;
    let mut series_ids: Vec<u64> = totals.commissions.iter().map(|c| c.1).collect();
    series_ids.sort_unstable();
    series_ids.dedup();
    let wanted: Vec<_> = series_ids.iter().map(|id| keys::series(*id)).collect();
    let series: Vec<PackageSeries> = store.entities(&wanted).await?;
    Ok(Statement::new(
        (shop_id, shop.shop_name, month.to_string()),
        opening,
        closing,
        &totals,
        |id| {
            series
                .iter()
                .find(|s| s.id == id)
                .map(|s| s.series_name.clone())
        },
    ))
}
