//! `admin-agent-recharges`: recharges of agents' main wallets (api.md §21).
//! Enterprise accounts are refused (`1005`); records outside the caller's shop look
//! missing (`1121`).

use axum::extract::State;
use axum::routing::{get, post};
use axum::Router;

use super::envelope::{ApiResult, Data, Envelope};
use super::extract::{Body, ClientIp, Id, Query};
use crate::app::AppState;
use crate::codes::Code as C;
use crate::domain::caller::Caller;
use crate::paging::{CursorPage, PageQuery};
use crate::services::recharges::{
    self, CreateRecharge, CreatedRecharge, OfflinePay, RechargeFilter, RechargeView,
};

/// The tag of this group's operations in the OpenAPI document.
const TAG: &str = "admin-agent-recharges";

/// This group's operations in the OpenAPI document.
#[derive(utoipa::OpenApi)]
#[openapi(paths(list, create, show, offline_pay))]
pub struct Doc;

/// Routes of the `admin-agent-recharges` function.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/admin/agent-recharges", get(list).post(create))
        .route("/api/admin/agent-recharges/{id}", get(show))
        .route(
            "/api/admin/agent-recharges/{id}/offline-pay",
            post(offline_pay),
        )
}

/// Recharges the caller sees (an agent: its own shop's), newest first.
#[utoipa::path(get, path = "/api/admin/agent-recharges", operation_id = "list_agent_recharges", tag = TAG,
    params(PageQuery, RechargeFilter),
    responses((status = 200, body = Envelope<CursorPage<RechargeView>>)))]
async fn list(
    State(st): State<AppState>,
    caller: Caller,
    Query(page): Query<PageQuery>,
    Query(filter): Query<RechargeFilter>,
) -> ApiResult<CursorPage<RechargeView>> {
    Ok(Data(
        recharges::list(&st.store, &caller, &filter, &page).await?,
    ))
}

/// Creates a pending recharge of a shop's main wallet; an online one answers the QR
/// code to pay it with (valid 30 minutes).
#[utoipa::path(post, path = "/api/admin/agent-recharges", operation_id = "create_agent_recharge", tag = TAG,
    request_body = CreateRecharge,
    responses((status = 200, body = Envelope<CreatedRecharge>)),
    extensions(("x-codes" = json!([C::MAIN_WALLET_MISSING.0, C::NO_PAYMENT_CONFIG.0, C::PAYMENT_PROVIDER_FAILED.0]))))]
async fn create(
    State(st): State<AppState>,
    caller: Caller,
    Body(req): Body<CreateRecharge>,
) -> ApiResult<CreatedRecharge> {
    Ok(Data(recharges::create(&st, &caller, req).await?))
}

/// One recharge.
#[utoipa::path(get, path = "/api/admin/agent-recharges/{id}", operation_id = "show_agent_recharge", tag = TAG,
    params(("id" = u64, Path, minimum = 1)),
    responses((status = 200, body = Envelope<RechargeView>)),
    extensions(("x-codes" = json!([C::RECHARGE_NOT_FOUND.0]))))]
async fn show(State(st): State<AppState>, caller: Caller, Id(id): Id) -> ApiResult<RechargeView> {
    Ok(Data(recharges::get(&st.store, &caller, id).await?))
}

/// Confirms an offline recharge as paid: the operator's password again; the record
/// completes and the main wallet is credited once.
#[utoipa::path(post, path = "/api/admin/agent-recharges/{id}/offline-pay", operation_id = "offline_pay_agent_recharge", tag = TAG,
    params(("id" = u64, Path, minimum = 1)),
    request_body = OfflinePay,
    responses((status = 200, body = Envelope<RechargeView>)),
    extensions(("x-codes" = json!([C::RECHARGE_NOT_FOUND.0, C::WRONG_OPERATION_PASSWORD.0, C::TOO_MANY_REQUESTS.0, C::RECHARGE_NOT_PENDING.0, C::RECHARGE_NOT_OFFLINE.0, C::MAIN_WALLET_MISSING.0, C::LEDGER_EVENT_CONFLICT.0]))))]
async fn offline_pay(
    State(st): State<AppState>,
    caller: Caller,
    ip: ClientIp,
    Id(id): Id,
    Body(req): Body<OfflinePay>,
) -> ApiResult<RechargeView> {
    Ok(Data(
        recharges::offline_pay(&st, &caller, &ip.0, id, req).await?,
    ))
}
