//! Asset entities: IoT cards, devices, SIM-slot bindings, allocation records and
//! import tasks (domain.md §4.2), and their status values (the card's transitions
//! are in `card`).

use std::fmt;

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use super::shop_path::ShopPath;

mod card;
pub mod ranges;

/// `asset_status` (domain.md §5.9); numeric on the wire.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "i64", into = "i64")]
pub enum AssetStatus {
    /// In stock (the status of a new asset).
    #[default]
    InStock = 1,
    /// Sold (bound by a customer).
    Sold = 2,
    /// Exchanged (old asset of an exchange).
    Exchanged = 3,
    /// Deactivated manually.
    Deactivated = 4,
}

impl AssetStatus {
    /// Whether an allocation or recall may move an asset in this status.
    pub fn movable(self) -> bool {
        matches!(self, AssetStatus::InStock | AssetStatus::Sold)
    }
}

impl TryFrom<i64> for AssetStatus {
    type Error = String;
    fn try_from(v: i64) -> Result<Self, String> {
        match v {
            1 => Ok(AssetStatus::InStock),
            2 => Ok(AssetStatus::Sold),
            3 => Ok(AssetStatus::Exchanged),
            4 => Ok(AssetStatus::Deactivated),
            _ => Err(format!(
                "invalid asset_status {v}: 1 in stock, 2 sold, 3 exchanged, 4 deactivated"
            )),
        }
    }
}

crate::wire_schema!(
    AssetStatus,
    integer_enum(
        &[1, 2, 3, 4],
        "1 in stock; 2 sold; 3 exchanged; 4 deactivated"
    )
);

impl From<AssetStatus> for i64 {
    fn from(v: AssetStatus) -> i64 {
        v as i64
    }
}

impl fmt::Display for AssetStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", i64::from(*self))
    }
}

/// Card or device.
#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq, Eq, Hash, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum AssetType {
    /// An IoT card.
    Card,
    /// A device with SIM slots.
    Device,
}

impl AssetType {
    /// The name used in keys and responses.
    pub fn as_str(self) -> &'static str {
        match self {
            AssetType::Card => "card",
            AssetType::Device => "device",
        }
    }

    /// The type named `name` (`card`, `device`), if any.
    pub fn parse(name: &str) -> Option<AssetType> {
        [AssetType::Card, AssetType::Device]
            .into_iter()
            .find(|t| t.as_str() == name)
    }

    /// The field that identifies an asset in lists, ranges and batch results: the
    /// ICCID of a card, the virtual number of a device.
    pub fn identifier_field(self) -> &'static str {
        match self {
            AssetType::Card => "iccid",
            AssetType::Device => "virtual_no",
        }
    }

    /// The identifier in its stored form (ICCIDs are upper case; virtual numbers
    /// keep their case).
    pub fn normalise(self, identifier: &str) -> String {
        match self {
            AssetType::Card => identifier.trim().to_ascii_uppercase(),
            AssetType::Device => identifier.trim().to_string(),
        }
    }
}

/// A uniqueness kind that names exactly one asset.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum IdentifierKind {
    /// A card's ICCID.
    Iccid,
    /// A card's MSISDN.
    Msisdn,
    /// A card's virtual number.
    CardVirtualNo,
    /// A device's virtual number.
    DeviceVirtualNo,
    /// A device's IMEI.
    Imei,
    /// A device's serial number.
    Sn,
}

impl IdentifierKind {
    /// Every kind.
    pub const ALL: [IdentifierKind; 6] = [
        IdentifierKind::Iccid,
        IdentifierKind::Msisdn,
        IdentifierKind::CardVirtualNo,
        IdentifierKind::DeviceVirtualNo,
        IdentifierKind::Imei,
        IdentifierKind::Sn,
    ];

