//! The status messages a device reports: Keyturner States and Battery Report.

use std::time::Duration;

use crate::nuki::enums::{CompletionStatus, DeviceAction, DoorSensorState, Trigger};
use crate::nuki::messages::{BatteryReport, KeyturnerStates};

use super::SimDevice;

impl SimDevice {
    /// Keyturner States in the layout of the device's family, as long as the simulated
    /// firmware sends them.
    pub(super) fn keyturner_states(&self, now: Duration) -> KeyturnerStates {
        let len = self.spec.effective_states_layout_len();
        let has = |offset: usize| len > offset;
        let mut states = self.shared_states(now);
        if self.spec.kind.is_opener() {
            // Bytes 19–24 carry nothing on an Opener; byte 25 is its accessory battery state.
            states.opener_unused = vec![0; len.clamp(19, 25) - 19];
            states.accessory_battery_state = has(25).then(|| self.accessory_battery_state());
            return states;
        }
        let remote_access = if self.authorizations.has_bridge() {
            0x02
        } else {
            0x00
        };
        let ble_strength = i8::try_from(self.spec.rssi).unwrap_or(i8::MIN);
        states.nightmode_active = has(19).then_some(false);
        states.accessory_battery_state = has(20).then(|| self.accessory_battery_state());
        states.remote_access_status = has(21).then_some(remote_access);
        states.ble_strength = has(22).then_some(ble_strength);
        states.wifi_strength = has(23).then_some(1);
        states.wifi_status = has(24).then_some(0);
        states.mqtt_status = has(25).then_some(0);
        states.thread_status = has(26).then_some(0);
        states
    }

    /// Bytes 0–18, which every family shares.
    fn shared_states(&self, now: Duration) -> KeyturnerStates {
        let len = self.spec.effective_states_layout_len();
        let has = |offset: usize| len > offset;
        let (last_action, last_trigger, last_completion) = self.mechanism.last_action();
        KeyturnerStates {
            nuki_state: self.nuki_state(),
            lock_state: self.lock_state_enum(),
            trigger: Trigger::from_u8(self.mechanism.trigger()),
            current_time: self.clock.date_time(now),
            timezone_offset: self.settings.timezone_offset(),
            battery_state: self.battery.state_byte(self.spec.kind.is_opener()),
            config_update_count: self.settings.config_update_count,
            lock_n_go_timer: self.mechanism.lock_n_go_timer(now),
            last_lock_action: has(15).then(|| DeviceAction::from_u8(last_action, self.family)),
            last_lock_action_trigger: has(16).then(|| Trigger::from_u8(last_trigger)),
            last_lock_action_completion_status: has(17)
                .then(|| CompletionStatus::from_u8(last_completion)),
            door_sensor_state: has(18).then(|| self.door_state()),
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

    /// Bit 0 keypad paired, bit 1 its battery critical, bit 2 door sensor paired.
    fn accessory_battery_state(&self) -> u8 {
        u8::from(self.spec.keypad)
            | (u8::from(self.spec.keypad && self.keypad_battery_critical) << 1)
            | (u8::from(self.door.sensor) << 2)
    }

    fn door_state(&self) -> DoorSensorState {
        match (self.door.sensor, self.door.open) {
            (false, _) => DoorSensorState::Unavailable,
            (true, true) => DoorSensorState::DoorOpened,
            (true, false) => DoorSensorState::DoorClosed,
        }
    }

    pub(super) fn battery_report(&self) -> BatteryReport {
        let voltage = self.battery.millivolts();
        let (last_action, _, _) = self.mechanism.last_action();
        BatteryReport {
            battery_drain: self.battery.last_drain_mws,
            battery_voltage: voltage,
            battery_state: self.battery.state_byte(self.spec.kind.is_opener()),
            lock_action: DeviceAction::from_u8(last_action, self.family),
            start_voltage: voltage.saturating_add(40),
            lowest_voltage: voltage.saturating_sub(if self.battery.mains { 0 } else { 180 }),
            lock_distance: 450,
            start_temperature: 21,
            max_turn_current: 380,
            battery_resistance: 160,
        }
    }
}
