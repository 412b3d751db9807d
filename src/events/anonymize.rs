//! Who acted, anonymized: the one place where an identity becomes an [`Actor`]. Residents
//! (people with a unit) become [`Actor::Resident`]; the owner's own permissions keep their
//! name; an authorization or keypad code the gateway knows no permission for becomes
//! [`Actor::Unrecognized`] (it may be a resident's). Names a device wrote into its own log
//! are never used.

use crate::access::{DeviceId, PermissionId, Principal};
use crate::nuki::enums::{KeypadSource, Trigger};
use crate::nuki::messages::{LogData, LogEntry};

use super::directory::{Directory, EntryList, Holder};
use super::model::Actor;

/// The actor behind a principal of the gateway.
pub(super) fn principal_actor(principal: &Principal, directory: &Directory) -> Actor {
    match principal {
        Principal::Account { id, .. } => Actor::Account { id: id.0 },
        Principal::Integration { name, .. } => Actor::Integration { name: name.clone() },
        Principal::Local => Actor::Local,
        Principal::Holder { permission } => permission_actor(permission, directory),
    }
}

/// The actor using a permission.
pub(super) fn permission_actor(permission: &PermissionId, directory: &Directory) -> Actor {
    match directory.holder(permission) {
        Some(Holder::Own { name }) => Actor::Permission { name: name.clone() },
        Some(Holder::Resident) => Actor::Resident,
        None => Actor::Unrecognized,
    }
}

/// Who an entry of a device's own log is from; `None` when it is the gateway's own
/// authorization, whose actions the log already has from the gateway (never counted twice).
pub(super) fn entry_actor(
    entry: &LogEntry,
    device: Option<DeviceId>,
    own_authorization: Option<u32>,
    directory: &Directory,
) -> Option<Actor> {
    let by_entry = |list: EntryList, id: u32| {
        device
            .and_then(|device| directory.permission_of_entry(device, list, id))
            .map_or(Actor::Unrecognized, |permission| {
                permission_actor(permission, directory)
            })
    };
    match &entry.data {
        LogData::KeypadAction {
            source, code_id, ..
        } => Some(match source {
            KeypadSource::Code | KeypadSource::Fingerprint => {
                by_entry(EntryList::KeypadCode, u32::from(*code_id))
            }
            // The arrow key locks without a code: nobody in particular.
            _ => Actor::Device,
        }),
        LogData::DoorSensor { .. } => Some(Actor::Device),
        LogData::LockAction { trigger, .. } if is_by_device(*trigger) => Some(Actor::Device),
        _ => {
            if own_authorization == Some(entry.auth_id) {
                return None;
            }
            Some(by_entry(EntryList::Authorization, entry.auth_id))
        }
    }
}

/// Triggers that involve no authorization: a turn by hand, the button, auto lock.
fn is_by_device(trigger: Trigger) -> bool {
    matches!(
        trigger,
        Trigger::Manual | Trigger::Button | Trigger::Automatic | Trigger::AutoLock
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::access::{AccountId, Rights};
    use crate::nuki::codec::DateTime;
    use crate::nuki::enums::{CompletionStatus, DeviceAction, LockAction, LogEntryType};

    fn directory() -> Directory {
        Directory::for_tests(
            &[
                (
                    "own",
                    Holder::Own {
                        name: "Caretaker".into(),
                    },
                ),
                ("res", Holder::Resident),
            ],
            &[
                (DeviceId(9), EntryList::KeypadCode, 7, "res"),
                (DeviceId(9), EntryList::Authorization, 40, "own"),
            ],
        )
    }

    fn lock_entry(auth_id: u32, trigger: Trigger) -> LogEntry {
        LogEntry {
            index: 1,
            timestamp: DateTime::from_unix(1_800_000_000),
            auth_id,
            auth_name: "Alice Resident".into(),
            entry_type: LogEntryType::LockAction,
            data: LogData::LockAction {
                action: DeviceAction::Lock(LockAction::Unlock),
                trigger,
                flags: 0,
                completion_status: CompletionStatus::Success,
            },
        }
    }

    fn keypad_entry(source: KeypadSource, code_id: u16) -> LogEntry {
        LogEntry {
            index: 2,
            timestamp: DateTime::from_unix(1_800_000_000),
            auth_id: 0,
            auth_name: "Alice Resident".into(),
            entry_type: LogEntryType::KeypadAction,
            data: LogData::KeypadAction {
                action: DeviceAction::Lock(LockAction::Unlock),
                source,
                completion_status: CompletionStatus::Success,
                code_id,
            },
        }
    }

    #[test]
    fn holders_of_residents_permissions_are_only_residents() {
        let directory = directory();
        let resident = Principal::Holder {
            permission: PermissionId("res".into()),
        };
        let own = Principal::Holder {
            permission: PermissionId("own".into()),
        };
        let gone = Principal::Holder {
            permission: PermissionId("gone".into()),
        };
        assert_eq!(principal_actor(&resident, &directory), Actor::Resident);
        assert_eq!(
            principal_actor(&own, &directory),
            Actor::Permission {
                name: "Caretaker".into()
            }
        );
        assert_eq!(principal_actor(&gone, &directory), Actor::Unrecognized);
        let account = Principal::Account {
            id: AccountId(3),
            owner: false,
            rights: Rights::NONE,
        };
        assert_eq!(
            principal_actor(&account, &directory),
            Actor::Account { id: 3 }
        );
    }

    #[test]
    fn device_entries_are_matched_through_provisioning_then_anonymized() {
        let directory = directory();
        let device = Some(DeviceId(9));
        let keypad = keypad_entry(KeypadSource::Code, 7);
        assert_eq!(
            entry_actor(&keypad, device, Some(1), &directory),
            Some(Actor::Resident)
        );
        let app = lock_entry(40, Trigger::System);
        assert_eq!(
            entry_actor(&app, device, Some(1), &directory),
            Some(Actor::Permission {
                name: "Caretaker".into()
            })
        );
        // The same code id on another device is not that permission.
        assert_eq!(
            entry_actor(&keypad, Some(DeviceId(10)), Some(1), &directory),
            Some(Actor::Unrecognized)
        );
        let stranger = lock_entry(55, Trigger::System);
        assert_eq!(
            entry_actor(&stranger, device, Some(1), &directory),
            Some(Actor::Unrecognized)
        );
    }

    #[test]
    fn the_gateways_own_entries_are_skipped_and_manual_turns_are_the_device() {
        let directory = directory();
        let own = lock_entry(1, Trigger::System);
        assert_eq!(
            entry_actor(&own, Some(DeviceId(9)), Some(1), &directory),
            None
        );
        let by_hand = lock_entry(0, Trigger::Manual);
        assert_eq!(
            entry_actor(&by_hand, Some(DeviceId(9)), Some(1), &directory),
            Some(Actor::Device)
        );
        let arrow = keypad_entry(KeypadSource::ArrowKey, 0);
        assert_eq!(
            entry_actor(&arrow, Some(DeviceId(9)), Some(1), &directory),
            Some(Actor::Device)
        );
    }
}