    /// The name of its uniqueness items.
    pub fn as_str(self) -> &'static str {
        match self {
            IdentifierKind::Iccid => "iccid",
            IdentifierKind::Msisdn => "msisdn",
            IdentifierKind::CardVirtualNo => "card_virtual_no",
            IdentifierKind::DeviceVirtualNo => "device_virtual_no",
            IdentifierKind::Imei => "imei",
            IdentifierKind::Sn => "sn",
        }
    }

    /// The type of asset it names.
    pub fn asset_type(self) -> AssetType {
        match self {
            IdentifierKind::Iccid | IdentifierKind::Msisdn | IdentifierKind::CardVirtualNo => {
                AssetType::Card
            }
            IdentifierKind::DeviceVirtualNo | IdentifierKind::Imei | IdentifierKind::Sn => {
                AssetType::Device
            }
        }
    }

    /// The kind of an asset type's list identifier (ICCID, device virtual number).
    pub fn primary(t: AssetType) -> IdentifierKind {
        match t {
            AssetType::Card => IdentifierKind::Iccid,
            AssetType::Device => IdentifierKind::DeviceVirtualNo,
        }
    }
}

/// Allocation (to a subordinate shop) or recall (back from one).
#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq, Eq, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum MoveOp {
    /// Down the shop tree.
    Allocate,
    /// Back up the shop tree.
    Recall,
}

impl MoveOp {
    /// `allocate` or `recall`.
    pub fn as_str(self) -> &'static str {
        match self {
            MoveOp::Allocate => "allocate",
            MoveOp::Recall => "recall",
        }
    }

    /// The subordinate side of a move (the receiver of an allocation, the giver of a
    /// recall): records are indexed and shown under it.
    pub fn subordinate<T>(self, from: T, to: T) -> T {
        match self {
            MoveOp::Allocate => to,
            MoveOp::Recall => from,
        }
    }
}

/// Stop or start (card network, device protect periods).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    Stop,
    Start,
}

impl Direction {
    /// `stop` or `start`.
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::Stop => "stop",
            Direction::Start => "start",
        }
    }

    /// The other direction.
    pub fn opposite(self) -> Direction {
        match self {
            Direction::Stop => Direction::Start,
            Direction::Start => Direction::Stop,
        }
    }
}

/// A device's live protect period (domain.md §5.13), `none` when there is none.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum ProtectStatus {
    #[default]
    None,
    Stop,
    Start,
}

impl From<Option<Direction>> for ProtectStatus {
    fn from(d: Option<Direction>) -> Self {
        match d {
            None => ProtectStatus::None,
            Some(Direction::Stop) => ProtectStatus::Stop,
            Some(Direction::Start) => ProtectStatus::Start,
        }
    }
}

/// `real_name_status` of a verified card.
const REAL_NAME_VERIFIED: i64 = 2;
/// `real_name_status` of a card not verified.
const REAL_NAME_NONE: i64 = 0;
/// `network_status` of a stopped card.
const NETWORK_STOPPED: i64 = 0;
/// `network_status` of a running card.
const NETWORK_STARTED: i64 = 1;

/// An IoT card (SIM).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
pub struct IotCard {
    pub id: u64,
    pub iccid: String,
    pub msisdn: Option<String>,
    pub imsi: Option<String>,
    pub virtual_no: Option<String>,
    pub carrier_id: u64,
    pub carrier_type: String,
    pub carrier_name: String,
    pub card_category: Option<String>,
    pub supplier: Option<String>,
    pub batch_no: Option<String>,
    /// Owning shop; `None` = platform stock.
    pub shop_id: Option<u64>,
    /// Path of the owning shop (the subtree-query attribute).
    pub owner_path: Option<ShopPath>,
    pub series_id: Option<u64>,
    /// Legacy distribution status (kept for the front end).
    pub status: i64,
    pub asset_status: AssetStatus,
    pub generation: i64,
    /// 0 stopped, 1 started.
    pub network_status: i64,
    /// 0 not verified, 1 verifying, 2 verified.
    pub real_name_status: i64,
    pub activation_status: i64,
    pub activated_at: Option<String>,
    pub enable_polling: bool,
    /// The card was given its polling cohorts (at import, or by the polling
    /// backfill): the backfill skips it. Absent on cards from before polling.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub polling_scheduled: bool,
    /// Data used this month (MB).
    #[serde(with = "rust_decimal::serde::float")]
    #[schema(value_type = f64)]
    pub current_month_usage_mb: Decimal,
    pub last_data_check_at: Option<String>,
    pub last_sync_time: Option<String>,
    /// True when not bound to a live device.
    pub is_standalone: bool,
    pub bound_device_id: Option<u64>,
    pub slot_position: Option<u32>,
    pub stopped_at: Option<String>,
    pub resumed_at: Option<String>,
    pub stop_reason: Option<String>,
    /// The usage rule that stopped the card, while it is stopped by one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rule_stop: Option<crate::domain::usage_rules::RuleStop>,
    pub remark: Option<String>,
    /// The enterprise the asset is authorised to, with its live grants.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authorization: Option<crate::domain::authorization::EnterpriseAuth>,
    /// Import task that created the card, if any.
    pub import_task_id: Option<u64>,
    pub created_at: String,
    pub updated_at: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deleted_at: Option<String>,
    pub creator: u64,
    pub updater: u64,
    pub version: i64,
}

