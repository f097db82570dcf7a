//! List paging: every list answers one page read by key in DynamoDB, `page_size`
//! items at most, and an opaque `next_cursor` to resume after it.
//!
//! A page costs a fixed number of calls whatever the size of the list (see
//! `docs/data-model.md`, "Lists and paging"). `total` is answered only where it is a
//! maintained counter: when the list is filtered by the caller's scope alone.
//! Filtered lists answer `total: null` and say with `has_more` whether reading
//! should go on. `page` is accepted for the existing front end only as 1.

use serde::{Deserialize, Serialize};

use crate::domain::validate::Invalid;
use crate::store::cursor::Cursor;

/// Default page size.
pub const DEFAULT_PAGE_SIZE: u32 = 20;
/// Largest page size accepted.
pub const MAX_PAGE_SIZE: u32 = 100;

/// Paging parameters of a list request.
#[derive(Clone, Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageQuery {
    /// Accepted only as 1 (the first page); later pages are read with `cursor`.
    pub page: Option<u32>,
    /// Items per page (default 20, at most 100).
    pub page_size: Option<u32>,
    /// `next_cursor` of the previous page (absent = from the start).
    pub cursor: Option<String>,
}

/// One page of a list.
#[derive(Debug, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
pub struct CursorPage<T> {
    /// The items of this page.
    pub list: Vec<T>,
    /// Page size used.
    pub page_size: u32,
    /// Pass as `cursor` for the next page; `null` on the last page.
    pub next_cursor: Option<String>,
    /// Whether a next page exists (`next_cursor` is not null). A filtered list may
    /// answer short pages, and its last page may be empty.
    pub has_more: bool,
    /// Items in the caller's scope, from a maintained counter; `null` when the list
    /// is filtered by more than the scope (or keeps no counter).
    pub total: Option<u64>,
}

impl<T> CursorPage<T> {
    /// A page of `list` continuing at `next` (none: the last page), without total.
    pub fn new(list: Vec<T>, page_size: u32, next: Option<String>) -> Self {
        CursorPage {
            list,
            page_size,
            has_more: next.is_some(),
            next_cursor: next,
            total: None,
        }
    }

    /// An empty last page.
    pub fn empty(page_size: u32) -> Self {
        Self::new(Vec::new(), page_size, None)
    }

    /// The same page with `total` set.
    pub fn with_total(mut self, total: Option<u64>) -> Self {
        self.total = total;
        self
    }

    /// The same page with its items converted.
    pub fn map<U>(self, f: impl FnMut(T) -> U) -> CursorPage<U> {
        CursorPage {
            list: self.list.into_iter().map(f).collect(),
            page_size: self.page_size,
            next_cursor: self.next_cursor,
            has_more: self.has_more,
            total: self.total,
        }
    }

    /// The same position with other items (built from this page's).
    pub fn with_list<U>(self, list: Vec<U>) -> CursorPage<U> {
        CursorPage {
            list,
            page_size: self.page_size,
            next_cursor: self.next_cursor,
            has_more: self.has_more,
            total: self.total,
        }
    }
}

impl PageQuery {
    /// The position and size of the requested page; `page` other than 1, a page
    /// size out of 1..=100 or a malformed cursor answer `1001`.
    pub fn parse(&self) -> Result<(Cursor, u32), Invalid> {
        match self.page {
            None | Some(1) => {}
            Some(0) => {
                return Err(Invalid::new(
                    "page须为1(后续页请使用cursor)",
                    "page must be 1 (read later pages with cursor)",
                ))
            }
            Some(_) => {
                return Err(Invalid::new(
                    "不支持page大于1:请将上一页返回的next_cursor作为cursor传入",
                    "page > 1 is not supported: pass the previous page's next_cursor as cursor",
                ))
            }
        }
        page_params(self.cursor.as_deref(), self.page_size)
    }
}

/// The position and size of a cursor page: the cursor decoded (start when absent),
/// the page size checked (default 20, 1..=100).
pub fn page_params(cursor: Option<&str>, page_size: Option<u32>) -> Result<(Cursor, u32), Invalid> {
    let page_size = page_size.unwrap_or(DEFAULT_PAGE_SIZE);
    if !(1..=MAX_PAGE_SIZE).contains(&page_size) {
        return Err(Invalid::new(
            format!("page_size须为1-{MAX_PAGE_SIZE}"),
            format!("page_size must be 1..={MAX_PAGE_SIZE}"),
        ));
    }
    let cursor = match cursor {
        Some(raw) => {
            Cursor::decode(raw).ok_or_else(|| Invalid::new("cursor无效", "invalid cursor"))?
        }
        None => Cursor::default(),
    };
    Ok((cursor, page_size))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(page: Option<u32>, size: Option<u32>, cursor: Option<&str>) -> PageQuery {
        PageQuery {
            page,
            page_size: size,
            cursor: cursor.map(str::to_string),
        }
    }

    #[test]
    fn only_the_first_page_is_addressed_by_number() {
        assert_eq!(q(None, None, None).parse().unwrap().1, DEFAULT_PAGE_SIZE);
        assert_eq!(q(Some(1), Some(100), None).parse().unwrap().1, 100);
        for bad in [
            q(Some(2), None, None),
            q(Some(0), None, None),
            q(None, Some(0), None),
            q(None, Some(101), None),
            q(None, None, Some("zz")),
        ] {
            assert!(bad.parse().is_err(), "{bad:?}");
        }
        let c = Cursor::start_of(3).encode();
        assert_eq!(q(None, None, Some(&c)).parse().unwrap().0.shard, 3);
    }
}
