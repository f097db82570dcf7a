//! Usage automation rules and their firings.
//!
//! - `USAGERULE#<id>` / `#`: a rule. Listed per scope in `gsi1pk =
//!   USAGERULES#<shop id, 0 for platform rules>` (sorted by id: the card data check
//!   reads a scope's rules with one Query), and for the rule list in `gsi2pk =
//!   USAGERULES`, `gsi2sk = <scope path, "/" for platform rules><id>` (an agent's
//!   subtree is one `begins_with`).
//! - `USAGERULES` / `SCOPES`: the number set of scopes that hold rules (added with
//!   the first rule of a scope, never removed: a stale scope costs one empty Query),
//!   so a check reads only the scopes of its cards' paths that have rules.
//! - `USAGERULES` / `COUNT#<scope>`: the scope's rule count, kept below
//!   [`MAX_RULES_PER_SCOPE`] by the create transaction.
//! - `USAGEFIRE#<id>` / `#`: a firing, written in the card data check's transaction.
//!   Listed per rule in `gsi1pk = USAGEFIRE#RULE#<rule id>` (newest first by
//!   `<fired_at>#<id>`); while its action is pending it sits in the due index
//!   `gsi3pk = USAGEFIRE#DUE`, `gsi3sk = <lease_until>#<id>`, where the sweeper finds
//!   it once the lease of the check that wrote it has expired.

use serde::{Deserialize, Serialize};

use super::cursor::{Cursor, Source};
use super::keys::ENTITY;
use super::polling_alerts::StoredNotify;
use super::tx::{Cond, Tx, TxOutcome, Upd};
use super::{from_item, n, s, to_item, Item, Key, On, Query, SkCond, Store, StoreError};
use crate::domain::shop_path::ShopPath;
use crate::domain::usage_rules::{UsageAction, UsageRuleFields, MAX_RULES_PER_SCOPE};
use crate::paging::CursorPage;

/// Label of a rule in its writes.
pub const RULE_LABEL: &str = "usage_rule";
/// Label of a scope's rule count.
pub const COUNT_LABEL: &str = "usage_rule_count";
/// Label of a firing.
pub const FIRING_LABEL: &str = "usage_rule_firing";

const PARTITION: &str = "USAGERULES";
const DUE: &str = "USAGEFIRE#DUE";

/// A rule as stored.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct UsageRuleRecord {
    pub id: u64,
    /// The shop whose subtree's cards it watches; `None`: every card.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shop_id: Option<u64>,
    /// That shop's path.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope_path: Option<ShopPath>,
    #[serde(flatten)]
    pub fields: UsageRuleFields,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notify: Option<StoredNotify>,
    pub creator: u64,
    pub updater: u64,
    pub created_at: String,
    pub updated_at: String,
    pub version: i64,
}

impl UsageRuleRecord {
    /// The scope number (the shop id, 0 for platform rules).
    pub fn scope(&self) -> u64 {
        self.shop_id.unwrap_or(0)
    }
}

/// The encryption context of rule `id`'s webhook secret.
pub fn secret_context(id: u64) -> String {
    format!("USAGERULE#{id}")
}

/// Where a firing's action stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum FiringStatus {
    /// Written by the check; its action is not done yet.
    Pending,
    /// The action was taken (or found needless).
    Done,
}

/// One firing of a rule on a card's package usage.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Firing {
    pub id: u64,
    pub rule_id: u64,
    pub card_id: u64,
    pub iccid: String,
    pub usage_id: u64,
    pub package_name: String,
    pub threshold_pct: u8,
    pub action: UsageAction,
    /// The usage's data before and after the deduction, and its stop threshold (MB).
    pub before_mb: i64,
    pub used_mb: i64,
    pub limit_mb: i64,
    /// When the check crossed the threshold (epoch seconds).
    pub fired_at: i64,
    pub status: FiringStatus,
    /// What the action did: `notified`, `stopped`, `not_stopped` (unverified, already
    /// stopped or protected), `rule_gone`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outcome: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub acted_at: Option<i64>,
    /// Webhook delivery: `delivered`, `retrying`, `failed`; absent without a webhook.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delivery_status: Option<String>,
    #[serde(default)]
    pub delivery_attempts: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_http_status: Option<u16>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
}

fn rule_key(id: u64) -> Key {
    Key::new(format!("USAGERULE#{id}"), ENTITY)
}

fn scopes_key() -> Key {
    Key::new(PARTITION, "SCOPES")
}

fn count_key(scope: u64) -> Key {
    Key::new(PARTITION, format!("COUNT#{scope}"))
}

fn firing_key(id: u64) -> Key {
    Key::new(format!("USAGEFIRE#{id}"), ENTITY)
}

fn scope_rules(scope: u64) -> String {
    format!("USAGERULES#{scope}")
}

fn due_sort(lease_until: i64, id: u64) -> String {
    format!("{:012}#{id:020}", lease_until.max(0))
}

