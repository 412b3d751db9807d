//! Permissions (Nuki's authorizations): who, where, how, and the limits. Their secrets — a
//! gateway-access secret's hash, a keypad code — are kept apart in `PermissionSecrets`. A
//! gateway-access secret is shown once, at creation; a keypad code too.

use std::collections::HashSet;

use rand::{Rng, RngCore};
use sha2::{Digest, Sha256};

use crate::access::{
    Address, Capability, DailyWindow, DeviceId, Limits, Permission, PermissionId, PermissionKind,
    Person, PersonId, Principal, Scope, Unit, Weekdays,
};
use crate::store::{StoreError, Table, WriteTx};

use super::addresses::read_address;
use super::ids::{address_key, new_permission_id};
use super::paging::filtered;
use super::people::read_person;
use super::units::read_unit;
use super::{validate, BuildingError, Keyed, Records};
use crate::gateway::authenticate::PERMISSION_SECRET_PREFIX;
use crate::gateway::provisioning::DeviceProvisioning;
use crate::gateway::secrets::PermissionSecret;
use crate::gateway::{Gateway, GatewayEvent, PermissionChangeKind, PermissionSubject};

/// Random bytes in a gateway-access secret (256 bits).
const SECRET_BYTES: usize = 32;
/// Tries to draw a keypad code no device in scope has yet, before giving up.
const CODE_DRAWS: usize = 1000;

#[derive(Clone, PartialEq, Eq)]
pub struct PermissionDraft {
    pub person: PersonId,
    pub name: String,
    pub scope: Scope,
    pub kind: PermissionKind,
    pub limits: Limits,
    /// Keypad codes only; drawn at random when absent.
    pub code: Option<u32>,
}

impl std::fmt::Debug for PermissionDraft {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PermissionDraft")
            .field("person", &self.person)
            .field("name", &self.name)
            .field("scope", &self.scope)
            .field("kind", &self.kind)
            .field("limits", &self.limits)
            .field("code", &self.code.map(|_| "…"))
            .finish()
    }
}

/// Changes of limits; `None` keeps a limit, `Some(None)` clears an optional one.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LimitsChange {
    pub enabled: Option<bool>,
    pub allowed_from: Option<Option<i64>>,
    pub allowed_until: Option<Option<i64>>,
    pub weekdays: Option<Weekdays>,
    /// Start of the daily window, minutes after midnight (the window is whole-day when both
    /// ends are equal).
    pub daily_from: Option<u16>,
    /// End of the daily window, minutes after midnight.
    pub daily_until: Option<u16>,
    pub remote_allowed: Option<bool>,
}

impl LimitsChange {
    /// The limits after the change (still to be validated).
    pub fn apply(&self, limits: &Limits) -> Limits {
        let current = limits.daily.unwrap_or(DailyWindow {
            from_minute: 0,
            until_minute: 0,
        });
        let daily = DailyWindow {
            from_minute: self.daily_from.unwrap_or(current.from_minute),
            until_minute: self.daily_until.unwrap_or(current.until_minute),
        };
        Limits {
            enabled: self.enabled.unwrap_or(limits.enabled),
            allowed_from: self.allowed_from.unwrap_or(limits.allowed_from),
            allowed_until: self.allowed_until.unwrap_or(limits.allowed_until),
            weekdays: self.weekdays.unwrap_or(limits.weekdays),
            daily: Some(daily),
            remote_allowed: self.remote_allowed.unwrap_or(limits.remote_allowed),
        }
    }
}

/// What to change; `None` keeps it. The person and the kind never change.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct PermissionChange {
    pub name: Option<String>,
    pub scope: Option<Scope>,
    pub limits: LimitsChange,
    /// A new keypad code (keypad codes only).
    pub code: Option<u32>,
}

impl std::fmt::Debug for PermissionChange {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PermissionChange")
            .field("name", &self.name)
            .field("scope", &self.scope)
            .field("limits", &self.limits)
            .field("code", &self.code.map(|_| "…"))
            .finish()
    }
}

