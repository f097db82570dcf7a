//! Time source. Everything reads "now" through a [`Clock`] so tests can move time.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

use chrono::{DateTime, FixedOffset, Offset, TimeZone, Utc};

/// Wall clock in epoch seconds; tests may stop it or move it.
#[derive(Clone, Debug, Default)]
pub struct Clock {
    offset: Arc<AtomicI64>,
    /// When non-zero, the clock stands at this time (plus `offset`).
    fixed: Arc<AtomicI64>,
}

impl Clock {
    /// Current time in epoch seconds.
    pub fn now(&self) -> i64 {
        let base = match self.fixed.load(Ordering::Relaxed) {
            0 => Utc::now().timestamp(),
            at => at,
        };
        base + self.offset.load(Ordering::Relaxed)
    }

    /// Stops this clock (and every clone) at `epoch`; for tests.
    pub fn set(&self, epoch: i64) {
        self.offset.store(0, Ordering::Relaxed);
        self.fixed.store(epoch, Ordering::Relaxed);
    }

    /// Moves this clock (and every clone of it) forward by `seconds`; for tests.
    pub fn advance(&self, seconds: i64) {
        self.offset.fetch_add(seconds, Ordering::Relaxed);
    }
}

/// China Standard Time, the business calendar's zone (UTC+8, no DST).
pub fn cst() -> FixedOffset {
    // East 8 h is within ±24 h, so the fallback (UTC) is never taken.
    FixedOffset::east_opt(8 * 3600).unwrap_or_else(|| Utc.fix())
}

/// Formats epoch seconds as RFC 3339 in Asia/Shanghai (`2026-03-16T10:00:00+08:00`).
pub fn rfc3339(epoch: i64) -> String {
    let at: DateTime<FixedOffset> = cst()
        .timestamp_opt(epoch, 0)
        .single()
        .unwrap_or_else(|| cst().timestamp_opt(0, 0).unwrap());
    at.to_rfc3339()
}

/// Epoch seconds of an RFC 3339 timestamp; `None` for anything else.
pub fn parse_rfc3339(text: &str) -> Option<i64> {
    chrono::DateTime::parse_from_rfc3339(text)
        .ok()
        .map(|t| t.timestamp())
}
