//! Lock-free accounting and load shaping of the fake gateway: requests in flight
//! (and the most ever seen), requests per path, a fixed added latency and a
//! deterministic HTTP 500 rate. Atomics only, so counting never serialises requests.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use super::PATHS;

/// Error rates are kept in parts per million.
const PPM: u128 = 1_000_000;

#[derive(Debug)]
pub(super) struct Stats {
    in_flight: AtomicU64,
    max_in_flight: AtomicU64,
    /// Every request, known path or not.
    total: AtomicU64,
    /// Requests per entry of [`PATHS`] (same index).
    by_path: Vec<AtomicU64>,
    latency_nanos: AtomicU64,
    error_ppm: AtomicU64,
    /// Calls judged against the error rate since it was last set.
    error_seq: AtomicU64,
}

impl Default for Stats {
    fn default() -> Self {
        Self {
            in_flight: AtomicU64::new(0),
            max_in_flight: AtomicU64::new(0),
            total: AtomicU64::new(0),
            by_path: PATHS.iter().map(|_| AtomicU64::new(0)).collect(),
            latency_nanos: AtomicU64::new(0),
            error_ppm: AtomicU64::new(0),
            error_seq: AtomicU64::new(0),
        }
    }
}

/// One request in flight; leaving (even by cancellation) is counted on drop.
pub(super) struct InFlight<'a>(&'a Stats);

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::SeqCst);
    }
}

impl Stats {
    /// Counts a request to `path` entering; the guard counts it leaving.
    pub(super) fn enter(&self, path: &str) -> InFlight<'_> {
        let now = self.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        self.max_in_flight.fetch_max(now, Ordering::SeqCst);
        self.total.fetch_add(1, Ordering::Relaxed);
        if let Some(n) = self.slot(path) {
            n.fetch_add(1, Ordering::Relaxed);
        }
        InFlight(self)
    }

    /// The counter of `path` when it is one of [`PATHS`].
    fn slot(&self, path: &str) -> Option<&AtomicU64> {
        PATHS
            .iter()
            .position(|p| *p == path)
            .and_then(|i| self.by_path.get(i))
    }

    pub(super) fn in_flight(&self) -> u64 {
        self.in_flight.load(Ordering::SeqCst)
    }

    pub(super) fn max_in_flight(&self) -> u64 {
        self.max_in_flight.load(Ordering::SeqCst)
    }

    /// The maximum restarts from the requests in flight now.
    pub(super) fn reset_max_in_flight(&self) {
        self.max_in_flight
            .store(self.in_flight.load(Ordering::SeqCst), Ordering::SeqCst);
    }

    pub(super) fn total(&self) -> u64 {
        self.total.load(Ordering::Relaxed)
    }

    pub(super) fn count(&self, path: &str) -> u64 {
        self.slot(path).map_or(0, |n| n.load(Ordering::Relaxed))
    }

    pub(super) fn by_path(&self) -> BTreeMap<String, u64> {
        PATHS
            .iter()
            .zip(&self.by_path)
            .map(|(p, n)| (p.to_string(), n.load(Ordering::Relaxed)))
            .filter(|(_, n)| *n > 0)
            .collect()
    }

    pub(super) fn reset_counts(&self) {
        self.total.store(0, Ordering::Relaxed);
        for n in &self.by_path {
            n.store(0, Ordering::Relaxed);
        }
    }

    pub(super) fn set_latency(&self, latency: Duration) {
        let nanos = u64::try_from(latency.as_nanos()).unwrap_or(u64::MAX);
        self.latency_nanos.store(nanos, Ordering::Relaxed);
    }

    pub(super) fn latency(&self) -> Duration {
        Duration::from_nanos(self.latency_nanos.load(Ordering::Relaxed))
    }

    /// `rate` is clamped to 0.0–1.0 (NaN = 0) and rounded to parts per million;
    /// the call sequence restarts.
    pub(super) fn set_error_rate(&self, rate: f64) {
        let rate = if rate.is_nan() {
            0.0
        } else {
            rate.clamp(0.0, 1.0)
        };
        self.error_ppm
            .store((rate * PPM as f64).round() as u64, Ordering::SeqCst);
        self.error_seq.store(0, Ordering::SeqCst);
    }

    /// Whether this call answers HTTP 500: call `n` (1-based) fails when
    /// `⌊n × rate⌋` grows, so exactly `⌊n × rate⌋` of the first `n` calls fail,
    /// evenly spread (rate 0.25: calls 4, 8, 12…).
    pub(super) fn next_is_error(&self) -> bool {
        let ppm = u128::from(self.error_ppm.load(Ordering::SeqCst));
        if ppm == 0 {
            return false;
        }
        let n = u128::from(self.error_seq.fetch_add(1, Ordering::SeqCst)) + 1;
        n * ppm / PPM > (n - 1) * ppm / PPM
    }
}
