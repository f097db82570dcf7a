//! Polling alert rules, their evaluation state, their alerts and the delivery log of
//! their webhooks.
//!
//! - `POLLALERT` / `RULE#<id>`: a rule (fields, webhook URL, secret mask and the
//!   sealed secret). Rules are few: every rule of the platform shares this
//!   partition, so one Query reads them all with their state (the J2 check and the
//!   list).
//! - `POLLALERT` / `STATE#<id>`: `breaching_since`, when the rule's condition was
//!   first seen holding (absent while it does not hold).
//! - `POLLALERT` / `OPEN#<id>`: the rule's open alert (`history_id`, `opened_at`,
//!   `notify_pending` until its opening is known to be notified).
//!   Created on condition that it does not exist, in the same transaction as the
//!   history entry, so two concurrent checks open one alert; deleted on condition
//!   that it names the alert being closed.
//! - `ALERTHIST#<id>` / `#`: an alert (`PollingAlertHistory`), listed newest first in
//!   `gsi2pk = ALERTHISTS` and per rule in `gsi1pk = ALERTHIST#RULE#<rule id>`, both
//!   sorted by `<triggered_at>#<id>`.
//! - `ALERTDELIV#<rule id>` / `<history id>#<event>#<attempt>`: one webhook delivery
//!   attempt.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use super::cursor::{Cursor, Source};
use super::keys::ENTITY;
use super::lists::Filter;
use super::tx::{Cond, Tx, TxOutcome, Upd};
use super::{
    from_item, n, num_attr, s, str_attr, to_item, Item, Key, On, SkCond, Store, StoreError,
};
use crate::domain::polling_alerts::{AlertHistory, AlertStatus, RuleFields};
use crate::integrations::kms::Sealed;
use crate::paging::CursorPage;

/// Label of a rule in its writes.
pub const RULE_LABEL: &str = "polling_alert_rule";
/// Label of a rule's open-alert item.
pub const OPEN_LABEL: &str = "polling_alert_open";
/// Label of an alert.
pub const HISTORY_LABEL: &str = "polling_alert_history";

const PARTITION: &str = "POLLALERT";
const HISTORIES: &str = "ALERTHISTS";

/// A rule's webhook as stored.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct StoredNotify {
    pub webhook_url: String,
    /// The secret's masked form.
    pub secret_mask: String,
    /// The secret, sealed for `POLLALERT#<rule id>`.
    pub sealed: Sealed,
}

/// A rule as stored.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct RuleRecord {
    pub id: u64,
    #[serde(flatten)]
    pub fields: RuleFields,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notify: Option<StoredNotify>,
    pub creator: u64,
    pub updater: u64,
    pub created_at: String,
    pub updated_at: String,
    pub version: i64,
}

/// The encryption context of rule `id`'s webhook secret.
pub fn secret_context(id: u64) -> String {
    format!("POLLALERT#{id}")
}

/// A rule's open alert.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OpenAlert {
    pub history_id: u64,
    pub opened_at: i64,
    /// Its `alert.opened` notification is not known to be queued yet.
    pub notify_pending: bool,
}

/// Every rule with its evaluation state (one Query).
#[derive(Clone, Debug, Default)]
pub struct RuleSet {
    /// Oldest first.
    pub rules: Vec<RuleRecord>,
    /// `breaching_since` per rule id.
    pub breaching_since: HashMap<u64, i64>,
    /// The open alert per rule id.
    pub open: HashMap<u64, OpenAlert>,
}

/// How one webhook delivery attempt ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryStatus {
    /// The receiver answered 2xx.
    Delivered,
    /// It failed; another attempt follows.
    Retrying,
    /// The last attempt failed: the delivery is given up.
    Failed,
}

/// One webhook delivery attempt.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct DeliveryAttempt {
    pub rule_id: u64,
    pub history_id: u64,
    /// `alert.opened` or `alert.closed`.
    pub event: String,
    /// 1 for the first attempt.
    pub attempt: u32,
    pub status: DeliveryStatus,
    pub http_status: Option<u16>,
    pub error: Option<String>,
    /// When it was made (epoch seconds).
    pub at: i64,
}

