//! Typed records kept as JSON in named tables, read and written in one transaction, so a
//! change that touches several objects (a unit deleted with its residents' permissions and
//! the provisioning work that follows) is stored whole or not at all.
//!
//! Keys are strings ordered bytewise; [`int_key`] makes integer ids sort by value.

use redb::{
    ReadTransaction, ReadableTable, ReadableTableMetadata, TableDefinition, WriteTransaction,
};
use serde::de::DeserializeOwned;
use serde::Serialize;

use super::error::{database_error, StoreError};

/// A table of JSON records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Table {
    Accounts,
    Sessions,
    ApiTokens,
    Addresses,
    Units,
    People,
    Permissions,
    /// The secrets of permissions (access secret hashes, keypad codes), apart from them.
    PermissionSecrets,
    /// Gateway-side facts about devices: display name, favorite, location.
    DeviceProfiles,
    /// Provisioning work for the devices, queued durably.
    Provisioning,
    /// The activity log (already anonymized), keyed by sequence id (20 digits).
    Events,
    /// Where each consumer of the activity log stands (the last sequence id it handled).
    EventCursors,
    /// The newest position read from each device's own log.
    DeviceLogPositions,
    /// Device log entries already stored (device, index, device time → sequence id), so a
    /// re-read stores nothing twice.
    DeviceLogSeen,
}

impl Table {
    pub const ALL: [Table; 14] = [
        Table::Accounts,
        Table::Sessions,
        Table::ApiTokens,
        Table::Addresses,
        Table::Units,
        Table::People,
        Table::Permissions,
        Table::PermissionSecrets,
        Table::DeviceProfiles,
        Table::Provisioning,
        Table::Events,
        Table::EventCursors,
        Table::DeviceLogPositions,
        Table::DeviceLogSeen,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Table::Accounts => "accounts",
            Table::Sessions => "sessions",
            Table::ApiTokens => "api_tokens",
            Table::Addresses => "addresses",
            Table::Units => "units",
            Table::People => "people",
            Table::Permissions => "permissions",
            Table::PermissionSecrets => "permission_secrets",
            Table::DeviceProfiles => "device_profiles",
            Table::Provisioning => "provisioning",
            Table::Events => "events",
            Table::EventCursors => "event_cursors",
            Table::DeviceLogPositions => "device_log_positions",
            Table::DeviceLogSeen => "device_log_seen",
        }
    }

    pub(crate) fn definition(self) -> TableDefinition<'static, &'static str, &'static [u8]> {
        TableDefinition::new(self.name())
    }
}

/// Counters for ids the gateway hands out (`meta` table, prefixed).
pub(crate) const COUNTERS: TableDefinition<&str, u64> = TableDefinition::new("counters");

/// A key that sorts integer ids by value (for ids ≥ 0).
pub fn int_key(id: i64) -> String {
    format!("{id:020}")
}

fn decode<V: DeserializeOwned>(table: Table, key: &str, bytes: &[u8]) -> Result<V, StoreError> {
    serde_json::from_slice(bytes).map_err(|_| StoreError::Corrupt {
        table: table.name(),
        key: key.to_owned(),
    })
}

