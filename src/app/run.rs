//! The daemon: wires the store, the radio, the fleet, the gateway and the interfaces together
//! under one supervisor, and winds everything down in order on SIGTERM/SIGINT.
//!
//! Pairing runs as a gateway operation beside everything else; the main task only waits for a
//! stop signal or for a core task to fail.

use std::sync::Arc;
use std::time::Duration;

use rand::Rng;
use tokio::sync::{broadcast, mpsc};
use tokio_util::sync::CancellationToken;

use crate::ble::{Advertisement, DeviceAddress};
use crate::clock::SystemClock;
use crate::config::Config;
use crate::devices::device_log::LogPosition;
use crate::devices::fleet::Fleet;
use crate::events::{EventLog, EventSettings, Recorder};
use crate::gateway::{
    credentials_of, Gateway, GatewayEvent, GatewaySettings, PairingOrder, PairingProgress,
    PairingSettings, Principal,
};
use crate::http::listener::{self, ListenerLimits};
use crate::http::{api, metrics, router};
use crate::nuki::enums::IdType;
use crate::store::Store;

use super::backend::{self, Backend};
use super::control;
use super::ops::OpsError;
use super::settings_writer::SettingsWriter;
use super::shutdown::{ShutdownSignal, ShutdownSignals};
use super::supervisor::{CoreTaskEnded, Supervisor};
use super::systemd::{self, Notifier, ProbeReceiver};

/// How long the demo's installer waits for one simulated device to be paired after pressing
/// its button, beyond the pairing timeout itself.
const SIM_PAIRING_MARGIN: Duration = Duration::from_secs(10);
/// The share of the shutdown time that tasks and device links get.
const WIND_DOWN_SHARE: f64 = 0.8;
/// How long the last queued settings may take to be written at exit.
const SETTINGS_FLUSH_LIMIT: Duration = Duration::from_secs(2);

/// Why the daemon stopped.
#[derive(Debug)]
pub enum Stopped {
    Asked(ShutdownSignal),
    CoreTaskEnded(CoreTaskEnded),
}

