//! The access rules as stored: addresses (`Table::Addresses`, key `int_key(id)`), units
//! (`Table::Units`, key = unit id) and permissions (`Table::Permissions`, key = permission
//! id), each the JSON of its `access` type.

use jiff::tz::TimeZone;

use crate::access::{AccessRules, Address, Permission, Unit};
use crate::store::{ReadTx, StoreError, Table};

/// Why the stored rules could not be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LoadRulesError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Rules(#[from] crate::access::RulesError),
}

/// Builds the rules snapshot from one consistent view of the store.
pub fn load_rules(tx: &ReadTx, default_zone: TimeZone) -> Result<AccessRules, LoadRulesError> {
    let addresses: Vec<Address> = tx.list(Table::Addresses)?;
    let units: Vec<Unit> = tx.list(Table::Units)?;
    let permissions: Vec<Permission> = tx.list(Table::Permissions)?;
    Ok(AccessRules::build(
        default_zone,
        &addresses,
        &units,
        permissions,
    )?)
}
