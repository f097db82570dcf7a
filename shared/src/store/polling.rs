//! Polling state: the cohorts that schedule cards, the per-task-type semaphore that
//! bounds concurrent gateway checks, and the counters the monitoring reads.
//!
//! - **Cohort** `POLLQ#<task>` / `<minute:012>#<shard:02>`: a number set `cards` of
//!   card ids due at that minute. Joining is `ADD cards :ids` (idempotent); the
//!   dispatcher leases a due cohort (`lease_until`, conditional), sends its cards and
//!   then moves it in one transaction (union into the next minute's cohort, delete
//!   conditioned on the lease and the set's size, so a card that joined meanwhile is
//!   never dropped).
//! - **Semaphore** `POLLSEM#<task>` / `#`: `max_concurrency`, a map `holders` of
//!   `{invocation: {n, until}}` and `version`. Acquiring reads it and writes the new
//!   holder conditioned on the version; expired holders (a Lambda that died) are
//!   dropped by the next acquisition.
//! - **Counters** `POLLSTAT#<task>` / `#` (totals, last dispatch) and
//!   `POLLSTAT#<task>` / `MIN#<minute:012>` (per-minute checks, failures, gateway
//!   errors and latency; TTL 3 days).

use std::collections::HashMap;

use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue};

use super::keys;
use super::tx::{Cond, Tx, Upd};
use super::{n, num_attr, s, Item, Key, On, Query, SkCond, Store, StoreError};
use crate::domain::polling::{shard, TaskType, DEFAULT_MAX_CONCURRENCY};

/// Per-minute counters are kept this long.
pub const STATS_RETENTION_SECS: i64 = 3 * 86_400;

/// A due cohort as the dispatcher sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cohort {
    /// Its sort key (`<minute:012>#<shard:02>`).
    pub sk: String,
    pub cards: Vec<u64>,
}

/// The semaphore of a task type, as read.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Semaphore {
    pub max_concurrency: i64,
    /// Permits held by live holders.
    pub in_flight: i64,
    version: i64,
    /// Whether the item holds the `holders` map yet.
    has_map: bool,
    expired: Vec<String>,
}

/// What a batch of checks adds to the counters.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CheckCounts {
    pub checks: i64,
    pub succeeded: i64,
    pub failed: i64,
    pub gateway_errors: i64,
    /// Sum of gateway call latencies (ms).
    pub latency_ms: i64,
}

/// One minute of counters.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MinuteStats {
    pub minute: i64,
    pub counts: CheckCounts,
    pub dispatched: i64,
}

/// Running totals of a task type.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Totals {
    pub dispatched: i64,
    pub checks: i64,
    pub succeeded: i64,
    pub failed: i64,
    /// Epoch seconds of the last dispatch run that sent cards.
    pub last_dispatch_at: Option<i64>,
}

/// The condition of a write that creates or updates its item alike (counters,
/// set unions): always true, so `update_if` can serve it.
fn upsert() -> Cond {
    Cond::new("attribute_exists(pk) OR attribute_not_exists(pk)")
}

fn ns(ids: &[u64]) -> AttributeValue {
    AttributeValue::Ns(ids.iter().map(u64::to_string).collect())
}

fn ids_of(item: &Item) -> Vec<u64> {
    match item.get("cards") {
        Some(AttributeValue::Ns(v)) => v.iter().filter_map(|x| x.parse().ok()).collect(),
        _ => Vec::new(),
    }
}

impl Store {
    /// Adds `cards` to their cohorts of task `task` at `minute` (one write per shard
    /// touched; adding a card twice is harmless).
    pub async fn join_cohorts(
        &self,
        task: TaskType,
        minute: i64,
        cards: &[u64],
    ) -> Result<(), StoreError> {
        let mut by_shard: HashMap<u64, Vec<u64>> = HashMap::new();
        for &id in cards {
            by_shard.entry(shard(id)).or_default().push(id);
        }
        for (sh, ids) in by_shard {
            self.update_if(
                "cohort",
                &keys::cohort(task, minute, sh),
                Upd::new("ADD cards :ids").value(":ids", ns(&ids)),
                upsert(),
            )
            .await?;
        }
        Ok(())
    }

    /// Adds `cards` to cohort `shard` of `task` at `minute`, whatever their own
    /// shards (one write; the cohort's first move sorts them into their shards).
    pub async fn join_cohort(
        &self,
        task: TaskType,
        minute: i64,
        shard: u64,
        cards: &[u64],
    ) -> Result<(), StoreError> {
        self.update_if(
            "cohort",
            &keys::cohort(task, minute, shard),
            Upd::new("ADD cards :ids").value(":ids", ns(cards)),
            upsert(),
        )
        .await
    }

