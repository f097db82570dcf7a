//! Import rows written many per transaction: each row's operations (the unique values
//! it claims, the items it creates) are packed with other rows' into one
//! `TransactWriteItems` of at most [`MAX_TX_ITEMS`] operations.
//!
//! When DynamoDB cancels a group, its cancellation reasons name every operation whose
//! condition failed; each row concerned decides what that means ([`GroupRow::verdict`]:
//! rejected, already written by an earlier delivery, or to be written again as a
//! replay) and the group is sent again with the rows left. Every round resolves or
//! changes at least one row, and a row changes at most once before it resolves, so a
//! group of `n` rows takes at most `2n + 1` rounds (one when nothing conflicts).
//!
//! A transaction may not touch one item twice, so a row sharing an item with an
//! earlier row of the chunk (a slot card two devices name, say) goes to a later
//! *wave*: waves run one after the other, in row order, so the earlier row is written
//! first and the later one meets its condition, exactly as when each row had its own
//! transaction. The groups of one wave touch disjoint items and run concurrently.

use std::collections::HashMap;

use super::Outcome;
use crate::domain::assets::ImportTask;
use crate::jobs::sqs::JobError;
use crate::store::tx::{FailedCondition, Tx, TxOutcome, MAX_TX_ITEMS};
use crate::store::{Key, Store, StoreError};

/// Groups of one wave in flight at once.
const GROUP_CONCURRENCY: usize = 4;

/// What a failed condition means for the row whose operation it was.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// The row is written already (by an earlier delivery of the chunk, and maybe
    /// changed since): it counts as imported.
    Done,
    /// The row is rejected for this reason.
    Failed(String),
    /// The row changed (it turned out to be a replay): written again next round.
    Again,
}

/// A valid row written in a group transaction.
pub trait GroupRow: Send + 'static {
    /// Its row number in the file.
    fn row(&self) -> u64;
    /// The value naming it in a failure (ICCID, virtual number).
    fn name(&self) -> &str;
    /// Adds its operations to `tx` (row of task `task`).
    fn ops(&self, tx: Tx, task: u64) -> Result<Tx, StoreError>;
    /// What `failed`, the first of its operations whose condition failed, means.
    fn verdict(&mut self, failed: &FailedCondition, task: u64) -> Verdict;
}

/// Writes `rows` (valid rows of `task`, in row order) in as few transactions as they
/// fit in; returns the rows written and those rejected.
pub async fn write_all<R: GroupRow>(
    store: &Store,
    task: &ImportTask,
    rows: Vec<R>,
) -> Result<Outcome, JobError> {
    let mut out = Outcome::default();
    for wave in plan(rows, task.id)? {
        let mut set = tokio::task::JoinSet::new();
        let mut groups = wave.into_iter();
        loop {
            while set.len() < GROUP_CONCURRENCY {
                let Some(group) = groups.next() else { break };
                let (store, task) = (store.clone(), task.clone());
                set.spawn(crate::store::calls::inherit(async move {
                    write_group(&store, &task, group).await
                }));
            }
            let Some(joined) = set.join_next().await else {
                break;
            };
            let done = joined.map_err(|e| JobError(e.to_string()))??;
            out.success += done.success;
            out.failed.extend(done.failed);
        }
    }
    Ok(out)
}

/// Splits `rows` into waves of groups: a row goes to the wave after the last one
/// holding an item it touches, and within its wave to the last group while its
/// operations fit.
fn plan<R: GroupRow>(rows: Vec<R>, task: u64) -> Result<Vec<Vec<Vec<R>>>, StoreError> {
    let mut wave_of: HashMap<Key, usize> = HashMap::new();
    // Per wave: its groups, each with its operation count.
    let mut waves: Vec<Vec<(Vec<R>, usize)>> = Vec::new();
    for r in rows {
        let tx = r.ops(Tx::new(), task)?;
        let ops = tx.len();
        let wave = tx
            .keys()
            .filter_map(|k| wave_of.get(k))
            .map(|w| w + 1)
            .max()
            .unwrap_or(0);
        for k in tx.keys() {
            wave_of.insert(k.clone(), wave);
        }
        while waves.len() <= wave {
            waves.push(Vec::new());
        }
        let Some(groups) = waves.get_mut(wave) else {
            continue;
        };
        match groups.last_mut() {
            Some((group, used)) if *used + ops <= MAX_TX_ITEMS => {
                group.push(r);
                *used += ops;
            }
            _ => groups.push((vec![r], ops)),
        }
    }
    Ok(waves
        .into_iter()
        .map(|groups| groups.into_iter().map(|(g, _)| g).collect())
        .collect())
}

