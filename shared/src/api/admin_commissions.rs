//! `admin-commissions` (api.md §22): commission summaries, records and withdrawal
//! requests of the caller's shops and of its own shop, withdrawal review and
//! settings (platform), monthly statements and failed calculations (beyond the
//! seed).

use axum::extract::State;
use axum::routing::{get, post};
use axum::Router;

use super::envelope::{ApiResult, Data, Envelope};
use super::extract::{Body, ClientIp, Id, Query};
use crate::app::AppState;
use crate::codes::Code as C;
use crate::domain::caller::Caller;
use crate::domain::commission::CommissionRecord;
use crate::domain::withdrawal::{Withdrawal, WithdrawalSettings};
use crate::paging::{CursorPage, PageQuery};
use crate::services::commissions::statements::{self, StatementAnswer, StatementQuery};
use crate::services::commissions::withdrawals::{
    self as wd, CreateWithdrawal, Review, SetSettings, WithdrawalFilter,
};
use crate::services::commissions::{
    self as comm, CommissionSummary, FailedCalculation, RecordFilter, RetriedCalculation,
};
use crate::services::shops::ShopFilter;

/// The tag of this group's operations in the OpenAPI document.
pub const TAG: &str = "admin-commissions";

/// This group's operations in the OpenAPI document.
#[derive(utoipa::OpenApi)]
#[openapi(paths(
    shop_summary,
    shop_records,
    shop_withdrawals,
    shop_statement,
    my_summary,
    my_records,
    my_withdrawals,
    create_withdrawal,
    my_statement,
    all_withdrawals,
    approve,
    reject,
    get_settings,
    set_settings,
    failed,
    retry
))]
pub struct Doc;

/// The `admin-commissions` routes.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/admin/shop-commission/summary", get(shop_summary))
        .route("/api/admin/shop-commission/records", get(shop_records))
        .route(
            "/api/admin/shop-commission/withdrawal-requests",
            get(shop_withdrawals),
        )
        .route("/api/admin/shop-commission/statement", get(shop_statement))
        .route("/api/admin/my-commission/summary", get(my_summary))
        .route("/api/admin/my-commission/records", get(my_records))
        .route(
            "/api/admin/my-commission/withdrawal-requests",
            get(my_withdrawals).post(create_withdrawal),
        )
        .route("/api/admin/my-commission/statement", get(my_statement))
        .route(
            "/api/admin/commission/withdrawal-requests",
            get(all_withdrawals),
        )
        .route(
            "/api/admin/commission/withdrawal-requests/{id}/approve",
            post(approve),
        )
        .route(
            "/api/admin/commission/withdrawal-requests/{id}/reject",
            post(reject),
        )
        .route(
            "/api/admin/commission/withdrawal-settings",
            get(get_settings).post(set_settings),
        )
        .route("/api/admin/commission/failed-calculations", get(failed))
        .route(
            "/api/admin/commission/failed-calculations/{id}/retry",
            post(retry),
        )
}

/// The shops below the caller's (platform: every shop) with their commission
/// accounts, a page at a time in tree order.
#[utoipa::path(get, path = "/api/admin/shop-commission/summary", operation_id = "shop_commission_summary", tag = TAG,
    params(PageQuery, ShopFilter),
    responses((status = 200, body = Envelope<CursorPage<CommissionSummary>>)))]
async fn shop_summary(
    State(st): State<AppState>,
    caller: Caller,
    Query(page): Query<PageQuery>,
    Query(f): Query<ShopFilter>,
) -> ApiResult<CursorPage<CommissionSummary>> {
    Ok(Data(
        comm::shop_summaries(&st.store, &caller, &f, &page).await?,
    ))
}

/// A shop's commission records, newest first (the platform may omit `shop_id`).
#[utoipa::path(get, path = "/api/admin/shop-commission/records", operation_id = "shop_commission_records", tag = TAG,
    params(PageQuery, RecordFilter),
    responses((status = 200, body = Envelope<CursorPage<CommissionRecord>>)),
    extensions(("x-codes" = json!([C::NOT_FOUND.0]))))]
async fn shop_records(
    State(st): State<AppState>,
    caller: Caller,
    Query(page): Query<PageQuery>,
    Query(f): Query<RecordFilter>,
) -> ApiResult<CursorPage<CommissionRecord>> {
    Ok(Data(
        comm::shop_records(&st.store, &caller, &f, &page).await?,
    ))
}

/// A shop's withdrawal requests, newest first (the platform may omit `shop_id`).
#[utoipa::path(get, path = "/api/admin/shop-commission/withdrawal-requests", operation_id = "shop_withdrawal_requests", tag = TAG,
    params(PageQuery, WithdrawalFilter),
    responses((status = 200, body = Envelope<CursorPage<Withdrawal>>)),
    extensions(("x-codes" = json!([C::NOT_FOUND.0]))))]
