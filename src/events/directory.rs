//! What the activity log looks up to anonymize: people, permissions, which permission an
//! entry on a device belongs to (provisioning records), the gateway's own authorization on
//! each device, and the building a device belongs to. Read from the store in one
//! transaction and kept until the building or the provisioning changes.

use std::collections::HashMap;

use serde::Deserialize;

use crate::access::{
    Address, AddressId, DeviceId, Permission, PermissionId, Person, PersonId, Unit,
};
use crate::ble::DeviceAddress;
use crate::store::{ReadTx, Store, StoreError, Table};

/// Which list of a device an entry id belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(super) enum EntryList {
    KeypadCode,
    Authorization,
}

/// The fields of a provisioning record the log needs (the rest is ignored).
#[derive(Deserialize)]
struct ProvisioningLink {
    device: DeviceId,
    permission: PermissionId,
    entry: EntryList,
    device_entry: Option<u32>,
}

/// Whose a permission is, as far as the log may say.
#[derive(Clone, PartialEq, Eq)]
pub(super) enum Holder {
    /// The owner's own permission (its holder has no unit), with its name.
    Own { name: String },
    /// A resident's, or one whose holder cannot be read.
    Resident,
}

#[derive(Default)]
pub(super) struct Directory {
    holders: HashMap<PermissionId, Holder>,
    entries: HashMap<(DeviceId, EntryList, u32), PermissionId>,
    own_authorizations: HashMap<DeviceAddress, u32>,
    buildings: HashMap<DeviceId, AddressId>,
}

impl Directory {
    /// Reads the building from `store`; `own_authorizations` are the gateway's own
    /// authorization ids by device.
    pub(super) fn load(
        store: &Store,
        own_authorizations: HashMap<DeviceAddress, u32>,
    ) -> Result<Self, StoreError> {
        let mut directory = store.read(Self::read)?;
        directory.own_authorizations = own_authorizations;
        Ok(directory)
    }

    fn read(tx: &ReadTx) -> Result<Self, StoreError> {
        let people: HashMap<PersonId, Person> = tx
            .list::<Person>(Table::People)?
            .into_iter()
            .map(|person| (person.id, person))
            .collect();
        let holders = tx
            .list::<Permission>(Table::Permissions)?
            .into_iter()
            .map(|permission| {
                let holder = match people.get(&permission.person) {
                    Some(person) if person.unit.is_none() => Holder::Own {
                        name: permission.name,
                    },
                    _ => Holder::Resident,
                };
                (permission.id, holder)
            })
            .collect();
        let entries = tx
            .list::<ProvisioningLink>(Table::Provisioning)?
            .into_iter()
            .filter_map(|link| {
                let entry = link.device_entry?;
                Some(((link.device, link.entry, entry), link.permission))
            })
            .collect();
        let mut buildings = HashMap::new();
        for address in tx.list::<Address>(Table::Addresses)? {
            for device in address.boxes {
                buildings.insert(device, address.id);
            }
        }
        for unit in tx.list::<Unit>(Table::Units)? {
            for device in unit.locks {
                buildings.insert(device, unit.address);
            }
        }
        Ok(Self {
            holders,
            entries,
            own_authorizations: HashMap::new(),
            buildings,
        })
    }

    /// The holder of a permission; `None` for one the gateway does not know (any more).
    pub(super) fn holder(&self, permission: &PermissionId) -> Option<&Holder> {
        self.holders.get(permission)
    }

    /// The permission an entry on a device belongs to.
    pub(super) fn permission_of_entry(
        &self,
        device: DeviceId,
        list: EntryList,
        entry: u32,
    ) -> Option<&PermissionId> {
        self.entries.get(&(device, list, entry))
    }

    /// The gateway's own authorization id on a device.
    pub(super) fn own_authorization(&self, device: &DeviceAddress) -> Option<u32> {
        self.own_authorizations.get(device).copied()
    }

    pub(super) fn building_of(&self, device: DeviceId) -> Option<AddressId> {
        self.buildings.get(&device).copied()
    }
}

#[cfg(test)]
impl Directory {
    pub(super) fn for_tests(
        holders: &[(&str, Holder)],
        entries: &[(DeviceId, EntryList, u32, &str)],
    ) -> Self {
        Self {
            holders: holders
                .iter()
                .map(|(id, holder)| (PermissionId((*id).into()), holder.clone()))
                .collect(),
            entries: entries
                .iter()
                .map(|(device, list, entry, permission)| {
                    ((*device, *list, *entry), PermissionId((*permission).into()))
                })
                .collect(),
            ..Self::default()
        }
    }
}
