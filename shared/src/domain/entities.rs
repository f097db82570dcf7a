//! The organisation entities as stored and returned (domain.md §4.1). Timestamps are
//! RFC 3339 strings in Asia/Shanghai; `deleted_at` is absent on live items (never
//! stored as NULL, so `attribute_not_exists(deleted_at)` means "live").

use serde::{Deserialize, Serialize};

use super::org::{PermType, RoleType, Status, UserType};
use super::shop_path::ShopPath;

/// A shop (agent) in the tree of up to 7 levels.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
pub struct Shop {
    pub id: u64,
    pub shop_name: String,
    pub shop_code: String,
    pub parent_id: Option<u64>,
    pub level: u8,
    /// Materialised path, e.g. `/1/5/12/`.
    pub path: ShopPath,
    pub status: Status,
    pub contact_name: Option<String>,
    pub contact_phone: Option<String>,
    pub province: Option<String>,
    pub city: Option<String>,
    pub district: Option<String>,
    pub address: Option<String>,
    /// Number of live direct sub-shops (maintained transactionally).
    #[serde(default)]
    pub child_count: u32,
    /// Roles available to the shop's accounts (ShopRole), kept by the transactions
    /// that change them; an agent account's roles count only if listed here.
    #[serde(default)]
    pub role_ids: Vec<u64>,
    pub created_at: String,
    pub updated_at: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deleted_at: Option<String>,
    pub creator: u64,
    pub updater: u64,
    pub version: i64,
}

/// An admin account as stored (with its password hash).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
pub struct AccountRecord {
    pub id: u64,
    pub username: String,
    pub phone: Option<String>,
    pub password_hash: String,
    pub user_type: UserType,
    pub shop_id: Option<u64>,
    pub enterprise_id: Option<u64>,
    /// Path of the owning shop (agents: their shop; enterprise accounts: the
    /// enterprise's owner shop); `None` for platform-owned accounts.
    pub owner_path: Option<ShopPath>,
    pub status: Status,
    /// Moves on with every password change or reset; sessions begun under an older
    /// value are over.
    #[serde(default)]
    pub credential_version: i64,
    /// Roles the account holds (AccountRole), kept by the transactions that change
    /// them; read with the account on every request.
    #[serde(default)]
    pub role_ids: Vec<u64>,
    pub created_at: String,
    pub updated_at: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deleted_at: Option<String>,
    pub creator: u64,
    pub updater: u64,
    pub version: i64,
}

/// An account as returned by the API (no password hash).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
pub struct Account {
    pub id: u64,
    pub username: String,
    pub phone: Option<String>,
    pub user_type: UserType,
    pub shop_id: Option<u64>,
    pub enterprise_id: Option<u64>,
    pub status: Status,
    pub created_at: String,
    pub updated_at: String,
    pub creator: u64,
    pub updater: u64,
    pub version: i64,
}

impl AccountRecord {
    /// The public view.
    pub fn view(&self) -> Account {
        Account {
            id: self.id,
            username: self.username.clone(),
            phone: self.phone.clone(),
            user_type: self.user_type,
            shop_id: self.shop_id,
            enterprise_id: self.enterprise_id,
            status: self.status,
            created_at: self.created_at.clone(),
            updated_at: self.updated_at.clone(),
            creator: self.creator,
            updater: self.updater,
            version: self.version,
        }
    }
}

/// An enterprise customer, owned by a shop or by the platform.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
pub struct Enterprise {
    pub id: u64,
    pub enterprise_name: String,
    pub enterprise_code: String,
    /// `None` = owned by the platform.
    pub owner_shop_id: Option<u64>,
    /// Path of the owner shop; `None` for platform-owned enterprises.
    pub owner_path: Option<ShopPath>,
    pub status: Status,
    pub contact_name: Option<String>,
    pub contact_phone: Option<String>,
    pub province: Option<String>,
    pub city: Option<String>,
    pub district: Option<String>,
    pub address: Option<String>,
    pub created_at: String,
    pub updated_at: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deleted_at: Option<String>,
    pub creator: u64,
    pub updater: u64,
    pub version: i64,
}

