//! The fleet: one task per paired device, one pool of link slots per adapter, one state cache
//! and one event stream. Everything that operates a device goes through here.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use tokio::sync::{broadcast, mpsc, oneshot};
use tokio::time::Instant;

use crate::ble::{Advertisement, BleTransport, DeviceAddress};
use crate::nuki::enums::DeviceAction;
use crate::nuki::messages::KeyturnerStates;

use super::credentials::DeviceCredentials;
use super::link::LinkTimeouts;
use super::outcome::{Failure, Outcome};
use super::read_advertisement;
use super::slots::{LinkSlots, Priority};
use super::task::{Command, DeviceTask, Job, StateCache};

/// Commands queued per device before callers get `Busy` instead of waiting.
pub const DEVICE_QUEUE_DEPTH: usize = 16;
/// Events kept for slow subscribers before they start missing some.
const EVENT_BUFFER: usize = 256;

/// Tuning of the fleet; every value comes from the configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FleetConfig {
    /// Simultaneous BLE links of the adapter.
    pub link_slots: usize,
    /// A battery device's link closes after this long without a command.
    pub idle_disconnect: Duration,
    /// A mains-powered device (a Box) may keep its link this long.
    pub mains_idle_disconnect: Duration,
    pub timeouts: LinkTimeouts,
    /// First wait after a failed connection; doubles per failure, with jitter.
    pub backoff_base: Duration,
    pub backoff_max: Duration,
    /// While a state-changed flag stays raised (nobody paired as Bridge clears it), read the
    /// device again no sooner than this.
    pub stuck_flag_refresh: Duration,
}

impl Default for FleetConfig {
    fn default() -> Self {
        Self {
            link_slots: 3,
            idle_disconnect: Duration::from_secs(2),
            mains_idle_disconnect: Duration::from_secs(60),
            timeouts: LinkTimeouts::default(),
            backoff_base: Duration::from_secs(1),
            backoff_max: Duration::from_secs(300),
            stuck_flag_refresh: Duration::from_secs(60),
        }
    }
}

/// What happens to the fleet's devices, for the event bus.
#[derive(Debug, Clone, PartialEq)]
pub enum FleetEvent {
    StateChanged {
        address: DeviceAddress,
        state: KeyturnerStates,
    },
    Connected {
        address: DeviceAddress,
    },
    Disconnected {
        address: DeviceAddress,
    },
    BatteryCritical {
        address: DeviceAddress,
    },
}

struct DeviceHandle {
    jobs: mpsc::Sender<Job>,
    refresh_queued: Arc<AtomicBool>,
    info: DeviceInfo,
}

/// What the fleet knows about a device without asking it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceInfo {
    pub address: DeviceAddress,
    pub name: String,
    pub nuki_id: u32,
    pub product: crate::nuki::product::ProductType,
}

/// The paired devices and their tasks.
pub struct Fleet {
    transport: Arc<dyn BleTransport>,
    config: FleetConfig,
    slots: LinkSlots,
    devices: RwLock<HashMap<DeviceAddress, DeviceHandle>>,
    cache: StateCache,
    events: broadcast::Sender<FleetEvent>,
    flags: Mutex<HashMap<DeviceAddress, Instant>>,
}

impl Fleet {
    /// Starts a task for every device. Must run inside a tokio runtime.
    pub fn start(
        transport: Arc<dyn BleTransport>,
        config: FleetConfig,
        devices: Vec<DeviceCredentials>,
    ) -> Arc<Self> {
        let (events, _) = broadcast::channel(EVENT_BUFFER);
        let fleet = Arc::new(Self {
            transport,
            slots: LinkSlots::new(config.link_slots),
            config,
            devices: RwLock::new(HashMap::new()),
            cache: Arc::new(RwLock::new(HashMap::new())),
            events,
            flags: Mutex::new(HashMap::new()),
        });
        for credentials in devices {
            fleet.add(credentials);
        }
        fleet
    }

    /// Adds (or replaces, after a new pairing) a device and starts its task.
    pub fn add(&self, credentials: DeviceCredentials) {
        let (jobs, receiver) = mpsc::channel(DEVICE_QUEUE_DEPTH);
        let refresh_queued = Arc::new(AtomicBool::new(false));
        let address = credentials.address.clone();
        let info = DeviceInfo {
            address: address.clone(),
            name: credentials.name.clone(),
            nuki_id: credentials.nuki_id,
            product: credentials.product,
        };
        let task = DeviceTask::new(
            credentials,
            self.transport.clone(),
            self.slots.clone(),
            self.config,
            receiver,
            self.events.clone(),
            self.cache.clone(),
            refresh_queued.clone(),
        );
        tokio::spawn(task.run());
        // Replacing the handle drops the old sender; the old task ends after its queue.
        write(&self.devices).insert(
            address,
            DeviceHandle {
                jobs,
                refresh_queued,
                info,
            },
        );
    }

