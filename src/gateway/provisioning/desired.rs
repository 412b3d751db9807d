//! What the devices should hold, worked out from the stored permissions, their secrets and
//! the building; and, against the records, which devices have work.

use std::collections::BTreeMap;

use jiff::tz::TimeZone;
use sha2::{Digest, Sha256};

use crate::access::{
    AccessRules, Address, DeviceId, Permission, PermissionId, PermissionKind, Unit,
};
use crate::devices::admin_ops::DeviceZone;
use crate::nuki::messages::{AllowedWindow, KEYPAD_NAME_LEN, NAME_LEN};
use crate::store::{ReadTx, StoreError, Table};

use super::record::{self, EntryKind, Record, RecordState, REMOVAL};
use super::window;
use super::{DeviceProvisioning, ProvisioningState};
use crate::gateway::PermissionSecret;

/// One entry as a device should hold it. `Debug` leaves the code out.
#[derive(Clone, PartialEq, Eq)]
pub struct Desired {
    pub device: DeviceId,
    pub permission: PermissionId,
    pub entry: EntryKind,
    /// Cut to what the device's name field holds.
    pub name: String,
    pub code: Option<u32>,
    pub enabled: bool,
    pub remote_allowed: bool,
    pub time_limited: bool,
    pub window: AllowedWindow,
    /// The zone the device must be in, when the entry has weekday or daily limits.
    pub zone: Option<DeviceZone>,
    /// Why it cannot be written at all, known without asking the device.
    pub problem: Option<String>,
}

impl std::fmt::Debug for Desired {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Desired")
            .field("device", &self.device)
            .field("permission", &self.permission)
            .field("entry", &self.entry)
            .field("name", &self.name)
            .field("enabled", &self.enabled)
            .field("time_limited", &self.time_limited)
            .field("zone", &self.zone)
            .finish_non_exhaustive()
    }
}

impl Desired {
    /// Changes whenever anything the device should hold changes (the zone included, so a
    /// daylight-saving change is new work).
    pub fn fingerprint(&self) -> String {
        let mut hash = Sha256::new();
        let text = format!(
            "{:?}|{}|{:?}|{}|{}|{}|{:?}|{:?}|{:?}",
            self.entry,
            self.name,
            self.code,
            self.enabled,
            self.remote_allowed,
            self.time_limited,
            self.window,
            self.zone,
            self.problem,
        );
        hash.update(text.as_bytes());
        hex::encode(&hash.finalize()[..16])
    }
}

/// One permission on one device: what should be there and what is known to be there.
#[derive(Debug, Clone)]
pub struct Item {
    pub desired: Option<Desired>,
    pub record: Option<Record>,
}

impl Item {
    pub fn needs_work(&self) -> bool {
        match (&self.desired, &self.record) {
            (Some(_), None) => true,
            (Some(desired), Some(record)) => {
                record.target != desired.fingerprint() || record.state == RecordState::Pending
            }
            (None, Some(record)) => {
                !(record.target == REMOVAL && matches!(record.state, RecordState::Failed { .. }))
            }
            (None, None) => false,
        }
    }

    pub fn permission(&self) -> Option<&PermissionId> {
        self.desired
            .as_ref()
            .map(|d| &d.permission)
            .or(self.record.as_ref().map(|r| &r.permission))
    }

    pub fn entry(&self) -> Option<EntryKind> {
        self.desired
            .as_ref()
            .map(|d| d.entry)
            .or(self.record.as_ref().map(|r| r.entry))
    }
}

/// Everything one device should have and has, per permission.
#[derive(Debug, Clone)]
pub struct DevicePlan {
    pub device: DeviceId,
    pub items: Vec<Item>,
}

impl DevicePlan {
    pub fn has_work(&self) -> bool {
        self.items.iter().any(Item::needs_work)
    }
}

/// Every device's plan, from one consistent view of the store at gateway time `now`.
pub fn plans(
    tx: &ReadTx,
    default_zone: &TimeZone,
    now: i64,
) -> Result<Vec<DevicePlan>, StoreError> {
    let rules = building(tx, default_zone)?;
    let mut by_device: BTreeMap<DeviceId, BTreeMap<PermissionId, Item>> = BTreeMap::new();
    for permission in tx.list::<Permission>(Table::Permissions)? {
        for desired in desired_of(tx, &rules, &permission, now)? {
            by_device.entry(desired.device).or_default().insert(
                desired.permission.clone(),
                Item {
                    desired: Some(desired),
                    record: None,
                },
            );
        }
    }
    for record in tx.list::<Record>(Table::Provisioning)? {
        let item = by_device
            .entry(record.device)
            .or_default()
            .entry(record.permission.clone())
            .or_insert(Item {
                desired: None,
                record: None,
            });
        item.record = Some(record);
    }
    Ok(by_device
        .into_iter()
        .map(|(device, items)| DevicePlan {
            device,
            items: items.into_values().collect(),
        })
        .collect())
}

