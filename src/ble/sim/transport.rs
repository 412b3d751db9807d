//! The simulated building as a [`BleTransport`]: devices behind a radio with delays,
//! 20-byte indications, one central per device and injectable faults.
//!
//! Each device sits in a [`Node`] behind a mutex that is never held across an await. A small
//! driver task per device runs its timers (motor phases, pairing timeout) and routes what the
//! device sends to the open link, if any. Time is `tokio::time`, so tests with a paused clock
//! run instantly.
//!
//! Several transports may share one world, each a radio at its own position (see
//! [`air`]); a device still takes one central, whichever radio it came through.

mod air;
mod control;
mod link;
mod radio_controls;

use std::collections::{BTreeMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::Duration;

use async_trait::async_trait;
use rand::SeedableRng;
use rand_chacha::ChaCha20Rng;
use tokio::sync::{mpsc, Notify};
use tokio::time::Instant;
use uuid::Uuid;

use self::air::{Radio, Reception};
use super::device::{ControlError, Fault, Outbound, SimDevice};
use super::path_loss::{Position, SimRadioSpec};
use super::radio::RadioModel;
use super::spec::SimDeviceSpec;
use crate::ble::{
    Advertisement, BleError, BleLink, BleTransport, DeviceAddress, Indication, RadioId,
};

pub use control::SimControl;
pub use link::SimLink;

/// Why a [`SimControl`] call failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SimError {
    #[error("no simulated device at {0}")]
    UnknownDevice(DeviceAddress),
    #[error("no simulated radio named {0}")]
    UnknownRadio(RadioId),
    #[error(transparent)]
    Refused(#[from] ControlError),
}

/// Capacity of the advertisement feed; a slow reader makes the feed wait, not grow.
const ADVERT_FEED_CAPACITY: usize = 256;

struct World {
    nodes: BTreeMap<DeviceAddress, Arc<Node>>,
    radio: RadioModel,
    /// Jitter of the radio without a position that hears every device.
    rssi_rng: Mutex<ChaCha20Rng>,
    /// The positioned radios. Lock order: this before any node.
    radios: Mutex<BTreeMap<RadioId, Radio>>,
}

impl World {
    fn node(&self, address: &DeviceAddress) -> Result<&Arc<Node>, SimError> {
        self.nodes
            .get(address)
            .ok_or_else(|| SimError::UnknownDevice(address.clone()))
    }

    fn start_drivers(&self) {
        for node in self.nodes.values() {
            node.start_driver();
        }
    }

    fn radios(&self) -> MutexGuard<'_, BTreeMap<RadioId, Radio>> {
        // Radio state is plain data; a panic elsewhere leaves it usable.
        self.radios
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The advertisement each device `listener` hears now broadcasts, with a jittered RSSI.
    /// A device counts as heard when any of its `chances` advertisements got through.
    fn advertisements(&self, listener: Option<&RadioId>, chances: u32) -> Vec<Advertisement> {
        let mut radios = self.radios();
        let mut out = Vec::new();
        for node in self.nodes.values() {
            let mut state = node.lock();
            let now = node.now();
            node.catch_up(&mut state, now);
            if !state.in_range {
                continue;
            }
            let Some(mut advert) = state.device.advertisement(now) else {
                continue;
            };
            let jitter = self.radio.rssi_jitter;
            let rssi = match listener {
                None => {
                    let mut rng = self
                        .rssi_rng
                        .lock()
                        .unwrap_or_else(|poisoned| poisoned.into_inner());
                    Some(air::jittered(state.device.spec().rssi, jitter, &mut rng))
                }
                Some(id) => radios.get_mut(id).and_then(|radio| {
                    let reception = self.reception_by(radio, &state);
                    radio.hear(reception, jitter, chances)
                }),
            };
            if let Some(rssi) = rssi {
                advert.rssi = Some(rssi);
                out.push(advert);
            }
        }
        out
    }

    fn reception_by(&self, radio: &Radio, state: &NodeState) -> Reception {
        radio.reception(
            &self.radio.path_loss,
            state.device.spec().rssi,
            state.position,
        )
    }

    /// How `listener` receives the device now; the radio without a position hears every
    /// device at its nominal strength.
    fn reception(
        &self,
        radios: &BTreeMap<RadioId, Radio>,
        listener: Option<&RadioId>,
        state: &NodeState,
    ) -> Reception {
        match listener {
            None => Reception::Nominal(state.device.spec().rssi),
            Some(id) => radios
                .get(id)
                .map_or(Reception::Deaf, |radio| self.reception_by(radio, state)),
        }
    }

    fn radio_off(&self, listener: Option<&RadioId>) -> Option<BleError> {
        self.radio_off_in(&self.radios(), listener)
    }

    fn radio_off_in(
        &self,
        radios: &BTreeMap<RadioId, Radio>,
        listener: Option<&RadioId>,
    ) -> Option<BleError> {
        let id = listener?;
        match radios.get(id) {
            Some(radio) if radio.up => None,
            _ => Some(BleError::Adapter(format!(
                "simulated radio {id} is powered off"
            ))),
        }
    }

    /// Whether `listener` hears the device at all now.
    fn hears(&self, listener: Option<&RadioId>, node: &Node) -> bool {
        let radios = self.radios();
        self.reception(&radios, listener, &node.lock()) != Reception::Deaf
    }

    /// Whether a connect attempt through `listener` is lost on the air: the device is out of
    /// its hearing, or a weak signal lost the attempt.
    fn connect_lost(&self, listener: Option<&RadioId>, node: &Node) -> bool {
        let Some(id) = listener else {
            return false;
        };
        let mut radios = self.radios();
        let Some(radio) = radios.get_mut(id) else {
            return true;
        };
        let reception = self.reception_by(radio, &node.lock());
        radio.connect_lost(reception)
    }
}

impl Drop for World {
    fn drop(&mut self) {
        for node in self.nodes.values() {
            node.shutdown.store(true, Ordering::SeqCst);
            node.wake.notify_one();
        }
    }
}

struct Node {
    state: Mutex<NodeState>,
    wake: Notify,
    driver_started: AtomicBool,
    shutdown: AtomicBool,
    radio: RadioModel,
    origin: Instant,
}

struct NodeState {
    device: SimDevice,
    in_range: bool,
    /// Where the device is now; `None` keeps the nominal RSSI of its spec everywhere.
    position: Option<Position>,
    link: Option<LinkPort>,
    next_link_id: u64,
}

/// The device side of an open link.
struct LinkPort {
    id: u64,
    /// The radio the link goes through; `None` for the radio without a position.
    radio: Option<RadioId>,
    events: mpsc::UnboundedSender<LinkEvent>,
    subscribed: HashSet<Uuid>,
    /// Simulated time at which the radio can carry the next indication.
    air_free_at: Duration,
}

enum LinkEvent {
    Indication {
        at: Duration,
        indication: Indication,
    },
    Dropped {
        at: Duration,
    },
}

impl LinkEvent {
    fn at(&self) -> Duration {
        match self {
            LinkEvent::Indication { at, .. } | LinkEvent::Dropped { at } => *at,
        }
    }
}

impl Node {
    fn lock(&self) -> MutexGuard<'_, NodeState> {
        // A panic while holding the lock leaves plain data behind; keep simulating.
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn now(&self) -> Duration {
        Instant::now().saturating_duration_since(self.origin)
    }

    fn instant(&self, at: Duration) -> Instant {
        self.origin + at
    }

    fn start_driver(self: &Arc<Self>) {
        if !self.driver_started.swap(true, Ordering::SeqCst) {
            tokio::spawn(drive(Arc::clone(self)));
        }
    }

    /// Runs the device's due timers and sends what they produce.
    fn catch_up(&self, state: &mut NodeState, now: Duration) {
        let out = state.device.on_timer(now);
        self.deliver(state, out, now);
    }

    /// Cuts each message into fragments and schedules them one connection interval apart.
    /// Messages on characteristics the central did not subscribe to are lost.
    fn deliver(&self, state: &mut NodeState, outbound: Vec<Outbound>, now: Duration) {
        let Some(port) = state.link.as_mut() else {
            return;
        };
        for message in outbound {
            if !port.subscribed.contains(&message.characteristic) {
                continue;
            }
            for fragment in self.radio.fragments(&message.bytes) {
                let at = port.air_free_at.max(now) + self.radio.connection_interval;
                port.air_free_at = at;
                // A closed receiver means the central is gone; the drop is handled there.
                let _ = port.events.send(LinkEvent::Indication {
                    at,
                    indication: Indication {
                        characteristic: message.characteristic,
                        value: fragment.to_vec(),
                    },
                });
            }
        }
    }

    /// Ends the link from the device side at simulated time `at`.
    fn drop_link(&self, state: &mut NodeState, now: Duration, at: Duration) {
        if let Some(port) = state.link.take() {
            let _ = port.events.send(LinkEvent::Dropped { at });
            state.device.on_disconnect(now);
        }
    }

    fn link_alive(state: &NodeState, link_id: u64) -> bool {
        state.link.as_ref().is_some_and(|port| port.id == link_id)
    }
}

/// Runs one device's timers until the world is dropped.
async fn drive(node: Arc<Node>) {
    loop {
        if node.shutdown.load(Ordering::SeqCst) {
            return;
        }
        let deadline = {
            let mut state = node.lock();
            let now = node.now();
            node.catch_up(&mut state, now);
            state.device.next_deadline()
        };
        match deadline {
            Some(at) => {
                tokio::select! {
                    _ = tokio::time::sleep_until(node.instant(at)) => {}
                    _ = node.wake.notified() => {}
                }
            }
            None => node.wake.notified().await,
        }
    }
}

/// One simulated radio and the devices of its world. Cheap to share through `Arc` by the
/// caller.
pub struct SimTransport {
    world: Arc<World>,
    /// Where this radio listens from: `None` hears every device at its spec's RSSI.
    listener: Option<RadioId>,
}

impl SimTransport {
    /// Devices whose wall clocks start at the system time (unless their spec sets one).
    pub fn new(specs: Vec<SimDeviceSpec>, radio: RadioModel) -> (SimTransport, SimControl) {
        Self::with_wall_clock(
            specs,
            radio,
            crate::clock::Clock::now_unix(&crate::clock::SystemClock),
        )
    }

    /// Devices whose wall clocks read `wall_clock_start` (UTC Unix seconds) now, for tests
    /// that compare bytes. A later spec with the same address replaces an earlier one.
    pub fn with_wall_clock(
        specs: Vec<SimDeviceSpec>,
        radio: RadioModel,
        wall_clock_start: i64,
    ) -> (SimTransport, SimControl) {
        let world = World::build(specs, radio, wall_clock_start, Vec::new());
        (
            SimTransport {
                world: Arc::clone(&world),
                listener: None,
            },
            SimControl::new(world),
        )
    }

    /// Several radios at their positions over one building: each returned transport hears
    /// the devices near it, by [`PathLoss`](super::PathLoss). A device still takes one
    /// central, whichever radio it came through. A repeated radio name takes the later
    /// position and is returned once.
    pub fn with_radios(
        specs: Vec<SimDeviceSpec>,
        model: RadioModel,
        radios: Vec<SimRadioSpec>,
    ) -> (Vec<(RadioId, SimTransport)>, SimControl) {
        let wall_clock_start = crate::clock::Clock::now_unix(&crate::clock::SystemClock);
        let mut names: Vec<RadioId> = Vec::new();
        for radio in &radios {
            if !names.contains(&radio.name) {
                names.push(radio.name.clone());
            }
        }
        let world = World::build(specs, model, wall_clock_start, radios);
        let transports = names
            .into_iter()
            .map(|name| {
                let transport = SimTransport {
                    world: Arc::clone(&world),
                    listener: Some(name.clone()),
                };
                (name, transport)
            })
            .collect();
        (transports, SimControl::new(world))
    }

    /// The radio this transport plays, `None` for the one without a position.
    pub fn radio_id(&self) -> Option<&RadioId> {
        self.listener.as_ref()
    }
}

impl World {
    fn build(
        specs: Vec<SimDeviceSpec>,
        radio: RadioModel,
        wall_clock_start: i64,
        radios: Vec<SimRadioSpec>,
    ) -> Arc<World> {
        let origin = Instant::now();
        let seed = specs.iter().fold(0x5EED_u64, |acc, spec| {
            acc.rotate_left(7) ^ spec.effective_seed()
        });
        let nodes = specs
            .into_iter()
            .map(|spec| {
                let address = spec.address.clone();
                let position = spec.position;
                let node = Node {
                    state: Mutex::new(NodeState {
                        device: SimDevice::new(spec, wall_clock_start),
                        in_range: true,
                        position,
                        link: None,
                        next_link_id: 1,
                    }),
                    wake: Notify::new(),
                    driver_started: AtomicBool::new(false),
                    shutdown: AtomicBool::new(false),
                    radio: radio.clone(),
                    origin,
                };
                (address, Arc::new(node))
            })
            .collect();
        let radios = radios
            .into_iter()
            .map(|spec| {
                let radio = Radio::new(&spec.name, spec.position, seed);
                (spec.name, radio)
            })
            .collect();
        Arc::new(World {
            nodes,
            radio,
            rssi_rng: Mutex::new(ChaCha20Rng::seed_from_u64(seed)),
            radios: Mutex::new(radios),
        })
    }
}

#[async_trait]
impl BleTransport for SimTransport {
    async fn scan(&self, duration: Duration) -> Result<Vec<Advertisement>, BleError> {
        self.world.start_drivers();
        tokio::time::sleep(duration).await;
        let chances = advert_chances(duration, self.world.radio.advert_interval);
        Ok(self.world.advertisements(self.listener.as_ref(), chances))
    }

    async fn advertisements(&self) -> Result<mpsc::Receiver<Advertisement>, BleError> {
        self.world.start_drivers();
        let (sender, receiver) = mpsc::channel(ADVERT_FEED_CAPACITY);
        let world = Arc::downgrade(&self.world);
        let interval = self
            .world
            .radio
            .advert_interval
            .max(Duration::from_millis(1));
        tokio::spawn(advertise(world, self.listener.clone(), sender, interval));
        Ok(receiver)
    }

    async fn connect(&self, address: &DeviceAddress) -> Result<Box<dyn BleLink>, BleError> {
        self.world.start_drivers();
        let node = Arc::clone(
            self.world
                .node(address)
                .map_err(|_| BleError::NotFound(address.clone()))?,
        );
        let radio = &self.world.radio;
        let listener = self.listener.as_ref();
        let failure = |reason: &str| BleError::ConnectFailed {
            address: address.clone(),
            reason: reason.to_owned(),
        };
        if let Some(error) = self.world.radio_off(listener) {
            return Err(error);
        }
        if !reachable(&node) || !self.world.hears(listener, &node) {
            tokio::time::sleep(radio.connect_timeout).await;
            return Err(failure("device out of range"));
        }
        if node.lock().link.is_some() {
            return Err(failure("busy: another central is connected"));
        }
        if self.world.connect_lost(listener, &node) {
            tokio::time::sleep(radio.connect_timeout).await;
            return Err(failure("weak signal: the connection attempt was lost"));
        }
        tokio::time::sleep(radio.connect_time).await;
        let (events, receiver) = mpsc::unbounded_channel();
        let (link_id, characteristics) = {
            // The radio may have been switched off or the device moved away meanwhile.
            let radios = self.world.radios();
            if let Some(error) = self.world.radio_off_in(&radios, listener) {
                return Err(error);
            }
            let mut state = node.lock();
            let now = node.now();
            node.catch_up(&mut state, now);
            let heard = self.world.reception(&radios, listener, &state) != Reception::Deaf;
            if !heard || !state.in_range || !state.device.is_reachable(now) {
                return Err(failure("device out of range"));
            }
            if state.link.is_some() {
                return Err(failure("busy: another central is connected"));
            }
            let link_id = state.next_link_id;
            state.next_link_id += 1;
            state.link = Some(LinkPort {
                id: link_id,
                radio: self.listener.clone(),
                events,
                subscribed: HashSet::new(),
                air_free_at: now,
            });
            state.device.on_connect(now);
            (link_id, state.device.characteristic_uuids())
        };
        node.wake.notify_one();
        Ok(Box::new(SimLink::new(
            node,
            link_id,
            characteristics,
            receiver,
        )))
    }
}

/// Consumes a one-shot out-of-range fault and checks the range and reboot state.
fn reachable(node: &Node) -> bool {
    let mut state = node.lock();
    let now = node.now();
    node.catch_up(&mut state, now);
    let fault = state.device.take_fault(Fault::OutOfRange);
    !fault && state.in_range && state.device.is_reachable(now)
}

/// How many advertisements of each device a scan of `duration` listens to.
fn advert_chances(duration: Duration, interval: Duration) -> u32 {
    let interval = interval.max(Duration::from_millis(1));
    u32::try_from(duration.as_nanos() / interval.as_nanos())
        .unwrap_or(u32::MAX)
        .max(1)
}

async fn advertise(
    world: Weak<World>,
    listener: Option<RadioId>,
    sender: mpsc::Sender<Advertisement>,
    interval: Duration,
) {
    loop {
        tokio::time::sleep(interval).await;
        let adverts = match world.upgrade() {
            Some(world) => world.advertisements(listener.as_ref(), 1),
            None => return,
        };
        for advert in adverts {
            if sender.send(advert).await.is_err() {
                return;
            }
        }
    }
}

impl std::fmt::Debug for SimTransport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SimTransport")
            .field("radio", &self.listener)
            .field("devices", &self.world.nodes.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}