fn rule_item(r: &UsageRuleRecord) -> Result<Item, StoreError> {
    let mut item = to_item(r, &rule_key(r.id))?;
    let path = r.scope_path.as_ref().map_or("/", ShopPath::as_str);
    item.insert("gsi1pk".into(), s(scope_rules(r.scope())));
    item.insert("gsi1sk".into(), s(format!("{:020}", r.id)));
    item.insert("gsi2pk".into(), s(PARTITION));
    item.insert("gsi2sk".into(), s(format!("{path}{:020}", r.id)));
    Ok(item)
}

/// The item of a new firing whose check holds its action until `lease_until`.
pub fn firing_item(f: &Firing, lease_until: i64) -> Result<Item, StoreError> {
    let mut item = to_item(f, &firing_key(f.id))?;
    item.insert("gsi1pk".into(), s(format!("USAGEFIRE#RULE#{}", f.rule_id)));
    item.insert(
        "gsi1sk".into(),
        s(format!("{:012}#{:020}", f.fired_at.max(0), f.id)),
    );
    item.insert("gsi3pk".into(), s(DUE));
    item.insert("gsi3sk".into(), s(due_sort(lease_until, f.id)));
    item.insert("lease_until".into(), n(lease_until));
    Ok(item)
}

/// Why a rule could not be written.
#[derive(Debug, PartialEq, Eq)]
pub enum RuleRefusal {
    /// No such rule.
    Missing,
    /// Someone else changed it meanwhile.
    Changed,
    /// The scope holds [`MAX_RULES_PER_SCOPE`] rules already.
    Full,
}

impl Store {
    /// Creates rule `r` while its scope holds fewer than [`MAX_RULES_PER_SCOPE`]
    /// rules, and records the scope as holding rules.
    pub async fn create_usage_rule(
        &self,
        r: &UsageRuleRecord,
    ) -> Result<Result<(), RuleRefusal>, StoreError> {
        let tx = Tx::new()
            .put_new(RULE_LABEL, rule_item(r)?)
            .update(
                COUNT_LABEL,
                &count_key(r.scope()),
                Upd::new("ADD rule_count :one").value(":one", n(1)),
                Some(
                    Cond::new("attribute_not_exists(rule_count) OR rule_count < :max")
                        .value(":max", n(MAX_RULES_PER_SCOPE as i64)),
                ),
            )
            .update(
                "usage_rule_scopes",
                &scopes_key(),
                Upd::new("ADD scopes :scope").value(
                    ":scope",
                    aws_sdk_dynamodb::types::AttributeValue::Ns(vec![r.scope().to_string()]),
                ),
                None,
            );
        Ok(match self.transact_each(tx).await? {
            TxOutcome::Written => Ok(()),
            TxOutcome::Cancelled(failed) if failed.iter().any(|f| f.label == COUNT_LABEL) => {
                Err(RuleRefusal::Full)
            }
            TxOutcome::Cancelled(_) => Err(RuleRefusal::Changed),
        })
    }

    /// Rule `id`.
    pub async fn usage_rule(&self, id: u64) -> Result<Option<UsageRuleRecord>, StoreError> {
        self.get_as(&rule_key(id)).await
    }

    /// Replaces rule `r` if its stored version is still `r.version - 1`.
    pub async fn replace_usage_rule(
        &self,
        r: &UsageRuleRecord,
    ) -> Result<Result<(), RuleRefusal>, StoreError> {
        let item = rule_item(r)?;
        match self
            .put_if(RULE_LABEL, item, Cond::version(r.version - 1))
            .await
        {
            Ok(()) => Ok(Ok(())),
            Err(StoreError::ConditionFailed { old: Some(_), .. }) => Ok(Err(RuleRefusal::Changed)),
            Err(StoreError::ConditionFailed { old: None, .. }) => Ok(Err(RuleRefusal::Missing)),
            Err(e) => Err(e),
        }
    }

    /// Deletes rule `r` (at version `r.version`) and counts it out of its scope.
    /// Its firings stay.
    pub async fn delete_usage_rule(
        &self,
        r: &UsageRuleRecord,
    ) -> Result<Result<(), RuleRefusal>, StoreError> {
        let tx = Tx::new()
            .delete(RULE_LABEL, &rule_key(r.id), Some(Cond::version(r.version)))
            .update(
                COUNT_LABEL,
                &count_key(r.scope()),
                Upd::new("ADD rule_count :minus").value(":minus", n(-1)),
                Some(Cond::new("rule_count > :zero").value(":zero", n(0))),
            );
        Ok(match self.transact_each(tx).await? {
            TxOutcome::Written => Ok(()),
            TxOutcome::Cancelled(_) => Err(RuleRefusal::Changed),
        })
    }

    /// One page of rules, by scope path then id: every rule (`None`) or those of
    /// the subtree at `under`.
    pub async fn usage_rule_page(
        &self,
        under: Option<&ShopPath>,
        page_size: u32,
        cursor: Cursor,
    ) -> Result<CursorPage<UsageRuleRecord>, StoreError> {
        let sk = under.map_or(SkCond::Any, |p| SkCond::Prefix(p.as_str().to_string()));
        let source = Source::scope(On::Gsi2, PARTITION.to_string(), sk);
        self.read_page(&source, None, page_size, cursor, |_: &UsageRuleRecord| true)
            .await
    }

