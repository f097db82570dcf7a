//! Commissions in the table (docs/commissions.md): records (in their order's
//! partition, listed per shop on `gsi1` and for the platform on `gsi2`, frozen ones
//! on the sparse unfreeze index `gsi3`), the one-time markers, each shop's monthly
//! sales statistics per series and monthly wallet totals, and the asset recharge
//! totals that fire one-time commissions. The calculation's transaction is built
//! from these pieces by `services::commissions`.

use super::cursor::{Cursor, Source};
use super::keys;
use super::lists::Filter;
use super::tx::{Cond, Tx, Upd};
use super::wallets::sum_attr;
use super::{from_item, n, num_attr, s, to_item, Item, On, SkCond, Store, StoreError};
use crate::domain::assets::AssetType;
use crate::domain::commission::calc::{Recharges, SalesStats};
use crate::domain::commission::statement::MonthTotals;
use crate::domain::commission::{CommissionKind, CommissionRecord, CommissionStatus};
use crate::paging::CursorPage;

/// Label of a record put in a calculation.
pub const RECORD_LABEL: &str = "commission_record";
/// Label of a one-time marker put in a calculation.
pub const ONE_TIME_LABEL: &str = "one_time_marker";
/// Label of a statistics update in a calculation.
pub const STATS_LABEL: &str = "sales_stats";

fn record_sort(at: i64, id: u64) -> String {
    format!("{:012}#{id:020}", at.max(0))
}

fn record_key(r: &CommissionRecord) -> super::Key {
    keys::commission_record(r.order_id, r.shop_level, r.commission_type.as_str())
}

/// The record's item with its list attributes (and its unfreeze due entry while
/// frozen).
fn record_item(r: &CommissionRecord) -> Result<Item, StoreError> {
    let mut item = to_item(r, &record_key(r))?;
    let sort = record_sort(r.at, r.id);
    item.insert("gsi1pk".into(), s(keys::shop_commissions(r.shop_id)));
    item.insert("gsi1sk".into(), s(sort.clone()));
    item.insert("gsi2pk".into(), s(keys::COMMISSIONS_ALL));
    item.insert("gsi2sk".into(), s(sort));
    if r.status == CommissionStatus::Frozen {
        item.insert(
            "gsi3pk".into(),
            s(keys::commission_unfreeze_due(r.id % keys::UNFREEZE_SHARDS)),
        );
        item.insert(
            "gsi3sk".into(),
            s(keys::usage_due_sort(r.unfreeze_at, r.id)),
        );
    }
    Ok(item)
}

/// Adds a new record to `tx` (refused if it exists: a calculation writes it once).
pub fn new_record_ops(tx: Tx, r: &CommissionRecord) -> Result<Tx, StoreError> {
    Ok(tx.put(RECORD_LABEL, record_item(r)?, Some(Cond::absent())))
}

/// Adds the unfreezing of `r` to `tx`: `frozen → available` on condition that it is
/// still frozen; it leaves the unfreeze index.
pub fn unfreeze_record_ops(tx: Tx, r: &CommissionRecord, at: i64) -> Tx {
    let upd = Upd::new("SET #status = :available, unfrozen_at = :at REMOVE gsi3pk, gsi3sk")
        .name("#status", "status")
        .value(":available", s(CommissionStatus::Available.as_str()))
        .value(":at", n(at));
    let cond = Cond::new("#status = :frozen")
        .name("#status", "status")
        .value(":frozen", s(CommissionStatus::Frozen.as_str()));
    tx.update(RECORD_LABEL, &record_key(r), upd, Some(cond))
}

/// Adds the one-time marker of an asset's generation and series to `tx` (refused if
/// it exists: one one-time commission per asset, generation and series).
pub fn one_time_ops(
    tx: Tx,
    (t, asset_id, generation): (AssetType, u64, i64),
    series_id: u64,
    order_id: u64,
) -> Tx {
    let mut item = keys::one_time_marker(t, asset_id, generation, series_id).item();
    item.insert("order_id".into(), n(order_id));
    tx.put(ONE_TIME_LABEL, item, Some(Cond::absent()))
}

/// A shop's statistics of one series and month as read, with the version the
/// calculation's update is conditioned on (0: none yet).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct StatsRow {
    pub stats: SalesStats,
    pub version: i64,
}

/// The statistics in `item`.
pub fn stats_row(item: &Item) -> StatsRow {
    let v = |name| num_attr(item, name).unwrap_or(0);
    StatsRow {
        stats: SalesStats {
            own_count: v("own_count"),
            own_amount: v("own_amount"),
            tree_count: v("tree_count"),
            tree_amount: v("tree_amount"),
        },
        version: v("version"),
    }
}

