//! The JSON shapes of the Bridge API (A.5), built from our protocol types, and the mapping of
//! Bridge device types and lock actions onto our device families.
//!
//! Keys are exactly the Bridge's (camelCase); keys that do not apply are omitted, not null:
//! Openers have no `batteryCharging`/`batteryChargeState` but `ringactionState`; door-sensor
//! keys appear only for a lock with a sensor. `nukiId` is always a JSON integer, because Home
//! Assistant matches callbacks to devices with `==` on the value from `/list`.

use serde::Serialize;

use crate::nuki::enums::{DeviceAction, LockAction, OpenerAction};
use crate::nuki::messages::{FirmwareVersion, KeyturnerStates};
use crate::nuki::uuids::ServiceFamily;

/// The Bridge's numbers for states and times; Nuki's MQTT uses the same ones.
pub use crate::nuki::bridge_numbers::{bridge_door_sensor, bridge_mode, bridge_state, bridge_time};
/// The Bridge's device type is a view of the product; it lives with the product model.
pub use crate::nuki::product::BridgeDeviceType;

/// `bridgeType` we report: 1 (hardware bridge). ioBroker sends hashed instead of plain
/// tokens only to type 1, and the go client allows encrypted tokens only for it.
pub const BRIDGE_TYPE_HARDWARE: u8 = 1;

/// `versions.firmwareVersion` we report: the first hardware-bridge 2.x firmware with
/// encrypted tokens, so clients that check versions choose the safer token forms.
pub const BRIDGE_FIRMWARE_VERSION: &str = "2.14.0";

/// How long `ringactionState` stays true after a ring (Bridge API: 30 s).
pub const RING_ACTION_SECONDS: i64 = 30;

/// `(id, type)` pairs that occur more than once; such devices cannot be addressed uniquely.
pub fn colliding_ids(keys: &[(u32, BridgeDeviceType)]) -> Vec<(u32, BridgeDeviceType)> {
    let mut sorted = keys.to_vec();
    sorted.sort_unstable();
    let mut collisions: Vec<_> = sorted
        .windows(2)
        .filter(|pair| pair[0] == pair[1])
        .map(|pair| pair[0])
        .collect();
    collisions.dedup();
    collisions
}

/// Finds the device a request means. Exact (`nukiId`, `deviceType`) match first; otherwise,
/// if exactly one device has that id, that one — pynuki's "aggressive" refresh always sends
/// `deviceType=0`, even for Openers and type-4 locks (A.10).
pub fn resolve_device<D>(
    devices: &[D],
    key: impl Fn(&D) -> (u32, BridgeDeviceType),
    nuki_id: u32,
    device_type: u8,
) -> Option<&D> {
    let requested = BridgeDeviceType::from_u8(device_type);
    let exact = devices.iter().find(|device| {
        let (id, kind) = key(device);
        id == nuki_id && Some(kind) == requested
    });
    if exact.is_some() {
        return exact;
    }
    let mut same_id = devices.iter().filter(|device| key(device).0 == nuki_id);
    match (same_id.next(), same_id.next()) {
        (Some(only), None) => Some(only),
        _ => None,
    }
}

/// What the gateway knows about one device, as input to the JSON builders.
#[derive(Debug, Clone, Copy)]
pub struct DeviceSnapshot<'a> {
    pub nuki_id: u32,
    pub device_type: BridgeDeviceType,
    pub name: &'a str,
    pub firmware_version: Option<FirmwareVersion>,
    /// Last Keyturner States read, `None` if never read.
    pub states: Option<&'a KeyturnerStates>,
    /// When `states` was received (Unix seconds).
    pub states_received_unix: Option<i64>,
    /// Opener: the last doorbell ring seen (Unix seconds).
    pub last_ring_unix: Option<i64>,
}

/// The state keys shared by `lastKnownState`, `/lockState` and callbacks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StateFields {
    pub mode: u8,
    pub state: u8,
    pub state_name: &'static str,
    pub battery_critical: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub battery_charging: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub battery_charge_state: Option<u8>,
    pub keypad_battery_critical: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub doorsensor_state: Option<u8>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub doorsensor_state_name: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ringaction_timestamp: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ringaction_state: Option<bool>,
}

