//! `admin-wechat-configs`: payment configurations (api.md §20), platform staff only;
//! and the operation audit log they and offline confirmations write (J19).

use axum::extract::{Path, State};
use axum::routing::{get, post};
use axum::Router;

use super::envelope::{ApiResult, Data, Envelope, Nothing};
use super::extract::{Body, ClientIp, Id, Query};
use crate::app::AppState;
use crate::codes::Code as C;
use crate::domain::caller::Caller;
use crate::domain::entities::OperationAudit;
use crate::domain::payment_config::{ConfigInput, ConfigView};
use crate::paging::{CursorPage, PageQuery};
use crate::services::audit_log::{self, AuditFilter, CloseRefund, RefundFilter};
use crate::services::payment_configs::{self as configs, ConfigFilter};
use crate::store::refunds::ManualRefund;

/// The tag of this group's operations in the OpenAPI document.
const TAG: &str = "admin-wechat-configs";

/// This group's operations in the OpenAPI document.
#[derive(utoipa::OpenApi)]
#[openapi(paths(
    list,
    create,
    active,
    show,
    update,
    delete,
    activate,
    deactivate,
    audit_logs,
    refunds,
    close_refund
))]
pub struct Doc;

/// Routes of the `admin-wechat-configs` function.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/admin/wechat-configs", get(list).post(create))
        .route("/api/admin/wechat-configs/active", get(active))
        .route(
            "/api/admin/wechat-configs/{id}",
            get(show).put(update).delete(delete),
        )
        .route("/api/admin/wechat-configs/{id}/activate", post(activate))
        .route(
            "/api/admin/wechat-configs/{id}/deactivate",
            post(deactivate),
        )
        .route("/api/admin/audit-logs", get(audit_logs))
        .route("/api/admin/manual-refunds", get(refunds))
        .route(
            "/api/admin/manual-refunds/{out_trade_no}/close",
            post(close_refund),
        )
}

/// Live configurations, newest first; secrets masked.
#[utoipa::path(get, path = "/api/admin/wechat-configs", operation_id = "list_wechat_configs", tag = TAG,
    params(PageQuery, ConfigFilter),
    responses((status = 200, body = Envelope<CursorPage<ConfigView>>)))]
async fn list(
    State(st): State<AppState>,
    caller: Caller,
    Query(page): Query<PageQuery>,
    Query(filter): Query<ConfigFilter>,
) -> ApiResult<CursorPage<ConfigView>> {
    Ok(Data(configs::list(&st, &caller, filter, &page).await?))
}

/// Creates a configuration (inactive) with the fields its provider needs.
#[utoipa::path(post, path = "/api/admin/wechat-configs", operation_id = "create_wechat_config", tag = TAG,
    request_body = ConfigInput,
    responses((status = 200, body = Envelope<ConfigView>)))]
async fn create(
    State(st): State<AppState>,
    caller: Caller,
    ip: ClientIp,
    Body(req): Body<ConfigInput>,
) -> ApiResult<ConfigView> {
    Ok(Data(configs::create(&st, &caller, &ip.0, req).await?))
}

/// The active configuration, or `null`.
#[utoipa::path(get, path = "/api/admin/wechat-configs/active", operation_id = "active_wechat_config", tag = TAG,
    responses((status = 200, body = Envelope<Option<ConfigView>>)))]
async fn active(State(st): State<AppState>, caller: Caller) -> ApiResult<Option<ConfigView>> {
    Ok(Data(configs::get_active(&st, &caller).await?))
}

/// One configuration.
#[utoipa::path(get, path = "/api/admin/wechat-configs/{id}", operation_id = "show_wechat_config", tag = TAG,
    params(("id" = u64, Path, minimum = 1)),
    responses((status = 200, body = Envelope<ConfigView>)),
    extensions(("x-codes" = json!([C::PAYMENT_CONFIG_NOT_FOUND.0]))))]
async fn show(State(st): State<AppState>, caller: Caller, Id(id): Id) -> ApiResult<ConfigView> {
    Ok(Data(configs::get(&st, &caller, id).await?))
}

/// Changes a configuration: omitted fields and empty secrets keep their values.
#[utoipa::path(put, path = "/api/admin/wechat-configs/{id}", operation_id = "update_wechat_config", tag = TAG,
    params(("id" = u64, Path, minimum = 1)),
    request_body = ConfigInput,
    responses((status = 200, body = Envelope<ConfigView>)),
    extensions(("x-codes" = json!([C::PAYMENT_CONFIG_NOT_FOUND.0, C::VERSION_CONFLICT.0]))))]
