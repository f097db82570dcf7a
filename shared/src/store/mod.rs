//! DynamoDB access: one table (`infra/table.json`), key builders, conditional writes,
//! optimistic locking, transactions, TTL items, idempotency records and the
//! repositories of each aggregate (long because it holds the shared read/write
//! primitives; the module list itself grew past the limit).

pub mod asset_index;
pub mod asset_lists;
pub mod assets;
pub mod audit;
pub mod authorizations;
pub mod bulk;
pub mod calls;
pub mod catalog;
pub mod commissions;
pub mod cursor;
pub mod data_cleanup;
pub mod idempotency;
pub mod ids;
pub mod imports;
pub mod keys;
pub mod links;
pub mod lists;
pub mod orders;
pub mod org;
pub mod payment_configs;
pub mod permissions;
pub mod polling;
pub mod polling_alerts;
pub mod polling_backfill;
pub mod polling_configs;
pub mod polling_triggers;
pub mod prefetch;
mod queued;
pub mod rate_limit;
pub mod recharges;
pub mod refunds;
pub mod schema;
pub mod sessions;
pub mod steps;
pub mod tally;
pub mod ttl;
pub mod tx;
pub mod usage_checks;
pub mod usage_lifecycle;
pub mod usage_rules;
pub mod usages;
pub mod wallets;
pub mod withdrawals;

use std::collections::HashMap;
use std::fmt::Debug;

use aws_sdk_dynamodb::error::DisplayErrorContext;
use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::types::{
    AttributeValue, KeysAndAttributes, ReturnValuesOnConditionCheckFailure,
};
use aws_sdk_dynamodb::Client;
use serde::de::DeserializeOwned;
use serde::Serialize;

/// A raw DynamoDB item.
pub type Item = HashMap<String, AttributeValue>;

/// Failures of the storage layer. `Debug` (what logs print) names a failed
/// condition's label and the item's key, never the item itself: stored items hold
/// password hashes and personal data.
#[derive(thiserror::Error)]
pub enum StoreError {
    /// A conditional write (or one item of a transaction) failed its condition.
    /// `label` names which condition; `old` is the item as it was, when it existed.
    #[error("condition `{label}` failed")]
    ConditionFailed {
        /// Which condition failed.
        label: &'static str,
        /// The item's state at the time, if it existed.
        old: Option<Box<Item>>,
    },
    /// Any other DynamoDB error (network, throttling, validation).
    #[error("dynamodb: {0}")]
    Dynamo(String),
    /// A change needs more operations than one transaction holds; nothing was
    /// written.
    #[error("the change needs {ops} operations; one transaction holds at most 100")]
    TooLarge {
        /// Operations the change would need.
        ops: usize,
    },
    /// An item could not be converted to or from its Rust type.
    #[error("item codec: {0}")]
    Codec(String),
    /// A list's `cursor` decodes but names no position of that list (another list's
    /// cursor, or a forged one); answers `1001`.
    #[error("invalid cursor: it is not a position of this list")]
    BadCursor,
    /// A transaction was cancelled for conflicts with other transactions or for
    /// throttling on every attempt; nothing was written and the request may be retried.
    #[error("transaction contended after {attempts} attempts")]
    Contended {
        /// Attempts made.
        attempts: usize,
    },
}

impl Debug for StoreError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StoreError::ConditionFailed { label, old } => {
                let key = old.as_deref().map(|item| {
                    (
                        str_attr(item, "pk").unwrap_or_default(),
                        str_attr(item, "sk").unwrap_or_default(),
                    )
                });
                f.debug_struct("ConditionFailed")
                    .field("label", label)
                    .field("key", &key)
                    .finish()
            }
            StoreError::Dynamo(e) => f.debug_tuple("Dynamo").field(e).finish(),
            StoreError::TooLarge { ops } => f.debug_struct("TooLarge").field("ops", ops).finish(),
            StoreError::Codec(e) => f.debug_tuple("Codec").field(e).finish(),
            StoreError::BadCursor => f.write_str("BadCursor"),
            StoreError::Contended { attempts } => f
                .debug_struct("Contended")
                .field("attempts", attempts)
                .finish(),
        }
    }
}

impl StoreError {
    /// The business code a request answers with when this is why it failed: `1058`
    /// (503, retry) for contention, `1001` for a foreign cursor, `2002` otherwise.
    pub fn code(&self) -> crate::codes::Code {
        match self {
            StoreError::Contended { .. } => crate::codes::Code::BUSY,
            StoreError::BadCursor => crate::codes::Code::INVALID_PARAM,
            _ => crate::codes::Code::DATABASE,
        }
    }

