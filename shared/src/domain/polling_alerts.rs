//! Polling alert rules (api.md §23, domain.md §4.14, jobs.md J2): what a rule watches,
//! when it holds, and when an alert opens and closes.
//!
//! A rule compares one metric of a [`MetricsSnapshot`] with its threshold. With a
//! task type it watches that type's value; without one it holds when it holds for at
//! least one task type (the first such type's value is reported). A rule with a
//! `duration` of `d` minutes opens its alert once the condition has held for `d`
//! minutes since it was first seen holding (`breaching_since`); `0` opens at once. A
//! condition that stops holding resets that time and closes an open alert.

use std::collections::BTreeMap;

use serde::{Deserialize, Deserializer, Serialize};

use super::polling::TaskType;
use super::validate::{int_in, text, Invalid};

/// Longest accepted `duration`, in minutes (one day).
pub const MAX_DURATION_MINUTES: i64 = 1440;
/// Longest accepted webhook URL.
pub const MAX_URL_LEN: usize = 512;
/// Accepted lengths of a caller-chosen webhook secret.
pub const SECRET_LEN: std::ops::RangeInclusive<usize> = 16..=128;

/// What a rule watches (per task type; the snapshot builder decides the windows).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Metric {
    /// Cards due for a check but not yet checked.
    Backlog,
    /// Failed checks over the recent window, in percent (0–100).
    FailureRate,
    /// Carrier gateway errors and timeouts over the recent window.
    GatewayErrors,
    /// Average gateway latency over the recent window, in ms.
    AvgLatencyMs,
    /// Messages in the task type's dead-letter queue.
    DlqDepth,
}

impl Metric {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Metric::Backlog => "backlog",
            Metric::FailureRate => "failure_rate",
            Metric::GatewayErrors => "gateway_errors",
            Metric::AvgLatencyMs => "avg_latency_ms",
            Metric::DlqDepth => "dlq_depth",
        }
    }
}

/// The comparison of a rule: `metric <operator> threshold`. Written `gt`, `gte`,
/// `lt`, `lte` (answered so); the symbols `>`, `>=`, `<`, `<=` are accepted too.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
// Named apart from the tier comparison (`catalog::Operator`): one component each.
#[schema(as = AlertOperator)]
pub enum Operator {
    #[serde(rename = "gt", alias = ">")]
    Gt,
    #[serde(rename = "gte", alias = ">=")]
    Gte,
    #[serde(rename = "lt", alias = "<")]
    Lt,
    #[serde(rename = "lte", alias = "<=")]
    Lte,
}

impl Operator {
    /// Whether `value <self> threshold`.
    pub fn holds(self, value: f64, threshold: f64) -> bool {
        match self {
            Operator::Gt => value > threshold,
            Operator::Gte => value >= threshold,
            Operator::Lt => value < threshold,
            Operator::Lte => value <= threshold,
        }
    }

    /// The symbol (messages).
    pub fn symbol(self) -> &'static str {
        match self {
            Operator::Gt => ">",
            Operator::Gte => ">=",
            Operator::Lt => "<",
            Operator::Lte => "<=",
        }
    }
}

/// The metrics of one task type.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct TaskMetrics {
    /// Cards due but not yet checked.
    pub backlog: u64,
    /// Failed checks over the recent window, in percent.
    pub failure_rate_pct: f64,
    /// Gateway errors and timeouts over the recent window.
    pub gateway_errors: u64,
    /// Average gateway latency over the recent window, in ms.
    pub avg_latency_ms: f64,
    /// Messages in the task type's dead-letter queue.
    pub dlq_depth: u64,
}

impl TaskMetrics {
    /// The value of `metric`.
    pub fn value(&self, metric: Metric) -> f64 {
        match metric {
            Metric::Backlog => self.backlog as f64,
            Metric::FailureRate => self.failure_rate_pct,
            Metric::GatewayErrors => self.gateway_errors as f64,
            Metric::AvgLatencyMs => self.avg_latency_ms,
            Metric::DlqDepth => self.dlq_depth as f64,
        }
    }
}

