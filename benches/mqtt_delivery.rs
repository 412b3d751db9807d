//! The activity log's delivery to MQTT against a plain rumqttc publisher, both at QoS 1 to a
//! real mosquitto on loopback, in the same run:
//!
//! * **throughput**: a backlog delivered as fast as it goes (read from the store, published
//!   pipelined, acknowledgements awaited, cursor saved) against the same payloads published
//!   by a plain client; the target is at least half the plain rate;
//! * **outage**: the backlog of a 10-minute broker outage at 10 events/s (6 000 events), and
//!   how long it takes to drain once the broker is back;
//! * **sustained**: events stored at a steady rate while delivery runs, with the end-to-end
//!   latency (stored → received by a subscriber) p50/p99, against a plain client publishing
//!   at the same rate.
//!
//! `cargo bench --bench mqtt_delivery` runs the full sizes; without arguments (as
//! `cargo test --all-targets` runs it) every part runs small, as a smoke test.
//! Needs mosquitto (`/usr/sbin/mosquitto`); without it the run says so and does nothing.

use std::collections::HashMap;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
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
use rumqttc::{AsyncClient, Event, MqttOptions, Packet, PublishOptions, QoS};
use tokio_util::sync::CancellationToken;

/// The sizes of one run.
struct Sizes {
    throughput_events: u64,
    outage_events: u64,
    sustained_rate: u64,
    sustained_seconds: u64,
}

const FULL: Sizes = Sizes {
    throughput_events: 20_000,
    // Ten minutes at ten events per second.
    outage_events: 6_000,
    sustained_rate: 1_000,
    sustained_seconds: 10,
};
const SMOKE: Sizes = Sizes {
    throughput_events: 300,
    outage_events: 100,
    sustained_rate: 200,
    sustained_seconds: 1,
};
/// The producer of the sustained runs stores (or publishes) a slice of events this often.
const TICK: Duration = Duration::from_millis(10);
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

/// A log of `count` events on a fresh store named `name`, and the gateway it belongs to.
fn filled_log(dir: &Path, name: &str, count: u64) -> (Arc<Gateway>, Arc<EventLog>, Recorder) {
    let (transport, _control) = SimTransport::new(Vec::new(), RadioModel::default());
    let fleet = Fleet::start(Arc::new(transport), FleetConfig::default(), Vec::new());
    let store = Arc::new(Store::open(&dir.join(format!("{name}.redb"))).expect("store"));
    let gateway = Gateway::new(
        fleet,
        store.clone(),
        SystemClock::shared(),
        GatewaySettings::with_action_deadline(Duration::from_secs(5)),
    );
    let settings = EventSettings {
        max_entries: count + 100_000,
        max_age_days: 30,
    };
    let log = EventLog::open(store, settings).expect("log");
    let recorder = Recorder::new(log.clone(), gateway.clone());
    let events = connections(0, count);
    for chunk in events.chunks(FILL_BATCH) {
        recorder.record(chunk.to_vec()).expect("recorded");
    }
    (gateway, log, recorder)
}

/// `count` small events (a device connected), numbered from `first`.
fn connections(first: u64, count: u64) -> Vec<GatewayEvent> {
    (first..first + count)
        .map(|i| GatewayEvent::DeviceConnected {
            device: DeviceAddress(format!("54:D2:72:00:{:02X}:{:02X}", i / 256 % 256, i % 256)),
        })
        .collect()
}

