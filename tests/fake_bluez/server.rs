//! Serving org.bluez: the bus connection, method dispatch and the device side behind it.

use std::collections::BTreeMap;
use std::ffi::CString;
use std::sync::Arc;

use dbus::arg::{PropMap, Variant};
use dbus::channel::{Channel, MatchingReceiver};
use dbus::message::MatchRule;
use dbus::nonblock::SyncConnection;
use dbus::strings::ErrorName;
use dbus::Message;
use tokio::sync::{mpsc, oneshot};
use uuid::Uuid;

use nuki_edge::ble::{Advertisement, BleTransport, DeviceAddress};

use super::link::{self, LinkCommand, LinkReport};
use super::tree::Interfaces;
use super::values::{props, Value};
use super::{device_path, ConnectAnswer, Daemon, Inner, State, ADAPTER_PATH};

const ADAPTER1: &str = "org.bluez.Adapter1";
const DEVICE1: &str = "org.bluez.Device1";
const SERVICE1: &str = "org.bluez.GattService1";
const CHARACTERISTIC1: &str = "org.bluez.GattCharacteristic1";
const DESCRIPTOR1: &str = "org.bluez.GattDescriptor1";
const CCCD_UUID: &str = "00002902-0000-1000-8000-00805f9b34fb";
/// What GetDiscoveryFilters lists in BlueZ 5.66+.
const DISCOVERY_FILTERS: [&str; 7] = [
    "UUIDs",
    "RSSI",
    "Pathloss",
    "Transport",
    "DuplicateData",
    "Discoverable",
    "Pattern",
];

fn error(call: &Message, name: &'static str, text: &str) -> Message {
    let text = CString::new(text.replace('\0', " ")).unwrap_or_default();
    call.error(&ErrorName::from(name), &text)
}

pub async fn start_daemon(inner: &Arc<Inner>) {
    let mut channel =
        Channel::open_private(&inner.bus_address).expect("connect to the private bus");
    channel.register().expect("register on the private bus");
    let (resource, connection) =
        dbus_tokio::connection::from_channel::<SyncConnection>(channel).expect("bus connection");
    let io = tokio::spawn(async move {
        let _lost = resource.await;
    });
    own_bus_name(&connection).await;
    let (calls, mut incoming) = mpsc::unbounded_channel();
    connection.start_receive(
        MatchRule::new_method_call(),
        Box::new(move |message, _| calls.send(message).is_ok()),
    );
    let dispatcher = {
        let inner = Arc::clone(inner);
        tokio::spawn(async move {
            while let Some(message) = incoming.recv().await {
                dispatch(&inner, message);
            }
        })
    };
    *inner
        .daemon
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner()) = Some(Daemon {
        connection,
        tasks: vec![io, dispatcher],
    });
    // The adapter appears unpowered and then powers up, as after bluetoothd starts.
    let mut state = inner.lock();
    let added = state.tree.add(ADAPTER_PATH, adapter_interfaces());
    inner.send(added);
    if let Some(changed) = state
        .tree
        .set(ADAPTER_PATH, ADAPTER1, "Powered", Value::Bool(true))
    {
        inner.send(changed);
    }
}

/// The previous bluetoothd's connection closes asynchronously after `stop_daemon`; until it
/// has, the bus answers "exists", and a daemon that took that for ownership would leave the
/// name without an owner once the old connection is gone (the gateway then sees no bluetoothd
/// at all, which is not the restart under test).
async fn own_bus_name(connection: &SyncConnection) {
    use dbus::nonblock::stdintf::org_freedesktop_dbus::RequestNameReply;
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let reply = connection
            .request_name("org.bluez", false, true, true)
            .await
            .expect("ask the bus for org.bluez");
        if reply == RequestNameReply::PrimaryOwner {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the previous fake bluetoothd still owns org.bluez"
        );
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
}

