//! A fake ESPHome Bluetooth proxy: the ESPHome native API (Noise-encrypted, through the
//! `esphome-native-api` crate's device side) on 127.0.0.1 over real TCP, in front of any
//! `BleTransport` (typically a simulated building). Strict where a real proxy is: no message
//! without the Noise handshake, no connect beyond its free slots, no write to an unknown
//! handle, no notify on a characteristic that cannot notify or indicate.
//!
//! Usable from tests (`mod fake_esphome;`) and benches
//! (`#[path = "../tests/fake_esphome/mod.rs"] mod fake_esphome;`).

#![allow(dead_code)]

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;

use esphome_native_api::esphomeapi::EspHomeApi;
use esphome_native_api::parser::ProtoMessage;
use esphome_native_api::proto::{
    BluetoothConnectionsFreeResponse, BluetoothDeviceConnectionResponse, BluetoothDeviceRequest,
    BluetoothGattCharacteristic, BluetoothGattDescriptor, BluetoothGattErrorResponse,
    BluetoothGattGetServicesDoneResponse, BluetoothGattGetServicesResponse,
    BluetoothGattNotifyDataResponse, BluetoothGattNotifyResponse, BluetoothGattService,
    BluetoothGattWriteResponse, BluetoothLeRawAdvertisement, BluetoothLeRawAdvertisementsResponse,
};
use nuki_edge::ble::esphome::{format_address, parse_address, uuid_to_api};
use nuki_edge::ble::{Advertisement, BleError, BleLink, BleTransport};
use tokio::net::{TcpSocket, TcpStream};
use tokio::sync::{mpsc, watch};
use tokio::task::{JoinHandle, JoinSet};
use uuid::Uuid;

/// PASSIVE_SCAN | ACTIVE_CONNECTIONS | REMOTE_CACHING | RAW_ADVERTISEMENTS.
pub const PROXY_FEATURES: u32 = 1 | 2 | 4 | 32;
/// What ESPHome sends for a connect beyond its slots: not connected, no error code.
const NO_SLOT_ERROR: i32 = 0;
/// ESP-IDF's usual "connection failed" (0x85, GATT_ERROR).
const CONNECT_FAILED_ERROR: i32 = 0x85;
const GATT_INVALID_HANDLE: i32 = 0x01;
const GATT_REQUEST_NOT_SUPPORTED: i32 = 0x06;
const GATT_NOT_CONNECTED: i32 = 0x0103;
const PROPERTY_WRITE: u32 = 0x08;
const PROPERTY_INDICATE: u32 = 0x20;
const CCCD: u32 = 0x2902;
const MTU: u32 = 247;

#[derive(Debug, Clone)]
pub struct FakeProxyOptions {
    pub name: String,
    /// Base64 API key; `None` serves the plaintext API.
    pub key: Option<String>,
    /// Link slots (ESPHome's default is 3).
    pub limit: usize,
    pub feature_flags: u32,
    /// Characteristics served without notify/indicate (write only).
    pub write_only: Vec<Uuid>,
}

impl Default for FakeProxyOptions {
    fn default() -> Self {
        Self {
            name: "hall".into(),
            key: None,
            limit: 3,
            feature_flags: PROXY_FEATURES,
            write_only: Vec::new(),
        }
    }
}

/// A running fake proxy. Dropping it (or [`FakeEsphomeProxy::kill`]) closes its port, its
/// TCP connections and every link it holds on the inner transport.
pub struct FakeEsphomeProxy {
    address: SocketAddr,
    slots: Arc<Slots>,
    accept: JoinHandle<()>,
}

struct Slots {
    limit: usize,
    used: watch::Sender<usize>,
}

impl Slots {
    fn report(&self) -> BluetoothConnectionsFreeResponse {
        let used = *self.used.borrow();
        BluetoothConnectionsFreeResponse {
            free: u32::try_from(self.limit.saturating_sub(used)).unwrap_or(0),
            limit: u32::try_from(self.limit).unwrap_or(0),
            allocated: Vec::new(),
        }
    }

    fn take(self: &Arc<Self>) -> Option<SlotGuard> {
        let mut taken = false;
        self.used.send_if_modified(|used| {
            taken = *used < self.limit;
            if taken {
                *used += 1;
            }
            taken
        });
        taken.then(|| SlotGuard(Arc::clone(self)))
    }
}

