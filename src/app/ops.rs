//! One-shot installer commands: scan, pair, read state, lock, unlock, unlatch.

use std::collections::HashMap;
use std::time::Duration;

use serde::Serialize;
use tokio::time::Instant;

use crate::ble::{Advertisement, BleError, DeviceAddress};
use crate::clock::{Clock, SystemClock};
use crate::config::Config;
use crate::devices::client::DeviceClient;
use crate::devices::link::LinkError;
use crate::devices::pairing::{pair_over_link, PairingStep};
use crate::devices::read_advertisement;
use crate::gateway::{default_pin_for, pairing_advice};
use crate::nuki::advert;
use crate::nuki::enums::IdType;
use crate::nuki::messages::{PinError, SecurityPin};
use crate::nuki::pairing::PairingRequest;
use crate::nuki::product::ProductType;
use crate::nuki::uuids::ServiceFamily;
use crate::store::{self, CheckReport, Pairing, RecoverReport, Store, StoreError};

use super::backend::{self, Backend};
use super::control::{self, ControlAnswer, ControlRequest};
pub use super::device_command::DeviceCommand;

/// How often the pairing countdown looks for the device's pairing advertisement.
const PAIRING_POLL: Duration = Duration::from_millis(500);
/// In the simulated building the installer presses the button after this delay.
const SIM_BUTTON_PRESS_DELAY: Duration = Duration::from_secs(2);

