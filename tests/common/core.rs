//! The gateway core in-process, for tests that inject faults into the simulator directly.

use std::sync::Arc;
use std::time::Duration;

use nuki_edge::clock::SystemClock;
use nuki_edge::devices::fleet::Fleet;
use nuki_edge::gateway::{Gateway, GatewaySettings};
use nuki_edge::store::Store;

/// A gateway over `fleet` with a real store in a temporary directory that lives as long as
/// the test process.
pub fn gateway_over(fleet: Arc<Fleet>, action_deadline: Duration) -> Arc<Gateway> {
    gateway_with_clock(fleet, action_deadline, SystemClock::shared())
}

/// The same, going by `clock`.
pub fn gateway_with_clock(
    fleet: Arc<Fleet>,
    action_deadline: Duration,
    clock: nuki_edge::clock::SharedClock,
) -> Arc<Gateway> {
    let directory = tempfile::tempdir().expect("store directory");
    let store = Arc::new(Store::open(&directory.path().join("gateway.redb")).expect("store"));
    std::mem::forget(directory);
    Gateway::new(
        fleet,
        store,
        clock,
        GatewaySettings::with_action_deadline(action_deadline),
    )
}

/// Serves `router` exactly as the daemon does (composed with the shared middleware, on the
/// limited listener, with the client's address) on a free loopback port.
pub async fn serve_like_the_daemon(router: axum::Router) -> std::net::SocketAddr {
    serve_with_limits(router, nuki_edge::http::listener::ListenerLimits::default()).await
}

/// The same with the listener's limits given.
pub async fn serve_with_limits(
    router: axum::Router,
    limits: nuki_edge::http::listener::ListenerLimits,
) -> std::net::SocketAddr {
    use nuki_edge::http::listener::serve;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let address = listener.local_addr().expect("address");
    let router =
        nuki_edge::http::router::compose([router], nuki_edge::http::router::REQUEST_TIMEOUT);
    tokio::spawn(serve(
        listener,
        router,
        limits,
        tokio_util::sync::CancellationToken::new(),
        Duration::from_secs(1),
    ));
    address
}

/// The Bridge API in-process over one simulated, paired Smart Lock 4, served as the daemon
/// serves it; the simulator's control is at hand for faults.
pub struct OneLockBridge {
    pub base: String,
    pub address: std::net::SocketAddr,
    pub control: nuki_edge::ble::sim::SimControl,
    pub device: nuki_edge::ble::DeviceAddress,
    pub api: Arc<nuki_edge::http::server::BridgeApi>,
}

pub const ONE_LOCK_TOKEN: &str = "faulttoken1";
pub const ONE_LOCK_NUKI_ID: u32 = 0x5500_0001;

/// `motor_time`: how long the simulated motor runs per action; `deadline`: the gateway's
/// action deadline.
pub async fn one_lock_bridge(
    motor_time: Duration,
    deadline: Duration,
    limits: nuki_edge::http::listener::ListenerLimits,
) -> OneLockBridge {
    use nuki_edge::ble::sim::{RadioModel, SimDeviceSpec, SimKind, SimTransport};
    use nuki_edge::devices::fleet::FleetConfig;
    use nuki_edge::devices::link::LinkTimeouts;

    let mut spec = SimDeviceSpec::new(
        "sim:fault",
        "Fault Door",
        ONE_LOCK_NUKI_ID,
        SimKind::SmartLock4,
    );
    spec.motor_time = motor_time;
    let device = spec.address.clone();
    let radio = RadioModel {
        connection_interval: Duration::from_millis(5),
        connect_time: Duration::from_millis(20),
        connect_timeout: Duration::from_millis(500),
        ..RadioModel::default()
    };
    let (transport, control) = SimTransport::new(vec![spec.clone()], radio);
    let credentials = pair_sim_device(&transport, &control, &spec).await;
    let config = FleetConfig {
        timeouts: LinkTimeouts {
            connect: Duration::from_secs(1),
            command: Duration::from_secs(3),
        },
        ..FleetConfig::default()
    };
    let fleet = Fleet::start(Arc::new(transport), config, vec![credentials]);
    let gateway = gateway_over(fleet, deadline);
    let window = std::env::temp_dir().join(format!(
        "nuki-edge-one-lock-auth-window-{}",
        std::process::id()
    ));
    let api = bridge_api(gateway, ONE_LOCK_TOKEN, window);
    let address = serve_with_limits(api.router(), limits).await;
    OneLockBridge {
        base: format!("http://{address}"),
        address,
        control,
        device,
        api,
    }
}

