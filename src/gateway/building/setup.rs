//! Setting up a device through the management API: a pairing started in the background and
//! followed on the bus, so a client can poll how far it got. Kept in memory only, and only
//! the latest few.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use rand::RngCore;
use tokio::sync::broadcast;

use crate::access::{Capability, DeviceId, Principal};
use crate::ble::DeviceAddress;

use super::BuildingError;
use crate::gateway::events::{GatewayEvent, PairingProgress};
use crate::gateway::pairing::{PairingFailure, PairingOrder};
use crate::gateway::{lock, Gateway};

/// Set-ups remembered; the oldest finished ones are forgotten first.
pub const MAX_SETUPS_KEPT: usize = 64;
/// Random bytes in a set-up id.
const SETUP_ID_BYTES: usize = 16;

/// A set-up's id: 32 lowercase hex digits.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SetupId(pub String);

impl SetupId {
    fn new() -> Self {
        let mut bytes = [0u8; SETUP_ID_BYTES];
        rand::rngs::OsRng.fill_bytes(&mut bytes);
        SetupId(hex::encode(bytes))
    }

    /// Whether `text` has the shape of a set-up id.
    pub fn is_well_formed(text: &str) -> bool {
        text.len() == SETUP_ID_BYTES * 2
            && text.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
    }
}

impl std::fmt::Display for SetupId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// How far a set-up got.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SetupPhase {
    WaitingForButton { seconds_left: u64 },
    ExchangingKeys,
    ReadingConfig,
    Done { device: DeviceId },
    Failed { reason: String },
}

impl SetupPhase {
    pub fn is_finished(&self) -> bool {
        matches!(self, SetupPhase::Done { .. } | SetupPhase::Failed { .. })
    }
}

struct Entry {
    id: SetupId,
    phase: SetupPhase,
}

#[derive(Default)]
pub(in crate::gateway) struct SetupBook {
    entries: Mutex<VecDeque<Entry>>,
}

impl SetupBook {
    fn insert(&self, id: SetupId, phase: SetupPhase) {
        let mut entries = lock(&self.entries);
        while entries.len() >= MAX_SETUPS_KEPT {
            let oldest_finished = entries.iter().position(|e| e.phase.is_finished());
            // Running set-ups are at most one per device; if all are running, the oldest goes.
            entries.remove(oldest_finished.unwrap_or(0));
        }
        entries.push_back(Entry { id, phase });
    }

    fn update(&self, id: &SetupId, phase: SetupPhase) {
        if let Some(entry) = lock(&self.entries).iter_mut().find(|e| &e.id == id) {
            entry.phase = phase;
        }
    }

    fn get(&self, id: &SetupId) -> Option<SetupPhase> {
        lock(&self.entries)
            .iter()
            .find(|e| &e.id == id)
            .map(|e| e.phase.clone())
    }
}

impl Gateway {
    /// Starts pairing a device and answers at once with the set-up's id; follow it with
    /// [`Gateway::setup`].
    pub fn start_setup(
        self: &Arc<Self>,
        principal: &Principal,
        order: PairingOrder,
    ) -> Result<SetupId, PairingFailure> {
        // Subscribed before the pairing starts, so no step is missed.
        let events = self.subscribe();
        let device = order.address.clone();
        self.start_pairing(principal, order)?;
        let id = SetupId::new();
        self.setups.insert(
            id.clone(),
            SetupPhase::WaitingForButton {
                seconds_left: self.settings.pairing.wait_for_button.as_secs(),
            },
        );
        let gateway = self.clone();
        let followed = id.clone();
        self.tasks.spawn(async move {
            gateway.follow_setup(events, device, followed).await;
        });
        Ok(id)
    }

    /// Where a set-up stands.
    pub fn setup(&self, principal: &Principal, id: &SetupId) -> Result<SetupPhase, BuildingError> {
        self.require(principal, Capability::ManageDevices)?;
        self.setups
            .get(id)
            .ok_or_else(|| BuildingError::NotFound(format!("set-up {id}")))
    }

    async fn follow_setup(
        &self,
        mut events: broadcast::Receiver<GatewayEvent>,
        device: DeviceAddress,
        id: SetupId,
    ) {
        loop {
            let event = tokio::select! {
                () = self.shutdown.cancelled() => {
                    self.setups.update(&id, SetupPhase::Failed { reason: "the gateway is shutting down".into() });
                    return;
                }
                event = events.recv() => event,
            };
            let progress = match event {
                Ok(GatewayEvent::Pairing {
                    device: paired,
                    progress,
                }) if paired == device => progress,
                Ok(_) | Err(broadcast::error::RecvError::Lagged(_)) => continue,
                Err(broadcast::error::RecvError::Closed) => return,
            };
            let phase = match progress {
                PairingProgress::WaitingForButton { seconds_left } => {
                    SetupPhase::WaitingForButton { seconds_left }
                }
                PairingProgress::ExchangingKeys => SetupPhase::ExchangingKeys,
                PairingProgress::ReadingConfig => SetupPhase::ReadingConfig,
                PairingProgress::Done { .. } => match self
                    .devices(&Principal::Local)
                    .into_iter()
                    .find(|view| view.address == device)
                {
                    Some(view) => SetupPhase::Done { device: view.id },
                    None => SetupPhase::Failed {
                        reason: "paired, but the device left the fleet".into(),
                    },
                },
                PairingProgress::Failed { reason } => SetupPhase::Failed { reason },
            };
            let finished = phase.is_finished();
            self.setups.update(&id, phase);
            if finished {
                return;
            }
        }
    }
}