/// bluetoothd dies: its connection closes (the bus announces the name's loss), every link
/// ends, nothing is said about objects.
pub fn stop_daemon(inner: &Arc<Inner>) {
    let daemon = inner
        .daemon
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
        .take();
    if let Some(daemon) = daemon {
        for task in daemon.tasks {
            task.abort();
        }
        drop(daemon.connection);
    }
    let mut state = inner.lock();
    for device in state.devices.values_mut() {
        if let Some(link) = device.link.take() {
            let _ = link.try_send(LinkCommand::Lose);
        }
        device.connecting = false;
        device.characteristics.clear();
    }
    state.tree = Default::default();
    state.discovery_clients.clear();
}

fn adapter_interfaces() -> Interfaces {
    Interfaces::from([(
        ADAPTER1.to_owned(),
        props([
            ("Address", Value::Str("5C:F3:70:00:00:01".into())),
            ("AddressType", Value::Str("public".into())),
            ("Name", Value::Str("fake-bluez".into())),
            ("Alias", Value::Str("fake-bluez".into())),
            ("Class", Value::U32(0)),
            ("Powered", Value::Bool(false)),
            ("Discoverable", Value::Bool(false)),
            ("Pairable", Value::Bool(true)),
            ("Discovering", Value::Bool(false)),
            ("UUIDs", Value::Strs(Vec::new())),
            ("Modalias", Value::Str("usb:v1D6Bp0246d0537".into())),
            (
                "Roles",
                Value::Strs(vec!["central".into(), "peripheral".into()]),
            ),
        ]),
    )])
}

fn dispatch(inner: &Arc<Inner>, call: Message) {
    let path = call.path().map(|p| p.to_string()).unwrap_or_default();
    let interface = call.interface().map(|i| i.to_string()).unwrap_or_default();
    let member = call.member().map(|m| m.to_string()).unwrap_or_default();
    {
        let mut state = inner.lock();
        state.calls.push(format!("{interface}.{member}"));
        if state.hanging.contains(&member) {
            return;
        }
    }
    let reply = match (interface.as_str(), member.as_str()) {
        ("org.freedesktop.DBus.ObjectManager", "GetManagedObjects") if path == "/" => Some(
            call.method_return()
                .append1(inner.lock().tree.managed_objects()),
        ),
        ("org.freedesktop.DBus.Introspectable", "Introspect") => {
            let root: &[&str] = if path == "/" {
                &["org.freedesktop.DBus.ObjectManager"]
            } else {
                &[]
            };
            Some(match inner.lock().tree.introspect(&path, root) {
                Some(xml) => call.method_return().append1(xml),
                None => unknown_object(&call, &path),
            })
        }
        ("org.freedesktop.DBus.Properties", "Get") => Some(get(inner, &call, &path)),
        ("org.freedesktop.DBus.Properties", "GetAll") => Some(get_all(inner, &call, &path)),
        ("org.freedesktop.DBus.Properties", "Set") => Some(set(inner, &call, &path)),
        (ADAPTER1, _) if path == ADAPTER_PATH && inner.lock().tree.contains(&path) => {
            Some(adapter_call(inner, &call, &member))
        }
        (DEVICE1, "Connect") => {
            tokio::spawn(connect(Arc::clone(inner), call, path));
            None
        }
        (DEVICE1, "Disconnect") => {
            tokio::spawn(disconnect(Arc::clone(inner), call, path));
            None
        }
        (CHARACTERISTIC1, "WriteValue" | "StartNotify" | "ReadValue" | "StopNotify") => {
            tokio::spawn(characteristic_call(Arc::clone(inner), call, path, member));
            None
        }
        _ if !inner.lock().tree.contains(&path) => Some(unknown_object(&call, &path)),
        _ => Some(error(
            &call,
            "org.freedesktop.DBus.Error.UnknownMethod",
            &format!("no method {interface}.{member}"),
        )),
    };
    if let Some(reply) = reply {
        inner.send(reply);
    }
}

fn unknown_object(call: &Message, path: &str) -> Message {
    error(
        call,
        "org.freedesktop.DBus.Error.UnknownObject",
        &format!("no object {path}"),
    )
}

