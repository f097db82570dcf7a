//! A fake card's carrier-side state and its usage meter: usage grows at a per-card
//! rate only while the card is started, counted in whole simulated seconds, and
//! restarts at 0 on each billing-period start (00:00 Asia/Shanghai on the card's
//! billing day).

use chrono::{Datelike, NaiveDate};

use super::FakeCard;
use crate::clock::cst;

/// A card with its meter. Usage at time `settled_at` is
/// `base_mb + rate × run_secs / 3600`: `run_secs` are the started seconds since the
/// base was set (exact integers, so the figure does not drift with many reads).
#[derive(Clone, Debug)]
pub(super) struct CardState {
    pub(super) started: bool,
    pub(super) verified: bool,
    /// Becomes verified once the clock reaches this epoch.
    pub(super) verify_at: Option<i64>,
    rate: f64,
    billing_day: u32,
    base_mb: f64,
    run_secs: i64,
    settled_at: i64,
}

impl CardState {
    /// A card as given, its usage counted from `now`.
    pub(super) fn new(card: &FakeCard, rate: f64, billing_day: u32, now: i64) -> Self {
        Self {
            started: card.started,
            verified: card.verified,
            verify_at: None,
            rate: rate_or_zero(rate),
            billing_day: day_in_range(billing_day),
            base_mb: card.used_mb,
            run_secs: 0,
            settled_at: now,
        }
    }

    /// Replaces the card's network, real-name and usage (as of `now`), keeping its
    /// rate, billing day and scheduled verification.
    pub(super) fn replace(&mut self, card: &FakeCard, now: i64) {
        self.started = card.started;
        self.verified = card.verified;
        self.base_mb = card.used_mb;
        self.run_secs = 0;
        self.settled_at = now;
    }

    /// Brings the meter and the scheduled verification up to `now`. A clock that
    /// went backwards adds nothing.
    pub(super) fn settle(&mut self, now: i64) {
        if now > self.settled_at {
            let start = period_start(now, self.billing_day);
            if start > self.settled_at {
                // Usage before `start` belongs to a previous billing period.
                self.base_mb = 0.0;
                self.run_secs = 0;
                self.settled_at = start;
            }
            if self.started {
                self.run_secs += now - self.settled_at;
            }
            self.settled_at = now;
        }
        if self.verify_at.is_some_and(|at| at <= now) {
            self.verified = true;
            self.verify_at = None;
        }
    }

    /// Usage this billing period as of the last [`CardState::settle`], MB.
    pub(super) fn used_mb(&self) -> f64 {
        self.base_mb + self.rate * (self.run_secs as f64 / 3600.0)
    }

    /// Counts on from `now` of another clock, keeping the usage so far.
    pub(super) fn rebase(&mut self, now: i64) {
        self.settled_at = now;
    }

    /// Starts or stops the network at `now` (usage so far is settled first).
    pub(super) fn set_started(&mut self, started: bool, now: i64) {
        self.settle(now);
        self.started = started;
    }

    /// Changes the growth rate from `now` on (usage so far is kept).
    pub(super) fn set_rate(&mut self, mb_per_hour: f64, now: i64) {
        self.settle(now);
        self.base_mb = self.used_mb();
        self.run_secs = 0;
        self.rate = rate_or_zero(mb_per_hour);
    }

    /// Changes the billing day from `now` on (no period start is applied
    /// retroactively).
    pub(super) fn set_billing_day(&mut self, day: u32, now: i64) {
        self.settle(now);
        self.billing_day = day_in_range(day);
    }

    /// The public view, usage as of the last settle.
    pub(super) fn view(&self) -> FakeCard {
        FakeCard {
            started: self.started,
            verified: self.verified,
            used_mb: self.used_mb(),
        }
    }
}

/// Negative, infinite or NaN rates count as no growth.
pub(super) fn rate_or_zero(mb_per_hour: f64) -> f64 {
    if mb_per_hour.is_finite() && mb_per_hour > 0.0 {
        mb_per_hour
    } else {
        0.0
    }
}

/// Billing days are 1–31 (clamped).
pub(super) fn day_in_range(day: u32) -> u32 {
    day.clamp(1, 31)
}

fn days_in_month(year: i32, month: u32) -> u32 {
    match month {
        2 if (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Epoch of the start of the billing period holding `epoch`: 00:00 Asia/Shanghai on
/// `billing_day` (a day past the month's end means its last day, e.g. 31 → 28 Feb).
/// `i64::MIN` (never a reset) for an epoch outside the calendar's range.
pub(super) fn period_start(epoch: i64, billing_day: u32) -> i64 {
    let Some(today) =
        chrono::DateTime::from_timestamp(epoch, 0).map(|t| t.with_timezone(&cst()).date_naive())
    else {
        return i64::MIN;
    };
    let (mut year, mut month) = (today.year(), today.month());
    let this_month = billing_day.min(days_in_month(year, month));
    let day = if today.day() >= this_month {
        this_month
    } else {
        (year, month) = if month == 1 {
            (year - 1, 12)
        } else {
            (year, month - 1)
        };
        billing_day.min(days_in_month(year, month))
    };
    NaiveDate::from_ymd_opt(year, month, day)
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .and_then(|t| t.and_local_timezone(cst()).single())
        .map_or(i64::MIN, |t| t.timestamp())
}
