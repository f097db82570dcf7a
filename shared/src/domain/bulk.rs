//! Bulk moves (decisions.md B4): an allocation or recall selecting more than
//! [`BULK_THRESHOLD`] assets is answered with a task that a queue worker carries out
//! slice by slice, recording one result per asset. The task remembers the request
//! and the caller's scope, so the worker applies exactly the rules the request would.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use super::assets::{AssetType, MoveOp};
use super::caller::Caller;
use super::org::UserType;
use super::permissions::Grants;
use super::shop_path::ShopPath;

/// A selection naming more assets than this is moved by a bulk task instead of
/// inside the request.
pub const BULK_THRESHOLD: usize = 500;

/// Assets one slice of a bulk task moves (one queue message; see `template.yaml`
/// for the worker's time budget). Identifier and id lists are stored in pages of
/// this size.
pub const SLICE: usize = 100;

/// Where a bulk task stands.
#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq, Eq, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum BulkStatus {
    /// Saved; no slice processed yet.
    Pending,
    /// At least one slice processed.
    Running,
    /// Every selected asset has its result.
    Done,
    /// Stopped early (`error` says why); the results so far stand.
    Failed,
}

impl BulkStatus {
    /// The name used in items and responses.
    pub fn as_str(self) -> &'static str {
        match self {
            BulkStatus::Pending => "pending",
            BulkStatus::Running => "running",
            BulkStatus::Done => "done",
            BulkStatus::Failed => "failed",
        }
    }

    /// True once the task will not change any more.
    pub fn is_finished(self) -> bool {
        matches!(self, BulkStatus::Done | BulkStatus::Failed)
    }
}

/// What a bulk task does with each asset.
#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq, Eq, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum BulkOp {
    /// Allocation down the shop tree.
    Allocate,
    /// Recall back up it.
    Recall,
    /// Authorisation to an enterprise (`enterprise_id`).
    Authorize,
    /// Revocation of an enterprise's authorisation.
    Revoke,
}

impl BulkOp {
    /// The name used in items, logs and responses.
    pub fn as_str(self) -> &'static str {
        match self {
            BulkOp::Allocate => "allocate",
            BulkOp::Recall => "recall",
            BulkOp::Authorize => "authorize",
            BulkOp::Revoke => "revoke",
        }
    }

    /// The move it is, if it moves assets.
    pub fn as_move(self) -> Option<MoveOp> {
        match self {
            BulkOp::Allocate => Some(MoveOp::Allocate),
            BulkOp::Recall => Some(MoveOp::Recall),
            BulkOp::Authorize | BulkOp::Revoke => None,
        }
    }
}

impl From<MoveOp> for BulkOp {
    fn from(op: MoveOp) -> Self {
        match op {
            MoveOp::Allocate => BulkOp::Allocate,
            MoveOp::Recall => BulkOp::Recall,
        }
    }
}

/// How the request named its assets (in full; a task stores lists in pages).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BulkSelection {
    /// Asset ids.
    Ids(Vec<u64>),
    /// ICCIDs or device virtual numbers, normalised.
    Identifiers(Vec<String>),
    /// An inclusive identifier range, normalised.
    Range(String, String),
    /// Every asset of a batch.
    Batch(String),
}

impl BulkSelection {
    /// How many assets a list names (`None` for a range or a batch).
    pub fn listed(&self) -> Option<usize> {
        match self {
            BulkSelection::Ids(v) => Some(v.len()),
            BulkSelection::Identifiers(v) => Some(v.len()),
            _ => None,
        }
    }

    /// The kind of selection.
    pub fn kind(&self) -> SelectionKind {
        match self {
            BulkSelection::Ids(_) => SelectionKind::Ids,
            BulkSelection::Identifiers(_) => SelectionKind::Identifiers,
            BulkSelection::Range(..) => SelectionKind::Range,
            BulkSelection::Batch(_) => SelectionKind::Batch,
        }
    }

