//! Who may call each route: one table of every route and the permission code it
//! needs (decisions.md B2), and the layer that enforces it. The layer runs after
//! routing, authenticates the bearer token (one batch read that also yields the
//! caller's codes), refuses a missing code with `1005`/403, and hands the caller to
//! the handler. A route missing from the table is refused for everyone, so a new
//! route cannot go live unguarded. (It is long because the table lists every route,
//! one line or tuple each.)

use axum::extract::{MatchedPath, RawPathParams, Request, State};
use axum::http::Method;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::RequestExt;

use super::envelope::ApiError;
use super::extract::bearer;
use crate::app::AppState;
use crate::codes::{Code, Text};
use crate::services::resolve;
use crate::store::Key;

/// The resolve route (its identifier lookups are read ahead).
pub const RESOLVE: &str = "/api/admin/assets/resolve/{identifier}";

/// The message of a route missing from [`ROUTES`] (refused for everyone).
pub const UNLISTED_ZH: &str = "权限不足:路由未登记";

/// What a route requires.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    /// Nothing (login, token refresh, health).
    Public,
    /// A valid session, whatever the roles (who-am-I, own password).
    Session,
    /// A valid session holding this permission code.
    Code(&'static str),
}

use Access::{Code as C, Public, Session};

/// Every route: method, path template (as routed) and what it requires.
pub const ROUTES: &[(&str, &str, Access)] = &[
    ("GET", "/health", Public),
    ("GET", "/api/openapi.json", Public),
    ("GET", "/api/docs", Public),
    ("POST", "/api/admin/login", Public),
    ("POST", "/api/admin/refresh-token", Public),
    ("POST", "/api/admin/logout", Session),
    ("GET", "/api/admin/me", Session),
    ("PUT", "/api/admin/me/password", Session),
    ("GET", "/api/admin/accounts", C("account:view")),
    ("POST", "/api/admin/accounts", C("account:create")),
    ("GET", "/api/admin/accounts/{id}", C("account:view")),
    ("PUT", "/api/admin/accounts/{id}", C("account:update")),
    ("DELETE", "/api/admin/accounts/{id}", C("account:delete")),
    (
        "PUT",
        "/api/admin/accounts/{id}/status",
        C("account:update"),
    ),
    (
        "PUT",
        "/api/admin/accounts/{id}/password",
        C("account:password"),
    ),
    ("GET", "/api/admin/accounts/{id}/roles", C("account:view")),
    ("PUT", "/api/admin/accounts/{id}/roles", C("account:roles")),
    (
        "GET",
        "/api/admin/accounts/{id}/operation-logs",
        C("account:logs"),
    ),
    ("GET", "/api/admin/roles", C("role:view")),
    ("POST", "/api/admin/roles", C("role:create")),
    ("GET", "/api/admin/roles/{id}", C("role:view")),
    ("PUT", "/api/admin/roles/{id}", C("role:update")),
    ("DELETE", "/api/admin/roles/{id}", C("role:delete")),
    ("PUT", "/api/admin/roles/{id}/status", C("role:update")),
    ("GET", "/api/admin/roles/{id}/permissions", C("role:view")),
    (
        "PUT",
        "/api/admin/roles/{id}/permissions",
        C("role:permissions"),
    ),
    ("GET", "/api/admin/permissions", C("permission:view")),
    ("POST", "/api/admin/permissions", C("permission:manage")),
    ("PUT", "/api/admin/permissions/{id}", C("permission:manage")),
    (
        "DELETE",
        "/api/admin/permissions/{id}",
        C("permission:manage"),
    ),
    ("GET", "/api/admin/shops", C("shop:view")),
    ("POST", "/api/admin/shops", C("shop:create")),
    ("GET", "/api/admin/shops/{id}", C("shop:view")),
    ("PUT", "/api/admin/shops/{id}", C("shop:update")),
    ("DELETE", "/api/admin/shops/{id}", C("shop:delete")),
    ("PUT", "/api/admin/shops/{id}/status", C("shop:update")),
    ("GET", "/api/admin/shops/{id}/roles", C("shop:view")),
    ("PUT", "/api/admin/shops/{id}/roles", C("shop:roles")),
    (
        "GET",
        "/api/admin/shops/{id}/subordinate-ids",
        C("shop:view"),
    ),
    ("GET", "/api/admin/enterprises", C("enterprise:view")),
    ("POST", "/api/admin/enterprises", C("enterprise:create")),
    ("GET", "/api/admin/enterprises/{id}", C("enterprise:view")),
    ("PUT", "/api/admin/enterprises/{id}", C("enterprise:update")),
    (
        "DELETE",
        "/api/admin/enterprises/{id}",
        C("enterprise:delete"),
    ),
    (
        "PUT",
        "/api/admin/enterprises/{id}/status",
        C("enterprise:update"),
    ),
    ("GET", "/api/admin/enterprises/{id}/cards", C("card:view")),
    (
        "POST",
        "/api/admin/enterprises/{id}/cards/authorize",
        C("enterprise:authorize"),
    ),
    (
        "POST",
        "/api/admin/enterprises/{id}/cards/revoke",
        C("enterprise:authorize"),
    ),
    (
        "GET",
        "/api/admin/enterprises/{id}/devices",
        C("device:view"),
    ),
    (
        "POST",
        "/api/admin/enterprises/{id}/devices/authorize",
        C("enterprise:authorize"),
    ),
    (
        "POST",
        "/api/admin/enterprises/{id}/devices/revoke",
        C("enterprise:authorize"),
    ),
    ("GET", "/api/admin/authorizations", C("authorization:view")),
    ("GET", "/api/admin/iot-cards", C("card:view")),
    ("GET", "/api/admin/iot-cards/standalone", C("card:view")),
    ("PUT", "/api/admin/iot-cards/{id}", C("card:update")),
    (
        "PATCH",
        "/api/admin/iot-cards/{id}/deactivate",
        C("card:deactivate"),
    ),
    ("POST", "/api/admin/iot-cards/allocate", C("card:allocate")),
    ("POST", "/api/admin/iot-cards/recall", C("card:allocate")),
    ("POST", "/api/admin/iot-cards/import", C("card:import")),
    ("GET", "/api/admin/iot-cards/import/tasks", C("card:import")),
    (
        "GET",
        "/api/admin/iot-cards/import/tasks/{id}",
        C("card:import"),
    ),
    ("GET", "/api/admin/devices", C("device:view")),
    ("PUT", "/api/admin/devices/{id}", C("device:update")),
    ("DELETE", "/api/admin/devices/{id}", C("device:delete")),
    (
        "PATCH",
        "/api/admin/devices/{id}/deactivate",
        C("device:deactivate"),
    ),
    ("GET", "/api/admin/devices/{id}/cards", C("device:view")),
    ("POST", "/api/admin/devices/{id}/cards", C("device:bind")),
    (
        "DELETE",
        "/api/admin/devices/{id}/cards/{card_id}",
        C("device:bind"),
    ),
    ("POST", "/api/admin/devices/allocate", C("device:allocate")),
    ("POST", "/api/admin/devices/recall", C("device:allocate")),
    ("POST", "/api/admin/devices/import", C("device:import")),
    ("GET", "/api/admin/devices/import/tasks", C("device:import")),
    (
        "GET",
        "/api/admin/devices/import/tasks/{id}",
        C("device:import"),
    ),
    (
        "POST",
        "/api/admin/devices/{id}/speed-limit",
        C("device:command"),
    ),
    ("POST", "/api/admin/devices/{id}/wifi", C("device:command")),
    (
        "POST",
        "/api/admin/devices/{id}/switch-card",
        C("device:command"),
    ),
    (
        "POST",
        "/api/admin/devices/{id}/reboot",
        C("device:command"),
    ),
    (
        "POST",
        "/api/admin/devices/{id}/factory-reset",
        C("device:command"),
    ),
    (
        "GET",
        "/api/admin/asset-allocation-records",
        C("allocation:view"),
    ),
    (
        "GET",
        "/api/admin/asset-allocation-records/{id}",
        C("allocation:view"),
    ),
    ("GET", RESOLVE, C("asset:view")),
    ("GET", "/api/admin/bulk-tasks/{id}", C("bulk_task:view")),
    (
        "GET",
        "/api/admin/bulk-tasks/{id}/results",
        C("bulk_task:view"),
    ),
    (
        "GET",
        "/api/admin/assets/{asset_type}/{id}/{action}",
        C("asset:view"),
    ),
    (
        "POST",
        "/api/admin/assets/{asset_type}/{id}/{action}",
        C("asset:operate"),
    ),
    (
        "GET",
        "/api/admin/package-usage/{id}/daily-records",
        C("asset:view"),
    ),
    ("POST", "/api/admin/storage/upload-url", C("storage:upload")),
    (
        "GET",
        "/api/admin/storage/download-url",
        C("storage:download"),
    ),
    ("GET", "/api/admin/carriers", C("carrier:view")),
    ("POST", "/api/admin/carriers", C("carrier:create")),
    ("GET", "/api/admin/carriers/{id}", C("carrier:view")),
    ("PUT", "/api/admin/carriers/{id}", C("carrier:update")),
    ("DELETE", "/api/admin/carriers/{id}", C("carrier:delete")),
    (
        "PUT",
        "/api/admin/carriers/{id}/status",
        C("carrier:update"),
    ),
    ("GET", "/api/admin/package-series", C("series:view")),
    ("POST", "/api/admin/package-series", C("series:create")),
    ("GET", "/api/admin/package-series/{id}", C("series:view")),
    ("PUT", "/api/admin/package-series/{id}", C("series:update")),
    (
        "DELETE",
        "/api/admin/package-series/{id}",
        C("series:delete"),
    ),
    (
        "PUT",
        "/api/admin/package-series/{id}/status",
        C("series:update"),
    ),
    ("GET", "/api/admin/packages", C("package:view")),
    ("POST", "/api/admin/packages", C("package:create")),
    ("GET", "/api/admin/packages/{id}", C("package:view")),
    ("PUT", "/api/admin/packages/{id}", C("package:update")),
    ("DELETE", "/api/admin/packages/{id}", C("package:delete")),
    (
        "PUT",
        "/api/admin/packages/{id}/status",
        C("package:update"),
    ),
    (
        "PATCH",
        "/api/admin/packages/{id}/retail-price",
        C("package:price"),
    ),
    (
        "PATCH",
        "/api/admin/packages/{id}/shelf-status",
        C("package:shelf"),
    ),
    (
        "POST",
        "/api/admin/shop-package-batch-allocations",
        C("package:allocate"),
    ),
    (
        "POST",
        "/api/admin/shop-package-batch-pricing",
        C("package:price"),
    ),
    ("GET", "/api/admin/shop-series-grants", C("grant:view")),
    ("POST", "/api/admin/shop-series-grants", C("grant:create")),
    ("GET", "/api/admin/shop-series-grants/{id}", C("grant:view")),
    (
        "PUT",
        "/api/admin/shop-series-grants/{id}",
        C("grant:update"),
    ),
    (
        "DELETE",
        "/api/admin/shop-series-grants/{id}",
        C("grant:delete"),
    ),
    (
        "PUT",
        "/api/admin/shop-series-grants/{id}/packages",
        C("grant:update"),
    ),
    ("GET", "/api/admin/shops/{id}/wallets", C("wallet:view")),
    (
        "GET",
        "/api/admin/wallets/{id}/transactions",
        C("wallet:view"),
    ),
    ("GET", "/api/admin/agent-recharges", C("recharge:view")),
    ("POST", "/api/admin/agent-recharges", C("recharge:create")),
    ("GET", "/api/admin/agent-recharges/{id}", C("recharge:view")),
    (
        "POST",
        "/api/admin/agent-recharges/{id}/offline-pay",
        C("recharge:offline_pay"),
    ),
    ("GET", "/api/admin/wechat-configs", C("payment_config:view")),
    (
        "POST",
        "/api/admin/wechat-configs",
        C("payment_config:manage"),
    ),
    (
        "GET",
        "/api/admin/wechat-configs/active",
        C("payment_config:view"),
    ),
    (
        "GET",
        "/api/admin/wechat-configs/{id}",
        C("payment_config:view"),
    ),
    (
        "PUT",
        "/api/admin/wechat-configs/{id}",
        C("payment_config:manage"),
    ),
    (
        "DELETE",
        "/api/admin/wechat-configs/{id}",
        C("payment_config:manage"),
    ),
    (
        "POST",
        "/api/admin/wechat-configs/{id}/activate",
        C("payment_config:manage"),
    ),
    (
        "POST",
        "/api/admin/wechat-configs/{id}/deactivate",
        C("payment_config:manage"),
    ),
    ("GET", "/api/admin/audit-logs", C("audit:view")),
    // ---- admin-polling: concurrency, monitoring, manual triggers
    ("GET", "/api/admin/polling-concurrency", C("polling:view")),
    (
        "PUT",
        "/api/admin/polling-concurrency/{task_type}",
        C("polling:manage"),
    ),
    (
        "GET",
        "/api/admin/polling-monitoring/overview",
        C("polling:view"),
    ),
    (
        "GET",
        "/api/admin/polling-monitoring/queues/{task_type}",
        C("polling:view"),
    ),
    (
        "POST",
        "/api/admin/polling-manual-trigger",
        C("polling:manage"),
    ),
    (
        "GET",
        "/api/admin/polling-manual-trigger/logs",
        C("polling:view"),
    ),
    ("GET", "/api/admin/manual-refunds", C("payment_config:view")),
    (
        "POST",
        "/api/admin/manual-refunds/{out_trade_no}/close",
        C("payment_config:manage"),
    ),
    ("POST", "/api/callback/wechat-pay", Public),
    ("POST", "/api/callback/fuiou-pay", Public),
    ("GET", "/api/admin/orders", C("order:view")),
    ("POST", "/api/admin/orders", C("order:create")),
    ("GET", "/api/admin/orders/{id}", C("order:view")),
    ("POST", "/api/admin/orders/{id}/cancel", C("order:cancel")),
    (
        "POST",
        "/api/admin/orders/purchase-check",
        C("order:create"),
    ),
    // ---- admin-polling
    ("GET", "/api/admin/polling-configs", C("polling:view")),
    ("POST", "/api/admin/polling-configs", C("polling:manage")),
    ("GET", "/api/admin/polling-configs/{id}", C("polling:view")),
    (
        "PUT",
        "/api/admin/polling-configs/{id}",
        C("polling:manage"),
    ),
    (
        "DELETE",
        "/api/admin/polling-configs/{id}",
        C("polling:manage"),
    ),
    (
        "PUT",
        "/api/admin/polling-configs/{id}/status",
        C("polling:manage"),
    ),
    ("GET", "/api/admin/data-cleanup-configs", C("polling:view")),
    (
        "POST",
        "/api/admin/data-cleanup-configs",
        C("polling:manage"),
    ),
    (
        "PUT",
        "/api/admin/data-cleanup-configs/{id}",
        C("polling:manage"),
    ),
    (
        "DELETE",
        "/api/admin/data-cleanup-configs/{id}",
        C("polling:manage"),
    ),
    ("GET", "/api/admin/data-cleanup-logs", C("polling:view")),
    ("POST", "/api/admin/data-cleanup/run", C("polling:manage")),
    // Package lifecycle (admin-polling group).
    (
        "POST",
        "/api/admin/internal/trigger-data-reset",
        C("polling:manage"),
    ),
    // Polling backfill (admin-polling group).
    (
        "POST",
        "/api/admin/internal/polling-backfill",
        C("polling:manage"),
    ),
    // Polling alerts.
    ("GET", "/api/admin/polling-alert-rules", C("polling:view")),
    (
        "POST",
        "/api/admin/polling-alert-rules",
        C("polling:manage"),
    ),
    (
        "PUT",
        "/api/admin/polling-alert-rules/{id}",
        C("polling:manage"),
    ),
    (
        "DELETE",
        "/api/admin/polling-alert-rules/{id}",
        C("polling:manage"),
    ),
    (
        "GET",
        "/api/admin/polling-alert-rules/{id}/deliveries",
        C("polling:view"),
    ),
    ("GET", "/api/admin/polling-alert-history", C("polling:view")),
    // Usage automation rules.
    ("GET", "/api/admin/usage-rules", C("usage_rule:view")),
    ("POST", "/api/admin/usage-rules", C("usage_rule:manage")),
    ("GET", "/api/admin/usage-rules/{id}", C("usage_rule:view")),
    ("PUT", "/api/admin/usage-rules/{id}", C("usage_rule:manage")),
    (
        "DELETE",
        "/api/admin/usage-rules/{id}",
        C("usage_rule:manage"),
    ),
    (
        "GET",
        "/api/admin/usage-rules/{id}/firings",
        C("usage_rule:view"),
    ),
    // Commissions and withdrawals (api.md §22).
    (
        "GET",
        "/api/admin/shop-commission/summary",
        C("commission:view"),
    ),
    (
        "GET",
        "/api/admin/shop-commission/records",
        C("commission:view"),
    ),
    (
        "GET",
        "/api/admin/shop-commission/withdrawal-requests",
        C("commission:view"),
    ),
    (
        "GET",
        "/api/admin/shop-commission/statement",
        C("commission:view"),
    ),
    (
        "GET",
        "/api/admin/my-commission/summary",
        C("commission:view"),
    ),
    (
        "GET",
        "/api/admin/my-commission/records",
        C("commission:view"),
    ),
    (
        "GET",
        "/api/admin/my-commission/withdrawal-requests",
        C("commission:view"),
    ),
    (
        "POST",
        "/api/admin/my-commission/withdrawal-requests",
        C("commission:withdraw"),
    ),
    (
        "GET",
        "/api/admin/my-commission/statement",
        C("commission:view"),
    ),
    (
        "GET",
        "/api/admin/commission/withdrawal-requests",
        C("commission:review"),
    ),
    (
        "POST",
        "/api/admin/commission/withdrawal-requests/{id}/approve",
        C("commission:review"),
    ),
    (
        "POST",
        "/api/admin/commission/withdrawal-requests/{id}/reject",
        C("commission:review"),
    ),
    (
        "GET",
        "/api/admin/commission/withdrawal-settings",
        C("commission:view"),
    ),
    (
        "POST",
        "/api/admin/commission/withdrawal-settings",
        C("commission:settings"),
    ),
    (
        "GET",
        "/api/admin/commission/failed-calculations",
        C("commission:review"),
    ),
    (
        "POST",
        "/api/admin/commission/failed-calculations/{id}/retry",
        C("commission:review"),
    ),
];

