//! What a simulated device is: kind, identity and the knobs a test or a config file may turn.

use std::time::Duration;

use serde::Deserialize;

use crate::ble::DeviceAddress;
use crate::nuki::messages::SecurityPin;
use crate::nuki::product::ProductType;
use crate::nuki::uuids::ServiceFamily;

use super::duration_serde;
use super::path_loss::Position;

/// The product a simulated device plays: the one device model, under the simulator's name.
pub type SimKind = ProductType;

/// What the simulator makes up about a product: its firmware, layouts and factory PIN.
pub trait SimulatedProduct {
    /// Firmware version reported in Config and Firmware Status.
    fn firmware_version(self) -> [u8; 3];
    fn hardware_revision(self) -> [u8; 2];
    fn default_states_layout_len(self) -> usize;
    fn default_config_layout_len(self) -> usize;
    fn default_pin(self) -> u32;
    /// The advertised local name prefix before the hex Nuki ID.
    fn name_prefix(self) -> &'static str;
}

impl SimulatedProduct for ProductType {
    fn firmware_version(self) -> [u8; 3] {
        match self {
            ProductType::Box => [1, 2, 0],
            ProductType::SmartLock2 => [2, 12, 4],
            ProductType::SmartLock4 => [4, 3, 6],
            ProductType::SmartDoor => [3, 4, 1],
            ProductType::SmartLockUltra => [5, 1, 2],
            ProductType::Opener => [1, 9, 3],
        }
    }

    fn hardware_revision(self) -> [u8; 2] {
        match self {
            ProductType::Box => [1, 0],
            ProductType::SmartLock2 => [2, 5],
            ProductType::SmartLock4 => [4, 1],
            ProductType::SmartDoor => [3, 0],
            ProductType::SmartLockUltra => [5, 0],
            ProductType::Opener => [1, 2],
        }
    }

    fn default_states_layout_len(self) -> usize {
        match self {
            ProductType::SmartLock2 => 21,
            ProductType::Box
            | ProductType::SmartLock4
            | ProductType::SmartDoor
            | ProductType::SmartLockUltra => 27,
            ProductType::Opener => 26,
        }
    }

    /// Every product but the 2.0 is current: it reports the newest layouts, so its Config
    /// carries the device type byte.
    fn default_config_layout_len(self) -> usize {
        match self {
            ProductType::SmartLock2 => 74,
            ProductType::Box
            | ProductType::SmartLock4
            | ProductType::SmartDoor
            | ProductType::SmartLockUltra => 79,
            ProductType::Opener => 73,
        }
    }

    fn default_pin(self) -> u32 {
        match self {
            ProductType::SmartLockUltra => 123_456,
            _ => 1234,
        }
    }

    fn name_prefix(self) -> &'static str {
        match self {
            ProductType::Opener => "Nuki_Opener_",
            _ => "Nuki_",
        }
    }
}

/// Where the lock stands when the simulation starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum InitialPosition {
    #[default]
    Locked,
    Unlocked,
    /// Never calibrated: lock actions fail with `K_ERROR_NOT_CALIBRATED` until calibration.
    Uncalibrated,
}