/// Adds `add` to a shop's statistics of `series_id` in month `yyyymm`, on condition
/// that they are still at the version read (tiers were matched against them).
pub fn stats_ops(
    tx: Tx,
    (shop, series_id, yyyymm): (u64, u64, u32),
    add: SalesStats,
    read_version: i64,
) -> Tx {
    let upd = Upd::new(
        "ADD own_count :oc, own_amount :oa, tree_count :tc, tree_amount :ta, version :one",
    )
    .value(":oc", n(add.own_count))
    .value(":oa", n(add.own_amount))
    .value(":tc", n(add.tree_count))
    .value(":ta", n(add.tree_amount))
    .value(":one", n(1));
    let cond = if read_version == 0 {
        Cond::absent()
    } else {
        Cond::version(read_version)
    };
    tx.update(
        STATS_LABEL,
        &keys::series_stats(shop, series_id, yyyymm),
        upd,
        Some(cond),
    )
}

/// The month-totals attribute of commissions of `kind` and series `series_id`.
pub fn commission_attr(kind: CommissionKind, series_id: u64) -> String {
    format!("c_{}_{series_id}", kind.as_str())
}

/// A movement of a month's totals.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MonthFigure {
    Commission(CommissionKind, u64),
    Unfrozen,
    WithdrawalRequested,
    Withdrawn,
    WithdrawalReturned,
    Fees,
}

impl MonthFigure {
    fn attr(self) -> String {
        match self {
            MonthFigure::Commission(kind, series) => commission_attr(kind, series),
            MonthFigure::Unfrozen => "unfrozen".into(),
            MonthFigure::WithdrawalRequested => "withdrawal_requested".into(),
            MonthFigure::Withdrawn => "withdrawn".into(),
            MonthFigure::WithdrawalReturned => "withdrawal_returned".into(),
            MonthFigure::Fees => "fees".into(),
        }
    }
}

/// Adds `figures` to a shop's totals of month `yyyymm` (counters: the transaction
/// they join is what guards them).
pub fn month_ops(tx: Tx, (shop, yyyymm): (u64, u32), figures: &[(MonthFigure, i64)]) -> Tx {
    let mut sums: std::collections::BTreeMap<String, i64> = std::collections::BTreeMap::new();
    for (f, a) in figures {
        *sums.entry(f.attr()).or_default() += a;
    }
    if sums.is_empty() {
        return tx;
    }
    let parts: Vec<String> = (0..sums.len()).map(|i| format!("#m{i} :m{i}")).collect();
    let mut upd = Upd::new(format!("ADD {}", parts.join(", ")));
    for (i, (k, v)) in sums.iter().enumerate() {
        upd = upd
            .name(&format!("#m{i}"), k)
            .value(&format!(":m{i}"), n(*v));
    }
    tx.update(
        "month_totals",
        &keys::commission_month(shop, yyyymm),
        upd,
        None,
    )
}

/// The totals in a month item.
pub fn month_totals(item: &Item) -> MonthTotals {
    let v = |name| num_attr(item, name).unwrap_or(0);
    let mut commissions = Vec::new();
    for (k, _) in item.iter() {
        for kind in [CommissionKind::PriceDifference, CommissionKind::OneTime] {
            let prefix = format!("c_{}_", kind.as_str());
            if let Some(series) = k.strip_prefix(&prefix).and_then(|x| x.parse().ok()) {
                commissions.push((kind, series, v(k)));
            }
        }
    }
    MonthTotals {
        commissions,
        unfrozen: v("unfrozen"),
        withdrawal_requested: v("withdrawal_requested"),
        withdrawn: v("withdrawn"),
        withdrawal_returned: v("withdrawal_returned"),
        fees: v("fees"),
    }
}

/// The recharge totals in `item`.
pub fn recharges(item: &Item) -> Recharges {
    Recharges {
        first_recharge_amount: num_attr(item, "first_recharge_amount").unwrap_or(0),
        total_recharged: num_attr(item, "total_recharged").unwrap_or(0),
    }
}

/// A shop's commission wallet with the sums its lines keep
/// (`store::wallets::sum_attr`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CommissionAccount {
    pub balance: i64,
    pub frozen: i64,
    /// Commissions credited and not yet unfrozen.
    pub frozen_commission: i64,
    /// Withdrawals requested and not yet reviewed.
    pub pending_withdrawal: i64,
    pub total_commission: i64,
    pub withdrawn_total: i64,
}

fn account(item: &Item) -> CommissionAccount {
    use crate::domain::wallet::{MovementKind as M, TxType as T};
    let sum = |t, m| num_attr(item, &sum_attr(t, m)).unwrap_or(0);
    let total = sum(T::Commission, M::CreditFrozen);
    let requested = sum(T::Withdrawal, M::Freeze);
    let withdrawn = sum(T::Withdrawal, M::DebitFrozen);
    CommissionAccount {
        balance: num_attr(item, "balance").unwrap_or(0),
        frozen: num_attr(item, "frozen_balance").unwrap_or(0),
        frozen_commission: total - sum(T::Commission, M::Unfreeze),
        pending_withdrawal: requested - withdrawn - sum(T::Withdrawal, M::Unfreeze),
        total_commission: total,
        withdrawn_total: withdrawn,
    }
}

