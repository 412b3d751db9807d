//! BlueZ backend through btleplug (D-Bus). One transport drives one adapter.

mod calls;
mod convert;
mod discovery;
mod link;

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use btleplug::api::{BDAddr, Central, CentralEvent, Manager as _, Peripheral as _};
use btleplug::platform::{Adapter, Manager, Peripheral, PeripheralId};
use futures::{Stream, StreamExt};
use tokio::sync::{mpsc, Semaphore};

use crate::ble::{Advertisement, BleError, BleLink, BleTransport, DeviceAddress};
pub use calls::CallLimits;
use calls::{timed, Operation};
use discovery::Discovery;
pub use link::BluezLink;

/// Advertisements waiting for a slow consumer of the feed before the feed waits for it.
const ADVERTISEMENT_QUEUE: usize = 256;
/// How long a connect listens for a device BlueZ does not know (BlueZ forgets unpaired
/// devices shortly after discovery stops).
const FIND_DEVICE_TIMEOUT: Duration = Duration::from_secs(10);
const FIND_DEVICE_POLL: Duration = Duration::from_millis(500);

type EventStream = std::pin::Pin<Box<dyn Stream<Item = CentralEvent> + Send>>;

#[derive(Debug)]
pub struct BluezTransport {
    shared: Arc<Shared>,
}

#[derive(Debug)]
struct Shared {
    adapter: Adapter,
    limits: CallLimits,
    discovery: Discovery,
    /// One connection attempt at a time on this adapter.
    connect_turn: Semaphore,
}

impl BluezTransport {
    /// Opens a BlueZ session on the adapter named `adapter` (e.g. `hci0`), or the first one.
    /// Fails with [`BleError::Adapter`] when D-Bus, BlueZ or the adapter is missing.
    pub async fn new(adapter: Option<&str>) -> Result<Self, BleError> {
        Self::with_limits(adapter, CallLimits::default()).await
    }

    /// As [`BluezTransport::new`] with other time limits for the BlueZ calls.
    pub async fn with_limits(adapter: Option<&str>, limits: CallLimits) -> Result<Self, BleError> {
        let manager = timed(&limits, Operation::OpenSession, None, Manager::new()).await?;
        let adapters = timed(&limits, Operation::ListAdapters, None, manager.adapters()).await?;
        let adapter = choose_adapter(adapters, adapter, &limits).await?;
        Ok(Self {
            shared: Arc::new(Shared {
                adapter,
                limits,
                discovery: Discovery::new(limits),
                connect_turn: Semaphore::new(1),
            }),
        })
    }
}

impl BluezTransport {
    /// Opens every adapter BlueZ offers, each with its name (`hci0`, …), in BlueZ's order.
    pub async fn every_adapter() -> Result<Vec<(String, Self)>, BleError> {
        let limits = CallLimits::default();
        let manager = timed(&limits, Operation::OpenSession, None, Manager::new()).await?;
        let adapters = timed(&limits, Operation::ListAdapters, None, manager.adapters()).await?;
        let mut opened = Vec::with_capacity(adapters.len());
        for adapter in adapters {
            let info = timed(
                &limits,
                Operation::AdapterInfo,
                None,
                adapter.adapter_info(),
            )
            .await?;
            let Some(name) = convert::adapter_name(&info) else {
                continue;
            };
            opened.push((
                name.to_owned(),
                Self {
                    shared: Arc::new(Shared {
                        adapter,
                        limits,
                        discovery: Discovery::new(limits),
                        connect_turn: Semaphore::new(1),
                    }),
                },
            ));
        }
        if opened.is_empty() {
            return Err(BleError::Adapter(
                "BlueZ reports no Bluetooth adapter".into(),
            ));
        }
        Ok(opened)
    }
}