#[derive(Debug, thiserror::Error)]
pub enum OpsError {
    #[error("unknown device '{0}': give an address or a device name from the config or the store")]
    UnknownDevice(String),
    #[error("{0} is not paired yet: run `nuki-edge pair` for it first")]
    NotPaired(String),
    #[error("invalid security PIN: {0}")]
    BadPin(#[from] PinError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Events(#[from] crate::events::EventsError),
    #[error("radio: {0}")]
    Ble(#[from] BleError),
    #[error("{device}: {source}")]
    Device { device: String, source: LinkError },
    #[error("{device}: pairing failed: {advice}")]
    Pairing { device: String, advice: String },
    #[error("cannot change the /auth window at {path}: {reason}")]
    AuthWindow { path: String, reason: String },
    #[error("--seconds: the /auth window stays open 1 to {max} s, not {seconds}")]
    AuthWindowTooLong { seconds: u64, max: u64 },
    #[error("HTTP API: {0}")]
    Http(String),
    #[error("{device} was not seen in pairing mode within {seconds} s: hold its button for about 5 s until the LED ring lights up, then run pair again")]
    PairingModeTimeout { device: String, seconds: u64 },
    #[error(transparent)]
    Mqtt(#[from] crate::mqtt::MqttError),
    #[error(transparent)]
    CoreTask(#[from] super::supervisor::CoreTaskEnded),
    #[error(transparent)]
    Control(#[from] super::control::ControlError),
    /// The running daemon refused the request itself (e.g. an unknown device).
    #[error("{0}")]
    DaemonBadRequest(String),
    /// The running daemon could not carry the request out.
    #[error("{0}")]
    DaemonFailed(String),
}

impl OpsError {
    /// Exit code 2 (the input is wrong, or the store needs an operator: trying again cannot
    /// help, and the systemd unit does not restart on it) versus 1 (something failed at run
    /// time).
    pub fn is_bad_input(&self) -> bool {
        match self {
            OpsError::UnknownDevice(_)
            | OpsError::NotPaired(_)
            | OpsError::BadPin(_)
            | OpsError::AuthWindowTooLong { .. }
            | OpsError::DaemonBadRequest(_) => true,
            OpsError::Store(store) => store.needs_operator(),
            _ => false,
        }
    }
}

/// One device heard during a scan.
#[derive(Debug, Clone, Serialize)]
pub struct ScanRow {
    pub address: DeviceAddress,
    pub name: Option<String>,
    /// The protocol family the advertisement shows.
    pub kind: Option<ServiceFamily>,
    /// What the device reported itself to be when this gateway paired with it; an
    /// advertisement cannot tell a Box from a Smart Lock.
    pub product: Option<ProductType>,
    pub nuki_id: Option<String>,
    pub rssi: Option<i16>,
    pub pairing_mode: bool,
    pub state_changed: bool,
    /// Every radio that heard the device, strongest first, with its RSSI.
    pub heard_by: Vec<ScanHearing>,
    /// The radio that would serve the device, and why.
    pub radio: Option<String>,
    pub reason: Option<String>,
}

/// One radio that heard a device during a scan.
#[derive(Debug, Clone, Serialize)]
pub struct ScanHearing {
    pub radio: String,
    pub rssi: i16,
}

impl std::fmt::Display for ScanRow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{:<20} {:<24} {:<22} {:<10} {:>5} {}{}",
            self.address,
            self.name.as_deref().unwrap_or("-"),
            self.product
                .map(ProductType::label)
                .or(self.kind.map(family_label))
                .unwrap_or("-"),
            self.nuki_id.as_deref().unwrap_or("-"),
            self.rssi
                .map(|r| format!("{r}"))
                .unwrap_or_else(|| "-".into()),
            if self.pairing_mode {
                "PAIRING MODE"
            } else {
                "door mode"
            },
            if self.state_changed {
                ", state changed"
            } else {
                ""
            },
        )?;
        if let Some(radio) = &self.radio {
            write!(f, "  via {radio}")?;
            if let Some(reason) = &self.reason {
                write!(f, " ({reason})")?;
            }
        }
        if !self.heard_by.is_empty() {
            let heard: Vec<String> = self
                .heard_by
                .iter()
                .map(|hearing| format!("{} {} dBm", hearing.radio, hearing.rssi))
                .collect();
            write!(f, "; heard by {}", heard.join(", "))?;
        }
        Ok(())
    }
}

fn family_label(family: ServiceFamily) -> &'static str {
    match family {
        ServiceFamily::Keyturner => "keyturner",
        ServiceFamily::Ultra => "ultra",
        ServiceFamily::Opener => "opener",
    }
}

/// Lists the Nuki devices heard within `seconds`.
pub async fn scan(config: &Config, seconds: u64) -> Result<Vec<ScanRow>, OpsError> {
    let backend = backend::open(config).await?;
    let adverts = backend.transport.scan(Duration::from_secs(seconds)).await?;
    let products = paired_products(config);
    let routes = backend.radios.report().routes;
    let mut rows: Vec<ScanRow> = adverts
        .iter()
        .filter_map(|heard| scan_row(heard, &products))
        .map(|mut row| {
            if let Some(route) = routes.iter().find(|route| route.device == row.address) {
                row.radio = route.radio.as_ref().map(|radio| radio.0.clone());
                row.reason = route.reason.as_ref().map(ToString::to_string);
            }
            row
        })
        .collect();
    rows.sort_by(|a, b| a.address.cmp(&b.address));
    Ok(rows)
}

/// The products of the devices in the store. A scan must not create a store, and a running
/// daemon holds the file, so both simply leave the products unknown.
fn paired_products(config: &Config) -> HashMap<DeviceAddress, ProductType> {
    if !config.store.path.exists() {
        return HashMap::new();
    }
    match Store::open(&config.store.path).and_then(|store| store.pairings()) {
        Ok(pairings) => pairings
            .into_iter()
            .map(|pairing| (pairing.address, pairing.product))
            .collect(),
        Err(error) => {
            tracing::debug!(%error, "scan shows no products: the store cannot be read");
            HashMap::new()
        }
    }
}

fn scan_row(
    heard: &Advertisement,
    products: &HashMap<DeviceAddress, ProductType>,
) -> Option<ScanRow> {
    let address = heard.address.clone()?;
    let summary = read_advertisement(heard);
    let (beacon, pairing) = (summary.beacon, summary.pairing);
    if beacon.is_none() && pairing.is_none() {
        return None;
    }
    let nuki_id = beacon.map(|b| b.nuki_id).or(pairing.map(|p| p.nuki_id));
    Some(ScanRow {
        product: products.get(&address).copied(),
        address,
        name: heard.local_name.clone(),
        kind: pairing.map(|p| p.family).or(beacon.map(|b| b.family)),
        nuki_id: nuki_id.map(|id| format!("{id:08X}")),
        rssi: heard.rssi,
        pairing_mode: pairing.is_some(),
        state_changed: beacon.is_some_and(|b| b.state_changed),
        heard_by: heard
            .heard_by
            .iter()
            .map(|hearing| ScanHearing {
                radio: hearing.radio.0.clone(),
                rssi: hearing.rssi,
            })
            .collect(),
        radio: None,
        reason: None,
    })
}

/// Pairing progress, shown to the installer.
#[derive(Debug, Clone)]
pub enum PairProgress {
    WaitingForButton { device: String, seconds_left: u64 },
    SimulatedButtonPress { device: String },
    Pairing { device: String },
}

impl std::fmt::Display for PairProgress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PairProgress::WaitingForButton { device, seconds_left } => write!(
                f,
                "waiting for {device} to enter pairing mode: hold its button for about 5 s ({seconds_left} s left)"
            ),
            PairProgress::SimulatedButtonPress { device } => {
                write!(f, "simulated building: pressing the button of {device}")
            }
            PairProgress::Pairing { device } => write!(f, "{device} is in pairing mode, pairing…"),
        }
    }
}

