//! Payment configurations: their items, the single-active pointer, and the counter
//! of pending payments that reference each one.
//!
//! - `PAYCFG#<id>` / `#`: the configuration (plain fields, masks, sealed secrets),
//!   listed in the platform index (`gsi2pk = PAYCFGS`) until it is deleted, and
//!   found by its WeChat Pay public key id (`gsi1pk = PAYKEY#<key id>`) for
//!   notifications, deleted or not.
//! - `PAYCFG#ACTIVE` / `#`: which configuration is active (`config_id`). Activation
//!   swaps it in one transaction with both configurations' `is_active`, on condition
//!   that it still names the configuration read, so two racing activations leave
//!   exactly one active.
//! - `PAYCFG#<id>` / `REFS`: `pending`, the number of pending payments made under the
//!   configuration, changed in the payments' own transactions; deletion checks it in
//!   its transaction.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::cursor::{Cursor, Source};
use super::keys::ENTITY;
use super::lists::Filter;
use super::tx::{Cond, Tx, TxOutcome, Upd};
use super::{from_item, n, s, to_item, Item, Key, On, SkCond, Store, StoreError};
use crate::domain::payment_config::{view, ConfigFields, ConfigView, ProviderType};
use crate::integrations::kms::Sealed;
use crate::paging::CursorPage;

/// Label of the configuration in its writes.
pub const CONFIG_LABEL: &str = "payment_config";
/// Label of the active pointer.
pub const ACTIVE_LABEL: &str = "active_payment_config";
/// Label of the pending-payments counter.
pub const REFS_LABEL: &str = "payment_config_refs";

/// A configuration as stored.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct ConfigRecord {
    pub id: u64,
    pub provider_type: ProviderType,
    pub is_active: bool,
    #[serde(flatten)]
    pub fields: ConfigFields,
    /// The secrets' masked forms (answered without opening the seal).
    pub masks: BTreeMap<String, String>,
    /// The secrets (`ConfigSecrets` as JSON), sealed for `PAYCFG#<id>`.
    pub sealed: Sealed,
    pub creator: u64,
    pub updater: u64,
    pub created_at: String,
    pub updated_at: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deleted_at: Option<String>,
    pub version: i64,
}

impl ConfigRecord {
    /// The answered form.
    pub fn view(&self) -> ConfigView {
        view(
            self.id,
            self.provider_type,
            self.is_active,
            &self.fields,
            &self.masks,
            (
                self.creator,
                self.updater,
                &self.created_at,
                &self.updated_at,
            ),
        )
    }
}

/// The encryption context of configuration `id`'s sealed secrets.
pub fn seal_context(id: u64) -> String {
    format!("PAYCFG#{id}")
}

fn config_key(id: u64) -> Key {
    Key::new(format!("PAYCFG#{id}"), ENTITY)
}

fn refs_key(id: u64) -> Key {
    Key::new(format!("PAYCFG#{id}"), "REFS")
}

fn active_key() -> Key {
    Key::new("PAYCFG#ACTIVE", ENTITY)
}

const CONFIGS: &str = "PAYCFGS";

fn payment_key_partition(key_id: &str) -> String {
    format!("PAYKEY#{key_id}")
}

fn record_item(r: &ConfigRecord) -> Result<Item, StoreError> {
    let mut item = to_item(r, &config_key(r.id))?;
    if r.deleted_at.is_none() {
        item.insert("gsi2pk".into(), s(CONFIGS));
        item.insert("gsi2sk".into(), s(format!("{:020}", r.id)));
    }
    if !r.fields.wx_pay_public_key_id.is_empty() {
        item.insert(
            "gsi1pk".into(),
            s(payment_key_partition(&r.fields.wx_pay_public_key_id)),
        );
        item.insert("gsi1sk".into(), s(format!("{:020}", r.id)));
    }
    Ok(item)
}

/// Filters of the configuration list.
#[derive(Clone, Debug, Default)]
pub struct ConfigQuery {
    pub provider_type: Option<ProviderType>,
    pub is_active: Option<bool>,
    /// Part of the name.
    pub name: Option<String>,
}

