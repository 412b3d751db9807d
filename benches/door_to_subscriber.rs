//! From a turn by hand at a simulated door to the home-automation system: how long until the
//! door's new state is on MQTT (`nuki/<ID>/state`) and at a Bridge callback, through the real
//! daemon binary, a real mosquitto and a real HTTP receiver, at the demo's radio settings
//! (30 ms connection interval, 200 ms connect, 20-byte fragments, adverts every 500 ms).
//! The official Bridge takes 10–12 s; the floor is the bolt's travel (1.5 s in the
//! simulator) plus one advertisement interval plus a connect and one state read.
//!
//! `cargo bench --bench door_to_subscriber` (needs mosquitto). Prints p50/p99 over
//! `TURNS` turns and, measured in the same run before each turn, the time `/lockState` takes
//! to connect to the idle lock and read its state once: the floor's radio part.

#[path = "../tests/common/mod.rs"]
mod common;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::bridge_client::urlencode;
use common::config::{ConfigBuilder, SimDeviceEntry};
use common::daemon::Daemon;
use common::mosquitto::Mosquitto;
use nuki_edge::app::control;
use nuki_edge::app::sim_cli::{ManualTurn, SimControlRequest, SimEvent, SimRequest};
use nuki_edge::config::{Config, IdType};
use nuki_edge::nuki::product::ProductType as DeviceKind;
use rumqttc::{AsyncClient, Event, MqttOptions, Packet, QoS};
use serde_json::Value;

const TURNS: usize = 40;
/// Under `cargo test` (no `--bench` argument) two turns show the benchmark still works.
const SMOKE_TURNS: usize = 2;
const NUKI_ID: u32 = 0x5460_0001;
const DOOR: &str = "Bench door";
/// Between turns the link goes idle and closes (idle disconnect 2 s), as between two
/// residents: each turn is then noticed through the advertisement, as in real life.
const PAUSE_BETWEEN_TURNS: Duration = Duration::from_millis(3_000);
const HANG_GUARD: Duration = Duration::from_secs(30);
/// The simulated bolt's travel (sim default) and advertisement interval (sim default).
const MOTOR_TIME_MS: u64 = 1_500;
const ADVERT_INTERVAL_MS: u64 = 500;

type Arrivals = Arc<Mutex<Vec<(Instant, Value)>>>;

