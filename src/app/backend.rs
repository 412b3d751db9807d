//! Builds the radio the configuration asks for: BlueZ, or the simulated building.

use std::collections::{BTreeMap, HashSet};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use crate::ble::radios::{Radio, RadioKind, RadioSet};
use crate::ble::sim::{
    DeviceMemory, Position, RadioModel, SimControl, SimDeviceSpec, SimRadioSpec, SimTransport,
};
use crate::ble::{BleError, BleTransport, DeviceAddress, RadioId};
use crate::config::{BleBackend, Config, SimDeviceConfig};
use crate::devices::fleet::FleetConfig;
use crate::devices::link::LinkTimeouts;

/// The radios and, for the simulated building, the hand that presses its buttons.
pub struct Backend {
    /// Every radio as one transport (the set of radios).
    pub transport: Arc<dyn BleTransport>,
    pub radios: RadioSet,
    pub sim: Option<SimControl>,
}

impl Backend {
    /// Saves the simulated devices' memory after they changed; nothing for a real radio.
    pub fn persist_sim(&self, config: &Config) {
        if let (Some(sim), Some(path)) = (&self.sim, sim_state_path(config)) {
            save_sim_state(sim, &path);
        }
    }
}

pub async fn open(config: &Config) -> Result<Backend, BleError> {
    let (mut radios, sim) = match config.ble.backend {
        BleBackend::Sim => {
            let (named, sim) = sim_radios(config);
            let radios = named
                .into_iter()
                .map(|(id, transport)| Radio {
                    id,
                    kind: RadioKind::Simulated,
                    transport,
                    link_slots: config.fleet.link_slots,
                })
                .collect();
            (radios, Some(sim))
        }
        BleBackend::Bluez => (open_bluez(config).await?, None),
    };
    radios.extend(super::radios::proxies(config)?);
    let set = RadioSet::new(
        radios,
        super::radios::routing_settings(config),
        super::radios::pins(config),
    );
    Ok(Backend {
        transport: Arc::new(set.clone()),
        radios: set,
        sim,
    })
}

/// The simulated building's one radio when `[[sim.radios]]` places none.
pub const SIM_RADIO: &str = crate::config::SIM_RADIO_NAME;

#[cfg(feature = "bluetooth")]
async fn open_bluez(config: &Config) -> Result<Vec<Radio>, BleError> {
    use crate::ble::bluez::BluezTransport;
    let local = |name: String, transport: BluezTransport| Radio {
        id: RadioId(name),
        kind: RadioKind::Bluez,
        transport: Arc::new(transport),
        link_slots: config.fleet.link_slots,
    };
    let named = match (&config.ble.adapters, &config.ble.adapter) {
        (Some(names), _) => names.clone(),
        (None, Some(name)) => vec![name.clone()],
        (None, None) => {
            return Ok(BluezTransport::every_adapter()
                .await?
                .into_iter()
                .map(|(name, transport)| local(name, transport))
                .collect());
        }
    };
    let mut radios = Vec::with_capacity(named.len());
    for name in named {
        let transport = BluezTransport::new(Some(&name)).await?;
        radios.push(local(name, transport));
    }
    Ok(radios)
}

#[cfg(not(feature = "bluetooth"))]
async fn open_bluez(_config: &Config) -> Result<Vec<Radio>, BleError> {
    Err(BleError::Adapter(
        "this build has no Bluetooth support (feature `bluetooth` disabled); use ble.backend = \"sim\"".into(),
    ))
}

/// Radios by name, each its own transport.
pub type NamedRadios = Vec<(RadioId, Arc<dyn BleTransport>)>;

/// The simulated building's radios, in config order, and the hand that presses its buttons:
/// one per `[[sim.radios]]` entry, or a single radio named [`SIM_RADIO`] that hears every
/// device when none is configured. Remembered device memory is restored and factory-fresh
/// devices are put into pairing mode.
pub fn sim_radios(config: &Config) -> (NamedRadios, SimControl) {
    let specs = config
        .sim
        .devices
        .iter()
        .map(|device| sim_spec(device, config.sim.seed))
        .collect();
    let (radios, control) = if config.sim.radios.is_empty() {
        let (transport, control) = SimTransport::new(specs, radio_model(config));
        (vec![(RadioId(SIM_RADIO.into()), transport)], control)
    } else {
        let radios = config
            .sim
            .radios
            .iter()
            .map(|radio| SimRadioSpec::new(&radio.name, Position::from(radio.position.0)))
            .collect();
        SimTransport::with_radios(specs, radio_model(config), radios)
    };
    let remembered = sim_state_path(config)
        .map(|path| load_sim_state(&control, &path))
        .unwrap_or_default();
    // Factory-fresh devices come out of the box in pairing mode; remembered ones do not.
    for device in config
        .sim
        .devices
        .iter()
        .filter(|d| d.start_in_pairing_mode && !remembered.contains(&d.address))
    {
        let address = crate::ble::DeviceAddress(device.address.clone());
        if let Err(error) = control.press_button(&address) {
            tracing::warn!(device = %address, %error, "could not put the simulated device into pairing mode");
        }
    }
    // A dying bluetoothd takes every adapter with it.
    let radios = radios
        .into_iter()
        .map(|(name, transport)| {
            let transport: Arc<dyn BleTransport> = match config.sim.adapter_fails_after_s {
                Some(seconds) => Arc::new(FailingAdapter {
                    inner: transport,
                    feed_lifetime: Duration::from_secs(seconds),
                }),
                None => Arc::new(transport),
            };
            (name, transport)
        })
        .collect();
    (radios, control)
}

