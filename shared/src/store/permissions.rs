//! The permission index: one item holding every live permission's code and status
//! (attribute `p<id>` = `{c: code, on: enabled}`), kept by the transactions that
//! create, change and delete permissions. The per-request read fetches it with the
//! account, so turning roles into codes costs no extra round trip.

use aws_sdk_dynamodb::types::AttributeValue;

use super::tx::{Cond, Tx, Upd};
use super::{keys, s, Item, Key};
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

/// Adds to `tx` the index update forgetting permission `id`.
pub fn forget(tx: Tx, id: u64) -> Tx {
    tx.update("index", &index_key(), index_remove(id), None)
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
    Upd::new("REMOVE #perm0").name("#perm0", &attr(id))
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
