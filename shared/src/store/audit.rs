//! Operation audit entries (domain.md §4.15): one item per entry under its object
//! (`AUDIT#<type>#<id>`), listed newest first in the platform index (`gsi2pk =
//! AUDITS`) and in its operator's (`gsi1pk = AUDIT#ACTOR#<account>`). Entries are
//! few (configuration changes, offline confirmations), far below a partition's
//! limits.

use super::cursor::{Cursor, Source};
use super::keys;
use super::lists::Filter;
use super::tx::Tx;
use super::{s, to_item, Item, On, SkCond, Store, StoreError};
use crate::domain::entities::OperationAudit;
use crate::paging::CursorPage;

const AUDITS: &str = "AUDITS";
/// Tree-index partition (`gsi3pk`) of the entries about a shop's objects, sorted by
/// the shop's path, then time.
const AUDIT_TREE: &str = "AUDITS#TREE";

fn actor_partition(account_id: u64) -> String {
    format!("AUDIT#ACTOR#{account_id}")
}

fn sort(nanos: u128, id: &str) -> String {
    format!("{nanos:024}#{id}")
}

/// The item of `entry`, written at wall-clock `nanos`, in both lists.
pub fn audit_item(entry: &OperationAudit, nanos: u128) -> Result<Item, StoreError> {
    let key = keys::operation_audit(&entry.target_type, entry.target_id, nanos, &entry.id);
    let mut item = to_item(entry, &key)?;
    item.insert("gsi1pk".into(), s(actor_partition(entry.operator_id)));
    item.insert("gsi1sk".into(), s(sort(nanos, &entry.id)));
    item.insert("gsi2pk".into(), s(AUDITS));
    item.insert("gsi2sk".into(), s(sort(nanos, &entry.id)));
    if let Some(path) = &entry.shop_path {
        item.insert("gsi3pk".into(), s(AUDIT_TREE));
        item.insert(
            "gsi3sk".into(),
            s(format!("{path}{}", sort(nanos, &entry.id))),
        );
    }
    Ok(item)
}

/// Adds to `tx` the creation of audit entry `entry`, written at wall-clock `nanos`.
pub fn audit_ops(tx: Tx, entry: &OperationAudit, nanos: u128) -> Result<Tx, StoreError> {
    Ok(tx.put_new("audit", audit_item(entry, nanos)?))
}

/// Filters of the audit list.
#[derive(Clone, Debug, Default)]
pub struct AuditQuery {
    /// Only entries about objects of the shops under this path (agents), read from
    /// the tree index: ordered by shop path, newest first within a shop.
    pub subtree: Option<String>,
    /// Only this operator's entries (read from the operator's index).
    pub operator_id: Option<u64>,
    /// Only about objects of this kind …
    pub target_type: Option<String>,
    /// … and this id (with `target_type`: read from the object's partition).
    pub target_id: Option<u64>,
    pub operation_type: Option<String>,
    /// Written at or after (epoch seconds).
    pub from: Option<i64>,
    /// Written at or before (epoch seconds).
    pub to: Option<i64>,
}

impl Store {
    /// Stores `entry` once: a second write of the same entry (a redelivered message)
    /// changes nothing.
    pub async fn write_audit(&self, entry: &OperationAudit, nanos: u128) -> Result<(), StoreError> {
        match self.put_new("audit", audit_item(entry, nanos)?).await {
            Ok(()) | Err(StoreError::ConditionFailed { .. }) => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// One page of audit entries, newest first, read from the narrowest list the
    /// filters name (the object's, the operator's, or the platform's).
    pub async fn audit_page(
        &self,
        q: &AuditQuery,
        page_size: u32,
        cursor: Cursor,
    ) -> Result<CursorPage<OperationAudit>, StoreError> {
        let nanos = |t: i64| u128::try_from(t.max(0)).unwrap_or(0) * 1_000_000_000;
        let from = sort(nanos(q.from.unwrap_or(0)), "");
        let to = sort(nanos(q.to.unwrap_or(i64::MAX / 4_000_000_000) + 1), "");
        let source = match (&q.target_type, q.target_id, q.operator_id) {
            _ if q.subtree.is_some() => Source::scope(
                On::Gsi3,
                AUDIT_TREE.to_string(),
                SkCond::Prefix(q.subtree.clone().unwrap_or_default()),
            ),
            (Some(t), Some(id), _) => {
                let pk = keys::operation_audit(t, id, 0, "").pk;
                Source::scope(On::Table, pk, SkCond::Between(from, to))
            }
            (_, _, Some(op)) => {
                Source::scope(On::Gsi1, actor_partition(op), SkCond::Between(from, to))
            }
            _ => Source::scope(On::Gsi2, AUDITS.to_string(), SkCond::Between(from, to)),
        }
        .backward();
        let filter = Filter::new()
            .eq_str("target_type", q.target_type.as_deref())
            .eq_id("target_id", q.target_id)
            .eq_id("operator_id", q.operator_id)
            .eq_str("operation_type", q.operation_type.as_deref());
        self.read_page(
            &source,
            filter.cond(),
            page_size,
            cursor,
            |_: &OperationAudit| true,
        )
        .await
    }
}