pub async fn run(config: Config) -> Result<(), OpsError> {
    // Registered first: a stop request during start-up must still wind down cleanly.
    let mut signals = ShutdownSignals::register()
        .map_err(|error| OpsError::Http(format!("cannot register the stop signals: {error}")))?;
    let notifier = Notifier;
    let store = Arc::new(Store::open(&config.store.path)?);
    let backend = Arc::new(backend::open(&config).await?);
    tracing::info!(
        name = %config.gateway.name,
        store = %config.store.path.display(),
        backend = %config.ble.backend,
        link_slots = config.fleet.link_slots,
        "nuki-edge starting"
    );
    let mut supervisor = Supervisor::new();
    let token = supervisor.shutdown_token();
    let known: Vec<_> = store.pairings()?.iter().map(credentials_of).collect();
    let addresses: Vec<DeviceAddress> = known.iter().map(|device| device.address.clone()).collect();
    let fleet = Fleet::start(
        backend.transport.clone(),
        backend::fleet_config(&config, &backend.radios),
        known,
    );
    let event_log = EventLog::open(store.clone(), event_settings(&config))?;
    resume_device_logs(&fleet, &event_log, &addresses);
    let gateway = Gateway::new(
        fleet,
        store.clone(),
        SystemClock::shared(),
        gateway_settings(&config),
    );
    // Opened before anything is recorded: a first start delivers from here on, a restart
    // from the saved cursor (what was stored while the gateway was down included).
    let mqtt_outbox = super::mqtt::open_outbox(&config, &event_log)?;
    // Created before anything can act, so the log misses nothing the gateway reports.
    let recorder = Recorder::new(event_log.clone(), gateway.clone());
    supervisor.spawn_core("activity log recorder", recorder.run(token.clone()));
    supervisor.spawn(log_events(
        gateway.clone(),
        backend.clone(),
        config.clone(),
        token.clone(),
    ));

    let (settings, settings_flushed) = SettingsWriter::start(store.clone(), token.clone());
    let bridge = super::bridge::start(
        &config,
        &store,
        gateway.clone(),
        settings,
        event_log.clone(),
    )
    .await?;
    let limits = ListenerLimits {
        max_connections: config.http.max_connections,
        ..ListenerLimits::default()
    };
    let drain = wind_down_limit(&config);
    let http_address = bridge.listener.local_addr().ok();
    let metrics = metrics::router(
        config
            .http
            .metrics_token
            .as_ref()
            .map(|token| token.expose()),
        config.store.path.clone(),
    );
    supervisor.spawn_core(
        "HTTP listener",
        listener::serve(
            bridge.listener,
            router::compose(
                [
                    bridge.router,
                    api::router_with_events(gateway.clone(), event_log.clone()),
                    metrics,
                ],
                router::request_timeout(Duration::from_millis(config.bridge.action_deadline_ms)),
            ),
            limits,
            token.clone(),
            drain,
        ),
    );
    let control_path = control::socket_path(&config);
    let control_listener = control::bind(&control_path)
        .await
        .map_err(|error| OpsError::Http(error.to_string()))?;
    supervisor.spawn_core(
        "control socket",
        control::serve(
            control_listener,
            control_path.clone(),
            gateway.clone(),
            backend.sim.clone(),
            token.clone(),
        ),
    );
    let adverts = backend.transport.advertisements().await?;
    let (probes, probe_receiver) = systemd::liveness();
    supervisor.spawn_core(
        "advertisement watcher",
        watch_advertisements(
            CoreLoop {
                adverts,
                probes: probe_receiver,
                stall_after: simulated_stall(&config),
            },
            gateway.clone(),
            Arc::new(config.clone()),
            token.clone(),
        ),
    );
    if let Some((handle, task)) = super::mqtt::start(&config, gateway.clone(), token.clone())? {
        supervisor.spawn_core("MQTT", task);
        if let Some(outbox) = mqtt_outbox {
            supervisor.spawn(crate::mqtt::delivery::deliver(
                handle,
                event_log.clone(),
                outbox,
                token.clone(),
            ));
        }
    }
    supervisor.spawn(safety_refresh(
        gateway.clone(),
        config.fleet.safety_refresh(),
        token.clone(),
    ));
    if let Some(sim) = backend.sim.clone() {
        if config.pairing.auto_pair {
            supervisor.spawn(press_buttons_of_unpaired_sim_devices(
                config.clone(),
                gateway.clone(),
                sim.clone(),
                token.clone(),
            ));
        }
        let interval = Duration::from_secs(config.sim.activity_interval_s);
        let addresses = config
            .sim
            .devices
            .iter()
            .map(|d| DeviceAddress(d.address.clone()))
            .collect();
        supervisor.spawn(simulated_residents(interval, addresses, sim, token.clone()));
    }
    gateway.refresh_all();
    let devices = gateway.devices(&Principal::Local).len();
    tracing::info!(devices, "paired devices loaded; reading their states");
    if notifier.is_active() {
        announce_ready(notifier, http_address, &control_path, devices).await;
        if let Some(watchdog) = systemd::watchdog_interval() {
            supervisor.spawn(systemd::heartbeat(
                notifier,
                probes,
                watchdog,
                token.clone(),
            ));
        }
    }

    let stopped = tokio::select! {
        signal = signals.recv() => Stopped::Asked(signal),
        ended = supervisor.core_task_ended() => Stopped::CoreTaskEnded(ended),
    };
    notifier.stopping("shutting down");
    match &stopped {
        Stopped::Asked(signal) => tracing::info!(%signal, "shutting down"),
        Stopped::CoreTaskEnded(ended) => {
            tracing::error!(%ended, "a core task ended; shutting down so that systemd restarts the daemon")
        }
    }
    shut_down(&config, &supervisor, &gateway, &backend).await;
    if tokio::time::timeout(SETTINGS_FLUSH_LIMIT, settings_flushed)
        .await
        .is_err()
    {
        tracing::warn!("settings still being written at exit");
    }
    match stopped {
        Stopped::Asked(_) => {
            tracing::info!("stopped");
            Ok(())
        }
        Stopped::CoreTaskEnded(ended) => Err(OpsError::CoreTask(ended)),
    }
}

