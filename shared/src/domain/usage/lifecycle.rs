//! Package lifecycle rules (domain.md §5.7.1–§5.7.5, §6.2; jobs.md J10–J13): when a
//! usage is due for expiry or reset, what expiry, activation and reset make of it,
//! Pure functions. (A card's stop for exhaustion and resume are `IotCard` methods.)

use super::{expiry, next_reset, PackageUsage, UsageStatus};
use crate::domain::catalog::{PackageType, ResetCycle};

/// Most reset moments a single reset skips over (a job down for a year of daily
/// resets still ends on the latest moment).
const MAX_MISSED_RESETS: usize = 400;

impl PackageUsage {
    /// The data (MB) at which the usage is used up: its virtual total when virtual
    /// data is on, else its real total (§5.7.8).
    pub fn stop_threshold_mb(&self) -> i64 {
        super::virtual_view(
            self.data_limit_mb,
            self.virtual_data_mb,
            self.enable_virtual_data,
            self.data_usage_mb,
        )
        .stop_threshold_mb
    }

    /// A main package (not an add-on).
    pub fn is_main(&self) -> bool {
        self.package_type == PackageType::Formal
    }

    /// When this usage is due for the expiry check (J10): live mains and live add-ons
    /// with their own validity, at their `valid_until`. Add-ons sharing their main's
    /// expiry end with it (invalidated), never on their own.
    pub fn expiry_due_at(&self) -> Option<i64> {
        let own = self.is_main() || self.has_independent_expiry;
        (self.status.is_live() && own)
            .then_some(self.valid_until)
            .flatten()
    }

    /// When this usage is due for its data reset (J13): live usages with a reset
    /// cycle, at their `next_reset_at`.
    pub fn reset_due_at(&self) -> Option<i64> {
        let cycles = self.data_reset_cycle != ResetCycle::None;
        (self.status.is_live() && cycles)
            .then_some(self.next_reset_at)
            .flatten()
    }

    /// Past its own expiry at `now`.
    pub fn expired_by(&self, now: i64) -> bool {
        self.valid_until.is_some_and(|at| at <= now)
    }

    /// This usage ended with `status` (3 expired, 4 invalidated), version moved.
    pub fn ended(&self, status: UsageStatus) -> PackageUsage {
        PackageUsage {
            status,
            version: self.version + 1,
            ..self.clone()
        }
    }

    /// This pending usage activated at `now` (§5.7.1, §6.2): dates from now; an add-on
    /// sharing its main's expiry takes `main_expiry` when given.
    pub fn activated(&self, now: i64, main_expiry: Option<i64>) -> PackageUsage {
        let own = expiry(
            self.calendar_type,
            self.duration_months,
            self.duration_days,
            now,
        );
        let valid_until = match (self.is_main() || self.has_independent_expiry, main_expiry) {
            (false, Some(main)) => main,
            _ => own,
        };
        PackageUsage {
            status: UsageStatus::Active,
            pending_realname_activation: false,
            activated_at: Some(now),
            valid_until: Some(valid_until),
            last_reset_at: None,
            next_reset_at: next_reset(self.data_reset_cycle, self.calendar_type, now, now),
            version: self.version + 1,
            ..self.clone()
        }
    }

    /// This usage with its real-name wait cleared (still pending, queued normally).
    pub fn realname_cleared(&self) -> PackageUsage {
        PackageUsage {
            pending_realname_activation: false,
            version: self.version + 1,
            ..self.clone()
        }
    }

    /// The data reset due at `now` (§5.7.4, J13), or `None` when none is due (no
    /// reset moment reached, not live, or past its expiry: that is J10's): usage 0,
    /// `last_reset_at` = the latest moment reached, `next_reset_at` = the first after
    /// `now`, used up → active; expiry unchanged.
    pub fn reset_at(&self, now: i64) -> Option<PackageUsage> {
        let scheduled = self.reset_due_at().filter(|at| *at <= now)?;
        if self.expired_by(now) {
            return None;
        }
        let activated = self.activated_at.unwrap_or(scheduled);
        let mut last = scheduled;
        let mut next = None;
        for _ in 0..MAX_MISSED_RESETS {
            match next_reset(self.data_reset_cycle, self.calendar_type, activated, last) {
                Some(n) if n <= now => last = n,
                other => {
                    next = other;
                    break;
                }
            }
        }
        let status = match self.status {
            UsageStatus::UsedUp => UsageStatus::Active,
            s => s,
        };
        Some(PackageUsage {
            data_usage_mb: 0,
            last_reset_at: Some(last),
            next_reset_at: next,
            status,
            version: self.version + 1,
            ..self.clone()
        })
    }
}

/// What activation does to an asset's usages (J11, J12): the usages to write, each
/// as it becomes; empty when nothing changes.
///
/// `first`: the real-name transition (J12) — every usage still waiting for
/// real-name has its flag cleared. Then, when no main is live, the pending main of
/// lowest priority that may start (not waiting for real-name, or the asset is
/// `verified`) activates with dates from `now`, and the add-ons bound to it follow:
/// pending ones activate, live ones sharing its expiry take it.
pub fn activation(
    usages: &[PackageUsage],
    verified: bool,
    first: bool,
    now: i64,
) -> Vec<PackageUsage> {
    let mut out: Vec<PackageUsage> = Vec::new();
    if first && verified {
        for u in usages {
            if u.status == UsageStatus::Pending && u.pending_realname_activation {
                out.push(u.realname_cleared());
            }
        }
    }
    let current = |u: &PackageUsage| {
        out.iter()
            .find(|c| c.id == u.id)
            .cloned()
            .unwrap_or_else(|| u.clone())
    };
    if usages.iter().any(|u| u.is_main() && u.status.is_live()) {
        return out;
    }
    let next = usages
        .iter()
        .map(current)
        .filter(|u| u.is_main() && u.status == UsageStatus::Pending)
        .filter(|u| !u.pending_realname_activation || verified)
        .min_by_key(|u| (u.priority, u.id));
    let Some(main) = next else {
        return out;
    };
    let main = main.activated(now, None);
    let main_expiry = main.valid_until;
    let mut changed = vec![main.clone()];
    let bound = usages
        .iter()
        .map(current)
        .filter(|u| !u.is_main() && u.master_usage_id == Some(main.id));
    for u in bound {
        match u.status {
            UsageStatus::Pending => changed.push(u.activated(now, main_expiry)),
            s if s.is_live() && !u.has_independent_expiry && u.valid_until != main_expiry => {
                changed.push(PackageUsage {
                    valid_until: main_expiry,
                    version: u.version + 1,
                    ..u
                })
            }
            _ => {}
        }
    }
    out.retain(|o| !changed.iter().any(|c| c.id == o.id));
    out.extend(changed);
    out
}

/// The add-ons of `main` that end with it (status 0, 1 or 2, bound to it), as they
/// become: invalidated (4).
pub fn invalidated_addons(usages: &[PackageUsage], main: u64) -> Vec<PackageUsage> {
    usages
        .iter()
        .filter(|u| u.master_usage_id == Some(main))
        .filter(|u| u.status == UsageStatus::Pending || u.status.is_live())
        .map(|u| u.ended(UsageStatus::Invalidated))
        .collect()
}