impl StateFields {
    /// Builds the keys of A.5. Never-read devices report state 255 "undefined" (HA: device
    /// unavailable). `batteryChargeState` is omitted when the battery byte carries no
    /// percentage (bits 2–7 zero: older firmware; a lock at a true 0 % cannot answer).
    pub fn new(device: &DeviceSnapshot<'_>, now_unix: i64) -> Self {
        let opener = device.device_type.is_opener();
        let states = device.states;
        let (state, state_name) = match states {
            Some(states) => bridge_state(states.lock_state),
            None => (255, "undefined"),
        };
        let door = if opener {
            None
        } else {
            states
                .and_then(|states| states.door_sensor_state)
                .and_then(bridge_door_sensor)
        };
        let battery_charging = (!opener).then(|| states.is_some_and(|s| s.battery_charging()));
        let battery_charge_state = if opener {
            None
        } else {
            states
                .filter(|s| s.battery_state >> 2 != 0)
                .map(KeyturnerStates::battery_percent)
        };
        let ring = opener.then_some(device.last_ring_unix).flatten();
        Self {
            mode: states.map_or(2, |s| bridge_mode(s.nuki_state)),
            state,
            state_name,
            battery_critical: states.is_some_and(KeyturnerStates::battery_critical),
            battery_charging,
            battery_charge_state,
            keypad_battery_critical: states
                .and_then(KeyturnerStates::keypad_battery_critical)
                .unwrap_or(false),
            doorsensor_state: door.map(|(value, _)| value),
            doorsensor_state_name: door.map(|(_, name)| name),
            ringaction_timestamp: ring.map(bridge_time),
            ringaction_state: opener.then(|| {
                ring.is_some_and(|at| (0..=RING_ACTION_SECONDS).contains(&(now_unix - at)))
            }),
        }
    }
}

/// `lastKnownState` of a `/list` item: the state keys plus `timestamp`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LastKnownState {
    #[serde(flatten)]
    pub fields: StateFields,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timestamp: Option<String>,
}

impl LastKnownState {
    pub fn new(device: &DeviceSnapshot<'_>, now_unix: i64) -> Self {
        Self {
            fields: StateFields::new(device, now_unix),
            timestamp: device.states_received_unix.map(bridge_time),
        }
    }
}

/// One element of the `/list` array.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ListItem {
    pub nuki_id: u32,
    pub device_type: BridgeDeviceType,
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub firmware_version: Option<String>,
    pub last_known_state: LastKnownState,
}

impl ListItem {
    pub fn new(device: &DeviceSnapshot<'_>, now_unix: i64) -> Self {
        Self {
            nuki_id: device.nuki_id,
            device_type: device.device_type,
            name: device.name.to_owned(),
            firmware_version: device.firmware_version.map(|v| v.to_string()),
            last_known_state: LastKnownState::new(device, now_unix),
        }
    }
}

/// `/lockState` answer: the state keys plus `success: true` (no `timestamp`). A device that
/// cannot be reached answers [`failure_body`] with HTTP 200 instead.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LockStateBody {
    #[serde(flatten)]
    pub fields: StateFields,
    pub success: bool,
}

impl LockStateBody {
    pub fn new(device: &DeviceSnapshot<'_>, now_unix: i64) -> Self {
        Self {
            fields: StateFields::new(device, now_unix),
            success: true,
        }
    }
}

/// `{"success":false}`: unreachable device on `/lockState`, failed `/lockAction`-less calls.
pub fn failure_body() -> serde_json::Value {
    serde_json::json!({ "success": false })
}

/// `{"success":true}`: our answer to endpoints the Bridge documents as "no response"
/// (pynuki parses every body as JSON).
pub fn success_body() -> serde_json::Value {
    serde_json::json!({ "success": true })
}

/// `/callback/add` and `/callback/remove` refusals: `{"success":false,"message":…}`.
pub fn callback_failure_body(message: &str) -> serde_json::Value {
    serde_json::json!({ "success": false, "message": message })
}

/// `/callback/add` refusing a URL with 400: the Bridge's `message`, plus the `error` that
/// every other 4xx answer of ours carries.
pub fn callback_invalid_url_body(message: &str) -> serde_json::Value {
    serde_json::json!({ "success": false, "message": message, "error": message })
}

/// `/lockAction`, `/lock`, `/unlock` answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ActionBody {
    pub success: bool,
    pub battery_critical: bool,
}

/// POST body sent to each registered callback URL on a state change: `nukiId`,
/// `deviceType` and the state keys; no `timestamp`, no `success`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CallbackBody {
    pub nuki_id: u32,
    pub device_type: BridgeDeviceType,
    #[serde(flatten)]
    pub fields: StateFields,
}