async fn choose_adapter(
    adapters: Vec<Adapter>,
    wanted: Option<&str>,
    limits: &CallLimits,
) -> Result<Adapter, BleError> {
    let Some(wanted) = wanted else {
        return adapters
            .into_iter()
            .next()
            .ok_or_else(|| BleError::Adapter("BlueZ reports no Bluetooth adapter".into()));
    };
    for adapter in adapters {
        let info = timed(limits, Operation::AdapterInfo, None, adapter.adapter_info()).await?;
        if convert::adapter_name(&info) == Some(wanted) {
            return Ok(adapter);
        }
    }
    Err(BleError::Adapter(format!(
        "no Bluetooth adapter named {wanted}"
    )))
}

#[async_trait]
impl BleTransport for BluezTransport {
    async fn scan(&self, duration: Duration) -> Result<Vec<Advertisement>, BleError> {
        // Spawned so that a caller giving up cannot leave discovery switched on.
        let shared = Arc::clone(&self.shared);
        tokio::spawn(async move { shared.scan(duration).await })
            .await
            .map_err(|error| BleError::Adapter(format!("scan task failed: {error}")))?
    }

    async fn advertisements(&self) -> Result<mpsc::Receiver<Advertisement>, BleError> {
        let shared = &self.shared;
        let events = timed(
            &shared.limits,
            Operation::Events,
            None,
            shared.adapter.events(),
        )
        .await?;
        shared.discovery.start_listening(&shared.adapter).await?;
        let (sender, receiver) = mpsc::channel(ADVERTISEMENT_QUEUE);
        tokio::spawn(Arc::clone(shared).feed_advertisements(events, sender));
        Ok(receiver)
    }

    async fn connect(&self, address: &DeviceAddress) -> Result<Box<dyn BleLink>, BleError> {
        // Spawned so that a caller giving up cannot leave discovery paused; a link nobody
        // receives is dropped, which disconnects it.
        let shared = Arc::clone(&self.shared);
        let address = address.clone();
        let link = tokio::spawn(async move { shared.connect(address).await })
            .await
            .map_err(|error| BleError::Adapter(format!("connect task failed: {error}")))??;
        Ok(Box::new(link))
    }
}

impl Shared {
    async fn scan(&self, duration: Duration) -> Result<Vec<Advertisement>, BleError> {
        let mut events =
            timed(&self.limits, Operation::Events, None, self.adapter.events()).await?;
        self.discovery.start_listening(&self.adapter).await?;
        let mut heard = HashSet::new();
        let _window_over = tokio::time::timeout(duration, async {
            while let Some(event) = events.next().await {
                if let Some(id) = convert::device_heard(&event) {
                    heard.insert(id.clone());
                }
            }
        })
        .await;
        self.discovery.stop_listening(&self.adapter).await;

        let mut advertisements = Vec::with_capacity(heard.len());
        for id in heard {
            advertisements.extend(self.advertisement_of(&id).await);
        }
        Ok(advertisements)
    }

    async fn feed_advertisements(
        self: Arc<Self>,
        mut events: EventStream,
        sender: mpsc::Sender<Advertisement>,
    ) {
        loop {
            let event = tokio::select! {
                _ = sender.closed() => break,
                event = tokio::time::timeout(discovery::DISCOVERY_SILENCE, events.next()) => event,
            };
            let Ok(event) = event else {
                self.discovery.renew_after_silence(&self.adapter).await;
                continue;
            };
            let Some(event) = event else {
                tracing::warn!("BlueZ event stream ended; advertisement feed closed");
                break;
            };
            if convert::adapter_powered_on(&event) {
                self.discovery.reassert(&self.adapter).await;
                continue;
            }
            let Some(id) = convert::advertisement_changed(&event) else {
                continue;
            };
            let Some(advertisement) = self.advertisement_of(id).await else {
                continue;
            };
            if sender.send(advertisement).await.is_err() {
                break;
            }
        }
        self.discovery.stop_listening(&self.adapter).await;
    }