/// The result of a pairing.
#[derive(Debug, Clone, Serialize)]
pub struct PairSummary {
    pub address: DeviceAddress,
    pub name: String,
    pub kind: ProductType,
    pub nuki_id: String,
    pub authorization_id: u32,
    pub paired_as: &'static str,
    pub app_id: u32,
}

impl std::fmt::Display for PairSummary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "paired with {} ({}, {}, Nuki ID {}) as {}: authorization id {}",
            self.name, self.address, self.kind, self.nuki_id, self.paired_as, self.authorization_id
        )
    }
}

/// A device named on the command line.
#[derive(Debug, Clone)]
pub struct DeviceRef {
    pub address: DeviceAddress,
    pub name: String,
}

/// Finds a device by address or name, in the simulated building and in the store.
pub fn resolve_device(config: &Config, store: &Store, text: &str) -> Result<DeviceRef, OpsError> {
    if let Some(device) = config.find_sim_device(text) {
        return Ok(DeviceRef {
            address: DeviceAddress(device.address.clone()),
            name: device.name.clone(),
        });
    }
    let pairings = store.pairings()?;
    let found = pairings.iter().find(|p| {
        p.address.0.eq_ignore_ascii_case(text) || p.device_name.eq_ignore_ascii_case(text)
    });
    if let Some(pairing) = found {
        return Ok(DeviceRef {
            address: pairing.address.clone(),
            name: pairing.device_name.clone(),
        });
    }
    if looks_like_mac(text) {
        return Ok(DeviceRef {
            address: DeviceAddress(text.to_ascii_uppercase()),
            name: text.to_ascii_uppercase(),
        });
    }
    Err(OpsError::UnknownDevice(text.to_owned()))
}

fn looks_like_mac(text: &str) -> bool {
    let parts: Vec<&str> = text.split(':').collect();
    parts.len() == 6
        && parts
            .iter()
            .all(|p| p.len() == 2 && p.chars().all(|c| c.is_ascii_hexdigit()))
}

/// Waits for the device to enter pairing mode (with a countdown), pairs and stores the key.
pub async fn pair(
    config: &Config,
    device: &str,
    as_bridge: Option<bool>,
    pin: Option<String>,
    progress: &dyn Fn(PairProgress),
    ask_pin: Option<&PinPrompt>,
) -> Result<PairSummary, OpsError> {
    let store = Store::open(&config.store.path)?;
    let target = resolve_device(config, &store, device)?;
    let backend = backend::open(config).await?;
    // The installer knows a simulated device's PIN from the building's config.
    let pin = pin.or_else(|| {
        config
            .find_sim_device(device)
            .map(|d| d.security_pin.value().to_string())
    });
    let prompts = PairPrompts { progress, ask_pin };
    pair_device(config, &store, &backend, &target, as_bridge, pin, prompts).await
}

/// Asks the installer for a device's security PIN (the argument is the device name).
pub type PinPrompt = dyn Fn(&str) -> Option<String>;

/// How pairing talks to the person at the keyboard, if any.
#[derive(Clone, Copy)]
struct PairPrompts<'a> {
    pub progress: &'a dyn Fn(PairProgress),
    /// Asked when a device needs its PIN and none was given; `None` when nobody is there.
    pub ask_pin: Option<&'a PinPrompt>,
}

