//! Agent recharges (AgentRechargeRecord, domain.md §4.8, §5.8, §6.3): money paid into
//! a shop's main wallet, online (`wechat`) or confirmed offline by the platform.

use chrono::TimeZone;
use serde::{Deserialize, Serialize};

use super::validate::Invalid;
use crate::clock::cst;

/// Smallest recharge (fen): 100 CNY.
pub const MIN_RECHARGE: i64 = 10_000;
/// Largest recharge (fen): 1 000 000 CNY.
pub const MAX_RECHARGE: i64 = 100_000_000;
/// Prefix of recharge numbers (payment callbacks dispatch on it).
pub const RECHARGE_NO_PREFIX: &str = "ARCH";

/// How the recharge is paid.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum PaymentMethod {
    /// WeChat Pay (through the active payment configuration).
    Wechat,
    /// Paid outside the system; confirmed by the platform.
    Offline,
}

impl PaymentMethod {
    /// The stored (and answered) name.
    pub fn as_str(self) -> &'static str {
        match self {
            PaymentMethod::Wechat => "wechat",
            PaymentMethod::Offline => "offline",
        }
    }
}

/// The provider behind the payment, chosen by the backend.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum PaymentChannel {
    /// WeChat Pay direct (active configuration of provider type `wechat`).
    WechatDirect,
    /// Fuiou (active configuration of provider type `fuiou`).
    Fuyou,
    /// Offline payment.
    Offline,
}

crate::int_enum! {
    /// State of a recharge (§6.3): 1 pending, 2 completed, 3 cancelled.
    RechargeStatus {
        /// Waiting for the payment.
        Pending = 1,
        /// Paid and credited.
        Completed = 2,
        /// Given up.
        Cancelled = 3,
    }
}

/// An agent recharge as stored and answered.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
pub struct AgentRecharge {
    pub id: u64,
    /// `ARCH` + date (Asia/Shanghai) + id.
    pub recharge_no: String,
    /// The shop whose main wallet is credited.
    pub shop_id: u64,
    /// That wallet's id.
    pub agent_wallet_id: u64,
    /// Amount in fen.
    pub amount: i64,
    pub payment_method: PaymentMethod,
    pub payment_channel: PaymentChannel,
    /// The payment configuration active at creation (online payments).
    pub payment_config_id: Option<u64>,
    pub status: RechargeStatus,
    /// When an unpaid online recharge is cancelled (30 minutes after creation).
    #[serde(default)]
    pub expires_at: Option<String>,
    pub paid_at: Option<String>,
    pub completed_at: Option<String>,
    /// The creating account.
    pub creator: u64,
    pub created_at: String,
    pub updated_at: String,
    pub version: i64,
}

/// How long an online recharge waits for its payment (A28): 30 minutes.
pub const PAYMENT_WINDOW_SECS: i64 = 30 * 60;

/// Refuses an amount outside [`MIN_RECHARGE`]..=[`MAX_RECHARGE`].
pub fn check_amount(amount: i64) -> Result<i64, Invalid> {
    if (MIN_RECHARGE..=MAX_RECHARGE).contains(&amount) {
        Ok(amount)
    } else {
        Err(Invalid::new(
            format!("充值金额须在{MIN_RECHARGE}到{MAX_RECHARGE}分之间"),
            format!("amount must be between {MIN_RECHARGE} and {MAX_RECHARGE} fen"),
        ))
    }
}

/// The number of recharge `id` created at `now`: `ARCH`, the date in Asia/Shanghai
/// (`yyyymmdd`) and the id on at least 6 digits, e.g. `ARCH20260316000042`. Unique
/// because the id is.
pub fn recharge_no(id: u64, now: i64) -> String {
    let day = cst()
        .timestamp_opt(now, 0)
        .single()
        .map(|t| t.format("%Y%m%d").to_string())
        .unwrap_or_else(|| "19700101".into());
    format!("{RECHARGE_NO_PREFIX}{day}{id:06}")
}

/// The id inside a recharge number ([`recharge_no`] reversed); `None` for strings
/// that are not one.
pub fn recharge_id_of(no: &str) -> Option<u64> {
    let rest = no.strip_prefix(RECHARGE_NO_PREFIX)?;
    if rest.len() < 14 || !rest.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    rest.get(8..)?.parse().ok().filter(|id| *id > 0)
}

/// The ledger event of a recharge's credit: one per recharge, whoever confirms it.
pub fn recharge_event(id: u64) -> String {
    format!("recharge:{id}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_and_numbers() {
        assert!(check_amount(MIN_RECHARGE).is_ok() && check_amount(MAX_RECHARGE).is_ok());
        assert!(check_amount(MIN_RECHARGE - 1).is_err() && check_amount(MAX_RECHARGE + 1).is_err());
        // 2026-03-16 01:00 in Shanghai is still 2026-03-15 in UTC.
        let at = 1_773_594_000;
        let no = recharge_no(42, at);
        assert_eq!(no, "ARCH20260316000042");
        assert_eq!(recharge_id_of(&no), Some(42));
        assert_eq!(
            recharge_id_of(&recharge_no(12_345_678, at)),
            Some(12_345_678)
        );
        for bad in [
            "",
            "ARCH",
            "ARCH2026031600004x",
            "ORD20260316000042",
            "ARCH20260316000000",
        ] {
            assert_eq!(recharge_id_of(bad), None, "{bad}");
        }
        assert_eq!(recharge_event(7), "recharge:7");
        let s: RechargeStatus = serde_json::from_value(serde_json::json!(2)).unwrap();
        assert_eq!(s, RechargeStatus::Completed);
        assert!(serde_json::from_value::<RechargeStatus>(serde_json::json!(4)).is_err());
    }
}
