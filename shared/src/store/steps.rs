//! Writes larger than one transaction: a list of changes, each a group of operations
//! that must commit together, applied in as few transactions as possible. When they
//! all fit in one, that is all; otherwise they go in chunks and, if a chunk fails,
//! the chunks already applied are undone with each change's inverse operations.
//!
//! A change may move a counter on an item that other changes of the same
//! transaction move too, or that a guard checks ([`Op::Count`]): DynamoDB takes one
//! operation per item in a transaction, so the moves of one item are summed into one
//! update, which carries the guard's condition when there is one.

use super::tx::{Cond, Tx, Upd, MAX_TX_ITEMS};
use super::{n, Item, Key, Store, StoreError};

/// One operation of a transaction.
#[derive(Clone, Debug)]
pub enum Op {
    Put(&'static str, Item, Option<Cond>),
    Update(&'static str, Key, Upd, Option<Cond>),
    Delete(&'static str, Key, Option<Cond>),
    Check(&'static str, Key, Cond),
    /// `ADD <attr> delta` (and `version`) on the item at the key, merged with the
    /// other counts and the check of the same item in the transaction.
    Count(&'static str, Key, &'static str, i64),
}

impl Op {
    fn add_to(self, tx: Tx) -> Tx {
        match self {
            Op::Put(l, item, c) => tx.put(l, item, c),
            Op::Update(l, key, upd, c) => tx.update(l, &key, upd, c),
            Op::Delete(l, key, c) => tx.delete(l, &key, c),
            Op::Check(l, key, c) => tx.check(l, &key, c),
            Op::Count(l, key, attr, delta) => tx.update(l, &key, counts(&[(attr, delta)]), None),
        }
    }

    /// Operations this adds to a transaction whose guards are `guard`: a count on a
    /// guarded item costs none.
    fn cost(&self, guard: &[Op]) -> usize {
        match self {
            Op::Count(_, key, _, _) if guard.iter().any(|g| g.checks(key)) => 0,
            _ => 1,
        }
    }

    fn checks(&self, key: &Key) -> bool {
        matches!(self, Op::Check(_, k, _) if k == key)
    }
}

/// `ADD` of each counter move and of `version` (a write that read the old count
/// under the old version fails instead of writing it back).
fn counts(moves: &[(&'static str, i64)]) -> Upd {
    let mut expr: Vec<String> = (0..moves.len()).map(|i| format!("#c{i} :c{i}")).collect();
    expr.push("version :one".into());
    let mut upd = Upd::new(format!("ADD {}", expr.join(", "))).value(":one", n(1));
    for (i, (attr, delta)) in moves.iter().enumerate() {
        upd = upd
            .name(&format!("#c{i}"), attr)
            .value(&format!(":c{i}"), n(delta));
    }
    upd
}

/// Operations that commit together, and the operations that revert them.
#[derive(Clone, Debug, Default)]
pub struct Change {
    pub ops: Vec<Op>,
    pub undo: Vec<Op>,
}

/// Counter moves of one item: `(attribute, delta)`.
type Moves = Vec<(&'static str, i64)>;

/// Builds a transaction from operations: the counts of one item summed into one
/// update, conditioned by the check of that item when there is one.
pub fn tx_of(ops: impl IntoIterator<Item = Op>) -> Tx {
    let mut others = Vec::new();
    let mut moved: Vec<(&'static str, Key, Moves)> = Vec::new();
    for op in ops {
        match op {
            Op::Count(label, key, attr, delta) => {
                match moved.iter_mut().find(|(_, k, _)| *k == key) {
                    Some((_, _, moves)) => match moves.iter_mut().find(|(a, _)| *a == attr) {
                        Some((_, sum)) => *sum += delta,
                        None => moves.push((attr, delta)),
                    },
                    None => moved.push((label, key, vec![(attr, delta)])),
                }
            }
            other => others.push(other),
        }
    }
    let mut tx = Tx::new();
    for op in others {
        tx = match op {
            Op::Check(label, key, cond) => match moved.iter().position(|(_, k, _)| *k == key) {
                Some(pos) => {
                    let (_, _, moves) = moved.swap_remove(pos);
                    tx.update(label, &key, counts(&moves), Some(cond))
                }
                None => tx.check(label, &key, cond),
            },
            op => op.add_to(tx),
        };
    }
    for (label, key, moves) in moved {
        tx = tx.update(label, &key, counts(&moves), None);
    }
    tx
}

impl Store {
    /// Applies `changes`, each chunk also carrying the `guard` operations (checks that
    /// must hold throughout). One transaction when everything fits; otherwise chunks,
    /// undoing the applied ones (newest first) when a later chunk fails, and returning
    /// that chunk's error. An undo that fails too is logged: the changes it could not
    /// revert stay applied.
    pub async fn apply_changes(
        &self,
        guard: &[Op],
        changes: Vec<Change>,
    ) -> Result<(), StoreError> {
        let room = MAX_TX_ITEMS.saturating_sub(guard.len());
        let mut chunks: Vec<Vec<Change>> = vec![];
        let mut used = 0;
        for c in changes {
            let size: usize = c.ops.iter().map(|op| op.cost(guard)).sum();
            if size > room {
                return Err(StoreError::TooLarge {
                    ops: guard.len() + size,
                });
            }
            match chunks.last_mut() {
                Some(last) if used + size <= room => {
                    used += size;
                    last.push(c);
                }
                _ => {
                    used = size;
                    chunks.push(vec![c]);
                }
            }
        }
        let mut applied: Vec<Vec<Change>> = vec![];
        for chunk in chunks {
            let ops = guard
                .iter()
                .cloned()
                .chain(chunk.iter().flat_map(|c| c.ops.clone()));
            if let Err(e) = self.transact(tx_of(ops)).await {
                for done in applied.into_iter().rev() {
                    let undo = done.into_iter().rev().flat_map(|c| c.undo);
                    if let Err(u) = self.transact(tx_of(undo)).await {
                        tracing::error!(error = %u, "undo of a multi-transaction change failed");
                    }
                }
                return Err(e);
            }
            applied.push(chunk);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_of_one_item_become_one_operation_guarded_by_its_check() {
        let grant = Key::new("GRANT#1", "#");
        let other = Key::new("PACKAGE#1", "#");
        let ops = vec![
            Op::Check("grant", grant.clone(), Cond::live()),
            Op::Count("grant", grant.clone(), "package_count", 1),
            Op::Count("grant", grant.clone(), "package_count", 1),
            Op::Count("package", other.clone(), "allocation_count", 1),
            Op::Count("package", other, "allocation_count", -1),
        ];
        assert_eq!(tx_of(ops).len(), 2, "one update per item");
        let guard = [Op::Check("grant", grant.clone(), Cond::live())];
        assert_eq!(
            Op::Count("grant", grant, "package_count", 1).cost(&guard),
            0
        );
    }
}
