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

/// Who did what to which object, for [`audit`].
#[derive(Clone, Debug)]
pub struct Audited {
    pub operator_id: u64,
    /// The operator's client IP.
    pub ip: String,
    /// `create`, `update`, `delete`, `activate`, `deactivate`, …
    pub operation_type: &'static str,
    /// Kind of the changed object (`payment_config`).
    pub target_type: &'static str,
    pub target_id: u64,
}

/// Records an operation asynchronously (jobs.md J19): the entry goes to the
/// audit-log queue and its writer stores it. Never fails the operation: when the
/// queue cannot be reached the entry is written directly, and when that fails too
/// it is logged as an error with its content.
pub async fn audit<T: serde::Serialize>(
    state: &crate::app::AppState,
    who: Audited,
    desc: String,
    before: Option<&T>,
    after: Option<&T>,
) {
    let snapshot = |v: Option<&T>| v.and_then(|v| serde_json::to_value(v).ok());
    let entry = crate::domain::entities::OperationAudit {
        id: uuid::Uuid::new_v4().simple().to_string(),
        operator_id: who.operator_id,
        operation_type: who.operation_type.into(),
        operation_desc: desc,
        target_type: who.target_type.into(),
        target_id: who.target_id,
        before_data: snapshot(before),
        after_data: snapshot(after),
        ip: who.ip,
        created_at: rfc3339(state.clock.now()),
        shop_path: None,
    };
    let message = AuditMessage {
        nanos: wall_nanos(),
        entry,
    };
    if !state.cfg.audit_queue_url.is_empty() {
        match state.audit_queue().send(&message).await {
            Ok(()) => return,
            Err(e) => tracing::warn!(error = %e, "audit queue unreachable, writing directly"),
        }
    }
    if let Err(e) = state.store.write_audit(&message.entry, message.nanos).await {
        tracing::error!(error = %e, entry = ?message.entry, "audit entry lost");
    }
}

/// An audit entry on its way through the audit-log queue.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct AuditMessage {
    /// Wall-clock nanoseconds at the operation (orders entries of one second).
    pub nanos: u128,
    pub entry: crate::domain::entities::OperationAudit,
}

/// Wall-clock nanoseconds since the epoch.
pub fn wall_nanos() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos())
}