/// READY=1 once the HTTP listener and the control socket accept connections (the store is
/// open and the fleet started before this is reached), with the address in the status line.
async fn announce_ready(
    notifier: Notifier,
    http: Option<std::net::SocketAddr>,
    control: &std::path::Path,
    devices: usize,
) {
    let Some(http) = http else {
        tracing::warn!("the HTTP listener has no address; READY not sent");
        return;
    };
    if !systemd::listeners_accept(http, control).await {
        tracing::warn!("the listeners do not accept connections; READY not sent");
        return;
    }
    notifier.ready(&format!("serving on {http}; {devices} paired devices"));
}

/// The `[sim]` fault injection that stops the core loop, as a hung gateway would.
fn simulated_stall(config: &Config) -> Option<Duration> {
    (config.ble.backend == crate::config::BleBackend::Sim)
        .then_some(config.sim.stall_core_after_s)
        .flatten()
        .map(Duration::from_secs)
}

/// What the core loop listens to: the radio's advertisements and the watchdog's liveness
/// questions (answered only while the loop turns).
struct CoreLoop {
    adverts: mpsc::Receiver<Advertisement>,
    probes: ProbeReceiver,
    stall_after: Option<Duration>,
}

/// Stops accepting requests, lets running commands finish within the fleet's grace period,
/// closes every BLE link and joins every task, all within `gateway.shutdown_timeout_s`.
async fn shut_down(config: &Config, supervisor: &Supervisor, gateway: &Gateway, backend: &Backend) {
    let limit = wind_down_limit(config);
    let (tasks_ended, devices_ended) =
        tokio::join!(supervisor.stop(limit), gateway.shutdown(limit));
    if !(tasks_ended && devices_ended) {
        tracing::warn!("not everything ended within gateway.shutdown_timeout_s");
    }
    backend.persist_sim(config);
}

/// How long tasks and devices may take to wind down; the rest of `gateway.shutdown_timeout_s`
/// is for saving the simulated devices' memory and the last settings.
fn wind_down_limit(config: &Config) -> Duration {
    config.gateway.shutdown_timeout().mul_f64(WIND_DOWN_SHARE)
}

fn event_settings(config: &Config) -> EventSettings {
    EventSettings {
        max_entries: config.events.max_entries,
        max_age_days: config.events.max_age_days,
    }
}

fn gateway_settings(config: &Config) -> GatewaySettings {
    GatewaySettings {
        action_deadline: Duration::from_millis(config.bridge.action_deadline_ms),
        pairing: PairingSettings {
            name: config.pairing.name.clone(),
            id_type: IdType::from_u8(config.pairing.id_type.as_u8()),
            app_id: config.pairing.app_id,
            default_pin: config.pairing.security_pin.map(|pin| pin.value()),
            wait_for_button: config.ble.pairing_timeout(),
            deadline: config.ble.connect_timeout() + config.ble.command_timeout() * 4,
        },
        // Checked by the config's validation; UTC is only the type's fallback.
        time_zone: jiff::tz::TimeZone::get(&config.gateway.time_zone)
            .unwrap_or(jiff::tz::TimeZone::UTC),
        provisioning: Default::default(),
    }
}