fn get(inner: &Inner, call: &Message, path: &str) -> Message {
    let Ok((interface, name)) = call.read2::<&str, &str>() else {
        return error(
            call,
            "org.freedesktop.DBus.Error.InvalidArgs",
            "expected (ss)",
        );
    };
    let state = inner.lock();
    if !state.tree.contains(path) {
        return unknown_object(call, path);
    }
    match state.tree.get(path, interface, name) {
        Some(value) => call.method_return().append1(value.to_variant()),
        None => error(
            call,
            "org.freedesktop.DBus.Error.InvalidArgs",
            &format!("no property {interface}.{name}"),
        ),
    }
}

fn get_all(inner: &Inner, call: &Message, path: &str) -> Message {
    let Ok(interface) = call.read1::<&str>() else {
        return error(
            call,
            "org.freedesktop.DBus.Error.InvalidArgs",
            "expected (s)",
        );
    };
    let state = inner.lock();
    match state.tree.interfaces(path) {
        None => unknown_object(call, path),
        Some(interfaces) => match interfaces.get(interface) {
            Some(props) => call.method_return().append1(super::values::prop_map(props)),
            None => error(
                call,
                "org.freedesktop.DBus.Error.InvalidArgs",
                &format!("no interface {interface}"),
            ),
        },
    }
}

/// Only Adapter1.Powered is written by clients here; everything else BlueZ refuses too.
fn set(inner: &Inner, call: &Message, path: &str) -> Message {
    let Ok((interface, name, value)) = call.read3::<&str, &str, Variant<bool>>() else {
        return error(
            call,
            "org.freedesktop.DBus.Error.InvalidArgs",
            "only boolean properties are writable",
        );
    };
    let mut state = inner.lock();
    if !state.tree.contains(path) {
        return unknown_object(call, path);
    }
    if (interface, name) != (ADAPTER1, "Powered") || path != ADAPTER_PATH {
        return error(
            call,
            "org.freedesktop.DBus.Error.PropertyReadOnly",
            &format!("{interface}.{name} is read-only"),
        );
    }
    if let Some(changed) = state
        .tree
        .set(path, ADAPTER1, "Powered", Value::Bool(value.0))
    {
        inner.send(changed);
    }
    if !value.0 {
        stop_discovery_of_all(inner, &mut state);
    }
    call.method_return()
}

fn stop_discovery_of_all(inner: &Inner, state: &mut State) {
    state.discovery_clients.clear();
    if let Some(changed) = state
        .tree
        .set(ADAPTER_PATH, ADAPTER1, "Discovering", Value::Bool(false))
    {
        inner.send(changed);
    }
}

fn adapter_call(inner: &Inner, call: &Message, member: &str) -> Message {
    let sender = call.sender().map(|s| s.to_string()).unwrap_or_default();
    let mut state = inner.lock();
    match member {
        "StartDiscovery" => {
            if state.tree.get(ADAPTER_PATH, ADAPTER1, "Powered") != Some(&Value::Bool(true)) {
                return error(call, "org.bluez.Error.NotReady", "Resource Not Ready");
            }
            // One discovery session per client.
            if !state.discovery_clients.insert(sender) {
                return error(
                    call,
                    "org.bluez.Error.InProgress",
                    "Operation already in progress",
                );
            }
            if let Some(changed) =
                state
                    .tree
                    .set(ADAPTER_PATH, ADAPTER1, "Discovering", Value::Bool(true))
            {
                inner.send(changed);
            }
            call.method_return()
        }
        "StopDiscovery" => {
            if !state.discovery_clients.remove(&sender) {
                return error(call, "org.bluez.Error.Failed", "No discovery started");
            }
            if state.discovery_clients.is_empty() {
                stop_discovery_of_all(inner, &mut state);
            }
            call.method_return()
        }
        "SetDiscoveryFilter" => match call.read1::<PropMap>() {
            Ok(filter)
                if filter
                    .keys()
                    .all(|key| DISCOVERY_FILTERS.contains(&key.as_str())) =>
            {
                call.method_return()
            }
            _ => error(
                call,
                "org.bluez.Error.InvalidArguments",
                "Invalid arguments in method call",
            ),
        },
        "GetDiscoveryFilters" => call
            .method_return()
            .append1(DISCOVERY_FILTERS.map(str::to_owned).to_vec()),
        "RemoveDevice" => {
            let Ok(device) = call.read1::<dbus::Path>() else {
                return error(
                    call,
                    "org.bluez.Error.InvalidArguments",
                    "Invalid arguments in method call",
                );
            };
            let device = device.to_string();
            if !state.tree.contains(&device) {
                return error(call, "org.bluez.Error.DoesNotExist", "Does Not Exist");
            }
            remove_device(inner, &mut state, &device);
            call.method_return()
        }
        _ => error(
            call,
            "org.freedesktop.DBus.Error.UnknownMethod",
            &format!("no method {ADAPTER1}.{member}"),
        ),
    }
}