/// What the polling system looks like at `at` (filled by the snapshot builder). A
/// task type missing from `by_task` has no values: no rule holds on it.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct MetricsSnapshot {
    /// When the values were read (epoch seconds).
    pub at: i64,
    /// The values per task type.
    pub by_task: BTreeMap<TaskType, TaskMetrics>,
}

/// The part of a rule its evaluation needs.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Condition {
    pub metric: Metric,
    /// `None`: any task type.
    pub task_type: Option<TaskType>,
    pub operator: Operator,
    pub threshold: f64,
}

/// The value that makes `cond` hold in `snapshot` (with its task type), if any.
pub fn breach(cond: &Condition, snapshot: &MetricsSnapshot) -> Option<(TaskType, f64)> {
    snapshot
        .by_task
        .iter()
        .filter(|(t, _)| cond.task_type.is_none_or(|want| want == **t))
        .map(|(t, m)| (*t, m.value(cond.metric)))
        .find(|(_, v)| cond.operator.holds(*v, cond.threshold))
}

/// Whether `cond` holds in `snapshot`.
pub fn evaluate(cond: &Condition, snapshot: &MetricsSnapshot) -> bool {
    breach(cond, snapshot).is_some()
}

/// What the check does with one rule.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Step {
    /// Nothing changes.
    Stay,
    /// The condition holds for the first time: remember since when.
    StartBreaching,
    /// The condition stopped holding before an alert opened: forget since when.
    StopBreaching,
    /// Open an alert (and remember since when, if not yet).
    Open,
    /// Close the open alert.
    Close,
}

/// The step for a rule of `duration_minutes` whose condition `holds` at `now`, first
/// seen holding at `breaching_since`, with an alert `open` or not.
pub fn step(
    duration_minutes: u32,
    holds: bool,
    breaching_since: Option<i64>,
    open: bool,
    now: i64,
) -> Step {
    match (holds, open) {
        (true, true) => Step::Stay,
        (true, false) => {
            let since = breaching_since.unwrap_or(now);
            if now - since >= i64::from(duration_minutes) * 60 {
                Step::Open
            } else if breaching_since.is_none() {
                Step::StartBreaching
            } else {
                Step::Stay
            }
        }
        (false, true) => Step::Close,
        (false, false) if breaching_since.is_some() => Step::StopBreaching,
        (false, false) => Step::Stay,
    }
}

/// Where a rule's notifications go, as given.
#[derive(Clone, Debug, Default, Deserialize, utoipa::ToSchema)]
pub struct NotifyInput {
    /// `http` or `https` URL receiving signed POSTs.
    pub webhook_url: String,
    /// HMAC key (16–128 characters); generated when absent on create, kept when
    /// absent or empty on update.
    #[serde(default)]
    pub secret: Option<String>,
}

/// Body of `POST /api/admin/polling-alert-rules` and of its `PUT`.
#[derive(Clone, Debug, Deserialize, utoipa::ToSchema)]
pub struct RuleInput {
    /// 1–64 characters.
    pub rule_name: String,
    pub metric: Metric,
    /// Watched task type; omitted: any task type.
    #[serde(default)]
    pub task_type: Option<TaskType>,
    pub operator: Operator,
    pub threshold: f64,
    /// Minutes the condition must hold before an alert opens (0–1440, default 0).
    #[serde(default)]
    pub duration: Option<i64>,
    pub enabled: bool,
    /// Webhook notification. On update: omitted keeps it, `null` removes it.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<NotifyInput>)]
    pub notify: Option<Option<NotifyInput>>,
}

/// Tells a field given as `null` (`Some(None)`) from an omitted one (`None`).
pub fn present<'de, D, T>(d: D) -> Result<Option<Option<T>>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(d).map(Some)
}

/// A rule's fields, validated.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RuleFields {
    pub rule_name: String,
    pub metric: Metric,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task_type: Option<TaskType>,
    pub operator: Operator,
    pub threshold: f64,
    /// Minutes.
    pub duration: u32,
    pub enabled: bool,
}

impl RuleFields {
    /// The condition the rule checks.
    pub fn condition(&self) -> Condition {
        Condition {
            metric: self.metric,
            task_type: self.task_type,
            operator: self.operator,
            threshold: self.threshold,
        }
    }
}

