//! List paging: `page` / `page_size` with `total` (domain.md §9.2) and cursor pages.
//!
//! Organisation lists (shops, accounts, enterprises, roles) are bounded per scope, so
//! they are read with one Query over the caller's subtree, filtered, counted and then
//! sliced here; see `docs/data-model.md` for the bounds.

use serde::{Deserialize, Serialize};

use crate::codes::{BusinessError, Code, Text};
use crate::domain::validate::Invalid;

/// Default page size.
pub const DEFAULT_PAGE_SIZE: u32 = 20;
/// Largest page size accepted.
pub const MAX_PAGE_SIZE: u32 = 100;

/// Paging parameters of a list request.
#[derive(Clone, Copy, Debug, Deserialize)]
pub struct PageQuery {
    /// 1-based page number (default 1).
    pub page: Option<u32>,
    /// Items per page (default 20, at most 100).
    pub page_size: Option<u32>,
}

/// One page of a list.
#[derive(Debug, Serialize, Deserialize, PartialEq)]
pub struct Paged<T> {
    /// The items of this page.
    pub list: Vec<T>,
    /// Items matching the filters, over all pages.
    pub total: usize,
    /// This page's number.
    pub page: u32,
    /// Page size used.
    pub page_size: u32,
}

/// One page of a list read by cursor.
#[derive(Debug, Serialize, Deserialize, PartialEq)]
pub struct CursorPage<T> {
    /// The items of this page.
    pub list: Vec<T>,
    /// Page size used.
    pub page_size: u32,
    /// Pass as `cursor` for the next page; absent on the last page.
    pub next_cursor: Option<String>,
}

/// Paging parameters out of range (answers `1001`); a use case converts it into its
/// own validation error.
#[derive(Debug, thiserror::Error, PartialEq)]
#[error("page must be >= 1 and page_size 1..=100")]
pub struct InvalidPage;

impl BusinessError for InvalidPage {
    fn code(&self) -> Code {
        Code::INVALID_PARAM
    }

    fn detail(&self) -> Option<Text> {
        Some(Invalid::from(InvalidPage).text().clone())
    }
}

impl From<InvalidPage> for Invalid {
    fn from(e: InvalidPage) -> Self {
        Invalid::new(
            format!("page须大于等于1,page_size须为1-{MAX_PAGE_SIZE}"),
            e.to_string(),
        )
    }
}

impl PageQuery {
    /// Checks the bounds.
    pub fn validated(self) -> Result<(u32, u32), InvalidPage> {
        let page = self.page.unwrap_or(1);
        let size = self.page_size.unwrap_or(DEFAULT_PAGE_SIZE);
        if page == 0 || size == 0 || size > MAX_PAGE_SIZE {
            return Err(InvalidPage);
        }
        Ok((page, size))
    }

    /// Slices `items` into the requested page.
    pub fn paginate<T>(self, items: Vec<T>) -> Result<Paged<T>, InvalidPage> {
        let (page, page_size) = self.validated()?;
        let total = items.len();
        let list = items
            .into_iter()
            .skip(((page - 1) * page_size) as usize)
            .take(page_size as usize)
            .collect();
        Ok(Paged {
            list,
            total,
            page,
            page_size,
        })
    }
}