    /// The device's current advertisement, or `None` if it vanished or was not heard lately.
    async fn advertisement_of(&self, id: &PeripheralId) -> Option<Advertisement> {
        let properties = async {
            let peripheral = timed(
                &self.limits,
                Operation::LookupDevice,
                None,
                self.adapter.peripheral(id),
            )
            .await?;
            timed(
                &self.limits,
                Operation::Properties,
                None,
                peripheral.properties(),
            )
            .await
        };
        match properties.await {
            Ok(properties) => properties.and_then(convert::heard_advertisement),
            Err(error) => {
                tracing::debug!(%error, "no properties for an advertising device");
                None
            }
        }
    }

    async fn connect(&self, address: DeviceAddress) -> Result<BluezLink, BleError> {
        let wanted =
            convert::parse_address(&address).ok_or_else(|| BleError::NotFound(address.clone()))?;
        let _turn = self
            .connect_turn
            .acquire()
            .await
            .map_err(|_| BleError::Adapter("connection gate closed".into()))?;
        let peripheral = self.find_peripheral(wanted, &address).await?;

        self.discovery.pause(&self.adapter).await;
        let established = establish(&peripheral, &address, &self.limits).await;
        self.discovery.resume(&self.adapter).await;
        established?;

        match BluezLink::open(
            &self.adapter,
            peripheral.clone(),
            address.clone(),
            self.limits,
        )
        .await
        {
            Ok(link) => Ok(link),
            Err(error) => {
                link::disconnect_quietly(&peripheral, &address, &self.limits).await;
                Err(error)
            }
        }
    }

    async fn find_peripheral(
        &self,
        wanted: BDAddr,
        address: &DeviceAddress,
    ) -> Result<Peripheral, BleError> {
        if let Some(peripheral) = self.known_peripheral(wanted).await? {
            return Ok(peripheral);
        }
        self.discovery.start_listening(&self.adapter).await?;
        let search = tokio::time::timeout(FIND_DEVICE_TIMEOUT, async {
            loop {
                tokio::time::sleep(FIND_DEVICE_POLL).await;
                if let Some(peripheral) = self.known_peripheral(wanted).await? {
                    return Ok(peripheral);
                }
            }
        })
        .await;
        self.discovery.stop_listening(&self.adapter).await;
        search.unwrap_or_else(|_| Err(BleError::NotFound(address.clone())))
    }

    async fn known_peripheral(&self, wanted: BDAddr) -> Result<Option<Peripheral>, BleError> {
        let peripherals = timed(
            &self.limits,
            Operation::ListDevices,
            None,
            self.adapter.peripherals(),
        )
        .await?;
        Ok(peripherals
            .into_iter()
            .find(|peripheral| peripheral.address() == wanted))
    }
}

/// Connects and discovers services; on failure also cancels the attempt, which BlueZ would
/// otherwise keep making after our timeout.
async fn establish(
    peripheral: &Peripheral,
    address: &DeviceAddress,
    limits: &CallLimits,
) -> Result<(), BleError> {
    let result = async {
        let connected = peripheral.connect_with_timeout(limits.connect);
        timed(limits, Operation::Connect, Some(address), connected).await?;
        let discovered = peripheral.discover_services_with_timeout(limits.discover_services);
        timed(
            limits,
            Operation::DiscoverServices,
            Some(address),
            discovered,
        )
        .await
    }
    .await;
    if result.is_err() {
        link::disconnect_quietly(peripheral, address, limits).await;
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Points libdbus at a bus that does not exist, so the result is the same on every machine.
    #[tokio::test]
    async fn without_a_system_bus_opening_fails_with_an_adapter_error() {
        let empty_dir = tempfile::tempdir().unwrap();
        let missing_socket = empty_dir.path().join("system_bus_socket");
        std::env::set_var(
            "DBUS_SYSTEM_BUS_ADDRESS",
            format!("unix:path={}", missing_socket.display()),
        );
        let opened = BluezTransport::new(Some("hci0")).await;
        assert!(
            matches!(opened, Err(BleError::Adapter(ref message)) if message.starts_with("open BlueZ session")),
            "{opened:?}"
        );
    }
}
