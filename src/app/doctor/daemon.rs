//! What only the running daemon knows: which paired devices it heard, when, and how
//! strongly. Asked over the control socket (`{"doctor": "devices"}`).

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::app::control::{self, ControlAnswer};
use crate::config::Config;
use crate::gateway::{Gateway, Principal};

use super::Check;

/// How long doctor waits for the daemon's answer (beyond the control socket's own margin).
const ANSWER_WITHIN: Duration = Duration::from_secs(2);
/// A device not heard for longer than this is worth a warning: Nuki devices advertise
/// every second or so.
const RECENTLY: Duration = Duration::from_secs(5 * 60);
/// Below this signal strength links fail often; move the gateway or add an adapter nearer.
const WEAK_SIGNAL_DBM: i16 = -90;

#[derive(Debug, Clone, Serialize, Deserialize)]
struct DoctorRequest {
    doctor: String,
}

/// One paired device as the daemon sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HeardDevice {
    pub name: String,
    pub address: String,
    pub kind: String,
    /// Seconds since its last advertisement; None when never heard since the start.
    pub heard_seconds_ago: Option<u64>,
    pub rssi_dbm: Option<i16>,
}

/// What doctor learned from the daemon.
pub enum Daemon {
    Absent,
    Unreadable(String),
    Devices(Vec<HeardDevice>),
}

impl Daemon {
    pub fn is_running(&self) -> bool {
        !matches!(self, Daemon::Absent)
    }
}

pub async fn ask(config: &Config) -> Daemon {
    let request = DoctorRequest {
        doctor: "devices".to_owned(),
    };
    let path = control::socket_path(config);
    match control::request(&path, &request, ANSWER_WITHIN).await {
        Ok(None) => Daemon::Absent,
        Ok(Some(ControlAnswer::Done(value))) => match serde_json::from_value(value) {
            Ok(devices) => Daemon::Devices(devices),
            Err(error) => Daemon::Unreadable(error.to_string()),
        },
        Ok(Some(ControlAnswer::BadRequest(message) | ControlAnswer::Failed(message))) => {
            Daemon::Unreadable(message)
        }
        Err(error) => Daemon::Unreadable(error.to_string()),
    }
}

/// One line per paired device: heard recently, and with what signal.
pub fn devices(running: &Daemon) -> Vec<Check> {
    let devices = match running {
        Daemon::Absent => {
            return vec![Check::skip(
                "paired devices",
                "daemon not running: start it to see which devices it hears",
            )
            .with_fix("systemctl start nuki-edge (or nuki-edge run --config <file>)")]
        }
        Daemon::Unreadable(reason) => {
            return vec![Check::warn(
                "paired devices",
                format!("the daemon's answer could not be read: {reason}"),
                "use the same nuki-edge version as the running daemon",
            )]
        }
        Daemon::Devices(devices) => devices,
    };
    if devices.is_empty() {
        return vec![Check::warn(
            "paired devices",
            "none paired",
            "pair a device: `nuki-edge pair --config <file> <device>`",
        )];
    }
    devices.iter().map(device).collect()
}

fn device(device: &HeardDevice) -> Check {
    let title = format!("device {}", device.name);
    let Some(ago) = device.heard_seconds_ago else {
        return Check::warn(
            title,
            format!(
                "{} ({}) not heard since the daemon started",
                device.kind, device.address
            ),
            "check that it has power and is within range of the adapter",
        );
    };
    let signal = device
        .rssi_dbm
        .map_or_else(|| "signal unknown".to_owned(), |rssi| format!("{rssi} dBm"));
    let detail = format!("heard {ago} s ago, {signal}");
    if Duration::from_secs(ago) > RECENTLY {
        return Check::warn(
            title,
            detail,
            "check that it has power and is within range of the adapter",
        );
    }
    match device.rssi_dbm {
        Some(rssi) if rssi < WEAK_SIGNAL_DBM => Check::warn(
            title,
            format!("{detail}: weak"),
            "move the gateway (or a USB adapter on an extension cable) closer to the device",
        ),
        _ => Check::ok(title, detail),
    }
}

/// Whether a control line is a doctor request (`{"doctor": …}`).
pub fn is_doctor_request(line: &str) -> bool {
    serde_json::from_str::<serde_json::Value>(line.trim())
        .ok()
        .is_some_and(|value| value.get("doctor").is_some())
}

/// The daemon's side: every paired device with when it was last heard.
pub fn answer(gateway: &Gateway) -> ControlAnswer {
    let heard = gateway.fleet().last_heard();
    let devices: Vec<HeardDevice> = gateway
        .devices(&Principal::Local)
        .into_iter()
        .map(|view| {
            let last = heard.get(&view.address);
            HeardDevice {
                name: view.name,
                address: view.address.0,
                kind: view.product.name().to_owned(),
                heard_seconds_ago: last.map(|(ago, _)| ago.as_secs()),
                rssi_dbm: last.and_then(|(_, rssi)| *rssi),
            }
        })
        .collect();
    match serde_json::to_value(devices) {
        Ok(value) => ControlAnswer::Done(value),
        Err(error) => ControlAnswer::Failed(format!("cannot render the devices: {error}")),
    }
}
