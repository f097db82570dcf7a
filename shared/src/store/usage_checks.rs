//! The writes of a card data check (jobs.md J6): the card's new monthly usage, the
//! usages that absorbed the new data, their daily records and the card's daily
//! usage, and the usage-rule firings, in one transaction conditioned on the
//! versions read, so a duplicate or racing check of the same card fails instead of
//! deducting (or firing) twice.

use rust_decimal::Decimal;

use super::keys::{self, daily_record};
use super::tx::{Cond, Tx, Upd};
use super::usages::usage_item;
use super::{n, s, Item, Store, StoreError};
use crate::domain::usage::PackageUsage;

/// Daily records and card daily usage are kept this long by default (DynamoDB TTL;
/// the ops guide's 180 days).
pub const DAILY_RETENTION_SECS: i64 = 180 * 86_400;

/// What one usage absorbed on one day.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DailyAdd {
    pub usage_id: u64,
    /// `YYYY-MM-DD` (Asia/Shanghai).
    pub date: String,
    pub add_mb: i64,
    /// The usage's real usage after the addition.
    pub cumulative_mb: i64,
}

/// A card data check's changes.
#[derive(Clone, Debug)]
pub struct UsageCheck<'a> {
    /// The card's new item and the version it was read at.
    pub card: (Item, i64),
    pub card_id: u64,
    /// Changed usages (their `version` already bumped; written conditioned on the
    /// previous one).
    pub usages: &'a [PackageUsage],
    pub days: &'a [DailyAdd],
    /// The card's data on `date` grows by this much (MB).
    pub card_day: Option<(&'a str, Decimal)>,
    /// Usage-rule firings of this deduction (new items).
    pub firings: Vec<Item>,
    pub now: i64,
}

impl Store {
    /// Writes a card data check (at most 2 + 2 × usages + firings operations; a card
    /// holds a handful of live usages and a scope at most 20 rules per scope on its
    /// path, and more than 100 is refused by the transaction builder with an error).
    pub async fn record_usage_check(&self, c: UsageCheck<'_>) -> Result<(), StoreError> {
        let (card_item, card_version) = c.card;
        let mut tx = Tx::new().put(
            "card",
            card_item,
            Some(Cond::live().and(Cond::version(card_version))),
        );
        for u in c.usages {
            tx = tx.put("usage", usage_item(u)?, Some(Cond::version(u.version - 1)));
        }
        let ttl = c.now + DAILY_RETENTION_SECS;
        for d in c.days {
            tx = tx.update(
                "daily",
                &daily_record(d.usage_id, &d.date),
                Upd::new(
                    "ADD daily_usage_mb :add SET cumulative_usage_mb = :cum, #d = :date, \
                     expires_at = :ttl",
                )
                .name("#d", "date")
                .value(":add", n(d.add_mb))
                .value(":cum", n(d.cumulative_mb))
                .value(":date", s(&d.date))
                .value(":ttl", n(ttl)),
                None,
            );
        }
        if let Some((date, mb)) = c.card_day {
            tx = tx.update(
                "card_day",
                &keys::card_daily(c.card_id, date),
                Upd::new("ADD usage_mb :add SET #d = :date, expires_at = :ttl")
                    .name("#d", "date")
                    .value(":add", n(mb))
                    .value(":date", s(date))
                    .value(":ttl", n(ttl)),
                None,
            );
        }
        for f in c.firings {
            tx = tx.put_new(super::usage_rules::FIRING_LABEL, f);
        }
        self.transact(tx).await
    }
}
