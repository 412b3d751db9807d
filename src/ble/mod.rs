//! The radio: a small transport trait and its backends.
//!
//! `sim` is the simulated building used by tests and the demo; `bluez` (feature `bluetooth`)
//! talks to BlueZ through btleplug. Neither makes protocol decisions.

use std::collections::HashMap;
use std::time::Duration;

use async_trait::async_trait;
use uuid::Uuid;

#[cfg(feature = "bluetooth")]
pub mod bluez;
pub mod esphome;
pub mod radios;
pub mod sim;

/// A device's radio address: a BLE MAC address (`AA:BB:CC:DD:EE:FF`) or a simulator name.
#[derive(
    Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(transparent)]
pub struct DeviceAddress(pub String);

impl std::fmt::Display for DeviceAddress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// A radio's name as the configuration and the status show it: a BlueZ adapter (`hci0`), an
/// ESPHome Bluetooth proxy's configured name, a simulated radio's name.
#[derive(
    Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(transparent)]
pub struct RadioId(pub String);

impl std::fmt::Display for RadioId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// A radio's own account of its link slots (an ESPHome proxy reports them; BlueZ does not).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SlotReport {
    /// Links it can still open, for anybody (other clients of a proxy use slots too).
    pub free: usize,
    /// Links it can hold at all.
    pub limit: usize,
}

/// One radio that heard a device, with the signal strength it heard.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hearing {
    pub radio: RadioId,
    pub rssi: i16,
}

/// One received advertisement (merged with its scan response where the backend does that).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Advertisement {
    pub address: Option<DeviceAddress>,
    pub local_name: Option<String>,
    pub rssi: Option<i16>,
    /// Every radio that heard the device in a scan, strongest first; filled by the set of
    /// radios, empty from a single backend.
    pub heard_by: Vec<Hearing>,
    /// Manufacturer data by company id (the iBeacon is under 0x004C, without the id bytes).
    pub manufacturer_data: HashMap<u16, Vec<u8>>,
    /// Service data by 128-bit service UUID.
    pub service_data: HashMap<Uuid, Vec<u8>>,
    pub services: Vec<Uuid>,
}

/// One indication received on a characteristic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Indication {
    pub characteristic: Uuid,
    pub value: Vec<u8>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BleError {
    #[error("device {0} not found")]
    NotFound(DeviceAddress),
    #[error("could not connect to {address}: {reason}")]
    ConnectFailed {
        address: DeviceAddress,
        reason: String,
    },
    #[error("{operation} timed out after {after:?}")]
    Timeout {
        operation: &'static str,
        after: Duration,
    },
    #[error("link lost")]
    Disconnected,
    #[error("characteristic {0} not present on the device")]
    NoSuchCharacteristic(Uuid),
    #[error("Bluetooth adapter problem: {0}")]
    Adapter(String),
}

/// The radio as the gateway needs it.
#[async_trait]
pub trait BleTransport: Send + Sync {
    /// Listens for `duration` and returns the newest advertisement of every device heard.
    async fn scan(&self, duration: Duration) -> Result<Vec<Advertisement>, BleError>;

    /// A continuous feed of advertisements, for state-changed flags.
    async fn advertisements(&self) -> Result<tokio::sync::mpsc::Receiver<Advertisement>, BleError>;

    /// Opens a link and discovers services. Indications are off until [`BleLink::subscribe`].
    async fn connect(&self, address: &DeviceAddress) -> Result<Box<dyn BleLink>, BleError>;

    /// The radio's own reports of its free link slots, newest first seen; `None` for a radio
    /// that does not report them (its slots are then `fleet.link_slots`).
    fn slot_reports(&self) -> Option<tokio::sync::watch::Receiver<SlotReport>> {
        None
    }

    /// Whether the radio is reachable now, for a radio that knows (a proxy's API
    /// connection); `None`: up while its advertisement feed runs.
    fn is_up(&self) -> Option<bool> {
        None
    }

    /// The radios behind this transport and where each device is routed, when it is a set
    /// of radios.
    fn radios_report(&self) -> Option<radios::RadiosReport> {
        None
    }
}

/// One open link to a device.
#[async_trait]
pub trait BleLink: Send {
    /// Characteristic UUIDs discovered on connect.
    fn characteristics(&self) -> Vec<Uuid>;

    /// Enables indications (CCCD `02 00`). Devices forget this on every disconnect.
    async fn subscribe(&mut self, characteristic: Uuid) -> Result<(), BleError>;

    /// Writes a whole message (long write where the MTU needs it).
    async fn write(&mut self, characteristic: Uuid, value: &[u8]) -> Result<(), BleError>;

    /// Waits for the next indication. Cancel-safe: dropping the future loses nothing.
    async fn next_indication(&mut self) -> Result<Indication, BleError>;

    async fn disconnect(&mut self) -> Result<(), BleError>;
}
