//! Series grants, the agent price chain (domain.md §4.6): a grant of a series to a
//! shop (`ShopSeriesAllocation`), the shop's allocations of the series' packages
//! (`ShopPackageAllocation`) and the history of their cost prices.

use serde::{Deserialize, Serialize};

use super::org::Status;

/// Grantor id of grants issued by the platform.
pub const PLATFORM: u64 = 0;

/// A grantee's one-time commission amount at one of the series' thresholds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct GrantTier {
    pub threshold: i64,
    pub amount: i64,
}

/// Where a grant is in its life. Only `ready` grants take effect: a grant whose
/// package allocations need several transactions is written as `creating`, and one
/// being deleted is `deleting` until its last allocation is gone (see
/// docs/architecture.md, "Grants larger than one transaction").
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GrantPhase {
    #[default]
    Ready,
    Creating,
    Deleting,
}

impl GrantPhase {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            GrantPhase::Ready => "ready",
            GrantPhase::Creating => "creating",
            GrantPhase::Deleting => "deleting",
        }
    }
}

/// A series grant (`ShopSeriesAllocation`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SeriesGrant {
    pub id: u64,
    /// Grantee shop.
    pub shop_id: u64,
    pub series_id: u64,
    /// Grantor shop; [`PLATFORM`] for the platform.
    pub allocator_shop_id: u64,
    /// The grantor's own grant of the series (0 for platform grants).
    #[serde(default)]
    pub allocator_grant_id: u64,
    /// Fixed mode: the grantee's amount (≤ the grantor's).
    pub one_time_commission_amount: i64,
    /// Tiered mode: the grantee's amount per series threshold.
    #[serde(default)]
    pub commission_tiers: Vec<GrantTier>,
    /// Agent-level forced recharge (stored only when the platform has not locked it).
    pub enable_force_recharge: bool,
    /// 0 = the series threshold.
    pub force_recharge_amount: i64,
    pub status: Status,
    #[serde(default)]
    pub phase: GrantPhase,
    /// Live grants of the same series the grantee issued (guards deletion).
    #[serde(default)]
    pub sub_grant_count: u32,
    pub created_at: String,
    pub updated_at: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deleted_at: Option<String>,
    pub creator: u64,
    pub updater: u64,
    pub version: i64,
}

impl SeriesGrant {
    /// Live, ready and enabled: the grant takes effect.
    pub fn in_effect(&self) -> bool {
        self.deleted_at.is_none()
            && self.phase == GrantPhase::Ready
            && self.status == Status::Enabled
    }

    /// The grantee's amount at `threshold`: its tier amount, or its fixed amount when
    /// it has no tiers (historical grants, §5.5).
    pub fn amount_at(&self, threshold: i64) -> i64 {
        if self.commission_tiers.is_empty() {
            return self.one_time_commission_amount;
        }
        self.commission_tiers
            .iter()
            .find(|t| t.threshold == threshold)
            .map_or(0, |t| t.amount)
    }
}

/// Whether a shop offers an allocated package (decision A16: 1 on, 2 off).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "i64", into = "i64")]
pub enum ShelfStatus {
    On = 1,
    Off = 2,
}

impl TryFrom<i64> for ShelfStatus {
    type Error = String;
    fn try_from(v: i64) -> Result<Self, String> {
        match v {
            1 => Ok(ShelfStatus::On),
            2 => Ok(ShelfStatus::Off),
            _ => Err(format!("invalid shelf_status {v}: 1 on shelf, 2 off shelf")),
        }
    }
}

impl From<ShelfStatus> for i64 {
    fn from(v: ShelfStatus) -> i64 {
        v as i64
    }
}

/// A shop's allocation of one package (`ShopPackageAllocation`); one per shop and
/// package, under the shop's grant of the package's series.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PackageAllocation {
    pub id: u64,
    pub shop_id: u64,
    pub package_id: u64,
    pub series_id: u64,
    /// Grantor shop; [`PLATFORM`] for the platform.
    pub allocator_shop_id: u64,
    /// The grant it belongs to.
    pub series_allocation_id: u64,
    /// What the shop pays (set by the grantor; locked while sub-allocated).
    pub cost_price: i64,
    /// What the shop charges its customers (set by the shop itself; ≥ cost).
    pub retail_price: i64,
    pub shelf_status: ShelfStatus,
    pub status: Status,
    /// Live allocations of this package the shop issued to its subordinates; while
    /// positive the cost price is locked.
    #[serde(default)]
    pub sub_allocation_count: u32,
    pub created_at: String,
    pub updated_at: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deleted_at: Option<String>,
    pub creator: u64,
    pub updater: u64,
    pub version: i64,
}

impl PackageAllocation {
    /// The cost price may not change while subordinates hold allocations of it.
    pub fn cost_locked(&self) -> bool {
        self.sub_allocation_count > 0
    }
}

/// One change of an allocation's cost price (`ShopPackageAllocationPriceHistory`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PriceChange {
    pub allocation_id: u64,
    pub shop_id: u64,
    pub package_id: u64,
    pub old_cost_price: i64,
    pub new_cost_price: i64,
    /// Account that changed it.
    pub changed_by: u64,
    pub changed_at: String,
}
