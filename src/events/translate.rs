//! Bus events into log events: each gets its time, device, building and anonymized actor.
//! The bus event itself (with its principal, or a device's raw log entry with the name the
//! device keeps) goes no further than this.

use std::collections::HashMap;

use crate::ble::DeviceAddress;
use crate::gateway::{
    GatewayEvent, PairingProgress, PermissionChangeKind, ProvisioningOutcome, Refusal,
};
use crate::nuki::messages::{KeyturnerStates, LogData, LogEntry};

use super::anonymize::{entry_actor, principal_actor};
use super::directory::{Directory, Holder};
use super::model::{
    DeviceLogPosition, DeviceRef, Event, EventKind, Outcome, OutcomeResult, PermissionRef,
    StateFields,
};

/// Where an event came from, in [`Event::source`].
pub(super) const SOURCE_GATEWAY: &str = "gateway";
const SOURCE_DEVICE: &str = "device";

/// An event ready to be stored, with the key that makes a device log entry unique.
pub(super) struct Pending {
    pub event: Event,
    pub seen: Option<String>,
}

/// The newest entry read from a device's log (stored even when the entry itself is not).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct LogRead {
    pub device: DeviceAddress,
    pub position: DeviceLogPosition,
}

/// What a batch is translated against.
pub(super) struct Context<'a> {
    pub now: i64,
    pub directory: &'a Directory,
    pub devices: &'a HashMap<DeviceAddress, DeviceRef>,
}

impl Context<'_> {
    fn event(&self, kind: EventKind, device: Option<&DeviceAddress>) -> Event {
        self.event_at(kind, device, self.now)
    }

    fn event_at(&self, kind: EventKind, device: Option<&DeviceAddress>, time: i64) -> Event {
        let mut event = Event::new(kind, time, self.now);
        if let Some(device) = device {
            let known = self.devices.get(device).cloned().unwrap_or(DeviceRef {
                smartlock_id: None,
                address: device.to_string(),
                nuki_id: None,
            });
            event.address_id = known
                .smartlock_id
                .and_then(|id| self.directory.building_of(crate::access::DeviceId(id)))
                .map(|address| address.0);
            event.device = Some(known);
        }
        event
    }
}

/// The log events of one bus event, and where a device's log was read to.
pub(super) fn translate(
    event: GatewayEvent,
    context: &Context<'_>,
) -> (Vec<Pending>, Option<LogRead>) {
    let plain = |event: Event| (vec![Pending { event, seen: None }], None);
    match event {
        GatewayEvent::ActionRequested {
            principal,
            device,
            action,
        } => {
            let mut event = context.event(EventKind::ActionRequested, Some(&device));
            event.action = Some(action.name().to_owned());
            event.source = Some(SOURCE_GATEWAY.to_owned());
            event.actor = Some(principal_actor(&principal, context.directory));
            plain(event)
        }
        GatewayEvent::ActionFinished {
            principal,
            device,
            action,
            outcome,
            ..
        } => {
            let mut event = context.event(EventKind::Action, Some(&device));
            event.action = Some(action.name().to_owned());
            event.source = Some(SOURCE_GATEWAY.to_owned());
            event.actor = Some(principal_actor(&principal, context.directory));
            event.outcome = Some(match &outcome {
                Ok(_) => Outcome {
                    result: OutcomeResult::Success,
                    reason: None,
                },
                Err(refusal @ Refusal::Denied { .. }) => Outcome {
                    result: OutcomeResult::Denied,
                    reason: Some(refusal.to_string()),
                },
                Err(refusal) => Outcome {
                    result: OutcomeResult::Failed,
                    reason: Some(refusal.to_string()),
                },
            });
            if let Ok(report) = &outcome {
                event.state = report.state.as_ref().map(state_fields);
            }
            plain(event)
        }
        GatewayEvent::StateChanged { device, state } => {
            let mut event = context.event(EventKind::StateChanged, Some(&device));
            event.trigger = Some(state.trigger.name().to_owned());
            event.state = Some(state_fields(&state));
            plain(event)
        }
        GatewayEvent::DeviceConnected { device } => {
            plain(context.event(EventKind::Connected, Some(&device)))
        }
        GatewayEvent::DeviceDisconnected { device } => {
            plain(context.event(EventKind::Disconnected, Some(&device)))
        }
        GatewayEvent::BatteryCritical { device } => {
            plain(context.event(EventKind::BatteryCritical, Some(&device)))
        }
        GatewayEvent::DeviceAdded { device } => {
            plain(context.event(EventKind::DeviceAdded, Some(&device)))
        }
        GatewayEvent::DeviceRemoved { device } => {
            plain(context.event(EventKind::DeviceRemoved, Some(&device)))
        }
        GatewayEvent::Pairing { device, progress } => {
            let detail = match progress {
                PairingProgress::Done { .. } => "paired".to_owned(),
                PairingProgress::Failed { reason } => format!("pairing failed: {reason}"),
                // The steps on the way are for the person pairing, not for the log.
                _ => return (Vec::new(), None),
            };
            let mut event = context.event(EventKind::Pairing, Some(&device));
            event.detail = Some(detail);
            plain(event)
        }
        GatewayEvent::DeviceLogEntries { device, entries } => {
            device_entries(&device, &entries, context)
        }
        GatewayEvent::PermissionChanged {
            by,
            change,
            subject,
            ..
        } => {
            let mut event = context.event(EventKind::PermissionChanged, None);
            event.actor = Some(principal_actor(&by, context.directory));
            event.permission = Some(PermissionRef {
                name: (!subject.resident).then_some(subject.name),
                change: match change {
                    PermissionChangeKind::Created => "created",
                    PermissionChangeKind::Changed => "changed",
                    PermissionChangeKind::Revoked => "revoked",
                }
                .to_owned(),
            });
            plain(event)
        }
        GatewayEvent::ProvisioningResult {
            permission,
            device,
            outcome,
        } => {
            let address = context
                .devices
                .iter()
                .find(|(_, known)| known.smartlock_id == Some(device.0))
                .map(|(address, _)| address.clone());
            let mut event = context.event(EventKind::Provisioning, address.as_ref());
            if address.is_none() {
                event.address_id = context.directory.building_of(device).map(|a| a.0);
            }
            let name = match context.directory.holder(&permission) {
                Some(Holder::Own { name }) => Some(name.clone()),
                _ => None,
            };
            let (change, detail) = match outcome {
                ProvisioningOutcome::Applied => ("applied", None),
                ProvisioningOutcome::Removed => ("removed", None),
                ProvisioningOutcome::Failed { reason } => ("failed", Some(reason)),
            };
            event.permission = Some(PermissionRef {
                name,
                change: change.to_owned(),
            });
            event.detail = detail;
            plain(event)
        }
    }
}

