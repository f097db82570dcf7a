//! Carrier polling rules (jobs.md J4–J9, api.md §23): the four task types, their
//! configurable intervals and filters, the concurrency limit protecting the carrier
//! gateway, and the cohorts that schedule cards.
//!
//! Cards are scheduled in **cohorts**: a cohort is one item holding many card ids,
//! due at one minute. The dispatcher claims a due cohort, moves it whole to its next
//! minute and sends its cards in batched messages, so scheduling costs a few writes
//! per cohort, not one per card check.

use serde::{Deserialize, Serialize};

use super::assets::IotCard;
use super::validate::{int_in, text, Invalid};
use crate::config::JobQueue;

/// A polling task type.
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
pub enum TaskType {
    /// Real-name status (J5).
    Realname,
    /// Data usage and deduction (J6).
    Carddata,
    /// Package exhaustion and expiry → stop/resume (J7).
    Package,
    /// Device protect-period consistency (J8).
    Protect,
}

impl TaskType {
    /// Every task type.
    pub const ALL: [TaskType; 4] = [
        TaskType::Realname,
        TaskType::Carddata,
        TaskType::Package,
        TaskType::Protect,
    ];

    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            TaskType::Realname => "realname",
            TaskType::Carddata => "carddata",
            TaskType::Package => "package",
            TaskType::Protect => "protect",
        }
    }

    /// The task type named `s`.
    pub fn parse(s: &str) -> Option<TaskType> {
        TaskType::ALL.into_iter().find(|t| t.as_str() == s)
    }

    /// The default interval (jobs.md appendix: real-name 5 min, the others 10 min).
    pub fn default_interval_secs(self) -> i64 {
        match self {
            TaskType::Realname => 300,
            _ => 600,
        }
    }

    /// The queue its checks go to.
    pub fn queue(self) -> JobQueue {
        match self {
            TaskType::Realname => JobQueue::PollingRealname,
            TaskType::Carddata => JobQueue::PollingCarddata,
            TaskType::Package => JobQueue::PollingPackage,
            TaskType::Protect => JobQueue::PollingProtect,
        }
    }
}

/// Default concurrent gateway checks per task type (jobs.md J4).
pub const DEFAULT_MAX_CONCURRENCY: i64 = 50;
/// Highest accepted concurrency per task type.
pub const MAX_CONCURRENCY_LIMIT: i64 = 1000;
/// Shortest accepted interval: the dispatcher runs once a minute.
pub const MIN_INTERVAL_SECS: i64 = 60;
/// Longest accepted interval (one day).
pub const MAX_INTERVAL_SECS: i64 = 86_400;
/// Cohorts per minute and task type: a card joins cohort `id % COHORT_SHARDS`. At
/// 1 million cards and a 10-minute interval a cohort holds ~6 250 ids (~60 KB).
pub const COHORT_SHARDS: u64 = 16;
/// Cards per check message (10 messages per `SendMessageBatch`).
pub const CARDS_PER_MESSAGE: usize = 25;

/// Which cards a task type checks, beyond `enable_polling` and not deleted. An empty
/// list means "any".
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct PollFilters {
    /// Only cards of these carriers.
    #[serde(default)]
    pub carrier_ids: Vec<u64>,
    /// Only cards of these categories.
    #[serde(default)]
    pub card_categories: Vec<String>,
}

impl PollFilters {
    /// Whether `card` passes the filters.
    pub fn matches(&self, card: &IotCard) -> bool {
        (self.carrier_ids.is_empty() || self.carrier_ids.contains(&card.carrier_id))
            && (self.card_categories.is_empty()
                || card
                    .card_category
                    .as_ref()
                    .is_some_and(|c| self.card_categories.contains(c)))
    }
}

/// A task type's polling configuration (at most one per task type; a task type
/// without one polls with its defaults).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct PollingConfig {
    pub id: u64,
    pub task_type: TaskType,
    pub interval_seconds: i64,
    pub enabled: bool,
    #[serde(default)]
    pub filters: PollFilters,
    pub created_at: String,
    pub updated_at: String,
    pub version: i64,
}

/// What a task type does now: its configuration, or the defaults.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Effective {
    pub interval_secs: i64,
    pub enabled: bool,
    pub filters: PollFilters,
}

