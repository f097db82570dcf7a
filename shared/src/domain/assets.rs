//! Asset entities: IoT cards, devices, SIM-slot bindings, allocation records and
//! import tasks (domain.md §4.2), and their status values.

use serde::{Deserialize, Serialize};

use super::shop_path::ShopPath;

/// `asset_status` (domain.md §5.9).
pub mod asset_status {
    /// In stock.
    pub const IN_STOCK: i64 = 1;
    /// Sold (bound by a customer).
    pub const SOLD: i64 = 2;
    /// Exchanged (old asset of an exchange).
    pub const EXCHANGED: i64 = 3;
    /// Deactivated manually.
    pub const DEACTIVATED: i64 = 4;
}

/// Card or device.
#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq, Eq)]
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
}

/// An IoT card (SIM).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
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
    pub asset_status: i64,
    pub generation: i64,
    /// 0 stopped, 1 started.
    pub network_status: i64,
    /// 0 not verified, 1 verifying, 2 verified.
    pub real_name_status: i64,
    pub activation_status: i64,
    pub activated_at: Option<String>,
    pub enable_polling: bool,
    pub current_month_usage_mb: f64,
    pub last_data_check_at: Option<String>,
    pub last_sync_time: Option<String>,
    /// True when not bound to a live device.
    pub is_standalone: bool,
    pub bound_device_id: Option<u64>,
    pub slot_position: Option<u32>,
    pub stopped_at: Option<String>,
    pub resumed_at: Option<String>,
    pub stop_reason: Option<String>,
    pub remark: Option<String>,
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
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
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
    pub asset_status: i64,
    pub generation: i64,
    pub activated_at: Option<String>,
    /// Number of cards bound now.
    pub bound_card_count: u32,
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
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct SimBinding {
    pub device_id: u64,
    pub iot_card_id: u64,
    pub iccid: String,
    pub slot_position: u32,
    pub bound_at: String,
}

/// One allocation or recall of one asset.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct AllocationRecord {
    pub id: String,
    pub asset_type: AssetType,
    pub asset_id: u64,
    /// ICCID of a card, virtual number of a device.
    pub identifier: String,
    pub from_shop_id: Option<u64>,
    pub to_shop_id: Option<u64>,
    /// `allocate` or `recall`.
    pub operation: String,
    pub operator_id: u64,
    pub remark: Option<String>,
    pub created_at: String,
}

/// What an import task does.
#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum ImportType {
    /// New cards.
    Cards,
    /// Fill blank card virtual numbers (all or nothing).
    VirtualNo,
    /// New devices with optional slot bindings.
    Devices,
}

/// Import task state.
#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum ImportStatus {
    Pending,
    Processing,
    Completed,
    Failed,
}

/// A CSV import, processed asynchronously in chunks.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
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
    pub created_by: u64,
    pub created_at: String,
    pub started_at: Option<String>,
    pub finished_at: Option<String>,
    pub version: i64,
}

/// One rejected row of an import.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct FailedItem {
    pub row: u64,
    /// ICCID (cards) or virtual number (devices).
    pub identifier: String,
    pub reason: String,
}