fn address_of(path: &str) -> Option<String> {
    let rest = path.strip_prefix(ADAPTER_PATH)?.strip_prefix("/dev_")?;
    let device = rest.split('/').next()?;
    Some(device.replace('_', ":"))
}

fn remove_device(inner: &Inner, state: &mut State, path: &str) {
    if let Some(address) = address_of(path) {
        if let Some(device) = state.devices.get_mut(&address) {
            if let Some(link) = device.link.take() {
                let _ = link.try_send(LinkCommand::Lose);
            }
            device.characteristics.clear();
        }
    }
    for removed in state.tree.remove(path) {
        inner.send(removed);
    }
}

fn device_interfaces(advert: &Advertisement, address: &str) -> Interfaces {
    let mut device = props([
        ("Address", Value::Str(address.to_owned())),
        ("AddressType", Value::Str("public".into())),
        ("Alias", Value::Str(address.replace(':', "-"))),
        ("Paired", Value::Bool(false)),
        ("Bonded", Value::Bool(false)),
        ("Trusted", Value::Bool(false)),
        ("Blocked", Value::Bool(false)),
        ("LegacyPairing", Value::Bool(false)),
        ("Connected", Value::Bool(false)),
        ("ServicesResolved", Value::Bool(false)),
        ("Adapter", Value::Path(ADAPTER_PATH.into())),
    ]);
    device.extend(advertised_props(advert));
    Interfaces::from([(DEVICE1.to_owned(), device)])
}

/// The Device1 properties an advertisement sets.
fn advertised_props(advert: &Advertisement) -> Vec<(String, Value)> {
    let mut out = Vec::new();
    if let Some(name) = &advert.local_name {
        out.push(("Name".to_owned(), Value::Str(name.clone())));
        out.push(("Alias".to_owned(), Value::Str(name.clone())));
    }
    if let Some(rssi) = advert.rssi {
        out.push(("RSSI".to_owned(), Value::I16(rssi)));
    }
    out.push((
        "ManufacturerData".to_owned(),
        Value::Manufacturer(advert.manufacturer_data.clone().into_iter().collect()),
    ));
    out.push((
        "ServiceData".to_owned(),
        Value::ServiceData(
            advert
                .service_data
                .iter()
                .map(|(uuid, data)| (uuid.to_string(), data.clone()))
                .collect(),
        ),
    ));
    let mut uuids: Vec<String> = advert.services.iter().map(Uuid::to_string).collect();
    uuids.sort();
    out.push(("UUIDs".to_owned(), Value::Strs(uuids)));
    out
}

