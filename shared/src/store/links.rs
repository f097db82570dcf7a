//! Links between organisation entities: the roles a shop offers, the roles an account
//! holds and the permissions a role grants. One item per link under the owner's
//! partition (`ROLE#<id>` / `PERM#<id>`); role links are also listed under the role's
//! `ROLEUSE#` partition so "is this role in use" is one Query.

use super::keys::{self, gsi1};
use super::org::with_gsi1;
use super::tx::{Cond, Tx, MAX_TX_ITEMS};
use super::{n, str_attr, Item, Key, On, Store, StoreError};

/// A link set: whose links, to what.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Links {
    /// Roles available to shop `id` (ShopRole).
    ShopRoles(u64),
    /// Roles held by account `id` (AccountRole).
    AccountRoles(u64),
    /// Permissions granted by role `id` (RolePermission).
    RolePermissions(u64),
}

/// Transaction labels of a link replacement's conditions.
pub mod label {
    /// The owner (shop, account, role) is missing or deleted.
    pub const OWNER: &str = "owner";
    /// A newly linked target failed its condition.
    pub const TARGET: &str = "target";
}

impl Links {
    /// The owner's entity key.
    fn owner(self) -> Key {
        match self {
            Links::ShopRoles(id) => keys::shop(id),
            Links::AccountRoles(id) => keys::account(id),
            Links::RolePermissions(id) => keys::role(id),
        }
    }

    /// The entity key of linked target `id`.
    pub fn target(self, id: u64) -> Key {
        match self {
            Links::ShopRoles(_) | Links::AccountRoles(_) => keys::role(id),
            Links::RolePermissions(_) => keys::permission(id),
        }
    }

    /// The link item's key.
    fn link(self, target: u64) -> Key {
        match self {
            Links::ShopRoles(id) => keys::shop_role(id, target),
            Links::AccountRoles(id) => keys::account_role(id, target),
            Links::RolePermissions(id) => keys::role_permission(id, target),
        }
    }

    /// The sort-key prefix of the link items.
    fn prefix(self) -> &'static str {
        match self {
            Links::ShopRoles(_) | Links::AccountRoles(_) => keys::ROLE_LINK_PREFIX,
            Links::RolePermissions(_) => keys::PERMISSION_LINK_PREFIX,
        }
    }

    /// The link item for `target`.
    pub fn item(self, target: u64) -> Item {
        let key = self.link(target);
        match self {
            Links::ShopRoles(_) | Links::AccountRoles(_) => {
                let mut item = key.item();
                item.insert("role_id".into(), n(target));
                with_gsi1(item, &gsi1::role_use(target), key.pk)
            }
            Links::RolePermissions(_) => key.item(),
        }
    }

    /// Operations a replacement with these changes takes.
    fn ops(added: usize, removed: usize) -> usize {
        1 + 2 * added + removed
    }

    /// Most links one replacement can add (with nothing removed).
    pub const MAX_ADDED: usize = (MAX_TX_ITEMS - 1) / 2;
}

impl Store {
    /// Ids of the targets currently linked.
    pub async fn linked_ids(&self, links: Links) -> Result<Vec<u64>, StoreError> {
        let items = self
            .query_prefix(On::Table, &links.owner().pk, links.prefix())
            .await?;
        Ok(ids_of(&items, links.prefix()))
    }

    /// Replaces the link set with `wanted`, in one transaction: the owner must be
    /// live and every newly linked target must hold `target` (kept links are left
    /// alone). A change too large for one transaction is refused as
    /// [`StoreError::TooLarge`] before anything is written; failed conditions are
    /// labelled [`label::OWNER`] or [`label::TARGET`].
    pub async fn replace_links(
        &self,
        links: Links,
        wanted: &[u64],
        target: Cond,
    ) -> Result<(), StoreError> {
        let current = self.linked_ids(links).await?;
        let added: Vec<u64> = wanted
            .iter()
            .copied()
            .filter(|id| !current.contains(id))
            .collect();
        let removed: Vec<u64> = current
            .iter()
            .copied()
            .filter(|id| !wanted.contains(id))
            .collect();
        let ops = Links::ops(added.len(), removed.len());
        if ops > MAX_TX_ITEMS {
            return Err(StoreError::TooLarge { ops });
        }
        let mut tx = Tx::new().check(label::OWNER, &links.owner(), Cond::live());
        for id in added {
            tx = tx
                .check(label::TARGET, &links.target(id), target.clone())
                .put("link", links.item(id), None);
        }
        for id in removed {
            tx = tx.delete("link", &links.link(id), None);
        }
        self.transact(tx).await
    }
}

/// Ids named by link items (`ROLE#7`, `PERM#9`).
fn ids_of(items: &[Item], prefix: &str) -> Vec<u64> {
    items
        .iter()
        .filter_map(|i| str_attr(i, "sk"))
        .filter_map(|sk| sk.strip_prefix(prefix))
        .filter_map(|id| id.parse().ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn link_keys_and_ids_round_trip() {
        for links in [
            Links::ShopRoles(3),
            Links::AccountRoles(4),
            Links::RolePermissions(5),
        ] {
            let item = links.item(42);
            assert_eq!(ids_of(&[item], links.prefix()), vec![42], "{links:?}");
        }
        let role_link = Links::AccountRoles(4).item(9);
        assert_eq!(str_attr(&role_link, "gsi1pk"), Some("ROLEUSE#9"));
        assert!(!Links::RolePermissions(5).item(9).contains_key("gsi1pk"));
    }

    #[test]
    fn the_largest_change_fits_one_transaction() {
        assert!(Links::ops(Links::MAX_ADDED, 0) <= MAX_TX_ITEMS);
        assert!(Links::ops(Links::MAX_ADDED + 1, 0) > MAX_TX_ITEMS);
        assert!(Links::ops(40, 40) > MAX_TX_ITEMS);
    }
}