    /// A list cut into pages of [`SLICE`] values (nothing for a range or batch).
    pub fn pages(&self) -> Vec<SelectionPage> {
        match self {
            BulkSelection::Ids(v) => v
                .chunks(SLICE)
                .map(|c| SelectionPage {
                    ids: c.to_vec(),
                    identifiers: Vec::new(),
                })
                .collect(),
            BulkSelection::Identifiers(v) => v
                .chunks(SLICE)
                .map(|c| SelectionPage {
                    ids: Vec::new(),
                    identifiers: c.to_vec(),
                })
                .collect(),
            _ => Vec::new(),
        }
    }
}

/// The kind of a task's selection.
#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq, Eq, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum SelectionKind {
    Ids,
    Identifiers,
    Range,
    Batch,
}

/// One stored page of a listed selection.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, Eq, utoipa::ToSchema)]
pub struct SelectionPage {
    #[serde(default)]
    pub ids: Vec<u64>,
    #[serde(default)]
    pub identifiers: Vec<String>,
}

/// An allocation, recall, authorisation or revocation too large to run inside its
/// request, checked (caller, target shop or enterprise, selection) and ready to
/// become a task.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BulkOrder {
    pub operation: BulkOp,
    pub asset_type: AssetType,
    /// The receiving shop of an allocation.
    pub to_shop_id: Option<u64>,
    /// The enterprise of an authorisation or revocation.
    pub enterprise_id: Option<u64>,
    pub selection: BulkSelection,
    pub remark: Option<String>,
}

/// A bulk task and its progress.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
pub struct BulkTask {
    pub id: u64,
    pub operation: BulkOp,
    pub asset_type: AssetType,
    pub to_shop_id: Option<u64>,
    #[serde(default)]
    pub enterprise_id: Option<u64>,
    pub selection: SelectionKind,
    pub range_start: Option<String>,
    pub range_end: Option<String>,
    pub batch_no: Option<String>,
    /// Pages of a listed selection (0 for a range or batch).
    pub pages: u32,
    /// How many values a list named (`None` for a range or batch).
    pub requested_count: Option<u64>,
    pub remark: Option<String>,
    pub status: BulkStatus,
    /// Results recorded so far (exact once finished: recounted from the results).
    pub processed_count: u64,
    pub moved_count: u64,
    pub failed_count: u64,
    /// Slices processed; the queue message of the next one carries this number.
    pub slice: u64,
    /// Where the next slice starts: the page of a list, or the query of a range or
    /// batch selection with the key its last read stopped at.
    pub next_part: u32,
    pub next_key: Option<HashMap<String, String>>,
    /// Object key of the results CSV, once finished.
    pub results_key: Option<String>,
    /// Why the task failed, if it did.
    pub error: Option<String>,
    /// The creating account and the scope it had.
    pub created_by: u64,
    pub creator_type: UserType,
    pub creator_shop_id: Option<u64>,
    pub creator_path: Option<ShopPath>,
    pub created_at: String,
    pub started_at: Option<String>,
    pub finished_at: Option<String>,
    pub version: i64,
}

impl BulkTask {
    /// A pending task `id` for `order`, created by `caller` at `created_at`.
    pub fn new(id: u64, order: &BulkOrder, caller: &Caller, created_at: String) -> Self {
        let (range_start, range_end, batch_no) = match &order.selection {
            BulkSelection::Range(a, b) => (Some(a.clone()), Some(b.clone()), None),
            BulkSelection::Batch(b) => (None, None, Some(b.clone())),
            _ => (None, None, None),
        };
        BulkTask {
            id,
            operation: order.operation,
            asset_type: order.asset_type,
            to_shop_id: order.to_shop_id,
            enterprise_id: order.enterprise_id,
            selection: order.selection.kind(),
            range_start,
            range_end,
            batch_no,
            pages: u32::try_from(order.selection.pages().len()).unwrap_or(u32::MAX),
            requested_count: order.selection.listed().map(|n| n as u64),
            remark: order.remark.clone(),
            status: BulkStatus::Pending,
            processed_count: 0,
            moved_count: 0,
            failed_count: 0,
            slice: 0,
            next_part: 0,
            next_key: None,
            results_key: None,
            error: None,
            created_by: caller.account_id,
            creator_type: caller.user_type,
            creator_shop_id: caller.shop_id,
            creator_path: caller.shop_path.clone(),
            created_at,
            started_at: None,
            finished_at: None,
            version: 1,
        }
    }