    pub fn subscribe(&self) -> broadcast::Receiver<FleetEvent> {
        self.events.subscribe()
    }

    pub fn slots(&self) -> &LinkSlots {
        &self.slots
    }

    /// The last state each device reported (no radio traffic).
    pub fn cached_state(&self, address: &DeviceAddress) -> Option<KeyturnerStates> {
        read(&self.cache).get(address).cloned()
    }

    pub fn addresses(&self) -> Vec<DeviceAddress> {
        read(&self.devices).keys().cloned().collect()
    }

    pub fn name(&self, address: &DeviceAddress) -> Option<String> {
        read(&self.devices)
            .get(address)
            .map(|d| d.info.name.clone())
    }

    /// Every device, sorted by address.
    pub fn devices(&self) -> Vec<DeviceInfo> {
        let mut devices: Vec<DeviceInfo> = read(&self.devices)
            .values()
            .map(|d| d.info.clone())
            .collect();
        devices.sort_by(|a, b| a.address.cmp(&b.address));
        devices
    }

    /// Operates a device for a waiting user; ends within `deadline`.
    pub async fn act(
        &self,
        address: &DeviceAddress,
        action: DeviceAction,
        deadline: Duration,
    ) -> Outcome {
        self.submit(address, Command::Act(action), Priority::User, deadline)
            .await
    }

    /// Reads a device's state over the radio for a waiting user.
    pub async fn read_state(&self, address: &DeviceAddress, deadline: Duration) -> Outcome {
        self.submit(address, Command::ReadState, Priority::User, deadline)
            .await
    }

    async fn submit(
        &self,
        address: &DeviceAddress,
        command: Command,
        priority: Priority,
        deadline: Duration,
    ) -> Outcome {
        let deadline = Instant::now() + deadline;
        let (reply, answer) = oneshot::channel();
        let job = Job {
            command,
            priority,
            deadline,
            reply: Some(reply),
        };
        let sender = read(&self.devices)
            .get(address)
            .map(|d| d.jobs.clone())
            .ok_or(Failure::UnknownDevice)?;
        match sender.try_send(job) {
            Ok(()) => {}
            Err(mpsc::error::TrySendError::Full(_)) => return Err(Failure::Busy),
            Err(mpsc::error::TrySendError::Closed(_)) => return Err(Failure::ShuttingDown),
        }
        match tokio::time::timeout_at(deadline, answer).await {
            Ok(Ok(outcome)) => outcome,
            Ok(Err(_)) => Err(Failure::ShuttingDown),
            Err(_) => Err(Failure::TimedOut),
        }
    }

    /// Queues a background state read unless one is already queued for the device.
    pub fn request_refresh(&self, address: &DeviceAddress) {
        let devices = read(&self.devices);
        let Some(device) = devices.get(address) else {
            return;
        };
        if device.refresh_queued.swap(true, Ordering::SeqCst) {
            return;
        }
        let job = Job {
            command: Command::ReadState,
            priority: Priority::Background,
            deadline: Instant::now() + self.config.timeouts.connect + self.config.timeouts.command,
            reply: None,
        };
        if device.jobs.try_send(job).is_err() {
            device.refresh_queued.store(false, Ordering::SeqCst);
        }
    }

    /// Reacts to an advertisement: a raised state-changed flag of a paired device is worth a
    /// read on its rising edge, and after that only now and then while it stays raised.
    pub fn on_advertisement(&self, heard: &Advertisement) {
        let Some(address) = &heard.address else {
            return;
        };
        if !read(&self.devices).contains_key(address) {
            return;
        }
        let Some(beacon) = read_advertisement(heard).beacon else {
            return;
        };
        let now = Instant::now();
        let refresh = {
            let mut flags = self.flags.lock().unwrap_or_else(|p| p.into_inner());
            if !beacon.state_changed {
                flags.remove(address);
                false
            } else {
                match flags.get(address) {
                    Some(last) if now.duration_since(*last) < self.config.stuck_flag_refresh => {
                        false
                    }
                    _ => {
                        flags.insert(address.clone(), now);
                        true
                    }
                }
            }
        };
        if refresh {
            self.request_refresh(address);
        }
    }

    /// Refreshes every device in the background (the slow safety net).
    pub fn refresh_all(&self) {
        for address in self.addresses() {
            self.request_refresh(&address);
        }
    }
}

fn read<T>(lock: &RwLock<T>) -> std::sync::RwLockReadGuard<'_, T> {
    lock.read().unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn write<T>(lock: &RwLock<T>) -> std::sync::RwLockWriteGuard<'_, T> {
    lock.write()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}