fn state_fields(state: &KeyturnerStates) -> StateFields {
    StateFields {
        lock_state: state.lock_state.name().to_owned(),
        door_state: state.door_sensor_state.map(|door| door.name().to_owned()),
        battery_critical: state.battery_critical(),
        battery_charge: state.battery_percent(),
        battery_charging: state.battery_charging(),
    }
}

fn device_entries(
    device: &DeviceAddress,
    entries: &[LogEntry],
    context: &Context<'_>,
) -> (Vec<Pending>, Option<LogRead>) {
    let smartlock_id = context
        .devices
        .get(device)
        .and_then(|known| known.smartlock_id)
        .map(crate::access::DeviceId);
    let own = context.directory.own_authorization(device);
    let mut pending = Vec::new();
    let mut newest = None;
    for entry in entries {
        let device_time = entry
            .timestamp
            .to_offset()
            .map_or(context.now, |at| at.unix_timestamp());
        let position = DeviceLogPosition {
            index: entry.index,
            device_time,
        };
        newest = Some(LogRead {
            device: device.clone(),
            position,
        });
        let Some(actor) = entry_actor(entry, smartlock_id, own, context.directory) else {
            continue;
        };
        let mut event = context.event_at(entry_kind(entry), Some(device), device_time);
        describe_entry(&mut event, entry);
        event.actor = Some(actor);
        event.device_log = Some(position);
        pending.push(Pending {
            event,
            seen: Some(seen_key(device, position)),
        });
    }
    (pending, newest)
}

/// What makes a device log entry unique: the device, its index and its timestamp (a reset
/// device counts from 1 again, at a later time).
pub(super) fn seen_key(device: &DeviceAddress, position: DeviceLogPosition) -> String {
    format!("{device}/{:010}/{}", position.index, position.device_time)
}

fn entry_kind(entry: &LogEntry) -> EventKind {
    match &entry.data {
        LogData::LockAction { .. } | LogData::KeypadAction { .. } => EventKind::DeviceAction,
        LogData::DoorSensor { .. } => EventKind::DoorSensor,
        _ => EventKind::DeviceLog,
    }
}

/// Action, trigger, completion and source of an entry; never its authorization name or id.
fn describe_entry(event: &mut Event, entry: &LogEntry) {
    event.source = Some(SOURCE_DEVICE.to_owned());
    match &entry.data {
        LogData::LockAction {
            action,
            trigger,
            completion_status,
            ..
        } => {
            event.action = Some(action.name().to_owned());
            event.trigger = Some(trigger.name().to_owned());
            event.completion = Some(completion_status.name().to_owned());
        }
        LogData::KeypadAction {
            action,
            source,
            completion_status,
            ..
        } => {
            event.action = Some(action.name().to_owned());
            event.source = Some(
                match source {
                    crate::nuki::enums::KeypadSource::Fingerprint => "fingerprint",
                    _ => "keypad",
                }
                .to_owned(),
            );
            event.completion = Some(completion_status.name().to_owned());
        }
        LogData::DoorSensor { event: door } => {
            event.action = Some(door.name().to_owned());
            event.source = Some("door_sensor".to_owned());
        }
        LogData::DoorbellRecognition {
            completion_status, ..
        } => {
            event.action = Some("doorbell".to_owned());
            event.completion = Some(completion_status.name().to_owned());
        }
        _ => event.action = Some(entry.entry_type.name().to_owned()),
    }
}
