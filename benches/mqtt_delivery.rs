//! The activity log's delivery to MQTT against a plain rumqttc publisher, both at QoS 1 to a
//! real mosquitto on loopback: the delivery (read from the store, publish pipelined, wait
//! for the acknowledgements, save the cursor) should reach at least half the plain rate.
//!
//! * `mqtt_delivery N`: N events (20 000 when N is not a number).
//! * Without arguments (as `cargo test --all-targets` runs it): a short smoke run.
//!
//! Needs mosquitto (`/usr/sbin/mosquitto`); without it the run says so and does nothing.

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use nuki_edge::access::Rights;
use nuki_edge::ble::sim::{RadioModel, SimTransport};
use nuki_edge::ble::DeviceAddress;
use nuki_edge::clock::SystemClock;
use nuki_edge::devices::fleet::{Fleet, FleetConfig};
use nuki_edge::events::{EventLog, EventSettings, Recorder};
use nuki_edge::gateway::{Gateway, GatewayEvent, GatewaySettings};
use nuki_edge::mqtt::delivery::{self, DELIVERY_CONSUMER};
use nuki_edge::mqtt::{MqttSettings, Topics};
use nuki_edge::store::Store;
use rumqttc::{AsyncClient, MqttOptions, PublishOptions};
use tokio_util::sync::CancellationToken;

const SMOKE_EVENTS: u64 = 300;
const FULL_EVENTS: u64 = 20_000;
/// Events stored per recorder batch while the log is filled.
const FILL_BATCH: usize = 256;
/// Hang guard of each run.
const RUN_LIMIT: Duration = Duration::from_secs(300);
const POLL: Duration = Duration::from_millis(5);

struct Broker {
    child: Child,
    port: u16,
}

impl Drop for Broker {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn mosquitto() -> Option<PathBuf> {
    ["/usr/sbin/mosquitto", "/usr/bin/mosquitto"]
        .into_iter()
        .map(PathBuf::from)
        .find(|path| path.exists())
}

fn start_broker(binary: &Path, dir: &Path) -> Broker {
    let port = TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|address| address.port())
        .expect("a free port");
    let config = dir.join("mosquitto.conf");
    std::fs::write(
        &config,
        format!("allow_anonymous true\npersistence false\nlistener {port} 127.0.0.1\n"),
    )
    .expect("broker config");
    let child = Command::new(binary)
        .arg("-c")
        .arg(&config)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("mosquitto starts");
    let address = SocketAddr::from(([127, 0, 0, 1], port));
    let deadline = Instant::now() + RUN_LIMIT;
    while TcpStream::connect_timeout(&address, POLL).is_err() {
        assert!(Instant::now() < deadline, "mosquitto did not listen");
        std::thread::sleep(POLL);
    }
    Broker { child, port }
}

/// A log of `count` events on a fresh store, and the gateway it belongs to.
fn filled_log(dir: &Path, count: u64) -> (Arc<Gateway>, Arc<EventLog>) {
    let (transport, _control) = SimTransport::new(Vec::new(), RadioModel::default());
    let fleet = Fleet::start(Arc::new(transport), FleetConfig::default(), Vec::new());
    let store = Arc::new(Store::open(&dir.join("bench.redb")).expect("store"));
    let gateway = Gateway::new(
        fleet,
        store.clone(),
        SystemClock::shared(),
        GatewaySettings::with_action_deadline(Duration::from_secs(5)),
    );
    let settings = EventSettings {
        max_entries: count + 1_000,
        max_age_days: 30,
    };
    let log = EventLog::open(store, settings).expect("log");
    let recorder = Recorder::new(log.clone(), gateway.clone());
    let events: Vec<GatewayEvent> = (0..count)
        .map(|i| GatewayEvent::DeviceConnected {
            device: DeviceAddress(format!("54:D2:72:00:{:02X}:{:02X}", i / 256 % 256, i % 256)),
        })
        .collect();
    for chunk in events.chunks(FILL_BATCH) {
        recorder.record(chunk.to_vec()).expect("recorded");
    }
    (gateway, log)
}

