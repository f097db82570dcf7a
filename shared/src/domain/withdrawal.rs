//! Commission withdrawals (domain.md §4.10, §5.5): the platform's settings, a
//! shop's request and its states, the fee. A request freezes its amount in the
//! shop's commission wallet; approval pays it out of the wallet (the fee stays
//! with the platform); rejection returns it.

use serde::{Deserialize, Serialize};

use super::commission::DEFAULT_UNFREEZE_DAYS;
use super::validate::{int_in, money, text, Invalid, MAX_MONEY};

/// Basis points in one whole (fee rates are given in basis points).
pub const BASIS_POINTS: i64 = 10_000;
/// Highest fee rate accepted (50 %).
pub const MAX_FEE_BP: i64 = 5_000;
/// Longest freeze the settings accept (days).
pub const MAX_UNFREEZE_DAYS: i64 = 365;

/// Where the money is sent.
#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum PayeeType {
    Alipay,
    Wechat,
    Bank,
}

/// The platform's withdrawal rules (CommissionWithdrawalSetting).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct WithdrawalSettings {
    /// Whether shops may request withdrawals.
    pub enabled: bool,
    /// Smallest request (fen).
    pub min_amount: i64,
    /// Largest request (fen).
    pub max_amount: i64,
    /// Most a shop may request per day (Asia/Shanghai), rejected requests excluded.
    pub daily_max_amount: i64,
    /// Fee in basis points of the amount (100 = 1 %), rounded half up to the fen.
    pub fee_rate_bp: i64,
    /// Payee types accepted.
    pub allowed_payee_types: Vec<PayeeType>,
    /// Days a credited commission stays frozen before it can be withdrawn.
    pub unfreeze_days: i64,
    #[serde(default)]
    pub updated_at: Option<String>,
    #[serde(default)]
    pub updated_by: Option<u64>,
    #[serde(default)]
    pub version: i64,
}

impl Default for WithdrawalSettings {
    /// Until the platform sets them: enabled, 1 CNY to 50 000 CNY per request,
    /// 100 000 CNY per day, no fee, every payee type, frozen 7 days.
    fn default() -> Self {
        WithdrawalSettings {
            enabled: true,
            min_amount: 100,
            max_amount: 5_000_000,
            daily_max_amount: 10_000_000,
            fee_rate_bp: 0,
            allowed_payee_types: vec![PayeeType::Alipay, PayeeType::Wechat, PayeeType::Bank],
            unfreeze_days: DEFAULT_UNFREEZE_DAYS,
            updated_at: None,
            updated_by: None,
            version: 0,
        }
    }
}

impl WithdrawalSettings {
    /// Refuses settings that contradict themselves.
    pub fn check(&self) -> Result<(), Invalid> {
        int_in("min_amount", self.min_amount, 1..=MAX_MONEY)?;
        int_in("max_amount", self.max_amount, self.min_amount..=MAX_MONEY)?;
        int_in(
            "daily_max_amount",
            self.daily_max_amount,
            self.max_amount..=MAX_MONEY,
        )?;
        int_in("fee_rate_bp", self.fee_rate_bp, 0..=MAX_FEE_BP)?;
        int_in("unfreeze_days", self.unfreeze_days, 0..=MAX_UNFREEZE_DAYS)?;
        if self.allowed_payee_types.is_empty() {
            return Err(Invalid::new(
                "allowed_payee_types不能为空",
                "allowed_payee_types must name at least one payee type",
            ));
        }
        Ok(())
    }

    /// The fee of a withdrawal of `amount`: `amount × fee_rate_bp / 10 000`, rounded
    /// half up to the fen.
    pub fn fee(&self, amount: i64) -> i64 {
        fee(amount, self.fee_rate_bp)
    }
}

/// `amount × bp / 10 000` rounded half up (fen).
pub fn fee(amount: i64, bp: i64) -> i64 {
    let raw = i128::from(amount) * i128::from(bp);
    ((raw + i128::from(BASIS_POINTS / 2)) / i128::from(BASIS_POINTS)) as i64
}

/// Who is paid and where.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Payee {
    pub payee_type: PayeeType,
    /// Account holder's name (1–50 characters).
    pub account_name: String,
    /// Account number, Alipay account or WeChat id (1–64 characters).
    pub account_no: String,
    /// Bank name (bank payees only, 1–100 characters).
    #[serde(default)]
    pub bank_name: Option<String>,
}

impl Payee {
    /// The payee with its texts trimmed and checked.
    pub fn checked(self) -> Result<Payee, Invalid> {
        let bank_name = match (self.payee_type, self.bank_name.as_deref()) {
            (PayeeType::Bank, Some(b)) => Some(text("bank_name", b, 100)?),
            (PayeeType::Bank, None) => {
                return Err(Invalid::new(
                    "银行卡提现需填写bank_name",
                    "bank_name is required for bank payees",
                ))
            }
            (_, _) => None,
        };
        Ok(Payee {
            payee_type: self.payee_type,
            account_name: text("account_name", &self.account_name, 50)?,
            account_no: text("account_no", &self.account_no, 64)?,
            bank_name,
        })
    }
}

