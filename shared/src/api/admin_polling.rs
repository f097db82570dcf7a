//! `admin-polling` (api.md §23): carrier polling and its housekeeping (platform
//! staff only), and the usage automation rules (agents too, in their subtree). Each part of the group is its own module with its routes and its
//! OpenAPI `Doc`; this one merges them. A new part adds a `.merge(part::routes())`
//! line to [`routes`] and a `doc.merge(part::Doc::openapi())` line to [`Doc`].

use axum::Router;
use utoipa::OpenApi;

use super::{
    admin_data_cleanup, admin_data_reset, admin_polling_alerts, admin_polling_configs,
    admin_polling_ops, admin_usage_rules,
};
use crate::app::AppState;

/// The tag of this group's operations in the OpenAPI document.
pub const TAG: &str = "admin-polling";

/// Routes of the `admin-polling` function.
pub fn routes() -> Router<AppState> {
    Router::new()
        .merge(admin_polling_configs::routes())
        .merge(admin_data_cleanup::routes())
        .merge(admin_polling_ops::routes())
        .merge(admin_data_reset::routes())
        .merge(admin_polling_alerts::routes())
        .merge(admin_usage_rules::routes())
}

/// This group's operations in the OpenAPI document (every part's `Doc` merged).
pub struct Doc;

impl OpenApi for Doc {
    fn openapi() -> utoipa::openapi::OpenApi {
        let mut doc = admin_polling_configs::Doc::openapi();
        doc.merge(admin_data_cleanup::Doc::openapi());
        doc.merge(admin_polling_ops::Doc::openapi());
        doc.merge(admin_data_reset::Doc::openapi());
        doc.merge(admin_polling_alerts::Doc::openapi());
        doc.merge(admin_usage_rules::Doc::openapi());
        doc
    }
}
