//! Transactions whose failures say which condition failed.
//!
//! Every operation is added with a label; when DynamoDB cancels the transaction, the
//! first item whose reason is `ConditionalCheckFailed` is reported as
//! `StoreError::ConditionFailed { label, old }`, so callers map it to the right
//! business error (duplicate code, stale version, missing parent, ...).
//! [`Store::transact_each`] gives every failed condition instead (from the
//! cancellation's per-operation reasons), for callers that write many independent
//! rows in one transaction and retry it without the rows that failed.

use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{
    ConditionCheck, Delete, Put, ReturnValuesOnConditionCheckFailure, TransactWriteItem, Update,
};

use super::{str_attr, Item, Key, Store, StoreError};

/// Most operations DynamoDB accepts in one transaction.
pub const MAX_TX_ITEMS: usize = 100;

/// A condition expression with its placeholders.
#[derive(Clone, Debug, Default)]
pub struct Cond {
    expr: String,
    names: Vec<(String, String)>,
    values: Item,
}

impl Cond {
    /// A condition expression.
    pub fn new(expr: impl Into<String>) -> Self {
        Self {
            expr: expr.into(),
            ..Default::default()
        }
    }

    /// `attribute_not_exists(pk)`: the item must not exist.
    pub fn absent() -> Self {
        Self::new("attribute_not_exists(pk)")
    }

    /// The item must exist and not be soft-deleted.
    pub fn live() -> Self {
        Self::new("attribute_exists(pk) AND attribute_not_exists(deleted_at)")
    }

    /// The item must not exist, or be a TTL item whose `expires_at` has passed.
    pub fn absent_or_expired(now: i64) -> Self {
        Self::new("attribute_not_exists(pk) OR expires_at <= :now").value(":now", super::n(now))
    }

    /// Optimistic lock: the stored `version` must equal `expected`.
    pub fn version(expected: i64) -> Self {
        Self::new("version = :expected_version").value(":expected_version", super::n(expected))
    }

    /// Adds a `#name` placeholder.
    pub fn name(mut self, placeholder: &str, attr: &str) -> Self {
        self.names.push((placeholder.into(), attr.into()));
        self
    }

    /// Adds a `:value` placeholder.
    pub fn value(mut self, placeholder: &str, v: aws_sdk_dynamodb::types::AttributeValue) -> Self {
        self.values.insert(placeholder.into(), v);
        self
    }

    /// Both conditions (placeholders merged).
    pub fn and(mut self, other: Cond) -> Self {
        self.expr = format!("({}) AND ({})", self.expr, other.expr);
        self.names.extend(other.names);
        self.values.extend(other.values);
        self
    }

    /// Either condition (placeholders merged).
    pub fn or(mut self, other: Cond) -> Self {
        self.expr = format!("({}) OR ({})", self.expr, other.expr);
        self.names.extend(other.names);
        self.values.extend(other.values);
        self
    }

    pub(crate) fn expr(&self) -> &str {
        &self.expr
    }

    pub(crate) fn names_map(&self) -> Option<std::collections::HashMap<String, String>> {
        (!self.names.is_empty()).then(|| self.names.iter().cloned().collect())
    }

    pub(crate) fn values_map(&self) -> Option<Item> {
        (!self.values.is_empty()).then(|| self.values.clone())
    }
}

/// An update expression with its placeholders (for [`Tx::update`]).
#[derive(Clone, Debug)]
pub struct Upd {
    expr: String,
    cond: Cond,
}

impl Upd {
    /// An update expression such as `SET a = :a ADD n :one`.
    pub fn new(expr: impl Into<String>) -> Self {
        Self {
            expr: expr.into(),
            cond: Cond::default(),
        }
    }

    /// `ADD <counter> :delta, version :one`: a counter kept by the transactions that
    /// change what it counts. It also bumps `version`, so an optimistic-lock write that
    /// read the old count fails instead of writing it back.
    pub fn counter(name: &str, delta: i64) -> Self {
        Self::new(format!("ADD {name} :delta, version :one"))
            .value(":delta", super::n(delta))
            .value(":one", super::n(1))
    }