struct SlotGuard(Arc<Slots>);

impl Drop for SlotGuard {
    fn drop(&mut self) {
        self.0
            .used
            .send_modify(|used| *used = used.saturating_sub(1));
    }
}

struct Proxy {
    inner: Arc<dyn BleTransport>,
    options: FakeProxyOptions,
    slots: Arc<Slots>,
}

impl FakeEsphomeProxy {
    pub async fn start(inner: Arc<dyn BleTransport>, options: FakeProxyOptions) -> Self {
        Self::start_on(inner, options, 0).await
    }

    /// On a given port, to restart a killed proxy where the backend looks for it.
    pub async fn start_on(
        inner: Arc<dyn BleTransport>,
        options: FakeProxyOptions,
        port: u16,
    ) -> Self {
        let socket = TcpSocket::new_v4().expect("socket");
        socket.set_reuseaddr(true).expect("reuseaddr");
        socket
            .bind(SocketAddr::from(([127, 0, 0, 1], port)))
            .expect("bind the fake proxy's port");
        let listener = socket.listen(16).expect("listen");
        let address = listener.local_addr().expect("local address");
        let slots = Arc::new(Slots {
            limit: options.limit,
            used: watch::Sender::new(0),
        });
        let proxy = Arc::new(Proxy {
            inner,
            options,
            slots: Arc::clone(&slots),
        });
        let accept = tokio::spawn(async move {
            // Dropped with this task: aborts every client connection and its links.
            let mut clients = JoinSet::new();
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                clients.spawn(serve_client(stream, Arc::clone(&proxy)));
                while clients.try_join_next().is_some() {}
            }
        });
        Self {
            address,
            slots,
            accept,
        }
    }

    pub fn port(&self) -> u16 {
        self.address.port()
    }

    pub fn open_links(&self) -> usize {
        *self.slots.used.borrow()
    }

    /// As a power cut: the port, the TCP connections and the links end at once.
    pub fn kill(self) {}
}

impl Drop for FakeEsphomeProxy {
    fn drop(&mut self) {
        self.accept.abort();
    }
}

/// The crate's device side runs on one end of an in-memory pipe and we pump the other end to
/// the socket, so that killing this task really closes the TCP connection.
async fn serve_client(mut stream: TcpStream, proxy: Arc<Proxy>) {
    let (api_side, mut pump_side) = tokio::io::duplex(64 * 1024);
    let api = EspHomeApi::builder()
        .name(proxy.options.name.clone())
        .encryption_key_opt(proxy.options.key.clone())
        .bluetooth_proxy_feature_flags(proxy.options.feature_flags)
        .build()
        .expect("fake proxy configuration");
    let session = async {
        match api.start(api_side).await {
            Ok(connection) => serve_api(connection, &proxy).await,
            Err(error) => eprintln!("fake ESPHome proxy refused a client: {error}"),
        }
    };
    let pump = tokio::io::copy_bidirectional(&mut stream, &mut pump_side);
    tokio::pin!(pump);
    tokio::select! {
        _ = &mut pump => {}
        () = session => {
            // Let a refusal (a wrong key) reach the client before the socket closes.
            let _ = tokio::time::timeout(std::time::Duration::from_secs(1), &mut pump).await;
        }
    }
}

fn unbounded_incoming(
    mut from: tokio::sync::broadcast::Receiver<ProtoMessage>,
) -> mpsc::UnboundedReceiver<ProtoMessage> {
    let (to, incoming) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        loop {
            match from.recv().await {
                Ok(message) => {
                    if to.send(message).is_err() {
                        return;
                    }
                }
                Err(tokio::sync::broadcast::error::RecvError::Lagged(lost)) => {
                    panic!("fake ESPHome proxy fell behind by {lost} messages");
                }
                Err(tokio::sync::broadcast::error::RecvError::Closed) => return,
            }
        }
    });
    incoming
}

enum LinkCommand {
    GetServices,
    Write { handle: u32, data: Vec<u8> },
    WriteDescriptor { handle: u32 },
    Notify { handle: u32 },
    Disconnect,
}

