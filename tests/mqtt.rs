//! The MQTT interface of the real daemon against a real mosquitto: state topics, commands
//! allowed and refused, the last will, graceful shutdown, TLS and a broker restart.

mod common;

use std::time::Duration;

use common::config::{ConfigBuilder, SimDeviceEntry};
use common::fixture::paired_daemon;
use common::mosquitto::{BrokerTls, Mosquitto, Subscriber, MQTT_WAIT};
use nuki_edge::nuki::product::ProductType;

const LOCK_ID: u32 = 0x2FFF_94F4;
const LOCK: &str = "nuki/2FFF94F4";

fn lock_entry() -> SimDeviceEntry {
    SimDeviceEntry::new(ProductType::SmartLock4, "Flat 4", "sim:flat-4", LOCK_ID)
        .motor_time_ms(50)
        .door_sensor(true)
}

fn with_broker(builder: ConfigBuilder, port: u16) -> ConfigBuilder {
    builder
        .set("mqtt", "host", "127.0.0.1")
        .set("mqtt", "port", i64::from(port))
        .device(lock_entry())
}

fn topic(leaf: &str) -> String {
    format!("{LOCK}/{leaf}")
}

#[test]
fn state_topics_commands_and_a_graceful_goodbye() {
    let broker = Mosquitto::start();
    let subscriber = Subscriber::connect(broker.port, "#");
    let builder =
        with_broker(ConfigBuilder::new(), broker.port).set("mqtt", "health_interval_s", 1);
    let (_config, daemon) = paired_daemon(builder);

    subscriber.wait_for("nuki/gateway/state", "online");
    subscriber.wait_for(&topic("connected"), "true");
    subscriber.wait_for(&topic("deviceType"), "4");
    subscriber.wait_for(&topic("name"), "Flat 4");
    subscriber.wait_next(&topic("state"), 0);
    subscriber.wait_next(&topic("timestamp"), 0);
    subscriber.wait_next(&topic("doorsensorState"), 0);
    subscriber.wait_next(&topic("batteryChargeState"), 0);
    assert!(subscriber
        .on(&topic("state"))
        .iter()
        .all(|seen| !seen.payload.is_empty()));

    // Unlock through lockAction: answered 0, the state follows, and the event names nobody.
    subscriber.publish(&topic("lockAction"), "1");
    assert_eq!(subscriber.wait_next(&topic("commandResponse"), 0), "0");
    subscriber.wait_for(&topic("state"), "3");
    assert_eq!(
        subscriber.wait_next(&topic("lockActionEvent"), 0),
        "1,172,0,0,0"
    );
    // `lock` with `true` locks.
    subscriber.publish(&topic("lock"), "true");
    assert_eq!(subscriber.wait_next(&topic("commandResponse"), 1), "0");
    subscriber.wait_for(&topic("state"), "1");
    subscriber.wait_for(&topic("lastAction"), "lock");

    // Malformed commands and unknown devices are answered, never ignored.
    subscriber.publish(&topic("lockAction"), "9");
    assert_eq!(subscriber.wait_next(&topic("commandResponse"), 2), "224");
    subscriber.publish(&topic("unlock"), "yes");
    assert_eq!(subscriber.wait_next(&topic("commandResponse"), 3), "224");
    subscriber.publish("nuki/0000ABCD/lockAction", "2");
    assert_eq!(
        subscriber.wait_next("nuki/0000ABCD/commandResponse", 0),
        "226"
    );
    subscriber.wait_for(&topic("state"), "1");

    // Health: every second here, counting the paired lock and the commands received.
    let health = subscriber.wait_until("a health report after the commands", |messages| {
        messages
            .iter()
            .filter(|seen| seen.topic == "nuki/gateway/health")
            .filter_map(|seen| serde_json::from_str::<serde_json::Value>(&seen.payload).ok())
            .find(|health| health["commands_received"] == 5)
    });
    assert_eq!(health["devices"], 1);
    assert_eq!(health["devices_reachable"], 1);
    assert_eq!(health["broker_reconnects"], 0);

    let (code, log) = daemon.stop();
    assert_eq!(code, Some(0));
    subscriber.wait_for("nuki/gateway/state", "offline");
    subscriber.wait_for(&topic("connected"), "false");
    let text = serde_json::to_string(&log).expect("log");
    assert!(text.contains("MQTT connected"));
}