/// What `method` on the route template `path` requires (`HEAD` as `GET`); `None`
/// for a route missing from the table.
pub fn required(method: &Method, path: &str) -> Option<Access> {
    let method = if method == Method::HEAD {
        "GET"
    } else {
        method.as_str()
    };
    ROUTES
        .iter()
        .find(|(m, p, _)| *m == method && *p == path)
        .map(|(_, _, a)| *a)
}

/// The routes a permission code guards, as `METHOD path` lines.
pub fn routes_of(code: &str) -> Vec<String> {
    ROUTES
        .iter()
        .filter(|(_, _, a)| matches!(a, Access::Code(c) if *c == code))
        .map(|(m, p, _)| format!("{m} {p}"))
        .collect()
}

/// The route layer: authenticates and authorises every request by the table.
pub async fn authorize(State(state): State<AppState>, mut req: Request, next: Next) -> Response {
    let path = req
        .extensions()
        .get::<MatchedPath>()
        .map(|m| m.as_str().to_string());
    let access = path.as_deref().and_then(|p| required(req.method(), p));
    let code = match access {
        Some(Access::Public) => return next.run(req).await,
        Some(Access::Session) => None,
        Some(Access::Code(code)) => Some(code),
        None => {
            tracing::error!(method = %req.method(), path = ?path, "route missing from the access table");
            return ApiError::with_text(
                Code::FORBIDDEN,
                Text::new(
                    UNLISTED_ZH,
                    "insufficient permission: the route is not listed",
                ),
            )
            .into_response();
        }
    };
    let Some(token) = bearer(req.headers()).map(str::to_owned) else {
        return ApiError::new(Code::INVALID_TOKEN).into_response();
    };
    let ahead = read_ahead(path.as_deref(), &mut req).await;
    let (caller, read) = match crate::services::auth::authenticate_with(&state, &token, ahead).await
    {
        Ok(found) => found,
        Err(e) => return ApiError::from(e).into_response(),
    };
    if let Some(code) = code.filter(|c| !caller.grants.allows(c)) {
        return ApiError::with_text(
            Code::FORBIDDEN,
            Text::new(
                format!("权限不足:缺少权限 {code}"),
                format!("insufficient permission: {code} is required"),
            ),
        )
        .into_response();
    }
    req.extensions_mut().insert(caller);
    req.extensions_mut().insert(read);
    next.run(req).await
}