/// One simulated device. Every field except the identity has a default so that a config file
/// can list devices with just `address`, `name`, `nuki_id` and `kind`.
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SimDeviceSpec {
    pub address: DeviceAddress,
    /// The name in the device's Config (the advertised name is `Nuki_XXXXXXXX`).
    pub name: String,
    pub nuki_id: u32,
    pub kind: SimKind,
    /// Security PIN; defaults to 1234 (123456 on the Ultra).
    #[serde(default)]
    pub pin: Option<u32>,
    #[serde(default = "defaults::max_authorizations")]
    pub max_authorizations: usize,
    /// Keyturner States payload length (19, 21 or 27 for locks); defaults per kind.
    #[serde(default)]
    pub states_layout_len: Option<usize>,
    /// Config payload length (74 to 79 for locks, 72 or 73 for the Opener); defaults per kind.
    #[serde(default)]
    pub config_layout_len: Option<usize>,
    #[serde(default = "defaults::pairing_mode_timeout", with = "duration_serde")]
    pub pairing_mode_timeout: Duration,
    /// Time of one motor movement (locking, unlocking, unlatching).
    #[serde(default = "defaults::motor_time", with = "duration_serde")]
    pub motor_time: Duration,
    /// Overrides what the product implies (only the Box is mains powered).
    #[serde(default)]
    pub mains_powered: Option<bool>,
    /// Seed of the device's random numbers; defaults to the Nuki ID.
    #[serde(default)]
    pub seed: Option<u64>,
    #[serde(default)]
    pub door_sensor: bool,
    #[serde(default)]
    pub keypad: bool,
    #[serde(default)]
    pub fob: bool,
    #[serde(default = "defaults::battery_percent")]
    pub battery_percent: u8,
    #[serde(default)]
    pub initial_position: InitialPosition,
    /// Signal strength heard by the gateway, in dBm (the radio model adds a little jitter).
    #[serde(default = "defaults::rssi")]
    pub rssi: i16,
    /// Where the device is mounted (metres). Radios with a position hear it by distance;
    /// without one, every radio hears it at `rssi` and never misses a packet.
    #[serde(default)]
    pub position: Option<Position>,
    #[serde(default = "defaults::max_keypad_codes")]
    pub max_keypad_codes: usize,
    #[serde(default = "defaults::max_time_control_entries")]
    pub max_time_control_entries: usize,
    #[serde(default = "defaults::max_log_entries")]
    pub max_log_entries: usize,
    /// Wrong security PINs in a row before the device refuses PINs for `pin_lockout`.
    #[serde(default = "defaults::max_wrong_pins")]
    pub max_wrong_pins: u8,
    #[serde(default = "defaults::pin_lockout", with = "duration_serde")]
    pub pin_lockout: Duration,
    /// How long the device is unreachable after a reboot command.
    #[serde(default = "defaults::reboot_time", with = "duration_serde")]
    pub reboot_time: Duration,
    #[serde(default = "defaults::calibration_time", with = "duration_serde")]
    pub calibration_time: Duration,
    /// Wall clock (UTC Unix seconds) at simulation start; defaults to the transport's clock.
    #[serde(default)]
    pub wall_clock_start: Option<i64>,
    #[serde(default = "defaults::timezone_offset_minutes")]
    pub timezone_offset_minutes: i16,
    #[serde(default = "defaults::timezone_id")]
    pub timezone_id: u16,
}

impl SimDeviceSpec {
    /// A spec with every optional field at its default.
    pub fn new(address: &str, name: &str, nuki_id: u32, kind: SimKind) -> Self {
        Self {
            address: DeviceAddress(address.to_owned()),
            name: name.to_owned(),
            nuki_id,
            kind,
            pin: None,
            max_authorizations: defaults::max_authorizations(),
            states_layout_len: None,
            config_layout_len: None,
            pairing_mode_timeout: defaults::pairing_mode_timeout(),
            motor_time: defaults::motor_time(),
            mains_powered: None,
            seed: None,
            door_sensor: false,
            keypad: false,
            fob: false,
            battery_percent: defaults::battery_percent(),
            initial_position: InitialPosition::default(),
            rssi: defaults::rssi(),
            position: None,
            max_keypad_codes: defaults::max_keypad_codes(),
            max_time_control_entries: defaults::max_time_control_entries(),
            max_log_entries: defaults::max_log_entries(),
            max_wrong_pins: defaults::max_wrong_pins(),
            pin_lockout: defaults::pin_lockout(),
            reboot_time: defaults::reboot_time(),
            calibration_time: defaults::calibration_time(),
            wall_clock_start: None,
            timezone_offset_minutes: defaults::timezone_offset_minutes(),
            timezone_id: defaults::timezone_id(),
        }
    }

    pub fn family(&self) -> ServiceFamily {
        self.kind.service_family()
    }

    pub fn effective_pin(&self) -> u32 {
        self.pin.unwrap_or_else(|| self.kind.default_pin())
    }

    /// The PIN the device starts with, in its family's width.
    pub fn security_pin(&self) -> SecurityPin {
        SecurityPin::for_family(self.effective_pin(), self.family())
    }

    pub fn effective_seed(&self) -> u64 {
        self.seed.unwrap_or(u64::from(self.nuki_id))
    }

    pub fn effective_states_layout_len(&self) -> usize {
        self.states_layout_len
            .unwrap_or_else(|| self.kind.default_states_layout_len())
    }

    pub fn effective_config_layout_len(&self) -> usize {
        self.config_layout_len
            .unwrap_or_else(|| self.kind.default_config_layout_len())
    }

