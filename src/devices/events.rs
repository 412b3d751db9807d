//! What happens to the fleet's devices, for the gateway's bus.

use crate::ble::DeviceAddress;
use crate::nuki::codec::DateTime;
use crate::nuki::messages::{KeyturnerStates, LogEntry};

/// What happens to the fleet's devices, for the event bus.
#[derive(Debug, Clone, PartialEq)]
pub enum FleetEvent {
    StateChanged {
        address: DeviceAddress,
        state: KeyturnerStates,
    },
    Connected {
        address: DeviceAddress,
    },
    Disconnected {
        address: DeviceAddress,
    },
    BatteryCritical {
        address: DeviceAddress,
    },
    /// A device joined the fleet (at start, or after a new pairing replaced an old one).
    Added {
        address: DeviceAddress,
    },
    Removed {
        address: DeviceAddress,
    },
    /// A device reported its state, unchanged or not: its clock (UTC), which the gateway
    /// goes by while the system clock is implausible.
    ClockReported {
        address: DeviceAddress,
        current_time: DateTime,
    },
    /// Entries of the device's own log that the gateway had not read yet, oldest first.
    LogEntries {
        address: DeviceAddress,
        entries: Vec<LogEntry>,
    },
}