/// The simulated radio with an adapter that dies: its advertisement feed ends after a while.
struct FailingAdapter {
    inner: SimTransport,
    feed_lifetime: Duration,
}

#[async_trait::async_trait]
impl BleTransport for FailingAdapter {
    async fn scan(&self, duration: Duration) -> Result<Vec<crate::ble::Advertisement>, BleError> {
        self.inner.scan(duration).await
    }

    async fn advertisements(
        &self,
    ) -> Result<tokio::sync::mpsc::Receiver<crate::ble::Advertisement>, BleError> {
        let mut feed = self.inner.advertisements().await?;
        let (sender, receiver) = tokio::sync::mpsc::channel(64);
        let lifetime = self.feed_lifetime;
        tokio::spawn(async move {
            let end = tokio::time::sleep(lifetime);
            tokio::pin!(end);
            loop {
                tokio::select! {
                    () = &mut end => break,
                    advert = feed.recv() => {
                        let Some(advert) = advert else { break };
                        if sender.send(advert).await.is_err() {
                            break;
                        }
                    }
                }
            }
            tracing::warn!("simulated adapter failure: the advertisement feed ends now");
        });
        Ok(receiver)
    }

    async fn connect(
        &self,
        address: &DeviceAddress,
    ) -> Result<Box<dyn crate::ble::BleLink>, BleError> {
        self.inner.connect(address).await
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
    let mut spec = SimDeviceSpec::new(&device.address, &device.name, device.nuki_id, device.kind);
    spec.pin = Some(device.security_pin.value());
    spec.states_layout_len = device.states_layout_len;
    if let Some(motor_time_ms) = device.motor_time_ms {
        spec.motor_time = Duration::from_millis(motor_time_ms);
    }
    spec.door_sensor = device.door_sensor;
    spec.keypad = device.keypad;
    spec.position = device.position.map(|position| Position::from(position.0));
    spec.seed = Some(building_seed ^ u64::from(device.nuki_id));
    spec
}

/// How the fleet shares the radios, from `[fleet]` and `[ble]`: as many links at once as
/// all radios together hold.
pub fn fleet_config(config: &Config, radios: &RadioSet) -> FleetConfig {
    let fleet = &config.fleet;
    FleetConfig {
        link_slots: radios.link_capacity(),
        idle_disconnect: Duration::from_millis(fleet.idle_disconnect_ms),
        mains_idle_disconnect: Duration::from_secs(fleet.mains_idle_disconnect_s),
        timeouts: link_timeouts(config),
        backoff_base: Duration::from_millis(fleet.reconnect_backoff_ms),
        backoff_max: Duration::from_secs(fleet.reconnect_backoff_max_s),
        stuck_flag_refresh: Duration::from_secs(fleet.stuck_flag_refresh_s),
        log_refresh: fleet.log_refresh(),
        // Running commands get most of the shutdown time; closing links needs the rest.
        shutdown_grace: config.gateway.shutdown_timeout().mul_f64(0.6),
    }
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

/// Writes the simulated devices' memory (it holds keys: mode 0600, replaced atomically).
fn save_sim_state(sim: &SimControl, path: &Path) {
    if let Err(error) = write_sim_state(sim, path) {
        tracing::warn!(path = %path.display(), %error, "could not save the simulated devices' memory");
    }
}

fn write_sim_state(sim: &SimControl, path: &Path) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;

    let text = serde_json::to_vec_pretty(&sim.memories()).map_err(std::io::Error::other)?;
    let mut temporary = path.as_os_str().to_owned();
    temporary.push(".tmp");
    let temporary = std::path::PathBuf::from(temporary);
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&temporary)?;
    file.write_all(&text)?;
    file.sync_all()?;
    std::fs::rename(&temporary, path)
}

/// Powers the simulated devices up with what they remembered and returns the addresses of
/// those with any pairing. A missing file is a first start; a damaged one is reported and
/// ignored (the devices start factory-fresh).
fn load_sim_state(sim: &SimControl, path: &Path) -> HashSet<String> {
    let mut remembered = HashSet::new();
    let text = match std::fs::read(path) {
        Ok(text) => text,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return remembered,
        Err(error) => {
            tracing::warn!(path = %path.display(), %error, "cannot read the simulated devices' memory");
            return remembered;
        }
    };
    let memories: BTreeMap<DeviceAddress, DeviceMemory> = match serde_json::from_slice(&text) {
        Ok(memories) => memories,
        Err(error) => {
            tracing::warn!(path = %path.display(), %error, "the simulated devices' memory is damaged; starting fresh");
            return remembered;
        }
    };
    for (address, memory) in &memories {
        match sim.restore(address, memory) {
            Ok(()) if !memory.authorizations.is_empty() => {
                remembered.insert(address.0.clone());
            }
            Ok(()) => {}
            Err(error) => {
                tracing::debug!(device = %address, %error, "remembered device is no longer in the config")
            }
        }
    }
    remembered
}
