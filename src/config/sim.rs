//! `[sim]`: the simulated building, as plain data. The app turns each [`SimDeviceConfig`] into
//! the simulator's own device spec; this module knows nothing of the simulator.

use std::fmt;

use serde::de::{self, Deserializer, Visitor};
use serde::Deserialize;

use crate::nuki::messages::SecurityPin;
use crate::nuki::product::ProductType;

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SimConfig {
    /// Seeds every random choice of the simulator (keys, nonces, timing jitter).
    pub seed: u64,
    /// Time between two radio packets of a link; every fragment costs one.
    pub connection_interval_ms: u64,
    /// How long establishing a link takes.
    pub connect_time_ms: u64,
    /// Bytes per radio fragment (ATT MTU 23 leaves 20).
    pub fragment_len: usize,
    /// Simulated residents operate a random door this often (seconds); 0 = never. Makes the
    /// demo's state log move.
    pub activity_interval_s: u64,
    /// Fault injection: the simulated adapter stops delivering advertisements after this
    /// many seconds, as when bluetoothd dies. The daemon then exits non-zero so that systemd
    /// restarts it. Unset (the default): never.
    pub adapter_fails_after_s: Option<u64>,
    /// Fault injection: the daemon's core loop (the advertisement watcher, which answers the
    /// systemd watchdog's liveness probes) stops turning after this many seconds, as a hung
    /// gateway would; watchdog pings stop. Only honoured with backend = "sim". Unset: never.
    pub stall_core_after_s: Option<u64>,
    /// Where the simulated devices keep their own memory (authorizations, PINs, lock state)
    /// between runs, as real devices do; unset = next to the store file (`<store>.sim.json`).
    pub state_path: Option<std::path::PathBuf>,
    /// Radios at positions in the building; none = one radio that hears every device.
    pub radios: Vec<SimRadioConfig>,
    pub devices: Vec<SimDeviceConfig>,
}

impl Default for SimConfig {
    fn default() -> Self {
        Self {
            seed: 1,
            connection_interval_ms: 30,
            connect_time_ms: 200,
            fragment_len: 20,
            activity_interval_s: 0,
            adapter_fails_after_s: None,
            stall_core_after_s: None,
            state_path: None,
            radios: Vec::new(),
            devices: Vec::new(),
        }
    }
}

/// A point in the building, `[x, y, z]` in metres (z is the height, so floors count).
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(transparent)]
pub struct SimPosition(pub [f64; 3]);

impl SimPosition {
    pub fn is_finite(&self) -> bool {
        self.0.iter().all(|coordinate| coordinate.is_finite())
    }
}

// The configuration compares as `Eq`; bitwise equality of the coordinates is an equivalence
// (NaN included), and validation rejects non-finite ones anyway.
impl PartialEq for SimPosition {
    fn eq(&self, other: &Self) -> bool {
        self.0.map(f64::to_bits) == other.0.map(f64::to_bits)
    }
}

impl Eq for SimPosition {}

/// One `[[sim.radios]]` entry: a simulated radio (adapter or proxy) and where it stands.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SimRadioConfig {
    pub name: String,
    pub position: SimPosition,
}

/// One `[[sim.devices]]` entry.
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SimDeviceConfig {
    /// The radio address the device answers to (any unique text for the simulator).
    pub address: String,
    /// The device name (Config name), at most 32 bytes.
    pub name: String,
    /// Accepts a number or a hex string such as `"0x33C335C5"`.
    #[serde(deserialize_with = "deserialize_nuki_id")]
    pub nuki_id: u32,
    /// Which product the device plays, by its name (`box`, `smart_lock_4`, …).
    pub kind: ProductType,
    /// The simulated device's security PIN (0 = never set).
    #[serde(default = "never_set_pin")]
    pub security_pin: SecurityPin,
    /// Whether the device is in pairing mode when the simulation starts.
    #[serde(default)]
    pub start_in_pairing_mode: bool,
    /// Length of the Keyturner States payload it sends (the firmware profile); the
    /// simulator's default when absent.
    #[serde(default)]
    pub states_layout_len: Option<usize>,
    /// How long a lock action keeps the motor running; the simulator's default when absent.
    #[serde(default)]
    pub motor_time_ms: Option<u64>,
    /// Whether a door sensor is installed.
    #[serde(default)]
    pub door_sensor: bool,
    /// Whether a Keypad is paired with the device (keypad codes can be provisioned and typed
    /// with `nuki-edge sim DEVICE keypad CODE`).
    #[serde(default)]
    pub keypad: bool,
    /// Where the device is mounted; without one every radio hears it at full strength.
    #[serde(default)]
    pub position: Option<SimPosition>,
}

