//! Residential units: a flat of an address with the Smart Locks added for that party.
//! Deleting a unit removes its residents and every permission of theirs in the same
//! transaction; provisioning then takes them off the devices.

use crate::access::{
    AddressId, Capability, DeviceId, Permission, Person, Principal, Scope, Unit, UnitId,
};
use crate::store::Table;

use super::addresses::{places, read_address, Place};
use super::ids::new_unit_id;
use super::paging::filtered;
use super::permissions::{
    check_codes_unique, check_residents_within, holder_is_resident, remove_permission,
};
use super::{validate, BuildingError, Keyed, Records};
use crate::gateway::{Gateway, PermissionChangeKind};

/// A new unit of an address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnitDraft {
    pub name: String,
    pub locks: Vec<DeviceId>,
}

/// What to change; `None` keeps it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UnitChange {
    pub name: Option<String>,
    pub locks: Option<Vec<DeviceId>>,
}

pub(super) fn read_unit(tx: &impl Records, id: &UnitId) -> Result<Unit, BuildingError> {
    tx.get(Table::Units, &id.0)?
        .ok_or_else(|| BuildingError::NotFound(format!("residential unit {id}")))
}

impl Gateway {
    /// A page of an address's units, in id order.
    pub fn units(
        &self,
        principal: &Principal,
        address: AddressId,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Keyed<Unit>, BuildingError> {
        self.require(principal, Capability::ManageBuilding)?;
        self.store.read(|tx| {
            Ok(read_address(tx, address).and_then(|_| {
                Ok(filtered(tx, Table::Units, after, limit, |unit: &Unit| {
                    unit.address == address
                })?)
            }))
        })?
    }

    pub fn unit(&self, principal: &Principal, id: &UnitId) -> Result<Unit, BuildingError> {
        self.require(principal, Capability::ManageBuilding)?;
        self.store.read(|tx| Ok(read_unit(tx, id)))?
    }

    pub fn create_unit(
        &self,
        principal: &Principal,
        address: AddressId,
        draft: UnitDraft,
    ) -> Result<Unit, BuildingError> {
        self.require(principal, Capability::ManageBuilding)?;
        validate::place_name(&draft.name)?;
        let locks = self.paired_devices(draft.locks)?;
        let unit = self.change(|tx| {
            read_address(tx, address)?;
            let id = new_unit_id(tx)?;
            check_locks_free(tx, &locks, &id)?;
            let unit = Unit {
                id,
                address,
                name: draft.name,
                locks,
            };
            tx.put(Table::Units, &unit.id.0, &unit)?;
            Ok(unit)
        })?;
        self.provisioning_changed();
        Ok(unit)
    }

    pub fn change_unit(
        &self,
        principal: &Principal,
        id: &UnitId,
        change: UnitChange,
    ) -> Result<Unit, BuildingError> {
        self.require(principal, Capability::ManageBuilding)?;
        if let Some(name) = &change.name {
            validate::place_name(name)?;
        }
        let locks = change.locks.map(|l| self.paired_devices(l)).transpose()?;
        let unit = self.change(|tx| {
            let mut unit = read_unit(tx, id)?;
            if let Some(name) = change.name {
                unit.name = name;
            }
            if let Some(locks) = locks {
                check_locks_free(tx, &locks, id)?;
                unit.locks = locks;
            }
            tx.put(Table::Units, &id.0, &unit)?;
            check_residents_within(tx)?;
            check_codes_unique(tx)?;
            Ok(unit)
        })?;
        self.provisioning_changed();
        Ok(unit)
    }

    /// Deletes a unit with its residents and all their permissions (and any permission
    /// scoped to the unit). Answers how many people and permissions went with it.
    pub fn delete_unit(
        &self,
        principal: &Principal,
        id: &UnitId,
    ) -> Result<(usize, usize), BuildingError> {
        self.require(principal, Capability::ManageBuilding)?;
        let (removed, revoked) = self.change(|tx| {
            read_unit(tx, id)?;
            let residents: Vec<Person> = tx
                .list::<Person>(Table::People)?
                .into_iter()
                .filter(|person| person.unit.as_ref() == Some(id))
                .collect();
            let unit_scope = Scope::Unit { unit: id.clone() };
            let permissions: Vec<Permission> = tx
                .list::<Permission>(Table::Permissions)?
                .into_iter()
                .filter(|p| {
                    p.scope == unit_scope || residents.iter().any(|person| person.id == p.person)
                })
                .collect();
            let revoked: Vec<(Permission, bool)> = permissions
                .iter()
                .map(|p| (p.clone(), holder_is_resident(tx, p)))
                .collect();
            for permission in &permissions {
                remove_permission(tx, &permission.id)?;
            }
            for person in &residents {
                tx.remove(Table::People, &super::ids::person_key(person.id))?;
            }
            tx.remove(Table::Units, &id.0)?;
            Ok(((residents.len(), permissions.len()), revoked))
        })?;
        for (permission, resident) in &revoked {
            self.permission_changed(
                principal,
                permission,
                PermissionChangeKind::Revoked,
                *resident,
            );
        }
        self.provisioning_changed();
        Ok(removed)
    }
}

/// Refuses locks placed elsewhere (a Box of an address, or a lock of another unit).
fn check_locks_free(
    tx: &impl Records,
    locks: &[DeviceId],
    unit: &UnitId,
) -> Result<(), BuildingError> {
    let places = places(tx)?;
    for device in locks {
        match places.get(device) {
            Some(Place::LockOf(own)) if own == unit => {}
            Some(place) => {
                return Err(BuildingError::Conflict(format!(
                    "device {device} is already {place}"
                )))
            }
            None => {}
        }
    }
    Ok(())
}
