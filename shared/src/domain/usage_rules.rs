//! Usage automation rules: "when a card's usage of a package passes N % → notify,
//! stop, or stop and resume on renewal", scoped to a shop's cards (its subtree) or
//! to every card (platform rules).
//!
//! A rule fires on a package usage when a card data check's deduction takes that
//! usage from below N % of its stop threshold to N % or more: once per usage and
//! period, since usage only grows until a reset or a new package starts it again
//! from zero. A card stopped by a rule that resumes on renewal starts again once one
//! of its live usages is active and below that rule's N % (a new package, an add-on
//! or a data reset).

use serde::{Deserialize, Serialize};

use super::polling_alerts::NotifyInput;
use super::shop_path::ShopPath;
use super::usage::{PackageUsage, UsageStatus};
use super::validate::{int_in, text, Invalid};

/// Stop reason of a card stopped by a usage rule.
pub const STOP_USAGE_RULE: &str = "用量规则停机";
/// Rules one scope (a shop, or the platform) may hold.
pub const MAX_RULES_PER_SCOPE: usize = 20;

/// What a rule does when it fires.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum UsageAction {
    /// Only notify (the rule's webhook).
    Notify,
    /// Stop the card at the carrier (and notify, when the rule has a webhook).
    Stop,
}

impl UsageAction {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            UsageAction::Notify => "notify",
            UsageAction::Stop => "stop",
        }
    }
}

/// Body of `POST /api/admin/usage-rules` and of its `PUT` (`shop_id` is fixed at
/// creation and ignored on update).
#[derive(Clone, Debug, Deserialize, utoipa::ToSchema)]
pub struct UsageRuleInput {
    /// 1–64 characters.
    pub rule_name: String,
    /// The shop whose cards (its whole subtree) the rule watches; omitted: an
    /// agent's own shop, every card for platform staff.
    #[serde(default)]
    pub shop_id: Option<u64>,
    /// Percent of a package's data (its stop threshold) that fires the rule, 1–100.
    pub threshold_pct: i64,
    pub action: UsageAction,
    /// With `stop`: start the card again when it has fresh data (a new package, an
    /// add-on, a data reset). Default false.
    #[serde(default)]
    pub resume_on_renewal: bool,
    pub enabled: bool,
    /// Webhook notification; required for `notify`. On update: omitted keeps it,
    /// `null` removes it.
    #[serde(default, deserialize_with = "super::polling_alerts::present")]
    #[schema(value_type = Option<NotifyInput>)]
    pub notify: Option<Option<NotifyInput>>,
}

/// A rule's fields, validated.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct UsageRuleFields {
    pub rule_name: String,
    /// 1–100.
    pub threshold_pct: u8,
    pub action: UsageAction,
    pub resume_on_renewal: bool,
    pub enabled: bool,
}

impl UsageRuleInput {
    /// The validated fields.
    pub fn fields(&self) -> Result<UsageRuleFields, Invalid> {
        let pct = int_in("threshold_pct", self.threshold_pct, 1..=100)?;
        if self.resume_on_renewal && self.action != UsageAction::Stop {
            return Err(Invalid::new(
                "resume_on_renewal 仅用于 stop 动作",
                "resume_on_renewal applies to the stop action only",
            ));
        }
        Ok(UsageRuleFields {
            rule_name: text("rule_name", &self.rule_name, 64)?,
            threshold_pct: u8::try_from(pct).unwrap_or(100),
            action: self.action,
            resume_on_renewal: self.resume_on_renewal,
            enabled: self.enabled,
        })
    }
}

/// The rule that stopped a card, kept on the card while it is stopped.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct RuleStop {
    pub rule_id: u64,
    pub threshold_pct: u8,
    pub resume_on_renewal: bool,
}

/// A rule as the card data check sees it (enabled rules only).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LiveRule {
    pub id: u64,
    /// `None`: every card.
    pub scope: Option<ShopPath>,
    pub threshold_pct: u8,
    pub action: UsageAction,
    pub resume_on_renewal: bool,
    pub has_webhook: bool,
}

impl LiveRule {
    /// Whether the rule watches a card owned by the shop at `owner` (`None`:
    /// platform stock, watched by platform rules only).
    pub fn watches(&self, owner: Option<&ShopPath>) -> bool {
        match (&self.scope, owner) {
            (None, _) => true,
            (Some(scope), Some(owner)) => scope.contains(owner),
            (Some(_), None) => false,
        }
    }

    /// What the rule leaves on a card it stops.
    pub fn stop(&self) -> RuleStop {
        RuleStop {
            rule_id: self.id,
            threshold_pct: self.threshold_pct,
            resume_on_renewal: self.resume_on_renewal,
        }
    }
}

