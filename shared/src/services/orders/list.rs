//! `GET /api/admin/orders`: the caller's orders, newest first, with filters.

use serde::Deserialize;

use super::{OrderError, OrderView};
use crate::app::AppState;
use crate::domain::caller::Caller;
use crate::domain::orders::{PaymentMethod, PaymentStatus, PurchaseRole};
use crate::domain::org::UserType;
use crate::domain::validate::{day_range, Invalid};
use crate::paging::{CursorPage, PageQuery};
use crate::store::orders::OrderQuery;

/// Filters of `GET /api/admin/orders`.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct OrderFilter {
    /// As the reader sees it: an agent's `purchased_by_parent` are the orders its
    /// parent placed for it, `purchase_for_subordinate` those it placed for a
    /// subordinate.
    pub purchase_role: Option<PurchaseRole>,
    /// Pending orders whose payment time passed (`true`), or the others.
    pub is_expired: Option<bool>,
    /// 1 pending, 2 paid, 5 cancelled.
    #[param(value_type = Option<i64>)]
    pub payment_status: Option<i64>,
    pub payment_method: Option<PaymentMethod>,
    /// Exactly this number.
    pub order_no: Option<String>,
    /// `admin` or `client`.
    pub source: Option<String>,
    /// `agent` or `platform`.
    pub buyer_type: Option<String>,
    pub iot_card_id: Option<u64>,
    pub device_id: Option<u64>,
    /// Created on or after this day (`YYYY-MM-DD`, Asia/Shanghai).
    #[param(pattern = r"^\d{4}-\d{2}-\d{2}$")]
    pub start_date: Option<String>,
    /// Created on or before this day (`YYYY-MM-DD`, Asia/Shanghai).
    #[param(pattern = r"^\d{4}-\d{2}-\d{2}$")]
    pub end_date: Option<String>,
}

/// One page of the orders the caller sees, newest first: platform staff every
/// order, an agent those its shop bought or placed (one Query of its list).
pub async fn list_orders(
    state: &AppState,
    caller: &Caller,
    f: &OrderFilter,
    page: &PageQuery,
) -> Result<CursorPage<OrderView>, OrderError> {
    let now = state.clock.now();
    let (cursor, size) = page.parse()?;
    let shop = match (caller.user_type, caller.shop_id) {
        (UserType::SuperAdmin | UserType::Platform, _) => None,
        (UserType::Agent, Some(own)) => Some(own),
        _ => return Err(OrderError::Forbidden),
    };
    let (from, to) = day_range(f.start_date.as_deref(), f.end_date.as_deref())?;
    let payment_status = f
        .payment_status
        .map(PaymentStatus::try_from)
        .transpose()
        .map_err(|_| {
            Invalid::new(
                "payment_status须为1、2或5",
                "payment_status must be 1, 2 or 5",
            )
        })?;
    let mut q = OrderQuery {
        from,
        to,
        payment_status,
        payment_method: f.payment_method.map(PaymentMethod::as_str),
        order_no: f.order_no.as_ref().map(|n| n.trim().to_string()),
        source: f.source.clone(),
        buyer_type: f.buyer_type.clone(),
        iot_card_id: f.iot_card_id,
        device_id: f.device_id,
        expired: f.is_expired.map(|e| (e, now)),
        ..OrderQuery::default()
    };
    q.purchase_role = f.purchase_role.map(PurchaseRole::stored);
    match (f.purchase_role, shop) {
        (Some(PurchaseRole::PurchasedByParent), Some(own)) => q.buyer_id = Some(own),
        (Some(PurchaseRole::PurchaseForSubordinate), Some(own)) => q.operator_id = Some(own),
        _ => {}
    }
    let page = state.store.order_page(shop, &q, size, cursor).await?;
    Ok(page.map(|o| OrderView::new(o, caller, now)))
}
