//! DynamoDB access: one table (`infra/table.json`), key builders, conditional writes,
//! optimistic locking, transactions, TTL items, idempotency records and the
//! repositories of each aggregate.

pub mod calls;
pub mod idempotency;
pub mod ids;
pub mod keys;
pub mod org;
pub mod rate_limit;
pub mod schema;
pub mod sessions;
pub mod ttl;
pub mod tx;

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

use crate::config::Config;

/// A raw DynamoDB item.
pub type Item = HashMap<String, AttributeValue>;

/// Failures of the storage layer.
#[derive(Debug, thiserror::Error)]
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
    /// An item could not be converted to or from its Rust type.
    #[error("item codec: {0}")]
    Codec(String),
}

impl StoreError {
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
}

impl Store {
    /// Builds the client from configuration (local endpoint when configured) and
    /// installs the per-request call counter.
    pub async fn connect(cfg: &Config) -> Self {
        let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest())
            .region(aws_config::Region::new(cfg.region.clone()));
        if let Some(endpoint) = &cfg.aws_endpoint {
            loader = loader.endpoint_url(endpoint);
        }
        let sdk = loader.load().await;
        let conf = aws_sdk_dynamodb::config::Builder::from(&sdk)
            .interceptor(calls::CallCounter)
            .build();
        Self::new(Client::from_conf(conf), &cfg.table)
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
                    found.extend(responses.remove(&self.table).unwrap_or_default());
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
    /// (all pages), on the table or the scope index.
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
        let (index, pk_name, sk_name) = match on {
            On::Table => (None, "pk", "sk"),
            On::Gsi1 => (Some(schema::GSI1), "gsi1pk", "gsi1sk"),
        };
        let mut items = Vec::new();
        let mut start = None;
        loop {
            let mut q = self
                .client
                .query()
                .table_name(&self.table)
                .set_index_name(index.map(str::to_string))
                .expression_attribute_names("#pk", pk_name)
                .expression_attribute_values(":pk", s(pk))
                .set_exclusive_start_key(start.take())
                .set_limit(limit);
            q = if prefix.is_empty() {
                q.key_condition_expression("#pk = :pk")
            } else {
                q.key_condition_expression("#pk = :pk AND begins_with(#sk, :prefix)")
                    .expression_attribute_names("#sk", sk_name)
                    .expression_attribute_values(":prefix", s(prefix))
            };
            if index.is_none() {
                q = q.consistent_read(true);
            }
            let out = q.send().await.map_err(StoreError::dynamo)?;
            items.extend(out.items.unwrap_or_default());
            if limit.is_some_and(|l| items.len() >= l as usize) {
                items.truncate(limit.unwrap_or_default() as usize);
                break;
            }
            match out.last_evaluated_key {
                Some(k) if !k.is_empty() => start = Some(k),
                _ => break,
            }
        }
        Ok(items)
    }
}

impl Debug for Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}|{}", self.pk, self.sk)
    }
}