/// Filters of the alert list.
#[derive(Clone, Debug, Default)]
pub struct HistoryQuery {
    pub rule_id: Option<u64>,
    pub status: Option<AlertStatus>,
    /// Opened at or after (epoch seconds).
    pub from: Option<i64>,
    /// Opened at or before (epoch seconds).
    pub to: Option<i64>,
}

/// Why a rule could not be changed.
#[derive(Debug, PartialEq, Eq)]
pub enum RuleRefusal {
    /// No such rule.
    Missing,
    /// Someone else changed it meanwhile.
    Changed,
}

fn rule_key(id: u64) -> Key {
    Key::new(PARTITION, format!("RULE#{id:020}"))
}

fn state_key(id: u64) -> Key {
    Key::new(PARTITION, format!("STATE#{id:020}"))
}

fn open_key(id: u64) -> Key {
    Key::new(PARTITION, format!("OPEN#{id:020}"))
}

fn history_key(id: u64) -> Key {
    Key::new(format!("ALERTHIST#{id}"), ENTITY)
}

fn rule_histories(rule_id: u64) -> String {
    format!("ALERTHIST#RULE#{rule_id}")
}

fn history_sort(triggered_at: i64, id: u64) -> String {
    format!("{triggered_at:012}#{id:020}")
}

fn deliveries(rule_id: u64) -> String {
    format!("ALERTDELIV#{rule_id}")
}

fn id_after(sk: &str, prefix: &str) -> Option<u64> {
    sk.strip_prefix(prefix)?.parse().ok()
}

fn history_item(h: &AlertHistory) -> Result<Item, StoreError> {
    let mut item = to_item(h, &history_key(h.id))?;
    let sort = history_sort(h.triggered_at, h.id);
    item.insert("gsi1pk".into(), s(rule_histories(h.rule_id)));
    item.insert("gsi1sk".into(), s(&sort));
    item.insert("gsi2pk".into(), s(HISTORIES));
    item.insert("gsi2sk".into(), s(sort));
    Ok(item)
}

impl Store {
    /// Creates rule `r` (a new id).
    pub async fn create_alert_rule(&self, r: &RuleRecord) -> Result<(), StoreError> {
        self.put_new(RULE_LABEL, to_item(r, &rule_key(r.id))?).await
    }

    /// Rule `id`.
    pub async fn alert_rule(&self, id: u64) -> Result<Option<RuleRecord>, StoreError> {
        self.get_as(&rule_key(id)).await
    }