/// Keys the route's use case reads first, read in the authentication batch: the
/// identifier lookups of resolve. Other routes read nothing ahead.
async fn read_ahead(path: Option<&str>, req: &mut Request) -> Vec<Key> {
    if path != Some(RESOLVE) {
        return Vec::new();
    }
    let Ok(params) = req.extract_parts::<RawPathParams>().await else {
        return Vec::new();
    };
    params
        .iter()
        .find(|(name, _)| *name == "identifier")
        .map(|(_, value)| resolve::lookup_keys(value))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::permissions::is_catalogued;

    #[test]
    fn every_code_is_catalogued_and_every_route_listed_once() {
        let mut seen = std::collections::BTreeSet::new();
        for (m, p, a) in ROUTES {
            assert!(seen.insert((m, p)), "{m} {p} listed twice");
            if let Access::Code(code) = a {
                assert!(is_catalogued(code), "{code} of {m} {p} is not catalogued");
            }
        }
    }

    #[test]
    fn every_routed_path_is_in_the_table() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/src/api");
        let sources: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| std::fs::read_to_string(e.unwrap().path()).unwrap())
            .collect();
        let mut found = 0;
        for src in &sources {
            for literal in src.split('"').skip(1).step_by(2) {
                if literal.starts_with("/api/") || literal == "/health" {
                    found += 1;
                    assert!(
                        ROUTES.iter().any(|(_, p, _)| *p == literal),
                        "{literal} is routed but missing from ROUTES"
                    );
                }
            }
        }
        assert!(found >= 60, "the scan found only {found} routes");
    }

    #[test]
    fn head_is_read_as_get_and_unknown_routes_have_no_entry() {
        assert_eq!(
            required(&Method::HEAD, "/api/admin/shops"),
            Some(Access::Code("shop:view"))
        );
        assert_eq!(required(&Method::GET, "/api/admin/nowhere"), None);
        assert_eq!(
            routes_of("account:update"),
            vec![
                "PUT /api/admin/accounts/{id}",
                "PUT /api/admin/accounts/{id}/status"
            ]
        );
    }
}
