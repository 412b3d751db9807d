//! A set of radios as one [`BleTransport`]: local adapters, ESPHome Bluetooth proxies and
//! simulated radios side by side. Each device is served by the radio that hears it best
//! ([`routing`]); each radio has its own link slots ([`gate`]); a connect that fails on one
//! radio moves the device to the next. Everything above `ble` sees one transport.

mod gate;
pub mod routing;

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use async_trait::async_trait;
use tokio::sync::mpsc;
use tokio::time::Instant;
use uuid::Uuid;

use super::{
    Advertisement, BleError, BleLink, BleTransport, DeviceAddress, Hearing, Indication, RadioId,
};
use gate::GatePermit;
pub use gate::SlotGate;
use routing::Router;
pub use routing::{FailoverCause, HearingReport, RouteReason, RouteReport, RoutingSettings};

/// Capacity of the merged advertisement feed.
const MERGED_FEED_CAPACITY: usize = 512;
/// An advertisement heard by a radio that does not serve the device still goes on when the
/// serving radio has not heard the device for this long, so a state change is not missed
/// while routing waits for the silence limit.
const SERVING_QUIET: Duration = Duration::from_secs(3);

/// What kind of radio it is, for status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RadioKind {
    Bluez,
    EsphomeProxy,
    Simulated,
}

/// One radio of the set.
pub struct Radio {
    pub id: RadioId,
    pub kind: RadioKind,
    pub transport: Arc<dyn BleTransport>,
    /// Our links through it at most (a proxy's reported limit replaces it).
    pub link_slots: usize,
}

/// One radio's state, for status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RadioReport {
    pub id: RadioId,
    pub kind: RadioKind,
    pub up: bool,
    pub links: usize,
    pub link_slots: usize,
    /// What the radio itself reports free (proxies).
    pub reported_free: Option<usize>,
}

/// Everything the set knows about its radios and routes.
#[derive(Debug, Clone, PartialEq)]
pub struct RadiosReport {
    pub radios: Vec<RadioReport>,
    pub routes: Vec<RouteReport>,
}

struct Member {
    id: RadioId,
    kind: RadioKind,
    transport: Arc<dyn BleTransport>,
    gate: SlotGate,
    /// Its advertisement feed ended or could not be started.
    feed_ended: AtomicBool,
}

impl Member {
    fn up(&self) -> bool {
        !self.feed_ended.load(Ordering::SeqCst) && self.transport.is_up().unwrap_or(true)
    }
}

struct Shared {
    members: Vec<Member>,
    router: Mutex<Router>,
    origin: Instant,
}

impl Shared {
    fn now(&self) -> Duration {
        self.origin.elapsed()
    }

    /// The routing table, told which radios are up now: a proxy whose connection is lost
    /// keeps its advertisement feed open, so only asking it tells that it is down.
    fn router(&self) -> MutexGuard<'_, Router> {
        let mut router = self
            .router
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        for member in &self.members {
            router.set_radio_up(&member.id, member.up());
        }
        router
    }

    fn feed_ended(&self, id: &RadioId) {
        if let Some(member) = self.member(id) {
            member.feed_ended.store(true, Ordering::SeqCst);
        }
    }

    fn member(&self, id: &RadioId) -> Option<&Member> {
        self.members.iter().find(|member| &member.id == id)
    }
}

/// Several radios behind one transport.
#[derive(Clone)]
pub struct RadioSet {
    shared: Arc<Shared>,
}

impl RadioSet {
    pub fn new(
        radios: Vec<Radio>,
        settings: RoutingSettings,
        pins: BTreeMap<DeviceAddress, RadioId>,
    ) -> Self {
        let ids = radios.iter().map(|radio| radio.id.clone()).collect();
        let members = radios
            .into_iter()
            .map(|radio| Member {
                gate: SlotGate::new(radio.link_slots, radio.transport.slot_reports()),
                feed_ended: AtomicBool::new(false),
                id: radio.id,
                kind: radio.kind,
                transport: radio.transport,
            })
            .collect();
        Self {
            shared: Arc::new(Shared {
                members,
                router: Mutex::new(Router::new(settings, ids, pins)),
                origin: Instant::now(),
            }),
        }
    }