/// A device with SIM slots.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
pub struct Device {
    pub id: u64,
    pub virtual_no: String,
    pub imei: Option<String>,
    pub sn: Option<String>,
    pub device_name: Option<String>,
    pub device_model: Option<String>,
    pub device_type: Option<String>,
    pub manufacturer: Option<String>,
    pub max_sim_slots: u32,
    pub batch_no: Option<String>,
    pub shop_id: Option<u64>,
    pub owner_path: Option<ShopPath>,
    pub series_id: Option<u64>,
    pub status: i64,
    pub asset_status: AssetStatus,
    pub generation: i64,
    pub activated_at: Option<String>,
    /// Number of cards bound now.
    pub bound_card_count: u32,
    /// The enterprise the asset is authorised to, with its live grants.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authorization: Option<crate::domain::authorization::EnterpriseAuth>,
    pub import_task_id: Option<u64>,
    pub created_at: String,
    pub updated_at: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deleted_at: Option<String>,
    pub creator: u64,
    pub updater: u64,
    pub version: i64,
}

/// A card in a device's SIM slot (DeviceSimBinding).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
pub struct SimBinding {
    pub device_id: u64,
    pub iot_card_id: u64,
    pub iccid: String,
    pub slot_position: u32,
    pub bound_at: String,
}

/// One allocation or recall of one asset.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
pub struct AllocationRecord {
    pub id: String,
    pub asset_type: AssetType,
    pub asset_id: u64,
    /// ICCID of a card, virtual number of a device.
    pub identifier: String,
    pub from_shop_id: Option<u64>,
    pub to_shop_id: Option<u64>,
    pub operation: MoveOp,
    pub operator_id: u64,
    pub remark: Option<String>,
    pub created_at: String,
}

/// What an import task does.
#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq, Eq, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ImportType {
    /// New cards.
    Cards,
    /// Fill blank card virtual numbers (all or nothing).
    VirtualNo,
    /// New devices with optional slot bindings.
    Devices,
}

impl ImportType {
    /// The name used in requests, responses and keys.
    pub fn as_str(self) -> &'static str {
        match self {
            ImportType::Cards => "cards",
            ImportType::VirtualNo => "virtual_no",
            ImportType::Devices => "devices",
        }
    }

    /// A rejected row of this kind of import, named by `value`: the ICCID for card
    /// imports and virtual-number fills, the virtual number for device imports.
    pub fn failed(self, row: u64, value: &str, reason: impl Into<String>) -> FailedItem {
        let value = value.to_string();
        let subject = match self {
            ImportType::Cards | ImportType::VirtualNo => RowSubject::Iccid(value),
            ImportType::Devices => RowSubject::VirtualNo(value),
        };
        FailedItem {
            row,
            subject,
            reason: reason.into(),
        }
    }
}

/// Import task state.
#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq, Eq, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ImportStatus {
    /// Registered; waits for its file (`awaiting_upload`), whose upload starts it.
    AwaitingUpload,
    /// Waiting for its first chunk to be processed.
    Pending,
    Processing,
    Completed,
    Failed,
}

