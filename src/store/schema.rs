//! Tables, the schema version and migrations.
//!
//! Tables: `meta` (`&str` → `u64`, holds `schema_version`), `pairings` (device address →
//! JSON record, see `pairing.rs`), `settings` (`&str` → `&str`), and the JSON record tables of
//! `records.rs` (accounts, building, permissions, provisioning) with their id `counters`.

use std::path::Path;

use redb::{Database, ReadableTable, TableDefinition, WriteTransaction};

use super::error::{database_error, StoreError};

/// The schema this build writes. Raise it together with a new entry in [`MIGRATIONS`].
pub const CURRENT_SCHEMA_VERSION: u64 = 3;

pub(crate) const META: TableDefinition<&str, u64> = TableDefinition::new("meta");
pub(crate) const PAIRINGS: TableDefinition<&str, &[u8]> = TableDefinition::new("pairings");
pub(crate) const SETTINGS: TableDefinition<&str, &str> = TableDefinition::new("settings");
pub(crate) const SCHEMA_VERSION_KEY: &str = "schema_version";

/// Rewrites a store of one schema version into the next, inside the opening transaction.
pub(crate) type Migration = fn(&WriteTransaction) -> Result<(), StoreError>;

/// `MIGRATIONS[i]` turns version `i + 1` into version `i + 2`.
pub(crate) const MIGRATIONS: &[Migration] = &[add_building_tables, add_event_tables];

/// Version 2 adds the building, accounts and provisioning tables; [`create_tables`] creates
/// them, so the step itself has nothing to rewrite.
fn add_building_tables(_txn: &WriteTransaction) -> Result<(), StoreError> {
    Ok(())
}

/// Version 3 adds the activity log's tables (events, consumer cursors, device log
/// positions); [`create_tables`] creates them too.
fn add_event_tables(_txn: &WriteTransaction) -> Result<(), StoreError> {
    Ok(())
}

const _: () = assert!(MIGRATIONS.len() as u64 + 1 == CURRENT_SCHEMA_VERSION);

/// Brings a store to `target`: creates the tables of a fresh file, or runs the migrations
/// from its version on. All of it is one write transaction, so a failed migration leaves the
/// file as it was.
pub(crate) fn ensure_schema(
    db: &Database,
    path: &Path,
    target: u64,
    migrations: &[Migration],
) -> Result<(), StoreError> {
    let txn = db.begin_write().map_err(database_error)?;
    let found = {
        let meta = txn.open_table(META).map_err(database_error)?;
        let version = meta
            .get(SCHEMA_VERSION_KEY)
            .map_err(database_error)?
            .map(|value| value.value());
        version
    };
    match found {
        Some(version) if version > target => {
            return Err(StoreError::NewerSchema {
                path: path.to_owned(),
                found: version,
                supported: target,
            });
        }
        Some(version) if version == target => {
            return txn.abort().map_err(database_error);
        }
        Some(0) => {
            return Err(StoreError::BadSchemaVersion {
                path: path.to_owned(),
                found: 0,
            });
        }
        Some(version) => {
            for from in version..target {
                let migrate = usize::try_from(from - 1)
                    .ok()
                    .and_then(|index| migrations.get(index))
                    .ok_or_else(|| StoreError::Migration {
                        from,
                        reason: "no migration is defined".to_owned(),
                    })?;
                migrate(&txn)?;
            }
        }
        None => {}
    }
    create_tables(&txn)?;
    {
        let mut meta = txn.open_table(META).map_err(database_error)?;
        meta.insert(SCHEMA_VERSION_KEY, target)
            .map_err(database_error)?;
    }
    txn.commit().map_err(database_error)
}

fn create_tables(txn: &WriteTransaction) -> Result<(), StoreError> {
    txn.open_table(PAIRINGS).map_err(database_error)?;
    txn.open_table(SETTINGS).map_err(database_error)?;
    super::records::create_tables(txn)
}

pub(crate) fn read_schema_version(db: &Database) -> Result<Option<u64>, StoreError> {
    use redb::ReadableDatabase;
    let txn = db.begin_read().map_err(database_error)?;
    let meta = txn.open_table(META).map_err(database_error)?;
    let version = meta
        .get(SCHEMA_VERSION_KEY)
        .map_err(database_error)?
        .map(|value| value.value());
    Ok(version)
}
