//! Builds the radio the configuration asks for: BlueZ, or the simulated building.

use std::sync::Arc;
use std::time::Duration;

use crate::ble::sim::{RadioModel, SimControl, SimDeviceSpec, SimKind, SimTransport};
use crate::ble::{BleError, BleTransport};
use crate::config::{BleBackend, Config, DeviceKind, SimDeviceConfig};
use crate::devices::link::LinkTimeouts;

/// The radio and, for the simulated building, the hand that presses its buttons.
pub struct Backend {
    pub transport: Arc<dyn BleTransport>,
    pub sim: Option<SimControl>,
}

pub async fn open(config: &Config) -> Result<Backend, BleError> {
    match config.ble.backend {
        BleBackend::Sim => Ok(open_sim(config)),
        BleBackend::Bluez => open_bluez(config).await,
    }
}

#[cfg(feature = "bluetooth")]
async fn open_bluez(config: &Config) -> Result<Backend, BleError> {
    let transport = crate::ble::bluez::BluezTransport::new(config.ble.adapter.as_deref()).await?;
    Ok(Backend {
        transport: Arc::new(transport),
        sim: None,
    })
}

#[cfg(not(feature = "bluetooth"))]
async fn open_bluez(_config: &Config) -> Result<Backend, BleError> {
    Err(BleError::Adapter(
        "this build has no Bluetooth support (feature `bluetooth` disabled); use ble.backend = \"sim\"".into(),
    ))
}

fn open_sim(config: &Config) -> Backend {
    let specs = config
        .sim
        .devices
        .iter()
        .map(|device| sim_spec(device, config.sim.seed))
        .collect();
    let (transport, control) = SimTransport::new(specs, radio_model(config));
    for device in config
        .sim
        .devices
        .iter()
        .filter(|d| d.start_in_pairing_mode)
    {
        let address = crate::ble::DeviceAddress(device.address.clone());
        if let Err(error) = control.press_button(&address) {
            tracing::warn!(device = %address, %error, "could not put the simulated device into pairing mode");
        }
    }
    Backend {
        transport: Arc::new(transport),
        sim: Some(control),
    }
}

pub fn radio_model(config: &Config) -> RadioModel {
    RadioModel {
        fragment_len: config.sim.fragment_len,
        connection_interval: Duration::from_millis(config.sim.connection_interval_ms),
        connect_time: Duration::from_millis(config.sim.connect_time_ms),
        ..RadioModel::default()
    }
}

pub fn sim_spec(device: &SimDeviceConfig, building_seed: u64) -> SimDeviceSpec {
    let kind = match device.kind {
        DeviceKind::Box => SimKind::Box,
        DeviceKind::SmartLock2 => SimKind::SmartLock2,
        DeviceKind::SmartLock4 => SimKind::SmartLock4,
        DeviceKind::SmartLockUltra => SimKind::SmartLockUltra,
        DeviceKind::Opener => SimKind::Opener,
    };
    let mut spec = SimDeviceSpec::new(&device.address, &device.name, device.nuki_id, kind);
    spec.pin = Some(device.security_pin);
    spec.states_layout_len = device.states_layout_len;
    if let Some(motor_time_ms) = device.motor_time_ms {
        spec.motor_time = Duration::from_millis(motor_time_ms);
    }
    spec.door_sensor = device.door_sensor;
    spec.seed = Some(building_seed ^ u64::from(device.nuki_id));
    spec
}

pub fn link_timeouts(config: &Config) -> LinkTimeouts {
    LinkTimeouts {
        connect: config.ble.connect_timeout(),
        command: config.ble.command_timeout(),
    }
}

/// Where the simulated building keeps its devices' memory between runs.
pub fn sim_state_path(config: &Config) -> Option<std::path::PathBuf> {
    if config.ble.backend != BleBackend::Sim {
        return None;
    }
    Some(config.sim.state_path.clone().unwrap_or_else(|| {
        let mut path = config.store.path.clone().into_os_string();
        path.push(".sim.json");
        path.into()
    }))
}

pub fn save_sim_state(_sim: &SimControl, _path: &std::path::Path) {}
