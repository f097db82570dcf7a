//! The package catalogue (domain.md §4.4): package series with their one-time
//! commission and forced-recharge settings, and packages. Pure types and the rules
//! over their resulting state; no I/O.

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use super::org::Status;
use super::validate::{int_in, money, Invalid};

/// Largest data volume of a package, in MB (1 PB).
pub const MAX_DATA_MB: i64 = 1_000_000_000;
/// Most tiers a series may define.
pub const MAX_TIERS: usize = 20;

/// What fires the one-time commission (also drives forced recharge, §5.3.2).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Trigger {
    /// The asset's first recharge reaches the threshold.
    FirstRecharge,
    /// The asset's accumulated recharges reach the threshold.
    AccumulatedRecharge,
}

/// How a series' one-time commission is granted.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum CommissionType {
    /// One amount per grant.
    Fixed,
    /// An amount per sales tier.
    Tiered,
}

impl CommissionType {
    /// The stored (and answered) name.
    pub fn as_str(self) -> &'static str {
        match self {
            CommissionType::Fixed => "fixed",
            CommissionType::Tiered => "tiered",
        }
    }
}

/// Comparison of a tier: `stat <op> threshold`. An empty operator means `>=`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum Operator {
    Gt,
    Gte,
    Lt,
    Lte,
}

impl Operator {
    /// The operator's symbol.
    pub fn symbol(self) -> &'static str {
        match self {
            Operator::Gt => ">",
            Operator::Gte => ">=",
            Operator::Lt => "<",
            Operator::Lte => "<=",
        }
    }

    /// Whether `stat <op> threshold` holds.
    pub fn holds(self, stat: i64, threshold: i64) -> bool {
        match self {
            Operator::Gt => stat > threshold,
            Operator::Gte => stat >= threshold,
            Operator::Lt => stat < threshold,
            Operator::Lte => stat <= threshold,
        }
    }
}

impl TryFrom<String> for Operator {
    type Error = String;
    fn try_from(v: String) -> Result<Self, String> {
        match v.trim() {
            ">" => Ok(Operator::Gt),
            ">=" | "" => Ok(Operator::Gte),
            "<" => Ok(Operator::Lt),
            "<=" => Ok(Operator::Lte),
            other => Err(format!(
                "unknown tier operator {other:?}: use >, >=, < or <="
            )),
        }
    }
}

crate::wire_schema!(
    Operator,
    string_enum(
        &[">", ">=", "<", "<=", ""],
        "Tier comparison; empty means >="
    )
);

impl From<Operator> for String {
    fn from(o: Operator) -> String {
        o.symbol().to_string()
    }
}

/// What a tier measures (the sources leave the values open; see docs/architecture.md).
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Dimension {
    /// Number of qualifying sales.
    #[default]
    SalesCount,
    /// Sum of qualifying sales, in fen.
    SalesAmount,
}

/// Whose sales a tier counts.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum StatScope {
    /// The shop's own sales.
    #[default]
    #[serde(rename = "self")]
    OwnShop,
    /// The shop's and all its descendants' sales.
    SelfAndSubordinates,
}

/// A tier of a series (the platform's amount is the ceiling of level-1 grants).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct SeriesTier {
    #[serde(default = "default_operator")]
    pub operator: Operator,
    #[serde(default)]
    pub dimension: Dimension,
    #[serde(default)]
    pub stat_scope: StatScope,
    pub threshold: i64,
    pub amount: i64,
}

fn default_operator() -> Operator {
    Operator::Gte
}

/// A package series (domain.md §4.4).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct PackageSeries {
    pub id: u64,
    pub series_name: String,
    pub series_code: String,
    pub status: Status,
    pub enable_one_time_commission: bool,
    pub one_time_commission_trigger: Trigger,
    /// Recharge amount (fen) that fires the trigger.
    pub one_time_commission_threshold: i64,
    pub commission_type: CommissionType,
    /// Fixed mode: the platform's amount (fen).
    pub commission_amount: i64,
    /// Tiered mode: the tier definitions (empty in fixed mode).
    pub tiers: Vec<SeriesTier>,
    /// Platform-level forced recharge.
    pub enable_force_recharge: bool,
    /// 0 = the threshold.
    pub force_recharge_amount: i64,
    /// Live packages of the series (kept in the transactions that change them).
    #[serde(default)]
    pub package_count: u32,
    /// Live grants of the series at every level (kept the same way).
    #[serde(default)]
    pub grant_count: u32,
    pub created_at: String,
    pub updated_at: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deleted_at: Option<String>,
    pub creator: u64,
    pub updater: u64,
    pub version: i64,
}

