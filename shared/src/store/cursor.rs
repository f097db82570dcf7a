//! Cursor-paged reads over one partition or several (the shards of a platform-wide
//! list). Partitions are read in order; a page is filled across them until it holds
//! `page_size` items or every partition is exhausted, and its cursor names the
//! partition being read and the key where it stopped, so the next page resumes
//! exactly there (no item twice, none skipped). Selections read every page of
//! several queries at once, up to a cap.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use super::tx::Cond;
use super::{from_item, Item, On, Query, SkCond, Store, StoreError};
use crate::paging::CursorPage;

/// Query calls a page may spend, beyond one per partition it reaches, on partitions
/// whose items a filter drops (an unfiltered page never needs them).
pub const MAX_REFILLS_PER_PAGE: usize = 1;

/// Items read per Query when a filter may drop some (DynamoDB applies `Limit` before
/// the filter).
const FILTERED_BATCH: usize = 100;

/// The key attributes of `item` on `on` (an `ExclusiveStartKey` resuming after it).
fn key_of(item: &Item, on: On) -> Item {
    let names: &[&str] = match on {
        On::Table => &["pk", "sk"],
        On::Gsi1 => &["pk", "sk", "gsi1pk", "gsi1sk"],
        On::Gsi2 => &["pk", "sk", "gsi2pk", "gsi2sk"],
        On::Gsi3 => &["pk", "sk", "gsi3pk", "gsi3sk"],
        On::Gsi4 => &["pk", "sk", "gsi4pk", "gsi4sk"],
        On::Gsi5 => &["pk", "sk", "gsi5pk", "gsi5sk"],
    };
    names
        .iter()
        .filter_map(|n| item.get(*n).map(|v| (n.to_string(), v.clone())))
        .collect()
}

/// Opaque position in a paged list: the partition being read and where it stopped.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct Cursor {
    /// Index of the partition (shard) being read (0 for single-partition lists).
    pub shard: u32,
    /// Last evaluated key in that partition (string attributes only); `None` = from
    /// its start.
    pub key: Option<HashMap<String, String>>,
}

impl Cursor {
    /// Encodes for the `next_cursor` field.
    pub fn encode(&self) -> String {
        hex::encode(serde_json::to_vec(self).unwrap_or_default())
    }

    /// Decodes a `cursor` parameter; `None` when malformed.
    pub fn decode(raw: &str) -> Option<Cursor> {
        serde_json::from_slice(&hex::decode(raw).ok()?).ok()
    }

    /// The DynamoDB start key.
    pub fn start_key(&self) -> Option<Item> {
        self.key.as_ref().map(|k| {
            k.iter()
                .map(|(n, v)| (n.clone(), AttributeValue::S(v.clone())))
                .collect()
        })
    }

    /// A cursor at `shard` continuing after `key`.
    pub fn after(shard: u32, key: &Item) -> Cursor {
        let key = key
            .iter()
            .filter_map(|(n, v)| v.as_s().ok().map(|s| (n.clone(), s.clone())))
            .collect();
        Cursor {
            shard,
            key: Some(key),
        }
    }

    /// A cursor at the start of partition `shard`.
    pub fn start_of(shard: u32) -> Cursor {
        Cursor { shard, key: None }
    }
}

/// Where a paged list reads from.
#[derive(Clone, Debug)]
pub struct Source {
    /// Table or index.
    pub on: On,
    /// Partitions in reading order (one per shard for platform-wide lists).
    pub partitions: Vec<String>,
    /// Sort-key condition, the same in every partition.
    pub sk: SkCond,
    /// Reads each partition from its highest sort key down.
    pub backward: bool,
    /// Most Query calls one page may spend; `None`: one per partition it reaches
    /// plus [`MAX_REFILLS_PER_PAGE`].
    pub max_queries: Option<usize>,
    /// Items read per Query when a filter may drop some.
    pub filtered_batch: usize,
}

/// Query calls a page of a single-partition list (organisation, catalogue, logs)
/// spends at most.
pub const SCOPE_PAGE_QUERIES: usize = 2;

/// Items a filtered page of a single-partition list reads per Query: a selective
/// filter still finds matches among 2 × 500 items, and a page never reads more.
pub const SCOPE_FILTERED_BATCH: usize = 500;

impl Source {
    /// Reads `partitions` in order, forward, within the default budget.
    /// A single partition spends at most [`SCOPE_PAGE_QUERIES`] Query calls a page.
    pub fn new(on: On, partitions: Vec<String>, sk: SkCond) -> Self {
        Source {
            on,
            max_queries: (partitions.len() == 1).then_some(SCOPE_PAGE_QUERIES),
            partitions,
            sk,
            backward: false,
            filtered_batch: FILTERED_BATCH,
        }
    }

