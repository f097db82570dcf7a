//! The polling backfill (docs/polling.md): item `POLLBACKFILL` / `#` holds the
//! position of the pass under way, and a scheduled card carries
//! `polling_scheduled = true` (set at import, or here once the backfill joined it).
//! The pass reads the platform-wide card index (`gsi2`, one partition per shard)
//! page by page, keeping live, polled cards without the marker.

use aws_sdk_dynamodb::types::AttributeValue;
use serde::{Deserialize, Serialize};

use super::asset_lists::{asset_list, ListFilter, ListScope};
use super::cursor::Cursor;
use super::tx::{Cond, Upd};
use super::{keys, n, to_item, Query, Store, StoreError};
use crate::domain::assets::AssetType;

/// Where the backfill stands.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct BackfillState {
    /// Position of the pass under way; `None`: the next call starts a pass.
    pub cursor: Option<Cursor>,
    /// Passes completed.
    pub passes: u64,
    /// Bumped by every save (0: never saved).
    pub version: i64,
}

/// The Queries of a backfill pass: every shard of the platform-wide card index,
/// filtered to live, polled cards without the marker.
pub fn unscheduled_cards() -> Vec<Query> {
    let (source, _) = asset_list(AssetType::Card, ListScope::All, &ListFilter::default());
    let filter = Cond::new(
        "attribute_not_exists(polling_scheduled) AND attribute_not_exists(deleted_at) \
         AND enable_polling = :polled",
    )
    .value(":polled", AttributeValue::Bool(true));
    source
        .partitions
        .iter()
        .map(|pk| Query {
            on: source.on,
            pk: pk.clone(),
            sk: source.sk.clone(),
            filter: Some(filter.clone()),
            limit: None,
            start: None,
            backward: false,
        })
        .collect()
}

impl Store {
    /// The backfill's position (the default before the first save).
    pub async fn backfill_state(&self) -> Result<BackfillState, StoreError> {
        Ok(self
            .get_as(&keys::poll_backfill())
            .await?
            .unwrap_or_default())
    }

    /// Saves `next` in place of `seen`, conditioned on `seen`'s version.
    /// `Ok(false)` when another run saved first (its position stands).
    pub async fn save_backfill(
        &self,
        seen: &BackfillState,
        next: &BackfillState,
    ) -> Result<bool, StoreError> {
        let item = to_item(next, &keys::poll_backfill())?;
        let cond = if seen.version == 0 {
            Cond::absent()
        } else {
            Cond::new("version = :seen").value(":seen", n(seen.version))
        };
        match self.put_if("backfill", item, cond).await {
            Ok(()) => Ok(true),
            Err(StoreError::ConditionFailed { .. }) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Marks cards `ids` scheduled: one update each (bumping the card's version),
    /// conditioned on the card existing (a card deleted meanwhile is skipped).
    pub async fn mark_polling_scheduled(&self, ids: &[u64]) -> Result<(), StoreError> {
        for &id in ids {
            // The version moves too, so a writer that read the card before puts it
            // back only after reading it again (keeping the marker).
            let upd = Upd::new("SET polling_scheduled = :yes ADD version :one")
                .value(":yes", AttributeValue::Bool(true))
                .value(":one", n(1));
            match self
                .update_if(
                    "card",
                    &keys::card(id),
                    upd,
                    Cond::new("attribute_exists(pk)"),
                )
                .await
            {
                Ok(()) | Err(StoreError::ConditionFailed { .. }) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }
}
