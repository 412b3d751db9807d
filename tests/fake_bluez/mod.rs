//! A fake BlueZ 5 on a private D-Bus, so the `bluez` backend (btleplug → bluez-async → D-Bus)
//! runs in the tests: it owns `org.bluez` and serves the objects and interfaces BlueZ
//! documents in doc/org.bluez.*.rst — ObjectManager at `/`, Adapter1 at `/org/bluez/hci0`,
//! Device1 objects, and on connect GattService1 / GattCharacteristic1 / GattDescriptor1
//! objects — with PropertiesChanged for every change.
//!
//! Behind it is the project's simulated building ([`SimTransport`]): advertisements come from
//! the simulated devices' feed, Device1.Connect opens a simulated link, WriteValue writes to
//! it and indications come back as PropertiesChanged on the characteristic's `Value`. The
//! fake only translates; the devices speak the Nuki protocol themselves.
//!
//! Faults BlueZ shows can be injected: answers to Connect (`Failed`, `InProgress`, the device
//! vanishing, no answer at all), a method that never answers, a lost link, and bluetoothd
//! restarting (the name drops, the objects go and come back).
#![allow(dead_code)] // each test binary uses a different part of the fake

mod bus;
mod link;
mod server;
mod tree;
mod values;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard};

use dbus::nonblock::SyncConnection;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use uuid::Uuid;

use nuki_edge::ble::sim::{RadioModel, SimControl, SimDeviceSpec, SimTransport};

pub use bus::{dbus_daemon_available, PrivateBus};
use link::LinkCommand;
use tree::Tree;

pub const ADAPTER_PATH: &str = "/org/bluez/hci0";

/// How the next Device1.Connect of a device ends instead of connecting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConnectAnswer {
    /// `org.bluez.Error.Failed` (e.g. le-connection-abort-by-local).
    Failed,
    /// `org.bluez.Error.InProgress`: BlueZ is already connecting to it.
    InProgress,
    /// The device object is removed (InterfacesRemoved) while the connect runs; the call then
    /// fails as BlueZ fails a pending connect of a removed device.
    Vanish,
    /// No answer, ever.
    Hang,
}

/// BlueZ as the test sees it: the bus, the simulated devices behind it, the fault switches.
pub struct FakeBluez {
    inner: Arc<Inner>,
    advertiser: JoinHandle<()>,
    bus: PrivateBus,
}

struct Inner {
    bus_address: String,
    sim: SimTransport,
    control: SimControl,
    state: Mutex<State>,
    daemon: Mutex<Option<Daemon>>,
}

/// One run of "bluetoothd": its bus connection and the tasks serving it.
struct Daemon {
    connection: Arc<SyncConnection>,
    tasks: Vec<JoinHandle<()>>,
}

#[derive(Default)]
struct State {
    tree: Tree,
    devices: HashMap<String, Device>,
    /// Unique bus names of the clients with discovery on (BlueZ keeps one per client).
    discovery_clients: HashSet<String>,
    connect_answers: HashMap<String, ConnectAnswer>,
    /// Members (e.g. "WriteValue") answered never.
    hanging: HashSet<String>,
    /// Every method call served, as "Interface.Member", for tests to check what was asked.
    calls: Vec<String>,
    link_generation: u64,
}

#[derive(Default)]
struct Device {
    link: Option<mpsc::Sender<LinkCommand>>,
    link_generation: u64,
    connecting: bool,
    /// Characteristic object path by UUID while connected.
    characteristics: BTreeMap<Uuid, String>,
}

impl FakeBluez {
    /// Starts a private bus and BlueZ on it with these simulated devices (addresses must be
    /// MAC addresses). Call inside a tokio runtime.
    pub async fn start(specs: Vec<SimDeviceSpec>, radio: RadioModel) -> FakeBluez {
        let bus = PrivateBus::start();
        let (sim, control) = SimTransport::new(specs, radio);
        let inner = Arc::new(Inner {
            bus_address: bus.address().to_owned(),
            sim,
            control,
            state: Mutex::new(State::default()),
            daemon: Mutex::new(None),
        });
        server::start_daemon(&inner).await;
        let advertiser = tokio::spawn(server::advertise(Arc::clone(&inner)));
        FakeBluez {
            inner,
            advertiser,
            bus,
        }
    }

    /// The bus address for `DBUS_SYSTEM_BUS_ADDRESS`.
    pub fn bus_address(&self) -> &str {
        &self.inner.bus_address
    }

    /// The hand on the simulated devices (buttons, faults, range).
    pub fn control(&self) -> &SimControl {
        &self.inner.control
    }

    pub fn answer_next_connect(&self, address: &str, answer: ConnectAnswer) {
        self.inner
            .lock()
            .connect_answers
            .insert(address.to_owned(), answer);
    }

    /// From now on calls of `member` (e.g. "WriteValue") are never answered.
    pub fn never_answer(&self, member: &str) {
        self.inner.lock().hanging.insert(member.to_owned());
    }

    pub fn answer_again(&self, member: &str) {
        self.inner.lock().hanging.remove(member);
    }

    /// The radio loses the device: ServicesResolved and Connected turn false, GATT objects go.
    pub fn lose_link(&self, address: &str) {
        let link = self
            .inner
            .lock()
            .devices
            .get(address)
            .and_then(|device| device.link.clone());
        if let Some(link) = link {
            let _ = link.try_send(LinkCommand::Lose);
        }
    }

    pub fn is_connected(&self, address: &str) -> bool {
        self.inner
            .lock()
            .devices
            .get(address)
            .is_some_and(|device| device.link.is_some())
    }

    /// Whether bluetoothd has an object for the device (after a restart: once discovery
    /// heard it again).
    pub fn knows_device(&self, address: &str) -> bool {
        self.inner.lock().tree.contains(&device_path(address))
    }

    pub fn discovering(&self) -> bool {
        !self.inner.lock().discovery_clients.is_empty()
    }

    /// How many calls of "Interface.Member" were served so far.
    pub fn calls_of(&self, call: &str) -> usize {
        self.inner
            .lock()
            .calls
            .iter()
            .filter(|made| *made == call)
            .count()
    }

    /// bluetoothd stops (its bus name drops, links die without a word on D-Bus) and starts
    /// again: a fresh adapter object that powers up, no devices until discovery finds them.
    pub async fn restart_bluetoothd(&self) {
        server::stop_daemon(&self.inner);
        server::start_daemon(&self.inner).await;
    }
}

impl Drop for FakeBluez {
    fn drop(&mut self) {
        self.advertiser.abort();
        server::stop_daemon(&self.inner);
    }
}

impl Inner {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn send(&self, message: dbus::Message) {
        use dbus::channel::Sender;
        let daemon = self
            .daemon
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(daemon) = daemon.as_ref() {
            let _ = daemon.connection.send(message);
        }
    }
}

/// BlueZ's object path for a device address.
pub fn device_path(address: &str) -> String {
    format!("{ADAPTER_PATH}/dev_{}", address.replace(':', "_"))
}
