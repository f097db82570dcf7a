//! Package usage rules (domain.md §4.5, §5.7, §6.2): when a bought package activates
//! or queues, when it expires and resets, how usage is deducted and how virtual data
//! is shown. Pure functions over epoch seconds; calendar days are Asia/Shanghai days.

use chrono::{DateTime, Datelike, Duration, FixedOffset, NaiveDate, TimeZone};
use serde::{Deserialize, Serialize};

use super::assets::AssetType;
use super::catalog::{CalendarType, Package, PackageType, ResetCycle};
use crate::clock::{cst, rfc3339};

crate::int_enum! {
    /// Status of a package usage (§6.2), stored and answered as its number.
    UsageStatus {
        /// Queued behind the active main, or waiting for real-name verification.
        Pending = 0,
        Active = 1,
        /// Usage reached the stop threshold.
        UsedUp = 2,
        Expired = 3,
        /// An add-on whose main package expired.
        Invalidated = 4,
    }
}

impl UsageStatus {
    /// The status's display name.
    pub fn name(self) -> &'static str {
        match self {
            UsageStatus::Pending => "待生效",
            UsageStatus::Active => "生效中",
            UsageStatus::UsedUp => "已用完",
            UsageStatus::Expired => "已过期",
            UsageStatus::Invalidated => "已失效",
        }
    }

    /// Still counts for the asset (active or used up, not ended).
    pub fn is_live(self) -> bool {
        matches!(self, UsageStatus::Active | UsageStatus::UsedUp)
    }
}

/// The end of the Asia/Shanghai day `date`, as epoch seconds (23:59:59).
fn end_of_day(date: NaiveDate) -> i64 {
    let at = date.and_hms_opt(23, 59, 59).unwrap_or_default();
    cst()
        .from_local_datetime(&at)
        .single()
        .map_or(0, |t| t.timestamp())
}

/// The Asia/Shanghai date and time of `epoch`.
fn local(epoch: i64) -> DateTime<FixedOffset> {
    DateTime::from_timestamp(epoch, 0)
        .unwrap_or_default()
        .with_timezone(&cst())
}

/// The last day of the month `months` after the month of `date`.
fn last_day_of_month_after(date: NaiveDate, months: i64) -> NaiveDate {
    let index = date.year() as i64 * 12 + date.month0() as i64 + months + 1;
    let first_of_next = NaiveDate::from_ymd_opt((index / 12) as i32, (index % 12) as u32 + 1, 1)
        .unwrap_or(NaiveDate::MAX);
    first_of_next.pred_opt().unwrap_or(first_of_next)
}

/// Expiry of a package activated at `activated_at` (§5.7.3, decisions A1/A2):
/// natural month → 23:59:59 of the last day of (activation month + N months);
/// by day → 23:59:59 of activation date + N − 1 days (the activation day is day 1).
pub fn expiry(calendar: CalendarType, months: i64, days: i64, activated_at: i64) -> i64 {
    let date = local(activated_at).date_naive();
    match calendar {
        CalendarType::NaturalMonth => end_of_day(last_day_of_month_after(date, months)),
        CalendarType::ByDay => end_of_day(date + Duration::days((days - 1).max(0))),
    }
}

/// The next data reset after `after` of a package activated at `activated_at`
/// (§5.7.4), or `None` when it never resets.
pub fn next_reset(
    cycle: ResetCycle,
    calendar: CalendarType,
    activated_at: i64,
    after: i64,
) -> Option<i64> {
    let at = local(after);
    let midnight = |d: NaiveDate| {
        cst()
            .from_local_datetime(&d.and_hms_opt(0, 0, 0).unwrap_or_default())
            .single()
            .map(|t| t.timestamp())
    };
    match (cycle, calendar) {
        (ResetCycle::None, _) => None,
        (ResetCycle::Daily, _) => midnight(at.date_naive().succ_opt()?),
        (ResetCycle::Monthly, CalendarType::NaturalMonth) => {
            midnight(last_day_of_month_after(at.date_naive(), 0).succ_opt()?)
        }
        (ResetCycle::Monthly, CalendarType::ByDay) => {
            // Every 30 days from the activation moment.
            const PERIOD: i64 = 30 * 86_400;
            let elapsed = (after - activated_at).max(0);
            Some(activated_at + (elapsed / PERIOD + 1) * PERIOD)
        }
        (ResetCycle::Yearly, _) => midnight(NaiveDate::from_ymd_opt(at.year() + 1, 1, 1)?),
    }
}

