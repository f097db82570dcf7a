//! The permission index: one item holding every live permission's code and status
//! (attribute `p<id>` = `{c: code, on: enabled}`), kept by the transactions that
//! create, change and delete permissions, and how many live roles grant each
//! (`h<id>`), kept by the transactions that change a role's permissions or delete
//! it. The per-request read fetches it with the account, so turning roles into codes
//! costs no extra round trip; a permission is deleted only while no role grants it,
//! checked inside the delete.

use aws_sdk_dynamodb::types::AttributeValue;

use super::tx::{Cond, Tx, Upd};
use super::{keys, n, s, Item, Key};
use crate::domain::entities::Permission;
use crate::domain::org::Status;
use crate::domain::permissions::{IndexEntry, PermissionIndex};

/// The index item's key.
pub fn index_key() -> Key {
    keys::permission_index()
}

fn attr(id: u64) -> String {
    format!("p{id}")
}

/// Adds to `tx` the index update recording every permission of `ps` (not empty) with
/// its current code and status.
pub fn record(tx: Tx, ps: &[Permission]) -> Tx {
    tx.update("index", &index_key(), index_set(ps), None)
}

/// Label of the index update of [`forget`] (fails while a role grants it).
pub const GRANTED: &str = "permission_granted";

/// Adds to `tx` the index update forgetting permission `id`, which no live role may
/// grant.
pub fn forget(tx: Tx, id: u64) -> Tx {
    let unheld = Cond::new("attribute_not_exists(#held) OR #held <= :none")
        .name("#held", &held(id))
        .value(":none", n(0));
    tx.update(GRANTED, &index_key(), index_remove(id), Some(unheld))
}

fn held(id: u64) -> String {
    format!("h{id}")
}

/// Adds to `tx` that one more role grants each of `added` (all must be live: the
/// update fails otherwise, labelled `label`) and one fewer each of `removed`.
/// Nothing is added when both are empty.
pub fn count_grants(tx: Tx, label: &'static str, added: &[u64], removed: &[u64]) -> Tx {
    let changes: Vec<(u64, i64)> = added
        .iter()
        .map(|id| (*id, 1))
        .chain(removed.iter().map(|id| (*id, -1)))
        .collect();
    if changes.is_empty() {
        return tx;
    }
    let adds = (0..changes.len())
        .map(|i| format!("#h{i} :g{i}"))
        .collect::<Vec<_>>()
        .join(", ");
    let upd =
        changes
            .iter()
            .enumerate()
            .fold(Upd::new(format!("ADD {adds}")), |u, (i, (id, step))| {
                u.name(&format!("#h{i}"), &held(*id))
                    .value(&format!(":g{i}"), n(*step))
            });
    let cond = (!added.is_empty()).then(|| all_indexed(added));
    tx.update(label, &index_key(), upd, cond)
}

fn index_set(ps: &[Permission]) -> Upd {
    let sets = (0..ps.len())
        .map(|i| format!("#perm{i} = :entry{i}"))
        .collect::<Vec<_>>()
        .join(", ");
    ps.iter()
        .enumerate()
        .fold(Upd::new(format!("SET {sets}")), |u, (i, p)| {
            let entry = AttributeValue::M(
                [
                    ("c".to_string(), s(p.perm_code.clone())),
                    (
                        "on".to_string(),
                        AttributeValue::Bool(p.status == Status::Enabled),
                    ),
                ]
                .into(),
            );
            u.name(&format!("#perm{i}"), &attr(p.id))
                .value(&format!(":entry{i}"), entry)
        })
}

fn index_remove(id: u64) -> Upd {
    Upd::new("REMOVE #perm0, #held0")
        .name("#perm0", &attr(id))
        .name("#held0", &held(id))
}

/// Every permission in `ids` is live (in the index). `ids` must not be empty.
pub fn all_indexed(ids: &[u64]) -> Cond {
    let expr = (0..ids.len())
        .map(|i| format!("attribute_exists(#perm{i})"))
        .collect::<Vec<_>>()
        .join(" AND ");
    ids.iter().enumerate().fold(Cond::new(expr), |c, (i, id)| {
        c.name(&format!("#perm{i}"), &attr(*id))
    })
}

/// Decodes the index item (a missing item is an empty index).
pub fn parse_index(item: Option<&Item>) -> PermissionIndex {
    let Some(item) = item else {
        return PermissionIndex::new();
    };
    item.iter()
        .filter_map(|(name, value)| {
            let id = name.strip_prefix('p')?.parse::<u64>().ok()?;
            let AttributeValue::M(m) = value else {
                return None;
            };
            let code = match m.get("c") {
                Some(AttributeValue::S(c)) => c.clone(),
                _ => return None,
            };
            let enabled = matches!(m.get("on"), Some(AttributeValue::Bool(true)));
            Some((id, IndexEntry { code, enabled }))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_round_trip_and_key_attributes_are_ignored() {
        let mut item = index_key().item();
        item.insert(
            "p7".into(),
            AttributeValue::M(
                [
                    ("c".to_string(), s("shop:view")),
                    ("on".to_string(), AttributeValue::Bool(false)),
                ]
                .into(),
            ),
        );
        let index = parse_index(Some(&item));
        assert_eq!(index.len(), 1);
        assert_eq!(
            index[&7],
            IndexEntry {
                code: "shop:view".into(),
                enabled: false
            }
        );
        assert!(parse_index(None).is_empty());
    }

    #[test]
    fn the_existence_condition_names_every_id() {
        let c = all_indexed(&[3, 9]);
        assert_eq!(
            c.expr(),
            "attribute_exists(#perm0) AND attribute_exists(#perm1)"
        );
        let names = c.names_map().unwrap_or_default();
        assert_eq!(names["#perm1"], "p9");
    }
}