impl CallbackBody {
    pub fn new(device: &DeviceSnapshot<'_>, now_unix: i64) -> Self {
        Self {
            nuki_id: device.nuki_id,
            device_type: device.device_type,
            fields: StateFields::new(device, now_unix),
        }
    }
}

/// The gateway's Bridge ids. openHAB parses both as signed 32-bit integers, so they must
/// stay below 2³¹; Home Assistant uses `hex(hardwareId)` as its config-entry id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BridgeIdentity {
    hardware_id: u32,
    server_id: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("bridge ids must be below 2^31 (openHAB reads them as signed 32-bit integers)")]
pub struct BridgeIdRangeError;

impl BridgeIdentity {
    pub fn new(hardware_id: u32, server_id: u32) -> Result<Self, BridgeIdRangeError> {
        if i32::try_from(hardware_id).is_err() || i32::try_from(server_id).is_err() {
            return Err(BridgeIdRangeError);
        }
        Ok(Self {
            hardware_id,
            server_id,
        })
    }

    pub fn hardware_id(&self) -> u32 {
        self.hardware_id
    }

    pub fn server_id(&self) -> u32 {
        self.server_id
    }

    /// DHCP host name Home Assistant's discovery matches (`nuki_bridge_*`, lowercase hex
    /// without leading zeros, the same id HA derives from `/info`).
    pub fn dhcp_hostname(&self) -> String {
        format!("nuki_bridge_{:x}", self.hardware_id)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct InfoIds {
    pub hardware_id: u32,
    pub server_id: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct InfoVersions {
    pub firmware_version: String,
}

/// One `scanResults` element.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ScanResult {
    pub nuki_id: u32,
    pub device_type: BridgeDeviceType,
    /// The BLE name, e.g. `Nuki_1A2B3C4D`.
    pub name: String,
    pub rssi: i16,
    pub paired: bool,
}

/// `/info` answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct InfoBody {
    pub bridge_type: u8,
    pub ids: InfoIds,
    pub versions: InfoVersions,
    /// Seconds since start.
    pub uptime: u64,
    /// Our clock, so users can debug token clock skew (the Bridge docs suggest this).
    pub current_time: String,
    /// No Nuki cloud connection.
    pub server_connected: bool,
    pub scan_results: Vec<ScanResult>,
    /// Not in the official Bridge's answer: whether the gateway believes its clock. While it
    /// does not (a Pi without a clock battery after a power cut), time-limited permissions
    /// are refused.
    pub clock_trusted: bool,
}

impl InfoBody {
    pub fn new(
        identity: BridgeIdentity,
        uptime_seconds: u64,
        now_unix: i64,
        scan_results: Vec<ScanResult>,
    ) -> Self {
        Self {
            bridge_type: BRIDGE_TYPE_HARDWARE,
            ids: InfoIds {
                hardware_id: identity.hardware_id,
                server_id: identity.server_id,
            },
            versions: InfoVersions {
                firmware_version: BRIDGE_FIRMWARE_VERSION.to_owned(),
            },
            uptime: uptime_seconds,
            current_time: bridge_time(now_unix),
            server_connected: false,
            scan_results,
            clock_trusted: true,
        }
    }
}

/// An `action` the Bridge API does not define (→ HTTP 400).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("invalid action {0}: the Bridge API defines actions 1 to 5")]
pub struct UnsupportedAction(pub u8);

/// `/lockAction`'s `action` (A.3) as the action of the device's family. Only 1–5 exist in
/// the Bridge API; full lock (6) and the fob values are refused like any other number.
pub fn lock_action(family: ServiceFamily, action: u8) -> Result<DeviceAction, UnsupportedAction> {
    if !(1..=5).contains(&action) {
        return Err(UnsupportedAction(action));
    }
    Ok(DeviceAction::from_u8(action, family))
}

/// `/lock` and `/unlock` (A.3 "Simple lock actions"): the device decides what they mean.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SimpleAction {
    Lock,
    Unlock,
}