/// Moves the simulated devices' advertisements into Device1 objects while anyone discovers,
/// as BlueZ does: a new device is InterfacesAdded, a changed one PropertiesChanged.
pub async fn advertise(inner: Arc<Inner>) {
    let Ok(mut feed) = inner.sim.advertisements().await else {
        return;
    };
    while let Some(advert) = feed.recv().await {
        let Some(address) = advert.address.as_ref().map(|a| a.0.clone()) else {
            continue;
        };
        let mut state = inner.lock();
        if state.discovery_clients.is_empty() {
            continue;
        }
        let path = device_path(&address);
        state.devices.entry(address.clone()).or_default();
        if !state.tree.contains(&path) {
            let added = state.tree.add(&path, device_interfaces(&advert, &address));
            inner.send(added);
            continue;
        }
        for (name, value) in advertised_props(&advert) {
            if let Some(changed) = state.tree.set(&path, DEVICE1, &name, value) {
                inner.send(changed);
            }
        }
    }
}

fn reply(inner: &Inner, message: Message) {
    inner.send(message);
}

async fn connect(inner: Arc<Inner>, call: Message, path: String) {
    let Some(address) = address_of(&path).filter(|_| inner.lock().tree.contains(&path)) else {
        return reply(&inner, unknown_object(&call, &path));
    };
    let answer = {
        let mut state = inner.lock();
        let answer = state.connect_answers.remove(&address);
        let device = state.devices.entry(address.clone()).or_default();
        if answer.is_none() && device.link.is_some() {
            // Already connected: BlueZ answers an LE Connect at once.
            drop(state);
            return reply(&inner, call.method_return());
        }
        if answer.is_none() && device.connecting {
            drop(state);
            return reply(
                &inner,
                error(&call, "org.bluez.Error.InProgress", "In Progress"),
            );
        }
        if answer.is_none() {
            device.connecting = true;
        }
        answer
    };
    match answer {
        Some(ConnectAnswer::Failed) => {
            return reply(
                &inner,
                error(
                    &call,
                    "org.bluez.Error.Failed",
                    "le-connection-abort-by-local",
                ),
            );
        }
        Some(ConnectAnswer::InProgress) => {
            return reply(
                &inner,
                error(&call, "org.bluez.Error.InProgress", "In Progress"),
            );
        }
        Some(ConnectAnswer::Hang) => return,
        Some(ConnectAnswer::Vanish) => {
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            let mut state = inner.lock();
            remove_device(&inner, &mut state, &path);
            drop(state);
            return reply(&inner, error(&call, "org.bluez.Error.Failed", "Cancelled"));
        }
        None => {}
    }
    let opened = inner.sim.connect(&DeviceAddress(address.clone())).await;
    let mut state = inner.lock();
    let generation = {
        state.link_generation += 1;
        state.link_generation
    };
    let device = state.devices.entry(address.clone()).or_default();
    device.connecting = false;
    let link = match opened {
        Ok(link) => link,
        Err(failure) => {
            drop(state);
            return reply(
                &inner,
                error(&call, "org.bluez.Error.Failed", &failure.to_string()),
            );
        }
    };
    if !state.tree.contains(&path) {
        // Removed while connecting.
        drop(state);
        return reply(&inner, error(&call, "org.bluez.Error.Failed", "Cancelled"));
    }
    let uuids = link.characteristics();
    let commands = {
        let inner = Arc::clone(&inner);
        let address = address.clone();
        link::spawn(link, move |report| {
            on_link_report(&inner, &address, generation, report)
        })
    };
    let device = state.devices.entry(address.clone()).or_default();
    device.link = Some(commands);
    device.link_generation = generation;
    if let Some(changed) = state
        .tree
        .set(&path, DEVICE1, "Connected", Value::Bool(true))
    {
        inner.send(changed);
    }
    let characteristics = add_gatt_objects(&inner, &mut state, &path, &uuids);
    if let Some(device) = state.devices.get_mut(&address) {
        device.characteristics = characteristics;
    }
    if let Some(changed) = state
        .tree
        .set(&path, DEVICE1, "ServicesResolved", Value::Bool(true))
    {
        inner.send(changed);
    }
    drop(state);
    reply(&inner, call.method_return());
}

