//! Agent wallets (decisions.md B5, routes the spec forgot): a shop's two wallets and
//! one wallet's ledger, scoped like the shop. Served by the `admin-shops` function.

use axum::extract::State;
use axum::routing::get;
use axum::Router;

use super::envelope::{ApiResult, Data, Envelope};
use super::extract::{Id, Query};
use crate::app::AppState;
use crate::domain::caller::Caller;
use crate::domain::wallet::LedgerLine;
use crate::paging::{CursorPage, PageQuery};
use crate::services::wallets::{self, LineFilter, WalletView};

/// The tag of this group's operations in the OpenAPI document.
const TAG: &str = "admin-wallets";

/// This group's operations in the OpenAPI document.
#[derive(utoipa::OpenApi)]
#[openapi(paths(shop_wallets, transactions))]
pub struct Doc;

/// The wallet routes (merged into the `admin-shops` function).
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/admin/shops/{id}/wallets", get(shop_wallets))
        .route("/api/admin/wallets/{id}/transactions", get(transactions))
}

/// A shop's wallets (`main`, then `commission`) with their balances.
#[utoipa::path(get, path = "/api/admin/shops/{id}/wallets", operation_id = "shop_wallets", tag = TAG,
    params(("id" = u64, Path, minimum = 1)),
    responses((status = 200, body = Envelope<Vec<WalletView>>)))]
async fn shop_wallets(
    State(st): State<AppState>,
    caller: Caller,
    Id(id): Id,
) -> ApiResult<Vec<WalletView>> {
    Ok(Data(wallets::shop_wallets(&st.store, &caller, id).await?))
}

/// One wallet's ledger, newest first, a page at a time.
#[utoipa::path(get, path = "/api/admin/wallets/{id}/transactions", operation_id = "wallet_transactions", tag = TAG,
    params(("id" = u64, Path, minimum = 1), PageQuery, LineFilter),
    responses((status = 200, body = Envelope<CursorPage<LedgerLine>>)))]
async fn transactions(
    State(st): State<AppState>,
    caller: Caller,
    Id(id): Id,
    Query(page): Query<PageQuery>,
    Query(filter): Query<LineFilter>,
) -> ApiResult<CursorPage<LedgerLine>> {
    Ok(Data(
        wallets::transactions(&st.store, &caller, id, &filter, &page).await?,
    ))
}