impl RuleInput {
    /// The validated fields.
    pub fn fields(&self) -> Result<RuleFields, Invalid> {
        if !self.threshold.is_finite() {
            return Err(Invalid::new(
                "threshold须为有限数值",
                "threshold must be a finite number",
            ));
        }
        let duration = int_in(
            "duration",
            self.duration.unwrap_or(0),
            0..=MAX_DURATION_MINUTES,
        )?;
        Ok(RuleFields {
            rule_name: text("rule_name", &self.rule_name, 64)?,
            metric: self.metric,
            task_type: self.task_type,
            operator: self.operator,
            threshold: self.threshold,
            duration: u32::try_from(duration).unwrap_or(0),
            enabled: self.enabled,
        })
    }
}

/// `url` if it is an absolute `http`/`https` URL with a host, at most
/// [`MAX_URL_LEN`] characters.
pub fn webhook_url(url: &str) -> Result<String, Invalid> {
    let url = url.trim();
    let bad = || {
        Invalid::new(
            "webhook_url须为http或https地址",
            "webhook_url must be an http or https URL",
        )
    };
    if url.is_empty() || url.len() > MAX_URL_LEN {
        return Err(bad());
    }
    let parsed = reqwest::Url::parse(url).map_err(|_| bad())?;
    if !matches!(parsed.scheme(), "http" | "https") || parsed.host_str().is_none() {
        return Err(bad());
    }
    Ok(url.to_string())
}

/// A caller-chosen secret, checked; `None` when absent or empty.
pub fn webhook_secret(secret: Option<&str>) -> Result<Option<String>, Invalid> {
    match secret.map(str::trim) {
        None | Some("") => Ok(None),
        Some(s) if SECRET_LEN.contains(&s.chars().count()) && !s.chars().any(char::is_control) => {
            Ok(Some(s.to_string()))
        }
        Some(_) => Err(Invalid::new(
            "secret须为16到128个字符",
            "secret must be 16 to 128 characters",
        )),
    }
}

/// A new random webhook secret (`whsec_` and 48 hex digits).
pub fn new_secret() -> String {
    use rand::RngCore;
    let mut bytes = [0u8; 24];
    rand::thread_rng().fill_bytes(&mut bytes);
    format!("whsec_{}", hex::encode(bytes))
}

/// A rule's notification target as answered.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct NotifyView {
    pub webhook_url: String,
    /// Masked (`abcd***wxyz`), except in the answer of the request that generated it.
    pub secret: String,
}

/// A rule as answered.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct RuleView {
    pub id: u64,
    pub rule_name: String,
    pub metric: Metric,
    pub task_type: Option<TaskType>,
    pub operator: Operator,
    pub threshold: f64,
    /// Minutes.
    pub duration: u32,
    pub enabled: bool,
    pub notify: Option<NotifyView>,
    pub creator: u64,
    pub updater: u64,
    pub created_at: String,
    pub updated_at: String,
    pub version: i64,
}

/// Whether an alert is open or closed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum AlertStatus {
    Open,
    Closed,
}

impl AlertStatus {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            AlertStatus::Open => "open",
            AlertStatus::Closed => "closed",
        }
    }
}

/// What a notification tells.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum AlertEvent {
    /// An alert opened.
    #[serde(rename = "alert.opened")]
    Opened,
    /// An alert closed (its condition cleared).
    #[serde(rename = "alert.closed")]
    Closed,
}

impl AlertEvent {
    /// The wire name (`X-CMP-Event`).
    pub fn as_str(self) -> &'static str {
        match self {
            AlertEvent::Opened => "alert.opened",
            AlertEvent::Closed => "alert.closed",
        }
    }
}

/// One alert of a rule (`PollingAlertHistory`): opened when its condition held long
/// enough, closed when it cleared (or the rule was deleted).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct AlertHistory {
    pub id: u64,
    pub rule_id: u64,
    pub rule_name: String,
    pub metric: Metric,
    /// The task type whose value triggered it.
    pub task_type: Option<TaskType>,
    pub operator: Operator,
    pub threshold: f64,
    /// The value that triggered it.
    pub metric_value: f64,
    pub status: AlertStatus,
    /// When it opened (epoch seconds).
    pub triggered_at: i64,
    /// When it closed (epoch seconds).
    pub resolved_at: Option<i64>,
    pub message: String,
}