/// A role: a named set of permissions.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
pub struct Role {
    pub id: u64,
    pub role_name: String,
    pub role_desc: Option<String>,
    pub role_type: RoleType,
    pub status: Status,
    /// Permissions the role grants (RolePermission), kept on the role so the
    /// per-request read needs no query.
    #[serde(default)]
    pub permission_ids: Vec<u64>,
    /// Accounts and shops holding the role, kept by the transactions that give and
    /// take it; a held role cannot be deleted or change its type.
    #[serde(default)]
    pub holders: u64,
    pub created_at: String,
    pub updated_at: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deleted_at: Option<String>,
    pub creator: u64,
    pub updater: u64,
    pub version: i64,
}

/// A permission (menu entry or button), forming a tree through `parent_id`.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
pub struct Permission {
    pub id: u64,
    pub perm_name: String,
    pub perm_code: String,
    pub perm_type: PermType,
    pub parent_id: Option<u64>,
    pub url: Option<String>,
    pub sort: i64,
    pub status: Status,
    pub created_at: String,
    pub updated_at: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deleted_at: Option<String>,
    pub creator: u64,
    pub updater: u64,
    pub version: i64,
}

/// One of a shop's two agent wallets (`main`, `commission`).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
pub struct AgentWallet {
    pub shop_id: u64,
    pub wallet_type: String,
    /// Balance in fen.
    pub balance: i64,
    /// Frozen amount in fen.
    pub frozen_balance: i64,
    pub currency: String,
    pub status: Status,
    /// Tenant tag (domain.md §0.3).
    pub shop_id_tag: u64,
    pub created_at: String,
    pub updated_at: String,
    pub version: i64,
    /// Time (epoch seconds) of the last ledger line; a new line never sorts before
    /// it, so the ledger's time order is its version order.
    #[serde(default)]
    pub ledger_at: i64,
}

/// An operation audit entry (domain.md §4.15), written in the same transaction as the
/// change it records when the change is money (an offline recharge confirmation).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
pub struct OperationAudit {
    pub id: String,
    pub operator_id: u64,
    /// E.g. `offline_recharge`.
    pub operation_type: String,
    pub operation_desc: String,
    /// Kind of the changed object (`agent_recharge`).
    pub target_type: String,
    pub target_id: u64,
    pub before_data: Option<serde_json::Value>,
    pub after_data: Option<serde_json::Value>,
    /// The operator's client IP.
    pub ip: String,
    pub created_at: String,
    /// Path of the shop the object belongs to (an agent recharge's shop): agents
    /// see the entries of their subtree.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shop_path: Option<String>,
}

/// An entry of an account's operation log (domain.md §4.1 AccountOperationLog).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
pub struct AccountLog {
    pub id: String,
    pub operator_id: u64,
    pub target_account_id: u64,
    pub operation_type: String,
    pub before_data: Option<serde_json::Value>,
    pub after_data: Option<serde_json::Value>,
    pub created_at: String,
}

/// A telecom carrier (domain.md §4.3).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
pub struct Carrier {
    pub id: u64,
    pub carrier_name: String,
    /// e.g. `CMCC`, `CUCC`, `CTCC` (free text).
    pub carrier_type: String,
    pub carrier_code: Option<String>,
    /// Day of month the carrier's usage period starts (1–31; Unicom 27, others 1).
    pub billing_day: u8,
    pub realname_link_type: RealnameLinkType,
    /// Required (non-empty) when `realname_link_type` is `template`.
    pub realname_link_template: Option<String>,
    pub status: Status,
    pub created_at: String,
    pub updated_at: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deleted_at: Option<String>,
    pub creator: u64,
    pub updater: u64,
    pub version: i64,
}

/// How a carrier's real-name verification link is produced.
#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq, Eq, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum RealnameLinkType {
    /// No link.
    None,
    /// Built from `realname_link_template`.
    Template,
    /// Asked from the carrier gateway.
    Gateway,
}