/// Where one permission stands on each device: the devices in its scope, and those it is
/// still to be removed from.
pub fn status(
    tx: &ReadTx,
    default_zone: &TimeZone,
    now: i64,
    permission: &PermissionId,
) -> Result<Vec<DeviceProvisioning>, StoreError> {
    let desired = match tx.get::<Permission>(Table::Permissions, &permission.0)? {
        Some(found) => desired_of(tx, &building(tx, default_zone)?, &found, now)?,
        None => Vec::new(),
    };
    status_from(tx, permission, desired)
}

/// [`status`] of several stored permissions, the building read once for all of them (a page
/// of a list).
pub fn statuses(
    tx: &ReadTx,
    default_zone: &TimeZone,
    now: i64,
    permissions: &[Permission],
) -> Result<Vec<Vec<DeviceProvisioning>>, StoreError> {
    let mut rules: Option<AccessRules> = None;
    let mut all = Vec::with_capacity(permissions.len());
    for permission in permissions {
        let desired = if permission.kind.lives_on_devices() {
            let rules = match &mut rules {
                Some(rules) => rules,
                empty => empty.insert(building(tx, default_zone)?),
            };
            desired_of(tx, rules, permission, now)?
        } else {
            Vec::new()
        };
        all.push(status_from(tx, &permission.id, desired)?);
    }
    Ok(all)
}

fn status_from(
    tx: &ReadTx,
    permission: &PermissionId,
    desired: Vec<Desired>,
) -> Result<Vec<DeviceProvisioning>, StoreError> {
    let mut items: BTreeMap<DeviceId, Item> = desired
        .into_iter()
        .map(|desired| {
            (
                desired.device,
                Item {
                    desired: Some(desired),
                    record: None,
                },
            )
        })
        .collect();
    for record in records_of(tx, permission)? {
        let item = items.entry(record.device).or_insert(Item {
            desired: None,
            record: None,
        });
        item.record = Some(record);
    }
    Ok(items
        .into_iter()
        .map(|(device, item)| DeviceProvisioning {
            device,
            state: state_of(&item),
        })
        .collect())
}

fn state_of(item: &Item) -> ProvisioningState {
    let attempts = item.record.as_ref().map_or(0, |r| r.attempts);
    if let Some(problem) = item.desired.as_ref().and_then(|d| d.problem.clone()) {
        return ProvisioningState::Failed {
            reason: problem,
            attempts,
        };
    }
    let Some(record) = &item.record else {
        return ProvisioningState::Pending { attempts: 0 };
    };
    let current = match &item.desired {
        Some(desired) => record.target == desired.fingerprint(),
        None => record.target == REMOVAL,
    };
    match (&record.state, current) {
        (RecordState::Applied, true) => ProvisioningState::Applied,
        (RecordState::Failed { reason }, true) => ProvisioningState::Failed {
            reason: reason.clone(),
            attempts,
        },
        (RecordState::Pending, true) => ProvisioningState::Pending { attempts },
        // The permission changed since the last attempt (or is being removed): new work.
        (_, false) => ProvisioningState::Pending {
            attempts: if item.desired.is_some() { 0 } else { attempts },
        },
    }
}

/// The records of one permission.
pub fn records_of(tx: &ReadTx, permission: &PermissionId) -> Result<Vec<Record>, StoreError> {
    const PAGE: usize = 64;
    let prefix = record::prefix(permission);
    let mut after = prefix.clone();
    let mut found = Vec::new();
    loop {
        let page = tx.page::<Record>(Table::Provisioning, Some(&after), PAGE)?;
        let full = page.len() == PAGE;
        for (key, value) in page {
            if !key.starts_with(&prefix) {
                return Ok(found);
            }
            if record::belongs_to(&key, permission) {
                found.push(value);
            }
            after = key;
        }
        if !full {
            return Ok(found);
        }
    }
}