    /// The creating account as the worker acts for it: its user type and shop, so
    /// every per-asset rule (scope, own stock, direct subordinates) is the one the
    /// request would have applied. It holds no permission codes: the worker checks
    /// none.
    pub fn creator(&self) -> Caller {
        Caller {
            account_id: self.created_by,
            username: String::new(),
            user_type: self.creator_type,
            shop_id: self.creator_shop_id,
            shop_path: self.creator_path.clone(),
            enterprise_id: None,
            role_ids: Vec::new(),
            grants: Grants::Codes(Default::default()),
        }
    }

    /// Whether `caller` may see the task: platform staff any, an agent the tasks
    /// created by an account of its own shop.
    pub fn visible_to(&self, caller: &Caller) -> bool {
        caller.is_platform()
            || (caller.user_type == UserType::Agent
                && caller.shop_id.is_some()
                && caller.shop_id == self.creator_shop_id)
    }
}

/// What a bulk task did with one asset.
#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq, Eq, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum BulkOutcome {
    Moved,
    Failed,
    /// Authorised or revoked (or found so already: `reason` says `already`).
    Done,
}

impl BulkOutcome {
    /// The name used in items and the results file.
    pub fn as_str(self) -> &'static str {
        match self {
            BulkOutcome::Moved => "moved",
            BulkOutcome::Failed => "failed",
            BulkOutcome::Done => "done",
        }
    }
}

/// The recorded result of one asset (or of a name that matched none).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq, utoipa::ToSchema)]
pub struct BulkResult {
    pub identifier: String,
    pub result: BulkOutcome,
    pub reason: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_are_paged_by_slice_and_ranges_are_not() {
        let ids: Vec<u64> = (1..=250).collect();
        let pages = BulkSelection::Ids(ids).pages();
        assert_eq!(
            pages.iter().map(|p| p.ids.len()).collect::<Vec<_>>(),
            vec![100, 100, 50]
        );
        assert_eq!(pages[2].ids[0], 201);
        let range = BulkSelection::Range("A".into(), "B".into());
        assert!(range.pages().is_empty());
        assert_eq!(range.listed(), None);
        assert_eq!(
            BulkSelection::Identifiers(vec!["x".into(); 3]).listed(),
            Some(3)
        );
    }

    #[test]
    fn agents_see_only_their_shops_tasks() {
        let shop = ShopPath::top(4);
        let agent = |path: ShopPath| Caller {
            account_id: 9,
            username: "a".into(),
            user_type: UserType::Agent,
            shop_id: Some(path.shop_id()),
            shop_path: Some(path),
            enterprise_id: None,
            role_ids: Vec::new(),
            grants: Grants::Everything,
        };
        let order = BulkOrder {
            operation: BulkOp::Allocate,
            enterprise_id: None,
            asset_type: AssetType::Card,
            to_shop_id: Some(5),
            selection: BulkSelection::Batch("B".into()),
            remark: None,
        };
        let task = BulkTask::new(1, &order, &agent(shop.clone()), "t".into());
        assert!(task.visible_to(&agent(shop.clone())));
        assert!(!task.visible_to(&agent(shop.child(5))), "not a sub-shop");
        assert!(!task.visible_to(&agent(ShopPath::top(6))));
        let mut platform = agent(shop);
        platform.user_type = UserType::Platform;
        assert!(task.visible_to(&platform));
        assert_eq!(task.creator().shop_path, task.creator_path);
        assert_eq!(task.batch_no.as_deref(), Some("B"));
    }
}