/// Writes one group, sending it again without the rows a cancellation resolved.
async fn write_group<R: GroupRow>(
    store: &Store,
    task: &ImportTask,
    mut rows: Vec<R>,
) -> Result<Outcome, JobError> {
    let mut out = Outcome::default();
    for _ in 0..=2 * rows.len() {
        if rows.is_empty() {
            return Ok(out);
        }
        let mut tx = Tx::new();
        // Row (index in `rows`) of each operation.
        let mut row_of: Vec<usize> = Vec::new();
        for (i, r) in rows.iter().enumerate() {
            tx = r.ops(tx, task.id)?;
            row_of.resize(tx.len(), i);
        }
        let failed = match store.transact_each(tx).await? {
            TxOutcome::Written => {
                out.success += rows.len() as u64;
                return Ok(out);
            }
            TxOutcome::Cancelled(failed) => failed,
        };
        let mut first: Vec<Option<&FailedCondition>> = vec![None; rows.len()];
        for f in &failed {
            if let Some(slot) = row_of.get(f.index).and_then(|i| first.get_mut(*i)) {
                slot.get_or_insert(f);
            }
        }
        if first.iter().all(Option::is_none) {
            return Err(JobError(format!(
                "a cancelled import transaction named no row: {failed:?}"
            )));
        }
        let mut left = Vec::with_capacity(rows.len());
        for (mut r, f) in rows.into_iter().zip(first) {
            let Some(f) = f else {
                left.push(r);
                continue;
            };
            match r.verdict(f, task.id) {
                Verdict::Done => out.success += 1,
                Verdict::Failed(reason) => out.fail(task, r.row(), r.name(), reason),
                Verdict::Again => left.push(r),
            }
        }
        rows = left;
    }
    Err(JobError(format!(
        "import rows {:?} still conflict after every retry",
        rows.iter().map(GroupRow::row).collect::<Vec<_>>()
    )))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{keys, n};

    /// A row touching the items named by `keys`.
    struct Fake {
        row: u64,
        keys: Vec<String>,
    }

    fn fake(row: u64, keys: &[&str]) -> Fake {
        Fake {
            row,
            keys: keys.iter().map(|k| k.to_string()).collect(),
        }
    }

    impl GroupRow for Fake {
        fn row(&self) -> u64 {
            self.row
        }
        fn name(&self) -> &str {
            "x"
        }
        fn ops(&self, mut tx: Tx, _task: u64) -> Result<Tx, StoreError> {
            for k in &self.keys {
                let mut item = keys::unique("test", k).item();
                item.insert("n".into(), n(1));
                tx = tx.put_new("x", item);
            }
            Ok(tx)
        }
        fn verdict(&mut self, _: &FailedCondition, _: u64) -> Verdict {
            Verdict::Done
        }
    }

    fn rows_of(plan: &[Vec<Vec<Fake>>]) -> Vec<Vec<Vec<u64>>> {
        plan.iter()
            .map(|w| {
                w.iter()
                    .map(|g| g.iter().map(|r| r.row).collect())
                    .collect()
            })
            .collect()
    }

    #[test]
    fn rows_fill_groups_of_at_most_100_operations() {
        // 30 rows of 4 operations: 25 rows, then 5.
        let rows: Vec<Fake> = (1..=30)
            .map(|row| {
                let keys = ["a", "b", "c", "d"].map(|k| format!("{k}{row}"));
                fake(row, &keys.each_ref().map(String::as_str))
            })
            .collect();
        let plan = plan(rows, 1).unwrap();
        let groups = rows_of(&plan);
        assert_eq!(groups.len(), 1, "one wave");
        assert_eq!(
            groups[0].iter().map(Vec::len).collect::<Vec<_>>(),
            vec![25, 5]
        );
    }

    #[test]
    fn a_row_sharing_an_item_waits_for_the_wave_after_the_earlier_row() {
        let row = fake;
        let rows = vec![
            row(1, &["d1", "card1", "card2"]),
            row(2, &["d2"]),
            row(3, &["d3", "card1"]),
            row(4, &["d4", "card3"]),
            row(5, &["d5", "card1"]),
            row(6, &["d6", "card2"]),
        ];
        let plan = plan(rows, 1).unwrap();
        assert_eq!(
            rows_of(&plan),
            vec![vec![vec![1, 2, 4]], vec![vec![3, 6]], vec![vec![5]]]
        );
    }
}