/// The building without permissions: enough to resolve scopes and zones.
fn building(tx: &ReadTx, default_zone: &TimeZone) -> Result<AccessRules, StoreError> {
    let addresses: Vec<Address> = tx.list(Table::Addresses)?;
    let units: Vec<Unit> = tx.list(Table::Units)?;
    // An address whose zone the zone database lacks is skipped, not fatal: its devices fall
    // back to the default zone until the address is fixed.
    let known: Vec<Address> = addresses
        .into_iter()
        .filter(|address| {
            let ok = TimeZone::get(&address.time_zone).is_ok();
            if !ok {
                tracing::warn!(address = %address.id, zone = %address.time_zone, "unknown time zone; its devices use the default zone");
            }
            ok
        })
        .collect();
    Ok(
        AccessRules::build(default_zone.clone(), &known, &units, Vec::new())
            .unwrap_or_else(|_| AccessRules::empty(default_zone.clone())),
    )
}

/// The entries a permission asks of the devices in its scope.
fn desired_of(
    tx: &ReadTx,
    rules: &AccessRules,
    permission: &Permission,
    now: i64,
) -> Result<Vec<Desired>, StoreError> {
    let entry = match permission.kind {
        PermissionKind::KeypadCode => EntryKind::KeypadCode,
        PermissionKind::DeviceAuthorization => EntryKind::Authorization,
        PermissionKind::GatewayAccess => return Ok(Vec::new()),
    };
    let (code, problem) = match entry {
        EntryKind::KeypadCode => {
            let secret: Option<PermissionSecret> =
                tx.get(Table::PermissionSecrets, &permission.id.0)?;
            match secret.and_then(|s| s.keypad_code) {
                Some(code) => (Some(code), None),
                None => (
                    None,
                    Some("no keypad code is stored for this permission".to_owned()),
                ),
            }
        }
        EntryKind::Authorization => (None, None),
    };
    let width = match entry {
        EntryKind::KeypadCode => KEYPAD_NAME_LEN,
        EntryKind::Authorization => NAME_LEN,
    };
    let name = cut(&permission.name, width);
    let limits = &permission.limits;
    let (time_limited, window) = window::device_window(limits);
    let local = window::needs_local_time(limits);
    Ok(rules
        .devices_of(&permission.scope)
        .into_iter()
        .map(|device| Desired {
            device,
            permission: permission.id.clone(),
            entry,
            name: name.clone(),
            code,
            enabled: limits.enabled,
            remote_allowed: limits.remote_allowed,
            time_limited,
            window,
            zone: local.then(|| window::device_zone(rules.zone_of(device), now)),
            problem: problem.clone(),
        })
        .collect())
}

/// `text` cut to at most `width` bytes on a character boundary, as the device stores it.
fn cut(text: &str, width: usize) -> String {
    let mut end = text.len().min(width);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text[..end].to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn desired() -> Desired {
        Desired {
            device: DeviceId(7),
            permission: PermissionId("p".into()),
            entry: EntryKind::KeypadCode,
            name: "Cleaner".into(),
            code: Some(123_456),
            enabled: true,
            remote_allowed: true,
            time_limited: false,
            window: AllowedWindow::default(),
            zone: None,
            problem: None,
        }
    }

    #[test]
    fn names_are_cut_on_character_boundaries() {
        assert_eq!(cut("Zürich Hauptbahnhof Nord", 20), "Zürich Hauptbahnhof");
        assert_eq!(cut("ääääääääääää", 5), "ää");
    }

    #[test]
    fn work_follows_the_fingerprint_and_the_state() {
        let wanted = desired();
        let mut record = Record::new(wanted.device, wanted.permission.clone(), wanted.entry);
        let item = |desired: Option<Desired>, record: Option<Record>| Item { desired, record };
        assert!(item(Some(wanted.clone()), None).needs_work());
        record.target = wanted.fingerprint();
        record.state = RecordState::Applied;
        assert!(!item(Some(wanted.clone()), Some(record.clone())).needs_work());
        record.state = RecordState::Failed {
            reason: "full".into(),
        };
        assert!(
            !item(Some(wanted.clone()), Some(record.clone())).needs_work(),
            "a refusal waits for a change"
        );
        let changed = Desired {
            enabled: false,
            ..wanted.clone()
        };
        assert!(item(Some(changed), Some(record.clone())).needs_work());
        assert!(
            item(None, Some(record.clone())).needs_work(),
            "revoked: remove"
        );
        record.target = REMOVAL.into();
        assert!(!item(None, Some(record)).needs_work());
    }

    #[test]
    fn debug_leaves_the_code_out() {
        assert!(!format!("{:?}", desired()).contains("123456"));
    }
}
