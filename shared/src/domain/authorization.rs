//! Enterprise authorisations (api.md §6, domain.md §4.2; docs/authorizations.md): an
//! enterprise sees and operates exactly the cards and devices granted to it.
//!
//! - An asset is authorised to **one enterprise at a time**. Its live grants sit on
//!   the asset itself ([`EnterpriseAuth`]), so every check of an enterprise account
//!   reads nothing more than the asset, and the asset's own writes keep them.
//! - A card holds at most two grants: its own (**direct**) and one through the
//!   device it is bound to (**via device**). Authorising a device grants its bound
//!   cards via the device; revoking the device takes back only those, so a card
//!   authorised on its own stays authorised.
//! - A grant lives within its **branch**: the granting agent's shop path, or for the
//!   platform the holder of the asset when it granted (`None` = platform stock). A
//!   move that takes the asset out of the branch ends the grant in the same write,
//!   as do deactivation, a device's deletion and a card's unbinding (its via-device
//!   grant).
//! - Every grant has its [`AuthorizationRecord`]: who granted and when, who or what
//!   ended it and when.

use serde::{Deserialize, Serialize};

use super::assets::AssetType;
use super::shop_path::ShopPath;

/// One live grant of an asset to its enterprise.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq, utoipa::ToSchema)]
pub struct AuthGrant {
    /// Its [`AuthorizationRecord`].
    pub record_id: u64,
    /// The device the grant came through (cards of an authorised device); `None` =
    /// the asset was authorised on its own.
    pub via_device_id: Option<u64>,
    /// Where the asset must stay for the grant to live (see the module docs).
    #[schema(value_type = Option<String>)]
    pub branch: Option<ShopPath>,
    pub authorized_by: u64,
    pub authorized_at: String,
}

impl AuthGrant {
    /// Whether the grant survives the asset being held by `owner`.
    pub fn holds_at(&self, owner: Option<&ShopPath>) -> bool {
        match (&self.branch, owner) {
            (None, None) => true,
            (Some(branch), Some(owner)) => branch.contains(owner),
            _ => false,
        }
    }
}

/// The enterprise an asset is authorised to, with the live grants that make it so
/// (never empty when stored).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq, utoipa::ToSchema)]
pub struct EnterpriseAuth {
    pub enterprise_id: u64,
    pub grants: Vec<AuthGrant>,
}

/// What adding a grant to an asset came to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Granted {
    /// The asset now holds the grant.
    New,
    /// It held the same kind of grant for the enterprise already.
    Already,
    /// It is authorised to another enterprise.
    Elsewhere(u64),
}

/// Adds `grant` for `enterprise` to an asset's authorisation `auth`.
pub fn add_grant(auth: &mut Option<EnterpriseAuth>, enterprise: u64, grant: AuthGrant) -> Granted {
    match auth {
        Some(a) if a.enterprise_id != enterprise => Granted::Elsewhere(a.enterprise_id),
        Some(a)
            if a.grants
                .iter()
                .any(|g| g.via_device_id == grant.via_device_id) =>
        {
            Granted::Already
        }
        Some(a) => {
            a.grants.push(grant);
            Granted::New
        }
        None => {
            *auth = Some(EnterpriseAuth {
                enterprise_id: enterprise,
                grants: vec![grant],
            });
            Granted::New
        }
    }
}

/// Removes the grants `drop` selects from `auth` (clearing it when none is left) and
/// answers them.
pub fn remove_grants(
    auth: &mut Option<EnterpriseAuth>,
    drop: impl Fn(&AuthGrant) -> bool,
) -> Vec<AuthGrant> {
    let Some(a) = auth else {
        return Vec::new();
    };
    let (gone, kept): (Vec<AuthGrant>, Vec<AuthGrant>) =
        std::mem::take(&mut a.grants).into_iter().partition(drop);
    a.grants = kept;
    if a.grants.is_empty() {
        *auth = None;
    }
    gone
}

/// Why a grant ended.
#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq, Eq, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum EndReason {
    /// Revoked by an operator.
    Revoked,
    /// The device it came through was revoked.
    DeviceRevoked,
    /// The asset left the grant's branch (recall, allocation elsewhere).
    LeftBranch,
    /// The asset (or the device it came through) was deactivated.
    Deactivated,
    /// The device it came through was deleted.
    DeviceDeleted,
    /// The card was unbound from the device it came through.
    Unbound,
}

impl EndReason {
    /// The name stored and shown.
    pub fn as_str(self) -> &'static str {
        match self {
            EndReason::Revoked => "revoked",
            EndReason::DeviceRevoked => "device_revoked",
            EndReason::LeftBranch => "left_branch",
            EndReason::Deactivated => "deactivated",
            EndReason::DeviceDeleted => "device_deleted",
            EndReason::Unbound => "unbound",
        }
    }
}