/// Whether usage going from `before` to `after` MB crosses `pct` % of `limit` MB.
pub fn crosses(pct: u8, limit: i64, before: i64, after: i64) -> bool {
    if limit <= 0 {
        return false;
    }
    let mark = i128::from(pct) * i128::from(limit);
    let at = |used: i64| i128::from(used) * 100;
    at(before) < mark && at(after) >= mark
}

/// Percent of `limit` that `used` is (0 for an empty limit).
pub fn percent(used: i64, limit: i64) -> f64 {
    if limit <= 0 {
        0.0
    } else {
        used as f64 * 100.0 / limit as f64
    }
}

/// One usage's change in a deduction: before and after (MB), and its limit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UsageChange {
    pub usage_id: u64,
    pub before_mb: i64,
    pub after_mb: i64,
    pub limit_mb: i64,
}

/// The rules of `rules` that fire on `changes` of a card owned at `owner`, with
/// the usage change each fires on.
pub fn firing<'a>(
    rules: &'a [LiveRule],
    owner: Option<&ShopPath>,
    changes: &[UsageChange],
) -> Vec<(&'a LiveRule, UsageChange)> {
    let mut out = Vec::new();
    for rule in rules.iter().filter(|r| r.watches(owner)) {
        for c in changes {
            if crosses(rule.threshold_pct, c.limit_mb, c.before_mb, c.after_mb) {
                out.push((rule, *c));
            }
        }
    }
    out
}

/// Whether a card stopped by `stop` has fresh data again: one of its live `usages`
/// is active and below the rule's percent.
pub fn renewed(stop: &RuleStop, usages: &[PackageUsage]) -> bool {
    stop.resume_on_renewal
        && usages.iter().any(|u| {
            u.status == UsageStatus::Active
                && i128::from(u.data_usage_mb) * 100
                    < i128::from(stop.threshold_pct) * i128::from(u.stop_threshold_mb())
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(id: u64, scope: Option<&str>, pct: u8) -> LiveRule {
        LiveRule {
            id,
            scope: scope.map(|s| ShopPath::try_from(s.to_string()).unwrap()),
            threshold_pct: pct,
            action: UsageAction::Notify,
            resume_on_renewal: false,
            has_webhook: true,
        }
    }

    #[test]
    fn crossing_is_from_below_to_at_or_above() {
        assert!(crosses(80, 1000, 799, 800));
        assert!(crosses(80, 1000, 0, 5000));
        assert!(!crosses(80, 1000, 800, 900), "already past");
        assert!(!crosses(80, 1000, 700, 799), "not yet");
        assert!(!crosses(80, 0, 0, 10), "no limit");
        assert!(crosses(100, 3, 2, 3));
        assert!(crosses(1, 1000, 9, 10));
        assert_eq!(percent(250, 1000), 25.0);
    }

    #[test]
    fn scopes_cover_their_subtree() {
        let sub = ShopPath::try_from("/1/5/".to_string()).unwrap();
        let sibling = ShopPath::try_from("/2/".to_string()).unwrap();
        assert!(rule(1, None, 80).watches(None));
        assert!(rule(1, Some("/1/"), 80).watches(Some(&sub)));
        assert!(!rule(1, Some("/1/"), 80).watches(Some(&sibling)));
        assert!(!rule(1, Some("/1/"), 80).watches(None));
        assert!(!rule(1, Some("/1/5/"), 80)
            .watches(Some(&ShopPath::try_from("/1/".to_string()).unwrap())));
    }

    #[test]
    fn firing_names_each_rule_and_usage_once() {
        let rules = [
            rule(1, None, 50),
            rule(2, Some("/9/"), 50),
            rule(3, None, 90),
        ];
        let change = UsageChange {
            usage_id: 7,
            before_mb: 400,
            after_mb: 600,
            limit_mb: 1000,
        };
        let fired = firing(
            &rules,
            Some(&ShopPath::try_from("/1/".to_string()).unwrap()),
            &[change],
        );
        let ids: Vec<u64> = fired.iter().map(|(r, _)| r.id).collect();
        assert_eq!(ids, vec![1]);
    }

    #[test]
    fn input_is_checked() {
        let input = |pct, action, resume| UsageRuleInput {
            rule_name: "r".into(),
            shop_id: None,
            threshold_pct: pct,
            action,
            resume_on_renewal: resume,
            enabled: true,
            notify: None,
        };
        assert!(input(80, UsageAction::Stop, true).fields().is_ok());
        assert!(input(0, UsageAction::Stop, false).fields().is_err());
        assert!(input(101, UsageAction::Notify, false).fields().is_err());
        assert!(input(80, UsageAction::Notify, true).fields().is_err());
    }
}