async fn serve_api(connection: esphome_native_api::Connection, proxy: &Proxy) {
    let out = connection.sender();
    // The crate's receiver holds 16 messages; a client's burst (100 locks' GATT writes)
    // outruns a loop that also awaits its own sends, so a task that does nothing else moves
    // them into an unbounded queue.
    let mut incoming = unbounded_incoming(connection.receiver());
    let mut links: HashMap<u64, mpsc::UnboundedSender<LinkCommand>> = HashMap::new();
    let mut tasks = JoinSet::new();
    let (ended_tx, mut ended) = mpsc::unbounded_channel::<u64>();
    let mut slot_changes = proxy.slots.used.subscribe();
    let mut reports_free = false;
    loop {
        tokio::select! {
            message = incoming.recv() => {
                let Some(message) = message else {
                    return;
                };
                match message {
                    ProtoMessage::SubscribeBluetoothLeAdvertisementsRequest(request) => {
                        // Only raw advertisements (flag 1) are implemented here.
                        assert_eq!(request.flags & 1, 1, "fake proxy serves raw advertisements only");
                        tasks.spawn(forward_advertisements(Arc::clone(&proxy.inner), out.clone()));
                    }
                    ProtoMessage::SubscribeBluetoothConnectionsFreeRequest(_) => {
                        reports_free = true;
                        let _ = out.send(ProtoMessage::BluetoothConnectionsFreeResponse(proxy.slots.report())).await;
                    }
                    ProtoMessage::BluetoothDeviceRequest(request) => {
                        device_request(request, proxy, &out, &mut links, &mut tasks, &ended_tx).await;
                    }
                    message => route_gatt(message, &links, &out).await,
                }
            }
            Ok(()) = slot_changes.changed(), if reports_free => {
                let _ = out.send(ProtoMessage::BluetoothConnectionsFreeResponse(proxy.slots.report())).await;
            }
            Some(address) = ended.recv() => {
                links.retain(|a, commands| *a != address || !commands.is_closed());
            }
        }
    }
}

async fn device_request(
    request: BluetoothDeviceRequest,
    proxy: &Proxy,
    out: &mpsc::Sender<ProtoMessage>,
    links: &mut HashMap<u64, mpsc::UnboundedSender<LinkCommand>>,
    tasks: &mut JoinSet<()>,
    ended: &mpsc::UnboundedSender<u64>,
) {
    let address = request.address;
    // 0 connect (legacy), 4/5 connect V3 with/without cache, 1 disconnect.
    match request.request_type {
        0 | 4 | 5 => {
            let open = links.get(&address).is_some_and(|c| !c.is_closed());
            let slot = if open { None } else { proxy.slots.take() };
            let Some(slot) = slot else {
                let _ = out
                    .send(connection_response(address, false, NO_SLOT_ERROR))
                    .await;
                return;
            };
            let (commands, receiver) = mpsc::unbounded_channel();
            links.insert(address, commands);
            tasks.spawn(run_link(
                Arc::clone(&proxy.inner),
                proxy.options.write_only.clone(),
                address,
                receiver,
                out.clone(),
                slot,
                ended.clone(),
            ));
        }
        1 => match links.get(&address) {
            Some(commands) if commands.send(LinkCommand::Disconnect).is_ok() => {}
            _ => {
                let _ = out.send(connection_response(address, false, 0)).await;
            }
        },
        _ => {}
    }
}

async fn route_gatt(
    message: ProtoMessage,
    links: &HashMap<u64, mpsc::UnboundedSender<LinkCommand>>,
    out: &mpsc::Sender<ProtoMessage>,
) {
    let (address, handle, command) = match message {
        ProtoMessage::BluetoothGattGetServicesRequest(m) => {
            (m.address, 0, LinkCommand::GetServices)
        }
        ProtoMessage::BluetoothGattWriteRequest(m) => (
            m.address,
            m.handle,
            LinkCommand::Write {
                handle: m.handle,
                data: m.data,
            },
        ),
        ProtoMessage::BluetoothGattWriteDescriptorRequest(m) => (
            m.address,
            m.handle,
            LinkCommand::WriteDescriptor { handle: m.handle },
        ),
        ProtoMessage::BluetoothGattNotifyRequest(m) => (
            m.address,
            m.handle,
            LinkCommand::Notify { handle: m.handle },
        ),
        _ => return,
    };
    let sent = links
        .get(&address)
        .is_some_and(|commands| commands.send(command).is_ok());
    if !sent {
        let _ = out
            .send(gatt_error(address, handle, GATT_NOT_CONNECTED))
            .await;
    }
}