impl PackageSeries {
    /// Whether the platform's rule decides forced recharge, so agents' settings are
    /// ignored (§5.6 rule 7): the trigger is `first_recharge` or the platform enabled it.
    pub fn force_recharge_locked(&self) -> bool {
        self.one_time_commission_trigger == Trigger::FirstRecharge || self.enable_force_recharge
    }

    /// The series' thresholds, in definition order.
    pub fn thresholds(&self) -> Vec<i64> {
        self.tiers.iter().map(|t| t.threshold).collect()
    }

    /// The rules over a series' resulting state (create and update).
    pub fn check(&self) -> Result<(), Invalid> {
        money(
            "one_time_commission_threshold",
            self.one_time_commission_threshold,
        )?;
        money("commission_amount", self.commission_amount)?;
        money("force_recharge_amount", self.force_recharge_amount)?;
        match self.commission_type {
            CommissionType::Fixed if !self.tiers.is_empty() => Err(Invalid::new(
                "只有commission_type为tiered时才能填写tiers",
                "tiers are only allowed when commission_type is tiered",
            )),
            CommissionType::Tiered if self.tiers.is_empty() => Err(Invalid::new(
                "commission_type为tiered时tiers不能为空",
                "tiers must not be empty when commission_type is tiered",
            )),
            _ => Ok(()),
        }?;
        if self.tiers.len() > MAX_TIERS {
            return Err(Invalid::new(
                format!("梯度最多{MAX_TIERS}个"),
                format!("at most {MAX_TIERS} tiers"),
            ));
        }
        for (i, t) in self.tiers.iter().enumerate() {
            int_in("tiers.threshold", t.threshold, 0..=i64::MAX)?;
            money("tiers.amount", t.amount)?;
            if self
                .tiers
                .iter()
                .take(i)
                .any(|o| o.threshold == t.threshold)
            {
                return Err(Invalid::new(
                    format!("梯度阈值 {} 重复", t.threshold),
                    format!("tier threshold {} appears twice", t.threshold),
                ));
            }
        }
        Ok(())
    }
}

/// Formal (main) package or add-on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum PackageType {
    Formal,
    Addon,
}

impl PackageType {
    /// The stored (and answered) name.
    pub fn as_str(self) -> &'static str {
        match self {
            PackageType::Formal => "formal",
            PackageType::Addon => "addon",
        }
    }
}

/// How a package's validity is counted (§5.7.3).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum CalendarType {
    /// `duration_months` natural months.
    NaturalMonth,
    /// `duration_days` days, the activation day counting as day 1.
    ByDay,
}

/// When a package's data counter resets.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ResetCycle {
    Daily,
    Monthly,
    Yearly,
    None,
}

/// A package (domain.md §4.4).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Package {
    pub id: u64,
    pub package_code: String,
    pub package_name: String,
    pub package_series_id: u64,
    pub package_type: PackageType,
    /// Nominal data volume ("real total").
    pub real_data_mb: i64,
    /// Stop threshold ("virtual total"); meaningful when `enable_virtual_data`.
    pub virtual_data_mb: i64,
    pub enable_virtual_data: bool,
    /// `real_data_mb / virtual_data_mb` (6 decimal places), 1 when virtual data is off.
    pub virtual_ratio: Decimal,
    pub calendar_type: CalendarType,
    /// Natural months of validity (0 when `by_day`).
    pub duration_months: i64,
    /// Days of validity (0 when `natural_month`).
    pub duration_days: i64,
    pub data_reset_cycle: ResetCycle,
    pub enable_realname_activation: bool,
    /// Add-ons: own validity from the purchase date instead of the main package's.
    pub has_independent_expiry: bool,
    /// Price in the platform channel and default retail price of new allocations.
    pub suggested_retail_price: i64,
    /// Platform base cost.
    pub cost_price: i64,
    /// Global status: only enabled packages sell.
    pub status: Status,
    /// Live allocations of the package (kept by the transactions that create and
    /// delete them); a package is deleted only while it is 0.
    #[serde(default)]
    pub allocation_count: u64,
    pub created_at: String,
    pub updated_at: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deleted_at: Option<String>,
    pub creator: u64,
    pub updater: u64,
    pub version: i64,
}

/// `real / virtual` rounded to 6 decimal places when virtual data is on and the
/// virtual total is positive, else exactly 1.
pub fn virtual_ratio(real_mb: i64, virtual_mb: i64, enabled: bool) -> Decimal {
    if enabled && virtual_mb > 0 {
        (Decimal::from(real_mb) / Decimal::from(virtual_mb)).round_dp(6)
    } else {
        Decimal::ONE
    }
}

