//! The daemon: pairs with the devices it should know, keeps their pairings in the store and
//! follows their states through the fleet, which reads a device when its advertisement's
//! state-changed flag rises (plus a slow safety refresh).

use std::sync::Arc;
use std::time::Duration;

use rand::Rng;
use tokio::sync::broadcast;

use crate::ble::{Advertisement, DeviceAddress};
use crate::config::Config;
use crate::devices::fleet::{Fleet, FleetEvent};
use crate::devices::read_advertisement;
use crate::gateway::Gateway;
use crate::store::Store;

use super::backend::{self, Backend};
use super::ops::{self, DeviceRef, OpsError};
use super::shutdown;

pub async fn run(config: Config) -> Result<(), OpsError> {
    let store = Arc::new(Store::open(&config.store.path)?);
    let backend = Arc::new(backend::open(&config).await?);
    tracing::info!(
        name = %config.gateway.name,
        store = %config.store.path.display(),
        backend = %config.ble.backend,
        link_slots = config.fleet.link_slots,
        "nuki-edge starting"
    );
    let known = store.pairings()?.iter().map(backend::credentials).collect();
    let fleet = Fleet::start(
        backend.transport.clone(),
        backend::fleet_config(&config),
        known,
    );
    tokio::spawn(log_events(fleet.clone(), fleet.subscribe()));
    let gateway = Gateway::new(
        fleet.clone(),
        Duration::from_millis(config.bridge.action_deadline_ms),
    );
    let (stop_http, http_stopped) = tokio::sync::watch::channel(false);
    let http = super::bridge::start(&config, &store, gateway, http_stopped).await?;
    let mut adverts = backend.transport.advertisements().await?;
    let shutdown = shutdown::shutdown_signal();
    tokio::pin!(shutdown);

    // A stop request during the first pairings must still end the daemon cleanly.
    tokio::select! {
        signal = &mut shutdown => {
            log_shutdown(signal);
            backend.persist_sim(&config);
            return Ok(());
        }
        () = pair_configured_devices(&config, &store, &backend, &fleet) => {}
    }
    tracing::info!(
        devices = fleet.addresses().len(),
        "paired devices loaded; reading their states"
    );
    fleet.refresh_all();
    if let Some(sim) = backend.sim.clone() {
        spawn_simulated_residents(&config, sim);
    }

    let mut safety = tokio::time::interval(config.fleet.safety_refresh());
    safety.tick().await;
    loop {
        tokio::select! {
            signal = &mut shutdown => {
                log_shutdown(signal);
                break;
            }
            advert = adverts.recv() => match advert {
                Some(advert) => on_advert(&config, &store, &backend, &fleet, &advert).await,
                None => {
                    tracing::error!("the advertisement feed ended; exiting so that systemd restarts us");
                    return Err(OpsError::Ble(crate::ble::BleError::Adapter("advertisement feed ended".into())));
                }
            },
            _ = safety.tick() => fleet.refresh_all(),
        }
    }
    let _ = stop_http.send(true);
    if let Err(error) = http.await {
        tracing::warn!(%error, "HTTP server task ended abnormally");
    }
    backend.persist_sim(&config);
    tracing::info!("stopped");
    Ok(())
}

fn log_shutdown(signal: std::io::Result<shutdown::ShutdownSignal>) {
    match signal {
        Ok(signal) => tracing::info!(?signal, "shutting down"),
        Err(error) => tracing::warn!(%error, "signal handling failed; shutting down"),
    }
}

/// With `pairing.auto_pair`, pairs every simulated device of the config that is not paired yet.
/// Real devices are paired when they advertise pairing mode (see [`on_advert`]).
async fn pair_configured_devices(config: &Config, store: &Store, backend: &Backend, fleet: &Fleet) {
    if !config.pairing.auto_pair || backend.sim.is_none() {
        return;
    }
    for device in &config.sim.devices {
        let target = DeviceRef {
            address: DeviceAddress(device.address.clone()),
            name: device.name.clone(),
        };
        if fleet.name(&target.address).is_some() {
            continue;
        }
        let pin = Some(device.security_pin.value().to_string());
        pair_and_add(config, store, backend, fleet, &target, pin).await;
    }
}

async fn pair_and_add(
    config: &Config,
    store: &Store,
    backend: &Backend,
    fleet: &Fleet,
    target: &DeviceRef,
    pin: Option<String>,
) {
    let progress = |step: ops::PairProgress| tracing::info!("{step}");
    let prompts = ops::PairPrompts {
        progress: &progress,
        ask_pin: None,
    };
    match ops::pair_device(config, store, backend, target, None, pin, prompts).await {
        Ok(summary) => {
            tracing::info!(device = %summary.name, address = %summary.address, product = %summary.kind, auth_id = summary.authorization_id, "paired");
            match store.pairing(&target.address) {
                Ok(Some(pairing)) => fleet.add(backend::credentials(&pairing)),
                Ok(None) => {
                    tracing::error!(device = %target.name, "pairing not found in the store right after saving it")
                }
                Err(error) => {
                    tracing::error!(device = %target.name, %error, "cannot read the new pairing")
                }
            }
        }
        Err(error) => tracing::warn!(device = %target.name, %error, "pairing failed"),
    }
}

async fn on_advert(
    config: &Config,
    store: &Store,
    backend: &Backend,
    fleet: &Fleet,
    advert: &Advertisement,
) {
    let Some(address) = advert.address.clone() else {
        return;
    };
    if fleet.name(&address).is_some() {
        fleet.on_advertisement(advert);
        return;
    }
    if config.pairing.auto_pair && read_advertisement(advert).pairing.is_some() {
        let name = advert
            .local_name
            .clone()
            .unwrap_or_else(|| address.to_string());
        let target = DeviceRef { address, name };
        pair_and_add(config, store, backend, fleet, &target, None).await;
    }
}

/// Logs what happens to the devices; the interfaces of later issues hang off the same events.
async fn log_events(fleet: Arc<Fleet>, mut events: broadcast::Receiver<FleetEvent>) {
    loop {
        match events.recv().await {
            Ok(FleetEvent::StateChanged { address, state }) => tracing::info!(
                device = %fleet.name(&address).unwrap_or_else(|| address.to_string()),
                lock_state = state.lock_state.name(),
                trigger = state.trigger.name(),
                battery_critical = state.battery_critical(),
                "state changed"
            ),
            Ok(FleetEvent::BatteryCritical { address }) => tracing::warn!(
                device = %fleet.name(&address).unwrap_or_else(|| address.to_string()),
                "battery critical"
            ),
            Ok(FleetEvent::Connected { address }) => {
                tracing::debug!(device = %address, "connected")
            }
            Ok(FleetEvent::Disconnected { address }) => {
                tracing::debug!(device = %address, "disconnected")
            }
            Err(broadcast::error::RecvError::Lagged(missed)) => {
                tracing::warn!(missed, "event log fell behind")
            }
            Err(broadcast::error::RecvError::Closed) => break,
        }
    }
}

/// The demo's residents: now and then somebody turns a knob or opens a door by hand.
fn spawn_simulated_residents(config: &Config, sim: crate::ble::sim::SimControl) {
    let interval = Duration::from_secs(config.sim.activity_interval_s);
    if interval.is_zero() {
        return;
    }
    let addresses: Vec<DeviceAddress> = config
        .sim
        .devices
        .iter()
        .map(|d| DeviceAddress(d.address.clone()))
        .collect();
    tokio::spawn(async move {
        let mut ticker = tokio::time::interval(interval);
        ticker.tick().await;
        loop {
            ticker.tick().await;
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
    });
}