impl Effective {
    /// The effective settings of `task` under `config`.
    pub fn of(task: TaskType, config: Option<&PollingConfig>) -> Self {
        match config {
            Some(c) => Effective {
                interval_secs: c
                    .interval_seconds
                    .clamp(MIN_INTERVAL_SECS, MAX_INTERVAL_SECS),
                enabled: c.enabled,
                filters: c.filters.clone(),
            },
            None => Effective {
                interval_secs: task.default_interval_secs(),
                enabled: true,
                filters: PollFilters::default(),
            },
        }
    }
}

/// Most carriers a filter names.
pub const MAX_FILTER_CARRIERS: usize = 100;
/// Most card categories a filter names.
pub const MAX_FILTER_CATEGORIES: usize = 20;

/// The task type named `raw`, or `1001` naming the accepted ones.
pub fn parse_task_type(raw: &str) -> Result<TaskType, Invalid> {
    TaskType::parse(raw.trim()).ok_or_else(|| {
        let names: Vec<&str> = TaskType::ALL.iter().map(|t| t.as_str()).collect();
        Invalid::new(
            format!("未知的任务类型 {raw},可选:{}", names.join(", ")),
            format!(
                "unknown task_type {raw:?}: expected one of {}",
                names.join(", ")
            ),
        )
    })
}

/// A polling interval within [`MIN_INTERVAL_SECS`]..=[`MAX_INTERVAL_SECS`].
pub fn check_interval(secs: i64) -> Result<i64, Invalid> {
    int_in(
        "interval_seconds",
        secs,
        MIN_INTERVAL_SECS..=MAX_INTERVAL_SECS,
    )
}

/// Filters cleaned: ids deduplicated, categories trimmed, non-empty and unique,
/// both lists bounded.
pub fn check_filters(f: PollFilters) -> Result<PollFilters, Invalid> {
    let mut carrier_ids = f.carrier_ids;
    carrier_ids.sort_unstable();
    carrier_ids.dedup();
    if carrier_ids.len() > MAX_FILTER_CARRIERS || carrier_ids.contains(&0) {
        return Err(Invalid::new(
            format!("filters.carrier_ids最多{MAX_FILTER_CARRIERS}个正整数"),
            format!("filters.carrier_ids takes at most {MAX_FILTER_CARRIERS} positive ids"),
        ));
    }
    let mut card_categories = Vec::with_capacity(f.card_categories.len());
    for c in &f.card_categories {
        let c = text("filters.card_categories", c, 32)?;
        if !card_categories.contains(&c) {
            card_categories.push(c);
        }
    }
    if card_categories.len() > MAX_FILTER_CATEGORIES {
        return Err(Invalid::new(
            format!("filters.card_categories最多{MAX_FILTER_CATEGORIES}个"),
            format!("filters.card_categories takes at most {MAX_FILTER_CATEGORIES} values"),
        ));
    }
    Ok(PollFilters {
        carrier_ids,
        card_categories,
    })
}

/// The minute (epoch seconds / 60) of `epoch`.
pub fn minute(epoch: i64) -> i64 {
    epoch.div_euclid(60)
}

/// The cohort shard of card `id`.
pub fn shard(id: u64) -> u64 {
    id % COHORT_SHARDS
}

/// The first check minute of the `index`-th of `count` cards joining at `now`,
/// spread evenly over `interval_secs` (imports and backfills avoid a thundering herd).
pub fn spread_minute(now: i64, interval_secs: i64, index: u64, count: u64) -> i64 {
    let span = (interval_secs / 60).max(1);
    let offset = if count == 0 {
        0
    } else {
        (index as i128 * span as i128 / count as i128) as i64
    };
    minute(now) + offset
}

/// The backfill minute of card `id` (api.md §23 backfill): the first minute after
/// `now` whose remainder modulo the interval (in minutes) is the card's own,
/// `id % span`. So cards spread over the interval, and every backfill of a card picks
/// the same minute or one a whole interval later, whose cohort the dispatcher's move
/// merges into (a set union): a card backfilled twice is still checked once per
/// interval.
pub fn backfill_minute(now: i64, interval_secs: i64, id: u64) -> i64 {
    let span = (interval_secs / 60).max(1);
    let residue = (id % span as u64) as i64;
    let next = minute(now) + 1;
    next + (residue - next).rem_euclid(span)
}

/// The card-list filters a manual trigger selects by (api.md §23 `filters`): the
/// same fields as the IoT card list's, at least one of them; an unknown field is
/// refused.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TriggerFilters {
    /// ICCID prefix.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prefix: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub batch_no: Option<String>,
    /// `asset_status` (domain.md §5.9).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<i64>)]
    pub asset_status: Option<super::assets::AssetStatus>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub carrier_id: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network_status: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub real_name_status: Option<i64>,
}

