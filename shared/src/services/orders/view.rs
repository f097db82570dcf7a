//! How an order reads: the reader's view of its purchase role, its remark and expiry.

use serde::Serialize;

use crate::domain::caller::Caller;
use crate::domain::orders::{
    role_seen_by, Order, OrderItem, PaymentMethod, PaymentStatus, PurchaseRole,
};
use crate::domain::org::UserType;

/// An order as the admin routes answer it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct OrderView {
    pub id: u64,
    pub order_no: String,
    pub order_type: i64,
    pub buyer_type: String,
    pub buyer_id: Option<u64>,
    pub iot_card_id: Option<u64>,
    pub device_id: Option<u64>,
    pub total_amount: i64,
    pub actual_paid_amount: Option<i64>,
    pub payment_method: PaymentMethod,
    /// 1 pending, 2 paid, 5 cancelled.
    #[schema(value_type = i64)]
    pub payment_status: PaymentStatus,
    pub operator_id: Option<u64>,
    pub operator_type: String,
    pub operator_name: String,
    /// As the reader sees it (the buyer of a purchase by its parent reads
    /// `purchased_by_parent`).
    pub purchase_role: PurchaseRole,
    pub is_purchased_by_parent: bool,
    pub is_purchase_on_behalf: bool,
    pub purchase_remark: Option<String>,
    pub source: String,
    pub generation: i64,
    pub payment_config_id: Option<u64>,
    pub expires_at: Option<String>,
    pub is_expired: bool,
    pub items: Vec<OrderItem>,
    /// The package usages the order created.
    pub package_usage_ids: Vec<u64>,
    pub commission_status: Option<String>,
    pub created_at: String,
    pub paid_at: Option<String>,
}

impl OrderView {
    /// `order` as `reader` sees it at `now`.
    pub fn new(order: Order, reader: &Caller, now: i64) -> Self {
        use crate::clock::rfc3339;
        let reader_shop = match reader.user_type {
            UserType::Agent => reader.shop_id,
            _ => None,
        };
        let role = role_seen_by(order.purchase_role, order.buyer_id, reader_shop);
        let remark = match (order.purchase_role, &order.buyer_name) {
            (PurchaseRole::PurchaseForSubordinate, Some(name)) => {
                Some(format!("为下级代理【{name}】购买"))
            }
            _ => None,
        };
        OrderView {
            id: order.id,
            order_no: order.order_no,
            order_type: order.order_type,
            buyer_type: order.buyer_type,
            buyer_id: order.buyer_id,
            iot_card_id: order.iot_card_id,
            device_id: order.device_id,
            total_amount: order.total_amount,
            actual_paid_amount: order.actual_paid_amount,
            payment_method: order.payment_method,
            payment_status: order.payment_status,
            operator_id: order.operator_id,
            operator_type: order.operator_type,
            operator_name: order.operator_name,
            purchase_role: role,
            is_purchased_by_parent: role == PurchaseRole::PurchasedByParent,
            is_purchase_on_behalf: order.is_purchase_on_behalf,
            purchase_remark: remark,
            source: order.source,
            generation: order.generation,
            payment_config_id: order.payment_config_id,
            expires_at: order.pay_by.map(rfc3339),
            is_expired: order.payment_status == PaymentStatus::Pending
                && order.pay_by.is_some_and(|t| now > t),
            items: order.items,
            package_usage_ids: order.usage_ids,
            commission_status: order.commission_status,
            created_at: rfc3339(order.created_at),
            paid_at: order.paid_at.map(rfc3339),
        }
    }
}