/// The message of an alert opened on `value`.
pub fn message(fields: &RuleFields, task_type: Option<TaskType>, value: f64) -> String {
    let scope = task_type.map_or("any", TaskType::as_str);
    format!(
        "{}: {} [{scope}] = {value} {} {}",
        fields.rule_name,
        fields.metric.as_str(),
        fields.operator.symbol(),
        fields.threshold
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn snap(backlog: u64, rate: f64) -> MetricsSnapshot {
        let m = TaskMetrics {
            backlog,
            failure_rate_pct: rate,
            ..Default::default()
        };
        MetricsSnapshot {
            at: 0,
            by_task: BTreeMap::from([
                (TaskType::Carddata, m),
                (TaskType::Realname, TaskMetrics::default()),
            ]),
        }
    }

    fn cond(metric: Metric, task_type: Option<TaskType>, operator: Operator, t: f64) -> Condition {
        Condition {
            metric,
            task_type,
            operator,
            threshold: t,
        }
    }

    #[test]
    fn operators_and_task_types() {
        let s = snap(1000, 12.5);
        let c = |o, t| cond(Metric::Backlog, Some(TaskType::Carddata), o, t);
        assert!(evaluate(&c(Operator::Gt, 999.0), &s));
        assert!(!evaluate(&c(Operator::Gt, 1000.0), &s));
        assert!(evaluate(&c(Operator::Gte, 1000.0), &s));
        assert!(evaluate(&c(Operator::Lt, 1001.0), &s));
        assert!(evaluate(&c(Operator::Lte, 1000.0), &s));
        let rate = cond(Metric::FailureRate, None, Operator::Gt, 10.0);
        assert_eq!(breach(&rate, &s), Some((TaskType::Carddata, 12.5)));
        // Another task type's value does not count; a missing type has no value.
        let other = cond(Metric::Backlog, Some(TaskType::Realname), Operator::Gt, 0.0);
        assert!(!evaluate(&other, &s));
        let missing = cond(Metric::Backlog, Some(TaskType::Package), Operator::Gte, 0.0);
        assert!(!evaluate(&missing, &s));
    }

    #[test]
    fn operators_accept_names_and_symbols() {
        for (raw, want) in [
            ("\"gt\"", Operator::Gt),
            ("\">=\"", Operator::Gte),
            ("\"<\"", Operator::Lt),
        ] {
            assert_eq!(serde_json::from_str::<Operator>(raw).unwrap(), want);
        }
        assert_eq!(serde_json::to_string(&Operator::Lte).unwrap(), "\"lte\"");
    }

    #[test]
    fn duration_is_held_before_opening() {
        use Step::*;
        assert_eq!(step(0, true, None, false, 100), Open);
        assert_eq!(step(5, true, None, false, 100), StartBreaching);
        assert_eq!(step(5, true, Some(100), false, 399), Stay);
        assert_eq!(step(5, true, Some(100), false, 400), Open);
        assert_eq!(step(5, true, Some(100), true, 500), Stay);
        assert_eq!(step(5, false, Some(100), true, 500), Close);
        assert_eq!(step(5, false, Some(100), false, 500), StopBreaching);
        assert_eq!(step(5, false, None, false, 500), Stay);
    }

    #[test]
    fn urls_and_secrets_are_checked() {
        assert!(webhook_url("https://example.com/hook").is_ok());
        assert!(webhook_url("http://127.0.0.1:8080/x").is_ok());
        for bad in [
            "",
            "ftp://example.com",
            "example.com/hook",
            "file:///etc/passwd",
            "http://",
        ] {
            assert!(webhook_url(bad).is_err(), "{bad}");
        }
        assert_eq!(webhook_secret(Some("")).unwrap(), None);
        assert!(webhook_secret(Some("short")).is_err());
        assert!(new_secret().starts_with("whsec_"));
        assert_eq!(new_secret().len(), 54);
    }
}