/// Whether a card is polled at all (`enable_polling`, not deleted).
pub fn polled(card: &IotCard) -> bool {
    card.enable_polling && card.deleted_at.is_none()
}

/// The task types a card joins when it is created or backfilled: real-name until it
/// is verified, card data and package checks always (J7 stops a started card without
/// an active package). Protect checks join when a device protect period starts.
pub fn initial_tasks(card: &IotCard) -> Vec<TaskType> {
    let mut out = Vec::with_capacity(3);
    if !card.is_verified() {
        out.push(TaskType::Realname);
    }
    out.extend([TaskType::Carddata, TaskType::Package]);
    out
}

/// The stop reason of a card stopped because its data ran out.
pub const STOP_EXHAUSTED: &str = "流量耗尽";

/// Whole MB newly used between two readings of a card's monthly usage (`old`
/// stored, `new` from the gateway): the growth of the whole-MB counter, or all of
/// `new` when it fell (a new billing period began). Fractions carry over to the next
/// reading, so the sum of deltas equals the month's whole MB.
pub fn usage_delta(old: rust_decimal::Decimal, new: rust_decimal::Decimal) -> i64 {
    use rust_decimal::prelude::ToPrimitive;
    let whole = |d: rust_decimal::Decimal| {
        d.max(rust_decimal::Decimal::ZERO)
            .floor()
            .to_i64()
            .unwrap_or(0)
    };
    if new < old {
        whole(new)
    } else {
        whole(new) - whole(old)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backfill_minutes_keep_each_card_s_remainder() {
        let now = 1_000 * 60 + 30;
        for id in 0..40u64 {
            let m = backfill_minute(now, 600, id);
            assert!(m > minute(now) && m <= minute(now) + 10, "{id}: {m}");
            assert_eq!(m % 10, (id % 10) as i64);
            // A later run picks the same minute or one interval on.
            let later = backfill_minute(now + 7 * 60, 600, id);
            assert!(later == m || later == m + 10);
        }
        assert_eq!(backfill_minute(now, 30, 7), minute(now) + 1);
    }
    use rust_decimal::Decimal;

    #[test]
    fn deltas_carry_fractions_and_restart_with_the_period() {
        let d = |s: &str| s.parse::<Decimal>().unwrap();
        assert_eq!(usage_delta(d("10.5"), d("11.2")), 1);
        assert_eq!(usage_delta(d("11.2"), d("11.9")), 0);
        assert_eq!(usage_delta(d("11.9"), d("12.0")), 1);
        assert_eq!(usage_delta(d("500"), d("3.7")), 3);
        assert_eq!(usage_delta(d("5"), d("5")), 0);
    }

    #[test]
    fn spread_covers_the_interval() {
        let now = 600 * 100;
        let firsts: Vec<i64> = (0..20).map(|i| spread_minute(now, 600, i, 20)).collect();
        assert_eq!(firsts[0], minute(now));
        assert_eq!(*firsts.last().unwrap(), minute(now) + 9);
        assert!(firsts.windows(2).all(|w| w[0] <= w[1]));
    }

    #[test]
    fn task_names_round_trip() {
        for t in TaskType::ALL {
            assert_eq!(TaskType::parse(t.as_str()), Some(t));
        }
        assert_eq!(TaskType::parse("x"), None);
        assert!(parse_task_type("x")
            .unwrap_err()
            .to_string()
            .contains("realname"));
        assert_eq!(parse_task_type(" package"), Ok(TaskType::Package));
    }

    #[test]
    fn intervals_and_filters_are_checked() {
        assert!(check_interval(59).is_err() && check_interval(86_401).is_err());
        assert_eq!(check_interval(60), Ok(60));
        let f = check_filters(PollFilters {
            carrier_ids: vec![3, 1, 3],
            card_categories: vec![" iot ".into(), "iot".into()],
        })
        .unwrap();
        assert_eq!(
            (f.carrier_ids, f.card_categories),
            (vec![1, 3], vec!["iot".into()])
        );
        assert!(check_filters(PollFilters {
            carrier_ids: vec![0],
            card_categories: vec![],
        })
        .is_err());
    }

    #[test]
    fn defaults_without_config() {
        let e = Effective::of(TaskType::Realname, None);
        assert_eq!(e.interval_secs, 300);
        assert!(e.enabled);
        assert_eq!(Effective::of(TaskType::Protect, None).interval_secs, 600);
    }
}
