//! Keyturner States (§4.2.13–4.2.14), Battery Report (§4.2.19) and the SL1 counters (§4.2.18).

use serde::Serialize;

use super::super::codec::{DateTime, DecodeError, Reader, Writer};
use super::super::enums::{
    CompletionStatus, DeviceAction, DeviceLockState, DoorSensorState, NukiState, Trigger,
};
use super::super::uuids::ServiceFamily;

/// Keyturner States 0x000C. Devices send 15 (oldest), 19, 21, 26 or 27 bytes; fields after
/// byte 14 are `None` when the device did not send them, so every length re-encodes to the
/// same bytes. Byte 14 is the ring-to-open timer on an Opener.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct KeyturnerStates {
    pub nuki_state: NukiState,
    pub lock_state: DeviceLockState,
    pub trigger: Trigger,
    pub current_time: DateTime,
    /// Minutes from UTC.
    pub timezone_offset: i16,
    /// Raw byte 12; see [`battery_critical`](Self::battery_critical) and friends.
    #[serde(serialize_with = "serialize_battery")]
    pub battery_state: u8,
    pub config_update_count: u8,
    pub lock_n_go_timer: u8,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_lock_action: Option<DeviceAction>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_lock_action_trigger: Option<Trigger>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_lock_action_completion_status: Option<CompletionStatus>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub door_sensor_state: Option<DoorSensorState>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub nightmode_active: Option<bool>,
    /// Bit 0 keypad supported, bit 1 keypad battery critical, bit 2 door sensor supported,
    /// bit 3 door sensor battery critical.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub accessory_battery_state: Option<u8>,
    /// Bit field of remote access (SSE, Bridge, Wi-Fi, Thread).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub remote_access_status: Option<u8>,
    /// 0 invalid, 1 not supported, else RSSI in dBm.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ble_strength: Option<i8>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub wifi_strength: Option<i8>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub wifi_status: Option<u8>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mqtt_status: Option<u8>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub thread_status: Option<u8>,
}

/// Battery byte as JSON: the raw value and its meaning.
fn serialize_battery<S: serde::Serializer>(raw: &u8, serializer: S) -> Result<S::Ok, S::Error> {
    use serde::ser::SerializeStruct;
    let mut state = serializer.serialize_struct("BatteryState", 4)?;
    state.serialize_field("raw", raw)?;
    state.serialize_field("critical", &battery_critical(*raw))?;
    state.serialize_field("charging", &battery_charging(*raw))?;
    state.serialize_field("percent", &battery_percent(*raw))?;
    state.end()
}

/// Bit 0 of a battery byte (states byte 12, Battery Report byte 4).
pub fn battery_critical(raw: u8) -> bool {
    raw & 0x01 != 0
}

/// Bit 1 of a battery byte (newer firmware).
pub fn battery_charging(raw: u8) -> bool {
    raw & 0x02 != 0
}

/// Bits 2–7 of a battery byte, as percent (newer firmware; Openers report none).
pub fn battery_percent(raw: u8) -> u8 {
    (raw >> 2) * 2
}

impl KeyturnerStates {
    /// Length of the oldest layout (official examples).
    pub const MIN_LEN: usize = 15;
    /// Length of the newest known layout.
    pub const MAX_LEN: usize = 27;

    pub fn battery_critical(&self) -> bool {
        battery_critical(self.battery_state)
    }

    pub fn battery_charging(&self) -> bool {
        battery_charging(self.battery_state)
    }

    pub fn battery_percent(&self) -> u8 {
        battery_percent(self.battery_state)
    }

    pub fn keypad_battery_critical(&self) -> Option<bool> {
        self.accessory_battery_state
            .map(|bits| bits & 0x01 != 0 && bits & 0x02 != 0)
    }

    pub fn door_sensor_battery_critical(&self) -> Option<bool> {
        self.accessory_battery_state
            .map(|bits| bits & 0x04 != 0 && bits & 0x08 != 0)
    }

    /// Encoded length: the prefix up to the first absent optional field.
    pub fn encoded_len(&self) -> usize {
        let mut writer = Writer::new();
        self.write(&mut writer);
        writer.into_vec().len()
    }

    /// Reads the fields present; bytes after the newest known field are ignored.
    pub(crate) fn read(
        reader: &mut Reader<'_>,
        family: ServiceFamily,
    ) -> Result<Self, DecodeError> {
        let nuki_state = NukiState::from_u8(reader.u8("nuki state")?);
        let lock_state = DeviceLockState::from_u8(reader.u8("lock state")?, family);
        let trigger = Trigger::from_u8(reader.u8("trigger")?);
        let current_time = reader.date_time("current time")?;
        let timezone_offset = reader.i16("timezone offset")?;
        let battery_state = reader.u8("battery state")?;
        let config_update_count = reader.u8("config update count")?;
        let lock_n_go_timer = reader.u8("lock n go timer")?;
        let mut optional = OptionalBytes(reader);
        Ok(Self {
            nuki_state,
            lock_state,
            trigger,
            current_time,
            timezone_offset,
            battery_state,
            config_update_count,
            lock_n_go_timer,
            last_lock_action: optional.next().map(|b| DeviceAction::from_u8(b, family)),
            last_lock_action_trigger: optional.next().map(Trigger::from_u8),
            last_lock_action_completion_status: optional.next().map(CompletionStatus::from_u8),
            door_sensor_state: optional.next().map(DoorSensorState::from_u8),
            nightmode_active: optional.next().map(|b| b != 0),
            accessory_battery_state: optional.next(),
            remote_access_status: optional.next(),
            ble_strength: optional.next().map(|b| b as i8),
            wifi_strength: optional.next().map(|b| b as i8),
            wifi_status: optional.next(),
            mqtt_status: optional.next(),
            thread_status: optional.next(),
        })
    }