#[test]
fn commands_without_the_right_to_operate_doors_are_refused() {
    let broker = Mosquitto::start();
    let subscriber = Subscriber::connect(broker.port, "nuki/#");
    let builder = with_broker(ConfigBuilder::new(), broker.port).set(
        "mqtt",
        "rights",
        toml::Value::Array(Vec::new()),
    );
    let (_config, _daemon) = paired_daemon(builder);
    subscriber.wait_for("nuki/gateway/state", "online");
    let state_before = subscriber.wait_next(&topic("state"), 0);

    subscriber.publish(&topic("lockAction"), "1");
    assert_eq!(subscriber.wait_next(&topic("commandResponse"), 0), "225");
    subscriber.publish(&topic("unlock"), "true");
    assert_eq!(subscriber.wait_next(&topic("commandResponse"), 1), "225");
    assert_eq!(subscriber.latest(&topic("state")), Some(state_before));
    assert!(subscriber.on(&topic("lockActionEvent")).is_empty());
}

#[test]
fn the_last_will_says_offline_when_the_daemon_is_killed() {
    let broker = Mosquitto::start();
    let subscriber = Subscriber::connect(broker.port, "nuki/gateway/state");
    let (_config, daemon) = paired_daemon(with_broker(ConfigBuilder::new(), broker.port));
    subscriber.wait_for("nuki/gateway/state", "online");

    daemon.kill();
    subscriber.wait_for("nuki/gateway/state", "offline");
}

#[test]
fn home_assistant_coming_online_gets_discovery_again() {
    let broker = Mosquitto::start();
    let subscriber = Subscriber::connect(broker.port, "homeassistant/#");
    let (_config, _daemon) = paired_daemon(with_broker(ConfigBuilder::new(), broker.port));
    let lock_config = "homeassistant/lock/nuki_2FFF94F4_lock/config";
    let config: serde_json::Value =
        serde_json::from_str(&subscriber.wait_next(lock_config, 0)).expect("JSON");
    assert_eq!(config["uniq_id"], "2FFF94F4_lock");
    assert_eq!(config["cmd_t"], "~/lockAction");
    // The door entity comes once the lock reported its sensor (until then: removed).
    let door_config = "homeassistant/binary_sensor/nuki_2FFF94F4_door_sensor/config";
    let door = subscriber.wait_until("the door sensor's config", |messages| {
        messages
            .iter()
            .filter(|seen| seen.topic == door_config && !seen.payload.is_empty())
            .find_map(|seen| serde_json::from_str::<serde_json::Value>(&seen.payload).ok())
    });
    assert_eq!(door["dev_cla"], "door");

    let sent = subscriber.on(lock_config).len();
    subscriber.publish("homeassistant/status", "online");
    subscriber.wait_next(lock_config, sent);
}

#[test]
fn after_a_broker_restart_the_gateway_is_back_with_its_state_and_commands() {
    let mut broker = Mosquitto::start();
    let subscriber = Subscriber::connect(broker.port, "nuki/#");
    let (_config, _daemon) = paired_daemon(with_broker(ConfigBuilder::new(), broker.port));
    subscriber.wait_for("nuki/gateway/state", "online");
    let states_before = subscriber.on(&topic("state")).len();
    let onlines_before = subscriber.on("nuki/gateway/state").len();

    broker.restart();
    // The new broker knows nothing (no persistence): what arrives was published again.
    subscriber.wait_next(&topic("state"), states_before);
    // `online` follows the gateway's new subscriptions on the same connection: a command
    // sent before it could reach the broker while nobody listens (a state message queued
    // during the outage goes out first), and would rightly go unanswered.
    assert_eq!(
        subscriber.wait_next("nuki/gateway/state", onlines_before),
        "online"
    );
    // Sent again while unanswered: on a loaded machine a command has crossed the gateway's
    // new subscriptions (seen in CI); only a gateway that never listens again fails this.
    let deadline = std::time::Instant::now() + MQTT_WAIT;
    while subscriber.on(&topic("commandResponse")).is_empty() {
        assert!(
            std::time::Instant::now() < deadline,
            "no commandResponse after the broker restart; messages: {:#?}",
            subscriber.messages()
        );
        subscriber.publish(&topic("lockAction"), "1");
        std::thread::sleep(Duration::from_secs(2));
    }
    assert_eq!(subscriber.wait_next(&topic("commandResponse"), 0), "0");
    subscriber.wait_for(&topic("state"), "3");
}