/// A permission as shown: the devices its scope covers now, and where it stands on each.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PermissionView {
    pub permission: Permission,
    pub devices: Vec<DeviceId>,
    pub provisioning: Vec<DeviceProvisioning>,
}

/// A permission just created or given a new code, with what is shown only now.
#[derive(Clone, PartialEq, Eq)]
pub struct IssuedPermission {
    pub view: PermissionView,
    /// A gateway-access permission's secret (`nep_…`).
    pub secret: Option<String>,
    /// A keypad code, as given or drawn.
    pub code: Option<u32>,
}

impl std::fmt::Debug for IssuedPermission {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IssuedPermission")
            .field("view", &self.view)
            .field("secret", &self.secret.as_ref().map(|_| "…"))
            .field("code", &self.code.map(|_| "…"))
            .finish()
    }
}

pub(super) fn read_permission(
    tx: &impl Records,
    id: &PermissionId,
) -> Result<Permission, BuildingError> {
    tx.get(Table::Permissions, &id.0)?
        .ok_or_else(|| BuildingError::NotFound(format!("permission {id}")))
}

/// Removes a permission and its secrets.
/// Whether the permission's holder is a resident; a holder that cannot be read counts as
/// one, so a broken record never gets a name into the activity log.
pub(super) fn holder_is_resident(tx: &impl Records, permission: &Permission) -> bool {
    read_person(tx, permission.person).map_or(true, |person| person.unit.is_some())
}

pub(super) fn remove_permission(tx: &WriteTx, id: &PermissionId) -> Result<bool, StoreError> {
    tx.remove(Table::PermissionSecrets, &id.0)?;
    tx.remove(Table::Permissions, &id.0)
}

/// The SHA-256 (hex) under which a gateway-access secret is stored.
pub(in crate::gateway) fn secret_hash(secret: &str) -> [u8; 32] {
    Sha256::digest(secret.as_bytes()).into()
}

fn new_secret() -> String {
    let mut bytes = [0u8; SECRET_BYTES];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    format!("{PERMISSION_SECRET_PREFIX}{}", hex::encode(bytes))
}

/// A code of six digits 1–9 that does not start with 12.
fn draw_code(rng: &mut impl Rng) -> u32 {
    loop {
        let code = (0..6).fold(0, |code, _| code * 10 + rng.gen_range(1..=9));
        if validate::keypad_code(code).is_ok() {
            return code;
        }
    }
}