    /// The rules of the scopes `wanted` (shop ids, 0 for platform rules): one read of
    /// the scopes holding rules, then one Query per wanted scope among them.
    pub async fn usage_rules_of(&self, wanted: &[u64]) -> Result<Vec<UsageRuleRecord>, StoreError> {
        let held: Vec<u64> = match self.get(&scopes_key()).await? {
            Some(item) => match item.get("scopes") {
                Some(aws_sdk_dynamodb::types::AttributeValue::Ns(ns)) => {
                    ns.iter().filter_map(|v| v.parse().ok()).collect()
                }
                _ => Vec::new(),
            },
            None => Vec::new(),
        };
        let mut out = Vec::new();
        for scope in wanted.iter().filter(|w| held.contains(w)) {
            for item in self
                .query_prefix(On::Gsi1, &scope_rules(*scope), "")
                .await?
            {
                out.push(from_item(item)?);
            }
        }
        Ok(out)
    }

    /// Firing `id`.
    pub async fn firing(&self, id: u64) -> Result<Option<Firing>, StoreError> {
        self.get_as(&firing_key(id)).await
    }

    /// Up to `limit` pending firings whose lease ended by `now`, earliest first.
    pub async fn firings_due(&self, now: i64, limit: i32) -> Result<Vec<Firing>, StoreError> {
        let q = Query {
            on: On::Gsi3,
            pk: DUE.to_string(),
            sk: SkCond::Between(due_sort(0, 0), format!("{:012}#~", now.max(0))),
            filter: None,
            limit: Some(limit),
            start: None,
            backward: false,
        };
        let (items, _) = self.query(&q).await?;
        items.into_iter().map(from_item).collect()
    }

    /// Takes pending firing `id` until `until` if its lease ended by `now`; `false`
    /// when it is done or another run holds it.
    pub async fn lease_firing(&self, id: u64, now: i64, until: i64) -> Result<bool, StoreError> {
        let upd = Upd::new("SET lease_until = :until, gsi3sk = :sk")
            .value(":until", n(until))
            .value(":sk", s(due_sort(until, id)));
        let cond = Cond::new("#st = :pending AND lease_until <= :now")
            .name("#st", "status")
            .value(":pending", s("pending"))
            .value(":now", n(now));
        match self
            .update_if(FIRING_LABEL, &firing_key(id), upd, cond)
            .await
        {
            Ok(()) => Ok(true),
            Err(StoreError::ConditionFailed { .. }) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Marks pending firing `id` done with `outcome` at `at` (it leaves the due
    /// index); `false` when it was done already.
    pub async fn finish_firing(&self, id: u64, outcome: &str, at: i64) -> Result<bool, StoreError> {
        let upd = Upd::new("SET #st = :done, outcome = :o, acted_at = :at REMOVE gsi3pk, gsi3sk")
            .name("#st", "status")
            .value(":done", s("done"))
            .value(":o", s(outcome))
            .value(":at", n(at));
        let cond = Cond::new("#st = :pending")
            .name("#st", "status")
            .value(":pending", s("pending"));
        match self
            .update_if(FIRING_LABEL, &firing_key(id), upd, cond)
            .await
        {
            Ok(()) => Ok(true),
            Err(StoreError::ConditionFailed { .. }) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Records attempt `attempt` of firing `id`'s webhook delivery (a later attempt
    /// recorded first is never overwritten by an earlier one).
    pub async fn record_firing_delivery(
        &self,
        id: u64,
        attempt: u32,
        status: &str,
        http_status: Option<u16>,
        error: Option<&str>,
    ) -> Result<(), StoreError> {
        let mut expr = String::from("SET delivery_status = :s, delivery_attempts = :a");
        let mut values = vec![(":s", s(status)), (":a", n(attempt))];
        if let Some(h) = http_status {
            expr.push_str(", last_http_status = :h");
            values.push((":h", n(h)));
        }
        if let Some(e) = error {
            expr.push_str(", last_error = :e");
            values.push((":e", s(e)));
        }
        let upd = values
            .into_iter()
            .fold(Upd::new(expr), |u, (k, v)| u.value(k, v));
        let cond = Cond::new(
            "attribute_exists(pk) AND (attribute_not_exists(delivery_attempts) OR \
             delivery_attempts <= :a)",
        );
        match self
            .update_if(FIRING_LABEL, &firing_key(id), upd, cond)
            .await
        {
            Err(StoreError::ConditionFailed { .. }) => Ok(()),
            other => other,
        }
    }

    /// One page of rule `rule_id`'s firings, newest first.
    pub async fn firing_page(
        &self,
        rule_id: u64,
        page_size: u32,
        cursor: Cursor,
    ) -> Result<CursorPage<Firing>, StoreError> {
        let source =
            Source::scope(On::Gsi1, format!("USAGEFIRE#RULE#{rule_id}"), SkCond::Any).backward();
        self.read_page(&source, None, page_size, cursor, |_: &Firing| true)
            .await
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn due_keys_sort_by_lease() {
        assert!(super::due_sort(99, 5) < super::due_sort(100, 1));
        assert_eq!(super::rule_key(3).pk, "USAGERULE#3");
    }
}