/// Pairs a simulated device as a Bridge, as an installer would, and returns what the fleet
/// needs to talk to it.
pub async fn pair_sim_device(
    transport: &dyn nuki_edge::ble::BleTransport,
    control: &nuki_edge::ble::sim::SimControl,
    spec: &nuki_edge::ble::sim::SimDeviceSpec,
) -> nuki_edge::devices::credentials::DeviceCredentials {
    use nuki_edge::devices::link::{LinkTimeouts, NukiLink};
    use nuki_edge::nuki::enums::IdType;
    use nuki_edge::nuki::pairing::PairingRequest;
    const APP_ID: u32 = 77;
    control.press_button(&spec.address).expect("device exists");
    let mut link = NukiLink::connect(transport, &spec.address, LinkTimeouts::default(), None)
        .await
        .expect("connect");
    let outcome = link
        .pair(PairingRequest {
            id_type: IdType::Bridge,
            app_id: APP_ID,
            name: "test gateway".into(),
            security_pin: None,
        })
        .await
        .expect("pairing");
    link.disconnect().await;
    nuki_edge::devices::credentials::DeviceCredentials {
        address: spec.address.clone(),
        name: spec.name.clone(),
        nuki_id: spec.nuki_id,
        product: spec.kind,
        auth_id: outcome.auth_id,
        app_id: APP_ID,
        key: outcome.key,
        security_pin: spec.pin.map(|pin| {
            nuki_edge::nuki::messages::SecurityPin::for_family(pin, spec.kind.service_family())
        }),
    }
}

/// The Bridge API over `gateway` with `token`; `/auth` looks at `auth_window`.
pub fn bridge_api(
    gateway: Arc<Gateway>,
    token: &str,
    auth_window: std::path::PathBuf,
) -> Arc<nuki_edge::http::server::BridgeApi> {
    use nuki_edge::http::bridge_json::BridgeIdentity;
    use nuki_edge::http::callbacks::{Callbacks, DeliveryPolicy};
    use nuki_edge::http::server::{AuthWindow, BridgeApi};
    use nuki_edge::http::token::BridgeToken;
    let events = activity_log(&gateway);
    BridgeApi::new(
        gateway,
        BridgeToken::new(token).expect("token"),
        BridgeIdentity::new(7, 8).expect("identity"),
        Callbacks::new(DeliveryPolicy {
            attempts: 1,
            first_pause: Duration::from_millis(10),
            timeout: Duration::from_millis(500),
        }),
        AuthWindow { path: auth_window },
        events,
    )
}

/// The activity log on `gateway`'s store, with its recorder running until the gateway stops,
/// as the daemon has it.
pub fn activity_log(gateway: &Arc<Gateway>) -> Arc<nuki_edge::events::EventLog> {
    use nuki_edge::events::{EventLog, EventSettings, Recorder};
    let log = EventLog::open(gateway.store().clone(), EventSettings::default()).expect("event log");
    let recorder = Recorder::new(log.clone(), gateway.clone());
    tokio::spawn(recorder.run(gateway.stopping()));
    log
}

/// Hands every advertisement of the simulated radio to `gateway`, as the daemon's watcher
/// does, until the gateway stops.
pub async fn follow_advertisements(
    transport: &nuki_edge::ble::sim::SimTransport,
    gateway: Arc<Gateway>,
) {
    use nuki_edge::ble::BleTransport;
    let mut adverts = transport.advertisements().await.expect("advertisements");
    let stopping = gateway.stopping();
    tokio::spawn(async move {
        loop {
            tokio::select! {
                () = stopping.cancelled() => return,
                advert = adverts.recv() => match advert {
                    Some(advert) => {
                        gateway.on_advertisement(&advert);
                    }
                    None => return,
                },
            }
        }
    });
}