impl SimpleAction {
    /// The Lock Actions that carry `/lock` or `/unlock` out, in order. Unlock is the plain
    /// unlock (never unlatch: we cannot tell a knob from a handle, and unlatching opens the
    /// door); an Opener's unlock is "open", its lock turns off RTO and CM.
    pub fn actions(self, family: ServiceFamily) -> &'static [DeviceAction] {
        match (self, family.is_opener()) {
            (SimpleAction::Lock, false) => &[DeviceAction::Lock(LockAction::Lock)],
            (SimpleAction::Unlock, false) => &[DeviceAction::Lock(LockAction::Unlock)],
            (SimpleAction::Lock, true) => &[
                DeviceAction::Opener(OpenerAction::DeactivateRto),
                DeviceAction::Opener(OpenerAction::DeactivateContinuousMode),
            ],
            (SimpleAction::Unlock, true) => {
                &[DeviceAction::Opener(OpenerAction::ElectricStrikeActuation)]
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn device_types() {
        use crate::nuki::product::ProductType as P;
        use BridgeDeviceType as B;
        assert_eq!(P::SmartLock2.bridge_device_type(), B::SmartLock);
        assert_eq!(P::Box.bridge_device_type(), B::SmartLock);
        assert_eq!(P::SmartDoor.bridge_device_type(), B::SmartDoor);
        assert_eq!(P::SmartLock4.bridge_device_type(), B::SmartLock3);
        assert_eq!(P::SmartLockUltra.bridge_device_type(), B::SmartLock3);
        assert_eq!(P::Opener.bridge_device_type(), B::Opener);
        for kind in B::ALL {
            assert_eq!(B::from_u8(kind.to_u8()), Some(kind));
        }
        assert_eq!(B::from_u8(1), None);
        assert_eq!(B::from_u8(5), None);
    }

    #[test]
    fn actions() {
        assert_eq!(
            lock_action(ServiceFamily::Keyturner, 3),
            Ok(DeviceAction::Lock(LockAction::Unlatch))
        );
        assert_eq!(
            lock_action(ServiceFamily::Ultra, 5),
            Ok(DeviceAction::Lock(LockAction::LockNGoUnlatch))
        );
        assert_eq!(
            lock_action(ServiceFamily::Opener, 1),
            Ok(DeviceAction::Opener(OpenerAction::ActivateRto))
        );
        assert_eq!(
            lock_action(ServiceFamily::Opener, 4),
            Ok(DeviceAction::Opener(OpenerAction::ActivateContinuousMode))
        );
        for bad in [0, 6, 80, 90, 255] {
            assert_eq!(
                lock_action(ServiceFamily::Keyturner, bad),
                Err(UnsupportedAction(bad))
            );
        }
        assert_eq!(SimpleAction::Lock.actions(ServiceFamily::Opener).len(), 2);
        assert_eq!(
            SimpleAction::Unlock.actions(ServiceFamily::Keyturner),
            &[DeviceAction::Lock(LockAction::Unlock)]
        );
    }

    #[test]
    fn resolution_and_collisions() {
        use BridgeDeviceType as B;
        let devices = [(10, B::SmartLock), (10, B::Opener), (20, B::SmartLock3)];
        let key = |d: &(u32, B)| *d;
        assert_eq!(resolve_device(&devices, key, 10, 2), Some(&(10, B::Opener)));
        assert_eq!(
            resolve_device(&devices, key, 10, 0),
            Some(&(10, B::SmartLock))
        );
        // pynuki sends type 0 for a type-4 lock: unique id, so found anyway.
        assert_eq!(
            resolve_device(&devices, key, 20, 0),
            Some(&(20, B::SmartLock3))
        );
        // Ambiguous id with an unmatched type: not guessed.
        assert_eq!(resolve_device(&devices, key, 10, 4), None);
        assert_eq!(resolve_device(&devices, key, 30, 0), None);
        assert!(colliding_ids(&devices).is_empty());
        assert_eq!(
            colliding_ids(&[
                (1, B::SmartLock),
                (2, B::SmartLock),
                (1, B::SmartLock),
                (1, B::SmartLock)
            ]),
            vec![(1, B::SmartLock)]
        );
    }

    #[test]
    fn identity_and_time() {
        assert!(BridgeIdentity::new(0x8000_0000, 1).is_err());
        assert!(BridgeIdentity::new(1, 0x8000_0000).is_err());
        let identity = BridgeIdentity::new(0x0ABC_DEF0, 7).unwrap();
        assert_eq!(identity.dhcp_hostname(), "nuki_bridge_abcdef0");
        assert_eq!(bridge_time(1_538_549_340), "2018-10-03T06:49:00+00:00");
    }
}
