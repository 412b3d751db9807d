//! Addresses: a building's name, its IANA time zone and the Boxes at its entrance doors.
//! The name is fixed once the address has residential units (their residents know the
//! address by it), and an address goes only once nothing refers to it any more.

use std::collections::HashMap;

use crate::access::{Address, AddressId, Capability, DeviceId, Permission, Principal, Scope, Unit};
use crate::store::{StoreError, Table};

use super::ids::{address_key, new_address_id};
use super::paging::filtered;
use super::permissions::{check_codes_unique, check_residents_within};
use super::{validate, BuildingError, Keyed, Records};
use crate::gateway::Gateway;

/// A new address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddressDraft {
    pub name: String,
    /// IANA name; `None`: the gateway's own zone.
    pub time_zone: Option<String>,
    pub boxes: Vec<DeviceId>,
}

/// What to change; `None` keeps it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AddressChange {
    pub name: Option<String>,
    pub time_zone: Option<String>,
    pub boxes: Option<Vec<DeviceId>>,
}

/// An address as shown, with how many residential units it has.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddressView {
    pub address: Address,
    pub units: usize,
}

/// Where a device is placed in the building: as a Box of an address or a lock of a unit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Place {
    BoxOf(AddressId),
    LockOf(crate::access::UnitId),
}

impl std::fmt::Display for Place {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Place::BoxOf(address) => write!(f, "a Box of address {address}"),
            Place::LockOf(unit) => write!(f, "a lock of residential unit {unit}"),
        }
    }
}

/// Every device's place. A device has at most one, so its time zone is never in doubt.
pub(super) fn places(tx: &impl Records) -> Result<HashMap<DeviceId, Place>, StoreError> {
    let mut places = HashMap::new();
    for address in tx.list::<Address>(Table::Addresses)? {
        for device in address.boxes {
            places.insert(device, Place::BoxOf(address.id));
        }
    }
    for unit in tx.list::<Unit>(Table::Units)? {
        for device in unit.locks {
            places.insert(device, Place::LockOf(unit.id.clone()));
        }
    }
    Ok(places)
}

fn units_of(units: &[Unit], address: AddressId) -> usize {
    units.iter().filter(|unit| unit.address == address).count()
}

pub(super) fn read_address(tx: &impl Records, id: AddressId) -> Result<Address, BuildingError> {
    tx.get(Table::Addresses, &address_key(id))?
        .ok_or_else(|| BuildingError::NotFound(format!("address {id}")))
}

