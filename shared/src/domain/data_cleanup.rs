//! Data cleanup (jobs.md J3, domain.md §4.14): which kinds of items can be cleaned,
//! their default retention (kept by DynamoDB TTL), the configurations that shorten
//! it and the log of each run.
//!
//! Every cleanable item is written with `expires_at = written + default retention`
//! (the table's TTL attribute) and in its kind's time-ordered cleanup index
//! (`store::keys::cleanup_index`). TTL removes items at the default retention for
//! free; a configuration only matters when it keeps items for less, and the job then
//! deletes, oldest first, what TTL has not reached yet.

use serde::{Deserialize, Serialize};

use super::validate::{int_in, Invalid};

/// A kind of items the cleanup job may delete.
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
pub enum CleanupTarget {
    /// Polling alert history entries.
    PollingAlertHistory,
    /// Polling manual trigger logs.
    PollingManualTriggerLogs,
    /// The cleanup job's own logs.
    DataCleanupLogs,
    /// Package usage daily records.
    UsageDailyRecords,
    /// Card daily usage records.
    CardDailyUsage,
    /// Alert webhook delivery records.
    WebhookDeliveries,
}

impl CleanupTarget {
    /// Every target.
    pub const ALL: [CleanupTarget; 6] = [
        CleanupTarget::PollingAlertHistory,
        CleanupTarget::PollingManualTriggerLogs,
        CleanupTarget::DataCleanupLogs,
        CleanupTarget::UsageDailyRecords,
        CleanupTarget::CardDailyUsage,
        CleanupTarget::WebhookDeliveries,
    ];

    /// The wire name (also the kind in the cleanup index partition).
    pub fn as_str(self) -> &'static str {
        match self {
            CleanupTarget::PollingAlertHistory => "polling_alert_history",
            CleanupTarget::PollingManualTriggerLogs => "polling_manual_trigger_logs",
            CleanupTarget::DataCleanupLogs => "data_cleanup_logs",
            CleanupTarget::UsageDailyRecords => "usage_daily_records",
            CleanupTarget::CardDailyUsage => "card_daily_usage",
            CleanupTarget::WebhookDeliveries => "webhook_deliveries",
        }
    }

    /// The target named `s`.
    pub fn parse(s: &str) -> Option<CleanupTarget> {
        CleanupTarget::ALL.into_iter().find(|t| t.as_str() == s)
    }

    /// Days an item of this kind lives by default: its `expires_at` is set this far
    /// after it is written (the ops guide's 180 days for the daily tables).
    pub fn default_retention_days(self) -> i64 {
        match self {
            CleanupTarget::UsageDailyRecords | CleanupTarget::CardDailyUsage => 180,
            CleanupTarget::DataCleanupLogs => 180,
            CleanupTarget::PollingAlertHistory | CleanupTarget::PollingManualTriggerLogs => 90,
            CleanupTarget::WebhookDeliveries => 30,
        }
    }

    /// The `expires_at` (epoch seconds) of an item of this kind written at `at`.
    pub fn expires_at(self, at: i64) -> i64 {
        at.saturating_add(self.default_retention_days() * DAY_SECS)
    }
}

/// Seconds in a day.
pub const DAY_SECS: i64 = 86_400;
/// Shortest retention accepted.
pub const MIN_RETENTION_DAYS: i64 = 1;
/// Items deleted per batch when a configuration names none.
pub const DEFAULT_BATCH_SIZE: i64 = 500;
/// Accepted batch sizes (one index query and 1–40 `BatchWriteItem` calls each).
pub const BATCH_SIZE_RANGE: std::ops::RangeInclusive<i64> = 25..=1000;

/// A cleanup configuration (at most one per target).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct DataCleanupConfig {
    pub id: u64,
    pub target: CleanupTarget,
    /// Items older than this many days are deleted (at most the target's default
    /// retention: TTL removes them then anyway).
    pub retention_days: i64,
    pub enabled: bool,
    /// Items deleted per batch.
    pub batch_size: i64,
    pub created_at: String,
    pub updated_at: String,
    pub version: i64,
}