    /// Links the set may hold at once over all its radios, as the fleet's slot pool.
    pub fn link_capacity(&self) -> usize {
        self.shared
            .members
            .iter()
            .map(|member| member.gate.capacity())
            .sum()
    }

    /// The radios and every device's route, for status and `scan`.
    pub fn report(&self) -> RadiosReport {
        let now = self.shared.now();
        let mut router = self.shared.router();
        let radios = self
            .shared
            .members
            .iter()
            .map(|member| RadioReport {
                id: member.id.clone(),
                kind: member.kind,
                up: router.radio_up(&member.id),
                links: member.gate.in_use(),
                link_slots: member.gate.capacity(),
                reported_free: member.gate.reported().map(|report| report.free),
            })
            .collect();
        RadiosReport {
            radios,
            routes: router.report(now),
        }
    }
}

#[async_trait]
impl BleTransport for RadioSet {
    async fn scan(&self, duration: Duration) -> Result<Vec<Advertisement>, BleError> {
        let scans = self.shared.members.iter().map(|member| async move {
            (member.id.clone(), member.transport.scan(duration).await)
        });
        let results = futures::future::join_all(scans).await;
        let now = self.shared.now();
        let mut merged: HashMap<DeviceAddress, (Advertisement, Vec<Hearing>)> = HashMap::new();
        let mut failures = Vec::new();
        {
            let mut router = self.shared.router();
            for (radio, result) in results {
                let adverts = match result {
                    Ok(adverts) => adverts,
                    Err(error) => {
                        tracing::warn!(%radio, %error, "a radio could not scan");
                        failures.push(error);
                        continue;
                    }
                };
                for advert in adverts {
                    let (Some(address), Some(rssi)) = (advert.address.clone(), advert.rssi) else {
                        continue;
                    };
                    router.heard(&address, &radio, rssi, now);
                    let hearing = Hearing {
                        radio: radio.clone(),
                        rssi,
                    };
                    match merged.get_mut(&address) {
                        Some((best, hearings)) => {
                            if best.rssi.is_none_or(|best| rssi > best) {
                                *best = advert;
                            }
                            hearings.push(hearing);
                        }
                        None => {
                            merged.insert(address, (advert, vec![hearing]));
                        }
                    }
                }
            }
        }
        if failures.len() == self.shared.members.len() {
            if let Some(error) = failures.into_iter().next() {
                return Err(error);
            }
        }
        Ok(merged
            .into_values()
            .map(|(mut advert, mut hearings)| {
                hearings.sort_by_key(|hearing| std::cmp::Reverse(hearing.rssi));
                advert.heard_by = hearings;
                advert
            })
            .collect())
    }

    async fn advertisements(&self) -> Result<mpsc::Receiver<Advertisement>, BleError> {
        let (sender, receiver) = mpsc::channel(MERGED_FEED_CAPACITY);
        let mut started = 0;
        let mut last_error = None;
        for member in &self.shared.members {
            match member.transport.advertisements().await {
                Ok(feed) => {
                    started += 1;
                    tokio::spawn(forward(
                        Arc::clone(&self.shared),
                        member.id.clone(),
                        feed,
                        sender.clone(),
                    ));
                }
                Err(error) => {
                    tracing::warn!(radio = %member.id, %error, "a radio's advertisements could not be started");
                    self.shared.feed_ended(&member.id);
                    last_error = Some(error);
                }
            }
        }
        match (started, last_error) {
            (0, Some(error)) => Err(error),
            _ => Ok(receiver),
        }
    }

