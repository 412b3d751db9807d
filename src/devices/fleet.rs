//! The fleet: one task per paired device, one pool of link slots per adapter, one state cache
//! and one event stream. Everything that operates a device goes through here.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use futures::future::BoxFuture;
use tokio::sync::{broadcast, mpsc, oneshot};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::ble::{Advertisement, BleTransport, DeviceAddress};
use crate::nuki::enums::DeviceAction;
use crate::nuki::messages::KeyturnerStates;

pub use super::events::FleetEvent;
pub use super::tuning::FleetConfig;

use super::client::DeviceClient;
use super::credentials::DeviceCredentials;
use super::device_log::{LogPosition, LogShared};
use super::link::LinkError;
use super::outcome::{Failure, Outcome};
use super::pairing::{pair_over_link, PairedDevice, PairingStep};
use super::read_advertisement;
use super::slots::{LinkSlots, Priority};
use super::task::{
    Command, DeviceTask, Job, Operation, OperationFn, QueueStats, StateCache, TaskContext,
};
use crate::nuki::pairing::PairingRequest;
use crate::nuki::uuids::ServiceFamily;

/// Commands queued per device before callers get `Busy` instead of waiting.
pub const DEVICE_QUEUE_DEPTH: usize = 16;
/// Events kept for slow subscribers before they start missing some.
const EVENT_BUFFER: usize = 256;

struct DeviceHandle {
    jobs: mpsc::Sender<Job>,
    refresh_queued: Arc<AtomicBool>,
    stats: Arc<QueueStats>,
    info: DeviceInfo,
    /// What the task was started with, so a changed security PIN can restart it.
    credentials: DeviceCredentials,
    /// Where the task stands in the device's log; kept when the task is restarted.
    log: Arc<LogShared>,
}

