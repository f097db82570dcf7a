//! Orders: the order item (`ORDER#<id>`), its place in the lists (the platform's
//! `gsi2` partition `ORDERS`; each interested shop's `gsi1` partition through a copy
//! `SHOPORDER#<shop>`/`<id:020>`: the buyer shop and, when another, the operator
//! shop, so an agent's "buyer or operator" list is one Query), the business key
//! that makes a repeated purchase return the first order for 3 minutes, and the
//! per-asset usage head whose version serialises purchases of one asset.

use std::collections::HashMap;

use super::cursor::{Cursor, Source};
use super::keys;
use super::lists::Filter;
use super::tx::{Cond, Tx, Upd};
use super::{n, s, to_item, Item, On, SkCond, Store, StoreError};
use crate::domain::assets::AssetType;
use crate::domain::orders::{Order, PaymentStatus};
use crate::paging::CursorPage;

/// How long a purchase's business key returns its first order (domain.md §5.2).
pub const BUSINESS_KEY_SECONDS: i64 = 180;

/// Label of the business key in an order's transaction.
pub const KEY_LABEL: &str = "order_key";
/// Label of the asset's usage head.
pub const HEAD_LABEL: &str = "usage_head";

/// Sort key of an order in a list: creation time, then id (newest first backward).
fn list_sort(order: &Order) -> String {
    format!("{:012}#{:020}", order.created_at.max(0), order.id)
}

/// The order item with its list attributes.
fn order_item(order: &Order) -> Result<Item, StoreError> {
    let mut item = to_item(order, &keys::order(order.id))?;
    item.insert("gsi2pk".into(), s(keys::ORDERS_ALL));
    item.insert("gsi2sk".into(), s(list_sort(order)));
    // Sparse: only orders whose commission waits for the commission job, or whose
    // calculation failed (listed for the platform).
    let due = match order.commission_status.as_deref() {
        Some(COMMISSION_DUE) => Some(keys::ORDERS_COMMISSION_DUE),
        Some(COMMISSION_FAILED) => Some(keys::ORDERS_COMMISSION_FAILED),
        _ => None,
    };
    if let Some(partition) = due {
        item.insert("gsi3pk".into(), s(partition));
        item.insert("gsi3sk".into(), s(list_sort(order)));
    }
    Ok(item)
}

/// The copy of `order` in `shop`'s list.
fn shop_copy(order: &Order, shop: u64) -> Result<Item, StoreError> {
    let mut item = to_item(order, &keys::shop_order(shop, order.id))?;
    item.insert("gsi1pk".into(), s(keys::shop_orders(shop)));
    item.insert("gsi1sk".into(), s(list_sort(order)));
    Ok(item)
}

/// The shops whose lists show `order`: its buyer shop and its operator shop.
pub fn list_shops(order: &Order) -> Vec<u64> {
    let mut shops: Vec<u64> = order
        .buyer_id
        .into_iter()
        .chain(order.operator_id)
        .collect();
    shops.dedup();
    shops
}

/// Adds a new order to `tx`: the order, its list copies, its business key `key`
/// (free, or expired by `now`) and the asset's usage head moved from `head_version`
/// (0: none yet).
pub fn new_order_ops(
    tx: Tx,
    order: &Order,
    key: &str,
    head: (AssetType, u64, i64),
    now: i64,
) -> Result<Tx, StoreError> {
    let mut tx = tx.put_new("order", order_item(order)?);
    for shop in list_shops(order) {
        tx = tx.put_new("order_copy", shop_copy(order, shop)?);
    }
    let mut key_item: Item = keys::order_key(key).item();
    key_item.insert("order_id".into(), n(order.id));
    key_item.insert("expires_at".into(), n(now + BUSINESS_KEY_SECONDS));
    tx = tx.put(KEY_LABEL, key_item, Some(Cond::absent_or_expired(now)));
    let (t, asset_id, version) = head;
    let cond = if version == 0 {
        Cond::absent()
    } else {
        Cond::version(version)
    };
    let upd = Upd::new("SET version = :next").value(":next", n(version + 1));
    Ok(tx.update(HEAD_LABEL, &keys::usage_head(t, asset_id), upd, Some(cond)))
}

