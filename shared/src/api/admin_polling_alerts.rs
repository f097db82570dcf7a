//! Polling alert rules, their alerts and webhook deliveries (api.md §23, part of the
//! `admin-polling` group), platform staff only.

use axum::extract::State;
use axum::routing::{get, put};
use axum::Router;

use super::envelope::{ApiResult, Data, Envelope, Nothing};
use super::extract::{Body, ClientIp, Id, Query};
use crate::app::AppState;
use crate::codes::Code as C;
use crate::domain::caller::Caller;
use crate::domain::polling_alerts::{AlertHistory, RuleInput, RuleView};
use crate::paging::{CursorPage, PageQuery};
use crate::services::polling_alerts::{self as alerts, HistoryFilter};
use crate::store::polling_alerts::DeliveryAttempt;

/// The tag of this group's operations in the OpenAPI document.
use super::admin_polling::TAG;

/// These operations in the OpenAPI document.
#[derive(utoipa::OpenApi)]
#[openapi(paths(list, create, update, delete, history, deliveries))]
pub struct Doc;

/// Routes of the alert part of the `admin-polling` function.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/admin/polling-alert-rules", get(list).post(create))
        .route(
            "/api/admin/polling-alert-rules/{id}",
            put(update).delete(delete),
        )
        .route(
            "/api/admin/polling-alert-rules/{id}/deliveries",
            get(deliveries),
        )
        .route("/api/admin/polling-alert-history", get(history))
}

/// Every alert rule, oldest first; webhook secrets masked.
#[utoipa::path(get, path = "/api/admin/polling-alert-rules", operation_id = "list_polling_alert_rules", tag = TAG,
    responses((status = 200, body = Envelope<Vec<RuleView>>)))]
async fn list(State(st): State<AppState>, caller: Caller) -> ApiResult<Vec<RuleView>> {
    Ok(Data(alerts::list(&st, &caller).await?))
}

/// Creates a rule. A webhook without a secret gets a generated one, answered in full
/// by this response only.
#[utoipa::path(post, path = "/api/admin/polling-alert-rules", operation_id = "create_polling_alert_rule", tag = TAG,
    request_body = RuleInput,
    responses((status = 200, body = Envelope<RuleView>)))]
async fn create(
    State(st): State<AppState>,
    caller: Caller,
    ip: ClientIp,
    Body(req): Body<RuleInput>,
) -> ApiResult<RuleView> {
    Ok(Data(alerts::create(&st, &caller, &ip.0, req).await?))
}

/// Replaces a rule: omitted `notify` keeps the webhook, `null` removes it, an
/// omitted or empty secret keeps the stored one.
#[utoipa::path(put, path = "/api/admin/polling-alert-rules/{id}", operation_id = "update_polling_alert_rule", tag = TAG,
    params(("id" = u64, Path, minimum = 1)),
    request_body = RuleInput,
    responses((status = 200, body = Envelope<RuleView>)),
    extensions(("x-codes" = json!([C::POLLING_ALERT_RULE_NOT_FOUND.0, C::VERSION_CONFLICT.0]))))]
async fn update(
    State(st): State<AppState>,
    caller: Caller,
    ip: ClientIp,
    Id(id): Id,
    Body(req): Body<RuleInput>,
) -> ApiResult<RuleView> {
    Ok(Data(alerts::update(&st, &caller, &ip.0, id, req).await?))
}

/// Deletes a rule; its open alert is closed, its history kept.
#[utoipa::path(delete, path = "/api/admin/polling-alert-rules/{id}", operation_id = "delete_polling_alert_rule", tag = TAG,
    params(("id" = u64, Path, minimum = 1)),
    responses((status = 200, body = Envelope<Nothing>)),
    extensions(("x-codes" = json!([C::POLLING_ALERT_RULE_NOT_FOUND.0, C::VERSION_CONFLICT.0]))))]
async fn delete(
    State(st): State<AppState>,
    caller: Caller,
    ip: ClientIp,
    Id(id): Id,
) -> ApiResult<()> {
    alerts::delete(&st, &caller, &ip.0, id).await?;
    Ok(Data(()))
}

/// A rule's webhook delivery attempts, newest first.
#[utoipa::path(get, path = "/api/admin/polling-alert-rules/{id}/deliveries", operation_id = "list_polling_alert_deliveries", tag = TAG,
    params(("id" = u64, Path, minimum = 1), PageQuery),
    responses((status = 200, body = Envelope<CursorPage<DeliveryAttempt>>)),
    extensions(("x-codes" = json!([C::POLLING_ALERT_RULE_NOT_FOUND.0]))))]
async fn deliveries(
    State(st): State<AppState>,
    caller: Caller,
    Id(id): Id,
    Query(page): Query<PageQuery>,
) -> ApiResult<CursorPage<DeliveryAttempt>> {
    Ok(Data(alerts::deliveries(&st, &caller, id, &page).await?))
}

/// Alerts, newest first.
#[utoipa::path(get, path = "/api/admin/polling-alert-history", operation_id = "list_polling_alert_history", tag = TAG,
    params(PageQuery, HistoryFilter),
    responses((status = 200, body = Envelope<CursorPage<AlertHistory>>)))]
async fn history(
    State(st): State<AppState>,
    caller: Caller,
    Query(page): Query<PageQuery>,
    Query(filter): Query<HistoryFilter>,
) -> ApiResult<CursorPage<AlertHistory>> {
    Ok(Data(alerts::history(&st, &caller, filter, &page).await?))
}