    /// `ADD version :one`: marks the item changed, so a write conditioned on the
    /// version read before fails.
    pub fn bump() -> Self {
        Self::new("ADD version :one").value(":one", super::n(1))
    }

    /// Adds a `:value` placeholder used by the update expression.
    pub fn value(mut self, placeholder: &str, v: aws_sdk_dynamodb::types::AttributeValue) -> Self {
        self.cond.values.insert(placeholder.into(), v);
        self
    }

    /// Adds a `#name` placeholder used by the update expression.
    pub fn name(mut self, placeholder: &str, attr: &str) -> Self {
        self.cond.names.push((placeholder.into(), attr.into()));
        self
    }

    /// Expression and placeholders merged with those of `cond`.
    #[allow(clippy::type_complexity)]
    pub(crate) fn with(
        self,
        cond: &Cond,
    ) -> (
        String,
        Option<std::collections::HashMap<String, String>>,
        Option<Item>,
    ) {
        let mut merged = self.cond;
        merged.names.extend(cond.names.clone());
        merged.values.extend(cond.values.clone());
        (self.expr, merged.names_map(), merged.values_map())
    }
}

/// A transaction under construction (cloned to retry it with other parts).
#[derive(Clone, Default, Debug)]
pub struct Tx {
    ops: Vec<Op>,
    /// Why an operation could not be built (reported by [`Store::transact`]).
    invalid: Option<String>,
}

/// One operation of a [`Tx`]: its label, the key of the item it touches, the request.
#[derive(Clone, Debug)]
struct Op {
    label: &'static str,
    key: Key,
    item: TransactWriteItem,
}

/// A condition that failed in a cancelled transaction.
#[derive(Clone)]
pub struct FailedCondition {
    /// Index of the operation, in the order it was added to the [`Tx`].
    pub index: usize,
    /// Its label.
    pub label: &'static str,
    /// The item as it was, when it existed.
    pub old: Option<Item>,
}

/// Names the operation and the item's key, never the item (it may hold personal data).
impl std::fmt::Debug for FailedCondition {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let key = self.old.as_ref().map(|item| {
            (
                str_attr(item, "pk").unwrap_or_default(),
                str_attr(item, "sk").unwrap_or_default(),
            )
        });
        f.debug_struct("FailedCondition")
            .field("index", &self.index)
            .field("label", &self.label)
            .field("key", &key)
            .finish()
    }
}

/// What became of a transaction run by [`Store::transact_each`].
#[derive(Debug)]
pub enum TxOutcome {
    /// Every operation was applied.
    Written,
    /// Nothing was applied: these conditions failed (at least one, in operation order).
    Cancelled(Vec<FailedCondition>),
}

impl Tx {
    /// An empty transaction.
    pub fn new() -> Self {
        Self::default()
    }

    /// Number of operations so far.
    pub fn len(&self) -> usize {
        self.ops.len()
    }

    /// True when nothing was added.
    pub fn is_empty(&self) -> bool {
        self.ops.is_empty()
    }

    /// Keys of the items the operations touch, in operation order (DynamoDB refuses a
    /// transaction that touches one item twice).
    pub fn keys(&self) -> impl Iterator<Item = &Key> {
        self.ops.iter().map(|op| &op.key)
    }

    fn push<E: std::fmt::Display>(
        &mut self,
        label: &'static str,
        key: Key,
        op: Result<TransactWriteItem, E>,
    ) {
        match op {
            Ok(item) => self.ops.push(Op { label, key, item }),
            Err(e) => {
                self.invalid.get_or_insert(format!("{label}: {e}"));
            }
        }
    }

