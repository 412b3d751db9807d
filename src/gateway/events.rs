//! What the gateway reports on its bus: actions with who asked, what the devices did, and how
//! pairings go. The interfaces (Bridge callbacks and `/log` now; MQTT, the activity log and
//! the web UI later) follow this bus, never the fleet's.

use std::sync::{Arc, Mutex};

use tokio::sync::{broadcast, mpsc};

use crate::access::{DeviceId, PermissionId};
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
    /// A permission was created, changed or revoked. `subject` is what the activity log
    /// needs to anonymize it (the permission may be gone from the store by the time the log
    /// reads the bus); not anonymized yet.
    PermissionChanged {
        by: Principal,
        permission: PermissionId,
        change: PermissionChangeKind,
        subject: PermissionSubject,
    },
    /// Provisioning wrote (or removed, or failed to write) a permission's entry on a device.
    ProvisioningResult {
        permission: PermissionId,
        device: DeviceId,
        outcome: ProvisioningOutcome,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PermissionChangeKind {
    Created,
    Changed,
    Revoked,
}

/// Whose permission changed: its name, and whether its holder is a resident (whose
/// permissions the activity log never names).
#[derive(Clone, PartialEq, Eq)]
pub struct PermissionSubject {
    pub name: String,
    pub resident: bool,
}

impl std::fmt::Debug for PermissionSubject {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // A resident's permission name may name the resident: never in Debug output.
        f.debug_struct("PermissionSubject")
            .field("resident", &self.resident)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProvisioningOutcome {
    Applied,
    Removed,
    Failed { reason: String },
}

/// Capacity of the broadcast half of the bus: events kept for slow subscribers (callbacks,
/// logs) before they start missing some.
const EVENT_BUFFER: usize = 1024;

/// The gateway's bus: a broadcast for followers that may miss events when they fall behind,
/// and lossless feeds for those that must not (the activity log).
#[derive(Clone)]
pub(crate) struct Bus {
    broadcast: broadcast::Sender<GatewayEvent>,
    feeds: Arc<Mutex<Vec<mpsc::UnboundedSender<GatewayEvent>>>>,
}

impl Bus {
    pub(crate) fn new() -> Self {
        let (broadcast, _) = broadcast::channel(EVENT_BUFFER);
        Self {
            broadcast,
            feeds: Arc::new(Mutex::new(Vec::new())),
        }
    }

    /// Sends to every feed, then to the broadcast; answers how many followers of the
    /// broadcast got it (none is no error: the feeds have it).
    pub(crate) fn send(&self, event: GatewayEvent) -> usize {
        {
            let mut feeds = self
                .feeds
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            feeds.retain(|feed| feed.send(event.clone()).is_ok());
        }
        self.broadcast.send(event).unwrap_or(0)
    }

    pub(crate) fn subscribe(&self) -> broadcast::Receiver<GatewayEvent> {
        self.broadcast.subscribe()
    }

    /// A receiver of every event sent from now on, never lagging; dropped receivers are
    /// forgotten on the next send.
    pub(crate) fn feed(&self) -> mpsc::UnboundedReceiver<GatewayEvent> {
        let (sender, receiver) = mpsc::unbounded_channel();
        self.feeds
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .push(sender);
        receiver
    }
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
