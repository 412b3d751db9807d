//! What the activity log stores: anonymized events, shaped after Nuki Web's SmartlockLog
//! where it applies (`smartlockId`, `addressId`, `date`, action, trigger, completion,
//! source). Nothing here can hold a resident's identity: the types have no field for a
//! person id, a permission id, an account of a resident, an authorization id, a keypad code
//! id or a unit, and a name only appears for the owner's own permissions.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// An event and its place in the log.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct StoredEvent {
    /// The sequence id, assigned when stored: increasing, never reused, so a consumer's
    /// cursor is the id of the last event it handled.
    pub id: u64,
    #[serde(flatten)]
    pub event: Event,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Event {
    /// When it happened, Unix seconds: the device's clock for entries of its own log, the
    /// gateway's otherwise.
    pub time: i64,
    /// `time` in ISO 8601 UTC (Nuki Web `date`).
    pub date: String,
    /// The gateway's time when the event was stored; retention by age goes by it.
    pub recorded_at: i64,
    pub kind: EventKind,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device: Option<DeviceRef>,
    /// The building (Nuki Web `addressId`) the device belongs to, when it is placed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address_id: Option<i64>,
    /// The device action (`unlock`, `lock`, …).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub action: Option<String>,
    /// What set the action off (`system`, `manual`, `button`, `auto_lock`, …).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trigger: Option<String>,
    /// How the device says the action ended (`success`, `motor_blocked`, …).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub completion: Option<String>,
    /// Where it came from: `gateway` (through this gateway), `device` (the device's own log),
    /// `keypad`, `fingerprint`, `door_sensor`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// Who acted, anonymized.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub actor: Option<Actor>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outcome: Option<Outcome>,
    /// The device's state, for state events.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<StateFields>,
    /// The permission a change or a provisioning result is about (owner's own only named).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub permission: Option<PermissionRef>,
    /// A short text for people (pairing progress, a provisioning failure).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// Where the entry stands in the device's own log, for entries read from it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device_log: Option<DeviceLogPosition>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum EventKind {
    /// An action was asked of the gateway.
    ActionRequested,
    /// An action through the gateway ended: done, failed, or denied with its reason.
    Action,
    /// An action the device recorded itself (keypad, app, fob, a turn by hand, auto lock).
    DeviceAction,
    /// The door sensor saw the door open, close or jam.
    DoorSensor,
    /// Another entry of the device's log (calibration, firmware update, logging switched).
    DeviceLog,
    StateChanged,
    Connected,
    Disconnected,
    BatteryCritical,
    DeviceAdded,
    DeviceRemoved,
    Pairing,
    PermissionChanged,
    Provisioning,
}

impl EventKind {
    pub const ALL: [EventKind; 14] = [
        EventKind::ActionRequested,
        EventKind::Action,
        EventKind::DeviceAction,
        EventKind::DoorSensor,
        EventKind::DeviceLog,
        EventKind::StateChanged,
        EventKind::Connected,
        EventKind::Disconnected,
        EventKind::BatteryCritical,
        EventKind::DeviceAdded,
        EventKind::DeviceRemoved,
        EventKind::Pairing,
        EventKind::PermissionChanged,
        EventKind::Provisioning,
    ];

    pub fn name(self) -> &'static str {
        match self {
            EventKind::ActionRequested => "action_requested",
            EventKind::Action => "action",
            EventKind::DeviceAction => "device_action",
            EventKind::DoorSensor => "door_sensor",
            EventKind::DeviceLog => "device_log",
            EventKind::StateChanged => "state_changed",
            EventKind::Connected => "connected",
            EventKind::Disconnected => "disconnected",
            EventKind::BatteryCritical => "battery_critical",
            EventKind::DeviceAdded => "device_added",
            EventKind::DeviceRemoved => "device_removed",
            EventKind::Pairing => "pairing",
            EventKind::PermissionChanged => "permission_changed",
            EventKind::Provisioning => "provisioning",
        }
    }

    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|kind| kind.name() == name)
    }
}

/// The device an event is about.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DeviceRef {
    /// Nuki Web `smartlockId`; absent for a device the gateway no longer knows.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub smartlock_id: Option<u64>,
    /// The Bluetooth address.
    pub address: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nuki_id: Option<u32>,
}

/// Who acted, as far as the log may tell.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Actor {
    /// A resident of a residential unit: deliberately nothing more.
    Resident,
    /// Somebody using one of the owner's own permissions (a person without a unit).
    Permission { name: String },
    /// An account of the building's management (the owner or a sub-account).
    Account { id: i64 },
    /// A home-automation system or script, by the credential's name.
    Integration { name: String },
    /// The gateway machine itself (its control socket, its own start-up work).
    Local,
    /// The device on its own or by hand: a manual turn, its button, auto lock, the door
    /// sensor.
    Device,
    /// An authorization or keypad code the gateway knows no permission for. It may be a
    /// resident's, so it carries no name.
    Unrecognized,
}

/// How an action through the gateway ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub struct Outcome {
    pub result: OutcomeResult,
    /// For people; a denial's or a failure's reason.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum OutcomeResult {
    Success,
    Denied,
    Failed,
}

/// A device's state, for publishers to render.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct StateFields {
    pub lock_state: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub door_state: Option<String>,
    pub battery_critical: bool,
    pub battery_charge: u8,
    pub battery_charging: bool,
}

/// The permission a change is about: named only when it is one of the owner's own.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PermissionRef {
    /// Absent for a resident's permission, or one the gateway no longer knows.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// `created`, `changed`, `revoked`, or for provisioning `applied`, `removed`, `failed`.
    pub change: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DeviceLogPosition {
    pub index: u32,
    /// The device's timestamp of the entry, Unix seconds.
    pub device_time: i64,
}

/// ISO 8601 UTC text of Unix seconds.
pub(super) fn iso_date(unix: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(unix)
        .ok()
        .and_then(|at| {
            at.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_default()
}

impl Event {
    /// An event of `kind` at `time`, recorded at `recorded_at`, with nothing else known yet.
    pub fn new(kind: EventKind, time: i64, recorded_at: i64) -> Self {
        Self {
            time,
            date: iso_date(time),
            recorded_at,
            kind,
            device: None,
            address_id: None,
            action: None,
            trigger: None,
            completion: None,
            source: None,
            actor: None,
            outcome: None,
            state: None,
            permission: None,
            detail: None,
            device_log: None,
        }
    }
}
