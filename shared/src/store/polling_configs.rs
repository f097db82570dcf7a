//! Polling configurations (api.md §23), one per task type, and the shape they share
//! with the cleanup configurations: a configuration keyed by its name and a pointer
//! from its numeric id.
//!
//! - `POLLCFG#<task_type>` / `#`: the [`PollingConfig`] (its serde fields). The
//!   dispatcher reads it with one GetItem ([`Store::polling_config`]); absent means
//!   the task type's defaults apply.
//! - `POLLCFGID#<id>` / `#`: `task_type`, so the `{id}` routes find the configuration.
//!
//! Both are created and deleted together in one transaction; the create's condition
//! (the name's item absent) is what allows one configuration per task type. Changes
//! are conditional on the stored `version` and `id` inside the write.

use serde::de::DeserializeOwned;
use serde::Serialize;

use super::keys::{polling_config, polling_config_id};
use super::tx::{Cond, Tx, TxOutcome};
use super::{from_item, n, s, str_attr, to_item, Key, Store, StoreError};
use crate::domain::polling::{PollingConfig, TaskType};

/// Label of a configuration item in its writes.
pub const CONFIG_LABEL: &str = "named_config";
/// Label of an id pointer in its writes.
pub const POINTER_LABEL: &str = "named_config_id";

/// Why a named configuration could not be written.
#[derive(Debug, PartialEq, Eq)]
pub enum SlotRefusal {
    /// The name already has a configuration (create).
    Exists,
    /// No such configuration (deleted meanwhile).
    Missing,
    /// Someone else changed it meanwhile.
    Changed,
}

/// Where a named configuration lives: its item and its id pointer.
pub(crate) struct Slot {
    pub key: Key,
    pub pointer: Key,
    /// The pointer's attribute holding the name.
    pub name_attr: &'static str,
    pub name: String,
}

fn id_matches(id: u64) -> Cond {
    Cond::new("#cfg_id = :cfg_id")
        .name("#cfg_id", "id")
        .value(":cfg_id", n(id))
}

fn refusal(outcome: TxOutcome) -> Result<(), SlotRefusal> {
    match outcome {
        TxOutcome::Written => Ok(()),
        TxOutcome::Cancelled(failed) => match failed.first() {
            Some(f) if f.label == CONFIG_LABEL && f.old.is_some() => Err(SlotRefusal::Changed),
            Some(f) if f.label == CONFIG_LABEL => Err(SlotRefusal::Missing),
            _ => Err(SlotRefusal::Changed),
        },
    }
}

impl Store {
    /// Creates `value` (id `id`) in `slot` with its pointer, on condition that the
    /// name has no configuration.
    pub(crate) async fn create_slot<T: Serialize>(
        &self,
        slot: &Slot,
        id: u64,
        value: &T,
    ) -> Result<Result<(), SlotRefusal>, StoreError> {
        let mut pointer = slot.pointer.item();
        pointer.insert(slot.name_attr.into(), s(&slot.name));
        pointer.insert("id".into(), n(id));
        let tx = Tx::new()
            .put_new(CONFIG_LABEL, to_item(value, &slot.key)?)
            .put_new(POINTER_LABEL, pointer);
        Ok(match self.transact_each(tx).await? {
            TxOutcome::Written => Ok(()),
            TxOutcome::Cancelled(failed) if failed.iter().any(|f| f.label == CONFIG_LABEL) => {
                Err(SlotRefusal::Exists)
            }
            // A pointer of this id exists: ids are never reused, so a retry wrote it.
            TxOutcome::Cancelled(_) => Err(SlotRefusal::Changed),
        })
    }

    /// Replaces the configuration in `slot` with `value` (id `id`, version
    /// `version`), on condition that the stored one is `id` at `version - 1`.
    pub(crate) async fn replace_slot<T: Serialize>(
        &self,
        slot: &Slot,
        id: u64,
        version: i64,
        value: &T,
    ) -> Result<Result<(), SlotRefusal>, StoreError> {
        let cond = Cond::version(version - 1).and(id_matches(id));
        match self
            .put_if(CONFIG_LABEL, to_item(value, &slot.key)?, cond)
            .await
        {
            Ok(()) => Ok(Ok(())),
            Err(StoreError::ConditionFailed { old: Some(_), .. }) => Ok(Err(SlotRefusal::Changed)),
            Err(StoreError::ConditionFailed { old: None, .. }) => Ok(Err(SlotRefusal::Missing)),
            Err(e) => Err(e),
        }
    }