/// Filters of an order list page (stored values; the service maps what the reader
/// asked for onto them).
#[derive(Clone, Debug, Default)]
pub struct OrderQuery {
    /// Created at or after (epoch seconds).
    pub from: Option<i64>,
    /// Created at or before (epoch seconds).
    pub to: Option<i64>,
    pub payment_status: Option<PaymentStatus>,
    pub payment_method: Option<&'static str>,
    pub purchase_role: Option<&'static str>,
    pub order_no: Option<String>,
    pub source: Option<String>,
    pub buyer_type: Option<String>,
    pub buyer_id: Option<u64>,
    pub operator_id: Option<u64>,
    pub iot_card_id: Option<u64>,
    pub device_id: Option<u64>,
    /// `Some((true, now))`: pending orders whose payment time passed by `now`;
    /// `Some((false, now))`: the others.
    pub expired: Option<(bool, i64)>,
}

/// `commission_status` of an order waiting for its commission calculation.
pub const COMMISSION_DUE: &str = "due";
/// `commission_status` of an order whose commission was calculated.
pub const COMMISSION_DONE: &str = "done";
/// `commission_status` of an order whose calculation failed (see its
/// `commission_error`).
pub const COMMISSION_FAILED: &str = "failed";
/// Label of the order in a commission calculation.
pub const COMMISSION_LABEL: &str = "commission_order";

/// Adds the settling of `order`'s commission to `tx`: `commission_status` moves
/// from `from` (`due`, or `failed` for a retry) to `to` (with `error` for `failed`),
/// on condition that it is still `from`; the order's list copies follow. The order
/// leaves the due index (and joins the failed one when it failed).
pub fn settle_commission_ops(
    tx: Tx,
    order: &Order,
    from: &str,
    (to, error): (&str, Option<&str>),
) -> Result<Tx, StoreError> {
    let mut upd = match to {
        COMMISSION_DONE => Upd::new("SET commission_status = :to REMOVE gsi3pk, gsi3sk, commission_error"),
        _ => Upd::new("SET commission_status = :to, commission_error = :error, gsi3pk = :index, gsi3sk = :sort")
            .value(":error", s(error.unwrap_or_default()))
            .value(
                ":index",
                s(if to == COMMISSION_FAILED {
                    keys::ORDERS_COMMISSION_FAILED
                } else {
                    keys::ORDERS_COMMISSION_DUE
                }),
            )
            .value(":sort", s(list_sort(order))),
    };
    upd = upd.value(":to", s(to));
    let cond = Cond::new("commission_status = :from").value(":from", s(from));
    let mut tx = tx.update(COMMISSION_LABEL, &keys::order(order.id), upd, Some(cond));
    for shop in list_shops(order) {
        let upd = Upd::new("SET commission_status = :to").value(":to", s(to));
        tx = tx.update(
            "order_copy",
            &keys::shop_order(shop, order.id),
            upd,
            Some(Cond::new("attribute_exists(pk)")),
        );
    }
    Ok(tx)
}

/// Label of the cancelled order's status change.
pub const STATUS_LABEL: &str = "order_status";

/// Adds the cancellation of `order` (as read) to `tx`: the order becomes `cancelled`
/// on condition that it is still pending at the version read; its list copies follow.
pub fn cancel_ops(tx: Tx, order: &Order, cancelled: &Order) -> Result<Tx, StoreError> {
    let cond = Cond::version(order.version).and(
        Cond::new("payment_status = :pending")
            .value(":pending", n(i64::from(PaymentStatus::Pending))),
    );
    let mut tx = tx.put(STATUS_LABEL, order_item(cancelled)?, Some(cond));
    for shop in list_shops(cancelled) {
        tx = tx.put(
            "order_copy",
            shop_copy(cancelled, shop)?,
            Some(Cond::new("attribute_exists(pk)")),
        );
    }
    Ok(tx)
}

