//! The Bridge API when devices misbehave, with the simulator in the same process so that
//! faults can be injected: out of range, a link dropped mid-command, a jammed motor, a busy
//! device. Every request ends within the deadline with a clear answer.

use std::sync::Arc;
use std::time::{Duration, Instant};

use nuki_edge::ble::sim::{Fault, RadioModel, SimControl, SimDeviceSpec, SimKind, SimTransport};
use nuki_edge::devices::credentials::DeviceCredentials;
use nuki_edge::devices::fleet::{Fleet, FleetConfig};
use nuki_edge::devices::link::{LinkTimeouts, NukiLink};
use nuki_edge::gateway::Gateway;
use nuki_edge::http::bridge_json::BridgeIdentity;
use nuki_edge::http::callbacks::{Callbacks, DeliveryPolicy};
use nuki_edge::http::server::{AuthWindow, BridgeApi};
use nuki_edge::http::token::BridgeToken;
use nuki_edge::nuki::enums::IdType;
use nuki_edge::nuki::pairing::PairingRequest;
use serde_json::Value;

const TOKEN: &str = "faulttoken1";
const NUKI_ID: u32 = 0x5500_0001;
const DEADLINE: Duration = Duration::from_secs(4);

async fn serve() -> (String, SimControl, nuki_edge::ble::DeviceAddress) {
    let mut spec = SimDeviceSpec::new("sim:fault", "Fault Door", NUKI_ID, SimKind::SmartLock4);
    spec.motor_time = Duration::from_millis(300);
    let address = spec.address.clone();
    let radio = RadioModel {
        connection_interval: Duration::from_millis(5),
        connect_time: Duration::from_millis(20),
        connect_timeout: Duration::from_millis(500),
        ..RadioModel::default()
    };
    let (transport, control) = SimTransport::new(vec![spec.clone()], radio);
    control.press_button(&address).expect("device exists");
    let mut link = NukiLink::connect(&transport, &address, LinkTimeouts::default(), None)
        .await
        .expect("connect");
    let outcome = link
        .pair(PairingRequest {
            id_type: IdType::Bridge,
            app_id: 5,
            name: "faults".into(),
            security_pin: None,
        })
        .await
        .expect("pairing");
    link.disconnect().await;
    let credentials = DeviceCredentials {
        address: address.clone(),
        name: spec.name.clone(),
        nuki_id: NUKI_ID,
        product: spec.kind,
        auth_id: outcome.auth_id,
        app_id: 5,
        key: outcome.key,
        security_pin: None,
    };
    let config = FleetConfig {
        timeouts: LinkTimeouts {
            connect: Duration::from_secs(1),
            command: Duration::from_secs(3),
        },
        ..FleetConfig::default()
    };
    let fleet = Fleet::start(Arc::new(transport), config, vec![credentials]);
    let gateway = Gateway::new(fleet, DEADLINE);
    let api = BridgeApi::new(
        gateway,
        BridgeToken::new(TOKEN).expect("token"),
        BridgeIdentity::new(7, 8).expect("identity"),
        Callbacks::new(DeliveryPolicy {
            attempts: 1,
            first_pause: Duration::from_millis(10),
            timeout: Duration::from_secs(1),
        }),
        AuthWindow {
            path: std::env::temp_dir().join("nuki-edge-faults-auth-window"),
        },
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("address"));
    let router = api.router();
    tokio::spawn(async move { axum::serve(listener, router).await });
    (base, control, address)
}

async fn action(base: &str, code: u8) -> (u16, Value, Duration) {
    let started = Instant::now();
    let response = reqwest::get(format!(
        "{base}/lockAction?nukiId={NUKI_ID}&action={code}&token={TOKEN}"
    ))
    .await
    .expect("request");
    let status = response.status().as_u16();
    (
        status,
        response.json().await.unwrap_or(Value::Null),
        started.elapsed(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn faults_end_in_clear_answers_within_the_deadline() {
    let (base, control, address) = serve().await;

    let (status, body, _) = action(&base, 1).await;
    assert_eq!(
        (status, body["success"].clone()),
        (200, Value::Bool(true)),
        "{body}"
    );

    // Link dropped mid-command: unlock is repeatable, so the gateway reconnects and finishes.
    control
        .inject_fault(&address, Fault::DropLinkMidCommand)
        .expect("exists");
    let (status, body, took) = action(&base, 2).await;
    assert_eq!(
        (status, body["success"].clone()),
        (200, Value::Bool(true)),
        "{body}"
    );
    // A guard against hanging, not a speed test: far beyond the deadline means it hung.
    assert!(took < 2 * DEADLINE, "answered after {took:?}");

    // A jammed motor and a busy device are reported as such.
    control.inject_fault(&address, Fault::Jam).expect("exists");
    let (status, body, _) = action(&base, 1).await;
    assert_eq!(status, 200);
    assert_eq!(body["success"], false);
    assert!(
        body["error"]
            .as_str()
            .is_some_and(|e| e.contains("motor blocked")),
        "{body}"
    );
    control.inject_fault(&address, Fault::Busy).expect("exists");
    let (status, body, _) = action(&base, 1).await;
    assert_eq!(status, 503, "busy: clients retry on 503: {body}");

    // Out of range: a clear error before the deadline, never a hang.
    control.set_in_range(&address, false).expect("exists");
    tokio::time::sleep(Duration::from_secs(3)).await; // the idle link closes
    let (status, body, took) = action(&base, 1).await;
    assert_eq!(status, 200);
    assert_eq!(body["success"], false, "{body}");
    let error = body["error"].as_str().unwrap_or_default();
    assert!(
        error.contains("unreachable") || error.contains("deadline"),
        "{body}"
    );
    assert!(took < 2 * DEADLINE, "never hangs: answered after {took:?}");
}
