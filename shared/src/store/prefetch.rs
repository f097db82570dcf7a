//! Items read ahead: keys a use case names before it runs, read in the same batch as
//! the request's authentication (one round trip and one call fewer), and handed to
//! the use case, which reads them itself when they were not read ahead.

use super::{Item, Key, Store, StoreError};

/// The items found for a set of keys read ahead (absent keys: no item).
#[derive(Clone, Debug, Default)]
pub struct Prefetched {
    keys: Vec<Key>,
    items: Vec<Item>,
}

impl Prefetched {
    /// What a batch read of `keys` found.
    pub fn new(keys: Vec<Key>, items: Vec<Item>) -> Self {
        Prefetched { keys, items }
    }

    /// The items of `wanted` if every one of its keys was read ahead.
    fn covering(&self, wanted: &[Key]) -> Option<Vec<Item>> {
        if !wanted.iter().all(|k| self.keys.contains(k)) {
            return None;
        }
        Some(
            self.items
                .iter()
                .filter(|i| wanted.iter().any(|k| k.matches(i)))
                .cloned()
                .collect(),
        )
    }
}

impl Store {
    /// Reads `keys` in one batch unless `ahead` already holds all of them.
    pub async fn get_many_ahead(
        &self,
        ahead: Option<&Prefetched>,
        keys: &[Key],
    ) -> Result<Vec<Item>, StoreError> {
        match ahead.and_then(|a| a.covering(keys)) {
            Some(items) => Ok(items),
            None => self.get_many(keys).await,
        }
    }
}