impl Package {
    /// Checks the resulting state and recomputes the derived fields: the unused
    /// duration is zeroed and `virtual_ratio` computed.
    pub fn normalise(&mut self) -> Result<(), Invalid> {
        int_in("real_data_mb", self.real_data_mb, 0..=MAX_DATA_MB)?;
        if self.enable_virtual_data {
            int_in("virtual_data_mb", self.virtual_data_mb, 1..=MAX_DATA_MB)?;
            if self.virtual_data_mb > self.real_data_mb {
                return Err(Invalid::new(
                    "virtual_data_mb不能超过real_data_mb",
                    "virtual_data_mb must not exceed real_data_mb",
                ));
            }
        } else {
            int_in("virtual_data_mb", self.virtual_data_mb, 0..=MAX_DATA_MB)?;
        }
        match self.calendar_type {
            CalendarType::NaturalMonth => {
                months(self.duration_months)?;
                self.duration_days = 0;
            }
            CalendarType::ByDay => {
                days(self.duration_days)?;
                self.duration_months = 0;
            }
        }
        if self.has_independent_expiry && self.package_type == PackageType::Formal {
            return Err(Invalid::new(
                "has_independent_expiry只适用于加油包",
                "has_independent_expiry applies to add-on packages only",
            ));
        }
        money("suggested_retail_price", self.suggested_retail_price)?;
        money("cost_price", self.cost_price)?;
        self.virtual_ratio = virtual_ratio(
            self.real_data_mb,
            self.virtual_data_mb,
            self.enable_virtual_data,
        );
        Ok(())
    }
}

fn months(v: i64) -> Result<i64, Invalid> {
    int_in("duration_months", v, 1..=120).map_err(|_| {
        Invalid::new(
            "calendar_type为natural_month时必须填写duration_months(1-120)",
            "duration_months (1-120) is required when calendar_type is natural_month",
        )
    })
}

fn days(v: i64) -> Result<i64, Invalid> {
    int_in("duration_days", v, 1..=3660).map_err(|_| {
        Invalid::new(
            "calendar_type为by_day时必须填写duration_days(1-3660)",
            "duration_days (1-3660) is required when calendar_type is by_day",
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_the_serialised_ones() {
        for t in [CommissionType::Fixed, CommissionType::Tiered] {
            assert_eq!(serde_json::to_value(t).unwrap(), t.as_str());
        }
        for t in [PackageType::Formal, PackageType::Addon] {
            assert_eq!(serde_json::to_value(t).unwrap(), t.as_str());
        }
    }
    use std::str::FromStr;

    #[test]
    fn ratio() {
        let d = |s| Decimal::from_str(s).unwrap();
        assert_eq!(virtual_ratio(1024, 1000, true), d("1.024"));
        assert_eq!(virtual_ratio(1000, 3, true), d("333.333333"));
        assert_eq!(virtual_ratio(2000, 3, true), d("666.666667"));
        assert_eq!(virtual_ratio(1000, 1000, true), Decimal::ONE);
        assert_eq!(virtual_ratio(1000, 500, false), Decimal::ONE);
        assert_eq!(virtual_ratio(1000, 0, true), Decimal::ONE);
    }

    #[test]
    fn operators() {
        let op = |s: &str| Operator::try_from(s.to_string());
        assert_eq!(op("").unwrap(), Operator::Gte);
        assert_eq!(op(" > ").unwrap(), Operator::Gt);
        assert_eq!(op("<=").unwrap(), Operator::Lte);
        for bad in ["=", "==", "!=", "gt", "=>"] {
            assert!(
                op(bad).unwrap_err().contains("unknown tier operator"),
                "{bad}"
            );
        }
        let table = [
            (Operator::Gt, 10, 10, false),
            (Operator::Gt, 11, 10, true),
            (Operator::Gte, 10, 10, true),
            (Operator::Gte, 9, 10, false),
            (Operator::Lt, 9, 10, true),
            (Operator::Lt, 10, 10, false),
            (Operator::Lte, 10, 10, true),
            (Operator::Lte, 11, 10, false),
        ];
        for (op, stat, threshold, want) in table {
            assert_eq!(op.holds(stat, threshold), want, "{stat} {op:?} {threshold}");
        }
        let tier: SeriesTier =
            serde_json::from_str(r#"{"operator":"","threshold":5,"amount":1}"#).unwrap();
        assert_eq!(tier.operator, Operator::Gte);
        assert_eq!(
            serde_json::to_value(&tier).unwrap()["operator"],
            serde_json::json!(">=")
        );
        assert_eq!(tier.stat_scope, StatScope::OwnShop);
        assert_eq!(
            serde_json::to_value(StatScope::OwnShop).unwrap(),
            serde_json::json!("self")
        );
    }
}
