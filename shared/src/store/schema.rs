//! The table definition. `infra/table.json` is the single source: tests and the
//! local stack create tables from it, and a check proves `template.yaml` matches it.

use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType, Projection,
    ProjectionType, ScalarAttributeType, TimeToLiveSpecification,
};
use aws_sdk_dynamodb::Client;
use serde::Deserialize;

use super::StoreError;

/// The raw table definition shipped in `infra/table.json`.
pub const TABLE_JSON: &str = include_str!("../../../infra/table.json");

/// Name of the scope index (lists by kind and materialised shop path).
pub const GSI1: &str = "gsi1";
/// Name of the platform-list index (sharded kind partitions).
pub const GSI2: &str = "gsi2";
/// Name of the batch index (assets by batch number, then owner path).
pub const GSI3: &str = "gsi3";
/// Name of the range index (assets by identifier bucket, then identifier).
pub const GSI4: &str = "gsi4";
/// Name of the enterprise index (assets authorised to an enterprise, authorisation
/// records by enterprise).
pub const GSI5: &str = "gsi5";

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct TableDef {
    attribute_definitions: Vec<AttrDef>,
    key_schema: Vec<KeyDef>,
    global_secondary_indexes: Vec<IndexDef>,
    time_to_live_attribute: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct AttrDef {
    attribute_name: String,
    attribute_type: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct KeyDef {
    attribute_name: String,
    key_type: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct IndexDef {
    index_name: String,
    key_schema: Vec<KeyDef>,
}

fn key_schema(keys: &[KeyDef]) -> Result<Vec<KeySchemaElement>, StoreError> {
    keys.iter()
        .map(|k| {
            KeySchemaElement::builder()
                .attribute_name(&k.attribute_name)
                .key_type(KeyType::from(k.key_type.as_str()))
                .build()
                .map_err(StoreError::dynamo)
        })
        .collect()
}

/// Creates `table` from `infra/table.json` (pay per request, TTL enabled) and waits
/// until it is active. An existing table is left as it is.
pub async fn create_table(client: &Client, table: &str) -> Result<(), StoreError> {
    let def: TableDef =
        serde_json::from_str(TABLE_JSON).map_err(|e| StoreError::Codec(e.to_string()))?;
    let exists = client
        .describe_table()
        .table_name(table)
        .send()
        .await
        .is_ok();
    if !exists {
        let mut req = client
            .create_table()
            .table_name(table)
            .billing_mode(BillingMode::PayPerRequest)
            .set_key_schema(Some(key_schema(&def.key_schema)?));
        for a in &def.attribute_definitions {
            req = req.attribute_definitions(
                AttributeDefinition::builder()
                    .attribute_name(&a.attribute_name)
                    .attribute_type(ScalarAttributeType::from(a.attribute_type.as_str()))
                    .build()
                    .map_err(StoreError::dynamo)?,
            );
        }
        for i in &def.global_secondary_indexes {
            req = req.global_secondary_indexes(
                GlobalSecondaryIndex::builder()
                    .index_name(&i.index_name)
                    .set_key_schema(Some(key_schema(&i.key_schema)?))
                    .projection(
                        Projection::builder()
                            .projection_type(ProjectionType::All)
                            .build(),
                    )
                    .build()
                    .map_err(StoreError::dynamo)?,
            );
        }
        req.send().await.map_err(StoreError::dynamo)?;
    }
    client
        .update_time_to_live()
        .table_name(table)
        .time_to_live_specification(
            TimeToLiveSpecification::builder()
                .attribute_name(&def.time_to_live_attribute)
                .enabled(true)
                .build()
                .map_err(StoreError::dynamo)?,
        )
        .send()
        .await
        .map_or_else(
            // Enabling TTL twice is refused by DynamoDB; that is fine.
            |e| {
                let msg = format!("{e:?}");
                if msg.contains("already enabled") || exists {
                    Ok(())
                } else {
                    Err(StoreError::dynamo(e))
                }
            },
            |_| Ok(()),
        )
}

/// Deletes `table`; used by tests to leave nothing behind.
pub async fn delete_table(client: &Client, table: &str) -> Result<(), StoreError> {
    client
        .delete_table()
        .table_name(table)
        .send()
        .await
        .map(|_| ())
        .map_err(StoreError::dynamo)
}
