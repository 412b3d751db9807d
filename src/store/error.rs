//! Why a store operation failed. Messages name files and tables, never stored values.

use std::path::PathBuf;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    #[error("cannot create the store's directory {path}: {reason}")]
    CreateDir { path: PathBuf, reason: String },

    #[error("cannot open store {path}: {reason}")]
    Open { path: PathBuf, reason: String },

    #[error("store {path} is already open (is the nuki-edge daemon running?)")]
    InUse { path: PathBuf },

    #[error("cannot restrict the permissions of store {path}: {reason}")]
    Permissions { path: PathBuf, reason: String },

    #[error(
        "store {path} has schema version {found}, newer than version {supported} that this \
         nuki-edge understands; use a newer nuki-edge"
    )]
    NewerSchema {
        path: PathBuf,
        found: u64,
        supported: u64,
    },

    #[error("store {path} has no valid schema version ({found})")]
    BadSchemaVersion { path: PathBuf, found: u64 },

    #[error("migrating store schema from version {from} failed: {reason}")]
    Migration { from: u64, reason: String },

    #[error("store database error: {0}")]
    Database(String),

    #[error("store record `{key}` in table `{table}` is unreadable")]
    Corrupt { table: &'static str, key: String },
}

/// redb's errors describe pages, files and locks, never the stored values, so their text is
/// safe to keep.
pub(crate) fn database_error(err: impl std::fmt::Display) -> StoreError {
    StoreError::Database(err.to_string())
}
