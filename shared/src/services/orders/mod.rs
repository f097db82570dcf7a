//! Admin orders (api.md §16, domain.md §5.2): one request pays and activates at
//! once. The order, its list copies, its business key, the asset's usage head, the
//! package usages and — for wallet orders — the wallet debit with its ledger line are
//! one transaction: there is never an order without its debit or a debit without its
//! order. A purchase repeated within 3 minutes (same buyer, asset and packages)
//! answers the first order; purchases of one asset are serialised by its usage head.

mod cancel;
mod check;
mod list;
mod view;

use std::collections::HashMap;

use serde::Deserialize;

pub use cancel::cancel_order;
pub use check::{purchase_check, PurchaseCheck, PurchaseCheckRequest};
pub use list::{list_orders, OrderFilter};
pub use view::OrderView;

use crate::app::AppState;
use crate::codes::{BusinessError, Code};
use crate::domain::assets::{AssetType, Device, IotCard};
use crate::domain::caller::Caller;
use crate::domain::catalog::{Package, PackageType};
use crate::domain::orders::{
    ledger_remark, order_no, scenario, Order, OrderItem, Orderer, PaymentMethod, PaymentStatus,
    PurchaseRole, Scenario, ScenarioRefused,
};
use crate::domain::org::UserType;
use crate::domain::pricing::{unit_price, NotSellable, Sale};
use crate::domain::usage::{start, usage_summary, PackageUsage, StartRefused, UsageStatus};
use crate::domain::validate::Invalid;
use crate::domain::wallet::{LedgerEntry, Movement, TxType, WalletKind};
use crate::services::assets::{visible, Asset, AssetError};
use crate::services::catalog::effective_allocation;
use crate::store::orders::{new_order_ops, COMMISSION_DUE, HEAD_LABEL};
use crate::store::tx::{backoff, Tx, TxOutcome};
use crate::store::usages::put_new_usage;
use crate::store::wallets::{ledger_cancel, ledger_ops, LedgerCancel, LedgerError};
use crate::store::{keys, StoreError};

/// Most packages in one order.
pub const MAX_PACKAGES: usize = 10;
/// Attempts when the paying wallet changed between read and write (concurrent
/// orders of one shop): each attempt reuses the wallet state DynamoDB returned.
pub const WALLET_ATTEMPTS: usize = 30;

/// `POST /api/admin/orders` body.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateOrder {
    /// 1 card package order, 2 device package order.
    #[schema(minimum = 1, maximum = 2)]
    pub order_type: i64,
    #[serde(default)]
    pub iot_card_id: Option<u64>,
    #[serde(default)]
    pub device_id: Option<u64>,
    /// 1..=10 distinct packages, all formal or all add-ons.
    pub package_ids: Vec<u64>,
    /// `wallet` (agents) or `offline` (platform).
    pub payment_method: PaymentMethod,
}