    async fn connect(&self, address: &DeviceAddress) -> Result<Box<dyn BleLink>, BleError> {
        let attempts = {
            let now = self.shared.now();
            let mut router = self.shared.router();
            let candidates = router.candidates(address, now);
            // Radios that hear the device, best first; only when none does (nothing heard
            // yet, or every radio fell silent) is every radio worth a try.
            let (heard, unheard): (Vec<_>, Vec<_>) = candidates
                .into_iter()
                .partition(|radio| router.hears(address, radio, now));
            if heard.is_empty() {
                unheard
            } else {
                heard
            }
        };
        let mut last_error = None;
        let mut first_busy = None;
        for radio in &attempts {
            let Some(member) = self.shared.member(radio) else {
                continue;
            };
            // A radio whose slots are all taken passes the device to the next one that hears
            // it, rather than making it wait while another radio is free.
            let Some(permit) = member.gate.try_acquire() else {
                first_busy.get_or_insert(member);
                continue;
            };
            match self.connect_through(member, address, permit).await {
                Ok(link) => return Ok(link),
                Err(error) => last_error = Some(error),
            }
        }
        if let (None, Some(member)) = (&last_error, first_busy) {
            let permit = member.gate.acquire().await;
            return self.connect_through(member, address, permit).await;
        }
        Err(last_error
            .unwrap_or_else(|| BleError::Adapter(format!("no radio is up to reach {address}"))))
    }

    fn radios_report(&self) -> Option<RadiosReport> {
        Some(self.report())
    }
}

impl RadioSet {
    async fn connect_through(
        &self,
        member: &Member,
        address: &DeviceAddress,
        permit: GatePermit,
    ) -> Result<Box<dyn BleLink>, BleError> {
        match member.transport.connect(address).await {
            Ok(link) => {
                self.shared
                    .router()
                    .connected(address, &member.id, self.shared.now());
                tracing::debug!(device = %address, radio = %member.id, "connected through");
                Ok(Box::new(RoutedLink {
                    inner: link,
                    _permit: permit,
                }))
            }
            Err(error) => {
                tracing::info!(device = %address, radio = %member.id, %error, "connect failed on this radio; the next one takes over");
                self.shared
                    .router()
                    .connect_failed(address, &member.id, self.shared.now());
                Err(error)
            }
        }
    }
}

/// Moves one radio's advertisements into the merged feed, updating the routes; a feed that
/// ends marks its radio down.
async fn forward(
    shared: Arc<Shared>,
    radio: RadioId,
    mut feed: mpsc::Receiver<Advertisement>,
    sender: mpsc::Sender<Advertisement>,
) {
    loop {
        let advert = tokio::select! {
            () = sender.closed() => return,
            advert = feed.recv() => advert,
        };
        let Some(advert) = advert else {
            break;
        };
        let forward = match (&advert.address, advert.rssi) {
            (Some(address), Some(rssi)) => {
                let now = shared.now();
                let mut router = shared.router();
                router.heard(address, &radio, rssi, now);
                router.forwards(address, &radio, now, SERVING_QUIET)
            }
            _ => true,
        };
        if forward && sender.send(advert).await.is_err() {
            return;
        }
    }
    tracing::warn!(%radio, "the radio's advertisement feed ended; its devices move to other radios");
    shared.feed_ended(&radio);
}

/// A link that holds its radio's slot until it is dropped.
struct RoutedLink {
    inner: Box<dyn BleLink>,
    _permit: GatePermit,
}

#[async_trait]
impl BleLink for RoutedLink {
    fn characteristics(&self) -> Vec<Uuid> {
        self.inner.characteristics()
    }

    async fn subscribe(&mut self, characteristic: Uuid) -> Result<(), BleError> {
        self.inner.subscribe(characteristic).await
    }

    async fn write(&mut self, characteristic: Uuid, value: &[u8]) -> Result<(), BleError> {
        self.inner.write(characteristic, value).await
    }

    async fn next_indication(&mut self) -> Result<Indication, BleError> {
        self.inner.next_indication().await
    }

    async fn disconnect(&mut self) -> Result<(), BleError> {
        self.inner.disconnect().await
    }
}
