//! One live API connection to a proxy: the greeting, then a single task that reads every
//! message and hands it to the advertisement feed, the slot reports or the link it concerns
//! (by device address), and writes what links and keep-alives send.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use esphome_native_api::parser::ProtoMessage;
use esphome_native_api::proto::{
    AuthenticationRequest, DeviceInfoRequest, DeviceInfoResponse, DisconnectResponse, HelloRequest,
    PingRequest, PingResponse, SubscribeBluetoothConnectionsFreeRequest,
    SubscribeBluetoothLeAdvertisementsRequest,
};
use tokio::net::TcpStream;
use tokio::sync::{broadcast, mpsc, watch};

use super::convert;
use super::key::ApiKey;
use super::wire::{self, FrameReader, FrameWriter, WireError};
use crate::ble::{Advertisement, SlotReport};

/// `BluetoothProxyFeature` flags of the device info.
pub(super) const FEATURE_ACTIVE_CONNECTIONS: u32 = 1 << 1;
pub(super) const FEATURE_REMOTE_CACHING: u32 = 1 << 2;
pub(super) const FEATURE_RAW_ADVERTISEMENTS: u32 = 1 << 5;
/// `BluetoothProxySubscriptionFlag`: advertisements as raw AD structures, batched.
const SUBSCRIBE_RAW_ADVERTISEMENTS: u32 = 1;
/// API 1.10: what ESPHome has spoken since 2024 and what the crate's messages describe.
const API_MAJOR: u32 = 1;
const API_MINOR: u32 = 10;
/// Messages the links and keep-alives queue for the writer; a full queue waits.
const OUTGOING_QUEUE: usize = 64;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SessionError {
    #[error("{0}")]
    Wire(#[from] WireError),
    #[error("unreachable: {0}")]
    Unreachable(String),
    #[error("the device is not a Bluetooth proxy with active connections and raw advertisements (feature flags {0:#x})")]
    NotAProxy(u32),
    #[error("the proxy asks for an API password, which nuki-edge does not support")]
    PasswordRequired,
    #[error("the proxy speaks API version {0}, nuki-edge speaks 1")]
    ApiVersion(u32),
    #[error("no message from the proxy for {0:?}")]
    Silent(Duration),
    #[error("the proxy closed the API connection")]
    ProxyDisconnected,
}

/// Where the reader delivers what is not for a single link; outlives every session.
pub(super) struct Outlets {
    pub adverts: broadcast::Sender<Advertisement>,
    pub slots: watch::Sender<SlotReport>,
    /// The address type (public or random) each device advertised with, for connecting.
    pub address_types: Mutex<HashMap<u64, u32>>,
}

pub(super) struct Session {
    outgoing: mpsc::Sender<ProtoMessage>,
    routes: Mutex<HashMap<u64, mpsc::UnboundedSender<ProtoMessage>>>,
    features: u32,
}

impl Session {
    /// Connects, greets and subscribes; returns the session and the future that runs it
    /// until the connection ends, with the reason.
    pub(super) async fn open(
        target: &str,
        key: Option<&ApiKey>,
        keepalive: Duration,
        outlets: Arc<Outlets>,
    ) -> Result<
        (
            Arc<Session>,
            impl std::future::Future<Output = SessionError>,
        ),
        SessionError,
    > {
        let stream = TcpStream::connect(target)
            .await
            .map_err(|error| SessionError::Unreachable(error.to_string()))?;
        let (mut reader, mut writer) = wire::open(stream, key).await?;
        let features = greet(&mut reader, &mut writer).await?;
        writer
            .send(&ProtoMessage::SubscribeBluetoothLeAdvertisementsRequest(
                SubscribeBluetoothLeAdvertisementsRequest {
                    flags: SUBSCRIBE_RAW_ADVERTISEMENTS,
                },
            ))
            .await?;
        writer
            .send(&ProtoMessage::SubscribeBluetoothConnectionsFreeRequest(
                SubscribeBluetoothConnectionsFreeRequest {},
            ))
            .await?;
        let (outgoing, queued) = mpsc::channel(OUTGOING_QUEUE);
        let session = Arc::new(Session {
            outgoing,
            routes: Mutex::new(HashMap::new()),
            features,
        });
        let run = run(
            Arc::clone(&session),
            reader,
            writer,
            queued,
            keepalive,
            outlets,
        );
        Ok((session, run))
    }

    pub(super) fn features(&self) -> u32 {
        self.features
    }

    pub(super) async fn send(&self, message: ProtoMessage) -> bool {
        self.outgoing.send(message).await.is_ok()
    }

    /// For a link's drop, which cannot wait.
    pub(super) fn send_now(&self, message: ProtoMessage) {
        if self.outgoing.try_send(message).is_err() {
            tracing::debug!("ESPHome proxy queue full or closed; message dropped");
        }
    }

    /// The messages about one device from now on; `None` while another link has it.
    pub(super) fn route(&self, address: u64) -> Option<mpsc::UnboundedReceiver<ProtoMessage>> {
        let mut routes = self.routes();
        if routes
            .get(&address)
            .is_some_and(|sender| !sender.is_closed())
        {
            return None;
        }
        let (sender, receiver) = mpsc::unbounded_channel();
        routes.insert(address, sender);
        Some(receiver)
    }

    pub(super) fn unroute(&self, address: u64) {
        self.routes().remove(&address);
    }

    fn routes(&self) -> MutexGuard<'_, HashMap<u64, mpsc::UnboundedSender<ProtoMessage>>> {
        // Plain data: a panic elsewhere while holding it leaves nothing half-done.
        self.routes
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn deliver(&self, address: u64, message: ProtoMessage) {
        if let Some(sender) = self.routes().get(&address) {
            // A link that went away has nothing left to learn.
            let _ = sender.send(message);
        }
    }
}

/// Hello, login (older firmware wants it even without a password) and the device info, sent
/// together as ESPHome's own clients do.
async fn greet(reader: &mut FrameReader, writer: &mut FrameWriter) -> Result<u32, SessionError> {
    writer
        .send(&ProtoMessage::HelloRequest(HelloRequest {
            client_info: "nuki-edge".into(),
            api_version_major: API_MAJOR,
            api_version_minor: API_MINOR,
        }))
        .await?;
    writer
        .send(&ProtoMessage::AuthenticationRequest(
            AuthenticationRequest {
                password: String::new(),
            },
        ))
        .await?;
    writer
        .send(&ProtoMessage::DeviceInfoRequest(DeviceInfoRequest {}))
        .await?;
    loop {
        match reader.read().await? {
            ProtoMessage::HelloResponse(hello) if hello.api_version_major != API_MAJOR => {
                return Err(SessionError::ApiVersion(hello.api_version_major));
            }
            ProtoMessage::AuthenticationResponse(login) if login.invalid_password => {
                return Err(SessionError::PasswordRequired);
            }
            ProtoMessage::PingRequest(_) => {
                writer
                    .send(&ProtoMessage::PingResponse(PingResponse {}))
                    .await?;
            }
            ProtoMessage::DeviceInfoResponse(info) => return check_proxy(&info),
            _ => {}
        }
    }
}

fn check_proxy(info: &DeviceInfoResponse) -> Result<u32, SessionError> {
    let flags = info.bluetooth_proxy_feature_flags;
    let needed = FEATURE_ACTIVE_CONNECTIONS | FEATURE_RAW_ADVERTISEMENTS;
    if flags & needed != needed {
        return Err(SessionError::NotAProxy(flags));
    }
    Ok(flags)
}

async fn run(
    session: Arc<Session>,
    reader: FrameReader,
    writer: FrameWriter,
    queued: mpsc::Receiver<ProtoMessage>,
    keepalive: Duration,
    outlets: Arc<Outlets>,
) -> SessionError {
    // Dropping the routes ends every link's queue, which the links report as Disconnected;
    // a guard so that this also happens when the proxy is dropped mid-session.
    struct EndLinks(Arc<Session>);
    impl Drop for EndLinks {
        fn drop(&mut self) {
            self.0.routes().clear();
        }
    }
    let _end_links = EndLinks(Arc::clone(&session));
    tokio::select! {
        ended = read_loop(&session, reader, keepalive, &outlets) => ended,
        ended = write_loop(writer, queued, keepalive) => ended,
    }
}

async fn read_loop(
    session: &Session,
    mut reader: FrameReader,
    keepalive: Duration,
    outlets: &Outlets,
) -> SessionError {
    let silence = keepalive * 3;
    loop {
        let message = match tokio::time::timeout(silence, reader.read()).await {
            Ok(Ok(message)) => message,
            Ok(Err(error)) => return error.into(),
            Err(_) => return SessionError::Silent(silence),
        };
        match message {
            ProtoMessage::PingRequest(_) => {
                if !session
                    .send(ProtoMessage::PingResponse(PingResponse {}))
                    .await
                {
                    return WireError::Closed.into();
                }
            }
            ProtoMessage::DisconnectRequest(_) => {
                session
                    .send(ProtoMessage::DisconnectResponse(DisconnectResponse {}))
                    .await;
                return SessionError::ProxyDisconnected;
            }
            ProtoMessage::BluetoothLeRawAdvertisementsResponse(batch) => {
                for raw in batch.advertisements {
                    if let Ok(mut types) = outlets.address_types.lock() {
                        types.insert(raw.address, raw.address_type);
                    }
                    let heard = convert::parse_raw_advertisement(raw.address, raw.rssi, &raw.data);
                    // Nobody listening is fine: the feed has nothing to keep.
                    let _ = outlets.adverts.send(heard);
                }
            }
            ProtoMessage::BluetoothConnectionsFreeResponse(report) => {
                outlets.slots.send_replace(SlotReport {
                    free: usize::try_from(report.free).unwrap_or(0),
                    limit: usize::try_from(report.limit).unwrap_or(0),
                });
            }
            message => {
                if let Some(address) = device_of(&message) {
                    session.deliver(address, message);
                }
            }
        }
    }
}

async fn write_loop(
    mut writer: FrameWriter,
    mut queued: mpsc::Receiver<ProtoMessage>,
    keepalive: Duration,
) -> SessionError {
    let mut ping = tokio::time::interval(keepalive);
    ping.tick().await;
    loop {
        let message = tokio::select! {
            message = queued.recv() => match message {
                Some(message) => message,
                None => return WireError::Closed.into(),
            },
            _ = ping.tick() => ProtoMessage::PingRequest(PingRequest {}),
        };
        if let Err(error) = writer.send(&message).await {
            return error.into();
        }
    }
}

/// The device a link message is about.
fn device_of(message: &ProtoMessage) -> Option<u64> {
    Some(match message {
        ProtoMessage::BluetoothDeviceConnectionResponse(m) => m.address,
        ProtoMessage::BluetoothGattGetServicesResponse(m) => m.address,
        ProtoMessage::BluetoothGattGetServicesDoneResponse(m) => m.address,
        ProtoMessage::BluetoothGattWriteResponse(m) => m.address,
        ProtoMessage::BluetoothGattErrorResponse(m) => m.address,
        ProtoMessage::BluetoothGattNotifyResponse(m) => m.address,
        ProtoMessage::BluetoothGattNotifyDataResponse(m) => m.address,
        _ => return None,
    })
}