    pub fn is_mains_powered(&self) -> bool {
        self.mains_powered
            .unwrap_or_else(|| self.kind.is_mains_powered())
    }

    /// The advertised local name, e.g. `Nuki_33C335C5`.
    pub fn local_name(&self) -> String {
        format!("{}{:08X}", self.kind.name_prefix(), self.nuki_id)
    }
}

// The PIN is a secret: Debug shows everything else.
impl std::fmt::Debug for SimDeviceSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SimDeviceSpec")
            .field("address", &self.address)
            .field("name", &self.name)
            .field("nuki_id", &format_args!("{:08X}", self.nuki_id))
            .field("kind", &self.kind)
            .field("pin", &self.pin.map(|_| "<redacted>"))
            .field("max_authorizations", &self.max_authorizations)
            .field("states_layout_len", &self.states_layout_len)
            .field("config_layout_len", &self.config_layout_len)
            .field("pairing_mode_timeout", &self.pairing_mode_timeout)
            .field("motor_time", &self.motor_time)
            .field("seed", &self.seed)
            .field("position", &self.position)
            .finish_non_exhaustive()
    }
}

mod defaults {
    use std::time::Duration;

    pub fn max_authorizations() -> usize {
        20
    }
    pub fn pairing_mode_timeout() -> Duration {
        Duration::from_secs(30)
    }
    pub fn motor_time() -> Duration {
        Duration::from_millis(1500)
    }
    pub fn battery_percent() -> u8 {
        90
    }
    pub fn rssi() -> i16 {
        -62
    }
    pub fn max_keypad_codes() -> usize {
        100
    }
    pub fn max_time_control_entries() -> usize {
        20
    }
    pub fn max_log_entries() -> usize {
        1000
    }
    pub fn max_wrong_pins() -> u8 {
        3
    }
    pub fn pin_lockout() -> Duration {
        Duration::from_secs(60)
    }
    pub fn reboot_time() -> Duration {
        Duration::from_secs(5)
    }
    pub fn calibration_time() -> Duration {
        Duration::from_secs(6)
    }
    pub fn timezone_offset_minutes() -> i16 {
        60
    }
    pub fn timezone_id() -> u16 {
        // Europe/Berlin
        37
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn minimal_json_uses_defaults() {
        let spec: SimDeviceSpec = serde_json::from_str(
            r#"{"address":"sim-1","name":"Front door","nuki_id":287454020,"kind":"smart_lock_4"}"#,
        )
        .unwrap();
        assert_eq!(spec.kind, SimKind::SmartLock4);
        assert_eq!(spec.max_authorizations, 20);
        assert_eq!(spec.pairing_mode_timeout, Duration::from_secs(30));
        assert_eq!(spec.effective_states_layout_len(), 27);
        assert_eq!(spec.effective_pin(), 1234);
        assert_eq!(spec.local_name(), "Nuki_11223344");
        assert!(!spec.is_mains_powered());
    }

    #[test]
    fn durations_and_kinds_parse() {
        let spec: SimDeviceSpec = serde_json::from_str(
            r#"{"address":"b","name":"Box","nuki_id":1,"kind":"box","motor_time":"250ms",
                "pairing_mode_timeout":5}"#,
        )
        .unwrap();
        assert_eq!(spec.motor_time, Duration::from_millis(250));
        assert_eq!(spec.pairing_mode_timeout, Duration::from_secs(5));
        assert!(spec.is_mains_powered());
        assert_eq!(spec.kind.config_device_type().to_u8(), 1);
        let opener: SimDeviceSpec =
            serde_json::from_str(r#"{"address":"o","name":"Gate","nuki_id":2,"kind":"opener"}"#)
                .unwrap();
        assert_eq!(opener.local_name(), "Nuki_Opener_00000002");
        assert!(serde_json::from_str::<SimDeviceSpec>(
            r#"{"address":"o","name":"Gate","nuki_id":2,"kind":"opener","bogus":1}"#
        )
        .is_err());
    }

    #[test]
    fn debug_hides_pin() {
        let mut spec = SimDeviceSpec::new("a", "n", 1, SimKind::SmartLockUltra);
        spec.pin = Some(987_654);
        assert!(!format!("{spec:?}").contains("987654"));
    }
}
