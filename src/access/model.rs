//! The building as the Nuki Box management account has it: addresses with their Boxes,
//! residential units with their Smart Locks, people and their permissions.

use serde::{Deserialize, Serialize};

use super::ids::{AddressId, DeviceId, PermissionId, PersonId, UnitId};
use super::limits::Limits;

/// A location (a building): its name, IANA time zone and the Boxes of its entrance doors.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Address {
    pub id: AddressId,
    pub name: String,
    /// IANA name, e.g. `Europe/Zurich`; time windows of its permissions are read in it.
    pub time_zone: String,
    /// The Boxes at this location (Nuki Web `smartlockIds`).
    pub boxes: Vec<DeviceId>,
}

/// A residential unit (a flat) of an address, with the Smart Locks added for that party.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Unit {
    pub id: UnitId,
    pub address: AddressId,
    pub name: String,
    pub locks: Vec<DeviceId>,
}

/// Somebody who holds permissions: one of the owner's own people (named), or a resident of
/// a unit, whose actions are anonymized.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Person {
    pub id: PersonId,
    pub name: String,
    /// Set for residents.
    pub unit: Option<UnitId>,
}

/// Where a permission applies.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Scope {
    /// One device.
    Device { device: DeviceId },
    /// Every Box of an address.
    AddressBoxes { address: AddressId },
    /// The unit's Smart Locks plus its address's Boxes.
    Unit { unit: UnitId },
}

/// How the holder uses a permission.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PermissionKind {
    /// A secret the holder presents to the gateway's API.
    GatewayAccess,
    /// A keypad code, provisioned to the devices (Nuki Web type 13).
    KeypadCode,
    /// An app or fob authorization entry mirrored from (and provisioned to) the device.
    DeviceAuthorization,
}

impl PermissionKind {
    /// Whether the devices enforce it themselves (so it is provisioned to them).
    pub fn lives_on_devices(self) -> bool {
        !matches!(self, PermissionKind::GatewayAccess)
    }
}

/// A permission (Nuki's "authorization"). Secrets (the access secret, the keypad code) are
/// kept apart from it by the store, so this can be logged and shown.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Permission {
    pub id: PermissionId,
    pub person: PersonId,
    /// At most 32 characters (20 for keypad codes), as on the devices.
    pub name: String,
    pub scope: Scope,
    pub kind: PermissionKind,
    pub limits: Limits,
}
