//! People who hold permissions: the owner's own people, or residents of a unit. A person's
//! unit is fixed at creation, since their permissions are checked against it.

use crate::access::{Capability, Permission, Person, PersonId, Principal, UnitId};
use crate::store::Table;

use super::ids::{new_person_id, person_key};
use super::paging::filtered;
use super::permissions::remove_permission;
use super::units::read_unit;
use super::{validate, BuildingError, Keyed, Records};
use crate::gateway::{Gateway, PermissionChangeKind};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PersonDraft {
    pub name: String,
    /// Set for a resident.
    pub unit: Option<UnitId>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PersonChange {
    pub name: Option<String>,
}

pub(super) fn read_person(tx: &impl Records, id: PersonId) -> Result<Person, BuildingError> {
    tx.get(Table::People, &person_key(id))?
        .ok_or_else(|| BuildingError::NotFound(format!("person {id}")))
}

impl Gateway {
    pub fn people(
        &self,
        principal: &Principal,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Keyed<Person>, BuildingError> {
        self.require(principal, Capability::ManageUsers)?;
        Ok(self
            .store
            .read(|tx| filtered(tx, Table::People, after, limit, |_: &Person| true))?)
    }

    pub fn person(&self, principal: &Principal, id: PersonId) -> Result<Person, BuildingError> {
        self.require(principal, Capability::ManageUsers)?;
        self.store.read(|tx| Ok(read_person(tx, id)))?
    }

    pub fn create_person(
        &self,
        principal: &Principal,
        draft: PersonDraft,
    ) -> Result<Person, BuildingError> {
        self.require(principal, Capability::ManageUsers)?;
        validate::person_name(&draft.name)?;
        self.change(|tx| {
            if let Some(unit) = &draft.unit {
                read_unit(tx, unit).map_err(|_| {
                    BuildingError::Invalid(format!("unitId {unit} names no residential unit"))
                })?;
            }
            let person = Person {
                id: new_person_id(tx)?,
                name: draft.name,
                unit: draft.unit,
            };
            tx.put(Table::People, &person_key(person.id), &person)?;
            Ok(person)
        })
    }

    pub fn change_person(
        &self,
        principal: &Principal,
        id: PersonId,
        change: PersonChange,
    ) -> Result<Person, BuildingError> {
        self.require(principal, Capability::ManageUsers)?;
        if let Some(name) = &change.name {
            validate::person_name(name)?;
        }
        self.change(|tx| {
            let mut person = read_person(tx, id)?;
            if let Some(name) = change.name {
                person.name = name;
            }
            tx.put(Table::People, &person_key(id), &person)?;
            Ok(person)
        })
    }

    /// Deletes a person with every permission of theirs; answers how many permissions went.
    pub fn delete_person(
        &self,
        principal: &Principal,
        id: PersonId,
    ) -> Result<usize, BuildingError> {
        self.require(principal, Capability::ManageUsers)?;
        let (theirs, resident) = self.change(|tx| {
            let person = read_person(tx, id)?;
            let theirs: Vec<Permission> = tx
                .list::<Permission>(Table::Permissions)?
                .into_iter()
                .filter(|p| p.person == id)
                .collect();
            for permission in &theirs {
                remove_permission(tx, &permission.id)?;
            }
            tx.remove(Table::People, &person_key(id))?;
            Ok((theirs, person.unit.is_some()))
        })?;
        for permission in &theirs {
            self.permission_changed(
                principal,
                permission,
                PermissionChangeKind::Revoked,
                resident,
            );
        }
        let removed = theirs.len();
        if removed > 0 {
            self.provisioning_changed();
        }
        Ok(removed)
    }
}