macro_rules! reads {
    () => {
        pub fn get<V: DeserializeOwned>(
            &self,
            table: Table,
            key: &str,
        ) -> Result<Option<V>, StoreError> {
            let opened = self
                .txn
                .open_table(table.definition())
                .map_err(database_error)?;
            let Some(value) = opened.get(key).map_err(database_error)? else {
                return Ok(None);
            };
            decode(table, key, value.value()).map(Some)
        }

        /// Every record of `table`, in key order.
        pub fn list<V: DeserializeOwned>(&self, table: Table) -> Result<Vec<V>, StoreError> {
            Ok(self
                .page::<V>(table, None, usize::MAX)?
                .into_iter()
                .map(|(_, value)| value)
                .collect())
        }

        /// Up to `limit` records with keys after `after` (from the first without), in key
        /// order, with their keys.
        pub fn page<V: DeserializeOwned>(
            &self,
            table: Table,
            after: Option<&str>,
            limit: usize,
        ) -> Result<Vec<(String, V)>, StoreError> {
            let opened = self
                .txn
                .open_table(table.definition())
                .map_err(database_error)?;
            let range = match after {
                Some(after) => opened
                    .range::<&str>((std::ops::Bound::Excluded(after), std::ops::Bound::Unbounded)),
                None => opened.range::<&str>(..),
            }
            .map_err(database_error)?;
            let mut found = Vec::new();
            for entry in range.take(limit) {
                let (key, value) = entry.map_err(database_error)?;
                let key = key.value().to_owned();
                let value = decode(table, &key, value.value())?;
                found.push((key, value));
            }
            Ok(found)
        }

        /// Up to `limit` records with keys before `before` (from the last without), in
        /// descending key order, with their keys.
        pub fn page_before<V: DeserializeOwned>(
            &self,
            table: Table,
            before: Option<&str>,
            limit: usize,
        ) -> Result<Vec<(String, V)>, StoreError> {
            let opened = self
                .txn
                .open_table(table.definition())
                .map_err(database_error)?;
            let range = match before {
                Some(before) => opened.range::<&str>((
                    std::ops::Bound::Unbounded,
                    std::ops::Bound::Excluded(before),
                )),
                None => opened.range::<&str>(..),
            }
            .map_err(database_error)?;
            let mut found = Vec::new();
            for entry in range.rev().take(limit) {
                let (key, value) = entry.map_err(database_error)?;
                let key = key.value().to_owned();
                let value = decode(table, &key, value.value())?;
                found.push((key, value));
            }
            Ok(found)
        }

        /// The last number counter `name` handed out (0 before the first).
        pub fn counter(&self, name: &str) -> Result<u64, StoreError> {
            let counters = self.txn.open_table(COUNTERS).map_err(database_error)?;
            let value = counters
                .get(name)
                .map_err(database_error)?
                .map_or(0, |value| value.value());
            Ok(value)
        }

        pub fn count(&self, table: Table) -> Result<u64, StoreError> {
            let opened = self
                .txn
                .open_table(table.definition())
                .map_err(database_error)?;
            opened.len().map_err(database_error)
        }
    };
}

/// A read-only view of the store at one moment.
pub struct ReadTx {
    pub(crate) txn: ReadTransaction,
}

impl ReadTx {
    reads!();
}

/// A write transaction: committed when the work returns `Ok`, dropped (aborted) otherwise.
pub struct WriteTx {
    pub(crate) txn: WriteTransaction,
}

impl WriteTx {
    reads!();

    pub fn put<V: Serialize>(&self, table: Table, key: &str, value: &V) -> Result<(), StoreError> {
        let bytes = serde_json::to_vec(value).map_err(|_| StoreError::Corrupt {
            table: table.name(),
            key: key.to_owned(),
        })?;
        let mut opened = self
            .txn
            .open_table(table.definition())
            .map_err(database_error)?;
        opened
            .insert(key, bytes.as_slice())
            .map_err(database_error)?;
        Ok(())
    }

    /// Removes a record; whether there was one.
    pub fn remove(&self, table: Table, key: &str) -> Result<bool, StoreError> {
        let mut opened = self
            .txn
            .open_table(table.definition())
            .map_err(database_error)?;
        let removed = opened.remove(key).map_err(database_error)?.is_some();
        Ok(removed)
    }

    /// The next number of counter `name`, starting at 1; never handed out twice.
    pub fn next_number(&self, name: &str) -> Result<u64, StoreError> {
        let mut counters = self.txn.open_table(COUNTERS).map_err(database_error)?;
        let next = counters
            .get(name)
            .map_err(database_error)?
            .map_or(1, |value| value.value() + 1);
        counters.insert(name, next).map_err(database_error)?;
        Ok(next)
    }
}

pub(crate) fn create_tables(txn: &WriteTransaction) -> Result<(), StoreError> {
    for table in Table::ALL {
        txn.open_table(table.definition()).map_err(database_error)?;
    }
    txn.open_table(COUNTERS).map_err(database_error)?;
    Ok(())
}