async fn shop_withdrawals(
    State(st): State<AppState>,
    caller: Caller,
    Query(page): Query<PageQuery>,
    Query(f): Query<WithdrawalFilter>,
) -> ApiResult<CursorPage<Withdrawal>> {
    Ok(Data(wd::shop_requests(&st, &caller, &f, &page).await?))
}

/// A shop's monthly commission statement (JSON; `format=csv` adds a download URL).
#[utoipa::path(get, path = "/api/admin/shop-commission/statement", operation_id = "shop_commission_statement", tag = TAG,
    params(StatementQuery),
    responses((status = 200, body = Envelope<StatementAnswer>)),
    extensions(("x-codes" = json!([C::NOT_FOUND.0]))))]
async fn shop_statement(
    State(st): State<AppState>,
    caller: Caller,
    Query(q): Query<StatementQuery>,
) -> ApiResult<StatementAnswer> {
    Ok(Data(statements::shop_statement(&st, &caller, &q).await?))
}

/// The calling agent's commission account.
#[utoipa::path(get, path = "/api/admin/my-commission/summary", operation_id = "my_commission_summary", tag = TAG,
    responses((status = 200, body = Envelope<CommissionSummary>)))]
async fn my_summary(State(st): State<AppState>, caller: Caller) -> ApiResult<CommissionSummary> {
    Ok(Data(comm::my_summary(&st.store, &caller).await?))
}

/// The calling agent's commission records, newest first.
#[utoipa::path(get, path = "/api/admin/my-commission/records", operation_id = "my_commission_records", tag = TAG,
    params(PageQuery, RecordFilter),
    responses((status = 200, body = Envelope<CursorPage<CommissionRecord>>)))]
async fn my_records(
    State(st): State<AppState>,
    caller: Caller,
    Query(page): Query<PageQuery>,
    Query(f): Query<RecordFilter>,
) -> ApiResult<CursorPage<CommissionRecord>> {
    Ok(Data(comm::my_records(&st.store, &caller, &f, &page).await?))
}

/// The calling agent's withdrawal requests, newest first.
#[utoipa::path(get, path = "/api/admin/my-commission/withdrawal-requests", operation_id = "my_withdrawal_requests", tag = TAG,
    params(PageQuery, WithdrawalFilter),
    responses((status = 200, body = Envelope<CursorPage<Withdrawal>>)))]
async fn my_withdrawals(
    State(st): State<AppState>,
    caller: Caller,
    Query(page): Query<PageQuery>,
    Query(f): Query<WithdrawalFilter>,
) -> ApiResult<CursorPage<Withdrawal>> {
    Ok(Data(wd::my_requests(&st, &caller, &f, &page).await?))
}

/// Requests a withdrawal of the calling agent's available commission: the amount
/// is frozen until the platform reviews it.
#[utoipa::path(post, path = "/api/admin/my-commission/withdrawal-requests", operation_id = "create_withdrawal_request", tag = TAG,
    request_body = CreateWithdrawal,
    responses((status = 200, body = Envelope<Withdrawal>)),
    extensions(("x-codes" = json!([
        C::INSUFFICIENT_BALANCE.0, C::WITHDRAWAL_AMOUNT_OUT_OF_RANGE.0,
        C::WITHDRAWAL_DAILY_LIMIT.0, C::WITHDRAWAL_DISABLED.0, C::PAYEE_TYPE_NOT_ALLOWED.0
    ]))))]
async fn create_withdrawal(
    State(st): State<AppState>,
    caller: Caller,
    ip: ClientIp,
    Body(req): Body<CreateWithdrawal>,
) -> ApiResult<Withdrawal> {
    Ok(Data(wd::request(&st, &caller, &ip.0, req).await?))
}

/// The calling agent's monthly commission statement.
#[utoipa::path(get, path = "/api/admin/my-commission/statement", operation_id = "my_commission_statement", tag = TAG,
    params(StatementQuery),
    responses((status = 200, body = Envelope<StatementAnswer>)))]
async fn my_statement(
    State(st): State<AppState>,
    caller: Caller,
    Query(q): Query<StatementQuery>,
) -> ApiResult<StatementAnswer> {
    Ok(Data(statements::my_statement(&st, &caller, &q).await?))
}

/// Every withdrawal request (platform), optionally of one shop, newest first.
#[utoipa::path(get, path = "/api/admin/commission/withdrawal-requests", operation_id = "list_withdrawal_requests", tag = TAG,
    params(PageQuery, WithdrawalFilter),
    responses((status = 200, body = Envelope<CursorPage<Withdrawal>>)))]