    /// Wraps an SDK error with its full cause chain.
    pub fn dynamo<E: std::error::Error + 'static>(e: E) -> Self {
        StoreError::Dynamo(DisplayErrorContext(&e).to_string())
    }

    /// The label of a failed condition, if that is what this is.
    pub fn failed_label(&self) -> Option<&'static str> {
        match self {
            StoreError::ConditionFailed { label, .. } => Some(label),
            _ => None,
        }
    }
}

/// Handle on the table; cheap to clone, built once per cold start.
#[derive(Clone, Debug)]
pub struct Store {
    client: Client,
    table: String,
}

/// A primary key (`pk`, `sk`).
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Key {
    /// Partition key.
    pub pk: String,
    /// Sort key.
    pub sk: String,
}

impl Key {
    /// Builds a key.
    pub fn new(pk: impl Into<String>, sk: impl Into<String>) -> Self {
        Self {
            pk: pk.into(),
            sk: sk.into(),
        }
    }

    /// Whether `item` is the item at this key.
    pub fn matches(&self, item: &Item) -> bool {
        str_attr(item, "pk") == Some(self.pk.as_str())
            && str_attr(item, "sk") == Some(self.sk.as_str())
    }

    /// The key as an item fragment.
    pub fn item(&self) -> Item {
        HashMap::from([
            ("pk".to_string(), s(&self.pk)),
            ("sk".to_string(), s(&self.sk)),
        ])
    }
}

/// A string attribute value.
pub fn s(v: impl Into<String>) -> AttributeValue {
    AttributeValue::S(v.into())
}

/// A number attribute value.
pub fn n(v: impl ToString) -> AttributeValue {
    AttributeValue::N(v.to_string())
}

/// Serialises `value` into an item and adds its key (and any extra attributes).
pub fn to_item<T: Serialize>(value: &T, key: &Key) -> Result<Item, StoreError> {
    let mut item: Item =
        serde_dynamo::to_item(value).map_err(|e| StoreError::Codec(e.to_string()))?;
    item.extend(key.item());
    Ok(item)
}

/// Deserialises an item (key attributes are ignored).
pub fn from_item<T: DeserializeOwned>(item: Item) -> Result<T, StoreError> {
    serde_dynamo::from_item(item).map_err(|e| StoreError::Codec(e.to_string()))
}

/// Reads a numeric attribute.
pub fn num_attr(item: &Item, name: &str) -> Option<i64> {
    match item.get(name) {
        Some(AttributeValue::N(v)) => v.parse().ok(),
        _ => None,
    }
}

/// Reads a string attribute.
pub fn str_attr<'a>(item: &'a Item, name: &str) -> Option<&'a str> {
    match item.get(name) {
        Some(AttributeValue::S(v)) => Some(v),
        _ => None,
    }
}

/// Which key a query runs on.
#[derive(Clone, Copy, Debug)]
pub enum On {
    /// The base table (`pk`, `sk`).
    Table,
    /// The scope index (`gsi1pk`, `gsi1sk`).
    Gsi1,
    /// The platform-list index (`gsi2pk`, `gsi2sk`).
    Gsi2,
    /// The batch index (`gsi3pk`, `gsi3sk`).
    Gsi3,
    /// The range index (`gsi4pk`, `gsi4sk`).
    Gsi4,
    /// The enterprise index (`gsi5pk`, `gsi5sk`).
    Gsi5,
}

impl Store {
    /// Builds the client from the loaded SDK configuration and installs the
    /// per-request call counter.
    pub fn from_sdk(sdk: &aws_config::SdkConfig, table: &str) -> Self {
        let conf = aws_sdk_dynamodb::config::Builder::from(sdk)
            .interceptor(calls::CallCounter)
            .build();
        Self::new(Client::from_conf(conf), table)
    }

    /// Wraps an existing client.
    pub fn new(client: Client, table: &str) -> Self {
        Self {
            client,
            table: table.to_string(),
        }
    }

    /// The underlying client.
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// The table name.
    pub fn table(&self) -> &str {
        &self.table
    }