/// Failures of order use cases.
#[derive(Debug, thiserror::Error)]
pub enum OrderError {
    #[error(transparent)]
    Asset(#[from] AssetError),
    #[error("insufficient permission")]
    Forbidden,
    #[error("{0}")]
    NotSellable(NotSellable),
    #[error("no main package to bind the add-on to")]
    NoMainPackage,
    #[error("an order may not mix main packages and add-ons")]
    Mixed,
    #[error("another purchase of this asset is in progress")]
    ActivationConflict,
    #[error("order not found")]
    NotFound,
    #[error("only a pending order can be cancelled")]
    NotPending,
    #[error(transparent)]
    Ledger(#[from] LedgerError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<Invalid> for OrderError {
    fn from(e: Invalid) -> Self {
        OrderError::Asset(e.into())
    }
}

impl BusinessError for OrderError {
    fn code(&self) -> Code {
        match self {
            OrderError::Asset(e) => e.code(),
            OrderError::Forbidden => Code::FORBIDDEN,
            OrderError::NotSellable(NotSellable::NoAllocation) => Code::NO_ALLOCATION,
            OrderError::NotSellable(_) => Code::PACKAGE_NOT_SELLABLE,
            OrderError::NoMainPackage => Code::NO_MAIN_PACKAGE,
            OrderError::Mixed => Code::MIXED_ORDER_FORBIDDEN,
            OrderError::ActivationConflict => Code::PACKAGE_ACTIVATION_CONFLICT,
            OrderError::NotFound => Code::ORDER_NOT_FOUND,
            OrderError::NotPending => Code::ORDER_NOT_PENDING,
            OrderError::Ledger(e) => e.code(),
            OrderError::Store(e) => e.code(),
        }
    }

    fn detail(&self) -> Option<crate::codes::Text> {
        match self {
            OrderError::Asset(e) => e.detail(),
            _ => None,
        }
    }
}

/// What an order is about: the asset, its owner and generation, and whether it
/// passed real-name verification.
struct Target {
    owner: Option<(u64, crate::domain::shop_path::ShopPath)>,
    generation: i64,
    verified: bool,
}

async fn target(
    state: &AppState,
    caller: &Caller,
    t: AssetType,
    id: u64,
) -> Result<Target, OrderError> {
    let store = &state.store;
    fn owner<A: Asset>(a: &A) -> Option<(u64, crate::domain::shop_path::ShopPath)> {
        a.shop_id().zip(a.owner().cloned())
    }
    Ok(match t {
        AssetType::Card => {
            let c: IotCard = visible(store, caller, id).await?;
            Target {
                owner: owner(&c),
                generation: c.generation,
                verified: c.is_verified(),
            }
        }
        AssetType::Device => {
            let d: Device = visible(store, caller, id).await?;
            // Devices carry no real-name status of their own.
            Target {
                owner: owner(&d),
                generation: d.generation,
                verified: true,
            }
        }
    })
}

/// Checks the body's shape: one asset matching `order_type`, 1..=10 distinct ids.
fn checked(req: &CreateOrder) -> Result<(AssetType, u64), Invalid> {
    let asset = match (req.order_type, req.iot_card_id, req.device_id) {
        (1, Some(id), None) if id > 0 => (AssetType::Card, id),
        (2, None, Some(id)) if id > 0 => (AssetType::Device, id),
        _ => {
            return Err(Invalid::new(
                "order_type为1时需iot_card_id,为2时需device_id",
                "order_type 1 takes iot_card_id, 2 takes device_id (exactly one)",
            ))
        }
    };
    checked_ids(&req.package_ids)?;
    Ok(asset)
}

/// 1..=[`MAX_PACKAGES`] distinct, positive package ids.
fn checked_ids(package_ids: &[u64]) -> Result<(), Invalid> {
    let mut ids = package_ids.to_vec();
    ids.sort_unstable();
    ids.dedup();
    if ids.is_empty()
        || ids.len() != package_ids.len()
        || ids.len() > MAX_PACKAGES
        || ids.contains(&0)
    {
        return Err(Invalid::new(
            format!("package_ids须为1到{MAX_PACKAGES}个不重复的套餐ID"),
            format!("package_ids must be 1 to {MAX_PACKAGES} distinct package ids"),
        ));
    }
    Ok(())
}

/// The packages of the order, in the request's order: live, all formal or all add-ons.
async fn packages(state: &AppState, ids: &[u64]) -> Result<Vec<Package>, OrderError> {
    let keys: Vec<_> = ids.iter().map(|id| keys::package(*id)).collect();
    let found: Vec<Package> = state.store.entities(&keys).await?;
    let by_id: HashMap<u64, Package> = found.into_iter().map(|p| (p.id, p)).collect();
    let list: Vec<Package> = ids
        .iter()
        .map(|id| {
            by_id
                .get(id)
                .cloned()
                .ok_or(OrderError::Asset(AssetError::NotFound("package")))
        })
        .collect::<Result<_, _>>()?;
    let addons = list
        .iter()
        .filter(|p| p.package_type == PackageType::Addon)
        .count();
    if addons != 0 && addons != list.len() {
        return Err(OrderError::Mixed);
    }
    Ok(list)
}

/// Unit prices (what the order totals, what the operator pays) of each package.
async fn prices(
    state: &AppState,
    sc: &Scenario,
    list: &[Package],
) -> Result<Vec<(i64, Option<i64>)>, OrderError> {
    let store = &state.store;
    let mut out = Vec::with_capacity(list.len());
    for p in list {
        let price = |sale| unit_price(p, sale).map_err(OrderError::NotSellable);
        let buyer_alloc = match sc.buyer_shop {
            Some(shop) => effective_allocation(store, shop, p.id).await?,
            None => None,
        };
        let row = match (sc.buyer_shop, sc.debit_shop) {
            // Platform self-operated stock: suggested retail price, nothing paid.
            (None, _) => (price(Sale::PlatformChannel)?, None),
            // The platform for a shop: the shop's cost price, nothing paid.
            (Some(_), None) => (
                price(Sale::PlatformForShop {
                    buyer: buyer_alloc.as_ref(),
                })?,
                None,
            ),
            (Some(buyer), Some(payer)) => {
                let total = price(Sale::AgentPurchase {
                    buyer: buyer_alloc.as_ref(),
                })?;
                let paid = if payer == buyer {
                    total
                } else {
                    let own = effective_allocation(store, payer, p.id).await?;
                    price(Sale::AgentPurchase {
                        buyer: own.as_ref(),
                    })?
                };
                (total, Some(paid))
            }
        };
        out.push(row);
    }
    Ok(out)
}

/// Who places an order: platform staff or an agent of a shop.
fn orderer_of(caller: &Caller) -> Result<Orderer, OrderError> {
    match (caller.user_type, caller.shop_id, &caller.shop_path) {
        (UserType::SuperAdmin | UserType::Platform, _, _) => Ok(Orderer::Platform),
        (UserType::Agent, Some(shop), Some(path)) => Ok(Orderer::Agent {
            shop,
            path: path.clone(),
        }),
        _ => Err(OrderError::Forbidden),
    }
}

/// The §5.2 scenario, its refusals as the routes answer them.
fn scenario_for(
    orderer: &Orderer,
    target: &Target,
    method: PaymentMethod,
) -> Result<Scenario, OrderError> {
    scenario(orderer, &target.owner, method).map_err(|e| match e {
        ScenarioRefused::MethodNotAllowed | ScenarioRefused::PlatformWallet => {
            OrderError::from(Invalid::new(
                "请求参数解析失败:管理端订单仅支持wallet(代理)或offline(平台)",
                format!("{e}: admin orders are paid by wallet (agents) or offline (platform)"),
            ))
        }
        ScenarioRefused::AgentOffline => OrderError::Forbidden,
        ScenarioRefused::OutOfScope => OrderError::Asset(AssetError::AssetNotFound),
    })
}

/// Places an admin order: paid at once (wallet or offline) and its packages started.
pub async fn create_order(
    state: &AppState,
    caller: &Caller,
    req: CreateOrder,
) -> Result<OrderView, OrderError> {
    let now = state.clock.now();
    let store = &state.store;
    let (t, asset_id) = checked(&req)?;
    let orderer = orderer_of(caller)?;
    let target = target(state, caller, t, asset_id).await?;
    let sc = scenario_for(&orderer, &target, req.payment_method)?;
    let mut ids = req.package_ids.clone();
    ids.sort_unstable();
    let business_key = format!(
        "{}:{}:{}:{}:{}:{}",
        if sc.buyer_shop.is_some() {
            "agent"
        } else {
            "platform"
        },
        sc.buyer_shop.unwrap_or(0),
        req.order_type,
        t.as_str(),
        asset_id,
        ids.iter().map(u64::to_string).collect::<Vec<_>>().join(",")
    );
    if let Some(first) = store.order_of_key(&business_key, now).await? {
        return shown(state, caller, first, now).await;
    }
    let list = packages(state, &req.package_ids).await?;
    let prices = prices(state, &sc, &list).await?;
    let total: i64 = prices.iter().map(|(t, _)| t).sum();
    let paid: Option<i64> = sc
        .debit_shop
        .map(|_| prices.iter().filter_map(|(_, p)| *p).sum());

    // The asset's usage head (its version guards the usages read next) and the
    // names shown with the order, in one read.
    let buyer_named = match (sc.purchase_role, sc.buyer_shop) {
        (PurchaseRole::PurchaseForSubordinate, Some(b)) => Some(b),
        _ => None,
    };
    let named: Vec<u64> = buyer_named.into_iter().chain(sc.operator_shop).collect();
    let (head, names) = store.usage_head_and_shop_names(t, asset_id, &named).await?;
    let buyer_name = buyer_named.and_then(|b| names.get(&b).cloned());
    let operator_name = match sc.operator_shop {
        Some(shop) => names.get(&shop).cloned().unwrap_or_default(),
        None => caller.username.clone(),
    };
    let existing: Vec<PackageUsage> = store
        .asset_usages(t, asset_id)
        .await?
        .into_iter()
        .filter(|u| u.generation == target.generation)
        .collect();
    let mut state_now = usage_summary(&existing);
    let first_usage = store.next_ids("package_usage", list.len() as u64).await?;
    let order_id = store.next_id("order").await?;
    let mut usages = Vec::with_capacity(list.len());
    for (i, p) in list.iter().enumerate() {
        let begin = start(p, &state_now, target.verified, now).map_err(|e| match e {
            StartRefused::NoMainPackage => OrderError::NoMainPackage,
        })?;
        let u = PackageUsage::new(
            first_usage + i as u64,
            (t, asset_id, target.generation),
            p,
            begin,
            Some(order_id),
            now,
        );
        state_now.max_priority = state_now.max_priority.max(u.priority);
        if p.package_type == PackageType::Formal {
            match u.status {
                UsageStatus::Active => state_now.current_main = Some((u.id, u.valid_until)),
                UsageStatus::Pending if state_now.current_main.is_none() => {
                    state_now.pending_main.get_or_insert(u.id);
                }
                _ => {}
            }
        }
        usages.push(u);
    }
    let order = Order {
        id: order_id,
        order_no: order_no(order_id, now),
        order_type: req.order_type,
        buyer_type: if sc.buyer_shop.is_some() {
            "agent"
        } else {
            "platform"
        }
        .into(),
        buyer_id: sc.buyer_shop,
        iot_card_id: (t == AssetType::Card).then_some(asset_id),
        device_id: (t == AssetType::Device).then_some(asset_id),
        seller_shop_id: target.owner.as_ref().map(|(id, _)| *id),
        total_amount: total,
        actual_paid_amount: paid,
        payment_method: req.payment_method,
        payment_status: PaymentStatus::Paid,
        payment_config_id: None,
        paid_at: Some(now),
        pay_by: None,
        source: "admin".into(),
        generation: target.generation,
        operator_id: sc.operator_shop,
        operator_account_id: caller.account_id,
        operator_type: if sc.operator_shop.is_some() {
            "agent"
        } else {
            "platform"
        }
        .into(),
        operator_name,
        purchase_role: sc.purchase_role,
        is_purchase_on_behalf: sc.is_purchase_on_behalf,
        buyer_name: buyer_name.clone(),
        frozen_amount: 0,
        items: list
            .iter()
            .zip(&prices)
            .map(|(p, (unit, _))| OrderItem {
                package_id: p.id,
                package_name: p.package_name.clone(),
                unit_price: *unit,
                quantity: 1,
                amount: *unit,
            })
            .collect(),
        usage_ids: usages.iter().map(|u| u.id).collect(),
        commission_status: sc.commission_due.then(|| COMMISSION_DUE.to_string()),
        commission_error: None,
        created_at: now,
        version: 1,
    };
    let mut base = new_order_ops(Tx::new(), &order, &business_key, (t, asset_id, head), now)?;
    for u in &usages {
        base = put_new_usage(base, u)?;
    }
    let entry = match (sc.debit_shop, paid) {
        (Some(shop), Some(amount)) => Some(LedgerEntry {
            subtype: Some(sc.purchase_role.stored().into()),
            related_shop_id: (sc.buyer_shop != Some(shop))
                .then_some(sc.buyer_shop)
                .flatten(),
            reference_type: Some("order".into()),
            reference_id: Some(order.id),
            reference_no: Some(order.order_no.clone()),
            remark: ledger_remark(sc.purchase_role, buyer_name.as_deref().unwrap_or_default()),
            operator_id: Some(caller.account_id),
            ..LedgerEntry::new(
                format!("order:{}", order.id),
                shop,
                WalletKind::Main,
                Movement::Debit(amount),
                TxType::OrderPayment,
                now,
            )
        }),
        _ => None,
    };
    if let Outcome::Refused(label) = write(state, base, entry.as_ref()).await? {
        if label == HEAD_LABEL {
            return Err(OrderError::ActivationConflict);
        }
        // The same purchase was placed meanwhile: answer that order.
        let first = store
            .order_of_key(&business_key, now)
            .await?
            .ok_or(OrderError::ActivationConflict)?;
        return shown(state, caller, first, now).await;
    }
    tracing::info!(order_id = order.id, total, "admin order placed");
    if order.commission_status.is_some() {
        crate::jobs::commission::request_after_commit(state, order.id).await;
    }
    Ok(OrderView::new(order, caller, now))
}

/// How an order's transaction ended.
enum Outcome {
    Written,
    /// One of the order's own conditions failed (its label); nothing was written.
    Refused(&'static str),
}

/// Writes an order's transaction, with the wallet movement when `entry` is given,
/// retrying while only the wallet changed.
async fn write(
    state: &AppState,
    base: Tx,
    entry: Option<&LedgerEntry>,
) -> Result<Outcome, OrderError> {
    let store = &state.store;
    let mut wallet = match entry {
        Some(e) => Some(
            store
                .wallet(e.shop_id, WalletKind::Main)
                .await?
                .ok_or(LedgerError::WalletNotFound)?,
        ),
        None => None,
    };
    for attempt in 0..WALLET_ATTEMPTS {
        let tx = match (entry, &wallet) {
            (Some(e), Some(w)) => ledger_ops(base.clone(), w, e)?.0,
            _ => base.clone(),
        };
        let failed = match store.transact_each(tx).await? {
            TxOutcome::Written => return Ok(Outcome::Written),
            TxOutcome::Cancelled(failed) => failed,
        };
        match entry.map(|e| ledger_cancel(e, &failed)).transpose()? {
            Some(LedgerCancel::WalletChanged(now_wallet)) => {
                wallet = match now_wallet {
                    Some(w) => Some(w),
                    None => {
                        store
                            .wallet(entry.map_or(0, |e| e.shop_id), WalletKind::Main)
                            .await?
                    }
                };
                tokio::time::sleep(backoff(attempt.min(3))).await;
            }
            Some(LedgerCancel::Replayed(_)) => return Ok(Outcome::Written),
            _ => {
                return match failed.first() {
                    Some(f) => Ok(Outcome::Refused(f.label)),
                    None => Err(StoreError::Dynamo("order transaction cancelled".into()).into()),
                }
            }
        }
    }
    Err(StoreError::Contended {
        attempts: WALLET_ATTEMPTS,
    }
    .into())
}

/// The order `id` if `caller` may see it.
async fn visible_order(state: &AppState, caller: &Caller, id: u64) -> Result<Order, OrderError> {
    if !matches!(
        caller.user_type,
        UserType::SuperAdmin | UserType::Platform | UserType::Agent
    ) {
        return Err(OrderError::Forbidden);
    }
    let order = state.store.order(id).await?.ok_or(OrderError::NotFound)?;
    if !sees(caller, &order) {
        return Err(OrderError::NotFound);
    }
    Ok(order)
}

/// The order `id` as `caller` may see it.
async fn shown(
    state: &AppState,
    caller: &Caller,
    id: u64,
    now: i64,
) -> Result<OrderView, OrderError> {
    let order = visible_order(state, caller, id).await?;
    Ok(OrderView::new(order, caller, now))
}

/// Platform staff see every order; an agent the orders its shop bought or placed.
fn sees(caller: &Caller, order: &Order) -> bool {
    match caller.user_type {
        UserType::SuperAdmin | UserType::Platform => true,
        UserType::Agent => {
            caller.shop_id.is_some()
                && (order.buyer_id == caller.shop_id || order.operator_id == caller.shop_id)
        }
        _ => false,
    }
}

/// One order (`1134` when it does not exist or the caller may not see it;
/// enterprise accounts are refused until their authorised assets are modelled).
pub async fn order(state: &AppState, caller: &Caller, id: u64) -> Result<OrderView, OrderError> {
    shown(state, caller, id, state.clock.now()).await
}
