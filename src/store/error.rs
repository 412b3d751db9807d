//! Why a store operation failed. Messages name files and tables, never stored values.

use std::path::{Path, PathBuf};

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

    /// The file is not a store any more (or never was). Restarting cannot help; the message
    /// tells the operator what can.
    #[error(
        "store {path} is damaged ({reason}); it was left unchanged. Run `nuki-edge store check` \
         and `nuki-edge store recover`, or restore a backup (see README, \"Store backup and \
         recovery\")"
    )]
    Damaged { path: PathBuf, reason: String },

    #[error("store {path} is not a regular file; store.path must name a file")]
    NotAFile { path: PathBuf },

    #[error(
        "store {path} cannot be repaired ({reason}); it is unchanged and a copy is at \
         {backup}; restore a backup, or move the file away and pair every device again"
    )]
    Unrepairable {
        path: PathBuf,
        reason: String,
        backup: PathBuf,
    },

    #[error("cannot copy the store to {path}: {reason}")]
    Backup { path: PathBuf, reason: String },
}

impl StoreError {
    /// Whether an operator must act before the store can be used: restarting the daemon would
    /// fail the same way (exit code 2, which the systemd unit does not restart).
    pub fn needs_operator(&self) -> bool {
        matches!(
            self,
            StoreError::Damaged { .. }
                | StoreError::NotAFile { .. }
                | StoreError::Unrepairable { .. }
                | StoreError::NewerSchema { .. }
                | StoreError::BadSchemaVersion { .. }
                | StoreError::Corrupt { .. }
        )
    }

    /// Names the file in damage found below the level that knows it.
    pub(crate) fn at(self, store: &Path) -> StoreError {
        match self {
            StoreError::Damaged { path, reason } if path.as_os_str().is_empty() => {
                StoreError::Damaged {
                    path: store.to_owned(),
                    reason,
                }
            }
            other => other,
        }
    }
}

/// redb's errors describe pages, files and locks, never the stored values, so their text is
/// safe to keep. Damage gets its path from [`StoreError::at`].
pub(crate) fn database_error(err: impl Into<redb::Error>) -> StoreError {
    match err.into() {
        redb::Error::Corrupted(reason) => damaged(reason),
        // A store cut off inside its header, or one whose header is not redb's.
        redb::Error::Io(io) if is_damage(&io) => damaged(io.to_string()),
        other => StoreError::Database(other.to_string()),
    }
}

pub(crate) fn is_damage(io: &std::io::Error) -> bool {
    matches!(
        io.kind(),
        std::io::ErrorKind::UnexpectedEof | std::io::ErrorKind::InvalidData
    )
}

fn damaged(reason: impl Into<String>) -> StoreError {
    StoreError::Damaged {
        path: PathBuf::new(),
        reason: reason.into(),
    }
}
