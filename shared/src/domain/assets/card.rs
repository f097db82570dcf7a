//! An IoT card's transitions: real-name, network stop and start (manual, for data
//! exhaustion, by a usage rule) and the carrier's view.

use rust_decimal::Decimal;

use super::{
    Direction, IotCard, NETWORK_STARTED, NETWORK_STOPPED, REAL_NAME_NONE, REAL_NAME_VERIFIED,
};
use crate::domain::usage::{PackageUsage, UsageStatus};
use crate::domain::usage_rules::{renewed, RuleStop, STOP_USAGE_RULE};

impl IotCard {
    /// Whether the card passed real-name verification (only such cards are stopped
    /// or started).
    pub fn is_verified(&self) -> bool {
        self.real_name_status == REAL_NAME_VERIFIED
    }

    /// Records the carrier's view of the card, synchronised at `at`.
    pub fn set_carrier_view(
        &mut self,
        network_status: i64,
        verified: bool,
        used_mb: Decimal,
        at: String,
    ) {
        self.network_status = network_status;
        self.real_name_status = if verified {
            REAL_NAME_VERIFIED
        } else {
            REAL_NAME_NONE
        };
        self.current_month_usage_mb = used_mb;
        self.last_sync_time = Some(at);
    }

    /// Records the carrier's real-name verification, observed at `at`.
    pub fn mark_verified(&mut self, at: String) {
        self.real_name_status = REAL_NAME_VERIFIED;
        self.last_sync_time = Some(at);
    }

    /// Whether the card was stopped because its data ran out (polling resumes it
    /// when data is available again).
    pub fn stopped_for_exhaustion(&self) -> bool {
        self.network_status == NETWORK_STOPPED
            && self.stop_reason.as_deref() == Some(crate::domain::polling::STOP_EXHAUSTED)
    }

    /// Records a stop because the card's data ran out, at `at`.
    pub fn stop_exhausted(&mut self, at: String) {
        self.network_status = NETWORK_STOPPED;
        self.stopped_at = Some(at);
        self.stop_reason = Some(crate::domain::polling::STOP_EXHAUSTED.into());
    }

    /// Records a resume at `at` (clears the stop reason).
    pub fn resume(&mut self, at: String) {
        self.network_status = NETWORK_STARTED;
        self.resumed_at = Some(at);
        self.stop_reason = None;
        self.rule_stop = None;
    }

    /// Records a stop by usage rule `stop`, at `at`.
    pub fn stop_by_rule(&mut self, stop: RuleStop, at: String) {
        self.network_status = NETWORK_STOPPED;
        self.stopped_at = Some(at);
        self.stop_reason = Some(STOP_USAGE_RULE.into());
        self.rule_stop = Some(stop);
    }

    /// Whether the card, stopped by the system (for exhaustion, or by a usage rule
    /// that resumes on renewal), has data again in `usages` (its absorbing live
    /// usages) and should be resumed.
    pub fn resumable(&self, usages: &[PackageUsage]) -> bool {
        if self.is_started() {
            return false;
        }
        match &self.rule_stop {
            Some(stop) => renewed(stop, usages),
            None => {
                self.stopped_for_exhaustion()
                    && usages.iter().any(|u| u.status == UsageStatus::Active)
            }
        }
    }

    /// Whether the network is started.
    pub fn is_started(&self) -> bool {
        self.network_status == NETWORK_STARTED
    }

    /// Records a manual stop or start at `at`.
    pub fn switch(&mut self, dir: Direction, at: String) {
        match dir {
            Direction::Stop => {
                self.network_status = NETWORK_STOPPED;
                self.stopped_at = Some(at);
                self.stop_reason = Some("manual".into());
            }
            Direction::Start => {
                self.network_status = NETWORK_STARTED;
                self.resumed_at = Some(at);
                self.rule_stop = None;
            }
        }
    }
}
