//! Inputs for the pure Bridge JSON builders: Keyturner States and device snapshots with
//! fixed times, so the bodies they build are byte-for-byte stable.

use nuki_edge::http::bridge_json::{BridgeDeviceType, DeviceSnapshot};
use nuki_edge::nuki::codec::DateTime;
use nuki_edge::nuki::enums::{DeviceLockState, DoorSensorState, NukiState, Trigger};
use nuki_edge::nuki::messages::{FirmwareVersion, KeyturnerStates};
use nuki_edge::nuki::uuids::ServiceFamily;
use serde_json::Value;

/// 2018-10-03T06:49:00Z, the time of the Bridge documentation's examples.
pub const NOW: i64 = 1_538_549_340;

pub fn states(
    family: ServiceFamily,
    nuki_state: u8,
    lock_state: u8,
    battery: u8,
) -> KeyturnerStates {
    KeyturnerStates {
        nuki_state: NukiState::from_u8(nuki_state),
        lock_state: DeviceLockState::from_u8(lock_state, family),
        trigger: Trigger::System,
        current_time: DateTime::from_unix(NOW),
        timezone_offset: 0,
        battery_state: battery,
        config_update_count: 0,
        lock_n_go_timer: 0,
        last_lock_action: None,
        last_lock_action_trigger: None,
        last_lock_action_completion_status: None,
        door_sensor_state: None,
        nightmode_active: None,
        accessory_battery_state: None,
        remote_access_status: None,
        ble_strength: None,
        wifi_strength: None,
        wifi_status: None,
        mqtt_status: None,
        thread_status: None,
        opener_unused: Vec::new(),
    }
}

pub fn with_door(mut states: KeyturnerStates, door: u8, accessory: u8) -> KeyturnerStates {
    states.door_sensor_state = Some(DoorSensorState::from_u8(door));
    states.nightmode_active = Some(false);
    states.accessory_battery_state = Some(accessory);
    states
}

/// Firmware 4.2.6, states received a minute before [`NOW`].
pub fn device<'a>(
    nuki_id: u32,
    device_type: BridgeDeviceType,
    name: &'a str,
    states: Option<&'a KeyturnerStates>,
) -> DeviceSnapshot<'a> {
    DeviceSnapshot {
        nuki_id,
        device_type,
        name,
        firmware_version: Some(FirmwareVersion {
            major: 4,
            minor: 2,
            patch: 6,
        }),
        states,
        states_received_unix: Some(NOW - 60),
        last_ring_unix: None,
    }
}

pub fn value<T: serde::Serialize>(body: &T) -> Value {
    serde_json::to_value(body).unwrap()
}