struct Served {
    uuid: Uuid,
    handle: u32,
    cccd: u32,
    properties: u32,
}

fn table(characteristics: &[Uuid], write_only: &[Uuid]) -> Vec<Served> {
    characteristics
        .iter()
        .zip(0u32..)
        .map(|(uuid, index)| {
            let handle = 0x10 + index * 3;
            let indicate = if write_only.contains(uuid) {
                0
            } else {
                PROPERTY_INDICATE
            };
            Served {
                uuid: *uuid,
                handle,
                cccd: handle + 1,
                properties: PROPERTY_WRITE | indicate,
            }
        })
        .collect()
}

async fn run_link(
    inner: Arc<dyn BleTransport>,
    write_only: Vec<Uuid>,
    address: u64,
    mut commands: mpsc::UnboundedReceiver<LinkCommand>,
    out: mpsc::Sender<ProtoMessage>,
    slot: SlotGuard,
    ended: mpsc::UnboundedSender<u64>,
) {
    let mut link = match inner.connect(&format_address(address)).await {
        Ok(link) => link,
        Err(error) => {
            eprintln!("fake ESPHome proxy: connect to {address:#x} failed: {error}");
            drop(slot);
            let _ = out
                .send(connection_response(address, false, CONNECT_FAILED_ERROR))
                .await;
            let _ = ended.send(address);
            return;
        }
    };
    let served = table(&link.characteristics(), &write_only);
    let _ = out.send(connection_response(address, true, 0)).await;
    loop {
        tokio::select! {
            command = commands.recv() => {
                let Some(command) = command else { break };
                if let LinkCommand::Disconnect = command {
                    let _ = link.disconnect().await;
                    break;
                }
                if !serve_command(command, link.as_mut(), &served, address, &out).await {
                    break;
                }
            }
            indication = link.next_indication() => {
                let Ok(indication) = indication else { break };
                if let Some(c) = served.iter().find(|c| c.uuid == indication.characteristic) {
                    let _ = out.send(ProtoMessage::BluetoothGattNotifyDataResponse(BluetoothGattNotifyDataResponse {
                        address,
                        handle: c.handle,
                        data: indication.value,
                    })).await;
                }
            }
        }
    }
    drop(link);
    drop(slot);
    let _ = out.send(connection_response(address, false, 0)).await;
    let _ = ended.send(address);
}

/// Serves one GATT request; `false` when the link to the device is lost.
async fn serve_command(
    command: LinkCommand,
    link: &mut dyn BleLink,
    served: &[Served],
    address: u64,
    out: &mpsc::Sender<ProtoMessage>,
) -> bool {
    let answer = match command {
        LinkCommand::GetServices => {
            let _ = out.send(services(served, address)).await;
            ProtoMessage::BluetoothGattGetServicesDoneResponse(
                BluetoothGattGetServicesDoneResponse { address },
            )
        }
        LinkCommand::Write { handle, data } => match served.iter().find(|c| c.handle == handle) {
            None => gatt_error(address, handle, GATT_INVALID_HANDLE),
            Some(c) => match link.write(c.uuid, &data).await {
                Ok(()) => ProtoMessage::BluetoothGattWriteResponse(BluetoothGattWriteResponse {
                    address,
                    handle,
                }),
                Err(BleError::Disconnected) => return false,
                Err(_) => gatt_error(address, handle, CONNECT_FAILED_ERROR),
            },
        },
        LinkCommand::WriteDescriptor { handle } => match served.iter().any(|c| c.cccd == handle) {
            true => ProtoMessage::BluetoothGattWriteResponse(BluetoothGattWriteResponse {
                address,
                handle,
            }),
            false => gatt_error(address, handle, GATT_INVALID_HANDLE),
        },
        LinkCommand::Notify { handle } => match served.iter().find(|c| c.handle == handle) {
            None => gatt_error(address, handle, GATT_INVALID_HANDLE),
            Some(c) if c.properties & PROPERTY_INDICATE == 0 => {
                gatt_error(address, handle, GATT_REQUEST_NOT_SUPPORTED)
            }
            Some(c) => match link.subscribe(c.uuid).await {
                Ok(()) => ProtoMessage::BluetoothGattNotifyResponse(BluetoothGattNotifyResponse {
                    address,
                    handle,
                }),
                Err(BleError::Disconnected) => return false,
                Err(_) => gatt_error(address, handle, CONNECT_FAILED_ERROR),
            },
        },
        LinkCommand::Disconnect => return false,
    };
    let _ = out.send(answer).await;
    true
}