/// What a new usage starts as (§5.7.1, §5.7.2, §5.7.5).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UsageStart {
    pub status: UsageStatus,
    pub priority: i64,
    pub activated_at: Option<i64>,
    pub expires_at: Option<i64>,
    pub next_reset_at: Option<i64>,
    pub pending_realname_activation: bool,
    /// Add-ons: the main usage they bind to.
    pub master_usage_id: Option<u64>,
}

/// The usages of an asset that decide how a new one starts.
#[derive(Clone, Debug, Default)]
pub struct AssetUsages {
    /// The active (or used-up, not yet expired) main usage: id and expiry.
    pub current_main: Option<(u64, Option<i64>)>,
    /// A pending main usage (queued or waiting for real-name), when no main is live.
    pub pending_main: Option<u64>,
    /// The highest priority among the asset's live and pending usages (0 if none).
    pub max_priority: i64,
}

/// A package cannot start on this asset.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum StartRefused {
    /// An add-on needs an active or pending main package.
    #[error("no main package to bind the add-on to")]
    NoMainPackage,
}

/// How `package` starts on an asset with `usages`, bought at `now` (the asset
/// `verified` or not, by an admin purchase that may stock up).
pub fn start(
    package: &Package,
    usages: &AssetUsages,
    verified: bool,
    now: i64,
) -> Result<UsageStart, StartRefused> {
    let active_from = |master: Option<u64>, priority: i64, expires_at: i64| UsageStart {
        status: UsageStatus::Active,
        priority,
        activated_at: Some(now),
        expires_at: Some(expires_at),
        next_reset_at: next_reset(package.data_reset_cycle, package.calendar_type, now, now),
        pending_realname_activation: false,
        master_usage_id: master,
    };
    let own_expiry = || {
        expiry(
            package.calendar_type,
            package.duration_months,
            package.duration_days,
            now,
        )
    };
    match package.package_type {
        PackageType::Addon => {
            let (master, main_expiry) = match (usages.current_main, usages.pending_main) {
                (Some((id, expires)), _) => (id, expires),
                (None, Some(id)) => (id, None),
                (None, None) => return Err(StartRefused::NoMainPackage),
            };
            // Bound to a pending main without dates, or independent: its own validity.
            let expires_at = match (package.has_independent_expiry, main_expiry) {
                (false, Some(main)) => main,
                _ => own_expiry(),
            };
            Ok(active_from(
                Some(master),
                usages.max_priority.max(1) + 1,
                expires_at,
            ))
        }
        PackageType::Formal if !verified && package.enable_realname_activation => Ok(UsageStart {
            status: UsageStatus::Pending,
            priority: usages.max_priority + 1,
            activated_at: None,
            expires_at: None,
            next_reset_at: None,
            pending_realname_activation: true,
            master_usage_id: None,
        }),
        PackageType::Formal if usages.current_main.is_some() => Ok(UsageStart {
            status: UsageStatus::Pending,
            priority: usages.max_priority + 1,
            activated_at: None,
            expires_at: None,
            next_reset_at: None,
            pending_realname_activation: false,
            master_usage_id: None,
        }),
        PackageType::Formal => Ok(active_from(None, 1, own_expiry())),
    }
}

/// A usage as shown with virtual data (§5.7.8): totals in MB.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct VirtualView {
    /// Shown total: the real total.
    pub virtual_limit_mb: i64,
    /// Shown used: real used × real / virtual, rounded to the nearest MB, at most the
    /// shown total.
    pub virtual_used_mb: i64,
    /// Shown remaining: total − used, never negative.
    pub virtual_remain_mb: i64,
    /// The stop threshold: the virtual total, or the real total when virtual data is
    /// off.
    pub stop_threshold_mb: i64,
}