    /// Replaces rule `r` if its stored version is still `r.version - 1`.
    pub async fn replace_alert_rule(
        &self,
        r: &RuleRecord,
    ) -> Result<Result<(), RuleRefusal>, StoreError> {
        let item = to_item(r, &rule_key(r.id))?;
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

    /// Deletes rule `id` with its state; its open alert (`open`, read just before)
    /// is closed at `at` in the same transaction. `Err(Changed)` when the open alert
    /// is no longer `open` (read again and retry).
    pub async fn delete_alert_rule(
        &self,
        id: u64,
        open: Option<u64>,
        at: i64,
    ) -> Result<Result<(), RuleRefusal>, StoreError> {
        let open_cond = match open {
            Some(h) => Cond::new("history_id = :h").value(":h", n(h)),
            None => Cond::absent(),
        };
        let mut tx = Tx::new()
            .delete(
                RULE_LABEL,
                &rule_key(id),
                Some(Cond::new("attribute_exists(pk)")),
            )
            .delete("polling_alert_state", &state_key(id), None)
            .delete(OPEN_LABEL, &open_key(id), Some(open_cond));
        if let Some(h) = open {
            tx = tx.update(HISTORY_LABEL, &history_key(h), close_upd(at), None);
        }
        Ok(match self.transact_each(tx).await? {
            TxOutcome::Written => Ok(()),
            TxOutcome::Cancelled(failed) if failed.iter().any(|f| f.label == RULE_LABEL) => {
                Err(RuleRefusal::Missing)
            }
            TxOutcome::Cancelled(_) => Err(RuleRefusal::Changed),
        })
    }

    /// Every rule with its state, in one Query of their partition (all pages).
    pub async fn alert_rule_set(&self) -> Result<RuleSet, StoreError> {
        let mut set = RuleSet::default();
        for item in self.query_prefix(On::Table, PARTITION, "").await? {
            let sk = str_attr(&item, "sk").unwrap_or_default().to_string();
            if sk.starts_with("RULE#") {
                set.rules.push(from_item(item)?);
            } else if let Some(id) = id_after(&sk, "STATE#") {
                if let Some(since) = num_attr(&item, "breaching_since") {
                    set.breaching_since.insert(id, since);
                }
            } else if let Some(id) = id_after(&sk, "OPEN#") {
                let history_id = num_attr(&item, "history_id").and_then(|h| u64::try_from(h).ok());
                if let Some(history_id) = history_id {
                    let opened_at = num_attr(&item, "opened_at").unwrap_or_default();
                    set.open.insert(
                        id,
                        OpenAlert {
                            history_id,
                            opened_at,
                            notify_pending: item.contains_key("notify_pending"),
                        },
                    );
                }
            }
        }
        Ok(set)
    }

    /// Records that rule `id`'s condition holds since `now` (unless already recorded).
    pub async fn start_breaching(&self, id: u64, now: i64) -> Result<(), StoreError> {
        let upd = Upd::new("SET breaching_since = :now").value(":now", n(now));
        match self
            .update_if(
                "polling_alert_state",
                &state_key(id),
                upd,
                Cond::new("attribute_not_exists(breaching_since)"),
            )
            .await
        {
            Err(StoreError::ConditionFailed { .. }) => Ok(()),
            other => other,
        }
    }

    /// Forgets that rule `id`'s condition held since `since` (unless it changed).
    pub async fn stop_breaching(&self, id: u64, since: i64) -> Result<(), StoreError> {
        let upd = Upd::new("REMOVE breaching_since");
        let cond = Cond::new("breaching_since = :since").value(":since", n(since));
        match self
            .update_if("polling_alert_state", &state_key(id), upd, cond)
            .await
        {
            Err(StoreError::ConditionFailed { .. }) => Ok(()),
            other => other,
        }
    }

    /// Opens alert `h` for its rule: the rule's open-alert item (on condition that
    /// none exists) and the history entry in one transaction, while the rule exists.
    /// `false` when another alert is open (a concurrent check opened it) or the rule
    /// is gone.
    pub async fn open_alert(&self, h: &AlertHistory) -> Result<bool, StoreError> {
        let open = Item::from([
            ("pk".to_string(), s(PARTITION)),
            ("sk".to_string(), s(open_key(h.rule_id).sk)),
            ("history_id".to_string(), n(h.id)),
            ("opened_at".to_string(), n(h.triggered_at)),
            ("notify_pending".to_string(), n(1)),
        ]);
        let tx = Tx::new()
            .put(OPEN_LABEL, open, Some(Cond::absent()))
            .put_new(HISTORY_LABEL, history_item(h)?)
            .check(
                RULE_LABEL,
                &rule_key(h.rule_id),
                Cond::new("attribute_exists(pk)"),
            );
        Ok(matches!(self.transact_each(tx).await?, TxOutcome::Written))
    }

    /// Records that alert `history_id`'s opening was notified (queued, or no webhook).
    pub async fn opening_notified(&self, rule_id: u64, history_id: u64) -> Result<(), StoreError> {
        let cond = Cond::new("history_id = :h").value(":h", n(history_id));
        match self
            .update_if(
                OPEN_LABEL,
                &open_key(rule_id),
                Upd::new("REMOVE notify_pending"),
                cond,
            )
            .await
        {
            Err(StoreError::ConditionFailed { .. }) => Ok(()),
            other => other,
        }
    }

    /// Closes alert `history_id` of rule `rule_id` at `at` (its open-alert item goes,
    /// on condition that it names this alert; the breaching time is forgotten).
    /// `false` when it was closed already.
    pub async fn close_alert(
        &self,
        rule_id: u64,
        history_id: u64,
        at: i64,
    ) -> Result<bool, StoreError> {
        let tx = Tx::new()
            .delete(
                OPEN_LABEL,
                &open_key(rule_id),
                Some(Cond::new("history_id = :h").value(":h", n(history_id))),
            )
            .update(
                HISTORY_LABEL,
                &history_key(history_id),
                close_upd(at),
                Some(Cond::new("attribute_exists(pk)")),
            )
            .update(
                "polling_alert_state",
                &state_key(rule_id),
                Upd::new("REMOVE breaching_since"),
                None,
            );
        Ok(matches!(self.transact_each(tx).await?, TxOutcome::Written))
    }

    /// Alert `id`.
    pub async fn alert_history(&self, id: u64) -> Result<Option<AlertHistory>, StoreError> {
        self.get_as(&history_key(id)).await
    }

    /// One page of alerts, newest first.
    pub async fn alert_history_page(
        &self,
        q: &HistoryQuery,
        page_size: u32,
        cursor: Cursor,
    ) -> Result<CursorPage<AlertHistory>, StoreError> {
        let sk = match (q.from, q.to) {
            (None, None) => SkCond::Any,
            (from, to) => SkCond::Between(
                format!("{:012}", from.unwrap_or(0).max(0)),
                format!("{:012}#~", to.unwrap_or(999_999_999_999).max(0)),
            ),
        };
        let source = match q.rule_id {
            Some(rule) => Source::scope(On::Gsi1, rule_histories(rule), sk),
            None => Source::scope(On::Gsi2, HISTORIES.to_string(), sk),
        }
        .backward();
        let filter = Filter::new().eq_str("status", q.status.map(AlertStatus::as_str));
        self.read_page(
            &source,
            filter.cond(),
            page_size,
            cursor,
            |_: &AlertHistory| true,
        )
        .await
    }

    /// Records a delivery attempt (a redelivered attempt is recorded once).
    pub async fn record_delivery(&self, d: &DeliveryAttempt) -> Result<(), StoreError> {
        let key = Key::new(
            deliveries(d.rule_id),
            format!("{:020}#{}#{:03}", d.history_id, d.event, d.attempt),
        );
        match self.put_new("alert_delivery", to_item(d, &key)?).await {
            Err(StoreError::ConditionFailed { .. }) => Ok(()),
            other => other,
        }
    }

    /// One page of rule `rule_id`'s delivery attempts, newest first.
    pub async fn delivery_page(
        &self,
        rule_id: u64,
        page_size: u32,
        cursor: Cursor,
    ) -> Result<CursorPage<DeliveryAttempt>, StoreError> {
        let source = Source::scope(On::Table, deliveries(rule_id), SkCond::Any).backward();
        self.read_page(&source, None, page_size, cursor, |_: &DeliveryAttempt| true)
            .await
    }
}

fn close_upd(at: i64) -> Upd {
    Upd::new("SET #status = :closed, resolved_at = :at")
        .name("#status", "status")
        .value(":closed", s(AlertStatus::Closed.as_str()))
        .value(":at", n(at))
}

#[cfg(test)]
mod tests {
    #[test]
    fn keys_sort_by_id_and_time() {
        assert_eq!(super::rule_key(7).sk, "RULE#00000000000000000007");
        assert_eq!(
            super::id_after("OPEN#00000000000000000007", "OPEN#"),
            Some(7)
        );
        assert!(super::history_sort(99, 2) < super::history_sort(100, 1));
    }
}
