//! Agent recharges: their items and lists, the conditional completion (pending →
//! completed) that goes into the same transaction as the wallet credit, and the
//! audit entry of an offline confirmation.
//!
//! A recharge is listed twice, both lists newest first by creation time: its shop's
//! (scope index, `RECHARGES#SHOP#<shop>`) and the platform's (platform index,
//! `RECHARGES`). Recharges are few (a shop recharges a few times a month), so one
//! platform partition is far below DynamoDB's per-partition limits.

use super::cursor::{Cursor, Source};
use super::keys;
use super::lists::Filter;
use super::payment_configs::{reference_ops, release_ops};
use super::tx::{Cond, Tx, Upd};
use super::{n, s, to_item, Item, On, SkCond, Store, StoreError};
use crate::clock::rfc3339;
use crate::domain::recharge::{AgentRecharge, PaymentMethod, RechargeStatus, RECHARGE_NO_PREFIX};
use crate::paging::CursorPage;

/// Label of the recharge's completion in its transaction.
pub const RECHARGE_LABEL: &str = "recharge";

/// Filters of a recharge list.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RechargeQuery {
    /// Only this status.
    pub status: Option<RechargeStatus>,
    /// Only this payment method.
    pub payment_method: Option<PaymentMethod>,
    /// Created at or after (epoch seconds).
    pub from: Option<i64>,
    /// Created at or before (epoch seconds).
    pub to: Option<i64>,
}

/// The item of recharge `r`, created at `created` (epoch seconds), in both lists,
/// and in the due index until `expires` (epoch seconds) when it waits for an online
/// payment.
pub fn recharge_item(
    r: &AgentRecharge,
    created: i64,
    expires: Option<i64>,
) -> Result<Item, StoreError> {
    let mut item = to_item(r, &keys::recharge(r.id))?;
    if let Some(at) = expires {
        item.insert("gsi3pk".into(), s(keys::PAYMENTS_DUE));
        item.insert(
            "gsi3sk".into(),
            s(keys::payment_due_sort(at, RECHARGE_NO_PREFIX, r.id)),
        );
    }
    let sort = keys::recharge_sort(created, r.id);
    item.insert("gsi1pk".into(), s(keys::shop_recharges(r.shop_id)));
    item.insert("gsi1sk".into(), s(sort.clone()));
    item.insert("gsi2pk".into(), s(keys::RECHARGES));
    item.insert("gsi2sk".into(), s(sort));
    Ok(item)
}

/// Adds to `tx` the completion of recharge `r` at `at`: status 1 → 2, `paid_at`,
/// `completed_at`, `version + 1`, out of the due index, on condition that it is
/// still pending; and one pending payment less for its payment configuration.
pub fn complete_ops(tx: Tx, r: &AgentRecharge, at: i64) -> Tx {
    let when = s(rfc3339(at));
    let upd = Upd::new(
        "SET #status = :completed, paid_at = :at, completed_at = :at, updated_at = :at REMOVE gsi3pk, gsi3sk, expires_at ADD version :one",
    )
    .value(":completed", n(i64::from(RechargeStatus::Completed)))
    .value(":at", when)
    .value(":one", n(1));
    let cond = Cond::new("#status = :pending")
        .name("#status", "status")
        .value(":pending", n(i64::from(RechargeStatus::Pending)));
    let tx = tx.update(RECHARGE_LABEL, &keys::recharge(r.id), upd, Some(cond));
    match r.payment_config_id {
        Some(config) => release_ops(tx, config),
        None => tx,
    }
}

/// Adds to `tx` the cancellation of recharge `r` at `at`: status 1 → 3, out of the
/// due index, on condition that it is still pending; and one pending payment less
/// for its payment configuration.
pub fn cancel_ops(tx: Tx, r: &AgentRecharge, at: i64) -> Tx {
    let upd = Upd::new(
        "SET #status = :cancelled, updated_at = :at REMOVE gsi3pk, gsi3sk, expires_at ADD version :one",
    )
    .value(":cancelled", n(i64::from(RechargeStatus::Cancelled)))
    .value(":at", s(rfc3339(at)))
    .value(":one", n(1));
    let cond = Cond::new("#status = :pending")
        .name("#status", "status")
        .value(":pending", n(i64::from(RechargeStatus::Pending)));
    let tx = tx.update(RECHARGE_LABEL, &keys::recharge(r.id), upd, Some(cond));
    match r.payment_config_id {
        Some(config) => release_ops(tx, config),
        None => tx,
    }
}

/// Creation of online recharge `r` (waiting until `expires`) in one transaction with
/// one more pending payment for its payment configuration, on condition that the
/// configuration is still live and active.
pub fn create_online_ops(
    r: &AgentRecharge,
    created: i64,
    expires: i64,
    config: u64,
) -> Result<Tx, StoreError> {
    let tx = Tx::new().put_new(RECHARGE_LABEL, recharge_item(r, created, Some(expires))?);
    Ok(reference_ops(tx, config))
}

impl Store {
    /// Creates recharge `r` (its id is new, so the key cannot exist).
    pub async fn create_recharge(&self, r: &AgentRecharge, created: i64) -> Result<(), StoreError> {
        self.put_new(RECHARGE_LABEL, recharge_item(r, created, None)?)
            .await
    }

    /// Up to `limit` pending online payments whose `expires_at` is at or before `now`,
    /// earliest first, as (kind, id, item) (the due index holds only pending ones and
    /// projects the whole item).
    pub async fn payments_due(
        &self,
        now: i64,
        limit: u32,
    ) -> Result<Vec<(String, u64, Item)>, StoreError> {
        let q = super::Query {
            on: On::Gsi3,
            pk: keys::PAYMENTS_DUE.to_string(),
            sk: SkCond::Between(format!("{:012}#", 0), format!("{:012}#~", now.max(0))),
            filter: None,
            limit: Some(i32::try_from(limit).unwrap_or(100)),
            start: None,
            backward: false,
        };
        let (items, _) = self.query(&q).await?;
        Ok(items
            .into_iter()
            .filter_map(|item| {
                let sk = super::str_attr(&item, "gsi3sk")?;
                let mut parts = sk.split('#');
                let _due = parts.next()?;
                let kind = parts.next()?.to_string();
                let id = parts.next()?.parse().ok()?;
                Some((kind, id, item))
            })
            .collect())
    }

    /// Recharge `id`.
    pub async fn recharge(&self, id: u64) -> Result<Option<AgentRecharge>, StoreError> {
        self.get_as(&keys::recharge(id)).await
    }

    /// One page of recharges, newest first: those of `shop` (all shops' when
    /// `None`) created within `q`'s range (a key condition), of its status and
    /// method (filters in DynamoDB).
    pub async fn recharge_page(
        &self,
        shop: Option<u64>,
        q: &RechargeQuery,
        page_size: u32,
        cursor: Cursor,
    ) -> Result<CursorPage<AgentRecharge>, StoreError> {
        let (from, to) = keys::time_range(q.from.unwrap_or(0), q.to.unwrap_or(i64::MAX / 2));
        let (on, partition) = match shop {
            Some(shop) => (On::Gsi1, keys::shop_recharges(shop)),
            None => (On::Gsi2, keys::RECHARGES.to_string()),
        };
        let source = Source::scope(on, partition, SkCond::Between(from, to)).backward();
        let filter = Filter::new().eq("status", q.status.map(i64::from)).eq_str(
            "payment_method",
            q.payment_method.map(PaymentMethod::as_str),
        );
        self.read_page(
            &source,
            filter.cond(),
            page_size,
            cursor,
            |_: &AgentRecharge| true,
        )
        .await
    }
}