    /// Removes card `id` from cohort `sk` of `task` (a card no longer polled).
    pub async fn leave_cohort(&self, task: TaskType, sk: &str, id: u64) -> Result<(), StoreError> {
        let key = Key::new(keys::cohorts_pk(task), sk);
        match self
            .update_if(
                "cohort",
                &key,
                Upd::new("DELETE cards :ids").value(":ids", ns(&[id])),
                Cond::new("attribute_exists(pk)"),
            )
            .await
        {
            Err(StoreError::ConditionFailed { .. }) => Ok(()),
            other => other,
        }
    }

    /// Up to `limit` cohorts of `task` due at or before `minute` (oldest first) and
    /// not leased past `now`: one Query of the task's cohort partition.
    pub async fn due_cohorts(
        &self,
        task: TaskType,
        minute: i64,
        now: i64,
        limit: i32,
    ) -> Result<Vec<Cohort>, StoreError> {
        let q = Query {
            on: On::Table,
            pk: keys::cohorts_pk(task),
            sk: SkCond::Between(keys::cohort_sk_end(-1), keys::cohort_sk_end(minute)),
            filter: Some(
                Cond::new("attribute_not_exists(lease_until) OR lease_until < :now")
                    .value(":now", n(now)),
            ),
            limit: Some(limit),
            start: None,
            backward: false,
        };
        let (items, _) = self.query(&q).await?;
        Ok(items
            .into_iter()
            .filter_map(|item| {
                let sk = super::str_attr(&item, "sk")?.to_string();
                Some(Cohort {
                    cards: ids_of(&item),
                    sk,
                })
            })
            .collect())
    }

    /// The number of cards due at or before `minute` for `task` (reads the due
    /// cohorts, at most `max_items` of them; `None` past that).
    pub async fn due_card_count(
        &self,
        task: TaskType,
        minute: i64,
        max_items: i32,
    ) -> Result<Option<u64>, StoreError> {
        let q = Query {
            on: On::Table,
            pk: keys::cohorts_pk(task),
            sk: SkCond::Between(keys::cohort_sk_end(-1), keys::cohort_sk_end(minute)),
            filter: None,
            limit: Some(max_items),
            start: None,
            backward: false,
        };
        let (items, next) = self.query(&q).await?;
        if next.is_some() {
            return Ok(None);
        }
        Ok(Some(items.iter().map(|i| ids_of(i).len() as u64).sum()))
    }

    /// Cohort `sk` of `task` as stored now.
    pub async fn cohort(&self, task: TaskType, sk: &str) -> Result<Option<Cohort>, StoreError> {
        let key = Key::new(keys::cohorts_pk(task), sk);
        Ok(self.get(&key).await?.map(|item| Cohort {
            cards: ids_of(&item),
            sk: sk.to_string(),
        }))
    }

