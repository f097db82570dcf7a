//! Withdrawal requests (`WITHDRAWAL#<id>`, listed per shop on `gsi1` and for the
//! platform on `gsi2`), each shop's daily requested amount (`WDDAY#<day>` in the
//! shop's partition: the daily maximum is a condition of the request's
//! transaction), and the platform's withdrawal settings.

use super::cursor::{Cursor, Source};
use super::keys;
use super::lists::Filter;
use super::tx::{Cond, Tx, Upd};
use super::{n, s, to_item, Item, On, SkCond, Store, StoreError};
use crate::domain::withdrawal::{Withdrawal, WithdrawalSettings, WithdrawalStatus};
use crate::paging::CursorPage;

/// Label of the request in its transactions.
pub const WITHDRAWAL_LABEL: &str = "withdrawal";
/// Label of the daily amount in a request's transaction.
pub const DAY_LABEL: &str = "withdrawal_day";
/// Label of the settings write.
pub const SETTINGS_LABEL: &str = "withdrawal_settings";

fn item(w: &Withdrawal) -> Result<Item, StoreError> {
    let mut item = to_item(w, &keys::withdrawal(w.id))?;
    let sort = format!("{:012}#{:020}", w.at.max(0), w.id);
    item.insert("gsi1pk".into(), s(keys::shop_withdrawals(w.shop_id)));
    item.insert("gsi1sk".into(), s(sort.clone()));
    item.insert("gsi2pk".into(), s(keys::WITHDRAWALS_ALL));
    item.insert("gsi2sk".into(), s(sort));
    Ok(item)
}

/// Adds a new request to `tx` with its amount counted in the shop's day, on
/// condition that the day stays within `daily_max`.
pub fn new_withdrawal_ops(tx: Tx, w: &Withdrawal, daily_max: i64) -> Result<Tx, StoreError> {
    let upd = Upd::new("ADD requested :a").value(":a", n(w.amount));
    let cond = Cond::new("attribute_not_exists(requested) OR requested <= :room")
        .value(":room", n(daily_max - w.amount));
    Ok(tx.put_new(WITHDRAWAL_LABEL, item(w)?).update(
        DAY_LABEL,
        &keys::withdrawal_day(w.shop_id, &w.day),
        upd,
        Some(cond),
    ))
}

/// Adds the review of `before` (pending, at its version) to `tx`: the request
/// becomes `after`; a rejection gives its amount back to the shop's day.
pub fn review_ops(tx: Tx, before: &Withdrawal, after: &Withdrawal) -> Result<Tx, StoreError> {
    let cond = Cond::version(before.version).and(
        Cond::new("#status = :pending")
            .name("#status", "status")
            .value(":pending", n(i64::from(WithdrawalStatus::Pending))),
    );
    let mut tx = tx.put(WITHDRAWAL_LABEL, item(after)?, Some(cond));
    if after.status == WithdrawalStatus::Rejected {
        let upd = Upd::new("ADD requested :a").value(":a", n(-after.amount));
        tx = tx.update(
            DAY_LABEL,
            &keys::withdrawal_day(after.shop_id, &after.day),
            upd,
            Some(Cond::new("attribute_exists(pk)")),
        );
    }
    Ok(tx)
}

/// Filters of a withdrawal page.
#[derive(Clone, Copy, Debug, Default)]
pub struct WithdrawalQuery {
    pub status: Option<WithdrawalStatus>,
    /// Requested at or after (epoch seconds).
    pub from: Option<i64>,
    /// Requested at or before.
    pub to: Option<i64>,
}

impl Store {
    /// Withdrawal request `id`.
    pub async fn withdrawal(&self, id: u64) -> Result<Option<Withdrawal>, StoreError> {
        self.get_as(&keys::withdrawal(id)).await
    }

    /// One page of withdrawal requests, newest first: `shop`'s, or every one for
    /// `None`; the status filtered in DynamoDB.
    pub async fn withdrawal_page(
        &self,
        shop: Option<u64>,
        q: &WithdrawalQuery,
        page_size: u32,
        cursor: Cursor,
    ) -> Result<CursorPage<Withdrawal>, StoreError> {
        let (from, to) = keys::time_range(q.from.unwrap_or(0), q.to.unwrap_or(i64::MAX / 2));
        let (on, partition) = match shop {
            Some(shop) => (On::Gsi1, keys::shop_withdrawals(shop)),
            None => (On::Gsi2, keys::WITHDRAWALS_ALL.to_string()),
        };
        let source = Source::scope(on, partition, SkCond::Between(from, to)).backward();
        let filter = Filter::new().eq("status", q.status.map(i64::from));
        self.read_page(
            &source,
            filter.cond(),
            page_size,
            cursor,
            |_: &Withdrawal| true,
        )
        .await
    }

    /// The platform's withdrawal settings (the defaults until it sets them).
    pub async fn withdrawal_settings(&self) -> Result<WithdrawalSettings, StoreError> {
        Ok(self
            .get_as(&keys::withdrawal_settings())
            .await?
            .unwrap_or_default())
    }

    /// Replaces the settings read at version `read_version` (0: never set) with
    /// `settings` (whose version is the next one).
    pub async fn put_withdrawal_settings(
        &self,
        settings: &WithdrawalSettings,
        read_version: i64,
    ) -> Result<(), StoreError> {
        let item = to_item(settings, &keys::withdrawal_settings())?;
        let cond = if read_version == 0 {
            Cond::absent()
        } else {
            Cond::version(read_version)
        };
        self.transact(Tx::new().put(SETTINGS_LABEL, item, Some(cond)))
            .await
    }
}
