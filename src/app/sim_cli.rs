//! `nuki-edge sim DEVICE …`: what happens at a simulated door, told to a running daemon that
//! simulates its building (`ble.backend = "sim"`): a knob turned by hand, a code typed on the
//! keypad, the door opened, the doorbell rung. Installers use it to try the activity log,
//! MQTT and callbacks without hardware; the tests and benchmarks use it to act on the
//! daemon's own simulated devices from outside.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::ble::sim::{KeypadOutcome, SimControl};
use crate::ble::DeviceAddress;
use crate::config::Config;
use crate::gateway::{Gateway, Principal};

use super::control::{self, ControlAnswer};
use super::ops::OpsError;

/// A simulated event takes effect at once; the answer only waits for the daemon's turn.
const SIM_ANSWER_WITHIN: Duration = Duration::from_secs(5);

/// A request on the control socket: `{"sim": {"device": …, "event": …}}`.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SimControlRequest {
    pub sim: SimRequest,
}

#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SimRequest {
    /// A device's name or address.
    pub device: String,
    pub event: SimEvent,
}

/// What happens at the simulated door.
#[derive(Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum SimEvent {
    /// The knob or key turned by hand (trigger "manual").
    Turn { action: ManualTurn },
    /// A code typed on the device's keypad.
    Keypad { code: u32 },
    /// The door opened or closed (needs a door sensor).
    Door { open: bool },
    /// Opener: the doorbell rings.
    Ring,
    /// The device's button pressed once.
    Button,
}

/// A turn by hand, as the lock's action byte (§5.3) has it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
pub enum ManualTurn {
    Unlock,
    Lock,
    Unlatch,
}

impl ManualTurn {
    fn action_byte(self) -> u8 {
        match self {
            ManualTurn::Unlock => 1,
            ManualTurn::Lock => 2,
            ManualTurn::Unlatch => 3,
        }
    }
}

/// Whether a control line is a sim request (the other requests have other top-level keys).
pub fn is_sim_request(line: &str) -> bool {
    serde_json::from_str::<serde_json::Value>(line.trim())
        .is_ok_and(|value| value.get("sim").is_some())
}

/// Answers a sim request in the daemon.
pub fn answer(gateway: &Gateway, sim: Option<&SimControl>, line: &str) -> ControlAnswer {
    let Some(sim) = sim else {
        return ControlAnswer::BadRequest(
            "the daemon runs real radios: `sim` needs ble.backend = \"sim\"".into(),
        );
    };
    let request = match serde_json::from_str::<SimControlRequest>(line.trim()) {
        Ok(request) => request.sim,
        Err(error) => return ControlAnswer::BadRequest(format!("malformed sim request: {error}")),
    };
    let Some(address) = find_simulated(gateway, sim, &request.device) else {
        return ControlAnswer::BadRequest(format!(
            "unknown device '{}': give the name or address of a simulated device",
            request.device
        ));
    };
    let outcome = match request.event {
        SimEvent::Turn { action } => sim
            .manual_action(&address, action.action_byte())
            .map(|()| "turned"),
        SimEvent::Keypad { code } => {
            sim.enter_keypad_code(&address, code)
                .map(|outcome| match outcome {
                    KeypadOutcome::Accepted => "code accepted",
                    KeypadOutcome::Refused => "code refused",
                    KeypadOutcome::NotNow(_) => "code accepted, the lock could not move",
                })
        }
        SimEvent::Door { open } => {
            sim.set_door(&address, open)
                .map(|()| if open { "door open" } else { "door closed" })
        }
        SimEvent::Ring => sim.ring_doorbell(&address).map(|()| "rang"),
        SimEvent::Button => sim.press_button(&address).map(|_| "pressed"),
    };
    match outcome {
        Ok(outcome) => ControlAnswer::Done(serde_json::json!({
            "device": address,
            "outcome": outcome,
        })),
        // The device cannot do this (no keypad, no door sensor, not an Opener): the
        // request was wrong for it.
        Err(error) => ControlAnswer::BadRequest(format!("{}: {error}", request.device)),
    }
}

fn find_simulated(gateway: &Gateway, sim: &SimControl, text: &str) -> Option<DeviceAddress> {
    let simulated = sim.addresses();
    let by_address = simulated
        .iter()
        .find(|address| address.0.eq_ignore_ascii_case(text));
    if let Some(address) = by_address {
        return Some(address.clone());
    }
    gateway
        .devices(&Principal::Local)
        .into_iter()
        .find(|device| device.name.eq_ignore_ascii_case(text))
        .map(|device| device.address)
        .filter(|address| simulated.contains(address))
}

/// The CLI side: sends the event to the running daemon.
pub async fn send(
    config: &Config,
    device: &str,
    event: SimEvent,
) -> Result<serde_json::Value, OpsError> {
    let request = SimControlRequest {
        sim: SimRequest {
            device: device.to_owned(),
            event,
        },
    };
    match control::request(&control::socket_path(config), &request, SIM_ANSWER_WITHIN).await? {
        Some(ControlAnswer::Done(value)) => Ok(value),
        Some(ControlAnswer::BadRequest(message)) => Err(OpsError::DaemonBadRequest(message)),
        Some(ControlAnswer::Failed(message)) => Err(OpsError::DaemonFailed(message)),
        None => Err(OpsError::DaemonBadRequest(
            "no daemon is running on this configuration: `sim` acts on the simulated devices of a running `nuki-edge run`".into(),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_read_as_sent() {
        let request = SimControlRequest {
            sim: SimRequest {
                device: "Front door".into(),
                event: SimEvent::Turn {
                    action: ManualTurn::Lock,
                },
            },
        };
        let line = serde_json::to_string(&request).unwrap();
        assert_eq!(
            line,
            r#"{"sim":{"device":"Front door","event":{"turn":{"action":"lock"}}}}"#
        );
        assert!(is_sim_request(&line));
        assert!(!is_sim_request(r#"{"command":"lock","device":"x"}"#));
        assert!(serde_json::from_str::<SimControlRequest>(&line).unwrap() == request);
    }

    #[test]
    fn manual_turns_are_the_lock_action_bytes() {
        assert_eq!(ManualTurn::Unlock.action_byte(), 1);
        assert_eq!(ManualTurn::Lock.action_byte(), 2);
        assert_eq!(ManualTurn::Unlatch.action_byte(), 3);
    }
}
