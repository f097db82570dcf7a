//! Where organisation, catalogue and import-task lists read from and the filters
//! they apply in DynamoDB (`FilterExpression`), so a page is read by key with
//! `Limit` and never filtered in memory over the whole scope. See
//! `docs/data-model.md`, "Lists and paging".

use std::collections::HashMap;

use super::catalog::{grantor_prefix, grantor_series_prefix};
use super::cursor::{Cursor, Source};
use super::keys::{self, gsi1};
use super::tx::Cond;
use super::{from_item, n, s, On, Query, SkCond, Store, StoreError};
use crate::domain::assets::{ImportTask, ImportType};
use crate::domain::grants::{GrantPhase, Grantor};
use crate::paging::CursorPage;

/// The cursor attribute of a task list: the last task id answered.
const CURSOR_ATTR: &str = "id";

/// The filter of a list: conditions on item attributes, all of which must hold.
#[derive(Clone, Debug, Default)]
pub struct Filter {
    cond: Option<Cond>,
    count: usize,
}

impl Filter {
    /// No condition.
    pub fn new() -> Self {
        Self::default()
    }

    fn with(mut self, make: impl FnOnce(String, String) -> Cond) -> Self {
        let i = self.count;
        self.count += 1;
        let c = make(format!("#l{i}"), format!(":l{i}"));
        self.cond = Some(match self.cond {
            Some(prev) => prev.and(c),
            None => c,
        });
        self
    }

    /// `attr = value` (a number) when `value` is given.
    pub fn eq(self, attr: &str, value: Option<i64>) -> Self {
        match value {
            Some(v) => self.with(|name, val| {
                Cond::new(format!("{name} = {val}"))
                    .name(&name, attr)
                    .value(&val, n(v))
            }),
            None => self,
        }
    }

    /// `attr = value` (a number, an id) when `value` is given.
    pub fn eq_id(self, attr: &str, value: Option<u64>) -> Self {
        match value {
            Some(v) => self.with(|name, val| {
                Cond::new(format!("{name} = {val}"))
                    .name(&name, attr)
                    .value(&val, n(v))
            }),
            None => self,
        }
    }

    /// `attr = value` (a string) when `value` is given.
    pub fn eq_str(self, attr: &str, value: Option<&str>) -> Self {
        match value {
            Some(v) => self.with(|name, val| {
                Cond::new(format!("{name} = {val}"))
                    .name(&name, attr)
                    .value(&val, s(v))
            }),
            None => self,
        }
    }

    /// `contains(attr, value)` (a substring) when `value` is given.
    pub fn contains(self, attr: &str, value: Option<&str>) -> Self {
        match value {
            Some(v) => self.with(|name, val| {
                Cond::new(format!("contains({name}, {val})"))
                    .name(&name, attr)
                    .value(&val, s(v))
            }),
            None => self,
        }
    }

    /// Items not soft-deleted (for partitions that keep deleted items listed).
    pub fn live(self) -> Self {
        self.with(|name, _| {
            Cond::new(format!("attribute_not_exists({name})")).name(&name, "deleted_at")
        })
    }

    /// The condition; `None` when there is none.
    pub fn cond(&self) -> Option<&Cond> {
        self.cond.as_ref()
    }
}

/// The items of scope-index partition `partition` under sort-key `prefix` (`""`:
/// the whole partition), in key order.
pub fn scope(partition: &str, prefix: &str) -> Source {
    Source::scope(
        On::Gsi1,
        partition.to_string(),
        SkCond::Prefix(prefix.to_string()),
    )
}

/// An account's operation log, newest first.
pub fn account_log(account_id: u64) -> Source {
    Source::scope(On::Table, keys::account_log_pk(account_id), SkCond::Any).backward()
}

/// A shop's grant claims (one per series it holds a grant of), in key order.
pub fn shop_claims(shop_id: u64) -> Source {
    Source::scope(
        On::Table,
        keys::shop(shop_id).pk,
        SkCond::Prefix(keys::GRANT_CLAIM_PREFIX.into()),
    )
}

/// A shop's package allocations (live and soft-deleted), in key order.
pub fn shop_allocations(shop_id: u64) -> Source {
    Source::scope(
        On::Table,
        keys::shop(shop_id).pk,
        SkCond::Prefix(keys::ALLOCATION_PREFIX.into()),
    )
}

/// A shop's claim on a series as listed (`SHOP#<shop>/GRANT#<series>`): which grant
/// holds it.
#[derive(Clone, Debug, serde::Deserialize)]
pub struct ClaimRow {
    sk: String,
    /// The grant holding the claim.
    pub target_id: u64,
}

impl ClaimRow {
    /// The series claimed (from the sort key).
    pub fn series_id(&self) -> Option<u64> {
        self.sk
            .strip_prefix(keys::GRANT_CLAIM_PREFIX)
            .and_then(|id| id.parse().ok())
    }
}

/// Where a list of the grants issued by `grantor` (all grantors' when `None`) reads,
/// narrowed to `series_id` when a grantor is given, in key order (grantor, series,
/// id).
pub fn issued_grants_source(grantor: Option<Grantor>, series_id: Option<u64>) -> Source {
    let prefix = match (grantor, series_id) {
        (Some(g), Some(series)) => grantor_series_prefix(g, series),
        (Some(g), None) => grantor_prefix(g),
        (None, _) => String::new(),
    };
    scope(gsi1::GRANTS, &prefix)
}

/// Filter of a grant list: `ready` grants only.
pub fn ready_grants() -> Filter {
    Filter::new().eq_str("phase", Some(GrantPhase::Ready.as_str()))
}

impl Store {
    /// One page of the tasks of `types`, newest first: one Query per type (each
    /// partition read backward below the cursor, `page_size + 1` items), merged by
    /// id. The cursor is the last id answered (ids are shared by every type), so
    /// `has_more` is exact.
    pub async fn import_task_page(
        &self,
        types: &[ImportType],
        page_size: u32,
        cursor: &Cursor,
    ) -> Result<CursorPage<ImportTask>, StoreError> {
        let below = match (&cursor.key, cursor.shard) {
            (None, 0) => None,
            (Some(key), 0) if key.len() == 1 => Some(
                key.get(CURSOR_ATTR)
                    .and_then(|v| v.parse::<u64>().ok())
                    .ok_or(StoreError::BadCursor)?,
            ),
            _ => return Err(StoreError::BadCursor),
        };
        let sk = match below {
            None => SkCond::Any,
            Some(0) => return Ok(CursorPage::empty(page_size)),
            Some(last) => SkCond::Between(gsi1::padded(0), gsi1::padded(last - 1)),
        };
        let wanted = page_size.max(1) as usize;
        let mut tasks: Vec<ImportTask> = Vec::new();
        for t in types {
            let q = Query {
                on: On::Gsi1,
                pk: keys::imports_partition(*t),
                sk: sk.clone(),
                filter: None,
                limit: i32::try_from(wanted + 1).ok(),
                start: None,
                backward: true,
            };
            let (items, _) = self.query(&q).await?;
            for item in items {
                tasks.push(from_item(item)?);
            }
        }
        tasks.sort_by_key(|t| std::cmp::Reverse(t.id));
        let more = tasks.len() > wanted;
        tasks.truncate(wanted);
        let next = tasks.last().filter(|_| more).map(|last| {
            let key = HashMap::from([(CURSOR_ATTR.to_string(), last.id.to_string())]);
            Cursor {
                shard: 0,
                key: Some(key),
            }
            .encode()
        });
        Ok(CursorPage::new(tasks, page_size, next))
    }
}