/// Pairing on an open backend, without a daemon (the daemon pairs through the gateway).
/// `pin_text` is the PIN the installer gave; without it `pairing.security_pin` is tried.
async fn pair_device(
    config: &Config,
    store: &Store,
    backend: &Backend,
    target: &DeviceRef,
    as_bridge: Option<bool>,
    pin_text: Option<String>,
    prompts: PairPrompts<'_>,
) -> Result<PairSummary, OpsError> {
    let advert = wait_for_pairing_mode(config, backend, target, prompts.progress).await?;
    let family = advert.family;
    (prompts.progress)(PairProgress::Pairing {
        device: target.name.clone(),
    });
    let pin_text = match (pin_text, prompts.ask_pin) {
        (None, Some(ask)) if family.pin_is_wide() && config.pairing.security_pin.is_none() => {
            ask(&target.name)
        }
        (given, _) => given,
    };
    let security_pin = match pin_text {
        Some(text) => Some(SecurityPin::parse(&text, family.pin_is_wide())?),
        None => default_pin_for(config.pairing.security_pin.map(|pin| pin.value()), family),
    };
    let id_type = match as_bridge {
        Some(true) => IdType::Bridge,
        Some(false) => IdType::App,
        None => IdType::from_u8(config.pairing.id_type.as_u8()),
    };
    let app_id = match config.pairing.app_id {
        Some(id) => id,
        None => store.app_id_or_insert_with(rand::random)?,
    };
    let request = PairingRequest {
        id_type,
        app_id,
        name: config.pairing.name.clone(),
        security_pin,
    };
    let paired = pair_over_link(
        backend.transport.as_ref(),
        &target.address,
        family,
        request,
        backend::link_timeouts(config),
        &|_step: PairingStep| {},
    )
    .await;
    backend.persist_sim(config);
    let paired = paired.map_err(|error| match error {
        LinkError::Pairing(_) => OpsError::Pairing {
            device: target.name.clone(),
            advice: pairing_advice(&error),
        },
        other => OpsError::Device {
            device: target.name.clone(),
            source: other,
        },
    })?;
    let product = paired.product;
    store.save_pairing(&Pairing {
        address: target.address.clone(),
        nuki_id: advert.nuki_id,
        product,
        device_name: target.name.clone(),
        auth_id: paired.outcome.auth_id,
        app_id,
        id_type: id_type.to_u8(),
        key: paired.outcome.key.clone(),
        security_pin,
        paired_at_unix: SystemClock.now_unix(),
    })?;
    Ok(PairSummary {
        address: target.address.clone(),
        name: target.name.clone(),
        kind: product,
        nuki_id: format!("{:08X}", advert.nuki_id),
        authorization_id: paired.outcome.auth_id,
        paired_as: id_type.name(),
        app_id,
    })
}

async fn wait_for_pairing_mode(
    config: &Config,
    backend: &Backend,
    target: &DeviceRef,
    progress: &dyn Fn(PairProgress),
) -> Result<advert::PairingAdvert, OpsError> {
    let limit = config.ble.pairing_timeout();
    let started = Instant::now();
    let deadline = started + limit;
    let mut pressed = false;
    loop {
        let adverts = backend.transport.scan(PAIRING_POLL).await?;
        let pairing = adverts
            .iter()
            .filter(|heard| heard.address.as_ref() == Some(&target.address))
            .find_map(|heard| read_advertisement(heard).pairing);
        if let Some(pairing) = pairing {
            return Ok(pairing);
        }
        let now = Instant::now();
        if now >= deadline {
            return Err(OpsError::PairingModeTimeout {
                device: target.name.clone(),
                seconds: limit.as_secs(),
            });
        }
        progress(PairProgress::WaitingForButton {
            device: target.name.clone(),
            seconds_left: deadline.saturating_duration_since(now).as_secs(),
        });
        if let Some(sim) = &backend.sim {
            if !pressed && now.duration_since(started) >= SIM_BUTTON_PRESS_DELAY {
                progress(PairProgress::SimulatedButtonPress {
                    device: target.name.clone(),
                });
                sim.press_button(&target.address)
                    .map_err(|error| BleError::Adapter(error.to_string()))?;
                pressed = true;
            }
        }
    }
}