// The PIN of a simulated device is test data, but printing it would teach bad habits.
impl fmt::Debug for SimDeviceConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SimDeviceConfig")
            .field("address", &self.address)
            .field("name", &self.name)
            .field("nuki_id", &format_args!("{:08X}", self.nuki_id))
            .field("kind", &self.kind)
            .field("security_pin", &self.security_pin)
            .field("start_in_pairing_mode", &self.start_in_pairing_mode)
            .field("states_layout_len", &self.states_layout_len)
            .field("motor_time_ms", &self.motor_time_ms)
            .field("door_sensor", &self.door_sensor)
            .field("keypad", &self.keypad)
            .field("position", &self.position)
            .finish()
    }
}

fn never_set_pin() -> SecurityPin {
    SecurityPin::Long(0)
}

fn deserialize_nuki_id<'de, D: Deserializer<'de>>(deserializer: D) -> Result<u32, D::Error> {
    deserializer.deserialize_any(NukiIdVisitor)
}

struct NukiIdVisitor;

impl Visitor<'_> for NukiIdVisitor {
    type Value = u32;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a 32-bit Nuki id, as a number or a hex string like \"0x33C335C5\"")
    }

    fn visit_u64<E: de::Error>(self, value: u64) -> Result<u32, E> {
        u32::try_from(value).map_err(|_| E::custom("a Nuki id must fit 32 bits"))
    }

    fn visit_i64<E: de::Error>(self, value: i64) -> Result<u32, E> {
        u32::try_from(value).map_err(|_| E::custom("a Nuki id must fit 32 bits"))
    }

    fn visit_str<E: de::Error>(self, text: &str) -> Result<u32, E> {
        parse_nuki_id(text).ok_or_else(|| E::invalid_value(de::Unexpected::Str(text), &self))
    }
}

/// `0x`-prefixed hex or plain decimal.
pub fn parse_nuki_id(text: &str) -> Option<u32> {
    let text = text.trim();
    match text.strip_prefix("0x").or_else(|| text.strip_prefix("0X")) {
        Some(hex) => u32::from_str_radix(hex, 16).ok(),
        None => text.parse().ok(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nuki_id_text() {
        assert_eq!(parse_nuki_id("0x33C335C5"), Some(0x33C3_35C5));
        assert_eq!(parse_nuki_id("0X0a"), Some(10));
        assert_eq!(parse_nuki_id("12"), Some(12));
        assert_eq!(parse_nuki_id("0x1_0000_0000"), None);
        assert_eq!(parse_nuki_id("0x100000000"), None);
        assert_eq!(parse_nuki_id("lock"), None);
    }

    #[test]
    fn kinds_are_product_names() {
        let device: SimDeviceConfig =
            toml::from_str("address = \"a\"\nname = \"Entrance\"\nnuki_id = 1\nkind = \"box\"\n")
                .unwrap();
        assert_eq!(device.kind, ProductType::Box);
        assert_eq!(device.kind.max_security_pin(), 9_999);
        assert_eq!(ProductType::SmartLockUltra.max_security_pin(), 999_999);
    }

    #[test]
    fn positions_take_integers_and_fractions() {
        let config: SimConfig = toml::from_str(
            "[[radios]]\nname = \"hall\"\nposition = [0, 1.5, 3]\n\n\
             [[devices]]\naddress = \"a\"\nname = \"A\"\nnuki_id = 1\nkind = \"box\"\n\
             position = [2, 0, 0]\n",
        )
        .unwrap();
        assert_eq!(config.radios[0].position, SimPosition([0.0, 1.5, 3.0]));
        assert_eq!(
            config.devices[0].position,
            Some(SimPosition([2.0, 0.0, 0.0]))
        );
        assert!(toml::from_str::<SimRadioConfig>("name = \"r\"\nposition = [1, 2]\n").is_err());
        assert!(!SimPosition([f64::NAN, 0.0, 0.0]).is_finite());
    }
}