/// The gateway's MQTT interface and the log's delivery, running until the token is cancelled.
struct Delivery {
    stats: Arc<nuki_edge::mqtt::delivery::DeliveryStats>,
    shutdown: CancellationToken,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Delivery {
    async fn start(port: u16, gateway: Arc<Gateway>, log: Arc<EventLog>) -> Self {
        let settings = MqttSettings {
            host: "127.0.0.1".to_owned(),
            port,
            client_id: format!("bench-delivery-{}", log.latest_id()),
            credentials: None,
            topics: Topics::new("nuki", "homeassistant"),
            tls: None,
            rights: Rights::of(&[]),
            health_interval: Duration::from_secs(60),
            gateway_name: "bench".to_owned(),
        };
        let shutdown = CancellationToken::new();
        let (handle, task) =
            nuki_edge::mqtt::start(gateway, settings, shutdown.clone()).expect("mqtt");
        let interface = tokio::spawn(async move {
            let _ = task.await;
        });
        handle.until_connected().await;
        let subscription = delivery::open(log.clone()).expect("subscription");
        let stats = handle.delivery_stats();
        let delivering = tokio::spawn(delivery::deliver(
            handle,
            log,
            subscription,
            shutdown.clone(),
        ));
        Self {
            stats,
            shutdown,
            tasks: vec![interface, delivering],
        }
    }

    async fn until_delivered(&self, count: u64) {
        let started = Instant::now();
        while self.stats.delivered() < count {
            assert!(
                started.elapsed() < RUN_LIMIT,
                "delivery stalled at {}",
                self.stats.delivered()
            );
            tokio::time::sleep(POLL).await;
        }
    }

    async fn stop(self) {
        self.shutdown.cancel();
        for task in self.tasks {
            let _ = task.await;
        }
    }
}

/// How long the delivery takes for a backlog of `count` events stored while the broker was
/// away (the gateway connects with all of it waiting, from its cursor).
async fn delivery_drain(port: u16, dir: &Path, name: &str, count: u64) -> Duration {
    let (gateway, log, _recorder) = filled_log(dir, name, count);
    // From the start of the log, as a gateway that was cut off while all of it was stored.
    log.save_cursor(DELIVERY_CONSUMER, 0).expect("cursor");
    let started = Instant::now();
    let delivery = Delivery::start(port, gateway, log).await;
    delivery.until_delivered(count).await;
    let elapsed = started.elapsed();
    delivery.stop().await;
    elapsed
}

/// How long a plain rumqttc publisher takes for the same payloads: every one issued at
/// QoS 1, then every acknowledgement awaited.
async fn plain_drain(port: u16, dir: &Path, name: &str, count: u64) -> Duration {
    let (_gateway, log, _recorder) = filled_log(dir, name, count);
    let payloads: Vec<String> = log
        .after(0, usize::try_from(count).expect("count"))
        .expect("events")
        .iter()
        .map(|event| serde_json::to_string(event).expect("json"))
        .collect();
    let (client, polling) = plain_client(port, name);
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
    elapsed
}

fn plain_client(port: u16, name: &str) -> (AsyncClient, tokio::task::JoinHandle<()>) {
    let options = MqttOptions::new(format!("bench-plain-{name}"), ("127.0.0.1", port));
    let (client, mut eventloop) = AsyncClient::builder(options).capacity(4096).build();
    let polling = tokio::spawn(async move { while eventloop.poll().await.is_ok() {} });
    (client, polling)
}

/// When each event id arrived at a subscriber of `topic`.
type Arrivals = Arc<Mutex<HashMap<u64, Instant>>>;

async fn subscriber(port: u16, topic: &str) -> (Arrivals, tokio::task::JoinHandle<()>) {
    let arrivals: Arrivals = Arc::default();
    let options = MqttOptions::new(format!("bench-subscriber-{topic}"), ("127.0.0.1", port));
    let (client, mut eventloop) = AsyncClient::builder(options).capacity(64).build();
    let (subscribed_tx, subscribed_rx) = tokio::sync::oneshot::channel();
    let seen = arrivals.clone();
    let topic = topic.to_owned();
    let task = tokio::spawn(async move {
        let mut subscribed_tx = Some(subscribed_tx);
        loop {
            match eventloop.poll().await {
                Ok(Event::Incoming(Packet::ConnAck(_))) => {
                    let _ = client.try_subscribe(topic.clone(), QoS::AtLeastOnce);
                }
                Ok(Event::Incoming(Packet::SubAck(_))) => {
                    if let Some(tx) = subscribed_tx.take() {
                        let _ = tx.send(());
                    }
                }
                Ok(Event::Incoming(Packet::Publish(publish))) => {
                    let at = Instant::now();
                    let id = serde_json::from_slice::<serde_json::Value>(&publish.payload)
                        .ok()
                        .and_then(|json| json["id"].as_u64());
                    if let Some(id) = id {
                        seen.lock().expect("arrivals").entry(id).or_insert(at);
                    }
                }
                Ok(_) => {}
                Err(_) => return,
            }
        }
    });
    tokio::time::timeout(RUN_LIMIT, subscribed_rx)
        .await
        .expect("subscribed in time")
        .expect("subscribed");
    (arrivals, task)
}

/// What a sustained run measured: the rate that arrived and the latencies.
struct Sustained {
    rate: f64,
    p50: Duration,
    p99: Duration,
}

async fn until_arrived(arrivals: &Arrivals, count: usize) {
    let started = Instant::now();
    while arrivals.lock().expect("arrivals").len() < count {
        assert!(started.elapsed() < RUN_LIMIT, "the subscriber stalled");
        tokio::time::sleep(POLL).await;
    }
}

fn summarize(sent: &HashMap<u64, Instant>, arrivals: &Arrivals) -> Sustained {
    let arrivals = arrivals.lock().expect("arrivals");
    let mut latencies: Vec<Duration> = sent
        .iter()
        .filter_map(|(id, at)| Some(arrivals.get(id)?.saturating_duration_since(*at)))
        .collect();
    latencies.sort();
    let first = sent.values().min().copied().expect("something sent");
    let last = arrivals.values().max().copied().expect("something arrived");
    let pick = |share: f64| {
        let index = ((latencies.len() as f64 - 1.0) * share).round() as usize;
        latencies[index.min(latencies.len() - 1)]
    };
    Sustained {
        rate: latencies.len() as f64 / last.duration_since(first).as_secs_f64(),
        p50: pick(0.5),
        p99: pick(0.99),
    }
}

/// Events stored at `rate` per second for `seconds` while the delivery runs; latency from
/// the moment each event was stored to its arrival at a subscriber of `gateway/events`.
async fn delivery_sustained(port: u16, dir: &Path, sizes: &Sizes) -> Sustained {
    let (gateway, log, recorder) = filled_log(dir, "sustained", 0);
    let (arrivals, listening) = subscriber(port, "nuki/gateway/events").await;
    let delivery = Delivery::start(port, gateway, log).await;
    let per_tick = per_tick(sizes);
    let ticks = ticks(sizes);
    let recorder = Arc::new(recorder);
    let mut sent = HashMap::new();
    let mut pace = tokio::time::interval(TICK);
    for tick in 0..ticks {
        pace.tick().await;
        let recorder = recorder.clone();
        let events = connections(tick * per_tick, per_tick);
        let (ids, at) = tokio::task::spawn_blocking(move || {
            let ids = recorder.record(events).expect("recorded");
            (ids, Instant::now())
        })
        .await
        .expect("recording");
        sent.extend(ids.into_iter().map(|id| (id, at)));
    }
    until_arrived(&arrivals, sent.len()).await;
    delivery.stop().await;
    listening.abort();
    summarize(&sent, &arrivals)
}

/// The same with a plain rumqttc client publishing each slice at QoS 1 as it is made.
async fn plain_sustained(port: u16, sizes: &Sizes) -> Sustained {
    let (arrivals, listening) = subscriber(port, "bench/sustained").await;
    let (client, polling) = plain_client(port, "sustained");
    let per_tick = per_tick(sizes);
    let mut sent = HashMap::new();
    let mut pace = tokio::time::interval(TICK);
    for tick in 0..ticks(sizes) {
        pace.tick().await;
        for id in tick * per_tick..(tick + 1) * per_tick {
            let payload = format!(r#"{{"id":{id},"kind":"connected"}}"#);
            sent.insert(id, Instant::now());
            client
                .publish("bench/sustained", payload, PublishOptions::at_least_once())
                .await
                .expect("queued");
        }
    }
    until_arrived(&arrivals, sent.len()).await;
    let _ = client.try_disconnect_now();
    polling.abort();
    listening.abort();
    summarize(&sent, &arrivals)
}

fn per_tick(sizes: &Sizes) -> u64 {
    (sizes.sustained_rate * TICK.as_millis() as u64 / 1_000).max(1)
}

fn ticks(sizes: &Sizes) -> u64 {
    sizes.sustained_seconds * 1_000 / TICK.as_millis() as u64
}

fn rate(count: u64, took: Duration) -> f64 {
    count as f64 / took.as_secs_f64()
}

fn millis(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1e3
}

fn main() {
    let sizes = if std::env::args().any(|arg| arg == "--bench") {
        FULL
    } else {
        SMOKE
    };
    let Some(binary) = mosquitto() else {
        println!("mqtt_delivery: mosquitto is not installed; nothing measured");
        return;
    };
    let dir = tempfile::tempdir().expect("directory");
    let broker = start_broker(&binary, dir.path());
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let port = broker.port;
    runtime.block_on(async {
        let count = sizes.throughput_events;
        let plain = plain_drain(port, dir.path(), "plain", count).await;
        let delivered = delivery_drain(port, dir.path(), "throughput", count).await;
        println!(
            "throughput, {count} events at QoS 1: plain rumqttc {:.0}/s, activity log delivery {:.0}/s ({:.0} % of plain)",
            rate(count, plain),
            rate(count, delivered),
            rate(count, delivered) / rate(count, plain) * 100.0
        );

        let count = sizes.outage_events;
        let plain = plain_drain(port, dir.path(), "plain-outage", count).await;
        let drained = delivery_drain(port, dir.path(), "outage", count).await;
        println!(
            "backlog of an outage ({count} events): drained in {:.0} ms (plain rumqttc publishing the same: {:.0} ms)",
            millis(drained),
            millis(plain)
        );

        let plain = plain_sustained(port, &sizes).await;
        let delivered = delivery_sustained(port, dir.path(), &sizes).await;
        println!(
            "sustained {} events/s for {} s, stored/published -> subscriber: plain rumqttc {:.0}/s p50 {:.1} ms p99 {:.1} ms; activity log delivery {:.0}/s p50 {:.1} ms p99 {:.1} ms",
            sizes.sustained_rate,
            sizes.sustained_seconds,
            plain.rate,
            millis(plain.p50),
            millis(plain.p99),
            delivered.rate,
            millis(delivered.p50),
            millis(delivered.p99)
        );
    });
}