/// Nuki characteristics are numbered from their service: a92ee201 belongs to a92ee200.
fn service_of(characteristic: Uuid) -> Uuid {
    Uuid::from_u128(characteristic.as_u128() & !(0xFFu128 << 96))
}

fn add_gatt_objects(
    inner: &Inner,
    state: &mut State,
    device: &str,
    characteristics: &[Uuid],
) -> BTreeMap<Uuid, String> {
    let mut by_service: BTreeMap<Uuid, Vec<Uuid>> = BTreeMap::new();
    for uuid in characteristics {
        by_service.entry(service_of(*uuid)).or_default().push(*uuid);
    }
    let mut paths = BTreeMap::new();
    for (index, (service, members)) in by_service.into_iter().enumerate() {
        let handle = 0x10 * (index + 1);
        let service_path = format!("{device}/service{handle:04x}");
        let added = state.tree.add(
            &service_path,
            Interfaces::from([(
                SERVICE1.to_owned(),
                props([
                    ("UUID", Value::Str(service.to_string())),
                    ("Device", Value::Path(device.to_owned())),
                    ("Primary", Value::Bool(true)),
                    ("Includes", Value::Paths(Vec::new())),
                    ("Handle", Value::U16(handle as u16)),
                ]),
            )]),
        );
        inner.send(added);
        for (offset, uuid) in members.into_iter().enumerate() {
            let char_handle = handle + 1 + 3 * offset;
            let char_path = format!("{service_path}/char{char_handle:04x}");
            let added = state.tree.add(
                &char_path,
                Interfaces::from([(
                    CHARACTERISTIC1.to_owned(),
                    props([
                        ("UUID", Value::Str(uuid.to_string())),
                        ("Service", Value::Path(service_path.clone())),
                        ("Value", Value::Bytes(Vec::new())),
                        ("Notifying", Value::Bool(false)),
                        (
                            "Flags",
                            Value::Strs(vec!["write".into(), "indicate".into()]),
                        ),
                        ("Handle", Value::U16(char_handle as u16)),
                        ("MTU", Value::U16(23)),
                    ]),
                )]),
            );
            inner.send(added);
            let desc_path = format!("{char_path}/desc{:04x}", char_handle + 2);
            let added = state.tree.add(
                &desc_path,
                Interfaces::from([(
                    DESCRIPTOR1.to_owned(),
                    props([
                        ("UUID", Value::Str(CCCD_UUID.into())),
                        ("Characteristic", Value::Path(char_path.clone())),
                        ("Value", Value::Bytes(Vec::new())),
                        ("Handle", Value::U16((char_handle + 2) as u16)),
                    ]),
                )]),
            );
            inner.send(added);
            paths.insert(uuid, char_path);
        }
    }
    paths
}

fn on_link_report(inner: &Inner, address: &str, generation: u64, report: LinkReport) {
    let mut state = inner.lock();
    let Some(device) = state.devices.get_mut(address) else {
        return;
    };
    if device.link_generation != generation {
        return;
    }
    match report {
        LinkReport::Indication(uuid, value) => {
            let Some(path) = device.characteristics.get(&uuid).cloned() else {
                return;
            };
            // Every indication is a change, even with the same bytes: BlueZ emits it anyway.
            state
                .tree
                .set(&path, CHARACTERISTIC1, "Value", Value::Bytes(Vec::new()));
            if let Some(changed) =
                state
                    .tree
                    .set(&path, CHARACTERISTIC1, "Value", Value::Bytes(value))
            {
                inner.send(changed);
            }
        }
        LinkReport::Ended => {
            device.link = None;
            device.link_generation = 0;
            device.characteristics.clear();
            let path = device_path(address);
            // BlueZ's order on a disconnect: services unresolved, then disconnected, then the
            // GATT objects of an unbonded device are removed.
            for (name, value) in [("ServicesResolved", false), ("Connected", false)] {
                if let Some(changed) = state.tree.set(&path, DEVICE1, name, Value::Bool(value)) {
                    inner.send(changed);
                }
            }
            let services: Vec<String> = state
                .tree
                .managed_objects()
                .keys()
                .map(|p| p.to_string())
                .filter(|p| p.starts_with(&format!("{path}/service")))
                .filter(|p| p.matches('/').count() == path.matches('/').count() + 1)
                .collect();
            for service in services {
                for removed in state.tree.remove(&service) {
                    inner.send(removed);
                }
            }
        }
    }
}