/// One grant, live or ended (EnterpriseCardAuthorization /
/// EnterpriseDeviceAuthorization).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq, utoipa::ToSchema)]
pub struct AuthorizationRecord {
    pub id: u64,
    pub enterprise_id: u64,
    /// Owner shop path of the enterprise (who may list the record).
    #[schema(value_type = Option<String>)]
    pub enterprise_path: Option<ShopPath>,
    pub asset_type: AssetType,
    pub asset_id: u64,
    /// ICCID of a card, virtual number of a device.
    pub identifier: String,
    pub via_device_id: Option<u64>,
    #[schema(value_type = Option<String>)]
    pub branch: Option<ShopPath>,
    pub authorized_by: u64,
    pub authorized_at: String,
    pub remark: Option<String>,
    /// The end (absent while live, never stored as NULL: `attribute_not_exists`
    /// means live).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revoked_by: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revoked_at: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end_reason: Option<EndReason>,
}

impl AuthorizationRecord {
    /// The live grant this record stands for.
    pub fn grant(&self) -> AuthGrant {
        AuthGrant {
            record_id: self.id,
            via_device_id: self.via_device_id,
            branch: self.branch.clone(),
            authorized_by: self.authorized_by,
            authorized_at: self.authorized_at.clone(),
        }
    }
}

/// A grant that ended: its record, why, by whom (`None` = the system) and when.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ended {
    pub record_id: u64,
    pub reason: EndReason,
    pub by: Option<u64>,
    pub at: String,
}

/// The grants of `auth` that do not hold once the asset is held by `owner`, removed.
pub fn outside_branch(
    auth: &mut Option<EnterpriseAuth>,
    owner: Option<&ShopPath>,
) -> Vec<AuthGrant> {
    remove_grants(auth, |g| !g.holds_at(owner))
}

/// The records of `grants` ended for `reason` by `by` at `at`.
pub fn ended(grants: &[AuthGrant], reason: EndReason, by: Option<u64>, at: &str) -> Vec<Ended> {
    grants
        .iter()
        .map(|g| Ended {
            record_id: g.record_id,
            reason,
            by,
            at: at.to_string(),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grant(record_id: u64, via: Option<u64>, branch: Option<ShopPath>) -> AuthGrant {
        AuthGrant {
            record_id,
            via_device_id: via,
            branch,
            authorized_by: 1,
            authorized_at: "t".into(),
        }
    }

    #[test]
    fn one_enterprise_and_one_grant_of_each_kind() {
        let a = ShopPath::top(1);
        let mut auth = None;
        assert_eq!(
            add_grant(&mut auth, 7, grant(1, None, Some(a.clone()))),
            Granted::New
        );
        assert_eq!(
            add_grant(&mut auth, 7, grant(2, None, Some(a.clone()))),
            Granted::Already
        );
        assert_eq!(
            add_grant(&mut auth, 7, grant(3, Some(9), Some(a.clone()))),
            Granted::New
        );
        assert_eq!(
            add_grant(&mut auth, 8, grant(4, None, None)),
            Granted::Elsewhere(7)
        );
        assert_eq!(auth.as_ref().map(|x| x.grants.len()), Some(2));
        // Revoking the device keeps the card's own grant.
        let gone = remove_grants(&mut auth, |g| g.via_device_id == Some(9));
        assert_eq!(gone.len(), 1);
        assert_eq!(auth.as_ref().map(|x| x.grants[0].record_id), Some(1));
        let gone = remove_grants(&mut auth, |g| g.via_device_id.is_none());
        assert_eq!(gone[0].record_id, 1);
        assert_eq!(auth, None, "no grant left: not authorised");
        assert!(remove_grants(&mut auth, |_| true).is_empty());
    }

    #[test]
    fn a_grant_lives_within_its_branch() {
        let a = ShopPath::top(1);
        let b = a.child(2);
        let d = ShopPath::top(3);
        let by_a = grant(1, None, Some(a.clone()));
        assert!(by_a.holds_at(Some(&a)) && by_a.holds_at(Some(&b)));
        assert!(!by_a.holds_at(Some(&d)) && !by_a.holds_at(None));
        let by_b = grant(2, None, Some(b.clone()));
        assert!(!by_b.holds_at(Some(&a)), "recalled to the parent: out");
        let in_stock = grant(3, None, None);
        assert!(in_stock.holds_at(None) && !in_stock.holds_at(Some(&a)));
        let mut auth = Some(EnterpriseAuth {
            enterprise_id: 7,
            grants: vec![by_a, by_b],
        });
        let gone = outside_branch(&mut auth, Some(&a));
        assert_eq!(
            gone.iter().map(|g| g.record_id).collect::<Vec<_>>(),
            vec![2]
        );
        assert_eq!(auth.as_ref().map(|x| x.grants.len()), Some(1));
        let e = ended(&gone, EndReason::LeftBranch, None, "now");
        assert_eq!(e[0].record_id, 2);
        assert_eq!(EndReason::LeftBranch.as_str(), "left_branch");
    }
}