/// Adds to `tx` one more pending payment under configuration `id`, on condition that
/// the configuration is live and active (a payment never starts under a configuration
/// being switched off or deleted).
pub fn reference_ops(tx: Tx, id: u64) -> Tx {
    tx.update(
        REFS_LABEL,
        &refs_key(id),
        Upd::new("ADD pending :one").value(":one", n(1)),
        None,
    )
    .check(
        CONFIG_LABEL,
        &config_key(id),
        Cond::new("attribute_exists(pk) AND attribute_not_exists(deleted_at) AND is_active = :yes")
            .value(":yes", aws_sdk_dynamodb::types::AttributeValue::Bool(true)),
    )
}

/// Adds to `tx` one pending payment less under configuration `id` (the payment was
/// completed or cancelled).
pub fn release_ops(tx: Tx, id: u64) -> Tx {
    tx.update(
        REFS_LABEL,
        &refs_key(id),
        Upd::new("ADD pending :minus").value(":minus", n(-1)),
        None,
    )
}

/// Why a configuration could not be changed.
#[derive(Debug, PartialEq, Eq)]
pub enum ConfigRefusal {
    /// No such configuration, or deleted.
    Missing,
    /// It is active.
    Active,
    /// Pending payments reference it.
    Referenced,
    /// Someone else changed it meanwhile.
    Changed,
}

impl Store {
    /// Creates configuration `r` (a new id).
    pub async fn create_payment_config(&self, r: &ConfigRecord) -> Result<(), StoreError> {
        self.put_new(CONFIG_LABEL, record_item(r)?).await
    }

    /// Configuration `id`, deleted or not.
    pub async fn payment_config(&self, id: u64) -> Result<Option<ConfigRecord>, StoreError> {
        self.get_as(&config_key(id)).await
    }

    /// The configurations whose WeChat Pay public key id is `key_id` (deleted ones
    /// too: notifications of their payments still arrive), oldest first.
    pub async fn payment_configs_by_key(
        &self,
        key_id: &str,
    ) -> Result<Vec<ConfigRecord>, StoreError> {
        let source = Source::scope(On::Gsi1, payment_key_partition(key_id), SkCond::Any);
        let page = self
            .read_page(&source, None, 20, Cursor::default(), |_: &ConfigRecord| {
                true
            })
            .await?;
        Ok(page.list)
    }

    /// The id of the active configuration, if any.
    pub async fn active_payment_config_id(&self) -> Result<Option<u64>, StoreError> {
        Ok(self
            .get(&active_key())
            .await?
            .and_then(|item| super::num_attr(&item, "config_id"))
            .and_then(|id| u64::try_from(id).ok()))
    }

    /// Replaces configuration `r` (content changed) if its stored version is still
    /// `r.version - 1` and it is not deleted.
    pub async fn replace_payment_config(&self, r: &ConfigRecord) -> Result<(), ConfigRefusal> {
        let cond = Cond::version(r.version - 1).and(Cond::live());
        match self
            .put_if(
                CONFIG_LABEL,
                record_item(r).map_err(|_| ConfigRefusal::Changed)?,
                cond,
            )
            .await
        {
            Ok(()) => Ok(()),
            Err(StoreError::ConditionFailed { old: Some(_), .. }) => Err(ConfigRefusal::Changed),
            Err(_) => Err(ConfigRefusal::Missing),
        }
    }

    /// Makes `id` the active configuration in one transaction: the pointer moves
    /// from `current` (read just before) to `id`, `current` is switched off and `id`
    /// on. `Err(Changed)` when the pointer moved meanwhile (read it again and retry),
    /// `Err(Missing)` when `id` is gone.
    pub async fn activate_payment_config(
        &self,
        id: u64,
        current: Option<u64>,
        at: &str,
        by: u64,
    ) -> Result<Result<(), ConfigRefusal>, StoreError> {
        let pointer = Item::from([
            ("pk".to_string(), s(active_key().pk)),
            ("sk".to_string(), s(ENTITY)),
            ("config_id".to_string(), n(id)),
            ("updated_at".to_string(), s(at)),
        ]);
        let pointer_cond = match current {
            Some(old) => Cond::new("config_id = :old").value(":old", n(old)),
            None => Cond::absent(),
        };
        let switch = |on: bool| {
            Upd::new("SET is_active = :on, updated_at = :at, updater = :by ADD version :one")
                .value(":on", aws_sdk_dynamodb::types::AttributeValue::Bool(on))
                .value(":at", s(at))
                .value(":by", n(by))
                .value(":one", n(1))
        };
        let mut tx = Tx::new()
            .put(ACTIVE_LABEL, pointer, Some(pointer_cond))
            .update(
                CONFIG_LABEL,
                &config_key(id),
                switch(true),
                Some(Cond::live()),
            );
        if let Some(old) = current.filter(|old| *old != id) {
            tx = tx.update("previous_config", &config_key(old), switch(false), None);
        }
        Ok(match self.transact_each(tx).await? {
            TxOutcome::Written => Ok(()),
            TxOutcome::Cancelled(failed) if failed.iter().any(|f| f.label == CONFIG_LABEL) => {
                Err(ConfigRefusal::Missing)
            }
            TxOutcome::Cancelled(_) => Err(ConfigRefusal::Changed),
        })
    }