    /// Puts `item` if `cond` holds (no condition when `None`).
    pub fn put(mut self, label: &'static str, item: Item, cond: Option<Cond>) -> Self {
        let cond = cond.unwrap_or_default();
        let key = Key::new(
            str_attr(&item, "pk").unwrap_or_default(),
            str_attr(&item, "sk").unwrap_or_default(),
        );
        let put = Put::builder()
            .table_name("")
            .set_item(Some(item))
            .set_condition_expression((!cond.expr.is_empty()).then(|| cond.expr.clone()))
            .set_expression_attribute_names(cond.names_map())
            .set_expression_attribute_values(cond.values_map())
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .build();
        self.push(
            label,
            key,
            put.map(|op| TransactWriteItem::builder().put(op).build()),
        );
        self
    }

    /// Puts `item` only if its key does not exist yet.
    pub fn put_new(self, label: &'static str, item: Item) -> Self {
        self.put(label, item, Some(Cond::absent()))
    }

    /// Updates the item at `key` with `upd` if `cond` holds.
    pub fn update(mut self, label: &'static str, key: &Key, upd: Upd, cond: Option<Cond>) -> Self {
        let mut merged = upd.cond;
        let expr = cond.as_ref().map(|c| c.expr.clone());
        if let Some(c) = cond {
            merged.names.extend(c.names);
            merged.values.extend(c.values);
        }
        let update = Update::builder()
            .table_name("")
            .set_key(Some(key.item()))
            .update_expression(upd.expr)
            .set_condition_expression(expr)
            .set_expression_attribute_names(merged.names_map())
            .set_expression_attribute_values(merged.values_map())
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .build();
        self.push(
            label,
            key.clone(),
            update.map(|op| TransactWriteItem::builder().update(op).build()),
        );
        self
    }

    /// Deletes the item at `key` if `cond` holds.
    pub fn delete(mut self, label: &'static str, key: &Key, cond: Option<Cond>) -> Self {
        let cond = cond.unwrap_or_default();
        let delete = Delete::builder()
            .table_name("")
            .set_key(Some(key.item()))
            .set_condition_expression((!cond.expr.is_empty()).then(|| cond.expr.clone()))
            .set_expression_attribute_names(cond.names_map())
            .set_expression_attribute_values(cond.values_map())
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .build();
        self.push(
            label,
            key.clone(),
            delete.map(|op| TransactWriteItem::builder().delete(op).build()),
        );
        self
    }

    /// Requires `cond` to hold on the item at `key` without changing it.
    pub fn check(mut self, label: &'static str, key: &Key, cond: Cond) -> Self {
        let check = ConditionCheck::builder()
            .table_name("")
            .set_key(Some(key.item()))
            .condition_expression(cond.expr.clone())
            .set_expression_attribute_names(cond.names_map())
            .set_expression_attribute_values(cond.values_map())
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .build();
        self.push(
            label,
            key.clone(),
            check.map(|op| TransactWriteItem::builder().condition_check(op).build()),
        );
        self
    }
}

impl Store {
    /// Runs `tx` atomically; a transaction of more than [`MAX_TX_ITEMS`]
    /// operations is refused as [`StoreError::TooLarge`] without being sent. A
    /// cancellation for failed conditions is reported as the first one,
    /// [`StoreError::ConditionFailed`].
    pub async fn transact(&self, tx: Tx) -> Result<(), StoreError> {
        match self.transact_each(tx).await? {
            TxOutcome::Written => Ok(()),
            TxOutcome::Cancelled(failed) => {
                let first = failed.into_iter().next();
                Err(StoreError::ConditionFailed {
                    label: first.as_ref().map_or("unknown", |f| f.label),
                    old: first.and_then(|f| f.old).map(Box::new),
                })
            }
        }
    }