impl Gateway {
    /// A page of permissions in id order.
    pub fn permissions(
        &self,
        principal: &Principal,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Keyed<PermissionView>, BuildingError> {
        self.require(principal, Capability::ManageUsers)?;
        let page = self
            .store
            .read(|tx| filtered(tx, Table::Permissions, after, limit, |_: &Permission| true))?;
        let permissions: Vec<Permission> = page.iter().map(|(_, p)| p.clone()).collect();
        let statuses = self.provisioning_statuses(&permissions);
        let rules = self.rules();
        Ok(page
            .into_iter()
            .zip(statuses)
            .map(|((key, permission), provisioning)| {
                let view = PermissionView {
                    devices: rules.devices_of(&permission.scope),
                    provisioning,
                    permission,
                };
                (key, view)
            })
            .collect())
    }

    pub fn permission(
        &self,
        principal: &Principal,
        id: &PermissionId,
    ) -> Result<PermissionView, BuildingError> {
        self.require(principal, Capability::ManageUsers)?;
        let permission = self.store.read(|tx| Ok(read_permission(tx, id)))??;
        Ok(self.permission_view(permission))
    }

    pub fn create_permission(
        &self,
        principal: &Principal,
        draft: PermissionDraft,
    ) -> Result<IssuedPermission, BuildingError> {
        self.require(principal, Capability::ManageUsers)?;
        validate::permission_name(&draft.name, draft.kind)?;
        let limits = validate::limits(draft.limits)?;
        self.check_code_fits(draft.kind, draft.code)?;
        self.check_scope_devices(&draft.scope)?;
        let (permission, secret, code) = self
            .change(|tx| {
                let person = read_person(tx, draft.person).map_err(|_| {
                    BuildingError::Invalid(format!("personId {} names no person", draft.person))
                })?;
                check_scope(tx, &draft.scope)?;
                check_resident_scope(tx, &person, &draft.scope)?;
                let id = new_permission_id(tx)?;
                let code = match draft.kind {
                    PermissionKind::KeypadCode => {
                        Some(self.free_code(tx, &id, &draft.scope, draft.code)?)
                    }
                    _ => None,
                };
                let secret = (draft.kind == PermissionKind::GatewayAccess).then(new_secret);
                let permission = Permission {
                    id,
                    person: draft.person,
                    name: draft.name,
                    scope: draft.scope,
                    kind: draft.kind,
                    limits,
                };
                tx.put(Table::Permissions, &permission.id.0, &permission)?;
                let stored = PermissionSecret {
                    access_hash: secret.as_deref().map(|s| hex::encode(secret_hash(s))),
                    keypad_code: code,
                };
                if stored != PermissionSecret::default() {
                    tx.put(Table::PermissionSecrets, &permission.id.0, &stored)?;
                }
                let resident = person.unit.is_some();
                Ok((permission, secret, code, resident))
            })
            .map(|(permission, secret, code, resident)| {
                self.permission_changed(
                    principal,
                    &permission,
                    PermissionChangeKind::Created,
                    resident,
                );
                (permission, secret, code)
            })?;
        self.provisioning_changed();
        Ok(IssuedPermission {
            view: self.permission_view(permission),
            secret,
            code,
        })
    }

    /// Changes a permission; a new keypad code is shown in the answer, this once.
    pub fn change_permission(
        &self,
        principal: &Principal,
        id: &PermissionId,
        change: PermissionChange,
    ) -> Result<IssuedPermission, BuildingError> {
        self.require(principal, Capability::ManageUsers)?;
        if let Some(scope) = &change.scope {
            self.check_scope_devices(scope)?;
        }
        let permission = self
            .change(|tx| {
                let mut permission = read_permission(tx, id)?;
                if let Some(name) = change.name.clone() {
                    validate::permission_name(&name, permission.kind)?;
                    permission.name = name;
                }
                permission.limits = validate::limits(change.limits.apply(&permission.limits))?;
                self.check_code_fits(permission.kind, change.code)?;
                if let Some(scope) = change.scope.clone() {
                    check_scope(tx, &scope)?;
                    let person = read_person(tx, permission.person)?;
                    check_resident_scope(tx, &person, &scope)?;
                    permission.scope = scope;
                }
                if permission.kind == PermissionKind::KeypadCode
                    && (change.code.is_some() || change.scope.is_some())
                {
                    let mut secret: PermissionSecret =
                        tx.get(Table::PermissionSecrets, &id.0)?.unwrap_or_default();
                    let code = change.code.or(secret.keypad_code);
                    secret.keypad_code = Some(self.free_code(tx, id, &permission.scope, code)?);
                    tx.put(Table::PermissionSecrets, &id.0, &secret)?;
                }
                tx.put(Table::Permissions, &id.0, &permission)?;
                let resident = holder_is_resident(tx, &permission);
                Ok((permission, resident))
            })
            .map(|(permission, resident)| {
                self.permission_changed(
                    principal,
                    &permission,
                    PermissionChangeKind::Changed,
                    resident,
                );
                permission
            })?;
        self.provisioning_changed();
        Ok(IssuedPermission {
            view: self.permission_view(permission),
            secret: None,
            code: change.code,
        })
    }

    /// Revokes a permission: gone from the gateway at once, from the devices through
    /// provisioning.
    pub fn delete_permission(
        &self,
        principal: &Principal,
        id: &PermissionId,
    ) -> Result<(), BuildingError> {
        self.require(principal, Capability::ManageUsers)?;
        let (permission, resident) = self.change(|tx| {
            let permission = read_permission(tx, id)?;
            let resident = holder_is_resident(tx, &permission);
            if remove_permission(tx, id)? {
                Ok((permission, resident))
            } else {
                Err(BuildingError::NotFound(format!("permission {id}")))
            }
        })?;
        self.permission_changed(
            principal,
            &permission,
            PermissionChangeKind::Revoked,
            resident,
        );
        self.provisioning_changed();
        Ok(())
    }

    /// Reports a stored change of a permission on the bus (for the activity log).
    pub(super) fn permission_changed(
        &self,
        by: &Principal,
        permission: &Permission,
        change: PermissionChangeKind,
        resident: bool,
    ) {
        let _ = self.events.send(GatewayEvent::PermissionChanged {
            by: by.clone(),
            permission: permission.id.clone(),
            change,
            subject: PermissionSubject {
                name: permission.name.clone(),
                resident,
            },
        });
    }

    fn permission_view(&self, permission: Permission) -> PermissionView {
        PermissionView {
            devices: self.rules().devices_of(&permission.scope),
            provisioning: self.provisioning_status(&permission.id),
            permission,
        }
    }

    fn check_code_fits(
        &self,
        kind: PermissionKind,
        code: Option<u32>,
    ) -> Result<(), BuildingError> {
        match (kind, code) {
            (_, None) => Ok(()),
            (PermissionKind::KeypadCode, Some(code)) => validate::keypad_code(code),
            (_, Some(_)) => Err(BuildingError::Invalid(
                "only keypad_code permissions have a code".into(),
            )),
        }
    }

    /// A device scope must name a paired device.
    fn check_scope_devices(&self, scope: &Scope) -> Result<(), BuildingError> {
        match scope {
            Scope::Device { device } => self.paired_devices(vec![*device]).map(|_| ()),
            _ => Ok(()),
        }
    }

    /// `wanted` (or a drawn code) if no other keypad code on a device of `scope` has it.
    fn free_code(
        &self,
        tx: &WriteTx,
        own: &PermissionId,
        scope: &Scope,
        wanted: Option<u32>,
    ) -> Result<u32, BuildingError> {
        let devices = devices_in(tx, scope)?;
        let taken: HashSet<u32> = keypad_codes(tx)?
            .into_iter()
            .filter(|(id, _, others)| id != own && others.iter().any(|d| devices.contains(d)))
            .map(|(_, code, _)| code)
            .collect();
        match wanted {
            Some(code) if taken.contains(&code) => Err(BuildingError::Conflict(
                "this code is already in use on a device of the permission's scope".into(),
            )),
            Some(code) => Ok(code),
            None => {
                let mut rng = rand::rngs::OsRng;
                (0..CODE_DRAWS)
                    .map(|_| draw_code(&mut rng))
                    .find(|code| !taken.contains(code))
                    .ok_or_else(|| {
                        BuildingError::Conflict("no free keypad code left on these devices".into())
                    })
            }
        }
    }
}

/// The devices of `scope` as this transaction has the building (a change may just have
/// moved a lock or a Box). A scope naming something gone covers nothing.
pub(super) fn devices_in(tx: &impl Records, scope: &Scope) -> Result<Vec<DeviceId>, BuildingError> {
    let boxes_of = |address| -> Result<Vec<DeviceId>, BuildingError> {
        Ok(tx
            .get::<Address>(Table::Addresses, &address_key(address))?
            .map(|address| address.boxes)
            .unwrap_or_default())
    };
    let mut devices = match scope {
        Scope::Device { device } => vec![*device],
        Scope::AddressBoxes { address } => boxes_of(*address)?,
        Scope::Unit { unit } => match tx.get::<Unit>(Table::Units, &unit.0)? {
            Some(unit) => {
                let mut devices = unit.locks;
                devices.extend(boxes_of(unit.address)?);
                devices
            }
            None => Vec::new(),
        },
    };
    devices.sort();
    devices.dedup();
    Ok(devices)
}

/// Every stored keypad code with its permission and the devices it is on.
fn keypad_codes(
    tx: &impl Records,
) -> Result<Vec<(PermissionId, u32, Vec<DeviceId>)>, BuildingError> {
    let mut codes = Vec::new();
    for permission in tx.list::<Permission>(Table::Permissions)? {
        if permission.kind != PermissionKind::KeypadCode {
            continue;
        }
        let secret: Option<PermissionSecret> =
            tx.get(Table::PermissionSecrets, &permission.id.0)?;
        if let Some(code) = secret.and_then(|s| s.keypad_code) {
            let devices = devices_in(tx, &permission.scope)?;
            codes.push((permission.id, code, devices));
        }
    }
    Ok(codes)
}

/// After a change of the building (a lock or Box moved), no device may hold one keypad code
/// twice.
pub(super) fn check_codes_unique(tx: &impl Records) -> Result<(), BuildingError> {
    let mut seen: HashSet<(DeviceId, u32)> = HashSet::new();
    for (_, code, devices) in keypad_codes(tx)? {
        for device in devices {
            if !seen.insert((device, code)) {
                return Err(BuildingError::Conflict(format!(
                    "two keypad codes of this building would be the same on device {device}; \
                     change one of them first"
                )));
            }
        }
    }
    Ok(())
}

/// A resident's permission naming a device on its own must stay within their unit (after a
/// lock left the unit, or a Box its address).
pub(super) fn check_residents_within(tx: &impl Records) -> Result<(), BuildingError> {
    let people: Vec<Person> = tx.list(Table::People)?;
    for permission in tx.list::<Permission>(Table::Permissions)? {
        let Some(person) = people.iter().find(|p| p.id == permission.person) else {
            continue;
        };
        if person.unit.is_some() && matches!(permission.scope, Scope::Device { .. }) {
            check_resident_scope(tx, person, &permission.scope).map_err(|_| {
                BuildingError::Conflict(format!(
                    "permission {} of a resident applies to a device that would leave their unit; \
                     revoke it first",
                    permission.id
                ))
            })?;
        }
    }
    Ok(())
}

/// The scope names something that exists (422 otherwise: the body refers to it).
fn check_scope(tx: &impl Records, scope: &Scope) -> Result<(), BuildingError> {
    match scope {
        Scope::Device { .. } => Ok(()),
        Scope::AddressBoxes { address } => read_address(tx, *address)
            .map(|_| ())
            .map_err(|_| BuildingError::Invalid(format!("addressId {address} names no address"))),
        Scope::Unit { unit } => read_unit(tx, unit).map(|_| ()).map_err(|_| {
            BuildingError::Invalid(format!("unitId {unit} names no residential unit"))
        }),
    }
}

/// A resident's permissions stay within their unit: the unit, one of its locks, or the
/// Boxes of its address.
fn check_resident_scope(
    tx: &impl Records,
    person: &Person,
    scope: &Scope,
) -> Result<(), BuildingError> {
    let Some(unit_id) = &person.unit else {
        return Ok(());
    };
    let unit = read_unit(tx, unit_id)?;
    let address = read_address(tx, unit.address)?;
    let within = match scope {
        Scope::Unit { unit } => unit == unit_id,
        Scope::AddressBoxes { address } => *address == unit.address,
        Scope::Device { device } => unit.locks.contains(device) || address.boxes.contains(device),
    };
    if within {
        Ok(())
    } else {
        Err(BuildingError::Invalid(format!(
            "person {} is a resident of unit {unit_id}: their permissions must stay within it \
             (the unit, one of its locks, or the Boxes of its address)",
            person.id
        )))
    }
}
