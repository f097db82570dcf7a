//! The operation audit log (domain.md §4.15, jobs.md J19): payment-configuration
//! changes and offline recharge confirmations, listed for platform staff; and the
//! late payments they refund by hand.

use serde::Deserialize;

use crate::codes::{BusinessError, Code, Text};
use crate::domain::caller::{Caller, NotAllowed, Scope, SA_PL, SA_PL_AG};
use crate::domain::entities::OperationAudit;
use crate::domain::validate::{day_range, Invalid};
use crate::paging::{CursorPage, PageQuery};
use crate::store::audit::AuditQuery;
use crate::store::refunds::ManualRefund;
use crate::store::{Store, StoreError};

/// Failures of the audit-log list.
#[derive(Debug, thiserror::Error)]
pub enum AuditLogError {
    #[error(transparent)]
    Invalid(#[from] Invalid),
    #[error("insufficient permission")]
    NotAllowed(#[from] NotAllowed),
    #[error("not found")]
    NotFound,
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl BusinessError for AuditLogError {
    fn code(&self) -> Code {
        match self {
            AuditLogError::Invalid(_) => Code::INVALID_PARAM,
            AuditLogError::NotAllowed(_) => Code::FORBIDDEN,
            AuditLogError::NotFound => Code::NOT_FOUND,
            AuditLogError::Store(e) => e.code(),
        }
    }

    fn detail(&self) -> Option<Text> {
        match self {
            AuditLogError::Invalid(i) => Some(i.text().clone()),
            _ => None,
        }
    }
}

/// Filters of `GET /api/admin/audit-logs`.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AuditFilter {
    /// The acting account.
    pub operator_id: Option<u64>,
    /// Kind of the changed object: `payment_config`, `agent_recharge`.
    pub target_type: Option<String>,
    /// Id of the changed object (with `target_type`).
    pub target_id: Option<u64>,
    /// `create`, `update`, `delete`, `activate`, `deactivate`, `offline_recharge`.
    pub operation_type: Option<String>,
    /// Written on or after this day (`YYYY-MM-DD`, Asia/Shanghai).
    #[param(pattern = r"^\d{4}-\d{2}-\d{2}$")]
    pub start_date: Option<String>,
    /// Written on or before this day (`YYYY-MM-DD`, Asia/Shanghai).
    #[param(pattern = r"^\d{4}-\d{2}-\d{2}$")]
    pub end_date: Option<String>,
}

/// One page of audit entries, newest first: the platform's all, an agent's those
/// about its subtree's shops (ordered by shop, newest first within one).
pub async fn list(
    store: &Store,
    caller: &Caller,
    f: AuditFilter,
    page: &PageQuery,
) -> Result<CursorPage<OperationAudit>, AuditLogError> {
    caller.require(SA_PL_AG)?;
    let (cursor, size) = page.parse()?;
    let (from, to) = day_range(f.start_date.as_deref(), f.end_date.as_deref())?;
    let subtree = match caller.scope() {
        Scope::All => None,
        Scope::Subtree(path) => Some(path.as_str().to_string()),
        Scope::Enterprise(_) => return Ok(CursorPage::empty(size)),
    };
    let q = AuditQuery {
        subtree,
        operator_id: f.operator_id,
        target_type: f.target_type.filter(|t| !t.is_empty()),
        target_id: f.target_id,
        operation_type: f.operation_type.filter(|t| !t.is_empty()),
        from,
        to,
    };
    Ok(store.audit_page(&q, size, cursor).await?)
}

/// Filters of `GET /api/admin/manual-refunds`.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct RefundFilter {
    /// `open` or `closed`.
    #[param(pattern = "^(open|closed)$")]
    pub status: Option<String>,
}

/// `POST /api/admin/manual-refunds/{out_trade_no}/close` body.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CloseRefund {
    /// How the money was returned (at most 200 characters).
    #[schema(max_length = 200)]
    pub remark: Option<String>,
}

/// One page of late payments to refund by hand, newest first (platform staff).
pub async fn refunds(
    store: &Store,
    caller: &Caller,
    f: RefundFilter,
    page: &PageQuery,
) -> Result<CursorPage<ManualRefund>, AuditLogError> {
    caller.require(SA_PL)?;
    let (cursor, size) = page.parse()?;
    let status = match f.status.as_deref() {
        None => None,
        Some(s @ ("open" | "closed")) => Some(s),
        Some(_) => {
            return Err(
                Invalid::new("status须为open或closed", "status must be open or closed").into(),
            )
        }
    };
    Ok(store.manual_refund_page(status, size, cursor).await?)
}

/// Closes an open manual refund (the money was returned); a missing or closed one
/// answers `1002` (not found).
pub async fn close_refund(
    store: &Store,
    caller: &Caller,
    now: i64,
    out_trade_no: &str,
    req: CloseRefund,
) -> Result<ManualRefund, AuditLogError> {
    caller.require(SA_PL)?;
    let remark = req
        .remark
        .map(|r| r.trim().to_string())
        .filter(|r| !r.is_empty());
    if remark.as_ref().is_some_and(|r| r.chars().count() > 200) {
        return Err(Invalid::new(
            "remark不能超过200个字符",
            "remark must be at most 200 characters",
        )
        .into());
    }
    match store
        .close_manual_refund(
            out_trade_no,
            &crate::clock::rfc3339(now),
            caller.account_id,
            remark.as_deref(),
        )
        .await
    {
        Ok(()) => {}
        Err(StoreError::ConditionFailed { .. }) => return Err(AuditLogError::NotFound),
        Err(e) => return Err(e.into()),
    }
    store
        .manual_refund(out_trade_no)
        .await?
        .ok_or(AuditLogError::NotFound)
}
