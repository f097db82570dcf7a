//! Polling configurations: one item per task type (`POLLCFG#<task>`).

use super::{keys, Store, StoreError};
use crate::domain::polling::{PollingConfig, TaskType};

impl Store {
    /// The configuration of `task`, if one was created (one GetItem).
    pub async fn polling_config(
        &self,
        task: TaskType,
    ) -> Result<Option<PollingConfig>, StoreError> {
        self.get_as(&keys::polling_config(task)).await
    }
}
