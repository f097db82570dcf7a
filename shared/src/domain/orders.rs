//! Order rules (domain.md §4.7, §5.2, §6.1): payment methods and statuses, who buys
//! and who pays in each admin purchase scenario, order numbers.

use serde::{Deserialize, Serialize};

use super::shop_path::ShopPath;
use crate::clock::cst;

/// How an order is paid. Admin orders accept only `wallet` and `offline`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum PaymentMethod {
    Wallet,
    Offline,
    Wechat,
    Alipay,
    Mixed,
}

impl PaymentMethod {
    /// The stored (and answered) name.
    pub fn as_str(self) -> &'static str {
        match self {
            PaymentMethod::Wallet => "wallet",
            PaymentMethod::Offline => "offline",
            PaymentMethod::Wechat => "wechat",
            PaymentMethod::Alipay => "alipay",
            PaymentMethod::Mixed => "mixed",
        }
    }
}

crate::int_enum! {
    /// `payment_status` (§6.1): 1 pending, 2 paid, 5 cancelled.
    PaymentStatus {
        Pending = 1,
        Paid = 2,
        Cancelled = 5,
    }
}

/// Who placed an order relative to its buyer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum PurchaseRole {
    /// An agent bought for its own shop's asset.
    SelfPurchase,
    /// The buyer's view of a purchase its parent agent made for it.
    PurchasedByParent,
    /// The platform bought (offline) for a shop's asset or its own stock.
    PurchasedByPlatform,
    /// The operator's view of a purchase for a subordinate shop's asset.
    PurchaseForSubordinate,
}

impl PurchaseRole {
    /// The stored name. A purchase for a subordinate is stored from the operator's
    /// side (`purchase_for_subordinate`); `purchased_by_parent` is only ever read.
    pub fn stored(self) -> &'static str {
        match self {
            PurchaseRole::SelfPurchase => "self_purchase",
            PurchaseRole::PurchasedByPlatform => "purchased_by_platform",
            PurchaseRole::PurchasedByParent | PurchaseRole::PurchaseForSubordinate => {
                "purchase_for_subordinate"
            }
        }
    }
}

/// Who an admin order is placed by.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Orderer {
    /// Super admin or platform staff.
    Platform,
    /// An agent of shop `shop` at `path`.
    Agent { shop: u64, path: ShopPath },
}

/// Who owns the asset: a shop (id and path) or the platform's stock.
pub type AssetOwner = Option<(u64, ShopPath)>;

/// Who buys, who pays and what follows, for one admin order (§5.2's table).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Scenario {
    /// The buyer shop (`buyer_type = agent`), or `None` for platform stock
    /// (`buyer_type = platform`).
    pub buyer_shop: Option<u64>,
    /// The operator's shop for agents (`operator_id`); `None` for the platform.
    pub operator_shop: Option<u64>,
    pub purchase_role: PurchaseRole,
    pub is_purchase_on_behalf: bool,
    /// The shop whose main wallet pays (wallet orders only).
    pub debit_shop: Option<u64>,
    /// Commission is calculated for orders without an operator shop that have a
    /// buyer shop (platform purchase on behalf).
    pub commission_due: bool,
}

/// Why an admin order cannot be placed as asked.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ScenarioRefused {
    /// Admin orders are paid from a wallet or offline.
    #[error("payment_method must be wallet or offline")]
    MethodNotAllowed,
    /// The platform pays offline, never from a wallet (decisions.md A3).
    #[error("the platform pays offline, not from a wallet")]
    PlatformWallet,
    /// Only the platform records offline payments.
    #[error("only the platform may record offline payments")]
    AgentOffline,
    /// The asset is outside the agent's subtree (callers answer "asset not found").
    #[error("the asset is outside the agent's shop tree")]
    OutOfScope,
}

/// The scenario of an admin order by `orderer` for an asset owned by `owner`, paid
/// with `method`.
pub fn scenario(
    orderer: &Orderer,
    owner: &AssetOwner,
    method: PaymentMethod,
) -> Result<Scenario, ScenarioRefused> {
    match (orderer, method) {
        (_, PaymentMethod::Wechat | PaymentMethod::Alipay | PaymentMethod::Mixed) => {
            Err(ScenarioRefused::MethodNotAllowed)
        }
        (Orderer::Platform, PaymentMethod::Wallet) => Err(ScenarioRefused::PlatformWallet),
        (Orderer::Agent { .. }, PaymentMethod::Offline) => Err(ScenarioRefused::AgentOffline),
        (Orderer::Platform, PaymentMethod::Offline) => Ok(Scenario {
            buyer_shop: owner.as_ref().map(|(id, _)| *id),
            operator_shop: None,
            purchase_role: PurchaseRole::PurchasedByPlatform,
            is_purchase_on_behalf: owner.is_some(),
            debit_shop: None,
            commission_due: owner.is_some(),
        }),
        (Orderer::Agent { shop, path }, PaymentMethod::Wallet) => {
            let (buyer, buyer_path) = owner.as_ref().ok_or(ScenarioRefused::OutOfScope)?;
            if !path.contains(buyer_path) {
                return Err(ScenarioRefused::OutOfScope);
            }
            let own = buyer == shop;
            Ok(Scenario {
                buyer_shop: Some(*buyer),
                operator_shop: Some(*shop),
                purchase_role: if own {
                    PurchaseRole::SelfPurchase
                } else {
                    PurchaseRole::PurchaseForSubordinate
                },
                is_purchase_on_behalf: !own,
                debit_shop: Some(*shop),
                commission_due: false,
            })
        }
    }
}

