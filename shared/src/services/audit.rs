//! Account operation log (AccountOperationLog, domain.md §4.15). Written after the
//! change it records; a failure is logged and never fails the operation.

use crate::clock::rfc3339;
use crate::domain::entities::{AccountLog, AccountRecord};
use crate::store::{keys, to_item, Store};

/// Records `operation` by `operator` on `target` with before/after snapshots
/// (password hashes are never included).
pub async fn log_account(
    store: &Store,
    operator: u64,
    target: u64,
    operation: &str,
    before: Option<&AccountRecord>,
    after: Option<&AccountRecord>,
    now: i64,
) {
    let snapshot = |a: Option<&AccountRecord>| a.and_then(|a| serde_json::to_value(a.view()).ok());
    let entry = AccountLog {
        id: uuid::Uuid::new_v4().simple().to_string(),
        operator_id: operator,
        target_account_id: target,
        operation_type: operation.into(),
        before_data: snapshot(before),
        after_data: snapshot(after),
        created_at: rfc3339(now),
    };
    // Wall-clock nanoseconds keep entries of the same second in order.
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let res = match to_item(&entry, &keys::account_log(target, nanos, &entry.id)) {
        Ok(item) => store.put(item).await,
        Err(e) => Err(e),
    };
    if let Err(e) = res {
        tracing::warn!(error = ?e, target, operation, "account operation log not written");
    }
}
