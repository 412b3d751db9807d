//! Keyturner States (§4.2.13–4.2.14), Battery Report (§4.2.19) and the SL1 counters (§4.2.18).

use serde::Serialize;

use super::super::codec::{DateTime, DecodeError, Reader, Writer};
use super::super::enums::{
    CompletionStatus, DeviceAction, DeviceLockState, DoorSensorState, NukiState, Trigger,
};
use super::super::uuids::ServiceFamily;

/// Keyturner States 0x000C. Devices send 15 (oldest), 19, 21, 26 or 27 bytes; fields after
/// byte 14 are `None` when the device did not send them, so every length re-encodes to the
/// same bytes.
///
/// The Opener shares bytes 0–18 (byte 14 is its ring-to-open timer), leaves bytes 19–24
/// unused and reports the accessory battery state at byte 25 (§4.2.14); its lock-only fields
/// (night mode, remote access, connection strengths and states) are always `None`. Which
/// layout applies follows the family of [`lock_state`](Self::lock_state).
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
    /// Opener bytes 19–24 as sent (meaning unknown), so that re-encoding is exact; empty for
    /// locks.
    #[serde(skip)]
    pub opener_unused: Vec<u8>,
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
        let last_lock_action = optional.next().map(|b| DeviceAction::from_u8(b, family));
        let last_lock_action_trigger = optional.next().map(Trigger::from_u8);
        let last_lock_action_completion_status = optional.next().map(CompletionStatus::from_u8);
        let door_sensor_state = optional.next().map(DoorSensorState::from_u8);
        let mut states = Self {
            nuki_state,
            lock_state,
            trigger,
            current_time,
            timezone_offset,
            battery_state,
            config_update_count,
            lock_n_go_timer,
            last_lock_action,
            last_lock_action_trigger,
            last_lock_action_completion_status,
            door_sensor_state,
            nightmode_active: None,
            accessory_battery_state: None,
            remote_access_status: None,
            ble_strength: None,
            wifi_strength: None,
            wifi_status: None,
            mqtt_status: None,
            thread_status: None,
            opener_unused: Vec::new(),
        };
        if door_sensor_state.is_none() {
            return Ok(states);
        }
        if family.is_opener() {
            let unused_len = optional.0.remaining().min(OPENER_UNUSED_LEN);
            states.opener_unused = optional.0.take("opener unused bytes", unused_len)?.to_vec();
            if states.opener_unused.len() == OPENER_UNUSED_LEN {
                states.accessory_battery_state = optional.next();
            }
        } else {
            states.nightmode_active = optional.next().map(|b| b != 0);
            states.accessory_battery_state = optional.next();
            states.remote_access_status = optional.next();
            states.ble_strength = optional.next().map(|b| b as i8);
            states.wifi_strength = optional.next().map(|b| b as i8);
            states.wifi_status = optional.next();
            states.mqtt_status = optional.next();
            states.thread_status = optional.next();
        }
        Ok(states)
    }

    fn is_opener(&self) -> bool {
        matches!(self.lock_state, DeviceLockState::Opener(_))
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
        let shared = [
            self.last_lock_action.map(DeviceAction::to_u8),
            self.last_lock_action_trigger.map(Trigger::to_u8),
            self.last_lock_action_completion_status
                .map(CompletionStatus::to_u8),
            self.door_sensor_state.map(DoorSensorState::to_u8),
        ];
        write_prefix(writer, &shared);
        if shared.iter().any(Option::is_none) {
            return;
        }
        if self.is_opener() {
            let unused = &self.opener_unused[..self.opener_unused.len().min(OPENER_UNUSED_LEN)];
            writer.bytes(unused);
            if let Some(accessory) = self.accessory_battery_state {
                // Unused bytes left out by the caller go out as zeros, so that the accessory
                // byte still lands at offset 25.
                writer.bytes(&[0; OPENER_UNUSED_LEN][unused.len()..]);
                writer.u8(accessory);
            }
            return;
        }
        let lock_only = [
            self.nightmode_active.map(u8::from),
            self.accessory_battery_state,
            self.remote_access_status,
            self.ble_strength.map(|v| v as u8),
            self.wifi_strength.map(|v| v as u8),
            self.wifi_status,
            self.mqtt_status,
            self.thread_status,
        ];
        write_prefix(writer, &lock_only);
    }
}

/// Opener Keyturner States bytes 19–24, which carry nothing known.
const OPENER_UNUSED_LEN: usize = 6;

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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nuki::enums::OpenerLockState;

    /// Bytes 0–18 of an Opener in door mode, ring to open active.
    const OPENER_PREFIX: [u8; 19] = [
        0x02, 0x03, 0x00, 0xE8, 0x07, 0x05, 0x01, 0x0C, 0x22, 0x38, 0x3C, 0x00, 0x00, 0x07, 0x00,
        0x01, 0x00, 0x00, 0x00,
    ];

    fn read(bytes: &[u8], family: ServiceFamily) -> KeyturnerStates {
        KeyturnerStates::read(&mut Reader::new(bytes), family).unwrap()
    }

    fn write(states: &KeyturnerStates) -> Vec<u8> {
        let mut writer = Writer::new();
        states.write(&mut writer);
        writer.into_vec()
    }

    #[test]
    fn opener_accessory_battery_is_byte_25_and_bytes_19_to_24_are_kept_raw() {
        let mut bytes = OPENER_PREFIX.to_vec();
        bytes.extend_from_slice(&[0x01, 0x02, 0x00, 0x00, 0x00, 0x00, 0x03]);
        let states = read(&bytes, ServiceFamily::Opener);
        assert_eq!(
            states.lock_state,
            DeviceLockState::Opener(OpenerLockState::RtoActive)
        );
        assert_eq!(states.accessory_battery_state, Some(0x03));
        assert_eq!(states.keypad_battery_critical(), Some(true));
        assert_eq!(states.nightmode_active, None);
        assert_eq!(states.opener_unused, [0x01, 0x02, 0x00, 0x00, 0x00, 0x00]);
        assert_eq!(write(&states), bytes);
    }

    #[test]
    fn opener_accessory_byte_without_unused_bytes_is_placed_at_offset_25() {
        let mut states = read(&OPENER_PREFIX, ServiceFamily::Opener);
        states.accessory_battery_state = Some(0x01);
        // Lock-only fields have no place in the Opener layout.
        states.nightmode_active = Some(true);
        let bytes = write(&states);
        assert_eq!(bytes.len(), 26);
        assert_eq!(bytes[19..], [0, 0, 0, 0, 0, 0, 0x01]);
    }

    #[test]
    fn lock_layout_is_unchanged() {
        let mut bytes = OPENER_PREFIX.to_vec();
        bytes.extend_from_slice(&[0x01, 0x03]);
        let states = read(&bytes, ServiceFamily::Keyturner);
        assert_eq!(states.nightmode_active, Some(true));
        assert_eq!(states.accessory_battery_state, Some(0x03));
        assert!(states.opener_unused.is_empty());
        assert_eq!(write(&states), bytes);
    }
}
