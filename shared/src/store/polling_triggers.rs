//! Manual polling trigger logs (jobs.md J9): item `POLLTRIG#<id>`, listed newest
//! first through `gsi2pk = POLLTRIGS` (sort key = padded id).

use serde::{Deserialize, Serialize};

use super::cursor::{Cursor, Source};
use super::keys;
use super::{s, to_item, On, SkCond, Store, StoreError};
use crate::domain::polling::{TaskType, TriggerFilters};
use crate::paging::CursorPage;

/// One manual trigger.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct TriggerLog {
    pub id: u64,
    pub task_type: TaskType,
    /// `iot_card_ids`, `iccids`, `shop_id` or `filters`.
    pub selector: String,
    /// The shop whose own cards were selected (`shop_id` selector).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shop_id: Option<u64>,
    /// The filters the cards were selected by (`filters` selector).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filters: Option<TriggerFilters>,
    /// Cards queued (after de-duplication; unknown identifiers are not counted).
    pub card_count: u64,
    /// Identifiers that named no live card.
    pub not_found: Vec<String>,
    pub operator_id: u64,
    pub created_at: String,
}

impl Store {
    /// Stores a trigger log.
    pub async fn put_trigger_log(&self, log: &TriggerLog) -> Result<(), StoreError> {
        let mut item = to_item(log, &keys::poll_trigger(log.id))?;
        item.insert("gsi2pk".into(), s(keys::POLL_TRIGGERS));
        item.insert("gsi2sk".into(), s(format!("{:020}", log.id)));
        self.put_new("trigger", item).await
    }

    /// Trigger logs, newest first.
    pub async fn trigger_logs(
        &self,
        page_size: u32,
        cursor: Cursor,
    ) -> Result<CursorPage<TriggerLog>, StoreError> {
        let source =
            Source::scope(On::Gsi2, keys::POLL_TRIGGERS.to_string(), SkCond::Any).backward();
        self.read_page(&source, None, page_size, cursor, |_: &TriggerLog| true)
            .await
    }
}