impl Gateway {
    /// A page of addresses in id order.
    pub fn addresses(
        &self,
        principal: &Principal,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Keyed<AddressView>, BuildingError> {
        self.require(principal, Capability::ManageBuilding)?;
        Ok(self.store.read(|tx| {
            let page: Keyed<Address> = filtered(tx, Table::Addresses, after, limit, |_| true)?;
            let units: Vec<Unit> = tx.list(Table::Units)?;
            Ok(page
                .into_iter()
                .map(|(key, address)| {
                    let units = units_of(&units, address.id);
                    (key, AddressView { address, units })
                })
                .collect())
        })?)
    }

    pub fn address(
        &self,
        principal: &Principal,
        id: AddressId,
    ) -> Result<AddressView, BuildingError> {
        self.require(principal, Capability::ManageBuilding)?;
        self.store.read(|tx| {
            let units: Vec<Unit> = tx.list(Table::Units)?;
            Ok(read_address(tx, id).map(|address| AddressView {
                units: units_of(&units, address.id),
                address,
            }))
        })?
    }

    pub fn create_address(
        &self,
        principal: &Principal,
        draft: AddressDraft,
    ) -> Result<AddressView, BuildingError> {
        self.require(principal, Capability::ManageBuilding)?;
        validate::place_name(&draft.name)?;
        let time_zone = match draft.time_zone {
            Some(zone) => {
                validate::time_zone(&zone)?;
                zone
            }
            None => self.default_zone_name(),
        };
        let boxes = self.paired_devices(draft.boxes)?;
        let view = self.change(|tx| {
            let id = new_address_id(tx)?;
            check_boxes_free(tx, &boxes, id)?;
            let address = Address {
                id,
                name: draft.name,
                time_zone,
                boxes,
            };
            tx.put(Table::Addresses, &address_key(id), &address)?;
            Ok(AddressView { address, units: 0 })
        })?;
        self.provisioning_changed();
        Ok(view)
    }

    pub fn change_address(
        &self,
        principal: &Principal,
        id: AddressId,
        change: AddressChange,
    ) -> Result<AddressView, BuildingError> {
        self.require(principal, Capability::ManageBuilding)?;
        if let Some(name) = &change.name {
            validate::place_name(name)?;
        }
        if let Some(zone) = &change.time_zone {
            validate::time_zone(zone)?;
        }
        let boxes = change.boxes.map(|b| self.paired_devices(b)).transpose()?;
        let view = self.change(|tx| {
            let key = address_key(id);
            let mut address = read_address(tx, id)?;
            let units = units_of(&tx.list::<Unit>(Table::Units)?, id);
            if let Some(name) = change.name {
                if name != address.name && units > 0 {
                    return Err(BuildingError::Conflict(format!(
                        "the name of an address can be changed only while it has no residential \
                         unit; address {id} has {units} (residents know it by its name)"
                    )));
                }
                address.name = name;
            }
            if let Some(zone) = change.time_zone {
                address.time_zone = zone;
            }
            if let Some(boxes) = boxes {
                check_boxes_free(tx, &boxes, id)?;
                address.boxes = boxes;
            }
            tx.put(Table::Addresses, &key, &address)?;
            check_residents_within(tx)?;
            check_codes_unique(tx)?;
            Ok(AddressView { address, units })
        })?;
        self.provisioning_changed();
        Ok(view)
    }

    /// Deletes an address nothing refers to any more.
    pub fn delete_address(
        &self,
        principal: &Principal,
        id: AddressId,
    ) -> Result<(), BuildingError> {
        self.require(principal, Capability::ManageBuilding)?;
        self.change(|tx| {
            let key = address_key(id);
            read_address(tx, id)?;
            let units = units_of(&tx.list::<Unit>(Table::Units)?, id);
            if units > 0 {
                return Err(BuildingError::Conflict(format!(
                    "address {id} still has {units} residential unit(s); delete them first"
                )));
            }
            let scoped = tx
                .list::<Permission>(Table::Permissions)?
                .iter()
                .filter(|p| p.scope == Scope::AddressBoxes { address: id })
                .count();
            if scoped > 0 {
                return Err(BuildingError::Conflict(format!(
                    "{scoped} permission(s) apply to the Boxes of address {id}; revoke them first"
                )));
            }
            tx.remove(Table::Addresses, &key)?;
            Ok(())
        })?;
        self.provisioning_changed();
        Ok(())
    }

    /// The gateway's own zone, by name.
    fn default_zone_name(&self) -> String {
        self.settings
            .time_zone
            .iana_name()
            .unwrap_or("UTC")
            .to_owned()
    }

    /// `devices` without repeats, each one paired; otherwise which one is not.
    pub(super) fn paired_devices(
        &self,
        mut devices: Vec<DeviceId>,
    ) -> Result<Vec<DeviceId>, BuildingError> {
        devices.sort();
        devices.dedup();
        if let Some(unknown) = devices.iter().find(|d| self.device_by_id(**d).is_none()) {
            return Err(BuildingError::Invalid(format!(
                "smartlockId {unknown} is not a paired device"
            )));
        }
        Ok(devices)
    }
}

/// Refuses Boxes already placed elsewhere (another address, or a unit).
fn check_boxes_free(
    tx: &impl Records,
    boxes: &[DeviceId],
    address: AddressId,
) -> Result<(), BuildingError> {
    let places = places(tx)?;
    for device in boxes {
        match places.get(device) {
            Some(Place::BoxOf(own)) if *own == address => {}
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
