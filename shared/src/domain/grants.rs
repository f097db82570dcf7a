//! Series grants, the agent price chain (domain.md §4.6): a grant of a series to a
//! shop (`ShopSeriesAllocation`), the shop's allocations of the series' packages
//! (`ShopPackageAllocation`) and the history of their cost prices.

use serde::{Deserialize, Serialize};

use super::org::Status;

/// Who issues a grant (and the allocations under it): the platform or an agent's
/// shop. Stored and answered as the grantor's shop id, the platform as `0`
/// (`allocator_shop_id`); convert with `From`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(from = "u64", into = "u64")]
pub enum Grantor {
    Platform,
    Shop(u64),
}

impl Grantor {
    /// The grantor's shop; `None` for the platform.
    pub fn shop(self) -> Option<u64> {
        match self {
            Grantor::Platform => None,
            Grantor::Shop(id) => Some(id),
        }
    }
}

impl From<u64> for Grantor {
    /// `0` is the platform.
    fn from(id: u64) -> Self {
        match id {
            0 => Grantor::Platform,
            id => Grantor::Shop(id),
        }
    }
}

crate::wire_schema!(Grantor, unsigned("The granting shop id; 0 = the platform"));

impl From<Grantor> for u64 {
    fn from(g: Grantor) -> u64 {
        g.shop().unwrap_or(0)
    }
}

/// (De)serialises an optional id as a number, `None` as `0` (the stored format).
mod zero_is_none {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(v: &Option<u64>, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(v.unwrap_or(0))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
        Ok(Some(u64::deserialize(d)?).filter(|&id| id != 0))
    }
}

/// A grantee's one-time commission amount at one of the series' thresholds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct GrantTier {
    pub threshold: i64,
    pub amount: i64,
}

/// Where a grant is in its life. Only `ready` grants take effect: a grant whose
/// package allocations need several transactions is written as `creating`, and one
/// being deleted is `deleting` until its last allocation is gone (see
/// docs/architecture.md, "Grants larger than one transaction").
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
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
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct SeriesGrant {
    pub id: u64,
    /// Grantee shop.
    pub shop_id: u64,
    pub series_id: u64,
    /// Who issued it.
    pub allocator_shop_id: Grantor,
    /// The grantor's own grant of the series (`None` for platform grants; stored as 0).
    #[serde(default, with = "zero_is_none")]
    pub allocator_grant_id: Option<u64>,
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
    /// Live package allocations of the grant, kept by the transactions that create
    /// and remove them (what the grant list shows without reading them).
    #[serde(default)]
    pub package_count: u32,
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

crate::wire_schema!(
    ShelfStatus,
    integer_enum(&[1, 2], "1 = on shelf; 2 = off shelf")
);

impl From<ShelfStatus> for i64 {
    fn from(v: ShelfStatus) -> i64 {
        v as i64
    }
}

/// A shop's allocation of one package (`ShopPackageAllocation`); one per shop and
/// package, under the shop's grant of the package's series.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct PackageAllocation {
    pub id: u64,
    pub shop_id: u64,
    pub package_id: u64,
    pub series_id: u64,
    /// Who issued it (the grant's grantor).
    pub allocator_shop_id: Grantor,
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
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
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

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn grantor_is_stored_and_answered_as_a_shop_id_with_0_for_the_platform() {
        assert_eq!(json!(Grantor::Platform), json!(0));
        assert_eq!(json!(Grantor::Shop(7)), json!(7));
        assert_eq!(
            serde_json::from_value::<Grantor>(json!(0)).unwrap(),
            Grantor::Platform
        );
        assert_eq!(
            serde_json::from_value::<Grantor>(json!(7)).unwrap(),
            Grantor::Shop(7)
        );
        assert_eq!(Grantor::Shop(7).shop(), Some(7));
        assert_eq!(Grantor::Platform.shop(), None);
    }

    #[test]
    fn a_missing_parent_grant_is_stored_as_0() {
        let g = SeriesGrant {
            id: 1,
            shop_id: 2,
            series_id: 3,
            allocator_shop_id: Grantor::Platform,
            allocator_grant_id: None,
            one_time_commission_amount: 0,
            commission_tiers: vec![],
            enable_force_recharge: false,
            force_recharge_amount: 0,
            status: Status::Enabled,
            phase: GrantPhase::Ready,
            sub_grant_count: 0,
            package_count: 0,
            created_at: "t".into(),
            updated_at: "t".into(),
            deleted_at: None,
            creator: 1,
            updater: 1,
            version: 1,
        };
        let v = serde_json::to_value(&g).unwrap();
        assert_eq!(
            (
                v["allocator_shop_id"].clone(),
                v["allocator_grant_id"].clone()
            ),
            (json!(0), json!(0))
        );
        assert_eq!(serde_json::from_value::<SeriesGrant>(v).unwrap(), g);
        let child = SeriesGrant {
            allocator_shop_id: Grantor::Shop(2),
            allocator_grant_id: Some(1),
            ..g.clone()
        };
        let v = serde_json::to_value(&child).unwrap();
        assert_eq!(
            (
                v["allocator_shop_id"].clone(),
                v["allocator_grant_id"].clone()
            ),
            (json!(2), json!(1))
        );
        assert_eq!(serde_json::from_value::<SeriesGrant>(v).unwrap(), child);
        // Grants stored before the field existed read as platform grants.
        let mut old = serde_json::to_value(&g).unwrap();
        old.as_object_mut().unwrap().remove("allocator_grant_id");
        assert_eq!(
            serde_json::from_value::<SeriesGrant>(old)
                .unwrap()
                .allocator_grant_id,
            None
        );
    }
}