crate::int_enum! {
    /// State of a withdrawal request: 1 pending, 2 approved, 3 rejected.
    WithdrawalStatus {
        /// Waiting for the platform; the amount is frozen.
        Pending = 1,
        /// Paid out of the wallet.
        Approved = 2,
        /// Refused; the amount is available again.
        Rejected = 3,
    }
}

/// A withdrawal request (CommissionWithdrawalRequest), as stored and answered.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Withdrawal {
    pub id: u64,
    /// `WD` + date + id.
    pub withdrawal_no: String,
    pub shop_id: u64,
    pub shop_name: String,
    /// Requested (fen): frozen, then taken from the wallet on approval.
    pub amount: i64,
    /// Kept by the platform (fen).
    pub fee: i64,
    /// `amount − fee`: what the payee receives.
    pub actual_amount: i64,
    pub fee_rate_bp: i64,
    pub payee: Payee,
    pub status: WithdrawalStatus,
    /// The requesting account.
    pub applicant_id: u64,
    pub remark: Option<String>,
    pub reviewer_id: Option<u64>,
    pub reviewed_at: Option<String>,
    pub review_remark: Option<String>,
    /// The day (`YYYY-MM-DD`, Asia/Shanghai) its amount counts against.
    pub day: String,
    pub created_at: String,
    pub at: i64,
    pub version: i64,
}

/// Why a withdrawal is refused by the settings.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum WithdrawalRefused {
    #[error("withdrawals are disabled")]
    Disabled,
    #[error("the amount must be between {min} and {max} fen")]
    OutOfRange { min: i64, max: i64 },
    #[error("payee type not allowed")]
    PayeeNotAllowed,
}

/// Checks a request of `amount` to `payee` against `settings`.
pub fn admissible(
    settings: &WithdrawalSettings,
    amount: i64,
    payee: &Payee,
) -> Result<(), WithdrawalRefused> {
    if !settings.enabled {
        return Err(WithdrawalRefused::Disabled);
    }
    if amount < settings.min_amount
        || amount > settings.max_amount
        || money("amount", amount).is_err()
    {
        return Err(WithdrawalRefused::OutOfRange {
            min: settings.min_amount,
            max: settings.max_amount,
        });
    }
    if !settings.allowed_payee_types.contains(&payee.payee_type) {
        return Err(WithdrawalRefused::PayeeNotAllowed);
    }
    Ok(())
}

/// Withdrawal number `WD` + the Asia/Shanghai date + the id on 10 digits.
pub fn withdrawal_no(id: u64, now: i64) -> String {
    format!("WD{}{id:010}", day_of(now).replace('-', ""))
}

/// The Asia/Shanghai day (`YYYY-MM-DD`) of `at`.
pub fn day_of(at: i64) -> String {
    chrono::DateTime::from_timestamp(at, 0)
        .unwrap_or_default()
        .with_timezone(&crate::clock::cst())
        .format("%Y-%m-%d")
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn payee(t: PayeeType) -> Payee {
        Payee {
            payee_type: t,
            account_name: "张三".into(),
            account_no: "6222".into(),
            bank_name: None,
        }
    }

    #[test]
    fn fees_round_half_up_to_the_fen() {
        assert_eq!(fee(10_000, 60), 60);
        assert_eq!(fee(125, 200), 3); // 2.5 → 3
        assert_eq!(fee(124, 200), 2); // 2.48 → 2
        assert_eq!(fee(1, 4_999), 0); // 0.4999 → 0
        assert_eq!(fee(1, 5_000), 1); // 0.5 → 1
        assert_eq!(fee(MAX_MONEY, MAX_FEE_BP), MAX_MONEY / 2);
    }

    #[test]
    fn settings_and_requests_are_checked() {
        let s = WithdrawalSettings::default();
        assert!(s.check().is_ok());
        let mut bad = s.clone();
        bad.max_amount = bad.min_amount - 1;
        assert!(bad.check().is_err());
        bad = s.clone();
        bad.allowed_payee_types.clear();
        assert!(bad.check().is_err());
        bad = s.clone();
        bad.fee_rate_bp = MAX_FEE_BP + 1;
        assert!(bad.check().is_err());
        assert_eq!(admissible(&s, 100, &payee(PayeeType::Alipay)), Ok(()));
        assert!(matches!(
            admissible(&s, 99, &payee(PayeeType::Alipay)),
            Err(WithdrawalRefused::OutOfRange { .. })
        ));
        let mut only_bank = s.clone();
        only_bank.allowed_payee_types = vec![PayeeType::Bank];
        assert_eq!(
            admissible(&only_bank, 100, &payee(PayeeType::Wechat)),
            Err(WithdrawalRefused::PayeeNotAllowed)
        );
        let mut off = s;
        off.enabled = false;
        assert_eq!(
            admissible(&off, 100, &payee(PayeeType::Alipay)),
            Err(WithdrawalRefused::Disabled)
        );
        assert!(payee(PayeeType::Bank).checked().is_err());
        assert_eq!(withdrawal_no(5, 1_769_875_200), "WD202602010000000005");
    }
}