/// The role as the reader sees it: the buyer of a purchase made for it by its
/// parent sees `purchased_by_parent`.
pub fn role_seen_by(
    role: PurchaseRole,
    buyer_shop: Option<u64>,
    reader_shop: Option<u64>,
) -> PurchaseRole {
    match role {
        PurchaseRole::PurchaseForSubordinate
            if reader_shop.is_some() && reader_shop == buyer_shop =>
        {
            PurchaseRole::PurchasedByParent
        }
        other => other,
    }
}

/// The ledger remark of a wallet order: "购买套餐", or "为下级代理【name】购买套餐" when
/// bought for a subordinate shop.
pub fn ledger_remark(role: PurchaseRole, buyer_shop_name: &str) -> String {
    match role {
        PurchaseRole::PurchaseForSubordinate => format!("为下级代理【{buyer_shop_name}】购买套餐"),
        _ => "购买套餐".to_string(),
    }
}

/// One package of an order.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct OrderItem {
    pub package_id: u64,
    /// The package's name when bought.
    pub package_name: String,
    /// What the buyer pays for one (fen).
    pub unit_price: i64,
    pub quantity: i64,
    /// `unit_price × quantity` (fen).
    pub amount: i64,
}

/// An order (domain.md §4.7). `pay_by` (epoch seconds) is the answered `expires_at`:
/// that name is the table's TTL attribute.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Order {
    pub id: u64,
    pub order_no: String,
    /// 1 card package order, 2 device package order (decisions.md A4).
    pub order_type: i64,
    /// `agent` (a shop buys) or `platform` (the platform's own stock).
    pub buyer_type: String,
    /// The buyer shop (`agent`); `None` for the platform.
    pub buyer_id: Option<u64>,
    pub iot_card_id: Option<u64>,
    pub device_id: Option<u64>,
    /// The shop whose allocation priced the sale (the asset's shop).
    pub seller_shop_id: Option<u64>,
    pub total_amount: i64,
    pub actual_paid_amount: Option<i64>,
    pub payment_method: PaymentMethod,
    pub payment_status: PaymentStatus,
    pub payment_config_id: Option<u64>,
    pub paid_at: Option<i64>,
    pub pay_by: Option<i64>,
    /// `admin` or `client`.
    pub source: String,
    pub generation: i64,
    /// The operator's shop for agents (decisions.md A27); `None` for the platform.
    pub operator_id: Option<u64>,
    /// The operator's account.
    pub operator_account_id: u64,
    /// `platform` or `agent`.
    pub operator_type: String,
    /// The operator's display name (the shop's name for agents, the account's
    /// username for the platform).
    pub operator_name: String,
    pub purchase_role: PurchaseRole,
    pub is_purchase_on_behalf: bool,
    /// The buyer shop's name when bought for it by its parent (for the remark).
    #[serde(default)]
    pub buyer_name: Option<String>,
    pub frozen_amount: i64,
    pub items: Vec<OrderItem>,
    /// Package usages the order created.
    pub usage_ids: Vec<u64>,
    /// `due` until the commission job settles it (`done`, or `failed` with
    /// `commission_error`): orders without an operator shop that have a buyer shop;
    /// `None` when no commission applies.
    #[serde(default)]
    pub commission_status: Option<String>,
    /// Why the calculation failed (`commission_status = failed`).
    #[serde(default)]
    pub commission_error: Option<String>,
    pub created_at: i64,
    pub version: i64,
}

