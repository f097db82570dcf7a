//! Commissions (domain.md §4.10, §5.5; jobs.md J14): the records an order's
//! commission calculation writes, their ids and ledger event ids, their freeze rule,
//! and the period their sales statistics count in. The calculation itself is
//! [`calc`]; withdrawals are [`super::withdrawal`].
//!
//! A record is one (order, beneficiary shop, kind): the price difference of all the
//! order's items for that shop is one record (its `items` say how much each item
//! gave), and the one-time commission of all the order's series is another. Both
//! are derived from the order, so a recalculation writes the same keys and ids.

pub mod calc;
pub mod statement;

use chrono::{Datelike, TimeZone};
use serde::{Deserialize, Serialize};

use crate::clock::cst;

/// Days a commission stays frozen after it is credited, unless the withdrawal
/// settings say otherwise (the spec is silent; see docs/commissions.md).
pub const DEFAULT_UNFREEZE_DAYS: i64 = 7;

/// Most shops in a chain (the shop tree is at most 7 levels deep).
pub const MAX_CHAIN: usize = 7;

/// The two kinds of commission.
#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum CommissionKind {
    /// 差价佣金: what the shop's price is above the price of the shop above it.
    PriceDifference,
    /// 一次性佣金: once per asset, generation and series, when the trigger holds.
    OneTime,
}

impl CommissionKind {
    /// The stored (and answered) name.
    pub fn as_str(self) -> &'static str {
        match self {
            CommissionKind::PriceDifference => "price_difference",
            CommissionKind::OneTime => "one_time",
        }
    }

    fn index(self) -> u64 {
        match self {
            CommissionKind::PriceDifference => 0,
            CommissionKind::OneTime => 1,
        }
    }
}

/// Where a commission record is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum CommissionStatus {
    /// Credited to the commission wallet but frozen (not yet withdrawable).
    Frozen,
    /// Unfrozen: part of the wallet's available balance.
    Available,
}

impl CommissionStatus {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            CommissionStatus::Frozen => "frozen",
            CommissionStatus::Available => "available",
        }
    }
}

/// What one order item gave one shop.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct RecordItem {
    pub package_id: u64,
    pub series_id: u64,
    /// Fen.
    pub amount: i64,
}

/// A commission record (CommissionRecord), as stored and answered.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct CommissionRecord {
    /// Derived from the order, the shop's level and the kind ([`record_id`]).
    pub id: u64,
    /// Beneficiary shop.
    pub shop_id: u64,
    pub shop_name: String,
    /// Level of the beneficiary in the chain (1 = level-1 shop).
    pub shop_level: u8,
    pub order_id: u64,
    pub order_no: String,
    /// `admin` (platform purchase on behalf) or `client`.
    pub order_source: String,
    pub commission_type: CommissionKind,
    /// Fen, positive.
    pub amount: i64,
    pub status: CommissionStatus,
    /// What each item (price difference) or series (one-time) gave.
    pub items: Vec<RecordItem>,
    pub iot_card_id: Option<u64>,
    pub device_id: Option<u64>,
    pub virtual_no: Option<String>,
    pub iccid: Option<String>,
    /// The series of the first item (all of them in `items`).
    pub series_id: u64,
    pub series_name: Option<String>,
    /// Ledger event of the credit.
    pub event_id: String,
    /// When it was credited (RFC 3339) and as epoch seconds.
    pub created_at: String,
    pub at: i64,
    /// When it becomes withdrawable (epoch seconds).
    pub unfreeze_at: i64,
    /// When it was unfrozen.
    #[serde(default)]
    pub unfrozen_at: Option<i64>,
}

/// The id of the record of `order_id` for the chain shop at `level` (1..=7) and
/// `kind`: unique, and the same at every recalculation.
pub fn record_id(order_id: u64, level: u8, kind: CommissionKind) -> u64 {
    let slot = u64::from(level.clamp(1, MAX_CHAIN as u8) - 1) * 2 + kind.index();
    order_id.saturating_mul(16).saturating_add(slot)
}

/// Ledger event id of a commission credit (`commission:{order}:{shop}:{kind}`).
pub fn credit_event(order_id: u64, shop_id: u64, kind: CommissionKind) -> String {
    format!("commission:{order_id}:{shop_id}:{}", kind.as_str())
}

/// Ledger event id of the unfreezing of a commission credit.
pub fn unfreeze_event(credit_event: &str) -> String {
    format!("{credit_event}:unfreeze")
}

/// When a commission credited at `at` becomes withdrawable.
pub fn unfreeze_at(at: i64, unfreeze_days: i64) -> i64 {
    at.saturating_add(unfreeze_days.max(0).saturating_mul(86_400))
}

/// The month (`YYYYMM`, Asia/Shanghai) that `at` falls in: the period of sales
/// statistics and of statements.
pub fn month_of(at: i64) -> u32 {
    let t = cst().timestamp_opt(at, 0).single().unwrap_or_default();
    t.year().max(0) as u32 * 100 + t.month()
}

/// First second of month `yyyymm` (Asia/Shanghai) and first second of the next, or
/// `None` for a month that does not exist.
pub fn month_bounds(yyyymm: u32) -> Option<(i64, i64)> {
    let (y, m) = ((yyyymm / 100) as i32, yyyymm % 100);
    if !(1..=12).contains(&m) || !(2000..=9999).contains(&y) {
        return None;
    }
    let (ny, nm) = if m == 12 { (y + 1, 1) } else { (y, m + 1) };
    let start = cst().with_ymd_and_hms(y, m, 1, 0, 0, 0).single()?;
    let end = cst().with_ymd_and_hms(ny, nm, 1, 0, 0, 0).single()?;
    Some((start.timestamp(), end.timestamp()))
}

/// Parses `YYYY-MM` into `YYYYMM`.
pub fn parse_month(text: &str) -> Option<u32> {
    let (y, m) = text.split_once('-')?;
    if y.len() != 4 || m.len() != 2 {
        return None;
    }
    let v = y.parse::<u32>().ok()? * 100 + m.parse::<u32>().ok()?;
    month_bounds(v).map(|_| v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_and_events_are_derived_and_distinct() {
        let mut seen = std::collections::HashSet::new();
        for level in 1..=7 {
            for kind in [CommissionKind::PriceDifference, CommissionKind::OneTime] {
                assert!(seen.insert(record_id(41, level, kind)));
            }
        }
        assert!(!seen.contains(&record_id(42, 1, CommissionKind::PriceDifference)));
        assert_eq!(
            credit_event(9, 3, CommissionKind::OneTime),
            "commission:9:3:one_time"
        );
        assert_eq!(
            unfreeze_event("commission:9:3:one_time"),
            "commission:9:3:one_time:unfreeze"
        );
        assert_eq!(unfreeze_at(100, 7), 100 + 7 * 86_400);
    }

    #[test]
    fn months_are_shanghai_months() {
        // 2026-01-31 16:00 UTC is 2026-02-01 00:00 in Shanghai.
        assert_eq!(month_of(1_769_875_200), 202602);
        assert_eq!(month_of(1_769_875_199), 202601);
        let (a, b) = month_bounds(202602).unwrap();
        assert_eq!(a, 1_769_875_200);
        assert_eq!(b - a, 28 * 86_400);
        assert_eq!(month_bounds(202613), None);
        assert_eq!(parse_month("2026-02"), Some(202602));
        for bad in ["2026-2", "2026-13", "26-02", "x", "2026-02-01"] {
            assert_eq!(parse_month(bad), None, "{bad}");
        }
    }
}