    /// Leases cohort `sk` until `until` for one dispatcher run; `None` when another
    /// run holds it or it is gone. Returns the cohort as leased.
    pub async fn lease_cohort(
        &self,
        task: TaskType,
        sk: &str,
        now: i64,
        until: i64,
    ) -> Result<Option<Cohort>, StoreError> {
        let key = Key::new(keys::cohorts_pk(task), sk);
        let res = self
            .client()
            .update_item()
            .table_name(self.table())
            .set_key(Some(key.item()))
            .update_expression("SET lease_until = :until")
            .condition_expression(
                "attribute_exists(pk) AND (attribute_not_exists(lease_until) OR lease_until < :now)",
            )
            .expression_attribute_values(":until", n(until))
            .expression_attribute_values(":now", n(now))
            .return_values(ReturnValue::AllNew)
            .send()
            .await;
        match res {
            Ok(out) => Ok(out.attributes.map(|item| Cohort {
                cards: ids_of(&item),
                sk: sk.to_string(),
            })),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|e| e.is_conditional_check_failed_exception()) =>
            {
                Ok(None)
            }
            Err(e) => Err(StoreError::dynamo(e)),
        }
    }

    /// Moves a leased cohort to `minute` in one transaction: its cards join the
    /// target cohort and the source is deleted, provided it is still leased `until`
    /// and holds exactly the cards read (else `ConditionFailed`: re-lease and retry).
    pub async fn move_cohort(
        &self,
        task: TaskType,
        from: &Cohort,
        until: i64,
        minute: i64,
    ) -> Result<(), StoreError> {
        let source = Key::new(keys::cohorts_pk(task), &from.sk);
        let mut by_shard: HashMap<u64, Vec<u64>> = HashMap::new();
        for &id in &from.cards {
            by_shard.entry(shard(id)).or_default().push(id);
        }
        let same = if from.cards.is_empty() {
            Cond::new("lease_until = :until AND attribute_not_exists(cards)")
        } else {
            Cond::new("lease_until = :until AND size(cards) = :size")
                .value(":size", n(from.cards.len()))
        };
        let mut tx = Tx::new().delete("cohort", &source, Some(same.value(":until", n(until))));
        for (sh, ids) in by_shard {
            let target = keys::cohort(task, minute, sh);
            if target == source {
                continue;
            }
            tx = tx.update(
                "target",
                &target,
                Upd::new("ADD cards :ids").value(":ids", ns(&ids)),
                None,
            );
        }
        self.transact(tx).await
    }

    /// The semaphore of `task` at `now` (expired holders not counted).
    pub async fn semaphore(&self, task: TaskType, now: i64) -> Result<Semaphore, StoreError> {
        let item = self.get(&keys::poll_semaphore(task)).await?;
        let Some(item) = item else {
            return Ok(Semaphore {
                max_concurrency: DEFAULT_MAX_CONCURRENCY,
                ..Default::default()
            });
        };
        let mut sem = Semaphore {
            max_concurrency: num_attr(&item, "max_concurrency").unwrap_or(DEFAULT_MAX_CONCURRENCY),
            version: num_attr(&item, "version").unwrap_or(0),
            ..Default::default()
        };
        if let Some(AttributeValue::M(holders)) = item.get("holders") {
            sem.has_map = true;
            for (id, h) in holders {
                let AttributeValue::M(h) = h else { continue };
                let permits = num_attr(h, "n").unwrap_or(0);
                if num_attr(h, "until").unwrap_or(0) > now {
                    sem.in_flight += permits;
                } else {
                    sem.expired.push(id.clone());
                }
            }
        }
        Ok(sem)
    }

    /// Takes up to `want` permits of `task` for `holder` until `until`; answers how
    /// many it got (0 when none is free). Conditioned on the version read, so two
    /// acquisitions never both take the last permits.
    pub async fn acquire_permits(
        &self,
        task: TaskType,
        holder: &str,
        want: i64,
        now: i64,
        until: i64,
    ) -> Result<i64, StoreError> {
        for attempt in 0..8 {
            let sem = self.semaphore(task, now).await?;
            let free = (sem.max_concurrency - sem.in_flight).max(0);
            let take = want.min(free);
            if take <= 0 && sem.expired.is_empty() {
                return Ok(0);
            }
            let mine = || {
                let mut m = HashMap::new();
                m.insert("n".to_string(), n(take));
                m.insert("until".to_string(), n(until));
                AttributeValue::M(m)
            };
            let (upd, cond) = if !sem.has_map {
                // An item without its map needs the map before a nested path can be
                // set (a new item, or one that only holds the limit).
                let mut holders = HashMap::new();
                if take > 0 {
                    holders.insert(holder.to_string(), mine());
                }
                let cond = if sem.version == 0 {
                    Cond::new("attribute_not_exists(version)")
                } else {
                    Cond::version(sem.version)
                };
                (
                    Upd::new("SET version = :next, holders = :holders")
                        .value(":next", n(sem.version + 1))
                        .value(":holders", AttributeValue::M(holders)),
                    cond,
                )
            } else {
                let mut expr = String::from("SET version = :next");
                if take > 0 {
                    expr.push_str(", holders.#h = :mine");
                }
                let removes: Vec<String> = (0..sem.expired.len())
                    .map(|i| format!("holders.#x{i}"))
                    .collect();
                if !removes.is_empty() {
                    expr.push_str(" REMOVE ");
                    expr.push_str(&removes.join(", "));
                }
                let mut upd = Upd::new(expr).value(":next", n(sem.version + 1));
                if take > 0 {
                    upd = upd.name("#h", holder).value(":mine", mine());
                }
                for (i, id) in sem.expired.iter().enumerate() {
                    upd = upd.name(&format!("#x{i}"), id);
                }
                (upd, Cond::version(sem.version))
            };
            match self
                .update_if("semaphore", &keys::poll_semaphore(task), upd, cond)
                .await
            {
                Ok(()) => return Ok(take.max(0)),
                Err(StoreError::ConditionFailed { .. }) => {
                    tokio::time::sleep(super::tx::backoff(attempt)).await;
                }
                Err(e) => return Err(e),
            }
        }
        Ok(0)
    }

    /// Returns `holder`'s permits of `task`.
    pub async fn release_permits(&self, task: TaskType, holder: &str) -> Result<(), StoreError> {
        match self
            .update_if(
                "semaphore",
                &keys::poll_semaphore(task),
                Upd::new("REMOVE holders.#h ADD version :one")
                    .name("#h", holder)
                    .value(":one", n(1)),
                Cond::new("attribute_exists(holders)"),
            )
            .await
        {
            Err(StoreError::ConditionFailed { .. }) => Ok(()),
            other => other,
        }
    }

    /// Sets the concurrency limit of `task` (takes effect at the next acquisition;
    /// permits already held are not taken back).
    pub async fn set_max_concurrency(&self, task: TaskType, max: i64) -> Result<(), StoreError> {
        self.update_if(
            "semaphore",
            &keys::poll_semaphore(task),
            Upd::new("SET max_concurrency = :max, task_type = :t ADD version :one")
                .value(":max", n(max))
                .value(":t", s(task.as_str()))
                .value(":one", n(1)),
            upsert(),
        )
        .await
    }

    /// Adds one batch's counts to the minute's and the running counters of `task`.
    pub async fn record_checks(
        &self,
        task: TaskType,
        now: i64,
        c: CheckCounts,
    ) -> Result<(), StoreError> {
        let minute = crate::domain::polling::minute(now);
        let add = "ADD checks :c, succeeded :s, failed :f, gateway_errors :g, latency_ms :l";
        let upd = |extra: &str| {
            Upd::new(format!("{add}{extra}"))
                .value(":c", n(c.checks))
                .value(":s", n(c.succeeded))
                .value(":f", n(c.failed))
                .value(":g", n(c.gateway_errors))
                .value(":l", n(c.latency_ms))
        };
        self.update_if(
            "stats",
            &keys::poll_stats_minute(task, minute),
            upd(" SET expires_at = :ttl").value(":ttl", n(now + STATS_RETENTION_SECS)),
            upsert(),
        )
        .await?;
        self.update_if("stats", &keys::poll_stats(task), upd(""), upsert())
            .await
    }

    /// Records a dispatch run of `task` that sent `cards` cards.
    pub async fn record_dispatch(
        &self,
        task: TaskType,
        now: i64,
        cards: i64,
    ) -> Result<(), StoreError> {
        let minute = crate::domain::polling::minute(now);
        self.update_if(
            "stats",
            &keys::poll_stats_minute(task, minute),
            Upd::new("ADD dispatched :d SET expires_at = :ttl")
                .value(":d", n(cards))
                .value(":ttl", n(now + STATS_RETENTION_SECS)),
            upsert(),
        )
        .await?;
        self.update_if(
            "stats",
            &keys::poll_stats(task),
            Upd::new("ADD dispatched :d SET last_dispatch_at = :now")
                .value(":d", n(cards))
                .value(":now", n(now)),
            upsert(),
        )
        .await
    }

    /// The running totals of `task`.
    pub async fn poll_totals(&self, task: TaskType) -> Result<Totals, StoreError> {
        let Some(item) = self.get(&keys::poll_stats(task)).await? else {
            return Ok(Totals::default());
        };
        Ok(Totals {
            dispatched: num_attr(&item, "dispatched").unwrap_or(0),
            checks: num_attr(&item, "checks").unwrap_or(0),
            succeeded: num_attr(&item, "succeeded").unwrap_or(0),
            failed: num_attr(&item, "failed").unwrap_or(0),
            last_dispatch_at: num_attr(&item, "last_dispatch_at"),
        })
    }

    /// The per-minute counters of `task` from minute `from` to `to` (inclusive; one
    /// Query, at most the retention's minutes).
    pub async fn poll_minutes(
        &self,
        task: TaskType,
        from: i64,
        to: i64,
    ) -> Result<Vec<MinuteStats>, StoreError> {
        let q = Query {
            on: On::Table,
            pk: keys::poll_stats(task).pk,
            sk: SkCond::Between(
                keys::poll_stats_minute(task, from).sk,
                keys::poll_stats_minute(task, to).sk,
            ),
            filter: None,
            limit: None,
            start: None,
            backward: false,
        };
        let (items, _) = self.query(&q).await?;
        Ok(items
            .iter()
            .map(|i| MinuteStats {
                minute: super::str_attr(i, "sk")
                    .and_then(|sk| sk.trim_start_matches("MIN#").parse().ok())
                    .unwrap_or(0),
                dispatched: num_attr(i, "dispatched").unwrap_or(0),
                counts: CheckCounts {
                    checks: num_attr(i, "checks").unwrap_or(0),
                    succeeded: num_attr(i, "succeeded").unwrap_or(0),
                    failed: num_attr(i, "failed").unwrap_or(0),
                    gateway_errors: num_attr(i, "gateway_errors").unwrap_or(0),
                    latency_ms: num_attr(i, "latency_ms").unwrap_or(0),
                },
            })
            .collect())
    }
}