/// Order number `ORD` + the Asia/Shanghai date of `now` + the order id on 10 digits
/// (unique because ids are).
pub fn order_no(id: u64, now: i64) -> String {
    let date = chrono::DateTime::from_timestamp(now, 0)
        .unwrap_or_default()
        .with_timezone(&cst())
        .format("%Y%m%d");
    format!("ORD{date}{id:010}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn path(ids: &[u64]) -> ShopPath {
        let mut p = ShopPath::top(ids[0]);
        for id in &ids[1..] {
            p = p.child(*id);
        }
        p
    }

    #[test]
    fn the_four_admin_scenarios() {
        let a = Orderer::Agent {
            shop: 1,
            path: path(&[1]),
        };
        let own: AssetOwner = Some((1, path(&[1])));
        let sub: AssetOwner = Some((5, path(&[1, 5])));
        // Agent self purchase: debit own wallet, no commission.
        let s = scenario(&a, &own, PaymentMethod::Wallet).unwrap();
        assert_eq!(s.purchase_role, PurchaseRole::SelfPurchase);
        assert_eq!(
            (s.buyer_shop, s.operator_shop, s.debit_shop),
            (Some(1), Some(1), Some(1))
        );
        assert!(!s.is_purchase_on_behalf && !s.commission_due);
        // Agent buys for a subordinate: the subordinate buys, the agent pays.
        let s = scenario(&a, &sub, PaymentMethod::Wallet).unwrap();
        assert_eq!(s.purchase_role, PurchaseRole::PurchaseForSubordinate);
        assert_eq!((s.buyer_shop, s.debit_shop), (Some(5), Some(1)));
        assert!(s.is_purchase_on_behalf && !s.commission_due);
        // Platform on behalf of a shop: offline, commission due.
        let s = scenario(&Orderer::Platform, &sub, PaymentMethod::Offline).unwrap();
        assert_eq!(s.purchase_role, PurchaseRole::PurchasedByPlatform);
        assert_eq!(
            (s.buyer_shop, s.operator_shop, s.debit_shop),
            (Some(5), None, None)
        );
        assert!(s.is_purchase_on_behalf && s.commission_due);
        // Platform self-operated: its own stock, no commission.
        let s = scenario(&Orderer::Platform, &None, PaymentMethod::Offline).unwrap();
        assert_eq!(s.buyer_shop, None);
        assert!(!s.is_purchase_on_behalf && !s.commission_due);
    }

    #[test]
    fn refused_combinations() {
        let a = Orderer::Agent {
            shop: 5,
            path: path(&[1, 5]),
        };
        let parent: AssetOwner = Some((1, path(&[1])));
        let sibling: AssetOwner = Some((6, path(&[1, 6])));
        let own: AssetOwner = Some((5, path(&[1, 5])));
        let refuse = |o: &Orderer, owner: &AssetOwner, m| scenario(o, owner, m).unwrap_err();
        assert_eq!(
            refuse(&a, &parent, PaymentMethod::Wallet),
            ScenarioRefused::OutOfScope
        );
        assert_eq!(
            refuse(&a, &sibling, PaymentMethod::Wallet),
            ScenarioRefused::OutOfScope
        );
        assert_eq!(
            refuse(&a, &None, PaymentMethod::Wallet),
            ScenarioRefused::OutOfScope
        );
        assert_eq!(
            refuse(&a, &own, PaymentMethod::Offline),
            ScenarioRefused::AgentOffline
        );
        assert_eq!(
            refuse(&Orderer::Platform, &own, PaymentMethod::Wallet),
            ScenarioRefused::PlatformWallet
        );
        for m in [
            PaymentMethod::Wechat,
            PaymentMethod::Alipay,
            PaymentMethod::Mixed,
        ] {
            assert_eq!(refuse(&a, &own, m), ScenarioRefused::MethodNotAllowed);
            assert_eq!(
                refuse(&Orderer::Platform, &own, m),
                ScenarioRefused::MethodNotAllowed
            );
        }
    }

    #[test]
    fn the_buyer_sees_a_purchase_by_its_parent_as_such() {
        let role = PurchaseRole::PurchaseForSubordinate;
        assert_eq!(
            role_seen_by(role, Some(5), Some(5)),
            PurchaseRole::PurchasedByParent
        );
        assert_eq!(role_seen_by(role, Some(5), Some(1)), role);
        assert_eq!(role_seen_by(role, Some(5), None), role);
        assert_eq!(
            ledger_remark(role, "二级代理 B"),
            "为下级代理【二级代理 B】购买套餐"
        );
        assert_eq!(ledger_remark(PurchaseRole::SelfPurchase, "x"), "购买套餐");
    }

    #[test]
    fn order_numbers_carry_the_shanghai_date_and_the_id() {
        // 2026-02-27 20:00 UTC is 28 February in Shanghai.
        let t = chrono::DateTime::parse_from_rfc3339("2026-02-27T20:00:00Z")
            .unwrap()
            .timestamp();
        assert_eq!(order_no(1_234_567_890, t), "ORD202602281234567890");
        assert_eq!(order_no(42, t), "ORD202602280000000042");
    }

    #[test]
    fn statuses_travel_as_numbers() {
        for s in [
            PaymentStatus::Pending,
            PaymentStatus::Paid,
            PaymentStatus::Cancelled,
        ] {
            assert_eq!(PaymentStatus::try_from(i64::from(s)), Ok(s));
        }
        assert!(PaymentStatus::try_from(3).is_err());
    }
}