    /// Switches configuration `id` off and clears the pointer, on condition that it
    /// is the active one. `Err(Missing)` when it is not (or is gone).
    pub async fn deactivate_payment_config(
        &self,
        id: u64,
        at: &str,
        by: u64,
    ) -> Result<Result<(), ConfigRefusal>, StoreError> {
        let upd =
            Upd::new("SET is_active = :off, updated_at = :at, updater = :by ADD version :one")
                .value(":off", aws_sdk_dynamodb::types::AttributeValue::Bool(false))
                .value(":at", s(at))
                .value(":by", n(by))
                .value(":one", n(1));
        let tx = Tx::new()
            .delete(
                ACTIVE_LABEL,
                &active_key(),
                Some(Cond::new("config_id = :id").value(":id", n(id))),
            )
            .update(CONFIG_LABEL, &config_key(id), upd, Some(Cond::live()));
        Ok(match self.transact_each(tx).await? {
            TxOutcome::Written => Ok(()),
            TxOutcome::Cancelled(_) => Err(ConfigRefusal::Missing),
        })
    }

    /// Soft-deletes configuration `id` in one transaction, on condition that it is
    /// live, not active and referenced by no pending payment; the refusal says which
    /// condition failed.
    pub async fn delete_payment_config(
        &self,
        id: u64,
        at: &str,
        by: u64,
    ) -> Result<Result<(), ConfigRefusal>, StoreError> {
        let upd = Upd::new(
            "SET deleted_at = :at, updated_at = :at, updater = :by REMOVE gsi2pk, gsi2sk ADD version :one",
        )
        .value(":at", s(at))
        .value(":by", n(by))
        .value(":one", n(1));
        let cond = Cond::live().and(
            Cond::new("is_active = :no")
                .value(":no", aws_sdk_dynamodb::types::AttributeValue::Bool(false)),
        );
        let tx = Tx::new()
            .update(CONFIG_LABEL, &config_key(id), upd, Some(cond))
            .check(
                REFS_LABEL,
                &refs_key(id),
                Cond::new("attribute_not_exists(pk) OR pending <= :zero").value(":zero", n(0)),
            );
        Ok(match self.transact_each(tx).await? {
            TxOutcome::Written => Ok(()),
            TxOutcome::Cancelled(failed) => {
                let config = failed.iter().find(|f| f.label == CONFIG_LABEL);
                match config.map(|f| f.old.clone()) {
                    None => Err(ConfigRefusal::Referenced),
                    Some(None) => Err(ConfigRefusal::Missing),
                    Some(Some(old)) => match from_item::<ConfigRecord>(old) {
                        Ok(r) if r.deleted_at.is_some() => Err(ConfigRefusal::Missing),
                        Ok(r) if r.is_active => Err(ConfigRefusal::Active),
                        _ => Err(ConfigRefusal::Changed),
                    },
                }
            }
        })
    }

    /// One page of the live configurations, newest first.
    pub async fn payment_config_page(
        &self,
        q: &ConfigQuery,
        page_size: u32,
        cursor: Cursor,
    ) -> Result<CursorPage<ConfigRecord>, StoreError> {
        let source = Source::scope(On::Gsi2, CONFIGS.to_string(), SkCond::Any).backward();
        let filter = Filter::new()
            .eq_str("provider_type", q.provider_type.map(ProviderType::as_str))
            .contains("name", q.name.as_deref());
        let active = q.is_active;
        self.read_page(
            &source,
            filter.cond(),
            page_size,
            cursor,
            move |r: &ConfigRecord| active.is_none_or(|a| a == r.is_active),
        )
        .await
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn keys() {
        assert_eq!(super::config_key(7).pk, "PAYCFG#7");
        assert_eq!(super::refs_key(7).sk, "REFS");
        assert_eq!(super::active_key().pk, "PAYCFG#ACTIVE");
    }
}