/// A CA, a broker certificate for 127.0.0.1 and a client certificate, as PEM files.
struct TestPki {
    dir: tempfile::TempDir,
}

impl TestPki {
    fn new() -> Self {
        use rcgen::{BasicConstraints, CertificateParams, IsCa, KeyPair};
        let dir = tempfile::tempdir().expect("pki dir");
        let ca_key = KeyPair::generate().expect("CA key");
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).expect("CA params");
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "nuki-edge test CA");
        let ca = ca_params.self_signed(&ca_key).expect("CA");
        let issuer = rcgen::Issuer::new(ca_params, ca_key);
        let write = |name: &str, text: String| {
            let path = dir.path().join(name);
            std::fs::write(&path, text).expect("write pem");
        };
        write("ca.pem", ca.pem());
        for (name, subject) in [("broker", "127.0.0.1"), ("client", "nuki-edge")] {
            let key = KeyPair::generate().expect("key");
            let params = CertificateParams::new(vec![subject.to_owned()]).expect("params");
            let certificate = params.signed_by(&key, &issuer).expect("certificate");
            write(&format!("{name}.pem"), certificate.pem());
            write(&format!("{name}.key"), key.serialize_pem());
        }
        Self { dir }
    }

    fn path(&self, name: &str) -> String {
        self.dir.path().join(name).to_string_lossy().into_owned()
    }

    fn broker(&self, require_client_certificate: bool) -> BrokerTls {
        BrokerTls {
            ca: self.path("ca.pem").into(),
            cert: self.path("broker.pem").into(),
            key: self.path("broker.key").into(),
            require_client_certificate,
        }
    }
}

#[test]
fn tls_with_the_broker_checked_against_the_configured_ca() {
    let pki = TestPki::new();
    let broker = Mosquitto::start_tls(pki.broker(false));
    let subscriber = Subscriber::connect(broker.port, "nuki/#");
    let tls_port = broker.tls_port.expect("TLS listener");
    let builder =
        with_broker(ConfigBuilder::new(), tls_port).set("mqtt", "tls_ca_file", pki.path("ca.pem"));
    let (_config, _daemon) = paired_daemon(builder);
    subscriber.wait_for("nuki/gateway/state", "online");
    subscriber.wait_next(&topic("state"), 0);
}

#[test]
fn tls_with_a_client_certificate() {
    let pki = TestPki::new();
    let broker = Mosquitto::start_tls(pki.broker(true));
    let subscriber = Subscriber::connect(broker.port, "nuki/#");
    let tls_port = broker.tls_port.expect("TLS listener");
    let builder = with_broker(ConfigBuilder::new(), tls_port)
        .set("mqtt", "tls_ca_file", pki.path("ca.pem"))
        .set("mqtt", "tls_cert_file", pki.path("client.pem"))
        .set("mqtt", "tls_key_file", pki.path("client.key"));
    let (_config, _daemon) = paired_daemon(builder);
    subscriber.wait_for("nuki/gateway/state", "online");
}

#[test]
fn a_gateway_that_does_not_trust_the_broker_never_says_online() {
    let pki = TestPki::new();
    let other = TestPki::new();
    let broker = Mosquitto::start_tls(pki.broker(false));
    let subscriber = Subscriber::connect(broker.port, "nuki/#");
    let tls_port = broker.tls_port.expect("TLS listener");
    let builder = with_broker(ConfigBuilder::new(), tls_port).set(
        "mqtt",
        "tls_ca_file",
        other.path("ca.pem"),
    );
    let (_config, mut daemon) = paired_daemon(builder);
    // Its log shows the attempts failing; the broker never heard it.
    daemon.wait_for("MQTT broker not reachable; retrying", 1);
    assert!(subscriber.on("nuki/gateway/state").is_empty());
}

#[test]
fn check_config_reports_mqtt_mistakes() {
    let config = ConfigBuilder::new()
        .set("mqtt", "host", "127.0.0.1")
        .set("mqtt", "topic_prefix", "nuki/#")
        .build();
    let output = std::process::Command::new(common::daemon::BINARY)
        .args(["check-config", config.arg()])
        .output()
        .expect("check-config runs");
    assert!(!output.status.success());
    let text = String::from_utf8_lossy(&output.stderr).into_owned()
        + &String::from_utf8_lossy(&output.stdout);
    assert!(text.contains("mqtt.topic_prefix"), "{text}");
}