async fn disconnect(inner: Arc<Inner>, call: Message, path: String) {
    let link = {
        let state = inner.lock();
        if !state.tree.contains(&path) {
            drop(state);
            return reply(&inner, unknown_object(&call, &path));
        }
        address_of(&path)
            .and_then(|address| state.devices.get(&address))
            .and_then(|device| device.link.clone())
    };
    if let Some(link) = link {
        let (done, finished) = oneshot::channel();
        if link.send(LinkCommand::Disconnect(done)).await.is_ok() {
            let _ = finished.await;
        }
    }
    reply(&inner, call.method_return());
}

async fn characteristic_call(inner: Arc<Inner>, call: Message, path: String, member: String) {
    let found = {
        let state = inner.lock();
        address_of(&path)
            .and_then(|address| state.devices.get(&address))
            .and_then(|device| {
                let uuid = device
                    .characteristics
                    .iter()
                    .find(|(_, char_path)| **char_path == path)
                    .map(|(uuid, _)| *uuid)?;
                Some((uuid, device.link.clone()?))
            })
    };
    let Some((uuid, link)) = found else {
        return reply(&inner, unknown_object(&call, &path));
    };
    let answer = match member.as_str() {
        "WriteValue" => {
            let Ok((value, _options)) = call.read2::<Vec<u8>, PropMap>() else {
                return reply(
                    &inner,
                    error(
                        &call,
                        "org.bluez.Error.InvalidArguments",
                        "Invalid arguments in method call",
                    ),
                );
            };
            let (done, result) = oneshot::channel();
            if link
                .send(LinkCommand::Write(uuid, value, done))
                .await
                .is_err()
            {
                return reply(
                    &inner,
                    error(&call, "org.bluez.Error.Failed", "Not connected"),
                );
            }
            result.await
        }
        "StartNotify" => {
            if inner.lock().tree.get(&path, CHARACTERISTIC1, "Notifying")
                == Some(&Value::Bool(true))
            {
                return reply(&inner, call.method_return());
            }
            let (done, result) = oneshot::channel();
            if link.send(LinkCommand::Subscribe(uuid, done)).await.is_err() {
                return reply(
                    &inner,
                    error(&call, "org.bluez.Error.Failed", "Not connected"),
                );
            }
            let result = result.await;
            if matches!(result, Ok(Ok(()))) {
                let mut state = inner.lock();
                if let Some(changed) =
                    state
                        .tree
                        .set(&path, CHARACTERISTIC1, "Notifying", Value::Bool(true))
                {
                    inner.send(changed);
                }
            }
            result
        }
        "StopNotify" => {
            let mut state = inner.lock();
            if let Some(changed) =
                state
                    .tree
                    .set(&path, CHARACTERISTIC1, "Notifying", Value::Bool(false))
            {
                inner.send(changed);
            }
            Ok(Ok(()))
        }
        _ => {
            let value = match inner.lock().tree.get(&path, CHARACTERISTIC1, "Value") {
                Some(Value::Bytes(bytes)) => bytes.clone(),
                _ => Vec::new(),
            };
            return reply(&inner, call.method_return().append1(value));
        }
    };
    match answer {
        Ok(Ok(())) => reply(&inner, call.method_return()),
        Ok(Err(failure)) => reply(
            &inner,
            error(&call, "org.bluez.Error.Failed", &failure.to_string()),
        ),
        Err(_) => reply(
            &inner,
            error(&call, "org.bluez.Error.Failed", "Not connected"),
        ),
    }
}
