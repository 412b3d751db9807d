//! Persistence over redb: pairings (with their keys) and small settings.
//!
//! The file is created with mode 0600 and carries a schema version; opening a file written by
//! an older build migrates it, one written by a newer build is refused. No redb type appears
//! in this API.

mod error;
mod file_mode;
mod guard;
mod maintenance;
mod pairing;
mod records;
mod schema;

use std::path::{Path, PathBuf};

use redb::{Builder, Database, DatabaseError, ReadableDatabase, ReadableTable};

use crate::ble::DeviceAddress;

pub use error::StoreError;
pub use maintenance::{check, recover, CheckReport, RecoverReport};
pub use pairing::Pairing;
pub use records::{int_key, ReadTx, Table, WriteTx};
pub use schema::CURRENT_SCHEMA_VERSION;

use error::database_error;
use file_mode::StoreFile;
use guard::guarded;
use schema::{Migration, MIGRATIONS, PAIRINGS, SETTINGS};

/// The setting under which the app keeps its generated app id.
pub const SETTING_APP_ID: &str = "app_id";

/// The gateway's database. Cheap operations, each its own transaction; share it with `Arc`.
pub struct Store {
    db: Database,
    path: PathBuf,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").field("path", &self.path).finish()
    }
}

impl Store {
    /// Opens (or creates) the store at `path`, creating parent directories.
    pub fn open(path: &Path) -> Result<Store, StoreError> {
        Self::open_with(path, CURRENT_SCHEMA_VERSION, MIGRATIONS)
    }

    pub(crate) fn open_with(
        path: &Path,
        target_version: u64,
        migrations: &[Migration],
    ) -> Result<Store, StoreError> {
        let file = file_mode::prepare_store_file(path)?;
        let db = guarded(path, || open_database(path, file))?;
        guarded(path, || {
            schema::ensure_schema(&db, path, target_version, migrations)
        })?;
        Ok(Store {
            db,
            path: path.to_owned(),
        })
    }