    /// One partition read forward, at most [`SCOPE_PAGE_QUERIES`] Query calls a page
    /// (a filtered page reads [`SCOPE_FILTERED_BATCH`] items per call).
    pub fn scope(on: On, partition: String, sk: SkCond) -> Self {
        Source {
            max_queries: Some(SCOPE_PAGE_QUERIES),
            filtered_batch: SCOPE_FILTERED_BATCH,
            ..Source::new(on, vec![partition], sk)
        }
    }

    /// The same source read from the highest sort key down.
    pub fn backward(mut self) -> Self {
        self.backward = true;
        self
    }

    /// Whether `cursor` is a position in this source: a partition it reads and, when
    /// the cursor names a key, exactly the key attributes of an item of that
    /// partition within the sort-key condition. A cursor of another list (or a forged
    /// one) fails here rather than in DynamoDB.
    pub fn admits(&self, cursor: &Cursor) -> bool {
        let Some(partition) = self.partitions.get(cursor.shard as usize) else {
            return false;
        };
        let Some(key) = &cursor.key else {
            return true;
        };
        let (names, pk, sk): (&[&str], &str, &str) = match self.on {
            On::Table => (&["pk", "sk"], "pk", "sk"),
            On::Gsi1 => (&["pk", "sk", "gsi1pk", "gsi1sk"], "gsi1pk", "gsi1sk"),
            On::Gsi2 => (&["pk", "sk", "gsi2pk", "gsi2sk"], "gsi2pk", "gsi2sk"),
            On::Gsi3 => (&["pk", "sk", "gsi3pk", "gsi3sk"], "gsi3pk", "gsi3sk"),
            On::Gsi4 => (&["pk", "sk", "gsi4pk", "gsi4sk"], "gsi4pk", "gsi4sk"),
            On::Gsi5 => (&["pk", "sk", "gsi5pk", "gsi5sk"], "gsi5pk", "gsi5sk"),
        };
        let sort = key.get(sk).map(String::as_str).unwrap_or_default();
        key.len() == names.len()
            && names.iter().all(|n| key.contains_key(*n))
            && key.get(pk) == Some(partition)
            && match &self.sk {
                SkCond::Any => true,
                SkCond::Prefix(p) => sort.starts_with(p.as_str()),
                SkCond::Between(from, to) => from.as_str() <= sort && sort <= to.as_str(),
            }
    }
}

impl Store {
    /// One page of `source` from `cursor`: items that pass `filter` (in DynamoDB) and
    /// `keep` (here), at most `page_size` (at least 1) of them. The page is short only
    /// when every partition is exhausted (no `next_cursor`) or when a filter dropped so
    /// much that the source's Query budget did not fill it. Without a filter a Query
    /// reads one item more than the page needs, so a page that ends a single-partition
    /// list says so (no `next_cursor`, `has_more` false).
    pub async fn read_page<T: DeserializeOwned>(
        &self,
        source: &Source,
        filter: Option<&Cond>,
        page_size: u32,
        mut cursor: Cursor,
        keep: impl Fn(&T) -> bool,
    ) -> Result<CursorPage<T>, StoreError> {
        if !source.admits(&cursor) {
            return Err(StoreError::BadCursor);
        }
        let wanted = page_size.max(1) as usize;
        let mut list: Vec<T> = Vec::new();
        let mut refills = 0;
        let mut queries = 0;
        loop {
            let Some(pk) = source.partitions.get(cursor.shard as usize) else {
                return Ok(page(list, page_size, None));
            };
            // A filter is applied after `Limit`: read a larger batch then, and cut
            // the page at the item that fills it (the cursor resumes right after it).
            let need = wanted - list.len();
            let limit = if filter.is_some() {
                need.max(source.filtered_batch)
            } else {
                need + 1
            };
            let q = Query {
                on: source.on,
                pk: pk.clone(),
                sk: source.sk.clone(),
                filter: filter.cloned(),
                limit: i32::try_from(limit).ok(),
                start: cursor.start_key(),
                backward: source.backward,
            };
            let (items, last) = self.query(&q).await?;
            queries += 1;
            let count = items.len();
            for (i, item) in items.into_iter().enumerate() {
                let key = key_of(&item, source.on);
                let t: T = from_item(item)?;
                if keep(&t) {
                    list.push(t);
                    if list.len() >= wanted && (i + 1 < count || last.is_some()) {
                        let next = Cursor::after(cursor.shard, &key);
                        return Ok(page(list, page_size, Some(next)));
                    }
                }
            }
            cursor = match last {
                Some(k) => {
                    refills += 1;
                    Cursor::after(cursor.shard, &k)
                }
                None => Cursor::start_of(cursor.shard + 1),
            };
            if cursor.shard as usize >= source.partitions.len() {
                return Ok(page(list, page_size, None));
            }
            let spent = match source.max_queries {
                Some(max) => queries >= max,
                None => refills > MAX_REFILLS_PER_PAGE,
            };
            if list.len() >= wanted || spent {
                return Ok(page(list, page_size, Some(cursor)));
            }
        }
    }
}