impl ImportStatus {
    /// The name used in responses and items.
    pub fn as_str(self) -> &'static str {
        match self {
            ImportStatus::AwaitingUpload => "awaiting_upload",
            ImportStatus::Pending => "pending",
            ImportStatus::Processing => "processing",
            ImportStatus::Completed => "completed",
            ImportStatus::Failed => "failed",
        }
    }

    /// True once the task will not change any more.
    pub fn is_finished(self) -> bool {
        matches!(self, ImportStatus::Completed | ImportStatus::Failed)
    }
}

/// A CSV import, processed asynchronously in chunks.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
pub struct ImportTask {
    pub id: u64,
    pub task_no: String,
    pub import_type: ImportType,
    pub file_key: String,
    pub status: ImportStatus,
    /// Task-level defaults for rows.
    pub carrier_id: Option<u64>,
    pub batch_no: Option<String>,
    /// Target shop of imported assets (`None` = platform stock).
    pub shop_id: Option<u64>,
    pub total_count: u64,
    pub success_count: u64,
    pub fail_count: u64,
    /// Byte offset of the next unprocessed line of the file.
    pub next_offset: u64,
    /// Row number (1-based, header excluded) of that line.
    pub next_row: u64,
    /// Lower-case column names from the file's header row.
    #[serde(default)]
    pub columns: Vec<String>,
    /// Why the whole task failed, if it did.
    pub error: Option<String>,
    /// Size in bytes of the object whose arrival started the task (tasks registered
    /// before their upload).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file_size: Option<u64>,
    pub created_by: u64,
    pub created_at: String,
    pub started_at: Option<String>,
    pub finished_at: Option<String>,
    pub version: i64,
}

impl ImportTask {
    /// A new pending task of account `created_by` at `created_at` (RFC 3339), with
    /// nothing read yet and no task-level defaults; its number is `IMP<yyyymmdd><id>`.
    pub fn new(
        id: u64,
        import_type: ImportType,
        file_key: String,
        created_by: u64,
        created_at: String,
    ) -> Self {
        let day = created_at.get(..10).unwrap_or_default().replace('-', "");
        ImportTask {
            id,
            task_no: format!("IMP{day}{id:06}"),
            import_type,
            file_key,
            status: ImportStatus::Pending,
            carrier_id: None,
            batch_no: None,
            shop_id: None,
            total_count: 0,
            success_count: 0,
            fail_count: 0,
            next_offset: 0,
            next_row: 0,
            columns: Vec::new(),
            error: None,
            file_size: None,
            created_by,
            created_at,
            started_at: None,
            finished_at: None,
            version: 1,
        }
    }
}

/// Prefix of the objects whose arrival starts an import task.
pub const IMPORT_OBJECT_PREFIX: &str = "imports/";

/// Key of the object task `id` imports when it is registered before its upload:
/// `imports/<id>.csv`.
pub fn import_object_key(id: u64) -> String {
    format!("{IMPORT_OBJECT_PREFIX}{id}.csv")
}

/// The task an object key names (`imports/<id>.csv`, the id in plain decimal), if
/// any.
pub fn import_task_of_key(key: &str) -> Option<u64> {
    let digits = key
        .strip_prefix(IMPORT_OBJECT_PREFIX)?
        .strip_suffix(".csv")?;
    let plain = !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit());
    let id = digits.parse::<u64>().ok().filter(|_| plain)?;
    (import_object_key(id) == key).then_some(id)
}

/// One rejected row of an import: `{row, iccid, reason}` for card imports and
/// virtual-number fills, `{row, virtual_no, reason}` for device imports (api.md §7–§8).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
pub struct FailedItem {
    /// Row number (1-based, header excluded).
    pub row: u64,
    /// What the row names.
    #[serde(flatten)]
    pub subject: RowSubject,
    /// Why the row was rejected.
    pub reason: String,
}

/// The value naming a rejected row, under its own field name.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RowSubject {
    /// `iccid`: card imports and virtual-number fills.
    Iccid(String),
    /// `virtual_no`: device imports.
    VirtualNo(String),
}

#[cfg(test)]
mod tests;
