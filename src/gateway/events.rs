//! What the gateway reports on its bus: actions with who asked, what the devices did, and how
//! pairings go. The interfaces (Bridge callbacks and `/log` now; MQTT, the activity log and
//! the web UI later) follow this bus, never the fleet's.

use crate::ble::DeviceAddress;
use crate::devices::fleet::FleetEvent;
use crate::nuki::enums::DeviceAction;
use crate::nuki::messages::{KeyturnerStates, LogEntry};

use super::view::{DeviceReport, GatewayResult};
use crate::access::Principal;

#[derive(Debug, Clone, PartialEq)]
pub enum GatewayEvent {
    ActionRequested {
        principal: Principal,
        device: DeviceAddress,
        action: DeviceAction,
    },
    ActionFinished {
        principal: Principal,
        device: DeviceAddress,
        action: DeviceAction,
        outcome: GatewayResult<DeviceReport>,
        /// The caller got its answer when the action was queued (Bridge `nowait`), so this
        /// event is the only way it learns how the action ended.
        answered_early: bool,
    },
    StateChanged {
        device: DeviceAddress,
        state: KeyturnerStates,
    },
    DeviceConnected {
        device: DeviceAddress,
    },
    DeviceDisconnected {
        device: DeviceAddress,
    },
    BatteryCritical {
        device: DeviceAddress,
    },
    DeviceAdded {
        device: DeviceAddress,
    },
    DeviceRemoved {
        device: DeviceAddress,
    },
    Pairing {
        device: DeviceAddress,
        progress: PairingProgress,
    },
    /// New entries of a device's own log (keypad codes, manual turns, other apps), oldest
    /// first; not anonymized yet — only `events` reads them, and anonymizes before storing.
    DeviceLogEntries {
        device: DeviceAddress,
        entries: Vec<LogEntry>,
    },
}

/// How a pairing started through the gateway goes, step by step.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "step", rename_all = "snake_case")]
pub enum PairingProgress {
    WaitingForButton { seconds_left: u64 },
    ExchangingKeys,
    ReadingConfig,
    Done { nuki_id: u32, authorization_id: u32 },
    Failed { reason: String },
}

impl std::fmt::Display for PairingProgress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PairingProgress::WaitingForButton { seconds_left } => write!(
                f,
                "waiting for pairing mode ({seconds_left} s left): hold the device's button for about 5 s"
            ),
            PairingProgress::ExchangingKeys => f.write_str("exchanging keys"),
            PairingProgress::ReadingConfig => f.write_str("reading the device's configuration"),
            PairingProgress::Done {
                nuki_id,
                authorization_id,
            } => write!(f, "paired: Nuki ID {nuki_id:08X}, authorization {authorization_id}"),
            PairingProgress::Failed { reason } => write!(f, "pairing failed: {reason}"),
        }
    }
}

impl GatewayEvent {
    /// The bus event for a fleet event; `None` for the fleet's own bookkeeping.
    pub(super) fn from_fleet(event: FleetEvent) -> Option<Self> {
        Some(match event {
            FleetEvent::StateChanged { address, state } => GatewayEvent::StateChanged {
                device: address,
                state,
            },
            FleetEvent::Connected { address } => GatewayEvent::DeviceConnected { device: address },
            FleetEvent::Disconnected { address } => {
                GatewayEvent::DeviceDisconnected { device: address }
            }
            FleetEvent::BatteryCritical { address } => {
                GatewayEvent::BatteryCritical { device: address }
            }
            FleetEvent::Added { address } => GatewayEvent::DeviceAdded { device: address },
            FleetEvent::Removed { address } => GatewayEvent::DeviceRemoved { device: address },
            FleetEvent::ClockReported { .. } => return None,
            FleetEvent::LogEntries { address, entries } => GatewayEvent::DeviceLogEntries {
                device: address,
                entries,
            },
        })
    }
}
