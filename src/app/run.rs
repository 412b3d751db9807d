//! The daemon: pairs with the devices it should know, keeps their pairings in the store and
//! follows their states, refreshing a device when its advertisement's state-changed flag is set.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rand::Rng;

use crate::ble::{Advertisement, DeviceAddress};
use crate::config::Config;
use crate::devices::read_advertisement;
use crate::nuki::messages::KeyturnerStates;
use crate::store::{Pairing, Store};

use super::backend::{self, Backend};
use super::ops::{self, DeviceRef, OpsError};
use super::shutdown;

/// Slow safety refresh of every paired device, in case a flag was missed.
const SAFETY_REFRESH_INTERVAL: Duration = Duration::from_secs(15 * 60);
/// While a state-changed flag stays set (paired as App, no Bridge clears it), read the device
/// again no sooner than this: every connection costs the lock's battery.
const STUCK_FLAG_REFRESH_INTERVAL: Duration = Duration::from_secs(60);

/// Shared daemon state; small enough to live behind one mutex.
#[derive(Default)]
struct Fleet {
    pairings: HashMap<DeviceAddress, Pairing>,
    last_states: HashMap<DeviceAddress, KeyturnerStates>,
    refreshing: HashSet<DeviceAddress>,
    /// Devices whose last advertisement had the state-changed flag set, and when we last
    /// read them because of it.
    flagged_since_read: HashMap<DeviceAddress, tokio::time::Instant>,
}

impl Fleet {
    /// A raised flag is worth a connection on its rising edge, and after that only now and
    /// then while it stays raised.
    fn should_refresh_for_flag(&mut self, address: &DeviceAddress, flag: bool) -> bool {
        let now = tokio::time::Instant::now();
        if !flag {
            self.flagged_since_read.remove(address);
            return false;
        }
        match self.flagged_since_read.get(address) {
            Some(last) if now.duration_since(*last) < STUCK_FLAG_REFRESH_INTERVAL => false,
            _ => {
                self.flagged_since_read.insert(address.clone(), now);
                true
            }
        }
    }
}

pub async fn run(config: Config) -> Result<(), OpsError> {
    let store = Store::open(&config.store.path)?;
    let backend = Arc::new(backend::open(&config).await?);
    tracing::info!(
        name = %config.gateway.name,
        store = %config.store.path.display(),
        backend = %config.ble.backend,
        "nuki-edge starting"
    );
    let fleet = Arc::new(Mutex::new(Fleet::default()));
    for pairing in store.pairings()? {
        lock(&fleet)
            .pairings
            .insert(pairing.address.clone(), pairing);
    }
    let config = Arc::new(config);
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
    let known: Vec<DeviceAddress> = lock(&fleet).pairings.keys().cloned().collect();
    tracing::info!(
        devices = known.len(),
        "paired devices loaded; reading their states"
    );
    for address in known {
        spawn_refresh(&config, &backend, &fleet, address);
    }
    if let Some(sim) = backend.sim.clone() {
        spawn_simulated_residents(&config, sim);
    }

    let mut safety = tokio::time::interval(SAFETY_REFRESH_INTERVAL);
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
            _ = safety.tick() => {
                let known: Vec<DeviceAddress> = lock(&fleet).pairings.keys().cloned().collect();
                for address in known {
                    spawn_refresh(&config, &backend, &fleet, address);
                }
            }
        }
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

fn lock(fleet: &Mutex<Fleet>) -> std::sync::MutexGuard<'_, Fleet> {
    fleet
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// With `pairing.auto_pair`, pairs every simulated device of the config that is not paired yet.
/// Real devices are paired when they advertise pairing mode (see [`on_advert`]).
async fn pair_configured_devices(
    config: &Config,
    store: &Store,
    backend: &Backend,
    fleet: &Mutex<Fleet>,
) {
    if !config.pairing.auto_pair || backend.sim.is_none() {
        return;
    }
    for device in &config.sim.devices {
        let target = DeviceRef {
            address: DeviceAddress(device.address.clone()),
            name: device.name.clone(),
        };
        if lock(fleet).pairings.contains_key(&target.address) {
            continue;
        }
        let pin = Some(device.security_pin.to_string());
        pair_and_remember(config, store, backend, fleet, &target, pin).await;
    }
}

async fn pair_and_remember(
    config: &Config,
    store: &Store,
    backend: &Backend,
    fleet: &Mutex<Fleet>,
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
            tracing::info!(device = %summary.name, address = %summary.address, auth_id = summary.authorization_id, "paired");
            if let Ok(Some(pairing)) = store.pairing(&target.address) {
                lock(fleet).pairings.insert(target.address.clone(), pairing);
            }
        }
        Err(error) => tracing::warn!(device = %target.name, %error, "pairing failed"),
    }
}

async fn on_advert(
    config: &Arc<Config>,
    store: &Store,
    backend: &Arc<Backend>,
    fleet: &Arc<Mutex<Fleet>>,
    advert: &Advertisement,
) {
    let Some(address) = advert.address.clone() else {
        return;
    };
    let summary = read_advertisement(advert);
    let paired = lock(fleet).pairings.contains_key(&address);
    if paired {
        let Some(beacon) = summary.beacon else {
            return;
        };
        if lock(fleet).should_refresh_for_flag(&address, beacon.state_changed) {
            spawn_refresh(config, backend, fleet, address);
        }
        return;
    }
    let in_pairing_mode = summary.pairing.is_some();
    if in_pairing_mode && config.pairing.auto_pair {
        let name = advert
            .local_name
            .clone()
            .unwrap_or_else(|| address.to_string());
        let target = DeviceRef { address, name };
        pair_and_remember(config, store, backend, fleet, &target, None).await;
    }
}

/// Reads a device's state in the background; at most one refresh per device at a time.
fn spawn_refresh(
    config: &Arc<Config>,
    backend: &Arc<Backend>,
    fleet: &Arc<Mutex<Fleet>>,
    address: DeviceAddress,
) {
    let pairing = {
        let mut fleet = lock(fleet);
        let Some(pairing) = fleet.pairings.get(&address).cloned() else {
            return;
        };
        if !fleet.refreshing.insert(address.clone()) {
            return;
        }
        pairing
    };
    let (config, backend, fleet) = (config.clone(), backend.clone(), fleet.clone());
    tokio::spawn(async move {
        let result = async {
            let mut client = ops::connect_client(&config, &backend, &pairing).await?;
            let states = client.states().await;
            client.close().await;
            states
        }
        .await;
        let mut fleet = lock(&fleet);
        fleet.refreshing.remove(&address);
        match result {
            Ok(states) => {
                let previous = fleet.last_states.insert(address.clone(), states.clone());
                if previous.as_ref().map(|p| p.lock_state) != Some(states.lock_state) {
                    tracing::info!(
                        device = %pairing.device_name,
                        lock_state = states.lock_state.name(),
                        trigger = states.trigger.name(),
                        battery_critical = states.battery_critical(),
                        "state changed"
                    );
                }
            }
            Err(error) => {
                tracing::warn!(device = %pairing.device_name, %error, "could not read the state")
            }
        }
    });
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