    /// Runs `tx` atomically and, when DynamoDB cancels it for failed conditions,
    /// answers every one of them (from the cancellation reasons, one per operation)
    /// rather than an error. Conflicts with other transactions and throttling are
    /// retried ([`StoreError::Contended`] when they persist); an oversize or
    /// unbuildable transaction is refused without being sent, as by
    /// [`Store::transact`].
    pub async fn transact_each(&self, tx: Tx) -> Result<TxOutcome, StoreError> {
        if let Some(why) = tx.invalid {
            return Err(StoreError::Dynamo(format!(
                "invalid transaction operation {why}"
            )));
        }
        if tx.ops.len() > MAX_TX_ITEMS {
            return Err(StoreError::TooLarge { ops: tx.ops.len() });
        }
        let labels: Vec<&'static str> = tx.ops.iter().map(|op| op.label).collect();
        let items: Vec<TransactWriteItem> = tx
            .ops
            .into_iter()
            .map(|op| with_table(op.item, self.table()))
            .collect();
        for attempt in 1..=TX_ATTEMPTS {
            let res = self
                .client()
                .transact_write_items()
                .set_transact_items(Some(items.clone()))
                .send()
                .await;
            let Err(e) = res else {
                return Ok(TxOutcome::Written);
            };
            let mut contended = false;
            let mut failed = Vec::new();
            if let Some(TransactWriteItemsError::TransactionCanceledException(c)) =
                e.as_service_error()
            {
                for (index, reason) in c.cancellation_reasons().iter().enumerate() {
                    match reason.code() {
                        Some("ConditionalCheckFailed") => failed.push(FailedCondition {
                            index,
                            label: labels.get(index).copied().unwrap_or("unknown"),
                            old: reason.item().cloned(),
                        }),
                        Some(
                            "TransactionConflict"
                            | "ThrottlingError"
                            | "ProvisionedThroughputExceeded"
                            | "RequestLimitExceeded",
                        ) => contended = true,
                        _ => {}
                    }
                }
            }
            if !failed.is_empty() {
                return Ok(TxOutcome::Cancelled(failed));
            }
            if !contended {
                return Err(StoreError::dynamo(e));
            }
            tracing::warn!(attempt, "transaction cancelled by a conflict or throttling");
            if attempt < TX_ATTEMPTS {
                tokio::time::sleep(backoff(attempt)).await;
            }
        }
        Err(StoreError::Contended {
            attempts: TX_ATTEMPTS,
        })
    }
}

/// Attempts of a transaction cancelled for conflicts or throttling.
const TX_ATTEMPTS: usize = 3;

/// Jittered exponential back-off before attempt `attempt + 1`: 25 ms × 2^(attempt−1)
/// plus up to as much again at random.
pub fn backoff(attempt: usize) -> std::time::Duration {
    use rand::Rng;
    let base = 25u64 << attempt.saturating_sub(1).min(6);
    std::time::Duration::from_millis(base + rand::thread_rng().gen_range(0..=base))
}

/// Fills in the table name (the builders need one before the store is known).
fn with_table(op: TransactWriteItem, table: &str) -> TransactWriteItem {
    let mut op = op;
    if let Some(p) = op.put.as_mut() {
        p.table_name = table.to_string();
    }
    if let Some(u) = op.update.as_mut() {
        u.table_name = table.to_string();
    }
    if let Some(d) = op.delete.as_mut() {
        d.table_name = table.to_string();
    }
    if let Some(c) = op.condition_check.as_mut() {
        c.table_name = table.to_string();
    }
    op
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codes::Code;

    #[test]
    fn back_off_grows_with_jitter_and_contention_answers_a_retryable_code() {
        for attempt in 1..TX_ATTEMPTS {
            let base = 25u64 << (attempt - 1);
            for _ in 0..50 {
                let ms = backoff(attempt).as_millis() as u64;
                assert!((base..=2 * base).contains(&ms), "{attempt}: {ms}");
            }
        }
        let busy = StoreError::Contended {
            attempts: TX_ATTEMPTS,
        };
        assert_eq!(busy.code(), Code::BUSY);
        assert_eq!(busy.code().http_status().as_u16(), 503);
        assert_eq!(StoreError::Codec("x".into()).code(), Code::DATABASE);
    }

    #[test]
    fn an_operation_that_cannot_be_built_is_reported_not_a_panic() {
        let mut tx = Tx::new();
        tx.push(
            "bad",
            Key::new("K", "#"),
            Err::<TransactWriteItem, _>(std::fmt::Error),
        );
        assert!(tx.is_empty());
        assert!(tx.invalid.as_deref().is_some_and(|w| w.starts_with("bad")));
    }
}
