//! The building as the management account keeps it: addresses with their Boxes, residential
//! units with their Smart Locks, people, their permissions, and the gateway-side profile of
//! each device. Every change is one store transaction, decided by `access` first (the
//! principal's rights) and followed by a rebuild of the rules snapshot, so the next decision
//! already sees it.
//!
//! The methods are synchronous: they wait for the store's commit (an fsync), so interfaces
//! call them off the async executor.

mod addresses;
mod cache;
mod ids;
mod paging;
mod people;
mod permissions;
mod profiles;
mod setup;
mod units;
mod validate;

use serde::de::DeserializeOwned;

use crate::access::{Capability, DenialReason, Principal};
use crate::store::{ReadTx, StoreError, Table, WriteTx};

use super::{lock, Gateway};

pub use addresses::{AddressChange, AddressDraft, AddressView};
pub(super) use cache::RulesCache;
pub use ids::is_object_id;
pub use people::{PersonChange, PersonDraft};
pub(super) use permissions::secret_hash;
pub use permissions::{
    IssuedPermission, LimitsChange, PermissionChange, PermissionDraft, PermissionView,
};
pub use profiles::{DeviceProfile, DeviceProfileChange};
pub(super) use setup::SetupBook;
pub use setup::{SetupId, SetupPhase, MAX_SETUPS_KEPT};
pub use units::{UnitChange, UnitDraft};

/// Why a change of the building (or a look at it) was refused. Messages name objects by id,
/// never a secret.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BuildingError {
    #[error("denied: {0}")]
    Denied(DenialReason),
    #[error("{0} not found")]
    NotFound(String),
    /// The request is fine, but the building's current state does not allow it.
    #[error("{0}")]
    Conflict(String),
    /// Well-formed, but not valid (an unknown device, a unit that is not there…).
    #[error("{0}")]
    Invalid(String),
    /// A value the rules of `access::validate` refuse (a name too long, a bad keypad code,
    /// limits out of range, an unknown time zone).
    #[error(transparent)]
    Rejected(#[from] crate::access::validate::ValidationError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<DenialReason> for BuildingError {
    fn from(reason: DenialReason) -> Self {
        BuildingError::Denied(reason)
    }
}

/// Reads that work the same in a read and a write transaction, so checks run in either.
pub(super) trait Records {
    fn get<V: DeserializeOwned>(&self, table: Table, key: &str) -> Result<Option<V>, StoreError>;
    fn list<V: DeserializeOwned>(&self, table: Table) -> Result<Vec<V>, StoreError>;
}

impl Records for ReadTx {
    fn get<V: DeserializeOwned>(&self, table: Table, key: &str) -> Result<Option<V>, StoreError> {
        ReadTx::get(self, table, key)
    }
    fn list<V: DeserializeOwned>(&self, table: Table) -> Result<Vec<V>, StoreError> {
        ReadTx::list(self, table)
    }
}

impl Records for WriteTx {
    fn get<V: DeserializeOwned>(&self, table: Table, key: &str) -> Result<Option<V>, StoreError> {
        WriteTx::get(self, table, key)
    }
    fn list<V: DeserializeOwned>(&self, table: Table) -> Result<Vec<V>, StoreError> {
        WriteTx::list(self, table)
    }
}

/// Items of one page with their store keys, one more than asked when there are more.
pub type Keyed<T> = Vec<(String, T)>;

impl Gateway {
    /// Rebuilds the rules from the store; for writers of the building's tables other than
    /// these methods (a cloud sync), which call it after their own commit.
    pub fn reload_rules(&self) {
        let _serialized = lock(self.rules.changes());
        self.rules.reload(&self.store);
    }

    /// Refuses unless `principal` has `capability`.
    fn require(&self, principal: &Principal, capability: Capability) -> Result<(), BuildingError> {
        self.authorize(principal, capability)
            .map_err(BuildingError::Denied)
    }

    /// Runs `work` as one store transaction, committed only when it succeeds, then rebuilds
    /// the rules. Changes are serialized, so each rebuild sees every change before it and the
    /// snapshot never goes back to an older state.
    fn change<T>(
        &self,
        work: impl FnOnce(&WriteTx) -> Result<T, BuildingError>,
    ) -> Result<T, BuildingError> {
        let _serialized = lock(self.rules.changes());
        // The store commits only on `Ok`; a refusal of ours aborts it through this slot, so
        // nothing is stored on any error.
        let mut refused = None;
        let written = self.store.write(|tx| match work(tx) {
            Ok(value) => Ok(value),
            Err(BuildingError::Store(error)) => Err(error),
            Err(other) => {
                refused = Some(other);
                Err(StoreError::Database("change refused".into()))
            }
        });
        let value = match (written, refused) {
            (_, Some(refusal)) => return Err(refusal),
            (Err(error), None) => return Err(BuildingError::Store(error)),
            (Ok(value), None) => value,
        };
        self.rules.reload(&self.store);
        Ok(value)
    }
}