/// Filters of a commission record page.
#[derive(Clone, Copy, Debug, Default)]
pub struct RecordQuery {
    pub kind: Option<CommissionKind>,
    pub status: Option<CommissionStatus>,
    /// Credited at or after (epoch seconds).
    pub from: Option<i64>,
    /// Credited at or before.
    pub to: Option<i64>,
}

impl Store {
    /// The commission accounts of `shops` (one batch read of their wallets).
    pub async fn commission_accounts(
        &self,
        shops: &[u64],
    ) -> Result<std::collections::HashMap<u64, CommissionAccount>, StoreError> {
        let wanted: Vec<super::Key> = shops
            .iter()
            .map(|id| keys::agent_wallet(*id, "commission"))
            .collect();
        let items = self.get_many(&wanted).await?;
        Ok(items
            .iter()
            .filter_map(|i| Some((num_attr(i, "shop_id")? as u64, account(i))))
            .collect())
    }

    /// One page of commission records, newest first: `shop`'s, or every record for
    /// `None`; the kind and status filtered in DynamoDB.
    pub async fn commission_page(
        &self,
        shop: Option<u64>,
        q: &RecordQuery,
        page_size: u32,
        cursor: Cursor,
    ) -> Result<CursorPage<CommissionRecord>, StoreError> {
        let (from, to) = keys::time_range(q.from.unwrap_or(0), q.to.unwrap_or(i64::MAX / 2));
        let (on, partition) = match shop {
            Some(shop) => (On::Gsi1, keys::shop_commissions(shop)),
            None => (On::Gsi2, keys::COMMISSIONS_ALL.to_string()),
        };
        let source = Source::scope(on, partition, SkCond::Between(from, to)).backward();
        let filter = Filter::new()
            .eq_str("commission_type", q.kind.map(CommissionKind::as_str))
            .eq_str("status", q.status.map(CommissionStatus::as_str));
        self.read_page(
            &source,
            filter.cond(),
            page_size,
            cursor,
            |_: &CommissionRecord| true,
        )
        .await
    }

    /// The commission records of order `order_id` (one Query of its partition).
    pub async fn order_commissions(
        &self,
        order_id: u64,
    ) -> Result<Vec<CommissionRecord>, StoreError> {
        let pk = keys::order(order_id).pk;
        self.query_prefix(On::Table, &pk, keys::COMMISSION_RECORD_PREFIX)
            .await?
            .into_iter()
            .map(from_item)
            .collect()
    }

    /// Up to `limit` frozen records of shard `shard` that are withdrawable by `now`,
    /// earliest first (the sparse unfreeze index holds only frozen records).
    pub async fn commissions_to_unfreeze(
        &self,
        shard: u64,
        now: i64,
        limit: i32,
    ) -> Result<Vec<CommissionRecord>, StoreError> {
        let (from, to) = keys::time_range(0, now);
        let q = super::Query {
            on: On::Gsi3,
            pk: keys::commission_unfreeze_due(shard),
            sk: SkCond::Between(from, to),
            filter: None,
            limit: Some(limit),
            start: None,
            backward: false,
        };
        let (items, _) = self.query(&q).await?;
        items.into_iter().map(from_item).collect()
    }

    /// A record as stored now (strongly consistent).
    pub async fn commission_record(
        &self,
        r: &CommissionRecord,
    ) -> Result<Option<CommissionRecord>, StoreError> {
        self.get_as(&record_key(r)).await
    }

    /// A shop's totals of month `yyyymm`.
    pub async fn commission_month(
        &self,
        shop: u64,
        yyyymm: u32,
    ) -> Result<MonthTotals, StoreError> {
        Ok(self
            .get(&keys::commission_month(shop, yyyymm))
            .await?
            .map(|i| month_totals(&i))
            .unwrap_or_default())
    }

    /// Counts a recharge of `amount` fen of an asset's generation in its recharge
    /// totals (the first one is also its first recharge), once per `event_id`: what
    /// the asset-wallet recharge flow records in the same transaction as the credit.
    /// Answers false for an event counted before.
    pub async fn record_asset_recharge(
        &self,
        event_id: &str,
        (t, asset_id, generation): (AssetType, u64, i64),
        amount: i64,
        at: i64,
    ) -> Result<bool, StoreError> {
        let mut marker = keys::asset_recharge_event(event_id).item();
        marker.insert("amount".into(), n(amount));
        let upd = Upd::new(
            "SET first_recharge_amount = if_not_exists(first_recharge_amount, :a), \
             first_recharged_at = if_not_exists(first_recharged_at, :at) \
             ADD total_recharged :a, version :one",
        )
        .value(":a", n(amount))
        .value(":at", n(at))
        .value(":one", n(1));
        let tx = Tx::new()
            .put("recharge_event", marker, Some(Cond::absent()))
            .update(
                "recharge_totals",
                &keys::asset_recharges(t, asset_id, generation),
                upd,
                None,
            );
        match self.transact(tx).await {
            Ok(()) => Ok(true),
            Err(StoreError::ConditionFailed { .. }) => Ok(false),
            Err(e) => Err(e),
        }
    }
}