/// The virtual view of `used_mb` on a package of `real_mb` with stop threshold
/// `virtual_mb` (virtual data `enabled`). Exact integer arithmetic, so the shown
/// usage reaches the total exactly at the threshold.
pub fn virtual_view(real_mb: i64, virtual_mb: i64, enabled: bool, used_mb: i64) -> VirtualView {
    let threshold = if enabled && virtual_mb > 0 {
        virtual_mb
    } else {
        real_mb
    };
    let used = used_mb.max(0) as i128;
    let shown = if threshold > 0 {
        (used * real_mb as i128 * 2 + threshold as i128) / (threshold as i128 * 2)
    } else {
        used
    };
    let shown = (shown.min(real_mb.max(0) as i128)) as i64;
    VirtualView {
        virtual_limit_mb: real_mb,
        virtual_used_mb: shown,
        virtual_remain_mb: (real_mb - shown).max(0),
        stop_threshold_mb: threshold,
    }
}

/// One live usage as deduction sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Deductible {
    pub id: u64,
    pub is_addon: bool,
    pub priority: i64,
    /// Stop threshold (MB).
    pub limit_mb: i64,
    pub used_mb: i64,
}

/// Deducts `new_mb` from `usages` in the §5.7.6 order (add-ons by priority, then the
/// main) and returns each usage's new used amount; what exceeds every limit stays on
/// the main. A usage is used up when its used amount reaches its limit.
pub fn deduct(usages: &[Deductible], new_mb: i64) -> Vec<(u64, i64)> {
    let mut order: Vec<&Deductible> = usages.iter().collect();
    order.sort_by_key(|u| (!u.is_addon, u.priority, u.id));
    let mut left = new_mb.max(0);
    let mut out: Vec<(u64, i64)> = order.iter().map(|u| (u.id, u.used_mb)).collect();
    for (slot, u) in out.iter_mut().zip(&order) {
        let room = (u.limit_mb - u.used_mb).max(0);
        let take = left.min(room);
        slot.1 += take;
        left -= take;
    }
    if left > 0 {
        if let Some(slot) = out.iter_mut().zip(&order).find(|(_, u)| !u.is_addon) {
            slot.0 .1 += left;
        }
    }
    out
}

/// A package bought for a card or device (domain.md §4.5). Times are epoch seconds
/// (`valid_until`, not `expires_at`: that name is the table's TTL attribute).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PackageUsage {
    pub id: u64,
    pub asset_type: AssetType,
    pub asset_id: u64,
    /// The asset's generation when the usage was created.
    pub generation: i64,
    pub package_id: u64,
    /// Snapshots of the package at purchase.
    pub package_name: String,
    pub package_type: PackageType,
    pub calendar_type: CalendarType,
    pub duration_months: i64,
    pub duration_days: i64,
    pub data_reset_cycle: ResetCycle,
    /// Real total (MB).
    pub data_limit_mb: i64,
    /// Stop threshold when virtual data is on (MB).
    pub virtual_data_mb: i64,
    pub enable_virtual_data: bool,
    /// Real usage (MB).
    pub data_usage_mb: i64,
    pub status: UsageStatus,
    pub priority: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub master_usage_id: Option<u64>,
    pub has_independent_expiry: bool,
    pub pending_realname_activation: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub order_id: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub activated_at: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub valid_until: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_reset_at: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_reset_at: Option<i64>,
    pub created_at: i64,
    pub version: i64,
}