/// The last advertisement heard from a paired device.
#[derive(Debug, Clone, Copy)]
struct Heard {
    at: Instant,
    rssi: Option<i16>,
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
    /// When each paired device was last heard, and how strongly (`nuki-edge doctor`).
    heard: Mutex<HashMap<DeviceAddress, Heard>>,
    /// Every device task, so shutdown can wait for each link to be closed.
    tasks: TaskTracker,
    shutdown: CancellationToken,
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
            heard: Mutex::new(HashMap::new()),
            tasks: TaskTracker::new(),
            shutdown: CancellationToken::new(),
        });
        for credentials in devices {
            fleet.add(credentials);
        }
        fleet
    }

    /// Adds (or replaces, after a new pairing) a device and starts its task.
    pub fn add(&self, credentials: DeviceCredentials) {
        if self.shutdown.is_cancelled() {
            return;
        }
        let (jobs, receiver) = mpsc::channel(DEVICE_QUEUE_DEPTH);
        let refresh_queued = Arc::new(AtomicBool::new(false));
        let stats = Arc::new(QueueStats::default());
        let address = credentials.address.clone();
        let info = DeviceInfo {
            address: address.clone(),
            name: credentials.name.clone(),
            nuki_id: credentials.nuki_id,
            product: credentials.product,
        };
        let context = TaskContext {
            transport: self.transport.clone(),
            slots: self.slots.clone(),
            config: self.config,
            events: self.events.clone(),
            cache: self.cache.clone(),
            shutdown: self.shutdown.clone(),
        };
        // A restarted task (a new PIN, a new pairing) goes on where the old one stood in the
        // log, or it would pass the whole log on again.
        let log = read(&self.devices)
            .get(&address)
            .map_or_else(Arc::default, |old| old.log.clone());
        let task = DeviceTask::new(
            credentials.clone(),
            context,
            receiver,
            refresh_queued.clone(),
            stats.clone(),
            log.clone(),
        );
        self.tasks.spawn(task.run());
        // Replacing the handle drops the old sender; the old task ends after its queue.
        write(&self.devices).insert(
            address.clone(),
            DeviceHandle {
                jobs,
                refresh_queued,
                stats,
                info,
                credentials,
                log,
            },
        );
        let _ = self.events.send(FleetEvent::Added { address });
    }

    /// Drops a device: its task answers what is queued, closes the link and ends.
    pub fn remove(&self, address: &DeviceAddress) -> bool {
        let removed = write(&self.devices).remove(address).is_some();
        if removed {
            write(&self.cache).remove(address);
            let _ = self.events.send(FleetEvent::Removed {
                address: address.clone(),
            });
        }
        removed
    }

    /// Stops every device task: new work is refused, running commands get `grace` to finish,
    /// queued ones are answered `ShuttingDown`, and every link is closed. Returns whether all
    /// tasks ended within `limit`.
    pub async fn shutdown(&self, limit: Duration) -> bool {
        self.shutdown.cancel();
        self.tasks.close();
        let ended = tokio::time::timeout(limit, self.tasks.wait()).await.is_ok();
        if !ended {
            tracing::warn!(
                still_running = self.tasks.len(),
                "device tasks did not end within the shutdown limit"
            );
        }
        ended
    }

    pub fn is_shutting_down(&self) -> bool {
        self.shutdown.is_cancelled()
    }

    pub fn subscribe(&self) -> broadcast::Receiver<FleetEvent> {
        self.events.subscribe()
    }

    pub fn slots(&self) -> &LinkSlots {
        &self.slots
    }

    /// The radios and where each device is routed, when the transport is a set of radios.
    pub fn radios_report(&self) -> Option<crate::ble::radios::RadiosReport> {
        self.transport.radios_report()
    }

    /// The last state each device reported (no radio traffic).
    pub fn cached_state(&self, address: &DeviceAddress) -> Option<KeyturnerStates> {
        read(&self.cache).get(address).cloned()
    }

    pub fn contains(&self, address: &DeviceAddress) -> bool {
        read(&self.devices).contains_key(address)
    }

    pub fn addresses(&self) -> Vec<DeviceAddress> {
        read(&self.devices).keys().cloned().collect()
    }

    /// What the device's task talks to it with (e.g. to restart it with a new security PIN).
    pub fn credentials(&self, address: &DeviceAddress) -> Option<DeviceCredentials> {
        read(&self.devices)
            .get(address)
            .map(|d| d.credentials.clone())
    }

    pub fn name(&self, address: &DeviceAddress) -> Option<String> {
        read(&self.devices)
            .get(address)
            .map(|d| d.info.name.clone())
    }

    /// One paired device, without copying the others.
    pub fn info(&self, address: &DeviceAddress) -> Option<DeviceInfo> {
        read(&self.devices).get(address).map(|d| d.info.clone())
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
        let deadline = Instant::now() + deadline;
        let answer = self.enqueue(address, Command::Act(action), Priority::User, deadline)?;
        answer.outcome().await
    }

    /// Queues an action and returns at once; the outcome arrives through the ticket.
    pub fn start_action(
        &self,
        address: &DeviceAddress,
        action: DeviceAction,
        deadline: Duration,
    ) -> Result<PendingOutcome, Failure> {
        let deadline = Instant::now() + deadline;
        self.enqueue(address, Command::Act(action), Priority::User, deadline)
    }

    /// Queues an action that gives up the device's link once the device accepted it (Bridge
    /// `nowait`); the outcome arrives through the ticket once a state read found the device
    /// at rest again.
    pub fn start_action_releasing_link(
        &self,
        address: &DeviceAddress,
        action: DeviceAction,
        deadline: Duration,
    ) -> Result<PendingOutcome, Failure> {
        let deadline = Instant::now() + deadline;
        self.enqueue(address, Command::Start(action), Priority::User, deadline)
    }

    /// Reads a device's state over the radio for a waiting user.
    pub async fn read_state(&self, address: &DeviceAddress, deadline: Duration) -> Outcome {
        let deadline = Instant::now() + deadline;
        let answer = self.enqueue(address, Command::ReadState, Priority::User, deadline)?;
        answer.outcome().await
    }

    /// Runs any operation on the device's link, with the same slot, priority, deadline and
    /// retry rules as every other command (provisioning, log reads, setting the time, …).
    /// `repeatable`: whether it may run again on a new link after the first one broke.
    pub async fn run<T, F>(
        &self,
        address: &DeviceAddress,
        priority: Priority,
        deadline: Duration,
        name: &'static str,
        repeatable: bool,
        mut operation: F,
    ) -> Result<T, Failure>
    where
        T: Send + 'static,
        F: for<'a> FnMut(&'a mut DeviceClient) -> BoxFuture<'a, Result<T, LinkError>>
            + Send
            + 'static,
    {
        let deadline = Instant::now() + deadline;
        let produced = Arc::new(Mutex::new(None));
        let slot = produced.clone();
        let run: OperationFn = Box::new(move |client| {
            let slot = slot.clone();
            let running = operation(client);
            Box::pin(async move {
                let value = running.await?;
                *slot.lock().unwrap_or_else(|p| p.into_inner()) = Some(value);
                Ok(())
            })
        });
        let command = Command::Run(Operation {
            name,
            repeatable,
            run,
        });
        self.enqueue(address, command, priority, deadline)?
            .outcome()
            .await?;
        let value = produced.lock().unwrap_or_else(|p| p.into_inner()).take();
        value.ok_or(Failure::ShuttingDown)
    }

    /// Pairs with a device in pairing mode on a link slot of the adapter (as a user's work),
    /// so pairing never opens a link beyond the adapter's limit.
    pub async fn pair(
        &self,
        address: &DeviceAddress,
        advertised: ServiceFamily,
        request: PairingRequest,
        deadline: Duration,
        progress: &(dyn Fn(PairingStep) + Send + Sync),
    ) -> Result<PairedDevice, PairFailure> {
        if self.shutdown.is_cancelled() {
            return Err(PairFailure::Fleet(Failure::ShuttingDown));
        }
        let deadline = Instant::now() + deadline;
        let _slot = tokio::time::timeout_at(deadline, self.slots.acquire(Priority::User))
            .await
            .map_err(|_| PairFailure::Fleet(Failure::TimedOut))?;
        let pairing = pair_over_link(
            self.transport.as_ref(),
            address,
            advertised,
            request,
            self.config.timeouts,
            progress,
        );
        tokio::select! {
            result = tokio::time::timeout_at(deadline, pairing) => match result {
                Ok(result) => result.map_err(PairFailure::Link),
                Err(_) => Err(PairFailure::Fleet(Failure::TimedOut)),
            },
            () = self.shutdown.cancelled() => Err(PairFailure::Fleet(Failure::ShuttingDown)),
        }
    }

    fn enqueue(
        &self,
        address: &DeviceAddress,
        command: Command,
        priority: Priority,
        deadline: Instant,
    ) -> Result<PendingOutcome, Failure> {
        if self.shutdown.is_cancelled() {
            return Err(Failure::ShuttingDown);
        }
        let (reply, answer) = oneshot::channel();
        let job = Job {
            command,
            priority,
            deadline,
            reply: Some(reply),
        };
        let devices = read(&self.devices);
        let device = devices.get(address).ok_or(Failure::UnknownDevice)?;
        // A job that cannot start before its deadline is refused now, not after it.
        if device
            .stats
            .cannot_start_within(deadline.saturating_duration_since(Instant::now()))
        {
            return Err(Failure::Busy);
        }
        match device.stats.send(&device.jobs, job) {
            Ok(()) => Ok(PendingOutcome { answer, deadline }),
            Err(mpsc::error::TrySendError::Full(_)) => Err(Failure::Busy),
            Err(mpsc::error::TrySendError::Closed(_)) => Err(Failure::ShuttingDown),
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
        if device.stats.send(&device.jobs, job).is_err() {
            device.refresh_queued.store(false, Ordering::SeqCst);
        }
    }

    /// Continues reading a device's log after `position` (the newest entry passed on before
    /// a restart, as kept by the store). Call at startup, before advertisements are fed in;
    /// false when the device is not in the fleet.
    pub fn resume_log(&self, address: &DeviceAddress, position: LogPosition) -> bool {
        let devices = read(&self.devices);
        let Some(device) = devices.get(address) else {
            return false;
        };
        device.log.set_position(Some(position));
        true
    }

    /// Where the fleet stands in a device's log: the newest entry passed on (or resumed from).
    pub fn log_position(&self, address: &DeviceAddress) -> Option<LogPosition> {
        read(&self.devices)
            .get(address)
            .and_then(|device| device.log.position())
    }

    /// Asks a device's task to read the entries its log gained (in the background, after
    /// queued work). The rising state-changed flag does this by itself.
    pub fn request_log_read(&self, address: &DeviceAddress) {
        if let Some(device) = read(&self.devices).get(address) {
            device.log.requested.notify_one();
        }
    }

    /// Reacts to an advertisement: a raised state-changed flag of a paired device is worth a
    /// read on its rising edge, and after that only now and then while it stays raised.
    pub fn on_advertisement(&self, heard: &Advertisement) {
        let paired = heard.address.as_ref().and_then(|address| {
            read(&self.devices)
                .get(address)
                .map(|h| h.info.name.clone())
        });
        metrics::counter!("nuki_edge_advertisements_total", "paired" => if paired.is_some() { "true" } else { "false" })
            .increment(1);
        let (Some(address), Some(name)) = (&heard.address, paired) else {
            return;
        };
        if let Some(rssi) = heard.rssi {
            metrics::gauge!("nuki_edge_rssi_dbm", "device" => name).set(f64::from(rssi));
        }
        let last = Heard {
            at: Instant::now(),
            rssi: heard.rssi,
        };
        self.heard
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(address.clone(), last);
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
            self.request_log_read(address);
        }
    }

    /// When each paired device was last heard (how long ago) and its signal strength then.
    pub fn last_heard(&self) -> HashMap<DeviceAddress, (Duration, Option<i16>)> {
        self.heard
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .map(|(address, heard)| (address.clone(), (heard.at.elapsed(), heard.rssi)))
            .collect()
    }

    /// Refreshes every device in the background (the slow safety net).
    pub fn refresh_all(&self) {
        for address in self.addresses() {
            self.request_refresh(&address);
        }
    }
}

/// Why a pairing did not happen.
#[derive(Debug, thiserror::Error)]
pub enum PairFailure {
    #[error(transparent)]
    Fleet(Failure),
    #[error(transparent)]
    Link(LinkError),
}

/// A queued command's answer, due by its deadline.
pub struct PendingOutcome {
    answer: oneshot::Receiver<Outcome>,
    deadline: Instant,
}

impl PendingOutcome {
    pub async fn outcome(self) -> Outcome {
        match tokio::time::timeout_at(self.deadline, self.answer).await {
            Ok(Ok(outcome)) => outcome,
            Ok(Err(_)) => Err(Failure::ShuttingDown),
            Err(_) => Err(Failure::TimedOut),
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
