//! Cursor pagination for lists: `?limit=N&cursor=C`, answered with the page and the cursor of
//! the next one (absent on the last page). A cursor is opaque to clients.

use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::error::ApiError;

pub const DEFAULT_PAGE_SIZE: usize = 100;
pub const MAX_PAGE_SIZE: usize = 500;

#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct PageQuery {
    /// Items per page, 1–500 (default 100).
    pub limit: Option<usize>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

impl PageQuery {
    pub fn limit(&self) -> Result<usize, ApiError> {
        match self.limit {
            None => Ok(DEFAULT_PAGE_SIZE),
            Some(limit @ 1..=MAX_PAGE_SIZE) => Ok(limit),
            Some(_) => Err(ApiError::bad_request(format!(
                "limit must be between 1 and {MAX_PAGE_SIZE}"
            ))),
        }
    }

    /// The store key the page starts after.
    pub fn after(&self) -> Result<Option<String>, ApiError> {
        self.cursor
            .as_deref()
            .map(|cursor| {
                hex::decode(cursor)
                    .ok()
                    .and_then(|bytes| String::from_utf8(bytes).ok())
                    .ok_or_else(|| ApiError::bad_request("the cursor is not one this API gave out"))
            })
            .transpose()
    }
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Page<T> {
    pub items: Vec<T>,
    /// Pass as `cursor` for the next page; absent on the last one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

impl<T> Page<T> {
    /// A page from up to `limit + 1` keyed items: the extra one only says there is more.
    pub fn from_keyed(mut keyed: Vec<(String, T)>, limit: usize) -> Self {
        let more = keyed.len() > limit;
        keyed.truncate(limit);
        let next_cursor = more
            .then(|| keyed.last().map(|(key, _)| hex::encode(key.as_bytes())))
            .flatten();
        Page {
            items: keyed.into_iter().map(|(_, item)| item).collect(),
            next_cursor,
        }
    }
}
