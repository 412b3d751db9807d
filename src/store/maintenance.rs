//! `nuki-edge store check` and `store recover`: what an operator runs when the store is
//! refused as damaged. Check never writes the store; recover keeps a copy of it first.

use std::cell::Cell;
use std::fs::OpenOptions;
use std::io::ErrorKind;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::rc::Rc;

use redb::Builder;

use super::error::{database_error, StoreError};
use super::file_mode::{existing_store_metadata, STORE_FILE_MODE};
use super::guard::guarded;
use super::{open_error, schema, Store, CURRENT_SCHEMA_VERSION};

/// What `store check` found in a readable store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckReport {
    pub path: PathBuf,
    pub schema_version: u64,
    pub pairings: usize,
    /// The file was not closed cleanly (a crash, or copied while open); redb repairs that when
    /// the store is next opened.
    pub needs_crash_repair: bool,
}

impl std::fmt::Display for CheckReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let state = if self.needs_crash_repair {
            "readable, but was not closed cleanly (the next start repairs it, or run `nuki-edge \
             store recover`)"
        } else {
            "intact"
        };
        write!(
            f,
            "store {} is {state}: schema version {}, {}",
            self.path.display(),
            self.schema_version,
            count_pairings(self.pairings)
        )
    }
}

/// What `store recover` did to a store it could repair.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecoverReport {
    pub path: PathBuf,
    pub backup: PathBuf,
    pub schema_version: u64,
    pub pairings: usize,
}

impl std::fmt::Display for RecoverReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "store {} repaired: schema version {}, {} readable; the file as it was before is \
             kept, backup at {}",
            self.path.display(),
            self.schema_version,
            count_pairings(self.pairings),
            self.backup.display()
        )
    }
}

fn count_pairings(count: usize) -> String {
    match count {
        1 => "1 pairing".to_owned(),
        n => format!("{n} pairings"),
    }
}

/// Verifies every page and record of the store, on a private copy so that nothing (not even
/// redb's own repair) writes the original, which may be open in the daemon.
pub fn check(path: &Path) -> Result<CheckReport, StoreError> {
    existing_store_metadata(path)?;
    let scratch = ScratchCopy::beside(path)?;
    let repaired = Rc::new(Cell::new(false));
    let noticed = repaired.clone();
    guarded(path, || {
        let mut builder = Builder::new();
        builder.set_repair_callback(move |_| noticed.set(true));
        let mut db = builder
            .open(&scratch.path)
            .map_err(|err| open_error(path, err))?;
        let clean = db.check_integrity().map_err(database_error)?;
        let (schema_version, pairings) = read_contents(Store {
            db,
            path: path.to_owned(),
        })?;
        Ok(CheckReport {
            path: path.to_owned(),
            schema_version,
            pairings,
            needs_crash_repair: repaired.get() || !clean,
        })
    })
}

/// Copies the store aside, then lets redb verify and repair it in place. Damage redb cannot
/// repair leaves the store as it was and says where the copy is.
pub fn recover(path: &Path) -> Result<RecoverReport, StoreError> {
    let metadata = std::fs::metadata(path).map_err(|err| StoreError::Open {
        path: path.to_owned(),
        reason: err.to_string(),
    })?;
    if !metadata.is_file() {
        return Err(StoreError::NotAFile {
            path: path.to_owned(),
        });
    }
    let backup = backup_copy(path)?;
    let unrepairable = |reason: String| StoreError::Unrepairable {
        path: path.to_owned(),
        reason,
        backup: backup.clone(),
    };
    if metadata.len() == 0 {
        return Err(unrepairable("the file is empty".to_owned()));
    }
    let repaired = guarded(path, || {
        let db = Builder::new()
            .set_check_integrity_on_open(true)
            .open(path)
            .map_err(|err| open_error(path, err))?;
        read_contents(Store {
            db,
            path: path.to_owned(),
        })
    });
    match repaired {
        Ok((schema_version, pairings)) => Ok(RecoverReport {
            path: path.to_owned(),
            backup,
            schema_version,
            pairings,
        }),
        Err(StoreError::Damaged { reason, .. }) => Err(unrepairable(reason)),
        Err(other) => {
            // The daemon has the store open: nothing was repaired, so the copy is of no use.
            if matches!(other, StoreError::InUse { .. }) {
                let _ = std::fs::remove_file(&backup);
            }
            Err(other)
        }
    }
}

/// The schema version and the number of pairings, every record decoded.
fn read_contents(store: Store) -> Result<(u64, usize), StoreError> {
    let version = schema::read_schema_version(&store.db)?.unwrap_or(0);
    if version == 0 {
        return Err(StoreError::BadSchemaVersion {
            path: store.path.clone(),
            found: 0,
        });
    }
    if version > CURRENT_SCHEMA_VERSION {
        return Err(StoreError::NewerSchema {
            path: store.path.clone(),
            found: version,
            supported: CURRENT_SCHEMA_VERSION,
        });
    }
    Ok((version, store.pairings()?.len()))
}

/// `<store>.damaged-<unix time>` (with `-N` when taken), private like the store: it holds the
/// same keys.
fn backup_copy(path: &Path) -> Result<PathBuf, StoreError> {
    let stamp = crate::clock::Clock::now_unix(&crate::clock::SystemClock);
    for attempt in 0..100 {
        let mut name = path.as_os_str().to_owned();
        name.push(format!(".damaged-{stamp}"));
        if attempt > 0 {
            name.push(format!("-{attempt}"));
        }
        let backup = PathBuf::from(name);
        match private_copy(path, &backup) {
            Ok(()) => return Ok(backup),
            Err(err) if err.kind() == ErrorKind::AlreadyExists => continue,
            Err(err) => {
                return Err(StoreError::Backup {
                    path: backup,
                    reason: err.to_string(),
                })
            }
        }
    }
    Err(StoreError::Backup {
        path: path.to_owned(),
        reason: "too many earlier backups with the same time stamp".to_owned(),
    })
}

fn private_copy(from: &Path, to: &Path) -> std::io::Result<()> {
    let mut source = std::fs::File::open(from)?;
    let mut target = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(STORE_FILE_MODE)
        .open(to)?;
    let copied = std::io::copy(&mut source, &mut target).and_then(|_| target.sync_all());
    if copied.is_err() {
        let _ = std::fs::remove_file(to);
    }
    copied
}

/// A private copy of the store beside it, removed when dropped.
struct ScratchCopy {
    path: PathBuf,
}

impl ScratchCopy {
    fn beside(store: &Path) -> Result<Self, StoreError> {
        let mut name = store.as_os_str().to_owned();
        name.push(format!(".check-{}", std::process::id()));
        let path = PathBuf::from(name);
        // A copy left by a killed check of this same process id is stale.
        let _ = std::fs::remove_file(&path);
        private_copy(store, &path).map_err(|err| StoreError::Backup {
            path: path.clone(),
            reason: err.to_string(),
        })?;
        Ok(Self { path })
    }
}

impl Drop for ScratchCopy {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}