async fn callback_receiver() -> (String, Arrivals) {
    let arrivals: Arrivals = Arc::default();
    let router = {
        let arrivals = arrivals.clone();
        axum::Router::new().route(
            "/hook",
            axum::routing::post(move |axum::Json(body): axum::Json<Value>| {
                let arrivals = arrivals.clone();
                async move {
                    arrivals.lock().expect("lock").push((Instant::now(), body));
                    "ok"
                }
            }),
        )
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let url = format!("http://{}/hook", listener.local_addr().expect("address"));
    tokio::spawn(async move { axum::serve(listener, router).await });
    (url, arrivals)
}

async fn mqtt_states(port: u16) -> Arrivals {
    let arrivals: Arrivals = Arc::default();
    let mut options = MqttOptions::new("bench-subscriber", ("127.0.0.1", port));
    options.set_keep_alive(5);
    let (client, mut eventloop) = AsyncClient::builder(options).capacity(64).build();
    let topic = format!("nuki/{NUKI_ID:08X}/state");
    let seen = arrivals.clone();
    tokio::spawn(async move {
        loop {
            match eventloop.poll().await {
                Ok(Event::Incoming(Packet::ConnAck(_))) => {
                    let _ = client.try_subscribe(topic.clone(), QoS::AtMostOnce);
                }
                Ok(Event::Incoming(Packet::Publish(publish))) if !publish.retain => {
                    let payload = String::from_utf8_lossy(&publish.payload).into_owned();
                    if let Ok(state) = payload.trim().parse::<u64>() {
                        seen.lock()
                            .expect("lock")
                            .push((Instant::now(), Value::from(state)));
                    }
                }
                Ok(_) => {}
                Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
            }
        }
    });
    arrivals
}

/// The first arrival after `since` whose value is `wanted`.
async fn first_after(
    arrivals: &Arrivals,
    since: Instant,
    wanted: impl Fn(&Value) -> bool,
) -> Duration {
    let deadline = Instant::now() + HANG_GUARD;
    loop {
        let found = arrivals
            .lock()
            .expect("lock")
            .iter()
            .find(|(at, value)| *at >= since && wanted(value))
            .map(|(at, _)| *at - since);
        if let Some(latency) = found {
            return latency;
        }
        if Instant::now() >= deadline {
            let seen: Vec<String> = arrivals
                .lock()
                .expect("lock")
                .iter()
                .map(|(at, value)| format!("{:?} {value}", at.checked_duration_since(since)))
                .collect();
            panic!("nothing wanted arrived within {HANG_GUARD:?}; seen: {seen:?}");
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

fn percentile(sorted: &[Duration], share: f64) -> Duration {
    let index = ((sorted.len() as f64 - 1.0) * share).round() as usize;
    sorted[index.min(sorted.len() - 1)]
}

fn report(what: &str, mut samples: Vec<Duration>) {
    samples.sort();
    println!(
        "{what:<44} p50 {:>7.1} ms  p99 {:>7.1} ms  (n = {})",
        percentile(&samples, 0.5).as_secs_f64() * 1e3,
        percentile(&samples, 0.99).as_secs_f64() * 1e3,
        samples.len()
    );
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let turns = if std::env::args().any(|arg| arg == "--bench") {
        TURNS
    } else {
        SMOKE_TURNS
    };
    let broker = Mosquitto::start();
    let test_config = ConfigBuilder::new()
        .bridge_token("benchtoken1")
        .auto_pair(IdType::Bridge)
        .set("sim", "connection_interval_ms", 30_i64)
        .set("sim", "connect_time_ms", 200_i64)
        .set("sim", "fragment_len", 20_i64)
        .set("mqtt", "host", "127.0.0.1")
        .set("mqtt", "port", i64::from(broker.port))
        .device(SimDeviceEntry::new(
            DeviceKind::SmartLock4,
            DOOR,
            "54:D2:72:60:00:01",
            NUKI_ID,
        ))
        .build();
    let config = Config::load(std::path::Path::new(test_config.arg())).expect("config");
    let socket = control::socket_path(&config);
    let states = mqtt_states(broker.port).await;
    let mut daemon = Daemon::start(&test_config);
    daemon.wait_ready();
    let (hook, callbacks) = callback_receiver().await;
    let (added, _) = daemon
        .bridge()
        .get_authorized(&format!("/callback/add?url={}", urlencode(&hook)))
        .await;
    assert_eq!(added, 200);

    let mut to_mqtt = Vec::new();
    let mut to_callback = Vec::new();
    let mut state_reads = Vec::new();
    for turn in 0..turns {
        tokio::time::sleep(PAUSE_BETWEEN_TURNS).await;
        // The floor's radio part, in the same run: connecting to the idle lock and reading
        // its state once (`/lockState` reads the device), before the link closes again.
        let read = Instant::now();
        let (status, _) = daemon
            .bridge()
            .get_authorized(&format!("/lockState?nukiId={NUKI_ID}&deviceType=4"))
            .await;
        assert_eq!(status, 200);
        state_reads.push(read.elapsed());
        tokio::time::sleep(PAUSE_BETWEEN_TURNS).await;
        // A simulated lock starts locked: the first turn unlocks it, so every turn changes it.
        let (action, lock_state) = if turn % 2 == 0 {
            (ManualTurn::Unlock, 3)
        } else {
            (ManualTurn::Lock, 1)
        };
        let request = SimControlRequest {
            sim: SimRequest {
                device: DOOR.into(),
                event: SimEvent::Turn { action },
            },
        };
        let turned = Instant::now();
        control::request(&socket, &request, HANG_GUARD)
            .await
            .expect("control socket")
            .expect("a daemon answers");
        to_mqtt.push(first_after(&states, turned, |state| state == lock_state).await);
        to_callback.push(first_after(&callbacks, turned, |body| body["state"] == lock_state).await);
    }
    println!("turn by hand at a simulated door (demo radio) -> final state");
    report("MQTT nuki/<ID>/state", to_mqtt);
    report("Bridge callback", to_callback);
    report("baseline: connect + one state read", state_reads);
    println!(
        "floor: the bolt moves {MOTOR_TIME_MS} ms, then the next advert (every {ADVERT_INTERVAL_MS} ms) and a connect + state read"
    );
    let _ = daemon.stop();
}
