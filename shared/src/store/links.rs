//! Links between organisation entities: the roles a shop offers, the roles an account
//! holds and the permissions a role grants. The owner item holds the set
//! (`role_ids`, `permission_ids`), so the per-request read sees it without a query.
//! A role counts its holders (`holders`: accounts and shops), kept by the same
//! transactions that change the sets, so "is this role in use" is a condition inside
//! the role's own write, never a prior query.

use aws_sdk_dynamodb::types::AttributeValue;

use super::keys;
use super::permissions;
use super::tx::{Cond, Tx, Upd, MAX_TX_ITEMS};
use super::{n, Item, Key, Store, StoreError};

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
    /// The owner kept changing while the replacement was retried.
    pub const CONCURRENT: &str = "concurrent";
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

    /// The owner attribute holding the set.
    fn attr(self) -> &'static str {
        match self {
            Links::ShopRoles(_) | Links::AccountRoles(_) => "role_ids",
            Links::RolePermissions(_) => "permission_ids",
        }
    }

    /// The entity key of linked target `id`.
    pub fn target(self, id: u64) -> Key {
        match self {
            Links::ShopRoles(_) | Links::AccountRoles(_) => keys::role(id),
            Links::RolePermissions(_) => keys::permission(id),
        }
    }

    /// Whether the targets are roles (which count their holders).
    fn of_roles(self) -> bool {
        !matches!(self, Links::RolePermissions(_))
    }

    /// Operations a replacement with these changes takes.
    fn ops(self, added: usize, removed: usize) -> usize {
        match self {
            Links::ShopRoles(_) | Links::AccountRoles(_) => 1 + added + removed,
            Links::RolePermissions(_) => 1 + usize::from(added + removed > 0),
        }
    }

    /// Most role links one replacement can add (with nothing removed).
    pub const MAX_ADDED: usize = MAX_TX_ITEMS - 1;
}

/// Label of a holder-count change of a role that is no longer held.
const RELEASE: &str = "role_release";

/// Adds to `tx` that role `role` gains `holders` holders: it must meet `cond` (live,
/// of the right type...). Labelled `label`.
pub fn hold_role(tx: Tx, label: &'static str, role: u64, holders: i64, cond: Cond) -> Tx {
    tx.update(
        label,
        &keys::role(role),
        Upd::counter("holders", holders),
        Some(cond),
    )
}

/// Adds to `tx` that each role of `roles` loses one holder (an account or shop that
/// held them is deleted, or gave them up).
pub fn release_roles(mut tx: Tx, roles: &[u64]) -> Tx {
    for role in roles {
        tx = tx.update(
            RELEASE,
            &keys::role(*role),
            Upd::counter("holders", -1),
            None,
        );
    }
    tx
}

/// A role nobody holds (the condition of its deletion and of a change of its type).
pub fn role_unheld() -> Cond {
    Cond::new("attribute_not_exists(holders) OR holders = :no_holders").value(":no_holders", n(0))
}

/// The ids of an owner item's set.
pub fn ids_in(item: &Item, attr: &str) -> Vec<u64> {
    match item.get(attr) {
        Some(AttributeValue::L(values)) => values
            .iter()
            .filter_map(|v| match v {
                AttributeValue::N(n) => n.parse().ok(),
                _ => None,
            })
            .collect(),
        _ => Vec::new(),
    }
}

/// Attempts of a replacement whose owner changed under it.
const ATTEMPTS: usize = 3;

impl Store {
    /// Ids of the targets currently linked (none when the owner is missing).
    pub async fn linked_ids(&self, links: Links) -> Result<Vec<u64>, StoreError> {
        Ok(self
            .get(&links.owner())
            .await?
            .map(|item| ids_in(&item, links.attr()))
            .unwrap_or_default())
    }

    /// Replaces the link set with `wanted`, in one transaction: the owner's set is
    /// written only if the owner is live and unchanged since it was read (its
    /// `version` moves on, so an optimistic save that read the old set fails), every
    /// newly linked role must hold `target` and gains a holder, every dropped role
    /// loses one, and every newly granted permission must be live and counts one
    /// more granting role, every dropped one one fewer (`target` is not used for
    /// permissions). A replacement that loses a
    /// race is retried from a fresh read. A change too large for one transaction is
    /// refused as [`StoreError::TooLarge`] before anything is written; failed
    /// conditions are labelled [`label::OWNER`], [`label::TARGET`] or
    /// [`label::CONCURRENT`].
    pub async fn replace_links(
        &self,
        links: Links,
        wanted: &[u64],
        target: Cond,
    ) -> Result<(), StoreError> {
        for _ in 0..ATTEMPTS {
            let owner = self
                .get(&links.owner())
                .await?
                .filter(|i| !i.contains_key("deleted_at"))
                .ok_or(StoreError::ConditionFailed {
                    label: label::OWNER,
                    old: None,
                })?;
            let version = super::num_attr(&owner, "version").unwrap_or(0);
            let current = ids_in(&owner, links.attr());
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
            let ops = links.ops(added.len(), removed.len());
            if ops > MAX_TX_ITEMS {
                return Err(StoreError::TooLarge { ops });
            }
            let set = AttributeValue::L(wanted.iter().map(n).collect());
            let upd = Upd::new("SET #set = :set ADD version :one")
                .name("#set", links.attr())
                .value(":set", set)
                .value(":one", n(1));
            let mut tx = Tx::new().update(
                label::OWNER,
                &links.owner(),
                upd,
                Some(Cond::live().and(Cond::version(version))),
            );
            if links.of_roles() {
                for id in added {
                    tx = hold_role(tx, label::TARGET, id, 1, target.clone());
                }
                tx = release_roles(tx, &removed);
            } else {
                tx = permissions::count_grants(tx, label::TARGET, &added, &removed);
            }
            match self.transact(tx).await {
                Err(StoreError::ConditionFailed {
                    label: label::OWNER,
                    old: Some(old),
                }) if !old.contains_key("deleted_at") => continue,
                other => return other,
            }
        }
        Err(StoreError::ConditionFailed {
            label: label::CONCURRENT,
            old: None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sets_are_read_from_their_owner() {
        let mut owner = Item::new();
        owner.insert("role_ids".into(), AttributeValue::L(vec![n(3), n(9)]));
        assert_eq!(ids_in(&owner, "role_ids"), vec![3, 9]);
        assert!(ids_in(&owner, "permission_ids").is_empty());
    }

    #[test]
    fn the_largest_change_fits_one_transaction() {
        let roles = Links::AccountRoles(1);
        assert!(roles.ops(Links::MAX_ADDED, 0) <= MAX_TX_ITEMS);
        assert!(roles.ops(Links::MAX_ADDED + 1, 0) > MAX_TX_ITEMS);
        assert!(roles.ops(50, 50) > MAX_TX_ITEMS);
        assert_eq!(Links::RolePermissions(1).ops(90, 90), 2);
    }
}