impl PackageUsage {
    /// A new usage of `package` on an asset, started as `start` says.
    pub fn new(
        id: u64,
        asset: (AssetType, u64, i64),
        package: &Package,
        start: UsageStart,
        order_id: Option<u64>,
        now: i64,
    ) -> Self {
        let (asset_type, asset_id, generation) = asset;
        Self {
            id,
            asset_type,
            asset_id,
            generation,
            package_id: package.id,
            package_name: package.package_name.clone(),
            package_type: package.package_type,
            calendar_type: package.calendar_type,
            duration_months: package.duration_months,
            duration_days: package.duration_days,
            data_reset_cycle: package.data_reset_cycle,
            data_limit_mb: package.real_data_mb,
            virtual_data_mb: package.virtual_data_mb,
            enable_virtual_data: package.enable_virtual_data,
            data_usage_mb: 0,
            status: start.status,
            priority: start.priority,
            master_usage_id: start.master_usage_id,
            has_independent_expiry: package.has_independent_expiry,
            pending_realname_activation: start.pending_realname_activation,
            order_id,
            activated_at: start.activated_at,
            valid_until: start.expires_at,
            last_reset_at: None,
            next_reset_at: start.next_reset_at,
            created_at: now,
            version: 1,
        }
    }

    /// The active main package (what `current-package` answers).
    pub fn is_current_main(&self) -> bool {
        self.status == UsageStatus::Active && self.master_usage_id.is_none()
    }
}

/// What the asset's live usages mean for a new one (see [`start`]).
pub fn usage_summary<'a>(usages: impl IntoIterator<Item = &'a PackageUsage>) -> AssetUsages {
    let mut out = AssetUsages::default();
    for u in usages {
        let open = u.status.is_live() || u.status == UsageStatus::Pending;
        if !open {
            continue;
        }
        out.max_priority = out.max_priority.max(u.priority);
        if u.package_type == PackageType::Formal {
            match u.status {
                UsageStatus::Pending if out.pending_main.is_none() => out.pending_main = Some(u.id),
                s if s.is_live() => out.current_main = Some((u.id, u.valid_until)),
                _ => {}
            }
        }
    }
    if out.current_main.is_some() {
        out.pending_main = None;
    }
    out
}

/// A package usage as the admin routes answer it (api.md §18).
#[derive(Clone, Debug, PartialEq, Serialize, utoipa::ToSchema)]
pub struct UsageView {
    pub package_usage_id: u64,
    pub package_id: u64,
    pub package_name: String,
    pub package_type: PackageType,
    /// 0 pending, 1 active, 2 used up, 3 expired, 4 invalidated.
    #[schema(value_type = i64, minimum = 0, maximum = 4)]
    pub status: UsageStatus,
    pub status_name: &'static str,
    /// Real total (MB).
    pub data_limit_mb: i64,
    /// Real usage (MB).
    pub data_usage_mb: i64,
    #[serde(flatten)]
    pub virtual_view: VirtualView,
    /// `real / virtual` (1 when virtual data is off).
    #[schema(value_type = f64)]
    pub virtual_ratio: rust_decimal::Decimal,
    /// Absent while pending.
    pub activated_at: Option<String>,
    /// Absent while pending.
    pub expires_at: Option<String>,
    pub master_usage_id: Option<u64>,
    pub priority: i64,
    pub pending_realname_activation: bool,
    pub created_at: String,
}

impl From<&PackageUsage> for UsageView {
    fn from(u: &PackageUsage) -> Self {
        UsageView {
            package_usage_id: u.id,
            package_id: u.package_id,
            package_name: u.package_name.clone(),
            package_type: u.package_type,
            status: u.status,
            status_name: u.status.name(),
            data_limit_mb: u.data_limit_mb,
            data_usage_mb: u.data_usage_mb,
            virtual_view: virtual_view(
                u.data_limit_mb,
                u.virtual_data_mb,
                u.enable_virtual_data,
                u.data_usage_mb,
            ),
            virtual_ratio: super::catalog::virtual_ratio(
                u.data_limit_mb,
                u.virtual_data_mb,
                u.enable_virtual_data,
            ),
            activated_at: u.activated_at.map(rfc3339),
            expires_at: u.valid_until.map(rfc3339),
            master_usage_id: u.master_usage_id,
            priority: u.priority,
            pending_realname_activation: u.pending_realname_activation,
            created_at: rfc3339(u.created_at),
        }
    }
}

pub mod lifecycle;

#[cfg(test)]
mod tests;