/// Events per second of the activity log's delivery, from the first event to the last
/// acknowledged one.
async fn delivery_rate(port: u16, gateway: Arc<Gateway>, log: Arc<EventLog>, count: u64) -> f64 {
    // From the start of the log, as a gateway that was down while all of it was stored.
    log.save_cursor(DELIVERY_CONSUMER, 0).expect("cursor");
    let settings = MqttSettings {
        host: "127.0.0.1".to_owned(),
        port,
        client_id: "bench-delivery".to_owned(),
        credentials: None,
        topics: Topics::new("nuki", "homeassistant"),
        tls: None,
        rights: Rights::of(&[]),
        health_interval: Duration::from_secs(60),
        gateway_name: "bench".to_owned(),
    };
    let shutdown = CancellationToken::new();
    let (handle, task) = nuki_edge::mqtt::start(gateway, settings, shutdown.clone()).expect("mqtt");
    let interface = tokio::spawn(task);
    handle.until_connected().await;
    let subscription = delivery::open(log.clone()).expect("subscription");
    let stats = handle.delivery_stats();
    let started = Instant::now();
    let delivering = tokio::spawn(delivery::deliver(
        handle,
        log,
        subscription,
        shutdown.clone(),
    ));
    while stats.delivered() < count {
        assert!(
            started.elapsed() < RUN_LIMIT,
            "delivery stalled at {}",
            stats.delivered()
        );
        tokio::time::sleep(POLL).await;
    }
    let elapsed = started.elapsed();
    shutdown.cancel();
    let _ = delivering.await;
    let _ = interface.await;
    count as f64 / elapsed.as_secs_f64()
}

/// Events per second of a plain rumqttc publisher: the same JSON payloads, every one issued
/// at QoS 1, then every acknowledgement awaited.
async fn plain_rate(port: u16, log: &EventLog, count: u64) -> f64 {
    let payloads: Vec<String> = log
        .after(0, usize::try_from(count).expect("count"))
        .expect("events")
        .iter()
        .map(|event| serde_json::to_string(event).expect("json"))
        .collect();
    let options = MqttOptions::new("bench-plain", ("127.0.0.1", port));
    let (client, mut eventloop) = AsyncClient::builder(options).capacity(4096).build();
    let polling = tokio::spawn(async move { while eventloop.poll().await.is_ok() {} });
    let started = Instant::now();
    let mut notices = Vec::with_capacity(payloads.len());
    for payload in payloads {
        notices.push(
            client
                .publish_tracked("bench/plain", payload, PublishOptions::at_least_once())
                .await
                .expect("queued"),
        );
    }
    for notice in notices {
        notice.wait_completion_async().await.expect("acknowledged");
    }
    let elapsed = started.elapsed();
    let _ = client.try_disconnect_now();
    polling.abort();
    count as f64 / elapsed.as_secs_f64()
}

fn main() {
    let count = match std::env::args().nth(1) {
        Some(arg) => arg.parse().unwrap_or(FULL_EVENTS),
        None => SMOKE_EVENTS,
    };
    let Some(binary) = mosquitto() else {
        println!("mqtt_delivery: mosquitto is not installed; nothing measured");
        return;
    };
    let dir = tempfile::tempdir().expect("directory");
    let broker = start_broker(&binary, dir.path());
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let (gateway, log) = runtime.block_on(async { filled_log(dir.path(), count) });
    let plain = runtime.block_on(plain_rate(broker.port, &log, count));
    let delivered = runtime.block_on(delivery_rate(broker.port, gateway, log, count));
    println!(
        "mqtt_delivery: {count} events; plain rumqttc {plain:.0}/s, activity log delivery {delivered:.0}/s ({:.0} % of plain)",
        delivered / plain * 100.0
    );
}
