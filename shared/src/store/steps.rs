//! Writes larger than one transaction: a list of changes, each a group of operations
//! that must commit together, applied in as few transactions as possible. When they
//! all fit in one, that is all; otherwise they go in chunks and, if a chunk fails,
//! the chunks already applied are undone with each change's inverse operations.

use super::tx::{Cond, Tx, Upd, MAX_TX_ITEMS};
use super::{Item, Key, Store, StoreError};

/// One operation of a transaction.
#[derive(Clone, Debug)]
pub enum Op {
    Put(&'static str, Item, Option<Cond>),
    Update(&'static str, Key, Upd, Option<Cond>),
    Delete(&'static str, Key, Option<Cond>),
    Check(&'static str, Key, Cond),
}

impl Op {
    fn add_to(self, tx: Tx) -> Tx {
        match self {
            Op::Put(l, item, c) => tx.put(l, item, c),
            Op::Update(l, key, upd, c) => tx.update(l, &key, upd, c),
            Op::Delete(l, key, c) => tx.delete(l, &key, c),
            Op::Check(l, key, c) => tx.check(l, &key, c),
        }
    }
}

/// Operations that commit together, and the operations that revert them.
#[derive(Clone, Debug, Default)]
pub struct Change {
    pub ops: Vec<Op>,
    pub undo: Vec<Op>,
}

/// Builds a transaction from operations.
pub fn tx_of(ops: impl IntoIterator<Item = Op>) -> Tx {
    ops.into_iter().fold(Tx::new(), |tx, op| op.add_to(tx))
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
            if c.ops.len() > room {
                return Err(StoreError::TooLarge {
                    ops: guard.len() + c.ops.len(),
                });
            }
            match chunks.last_mut() {
                Some(last) if used + c.ops.len() <= room => {
                    used += c.ops.len();
                    last.push(c);
                }
                _ => {
                    used = c.ops.len();
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
