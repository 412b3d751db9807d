//! A snapshot of the building's rules, indexed for the decision: built by the gateway from
//! the store whenever addresses, units or permissions change.

use std::collections::{HashMap, HashSet};

use jiff::tz::TimeZone;

use super::clock_trust::ClockTrust;
use super::decision::{Action, Decision, DenialReason};
use super::ids::{AddressId, DeviceId, PermissionId, UnitId};
use super::model::{Address, Permission, Scope, Unit};
use super::principal::Principal;
use super::rights::Capability;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RulesError {
    #[error("address {address} has an unknown time zone `{zone}`")]
    UnknownTimeZone { address: AddressId, zone: String },
}

#[derive(Debug, Clone)]
pub struct AccessRules {
    default_zone: TimeZone,
    zones: HashMap<AddressId, TimeZone>,
    /// The address each device belongs to (as a Box of it, or as a lock of one of its units).
    device_address: HashMap<DeviceId, AddressId>,
    address_boxes: HashMap<AddressId, HashSet<DeviceId>>,
    unit_address: HashMap<UnitId, AddressId>,
    unit_locks: HashMap<UnitId, HashSet<DeviceId>>,
    permissions: HashMap<PermissionId, Permission>,
}

impl AccessRules {
    /// Rules with no building: only principals with rights may do anything.
    pub fn empty(default_zone: TimeZone) -> Self {
        Self {
            default_zone,
            zones: HashMap::new(),
            device_address: HashMap::new(),
            address_boxes: HashMap::new(),
            unit_address: HashMap::new(),
            unit_locks: HashMap::new(),
            permissions: HashMap::new(),
        }
    }

    pub fn build(
        default_zone: TimeZone,
        addresses: &[Address],
        units: &[Unit],
        permissions: impl IntoIterator<Item = Permission>,
    ) -> Result<Self, RulesError> {
        let mut rules = Self::empty(default_zone);
        for address in addresses {
            let zone =
                TimeZone::get(&address.time_zone).map_err(|_| RulesError::UnknownTimeZone {
                    address: address.id,
                    zone: address.time_zone.clone(),
                })?;
            rules.zones.insert(address.id, zone);
            rules
                .address_boxes
                .insert(address.id, address.boxes.iter().copied().collect());
            for device in &address.boxes {
                rules.device_address.insert(*device, address.id);
            }
        }
        for unit in units {
            rules.unit_address.insert(unit.id.clone(), unit.address);
            rules
                .unit_locks
                .insert(unit.id.clone(), unit.locks.iter().copied().collect());
            for device in &unit.locks {
                rules.device_address.insert(*device, unit.address);
            }
        }
        rules.permissions = permissions
            .into_iter()
            .map(|permission| (permission.id.clone(), permission))
            .collect();
        Ok(rules)
    }

    /// The time zone a device's time windows are read in: its address's, else the default.
    pub fn zone_of(&self, device: DeviceId) -> &TimeZone {
        self.device_address
            .get(&device)
            .and_then(|address| self.zones.get(address))
            .unwrap_or(&self.default_zone)
    }

    pub fn permission(&self, id: &PermissionId) -> Option<&Permission> {
        self.permissions.get(id)
    }

    /// Whether a permission's scope includes `device`.
    pub fn covers(&self, scope: &Scope, device: DeviceId) -> bool {
        match scope {
            Scope::Device { device: own } => *own == device,
            Scope::AddressBoxes { address } => self
                .address_boxes
                .get(address)
                .is_some_and(|boxes| boxes.contains(&device)),
            Scope::Unit { unit } => {
                self.unit_locks
                    .get(unit)
                    .is_some_and(|locks| locks.contains(&device))
                    || self
                        .unit_address
                        .get(unit)
                        .and_then(|address| self.address_boxes.get(address))
                        .is_some_and(|boxes| boxes.contains(&device))
            }
        }
    }

    /// The devices a scope names, sorted.
    pub fn devices_of(&self, scope: &Scope) -> Vec<DeviceId> {
        let mut devices: Vec<DeviceId> = match scope {
            Scope::Device { device } => vec![*device],
            Scope::AddressBoxes { address } => self
                .address_boxes
                .get(address)
                .map(|boxes| boxes.iter().copied().collect())
                .unwrap_or_default(),
            Scope::Unit { unit } => {
                let mut all: Vec<DeviceId> = self
                    .unit_locks
                    .get(unit)
                    .map(|locks| locks.iter().copied().collect())
                    .unwrap_or_default();
                if let Some(boxes) = self
                    .unit_address
                    .get(unit)
                    .and_then(|address| self.address_boxes.get(address))
                {
                    all.extend(boxes.iter().copied());
                }
                all
            }
        };
        devices.sort();
        devices.dedup();
        devices
    }

    /// Whether `principal` has `capability` (management operations).
    pub fn authorize(&self, principal: &Principal, capability: Capability) -> Decision {
        if principal.rights().allows(capability) {
            Decision::Allow
        } else {
            Decision::Deny(DenialReason::MissingRight { capability })
        }
    }

    /// The decision for one request on one device at `now` (Unix seconds, the gateway's
    /// time), given how far that time may be trusted.
    pub fn decide(
        &self,
        principal: &Principal,
        device: DeviceId,
        action: Action,
        now: i64,
        trust: ClockTrust,
    ) -> Decision {
        let Principal::Holder { permission } = principal else {
            return match action {
                // Every account and integration sees every device, as in the Nuki Box
                // management account; rights are per capability.
                Action::View => Decision::Allow,
                Action::Operate => self.authorize(principal, Capability::OperateDoors),
            };
        };
        let Some(permission) = self.permissions.get(permission) else {
            return Decision::Deny(DenialReason::NoPermission);
        };
        if !self.covers(&permission.scope, device) {
            return Decision::Deny(DenialReason::NoPermission);
        }
        if action == Action::View {
            return Decision::Allow;
        }
        let limits = &permission.limits;
        if !limits.enabled {
            return Decision::Deny(DenialReason::PermissionDisabled);
        }
        if !limits.remote_allowed {
            return Decision::Deny(DenialReason::RemoteNotAllowed);
        }
        if limits.is_time_limited() && !trust.is_trusted() {
            return Decision::Deny(DenialReason::ClockUntrusted);
        }
        match limits.check_time(now, self.zone_of(device)) {
            Ok(()) => Decision::Allow,
            Err(reason) => Decision::Deny(reason),
        }
    }
}