/// One service holding every characteristic: 128-bit UUIDs as two u64, the CCCD as a short
/// UUID, so the client handles both forms. The service UUID is the first characteristic's
/// with its last byte of the first group zeroed (Nuki's own numbering: …e200 → …e201).
fn services(served: &[Served], address: u64) -> ProtoMessage {
    let service_uuid = served
        .first()
        .map(|c| {
            let mut bytes = *c.uuid.as_bytes();
            bytes[3] = 0;
            Uuid::from_bytes(bytes)
        })
        .unwrap_or_default();
    let characteristics = served
        .iter()
        .map(|c| BluetoothGattCharacteristic {
            uuid: uuid_to_api(c.uuid),
            handle: c.handle,
            properties: c.properties,
            descriptors: vec![BluetoothGattDescriptor {
                uuid: Vec::new(),
                handle: c.cccd,
                short_uuid: CCCD,
            }],
            short_uuid: 0,
        })
        .collect();
    ProtoMessage::BluetoothGattGetServicesResponse(BluetoothGattGetServicesResponse {
        address,
        services: vec![BluetoothGattService {
            uuid: uuid_to_api(service_uuid),
            handle: 0x0F,
            characteristics,
            short_uuid: 0,
        }],
    })
}

fn connection_response(address: u64, connected: bool, error: i32) -> ProtoMessage {
    ProtoMessage::BluetoothDeviceConnectionResponse(BluetoothDeviceConnectionResponse {
        address,
        connected,
        mtu: if connected { MTU } else { 0 },
        error,
    })
}

fn gatt_error(address: u64, handle: u32, error: i32) -> ProtoMessage {
    ProtoMessage::BluetoothGattErrorResponse(BluetoothGattErrorResponse {
        address,
        handle,
        error,
    })
}

async fn forward_advertisements(inner: Arc<dyn BleTransport>, out: mpsc::Sender<ProtoMessage>) {
    let Ok(mut feed) = inner.advertisements().await else {
        return;
    };
    while let Some(advert) = feed.recv().await {
        let Some(raw) = encode_advertisement(&advert) else {
            continue;
        };
        let batch = BluetoothLeRawAdvertisementsResponse {
            advertisements: vec![raw],
        };
        if out
            .send(ProtoMessage::BluetoothLeRawAdvertisementsResponse(batch))
            .await
            .is_err()
        {
            return;
        }
    }
}

/// Our advertisement as a proxy hears it: AD structures (flags, name, manufacturer data,
/// 128-bit service data and service list); `None` for a device without a MAC address.
pub fn encode_advertisement(advert: &Advertisement) -> Option<BluetoothLeRawAdvertisement> {
    let address = parse_address(advert.address.as_ref()?)?;
    let mut data = Vec::new();
    push_structure(&mut data, 0x01, &[0x06]);
    if let Some(name) = &advert.local_name {
        push_structure(&mut data, 0x09, name.as_bytes());
    }
    for (company, payload) in &advert.manufacturer_data {
        push_structure(
            &mut data,
            0xFF,
            &[&company.to_le_bytes()[..], payload].concat(),
        );
    }
    for (uuid, payload) in &advert.service_data {
        push_structure(&mut data, 0x21, &[&uuid_le(*uuid)[..], payload].concat());
    }
    if !advert.services.is_empty() {
        let list: Vec<u8> = advert.services.iter().flat_map(|u| uuid_le(*u)).collect();
        push_structure(&mut data, 0x07, &list);
    }
    Some(BluetoothLeRawAdvertisement {
        address,
        rssi: i32::from(advert.rssi.unwrap_or(-60)),
        address_type: 0,
        data,
    })
}

fn push_structure(data: &mut Vec<u8>, kind: u8, value: &[u8]) {
    data.push(u8::try_from(value.len() + 1).expect("AD structure fits"));
    data.push(kind);
    data.extend_from_slice(value);
}

fn uuid_le(uuid: Uuid) -> [u8; 16] {
    let mut bytes = *uuid.as_bytes();
    bytes.reverse();
    bytes
}