    /// Deletes the configuration in `slot` and its pointer in one transaction, on
    /// condition that it is still `id` at `version`.
    pub(crate) async fn delete_slot(
        &self,
        slot: &Slot,
        id: u64,
        version: i64,
    ) -> Result<Result<(), SlotRefusal>, StoreError> {
        let tx = Tx::new()
            .delete(
                CONFIG_LABEL,
                &slot.key,
                Some(Cond::version(version).and(id_matches(id))),
            )
            .delete(POINTER_LABEL, &slot.pointer, None);
        Ok(refusal(self.transact_each(tx).await?))
    }

    /// The name pointer `pointer` holds in `name_attr`, if it exists.
    pub(crate) async fn slot_name(
        &self,
        pointer: &Key,
        name_attr: &str,
    ) -> Result<Option<String>, StoreError> {
        Ok(self
            .get(pointer)
            .await?
            .and_then(|item| str_attr(&item, name_attr).map(str::to_string)))
    }

    /// The items at `keys` decoded, in no particular order (one BatchGetItem).
    pub(crate) async fn slots_at<T: DeserializeOwned>(
        &self,
        keys: &[Key],
    ) -> Result<Vec<T>, StoreError> {
        self.get_many(keys)
            .await?
            .into_iter()
            .map(from_item::<T>)
            .collect()
    }
}

fn slot(task: TaskType, id: u64) -> Slot {
    Slot {
        key: polling_config(task),
        pointer: polling_config_id(id),
        name_attr: "task_type",
        name: task.as_str().to_string(),
    }
}

impl Store {
    /// The polling configuration of `task` (one GetItem); `None`: defaults apply.
    pub async fn polling_config(
        &self,
        task: TaskType,
    ) -> Result<Option<PollingConfig>, StoreError> {
        self.get_as(&polling_config(task)).await
    }

    /// Every polling configuration, in task-type order (one BatchGetItem).
    pub async fn polling_configs(&self) -> Result<Vec<PollingConfig>, StoreError> {
        let keys: Vec<Key> = TaskType::ALL.into_iter().map(polling_config).collect();
        let mut all: Vec<PollingConfig> = self.slots_at(&keys).await?;
        all.sort_by_key(|c| c.task_type);
        Ok(all)
    }

    /// Polling configuration `id` (its pointer, then the configuration).
    pub async fn polling_config_by_id(&self, id: u64) -> Result<Option<PollingConfig>, StoreError> {
        let Some(name) = self.slot_name(&polling_config_id(id), "task_type").await? else {
            return Ok(None);
        };
        let Some(task) = TaskType::parse(&name) else {
            return Ok(None);
        };
        Ok(self.polling_config(task).await?.filter(|c| c.id == id))
    }

    /// Creates `c`: refused with `Exists` when its task type has a configuration.
    pub async fn create_polling_config(
        &self,
        c: &PollingConfig,
    ) -> Result<Result<(), SlotRefusal>, StoreError> {
        self.create_slot(&slot(c.task_type, c.id), c.id, c).await
    }

    /// Replaces `c` (its version already moved on by one).
    pub async fn replace_polling_config(
        &self,
        c: &PollingConfig,
    ) -> Result<Result<(), SlotRefusal>, StoreError> {
        self.replace_slot(&slot(c.task_type, c.id), c.id, c.version, c)
            .await
    }

    /// Deletes `c` (as read, at its version) and its pointer.
    pub async fn delete_polling_config(
        &self,
        c: &PollingConfig,
    ) -> Result<Result<(), SlotRefusal>, StoreError> {
        self.delete_slot(&slot(c.task_type, c.id), c.id, c.version)
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_follow_the_contract() {
        assert_eq!(polling_config(TaskType::Carddata).pk, "POLLCFG#carddata");
        assert_eq!(polling_config(TaskType::Carddata).sk, "#");
        assert_eq!(polling_config_id(7).pk, "POLLCFGID#7");
    }
}