async fn all_withdrawals(
    State(st): State<AppState>,
    caller: Caller,
    Query(page): Query<PageQuery>,
    Query(f): Query<WithdrawalFilter>,
) -> ApiResult<CursorPage<Withdrawal>> {
    Ok(Data(wd::all_requests(&st, &caller, &f, &page).await?))
}

/// Approves a pending request: its amount leaves the shop's commission wallet
/// (once, whatever the number of approvals).
#[utoipa::path(post, path = "/api/admin/commission/withdrawal-requests/{id}/approve", operation_id = "approve_withdrawal_request", tag = TAG,
    params(("id" = u64, Path, minimum = 1)),
    request_body = Review,
    responses((status = 200, body = Envelope<Withdrawal>)),
    extensions(("x-codes" = json!([C::WITHDRAWAL_NOT_FOUND.0, C::WITHDRAWAL_NOT_PENDING.0]))))]
async fn approve(
    State(st): State<AppState>,
    caller: Caller,
    ip: ClientIp,
    Id(id): Id,
    Body(req): Body<Review>,
) -> ApiResult<Withdrawal> {
    Ok(Data(wd::review(&st, &caller, &ip.0, id, true, req).await?))
}

/// Rejects a pending request: its amount is available again.
#[utoipa::path(post, path = "/api/admin/commission/withdrawal-requests/{id}/reject", operation_id = "reject_withdrawal_request", tag = TAG,
    params(("id" = u64, Path, minimum = 1)),
    request_body = Review,
    responses((status = 200, body = Envelope<Withdrawal>)),
    extensions(("x-codes" = json!([C::WITHDRAWAL_NOT_FOUND.0, C::WITHDRAWAL_NOT_PENDING.0]))))]
async fn reject(
    State(st): State<AppState>,
    caller: Caller,
    ip: ClientIp,
    Id(id): Id,
    Body(req): Body<Review>,
) -> ApiResult<Withdrawal> {
    Ok(Data(wd::review(&st, &caller, &ip.0, id, false, req).await?))
}

/// The withdrawal settings (defaults until the platform sets them).
#[utoipa::path(get, path = "/api/admin/commission/withdrawal-settings", operation_id = "get_withdrawal_settings", tag = TAG,
    responses((status = 200, body = Envelope<WithdrawalSettings>)))]
async fn get_settings(State(st): State<AppState>, caller: Caller) -> ApiResult<WithdrawalSettings> {
    Ok(Data(wd::settings(&st, &caller).await?))
}

/// Replaces the withdrawal settings (platform), on the version read.
#[utoipa::path(post, path = "/api/admin/commission/withdrawal-settings", operation_id = "set_withdrawal_settings", tag = TAG,
    request_body = SetSettings,
    responses((status = 200, body = Envelope<WithdrawalSettings>)),
    extensions(("x-codes" = json!([C::VERSION_CONFLICT.0]))))]
async fn set_settings(
    State(st): State<AppState>,
    caller: Caller,
    ip: ClientIp,
    Body(req): Body<SetSettings>,
) -> ApiResult<WithdrawalSettings> {
    Ok(Data(wd::set_settings(&st, &caller, &ip.0, req).await?))
}

/// Orders whose commission calculation failed (missing configuration), newest
/// first (platform).
#[utoipa::path(get, path = "/api/admin/commission/failed-calculations", operation_id = "failed_commission_calculations", tag = TAG,
    params(PageQuery),
    responses((status = 200, body = Envelope<CursorPage<FailedCalculation>>)))]
async fn failed(
    State(st): State<AppState>,
    caller: Caller,
    Query(page): Query<PageQuery>,
) -> ApiResult<CursorPage<FailedCalculation>> {
    Ok(Data(
        comm::failed_calculations(&st.store, &caller, &page).await?,
    ))
}

/// Asks again for a failed calculation (after the configuration was fixed).
#[utoipa::path(post, path = "/api/admin/commission/failed-calculations/{id}/retry", operation_id = "retry_commission_calculation", tag = TAG,
    params(("id" = u64, Path, minimum = 1, description = "The order id")),
    responses((status = 200, body = Envelope<RetriedCalculation>)),
    extensions(("x-codes" = json!([C::ORDER_NOT_FOUND.0, C::COMMISSION_NOT_FAILED.0]))))]
async fn retry(
    State(st): State<AppState>,
    caller: Caller,
    Id(id): Id,
) -> ApiResult<RetriedCalculation> {
    Ok(Data(comm::retry_calculation(&st, &caller, id).await?))
}