    /// Strongly consistent read of one item.
    pub async fn get(&self, key: &Key) -> Result<Option<Item>, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key.item()))
            .consistent_read(true)
            .send()
            .await
            .map_err(StoreError::dynamo)?;
        calls::add_items_read(usize::from(out.item.is_some()));
        Ok(out.item)
    }

    /// Reads and decodes one item.
    pub async fn get_as<T: DeserializeOwned>(&self, key: &Key) -> Result<Option<T>, StoreError> {
        self.get(key).await?.map(from_item).transpose()
    }

    /// Strongly consistent read of up to 100 items in one call (missing ones are
    /// simply absent from the result). Unprocessed keys are retried.
    pub async fn get_many(&self, keys: &[Key]) -> Result<Vec<Item>, StoreError> {
        let mut found = Vec::with_capacity(keys.len());
        let mut unique: Vec<&Key> = Vec::new();
        for k in keys {
            if !unique.contains(&k) {
                unique.push(k);
            }
        }
        for chunk in unique.chunks(100) {
            let mut pending = Some(
                KeysAndAttributes::builder()
                    .set_keys(Some(chunk.iter().map(|k| k.item()).collect()))
                    .consistent_read(true)
                    .build()
                    .map_err(StoreError::dynamo)?,
            );
            while let Some(request) = pending.take() {
                let out = self
                    .client
                    .batch_get_item()
                    .request_items(&self.table, request)
                    .send()
                    .await
                    .map_err(StoreError::dynamo)?;
                if let Some(mut responses) = out.responses {
                    let items = responses.remove(&self.table).unwrap_or_default();
                    calls::add_items_read(items.len());
                    found.extend(items);
                }
                pending = out
                    .unprocessed_keys
                    .and_then(|mut u| u.remove(&self.table))
                    .filter(|k| !k.keys.is_empty());
            }
        }
        Ok(found)
    }

    /// Unconditional put.
    pub async fn put(&self, item: Item) -> Result<(), StoreError> {
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .send()
            .await
            .map(|_| ())
            .map_err(StoreError::dynamo)
    }

    /// Conditional create: fails with `ConditionFailed { label }` if the key exists.
    pub async fn put_new(&self, label: &'static str, item: Item) -> Result<(), StoreError> {
        self.put_if(label, item, tx::Cond::absent()).await
    }

    /// Optimistic-lock replace: `item` must carry `version = expected + 1`; fails with
    /// `ConditionFailed { label }` if the stored version is not `expected`.
    pub async fn put_versioned(
        &self,
        label: &'static str,
        item: Item,
        expected: i64,
    ) -> Result<(), StoreError> {
        self.put_if(label, item, tx::Cond::version(expected)).await
    }

    /// Put with a condition; on failure the old item comes back in the error.
    pub async fn put_if(
        &self,
        label: &'static str,
        item: Item,
        cond: tx::Cond,
    ) -> Result<(), StoreError> {
        let res = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression(cond.expr())
            .set_expression_attribute_names(cond.names_map())
            .set_expression_attribute_values(cond.values_map())
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;
        match res {
            Ok(_) => Ok(()),
            Err(e) => match e.as_service_error() {
                Some(PutItemError::ConditionalCheckFailedException(c)) => {
                    Err(StoreError::ConditionFailed {
                        label,
                        old: c.item().cloned().map(Box::new),
                    })
                }
                _ => Err(StoreError::dynamo(e)),
            },
        }
    }

    /// Single-item conditional update; on failure the old item comes back in the error.
    pub async fn update_if(
        &self,
        label: &'static str,
        key: &Key,
        upd: tx::Upd,
        cond: tx::Cond,
    ) -> Result<(), StoreError> {
        let (expr, names, values) = upd.with(&cond);
        let res = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key.item()))
            .update_expression(expr)
            .condition_expression(cond.expr())
            .set_expression_attribute_names(names)
            .set_expression_attribute_values(values)
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;
        match res {
            Ok(_) => Ok(()),
            Err(e) => match e.as_service_error() {
                Some(aws_sdk_dynamodb::operation::update_item::UpdateItemError::ConditionalCheckFailedException(c)) => {
                    Err(StoreError::ConditionFailed { label, old: c.item().cloned().map(Box::new) })
                }
                _ => Err(StoreError::dynamo(e)),
            },
        }
    }

    /// Puts many items without conditions (BatchWriteItem in chunks of 25, retrying
    /// unprocessed items).
    pub async fn put_all(&self, items: Vec<Item>) -> Result<(), StoreError> {
        use aws_sdk_dynamodb::types::{PutRequest, WriteRequest};
        for chunk in items.chunks(25) {
            let mut requests: Vec<WriteRequest> = chunk
                .iter()
                .map(|i| {
                    PutRequest::builder()
                        .set_item(Some(i.clone()))
                        .build()
                        .map(|put| WriteRequest::builder().put_request(put).build())
                        .map_err(StoreError::dynamo)
                })
                .collect::<Result<_, _>>()?;
            while !requests.is_empty() {
                let out = self
                    .client
                    .batch_write_item()
                    .request_items(&self.table, requests)
                    .send()
                    .await
                    .map_err(StoreError::dynamo)?;
                requests = out
                    .unprocessed_items
                    .and_then(|mut u| u.remove(&self.table))
                    .unwrap_or_default();
            }
        }
        Ok(())
    }

    /// Deletes an item (no error when absent).
    pub async fn delete(&self, key: &Key) -> Result<(), StoreError> {
        self.client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(key.item()))
            .send()
            .await
            .map(|_| ())
            .map_err(StoreError::dynamo)
    }

    /// Every item whose partition key is `pk` and sort key starts with `prefix`
    /// (all pages), on the table or an index.
    pub async fn query_prefix(
        &self,
        on: On,
        pk: &str,
        prefix: &str,
    ) -> Result<Vec<Item>, StoreError> {
        self.query_page(on, pk, prefix, None).await
    }

    /// At most `limit` items of [`Store::query_prefix`] (all of them when `None`).
    pub async fn query_page(
        &self,
        on: On,
        pk: &str,
        prefix: &str,
        limit: Option<i32>,
    ) -> Result<Vec<Item>, StoreError> {
        let sk = if prefix.is_empty() {
            SkCond::Any
        } else {
            SkCond::Prefix(prefix.to_string())
        };
        let mut q = Query {
            on,
            pk: pk.to_string(),
            sk,
            filter: None,
            limit,
            start: None,
            backward: false,
        };
        let mut items = Vec::new();
        loop {
            let (page, next) = self.query(&q).await?;
            items.extend(page);
            if let Some(l) = limit {
                if items.len() >= l as usize {
                    items.truncate(l as usize);
                    break;
                }
            }
            match next {
                Some(k) => q.start = Some(k),
                None => break,
            }
        }
        Ok(items)
    }

    /// One Query call: the items of one page and the key to continue from.
    pub async fn query(&self, q: &Query) -> Result<(Vec<Item>, Option<Item>), StoreError> {
        let (index, pk_name, sk_name) = match q.on {
            On::Table => (None, "pk", "sk"),
            On::Gsi1 => (Some(schema::GSI1), "gsi1pk", "gsi1sk"),
            On::Gsi2 => (Some(schema::GSI2), "gsi2pk", "gsi2sk"),
            On::Gsi3 => (Some(schema::GSI3), "gsi3pk", "gsi3sk"),
            On::Gsi4 => (Some(schema::GSI4), "gsi4pk", "gsi4sk"),
            On::Gsi5 => (Some(schema::GSI5), "gsi5pk", "gsi5sk"),
        };
        let mut req = self
            .client
            .query()
            .table_name(&self.table)
            .set_index_name(index.map(str::to_string))
            .expression_attribute_names("#pk", pk_name)
            .expression_attribute_values(":pk", s(&q.pk))
            .set_exclusive_start_key(q.start.clone())
            .set_limit(q.limit)
            .scan_index_forward(!q.backward)
            .consistent_read(index.is_none());
        req = match &q.sk {
            SkCond::Any => req.key_condition_expression("#pk = :pk"),
            SkCond::Prefix(p) if p.is_empty() => req.key_condition_expression("#pk = :pk"),
            SkCond::Prefix(p) => req
                .key_condition_expression("#pk = :pk AND begins_with(#sk, :prefix)")
                .expression_attribute_names("#sk", sk_name)
                .expression_attribute_values(":prefix", s(p)),
            SkCond::Between(a, b) => req
                .key_condition_expression("#pk = :pk AND #sk BETWEEN :from AND :to")
                .expression_attribute_names("#sk", sk_name)
                .expression_attribute_values(":from", s(a))
                .expression_attribute_values(":to", s(b)),
        };
        if let Some(f) = &q.filter {
            req = req.filter_expression(f.expr());
            for (k, v) in f.names_map().unwrap_or_default() {
                req = req.expression_attribute_names(k, v);
            }
            for (k, v) in f.values_map().unwrap_or_default() {
                req = req.expression_attribute_values(k, v);
            }
        }
        let out = req.send().await.map_err(StoreError::dynamo)?;
        calls::add_items_read(usize::try_from(out.scanned_count).unwrap_or_default());
        let next = out.last_evaluated_key.filter(|k| !k.is_empty());
        Ok((out.items.unwrap_or_default(), next))
    }
}

/// Sort-key condition of a [`Query`].
#[derive(Clone, Debug)]
pub enum SkCond {
    /// The whole partition.
    Any,
    /// `begins_with(sk, prefix)`.
    Prefix(String),
    /// `sk BETWEEN from AND to` (inclusive).
    Between(String, String),
}

/// One Query: partition, sort-key condition, optional filter, page size, start key.
#[derive(Clone, Debug)]
pub struct Query {
    /// Table or index.
    pub on: On,
    /// Partition key value.
    pub pk: String,
    /// Sort-key condition.
    pub sk: SkCond,
    /// Filter applied after reading (costs what it reads).
    pub filter: Option<tx::Cond>,
    /// Items to read (before the filter).
    pub limit: Option<i32>,
    /// Where the previous page stopped.
    pub start: Option<Item>,
    /// Reads the sort key from the highest value down.
    pub backward: bool,
}

impl Debug for Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}|{}", self.pk, self.sk)
    }
}