/// Hands every advertisement to the gateway; with `pairing.auto_pair`, starts pairing every
/// unknown device heard in pairing mode. Ends (a core task failure) if the radio's feed ends.
async fn watch_advertisements(
    core: CoreLoop,
    gateway: Arc<Gateway>,
    config: Arc<Config>,
    shutdown: CancellationToken,
) -> Result<(), OpsError> {
    let CoreLoop {
        mut adverts,
        mut probes,
        stall_after,
    } = core;
    let stall = async move {
        match stall_after {
            Some(after) => tokio::time::sleep(after).await,
            None => std::future::pending().await,
        }
    };
    tokio::pin!(stall);
    loop {
        let advert = tokio::select! {
            () = shutdown.cancelled() => return Ok(()),
            () = &mut stall => {
                tracing::warn!("sim.stall_core_after_s: the core loop stops turning");
                Notifier.status("simulated core stall (sim.stall_core_after_s)");
                shutdown.cancelled().await;
                return Ok(());
            }
            answer = probes.next() => {
                // Reading the fleet's device table proves its locks are free too.
                let _ = gateway.devices(&Principal::Local).len();
                let _ = answer.send(());
                continue;
            }
            advert = adverts.recv() => advert,
        };
        let Some(advert) = advert else {
            return Err(OpsError::Ble(crate::ble::BleError::Adapter(
                "the advertisement feed ended".into(),
            )));
        };
        let in_pairing_mode = gateway.on_advertisement(&advert).is_some();
        let Some(address) = advert.address.clone() else {
            continue;
        };
        if !config.pairing.auto_pair || !in_pairing_mode {
            continue;
        }
        let sim_device = config.find_sim_device(&address.0);
        let name = sim_device
            .map(|d| d.name.clone())
            .or_else(|| advert.local_name.clone())
            .unwrap_or_else(|| address.to_string());
        let order = PairingOrder {
            address,
            name,
            // The installer knows a simulated device's PIN from the building's config.
            security_pin: sim_device.map(|d| d.security_pin.value().to_string()),
            as_bridge: None,
        };
        // A pairing already running for this device is fine: it heard the same advert.
        let _ = gateway.start_pairing(&Principal::Local, order);
    }
}

async fn safety_refresh(gateway: Arc<Gateway>, every: Duration, shutdown: CancellationToken) {
    let mut safety = tokio::time::interval(every);
    safety.tick().await;
    loop {
        tokio::select! {
            () = shutdown.cancelled() => return,
            _ = safety.tick() => gateway.refresh_all(),
        }
    }
}

/// The demo's installer: presses the button of each simulated device not paired yet, one
/// after another, and waits for the gateway to pair it (the advertisement watcher starts the
/// pairing when it hears pairing mode).
async fn press_buttons_of_unpaired_sim_devices(
    config: Config,
    gateway: Arc<Gateway>,
    sim: crate::ble::sim::SimControl,
    shutdown: CancellationToken,
) {
    let limit = config.ble.pairing_timeout() + SIM_PAIRING_MARGIN;
    for device in &config.sim.devices {
        let address = DeviceAddress(device.address.clone());
        if gateway.is_paired(&address) {
            continue;
        }
        let mut events = gateway.subscribe();
        if let Err(error) = sim.press_button(&address) {
            tracing::warn!(device = %device.name, %error, "cannot press the simulated button");
            continue;
        }
        let finished = wait_for_pairing_end(&mut events, &address);
        tokio::select! {
            () = shutdown.cancelled() => return,
            ended = tokio::time::timeout(limit, finished) => {
                if ended.is_err() {
                    tracing::warn!(device = %device.name, "simulated device was not paired in time");
                }
            }
        }
    }
}

async fn wait_for_pairing_end(
    events: &mut broadcast::Receiver<GatewayEvent>,
    address: &DeviceAddress,
) {
    loop {
        match events.recv().await {
            Ok(GatewayEvent::Pairing {
                device,
                progress: PairingProgress::Done { .. } | PairingProgress::Failed { .. },
            }) if &device == address => return,
            Ok(_) | Err(broadcast::error::RecvError::Lagged(_)) => {}
            Err(broadcast::error::RecvError::Closed) => return,
        }
    }
}

