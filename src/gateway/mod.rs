//! The core: the single entry point for operating a device, and the internal event bus.
//!
//! Every interface calls [`Gateway::act`]; nothing talks to the fleet directly. For now the
//! only principal is the owner; the permission engine of the next issue goes in front of the
//! fleet here, so no interface can bypass it.

use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;
use tokio::sync::broadcast;

use crate::ble::DeviceAddress;
use crate::devices::fleet::{DeviceInfo, Fleet, FleetEvent};
use crate::devices::outcome::Outcome;
use crate::nuki::enums::DeviceAction;
use crate::nuki::messages::KeyturnerStates;

/// Events kept for slow subscribers (callbacks, logs) before they start missing some.
const EVENT_BUFFER: usize = 1024;

/// Who asks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Principal {
    /// The building's owner (the Nuki Box management account); full rights.
    Owner,
}

/// What the gateway reports on its bus.
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
        outcome: Outcome,
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
}

/// The core of the gateway.
pub struct Gateway {
    fleet: Arc<Fleet>,
    events: broadcast::Sender<GatewayEvent>,
    action_deadline: Duration,
}

impl Gateway {
    /// Forwards the fleet's events onto the gateway bus. Must run inside a tokio runtime.
    pub fn new(fleet: Arc<Fleet>, action_deadline: Duration) -> Arc<Self> {
        let (events, _) = broadcast::channel(EVENT_BUFFER);
        let mut fleet_events = fleet.subscribe();
        let forward = events.clone();
        tokio::spawn(async move {
            loop {
                let event = match fleet_events.recv().await {
                    Ok(event) => event,
                    Err(broadcast::error::RecvError::Lagged(missed)) => {
                        tracing::warn!(missed, "gateway bus fell behind the fleet");
                        continue;
                    }
                    Err(broadcast::error::RecvError::Closed) => break,
                };
                let _ = forward.send(match event {
                    FleetEvent::StateChanged { address, state } => GatewayEvent::StateChanged {
                        device: address,
                        state,
                    },
                    FleetEvent::Connected { address } => {
                        GatewayEvent::DeviceConnected { device: address }
                    }
                    FleetEvent::Disconnected { address } => {
                        GatewayEvent::DeviceDisconnected { device: address }
                    }
                    FleetEvent::BatteryCritical { address } => {
                        GatewayEvent::BatteryCritical { device: address }
                    }
                });
            }
        });
        Arc::new(Self {
            fleet,
            events,
            action_deadline,
        })
    }

    pub fn subscribe(&self) -> broadcast::Receiver<GatewayEvent> {
        self.events.subscribe()
    }

    /// Operates a device on behalf of `principal`; the only way to do so.
    pub async fn act(
        &self,
        principal: &Principal,
        device: &DeviceAddress,
        action: DeviceAction,
    ) -> Outcome {
        let _ = self.events.send(GatewayEvent::ActionRequested {
            principal: principal.clone(),
            device: device.clone(),
            action,
        });
        let outcome = self.fleet.act(device, action, self.action_deadline).await;
        let _ = self.events.send(GatewayEvent::ActionFinished {
            principal: principal.clone(),
            device: device.clone(),
            action,
            outcome: outcome.clone(),
        });
        outcome
    }

    /// Reads a device's state over the radio (costs battery; prefer [`Self::cached_state`]).
    pub async fn read_state(&self, _principal: &Principal, device: &DeviceAddress) -> Outcome {
        self.fleet.read_state(device, self.action_deadline).await
    }

    pub fn devices(&self) -> Vec<DeviceInfo> {
        self.fleet.devices()
    }

    pub fn cached_state(&self, device: &DeviceAddress) -> Option<KeyturnerStates> {
        self.fleet.cached_state(device)
    }
}