    pub(crate) fn write(&self, writer: &mut Writer) {
        writer
            .u8(self.nuki_state.to_u8())
            .u8(self.lock_state.to_u8())
            .u8(self.trigger.to_u8())
            .date_time(&self.current_time)
            .i16(self.timezone_offset)
            .u8(self.battery_state)
            .u8(self.config_update_count)
            .u8(self.lock_n_go_timer);
        let trailing = [
            self.last_lock_action.map(DeviceAction::to_u8),
            self.last_lock_action_trigger.map(Trigger::to_u8),
            self.last_lock_action_completion_status
                .map(CompletionStatus::to_u8),
            self.door_sensor_state.map(DoorSensorState::to_u8),
            self.nightmode_active.map(u8::from),
            self.accessory_battery_state,
            self.remote_access_status,
            self.ble_strength.map(|v| v as u8),
            self.wifi_strength.map(|v| v as u8),
            self.wifi_status,
            self.mqtt_status,
            self.thread_status,
        ];
        write_prefix(writer, &trailing);
    }
}

/// Writes optional trailing bytes up to the first absent one (later ones cannot be placed).
pub(crate) fn write_prefix(writer: &mut Writer, trailing: &[Option<u8>]) {
    for byte in trailing.iter().map_while(|byte| *byte) {
        writer.u8(byte);
    }
}

/// Reads optional trailing single-byte fields: `None` once the payload ends.
pub(crate) struct OptionalBytes<'r, 'a>(pub &'r mut Reader<'a>);

impl OptionalBytes<'_, '_> {
    pub fn next(&mut self) -> Option<u8> {
        if self.0.remaining() == 0 {
            None
        } else {
            self.0.u8("optional field").ok()
        }
    }
}

/// Battery Report 0x0011 (17 bytes).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BatteryReport {
    /// mWs.
    pub battery_drain: u16,
    /// mV.
    pub battery_voltage: u16,
    #[serde(serialize_with = "serialize_battery")]
    pub battery_state: u8,
    pub lock_action: DeviceAction,
    pub start_voltage: u16,
    pub lowest_voltage: u16,
    /// Degrees.
    pub lock_distance: u16,
    /// °C.
    pub start_temperature: i8,
    pub max_turn_current: u16,
    pub battery_resistance: u16,
}

impl BatteryReport {
    pub const LEN: usize = 17;

    pub(crate) fn read(
        reader: &mut Reader<'_>,
        family: ServiceFamily,
    ) -> Result<Self, DecodeError> {
        Ok(Self {
            battery_drain: reader.u16("battery drain")?,
            battery_voltage: reader.u16("battery voltage")?,
            battery_state: reader.u8("battery state")?,
            lock_action: DeviceAction::from_u8(reader.u8("lock action")?, family),
            start_voltage: reader.u16("start voltage")?,
            lowest_voltage: reader.u16("lowest voltage")?,
            lock_distance: reader.u16("lock distance")?,
            start_temperature: reader.i8("start temperature")?,
            max_turn_current: reader.u16("max turn current")?,
            battery_resistance: reader.u16("battery resistance")?,
        })
    }

    pub(crate) fn write(&self, writer: &mut Writer) {
        writer
            .u16(self.battery_drain)
            .u16(self.battery_voltage)
            .u8(self.battery_state)
            .u8(self.lock_action.to_u8())
            .u16(self.start_voltage)
            .u16(self.lowest_voltage)
            .u16(self.lock_distance)
            .i8(self.start_temperature)
            .u16(self.max_turn_current)
            .u16(self.battery_resistance);
    }
}

/// Openings Closings Summary 0x0010 (Smart Lock 1 only).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OpeningsClosingsSummary {
    pub openings_total: u16,
    pub closings_total: u16,
    pub openings_since_boot: u16,
    pub closings_since_boot: u16,
}

impl OpeningsClosingsSummary {
    pub const LEN: usize = 8;

    pub(crate) fn read(reader: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(Self {
            openings_total: reader.u16("openings total")?,
            closings_total: reader.u16("closings total")?,
            openings_since_boot: reader.u16("openings since boot")?,
            closings_since_boot: reader.u16("closings since boot")?,
        })
    }

    pub(crate) fn write(&self, writer: &mut Writer) {
        writer
            .u16(self.openings_total)
            .u16(self.closings_total)
            .u16(self.openings_since_boot)
            .u16(self.closings_since_boot);
    }
}