impl Store {
    /// Every item of `queries` (all their pages) that passes `keep`, in query order;
    /// reading stops as soon as more than `cap` items were kept, so a selection too
    /// large to act on costs no more than that.
    pub async fn read_all<T: DeserializeOwned>(
        &self,
        queries: Vec<Query>,
        cap: usize,
        keep: impl Fn(&T) -> bool,
    ) -> Result<Vec<T>, StoreError> {
        let mut list = Vec::new();
        for mut q in queries {
            loop {
                let (items, last) = self.query(&q).await?;
                for item in items {
                    let t: T = from_item(item)?;
                    if keep(&t) {
                        list.push(t);
                    }
                }
                if list.len() > cap {
                    return Ok(list);
                }
                match last {
                    Some(k) => q.start = Some(k),
                    None => break,
                }
            }
        }
        Ok(list)
    }

    /// One slice of a resumable read of `queries` in order, from `from` (the index
    /// of the query in `shard`, and the key where its last read stopped): the items
    /// that pass `keep`, at most `max` of them, in at most `calls` Query calls, and
    /// where the next slice starts (`None` once every query is read to its end).
    /// Each call asks for no more items than the slice still takes, so a slice ends
    /// where a call ended and no item is skipped or read twice across slices (items
    /// that left the key range meanwhile are simply not met again).
    pub async fn read_slice<T: DeserializeOwned>(
        &self,
        queries: &[Query],
        from: Cursor,
        max: usize,
        calls: usize,
        keep: impl Fn(&T) -> bool,
    ) -> Result<(Vec<T>, Option<Cursor>), StoreError> {
        let mut list = Vec::new();
        let mut at = from;
        for _ in 0..calls.max(1) {
            let Some(q) = queries.get(at.shard as usize) else {
                return Ok((list, None));
            };
            let mut q = q.clone();
            q.start = at.start_key();
            q.limit = i32::try_from(max.saturating_sub(list.len()).max(1)).ok();
            let (items, last) = self.query(&q).await?;
            for item in items {
                let t: T = from_item(item)?;
                if keep(&t) {
                    list.push(t);
                }
            }
            at = match last {
                Some(k) => Cursor::after(at.shard, &k),
                None => Cursor::start_of(at.shard + 1),
            };
            if at.shard as usize >= queries.len() {
                return Ok((list, None));
            }
            if list.len() >= max {
                break;
            }
        }
        Ok((list, Some(at)))
    }
}

fn page<T>(list: Vec<T>, page_size: u32, next: Option<Cursor>) -> CursorPage<T> {
    CursorPage::new(list, page_size, next.map(|c| c.encode()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::s;

    #[test]
    fn a_cursor_must_be_a_position_of_its_source() {
        let source = Source::scope(On::Gsi1, "SHOPS".into(), SkCond::Prefix("/1/".into()));
        let at = |pairs: &[(&str, &str)]| {
            let mut item = Item::new();
            for (k, v) in pairs {
                item.insert((*k).into(), s(*v));
            }
            Cursor::after(0, &item)
        };
        let key = [("pk", "SHOP#2"), ("sk", "#"), ("gsi1pk", "SHOPS")];
        let inside = [key.as_slice(), &[("gsi1sk", "/1/2/")]].concat();
        let outside = [key.as_slice(), &[("gsi1sk", "/3/")]].concat();
        assert!(source.admits(&Cursor::default()));
        assert!(source.admits(&at(&inside)));
        assert!(!source.admits(&at(&outside)), "outside the caller's prefix");
        assert!(!source.admits(&at(&key)), "a key attribute missing");
        let other = [
            ("pk", "A#1"),
            ("sk", "#"),
            ("gsi1pk", "ACCOUNTS"),
            ("gsi1sk", "/1/#A1"),
        ];
        assert!(!source.admits(&at(&other)), "another partition");
        assert!(!source.admits(&Cursor::start_of(1)), "no second partition");
    }

    #[test]
    fn cursor_round_trip() {
        let mut key = Item::new();
        key.insert("pk".into(), s("CARD#1"));
        let c = Cursor::after(4, &key);
        assert_eq!(Cursor::decode(&c.encode()), Some(c));
        assert_eq!(Cursor::decode("zz"), None);
        assert_eq!(
            Cursor::decode(&Cursor::start_of(2).encode()).unwrap().shard,
            2
        );
    }
}