/// Connects to a paired device and opens a client session on it.
pub async fn connect_client(
    config: &Config,
    backend: &Backend,
    pairing: &Pairing,
) -> Result<DeviceClient, LinkError> {
    DeviceClient::connect(
        backend.transport.as_ref(),
        &crate::gateway::credentials_of(pairing),
        backend::link_timeouts(config),
    )
    .await
}

/// Reads the state of, or operates, a paired device; returns the final state as JSON.
pub async fn device_command(
    config: &Config,
    device: &str,
    command: DeviceCommand,
) -> Result<serde_json::Value, OpsError> {
    // A running daemon holds the store and the radio: ask it to do the work.
    let request = ControlRequest {
        command,
        device: device.to_owned(),
    };
    let answer_within = Duration::from_millis(config.bridge.action_deadline_ms);
    match control::request(&control::socket_path(config), &request, answer_within).await? {
        Some(ControlAnswer::Done(value)) => return Ok(value),
        Some(ControlAnswer::BadRequest(message)) => {
            return Err(OpsError::DaemonBadRequest(message))
        }
        Some(ControlAnswer::Failed(message)) => return Err(OpsError::DaemonFailed(message)),
        None => {}
    }
    let store = Store::open(&config.store.path)?;
    let target = resolve_device(config, &store, device)?;
    let pairing = store
        .pairing(&target.address)?
        .ok_or_else(|| OpsError::NotPaired(target.name.clone()))?;
    let backend = backend::open(config).await?;
    let device_error = |source: LinkError| OpsError::Device {
        device: target.name.clone(),
        source,
    };
    let mut client = connect_client(config, &backend, &pairing)
        .await
        .map_err(device_error)?;
    let result = run_command(&mut client, command).await;
    client.close().await;
    backend.persist_sim(config);
    let value = result.map_err(device_error)?;
    Ok(serde_json::json!({
        "device": target.name,
        "address": target.address,
        "product": pairing.product,
        "result": value,
    }))
}

async fn run_command(
    client: &mut DeviceClient,
    command: DeviceCommand,
) -> Result<serde_json::Value, LinkError> {
    let family = client.session().family;
    Ok(match command.action(family) {
        None => serde_json::json!({ "state": client.states().await? }),
        Some(action) => {
            let report = client.act(action).await?;
            serde_json::json!({
                "action": action,
                "accepted": report.accepted,
                "state": report.final_state(),
            })
        }
    })
}

/// Where the daemon looks for the `/auth` window: beside the store, owned by the service.
pub fn auth_window_path(config: &Config) -> std::path::PathBuf {
    let mut path = config.store.path.clone().into_os_string();
    path.push(".auth-window");
    path.into()
}

/// The longest `/auth` window: enough to walk from the gateway to the home-automation system
/// and press "connect", short enough that a forgotten window closes soon.
pub const AUTH_WINDOW_SECONDS: std::ops::RangeInclusive<u64> = 1..=600;

/// Opens (or closes) the window in which `/auth` hands out the Bridge API token.
pub fn bridge_auth_window(config: &Config, open: bool, seconds: u64) -> Result<String, OpsError> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;

    if open && !AUTH_WINDOW_SECONDS.contains(&seconds) {
        return Err(OpsError::AuthWindowTooLong {
            seconds,
            max: *AUTH_WINDOW_SECONDS.end(),
        });
    }
    let path = auth_window_path(config);
    let failed = |error: std::io::Error| OpsError::AuthWindow {
        path: path.display().to_string(),
        reason: error.to_string(),
    };
    let until = if open {
        SystemClock
            .now_unix()
            .saturating_add(i64::try_from(seconds).unwrap_or(i64::MAX))
    } else {
        0
    };
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&path)
        .map_err(failed)?;
    writeln!(file, "{until}").map_err(failed)?;
    Ok(if open {
        format!("/auth hands out the token for the next {seconds} s")
    } else {
        "/auth window closed".to_owned()
    })
}

/// `nuki-edge store check`: verifies the configured store without writing it.
pub fn store_check(config: &Config) -> Result<CheckReport, OpsError> {
    Ok(store::check(&config.store.path)?)
}

/// `nuki-edge store recover`: copies the configured store aside, then repairs it if redb can.
pub fn store_recover(config: &Config) -> Result<RecoverReport, OpsError> {
    Ok(store::recover(&config.store.path)?)
}
