//! The one way an entity records a change: who made it, when, and the optimistic-lock
//! version it now has.

use crate::clock::rfc3339;

/// Entities that record who changed them, when, and at which version.
pub trait Stamped {
    /// Marks a change by account `by` at `now` (epoch seconds) and bumps `version`.
    fn touch(&mut self, by: u64, now: i64);
}

/// Implements [`Stamped`] for entities with `updated_at`, `updater` and `version`.
macro_rules! stamped {
    ($($t:ty),* $(,)?) => {$(
        impl Stamped for $t {
            fn touch(&mut self, by: u64, now: i64) {
                self.updated_at = rfc3339(now);
                self.updater = by;
                self.version += 1;
            }
        }
    )*};
}

stamped!(
    super::entities::Shop,
    super::entities::AccountRecord,
    super::entities::Enterprise,
    super::entities::Role,
    super::entities::Permission,
    super::entities::Carrier,
    super::catalog::PackageSeries,
    super::catalog::Package,
    super::grants::SeriesGrant,
    super::grants::PackageAllocation,
    super::assets::IotCard,
    super::assets::Device,
);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::entities::Carrier;

    #[test]
    fn touch_records_who_when_and_bumps_the_version() {
        let mut c: Carrier = serde_json::from_value(serde_json::json!({
            "id": 1, "carrier_name": "x", "carrier_type": "CMCC", "billing_day": 1,
            "realname_link_type": "none", "status": 1, "created_at": "", "updated_at": "",
            "creator": 1, "updater": 1, "version": 3
        }))
        .unwrap();
        c.touch(7, 0);
        assert_eq!(
            (c.updater, c.version, c.updated_at.as_str()),
            (7, 4, "1970-01-01T08:00:00+08:00")
        );
    }
}