async fn update(
    State(st): State<AppState>,
    caller: Caller,
    ip: ClientIp,
    Id(id): Id,
    Body(req): Body<ConfigInput>,
) -> ApiResult<ConfigView> {
    Ok(Data(configs::update(&st, &caller, &ip.0, id, req).await?))
}

/// Soft-deletes a configuration that is neither active nor used by a pending payment.
#[utoipa::path(delete, path = "/api/admin/wechat-configs/{id}", operation_id = "delete_wechat_config", tag = TAG,
    params(("id" = u64, Path, minimum = 1)),
    responses((status = 200, body = Envelope<Nothing>)),
    extensions(("x-codes" = json!([C::PAYMENT_CONFIG_NOT_FOUND.0, C::PAYMENT_CONFIG_ACTIVE.0, C::PAYMENT_CONFIG_IN_USE.0]))))]
async fn delete(
    State(st): State<AppState>,
    caller: Caller,
    ip: ClientIp,
    Id(id): Id,
) -> ApiResult<()> {
    configs::delete(&st, &caller, &ip.0, id).await?;
    Ok(Data(()))
}

/// Makes the configuration the single active one.
#[utoipa::path(post, path = "/api/admin/wechat-configs/{id}/activate", operation_id = "activate_wechat_config", tag = TAG,
    params(("id" = u64, Path, minimum = 1)),
    responses((status = 200, body = Envelope<ConfigView>)),
    extensions(("x-codes" = json!([C::PAYMENT_CONFIG_NOT_FOUND.0, C::VERSION_CONFLICT.0]))))]
async fn activate(
    State(st): State<AppState>,
    caller: Caller,
    ip: ClientIp,
    Id(id): Id,
) -> ApiResult<ConfigView> {
    Ok(Data(configs::activate(&st, &caller, &ip.0, id).await?))
}

/// Switches the configuration off (then none is active).
#[utoipa::path(post, path = "/api/admin/wechat-configs/{id}/deactivate", operation_id = "deactivate_wechat_config", tag = TAG,
    params(("id" = u64, Path, minimum = 1)),
    responses((status = 200, body = Envelope<ConfigView>)),
    extensions(("x-codes" = json!([C::PAYMENT_CONFIG_NOT_FOUND.0]))))]
async fn deactivate(
    State(st): State<AppState>,
    caller: Caller,
    ip: ClientIp,
    Id(id): Id,
) -> ApiResult<ConfigView> {
    Ok(Data(configs::deactivate(&st, &caller, &ip.0, id).await?))
}

/// Operation audit entries, newest first: platform staff all, agents those about
/// their subtree's shops.
#[utoipa::path(get, path = "/api/admin/audit-logs", operation_id = "list_audit_logs", tag = TAG,
    params(PageQuery, AuditFilter),
    responses((status = 200, body = Envelope<CursorPage<OperationAudit>>)))]
async fn audit_logs(
    State(st): State<AppState>,
    caller: Caller,
    Query(page): Query<PageQuery>,
    Query(filter): Query<AuditFilter>,
) -> ApiResult<CursorPage<OperationAudit>> {
    Ok(Data(
        audit_log::list(&st.store, &caller, filter, &page).await?,
    ))
}

/// Late payments (the record had expired or was cancelled) to refund by hand.
#[utoipa::path(get, path = "/api/admin/manual-refunds", operation_id = "list_manual_refunds", tag = TAG,
    params(PageQuery, RefundFilter),
    responses((status = 200, body = Envelope<CursorPage<ManualRefund>>)))]
async fn refunds(
    State(st): State<AppState>,
    caller: Caller,
    Query(page): Query<PageQuery>,
    Query(filter): Query<RefundFilter>,
) -> ApiResult<CursorPage<ManualRefund>> {
    Ok(Data(
        audit_log::refunds(&st.store, &caller, filter, &page).await?,
    ))
}

/// Closes a manual refund once the money was returned.
#[utoipa::path(post, path = "/api/admin/manual-refunds/{out_trade_no}/close", operation_id = "close_manual_refund", tag = TAG,
    params(("out_trade_no" = String, Path, max_length = 64)),
    request_body = CloseRefund,
    responses((status = 200, body = Envelope<ManualRefund>)),
    extensions(("x-codes" = json!([C::NOT_FOUND.0]))))]
async fn close_refund(
    State(st): State<AppState>,
    caller: Caller,
    Path(no): Path<String>,
    Body(req): Body<CloseRefund>,
) -> ApiResult<ManualRefund> {
    Ok(Data(
        audit_log::close_refund(&st.store, &caller, st.clock.now(), &no, req).await?,
    ))
}