    /// Runs redb calls under the store's panic guard.
    fn guarded<T>(&self, work: impl FnOnce() -> Result<T, StoreError>) -> Result<T, StoreError> {
        guarded(&self.path, work)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The schema version recorded in the file.
    pub fn schema_version(&self) -> Result<u64, StoreError> {
        self.guarded(|| {
            schema::read_schema_version(&self.db)?.ok_or_else(|| StoreError::BadSchemaVersion {
                path: self.path.clone(),
                found: 0,
            })
        })
    }

    /// Runs `work` on a consistent read-only view of the store.
    pub fn read<T>(
        &self,
        work: impl FnOnce(&ReadTx) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        self.guarded(|| {
            let txn = self.db.begin_read().map_err(database_error)?;
            work(&ReadTx { txn })
        })
    }

    /// Runs `work` in one write transaction, committed only when it returns `Ok`.
    pub fn write<T>(
        &self,
        work: impl FnOnce(&WriteTx) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        self.guarded(|| {
            let txn = self.db.begin_write().map_err(database_error)?;
            let tx = WriteTx { txn };
            let value = work(&tx)?;
            tx.txn.commit().map_err(database_error)?;
            Ok(value)
        })
    }

    /// Saves a pairing, replacing any earlier one of the same address.
    pub fn save_pairing(&self, pairing: &Pairing) -> Result<(), StoreError> {
        self.guarded(|| {
            let bytes = pairing::encode(pairing).map_err(|_| StoreError::Corrupt {
                table: "pairings",
                key: pairing.address.to_string(),
            })?;
            let txn = self.db.begin_write().map_err(database_error)?;
            {
                let mut table = txn.open_table(PAIRINGS).map_err(database_error)?;
                table
                    .insert(pairing.address.0.as_str(), bytes.as_slice())
                    .map_err(database_error)?;
            }
            txn.commit().map_err(database_error)
        })
    }

    pub fn pairing(&self, address: &DeviceAddress) -> Result<Option<Pairing>, StoreError> {
        self.guarded(|| {
            let txn = self.db.begin_read().map_err(database_error)?;
            let table = txn.open_table(PAIRINGS).map_err(database_error)?;
            let Some(value) = table.get(address.0.as_str()).map_err(database_error)? else {
                return Ok(None);
            };
            decode_pairing(address.0.as_str(), value.value()).map(Some)
        })
    }

    /// Every pairing, ordered by address.
    pub fn pairings(&self) -> Result<Vec<Pairing>, StoreError> {
        self.guarded(|| {
            let txn = self.db.begin_read().map_err(database_error)?;
            let table = txn.open_table(PAIRINGS).map_err(database_error)?;
            let mut pairings = Vec::new();
            for entry in table.iter().map_err(database_error)? {
                let (key, value) = entry.map_err(database_error)?;
                pairings.push(decode_pairing(key.value(), value.value())?);
            }
            Ok(pairings)
        })
    }

    /// Forgets a pairing; `false` when there was none.
    pub fn remove_pairing(&self, address: &DeviceAddress) -> Result<bool, StoreError> {
        self.guarded(|| {
            let txn = self.db.begin_write().map_err(database_error)?;
            let removed = {
                let mut table = txn.open_table(PAIRINGS).map_err(database_error)?;
                let removed = table
                    .remove(address.0.as_str())
                    .map_err(database_error)?
                    .is_some();
                removed
            };
            txn.commit().map_err(database_error)?;
            Ok(removed)
        })
    }

    pub fn get_setting(&self, key: &str) -> Result<Option<String>, StoreError> {
        self.guarded(|| {
            let txn = self.db.begin_read().map_err(database_error)?;
            let table = txn.open_table(SETTINGS).map_err(database_error)?;
            let value = table
                .get(key)
                .map_err(database_error)?
                .map(|value| value.value().to_owned());
            Ok(value)
        })
    }

    pub fn set_setting(&self, key: &str, value: &str) -> Result<(), StoreError> {
        self.guarded(|| {
            let txn = self.db.begin_write().map_err(database_error)?;
            {
                let mut table = txn.open_table(SETTINGS).map_err(database_error)?;
                table.insert(key, value).map_err(database_error)?;
            }
            txn.commit().map_err(database_error)
        })
    }

    /// Several settings in one transaction: one commit (one fsync) instead of one each.
    pub fn set_settings(&self, settings: &[(String, String)]) -> Result<(), StoreError> {
        let txn = self.db.begin_write().map_err(database_error)?;
        {
            let mut table = txn.open_table(SETTINGS).map_err(database_error)?;
            for (key, value) in settings {
                table
                    .insert(key.as_str(), value.as_str())
                    .map_err(database_error)?;
            }
        }
        txn.commit().map_err(database_error)
    }

    /// The stored app id, or `generate()`'s value stored now: one transaction, so two
    /// callers cannot end up with different ids.
    pub fn app_id_or_insert_with(&self, generate: impl FnOnce() -> u32) -> Result<u32, StoreError> {
        self.guarded(|| {
            let txn = self.db.begin_write().map_err(database_error)?;
            let app_id = {
                let mut table = txn.open_table(SETTINGS).map_err(database_error)?;
                let stored = table
                    .get(SETTING_APP_ID)
                    .map_err(database_error)?
                    .map(|value| value.value().to_owned());
                match stored {
                    Some(text) => text.parse::<u32>().map_err(|_| StoreError::Corrupt {
                        table: "settings",
                        key: SETTING_APP_ID.to_owned(),
                    })?,
                    None => {
                        let app_id = generate();
                        table
                            .insert(SETTING_APP_ID, app_id.to_string().as_str())
                            .map_err(database_error)?;
                        app_id
                    }
                }
            };
            txn.commit().map_err(database_error)?;
            Ok(app_id)
        })
    }
}

/// Opens the file `prepare_store_file` vouched for. An existing file is never initialised.
fn open_database(path: &Path, file: StoreFile) -> Result<Database, StoreError> {
    let opened = match file {
        StoreFile::New => Database::create(path),
        // Verifying every page costs little for a store this small, and turns damage into an
        // error now instead of a wrong answer or a panic in the middle of an operation.
        StoreFile::Existing => Builder::new().set_check_integrity_on_open(true).open(path),
    };
    opened.map_err(|err| open_error(path, err))
}

pub(crate) fn open_error(path: &Path, err: DatabaseError) -> StoreError {
    if matches!(err, DatabaseError::DatabaseAlreadyOpen) {
        return StoreError::InUse {
            path: path.to_owned(),
        };
    }
    match database_error(err) {
        StoreError::Database(reason) => StoreError::Open {
            path: path.to_owned(),
            reason,
        },
        damage => damage.at(path),
    }
}

fn decode_pairing(key: &str, bytes: &[u8]) -> Result<Pairing, StoreError> {
    pairing::decode(bytes).ok_or_else(|| StoreError::Corrupt {
        table: "pairings",
        key: key.to_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use redb::WriteTransaction;

    fn add_marker(txn: &WriteTransaction) -> Result<(), StoreError> {
        let mut table = txn.open_table(SETTINGS).map_err(database_error)?;
        table.insert("migrated", "yes").map_err(database_error)?;
        Ok(())
    }

    fn fail(_: &WriteTransaction) -> Result<(), StoreError> {
        Err(StoreError::Migration {
            from: 1,
            reason: "test".to_owned(),
        })
    }

    #[test]
    fn migrations_run_once_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.redb");
        drop(Store::open_with(&path, 1, &[]).unwrap());
        let store = Store::open_with(&path, 2, &[add_marker]).unwrap();
        assert_eq!(store.schema_version().unwrap(), 2);
        assert_eq!(
            store.get_setting("migrated").unwrap().as_deref(),
            Some("yes")
        );
    }

    #[test]
    fn failed_migration_leaves_the_file_alone() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.redb");
        drop(Store::open_with(&path, 1, &[]).unwrap());
        let err = Store::open_with(&path, 2, &[fail]).unwrap_err();
        assert!(matches!(err, StoreError::Migration { from: 1, .. }));
        let store = Store::open_with(&path, 1, &[]).unwrap();
        assert_eq!(store.schema_version().unwrap(), 1);
    }

    #[test]
    fn missing_migration_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.redb");
        drop(Store::open_with(&path, 1, &[]).unwrap());
        let err = Store::open_with(&path, 3, &[add_marker]).unwrap_err();
        assert!(matches!(err, StoreError::Migration { from: 2, .. }));
    }

    #[test]
    fn app_id_is_generated_once() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("s.redb")).unwrap();
        assert_eq!(store.app_id_or_insert_with(|| 77).unwrap(), 77);
        assert_eq!(store.app_id_or_insert_with(|| 99).unwrap(), 77);
        assert_eq!(
            store.get_setting(SETTING_APP_ID).unwrap().as_deref(),
            Some("77")
        );
    }
}