impl Store {
    /// One page of orders, newest first: `shop`'s list (bought or placed by it) or,
    /// for `None`, every order; filters in DynamoDB (the expiry after reading).
    pub async fn order_page(
        &self,
        shop: Option<u64>,
        q: &OrderQuery,
        page_size: u32,
        cursor: Cursor,
    ) -> Result<CursorPage<Order>, StoreError> {
        let (from, to) = keys::time_range(q.from.unwrap_or(0), q.to.unwrap_or(i64::MAX / 2));
        let (on, partition) = match shop {
            Some(shop) => (On::Gsi1, keys::shop_orders(shop)),
            None => (On::Gsi2, keys::ORDERS_ALL.to_string()),
        };
        let source = Source::scope(on, partition, SkCond::Between(from, to)).backward();
        let filter = Filter::new()
            .eq("payment_status", q.payment_status.map(i64::from))
            .eq_str("payment_method", q.payment_method)
            .eq_str("purchase_role", q.purchase_role)
            .eq_str("order_no", q.order_no.as_deref())
            .eq_str("source", q.source.as_deref())
            .eq_str("buyer_type", q.buyer_type.as_deref())
            .eq_id("buyer_id", q.buyer_id)
            .eq_id("operator_id", q.operator_id)
            .eq_id("iot_card_id", q.iot_card_id)
            .eq_id("device_id", q.device_id);
        let expired = q.expired;
        self.read_page(&source, filter.cond(), page_size, cursor, |o: &Order| {
            expired.is_none_or(|(want, now)| {
                let is =
                    o.payment_status == PaymentStatus::Pending && o.pay_by.is_some_and(|t| now > t);
                is == want
            })
        })
        .await
    }

    /// Up to `limit` orders of the commission index `partition` (due or failed)
    /// created at or before `before`, oldest first, with where to continue.
    pub async fn commission_orders(
        &self,
        partition: &str,
        before: i64,
        limit: i32,
        start: Option<Item>,
    ) -> Result<(Vec<Order>, Option<Item>), StoreError> {
        let (from, to) = keys::time_range(0, before);
        let q = super::Query {
            on: On::Gsi3,
            pk: partition.to_string(),
            sk: SkCond::Between(from, to),
            filter: None,
            limit: Some(limit),
            start,
            backward: false,
        };
        let (items, next) = self.query(&q).await?;
        let orders = items
            .into_iter()
            .map(super::from_item)
            .collect::<Result<Vec<Order>, _>>()?;
        Ok((orders, next))
    }

    /// One page of orders whose commission calculation failed, newest first.
    pub async fn failed_commission_page(
        &self,
        page_size: u32,
        cursor: Cursor,
    ) -> Result<CursorPage<Order>, StoreError> {
        let (from, to) = keys::time_range(0, i64::MAX / 2);
        let source = Source::scope(
            On::Gsi3,
            keys::ORDERS_COMMISSION_FAILED.to_string(),
            SkCond::Between(from, to),
        )
        .backward();
        self.read_page(&source, None, page_size, cursor, |_: &Order| true)
            .await
    }

    /// Order `id`.
    pub async fn order(&self, id: u64) -> Result<Option<Order>, StoreError> {
        self.get_as(&keys::order(id)).await
    }

    /// The order a live business key `key` names, if any.
    pub async fn order_of_key(&self, key: &str, now: i64) -> Result<Option<u64>, StoreError> {
        let Some(item) = self.get(&keys::order_key(key)).await? else {
            return Ok(None);
        };
        let live = super::num_attr(&item, "expires_at").is_some_and(|e| e > now);
        Ok(live
            .then(|| super::num_attr(&item, "order_id"))
            .flatten()
            .map(|v| v as u64))
    }

    /// The version of an asset's usage head (0 when it has none yet) and the names
    /// of `shops`, in one batch read.
    pub async fn usage_head_and_shop_names(
        &self,
        t: AssetType,
        asset_id: u64,
        shops: &[u64],
    ) -> Result<(i64, HashMap<u64, String>), StoreError> {
        let head = keys::usage_head(t, asset_id);
        let mut wanted = vec![head.clone()];
        wanted.extend(shops.iter().map(|id| keys::shop(*id)));
        let items = self.get_many(&wanted).await?;
        let version = items
            .iter()
            .find(|i| head.matches(i))
            .and_then(|i| super::num_attr(i, "version"))
            .unwrap_or(0);
        let names = shops
            .iter()
            .filter_map(|id| {
                let key = keys::shop(*id);
                let item = items.iter().find(|i| key.matches(i))?;
                Some((*id, super::str_attr(item, "shop_name")?.to_string()))
            })
            .collect();
        Ok((version, names))
    }
}