/// The outcome of one configuration's cleanup in one run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum CleanupStatus {
    /// Started, not finished (or the run died; the next run goes on).
    Running,
    /// Everything older than the cutoff was deleted.
    Success,
    /// The run's time budget ran out; the next run continues (oldest first).
    Partial,
    /// An error stopped it (see `error`).
    Failed,
}

/// The log of one configuration's cleanup in one run.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct DataCleanupLog {
    pub id: u64,
    pub config_id: u64,
    pub target: CleanupTarget,
    /// The run this belongs to (a manual run answers it).
    pub run_id: String,
    /// `schedule` or `manual`.
    pub trigger: String,
    /// Items older than this (epoch seconds) were deleted.
    pub cutoff: i64,
    pub started_at: String,
    #[serde(default)]
    pub finished_at: Option<String>,
    /// Delete requests sent (an index entry read twice counts twice).
    pub deleted_count: u64,
    pub status: CleanupStatus,
    #[serde(default)]
    pub error: Option<String>,
}

/// The target named `raw`, or `1001` naming the accepted ones.
pub fn parse_target(raw: &str) -> Result<CleanupTarget, Invalid> {
    CleanupTarget::parse(raw.trim()).ok_or_else(|| {
        let names: Vec<&str> = CleanupTarget::ALL.iter().map(|t| t.as_str()).collect();
        Invalid::new(
            format!("未知的清理对象 {raw},可选:{}", names.join(", ")),
            format!(
                "unknown target {raw:?}: expected one of {}",
                names.join(", ")
            ),
        )
    })
}

/// A retention of at least one day and at most the target's default retention.
pub fn check_retention(target: CleanupTarget, days: i64) -> Result<i64, Invalid> {
    let max = target.default_retention_days();
    if (MIN_RETENTION_DAYS..=max).contains(&days) {
        return Ok(days);
    }
    Err(Invalid::new(
        format!(
            "retention_days须在{MIN_RETENTION_DAYS}到{max}之间({}的数据{max}天后自动过期)",
            target.as_str()
        ),
        format!(
            "retention_days must be between {MIN_RETENTION_DAYS} and {max} ({} items expire after {max} days anyway)",
            target.as_str()
        ),
    ))
}

/// A batch size in [`BATCH_SIZE_RANGE`] (default [`DEFAULT_BATCH_SIZE`]).
pub fn check_batch_size(size: Option<i64>) -> Result<i64, Invalid> {
    int_in(
        "batch_size",
        size.unwrap_or(DEFAULT_BATCH_SIZE),
        BATCH_SIZE_RANGE,
    )
}

/// Items written before this (epoch seconds) are older than `retention_days` at `now`.
pub fn cutoff(now: i64, retention_days: i64) -> i64 {
    now.saturating_sub(retention_days.saturating_mul(DAY_SECS))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_unknown_ones_are_named() {
        for t in CleanupTarget::ALL {
            assert_eq!(CleanupTarget::parse(t.as_str()), Some(t));
        }
        let e = parse_target("orders").unwrap_err().to_string();
        assert!(e.contains("usage_daily_records"), "{e}");
    }

    #[test]
    fn retention_is_bounded_by_the_ttl() {
        let t = CleanupTarget::UsageDailyRecords;
        assert_eq!(check_retention(t, 30), Ok(30));
        assert!(check_retention(t, 0).is_err());
        assert!(check_retention(t, 181).is_err());
        assert_eq!(t.expires_at(0), 180 * DAY_SECS);
        assert_eq!(cutoff(10 * DAY_SECS, 3), 7 * DAY_SECS);
        assert_eq!(check_batch_size(None), Ok(DEFAULT_BATCH_SIZE));
        assert!(check_batch_size(Some(5)).is_err());
    }
}