/// Logs what happens to the devices (the interfaces hang off the same bus), and saves the
/// simulated devices' memory after each pairing, as a real device keeps its new key in flash.
async fn log_events(
    gateway: Arc<Gateway>,
    backend: Arc<Backend>,
    config: Config,
    shutdown: CancellationToken,
) {
    let mut events = gateway.subscribe();
    let name = |device: &DeviceAddress| {
        gateway
            .devices(&Principal::Local)
            .into_iter()
            .find(|view| &view.address == device)
            .map_or_else(|| device.to_string(), |view| view.name)
    };
    loop {
        let event = tokio::select! {
            () = shutdown.cancelled() => return,
            event = events.recv() => event,
        };
        match event {
            Ok(GatewayEvent::StateChanged { device, state }) => tracing::info!(
                device = %name(&device),
                lock_state = state.lock_state.name(),
                trigger = state.trigger.name(),
                battery_critical = state.battery_critical(),
                "state changed"
            ),
            Ok(GatewayEvent::BatteryCritical { device }) => {
                tracing::warn!(device = %name(&device), "battery critical")
            }
            Ok(GatewayEvent::DeviceConnected { device }) => {
                tracing::debug!(device = %device, "connected")
            }
            Ok(GatewayEvent::DeviceDisconnected { device }) => {
                tracing::debug!(device = %device, "disconnected")
            }
            Ok(GatewayEvent::DeviceAdded { device }) => {
                tracing::info!(device = %name(&device), "device added to the fleet")
            }
            Ok(GatewayEvent::DeviceRemoved { device }) => {
                tracing::info!(device = %device, "device removed from the fleet")
            }
            Ok(GatewayEvent::Pairing { device, progress }) => {
                if matches!(progress, PairingProgress::Done { .. }) {
                    let (backend, config) = (backend.clone(), config.clone());
                    let _ = tokio::task::spawn_blocking(move || backend.persist_sim(&config)).await;
                }
                tracing::info!(device = %device, "{progress}")
            }
            // Entries name who acted: only their count is logged, never their content.
            Ok(GatewayEvent::DeviceLogEntries { device, entries }) => {
                tracing::debug!(device = %device, entries = entries.len(), "device log read")
            }
            // Recorded (anonymized) by the activity log; nothing about who is logged here.
            Ok(
                GatewayEvent::ActionRequested { .. }
                | GatewayEvent::ActionFinished { .. }
                | GatewayEvent::PermissionChanged { .. }
                | GatewayEvent::ProvisioningResult { .. },
            ) => {}
            Err(broadcast::error::RecvError::Lagged(missed)) => {
                tracing::warn!(missed, "event log fell behind")
            }
            Err(broadcast::error::RecvError::Closed) => return,
        }
    }
}

/// Each device's log is read on from the newest entry the activity log holds, at once, so
/// what happened while the gateway was off is in the log without waiting for the schedule.
fn resume_device_logs(fleet: &Fleet, event_log: &EventLog, addresses: &[DeviceAddress]) {
    for address in addresses {
        match event_log.device_log_position(address) {
            Ok(Some((index, timestamp))) => {
                fleet.resume_log(address, LogPosition { index, timestamp });
            }
            Ok(None) => {}
            Err(error) => {
                tracing::warn!(device = %address, %error, "could not read where this device's log was left; reading all it holds");
            }
        }
        fleet.request_log_read(address);
    }
}

/// The demo's residents: now and then somebody turns a knob or opens a door by hand.
async fn simulated_residents(
    interval: Duration,
    addresses: Vec<DeviceAddress>,
    sim: crate::ble::sim::SimControl,
    shutdown: CancellationToken,
) {
    if interval.is_zero() {
        return;
    }
    let mut ticker = tokio::time::interval(interval);
    ticker.tick().await;
    loop {
        tokio::select! {
            () = shutdown.cancelled() => return,
            _ = ticker.tick() => {}
        }
        let (index, action) = {
            let mut rng = rand::thread_rng();
            (
                rng.gen_range(0..addresses.len().max(1)),
                rng.gen_range(1..=2u8),
            )
        };
        if let Some(address) = addresses.get(index) {
            if let Err(error) = sim.manual_action(address, action) {
                tracing::debug!(device = %address, %error, "simulated resident could not act");
            }
        }
    }
}
