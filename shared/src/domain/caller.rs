//! Who is calling, and what data they may see (domain.md §3).

use super::org::UserType;
use super::permissions::Grants;
use super::shop_path::ShopPath;

/// The authenticated admin caller, loaded once per request by the auth layer.
#[derive(Clone, Debug)]
pub struct Caller {
    /// Account id.
    pub account_id: u64,
    /// Login name.
    pub username: String,
    /// Kind of account.
    pub user_type: UserType,
    /// Agents: their shop.
    pub shop_id: Option<u64>,
    /// Agents: their shop's materialised path (the subtree they see).
    pub shop_path: Option<ShopPath>,
    /// Enterprise accounts: their enterprise.
    pub enterprise_id: Option<u64>,
    /// The roles that count for the caller (held and, for agents and enterprises,
    /// offered by their shop).
    pub role_ids: Vec<u64>,
    /// The permission codes the caller holds.
    pub grants: Grants,
}

/// The rows a caller may see.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scope<'a> {
    /// Super admin and platform: everything.
    All,
    /// Agent: its shop and every descendant.
    Subtree(&'a ShopPath),
    /// Enterprise account: its enterprise only.
    Enterprise(u64),
}

/// The caller's user type is not among those a route allows.
#[derive(Debug, thiserror::Error)]
#[error("user type {0:?} may not call this route")]
pub struct NotAllowed(pub UserType);

impl Caller {
    /// The caller's data scope.
    pub fn scope(&self) -> Scope<'_> {
        match (self.user_type, &self.shop_path, self.enterprise_id) {
            (t, _, _) if t.is_platform() => Scope::All,
            (UserType::Agent, Some(path), _) => Scope::Subtree(path),
            (UserType::Enterprise, _, Some(e)) => Scope::Enterprise(e),
            // An agent without a shop or an enterprise account without an
            // enterprise sees nothing: an impossible enterprise id.
            _ => Scope::Enterprise(0),
        }
    }

    /// True for super admin and platform staff.
    pub fn is_platform(&self) -> bool {
        self.user_type.is_platform()
    }

    /// Whether an item owned by the shop at `owner` (None = platform-owned) is visible.
    pub fn sees_shop_owned(&self, owner: Option<&ShopPath>) -> bool {
        match self.scope() {
            Scope::All => true,
            Scope::Subtree(mine) => owner.is_some_and(|o| mine.contains(o)),
            Scope::Enterprise(_) => false,
        }
    }

    /// Whether an asset held by `owner` and authorised to enterprise `authorized` is
    /// visible: to an enterprise account when authorised to its enterprise, to the
    /// others by its owner.
    pub fn sees_asset(&self, owner: Option<&ShopPath>, authorized: Option<u64>) -> bool {
        match self.scope() {
            Scope::Enterprise(e) => authorized == Some(e),
            _ => self.sees_shop_owned(owner),
        }
    }

    /// Route-level check: refuses callers whose user type is not in `allowed`.
    pub fn require(&self, allowed: &[UserType]) -> Result<(), NotAllowed> {
        if allowed.contains(&self.user_type) {
            Ok(())
        } else {
            Err(NotAllowed(self.user_type))
        }
    }
}

/// Super admin only.
pub const SA: &[UserType] = &[UserType::SuperAdmin];
/// Super admin and platform.
pub const SA_PL: &[UserType] = &[UserType::SuperAdmin, UserType::Platform];
/// Super admin, platform and agents.
pub const SA_PL_AG: &[UserType] = &[UserType::SuperAdmin, UserType::Platform, UserType::Agent];
/// Every admin user type.
pub const ANY_ADMIN: &[UserType] = &[
    UserType::SuperAdmin,
    UserType::Platform,
    UserType::Agent,
    UserType::Enterprise,
];

#[cfg(test)]
mod tests {
    use super::*;

    fn caller(user_type: UserType, path: Option<ShopPath>, ent: Option<u64>) -> Caller {
        Caller {
            account_id: 1,
            username: "u".into(),
            user_type,
            shop_id: path.as_ref().map(|p| p.shop_id()),
            shop_path: path,
            enterprise_id: ent,
            role_ids: Vec::new(),
            grants: Grants::Everything,
        }
    }

    #[test]
    fn scope_per_user_type() {
        let l1 = ShopPath::top(1);
        let l2 = l1.child(2);
        let sibling = ShopPath::top(3);
        let agent = caller(UserType::Agent, Some(l1.clone()), None);
        assert!(agent.sees_shop_owned(Some(&l1)));
        assert!(agent.sees_shop_owned(Some(&l2)));
        assert!(!agent.sees_shop_owned(Some(&sibling)));
        assert!(!agent.sees_shop_owned(None));
        let deep = caller(UserType::Agent, Some(l2.clone()), None);
        assert!(!deep.sees_shop_owned(Some(&l1)), "never an ancestor");
        for t in [UserType::SuperAdmin, UserType::Platform] {
            let c = caller(t, None, None);
            assert_eq!(c.scope(), Scope::All);
            assert!(c.sees_shop_owned(None) && c.sees_shop_owned(Some(&sibling)));
        }
        let ent = caller(UserType::Enterprise, None, Some(7));
        assert_eq!(ent.scope(), Scope::Enterprise(7));
        assert!(!ent.sees_shop_owned(Some(&l1)));
        assert!(ent.sees_asset(Some(&l1), Some(7)) && !ent.sees_asset(None, Some(8)));
        assert!(!ent.sees_asset(None, None));
        assert!(agent.sees_asset(Some(&l1), None) && !agent.sees_asset(Some(&sibling), Some(7)));
        let broken = caller(UserType::Agent, None, None);
        assert!(!broken.sees_shop_owned(Some(&l1)));
    }

    #[test]
    fn route_level_check() {
        let ent = caller(UserType::Enterprise, None, Some(7));
        assert!(ent.require(SA_PL_AG).is_err());
        assert!(ent.require(ANY_ADMIN).is_ok());
    }
}
