//! Usage automation rules (beyond the seed; part of the `admin-polling` group):
//! platform staff and agents, each within their scope.

use axum::extract::State;
use axum::routing::get;
use axum::Router;

use super::envelope::{ApiResult, Data, Envelope, Nothing};
use super::extract::{Body, ClientIp, Id, Query};
use crate::app::AppState;
use crate::codes::Code as C;
use crate::domain::caller::Caller;
use crate::domain::usage_rules::UsageRuleInput;
use crate::paging::{CursorPage, PageQuery};
use crate::services::usage_rules::{self as rules, UsageRuleView};
use crate::store::usage_rules::Firing;

use super::admin_polling::TAG;

/// These operations in the OpenAPI document.
#[derive(utoipa::OpenApi)]
#[openapi(paths(list, create, get_one, update, delete, firings))]
pub struct Doc;

/// Routes of the usage-rule part of the `admin-polling` function.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/admin/usage-rules", get(list).post(create))
        .route(
            "/api/admin/usage-rules/{id}",
            get(get_one).put(update).delete(delete),
        )
        .route("/api/admin/usage-rules/{id}/firings", get(firings))
}

/// The rules the caller sees (platform staff: all; agents: their subtree's), by
/// scope then id; webhook secrets masked.
#[utoipa::path(get, path = "/api/admin/usage-rules", operation_id = "list_usage_rules", tag = TAG,
    params(PageQuery),
    responses((status = 200, body = Envelope<CursorPage<UsageRuleView>>)))]
async fn list(
    State(st): State<AppState>,
    caller: Caller,
    Query(page): Query<PageQuery>,
) -> ApiResult<CursorPage<UsageRuleView>> {
    Ok(Data(rules::list(&st, &caller, &page).await?))
}

/// Creates a rule for a shop's subtree (agents: their own shop by default), or for
/// every card (platform staff, no `shop_id`). A webhook without a secret gets a
/// generated one, answered in full by this response only.
#[utoipa::path(post, path = "/api/admin/usage-rules", operation_id = "create_usage_rule", tag = TAG,
    request_body = UsageRuleInput,
    responses((status = 200, body = Envelope<UsageRuleView>)),
    extensions(("x-codes" = json!([C::NOT_FOUND.0, C::USAGE_RULES_FULL.0]))))]
async fn create(
    State(st): State<AppState>,
    caller: Caller,
    ip: ClientIp,
    Body(req): Body<UsageRuleInput>,
) -> ApiResult<UsageRuleView> {
    Ok(Data(rules::create(&st, &caller, &ip.0, req).await?))
}

/// One rule.
#[utoipa::path(get, path = "/api/admin/usage-rules/{id}", operation_id = "get_usage_rule", tag = TAG,
    params(("id" = u64, Path, minimum = 1)),
    responses((status = 200, body = Envelope<UsageRuleView>)),
    extensions(("x-codes" = json!([C::USAGE_RULE_NOT_FOUND.0]))))]
async fn get_one(
    State(st): State<AppState>,
    caller: Caller,
    Id(id): Id,
) -> ApiResult<UsageRuleView> {
    Ok(Data(rules::get(&st, &caller, id).await?))
}

/// Replaces a rule's fields (its scope stays): omitted `notify` keeps the webhook,
/// `null` removes it, an omitted or empty secret keeps the stored one.
#[utoipa::path(put, path = "/api/admin/usage-rules/{id}", operation_id = "update_usage_rule", tag = TAG,
    params(("id" = u64, Path, minimum = 1)),
    request_body = UsageRuleInput,
    responses((status = 200, body = Envelope<UsageRuleView>)),
    extensions(("x-codes" = json!([C::USAGE_RULE_NOT_FOUND.0, C::VERSION_CONFLICT.0]))))]
async fn update(
    State(st): State<AppState>,
    caller: Caller,
    ip: ClientIp,
    Id(id): Id,
    Body(req): Body<UsageRuleInput>,
) -> ApiResult<UsageRuleView> {
    Ok(Data(rules::update(&st, &caller, &ip.0, id, req).await?))
}

/// Deletes a rule; its firings stay.
#[utoipa::path(delete, path = "/api/admin/usage-rules/{id}", operation_id = "delete_usage_rule", tag = TAG,
    params(("id" = u64, Path, minimum = 1)),
    responses((status = 200, body = Envelope<Nothing>)),
    extensions(("x-codes" = json!([C::USAGE_RULE_NOT_FOUND.0, C::VERSION_CONFLICT.0]))))]
async fn delete(
    State(st): State<AppState>,
    caller: Caller,
    ip: ClientIp,
    Id(id): Id,
) -> ApiResult<()> {
    rules::delete(&st, &caller, &ip.0, id).await?;
    Ok(Data(()))
}

/// A rule's firings (card, usage, action outcome, webhook delivery), newest first.
#[utoipa::path(get, path = "/api/admin/usage-rules/{id}/firings", operation_id = "list_usage_rule_firings", tag = TAG,
    params(("id" = u64, Path, minimum = 1), PageQuery),
    responses((status = 200, body = Envelope<CursorPage<Firing>>)),
    extensions(("x-codes" = json!([C::USAGE_RULE_NOT_FOUND.0]))))]
async fn firings(
    State(st): State<AppState>,
    caller: Caller,
    Id(id): Id,
    Query(page): Query<PageQuery>,
) -> ApiResult<CursorPage<Firing>> {
    Ok(Data(rules::firings(&st, &caller, id, &page).await?))
}
