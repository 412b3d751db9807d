//! The MQTT interface in-process over a simulated, paired lock, for what the daemon cannot
//! be asked from outside: a manual turn at the lock, an unpairing, and the activity-log entry
//! point `MqttHandle::publish_event`.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::core::{follow_advertisements, gateway_over, pair_sim_device};
use common::mosquitto::{Mosquitto, Subscriber};
use nuki_edge::access::{Capability, Rights};
use nuki_edge::ble::sim::{RadioModel, SimDeviceSpec, SimKind, SimTransport};
use nuki_edge::devices::fleet::{Fleet, FleetConfig};
use nuki_edge::devices::link::LinkTimeouts;
use nuki_edge::gateway::GatewayEvent;
use nuki_edge::mqtt::{MqttSettings, Topics};
use tokio_util::sync::CancellationToken;

const NUKI_ID: u32 = 0x3300_0001;
const ROOT: &str = "nuki/33000001";
const DEADLINE: Duration = Duration::from_secs(10);

#[test]
fn manual_turns_unpairing_and_activity_entries_reach_the_broker() {
    let broker = Mosquitto::start();
    let subscriber = Subscriber::connect(broker.port, "#");
    let runtime = tokio::runtime::Runtime::new().expect("runtime");

    let mut spec = SimDeviceSpec::new("sim:mqtt", "Mqtt Door", NUKI_ID, SimKind::SmartLock4);
    spec.motor_time = Duration::from_millis(50);
    spec.door_sensor = true;
    let device = spec.address.clone();
    let radio = RadioModel {
        connection_interval: Duration::from_millis(5),
        connect_time: Duration::from_millis(20),
        ..RadioModel::default()
    };
    let (gateway, control, handle, shutdown, running, mut events) = runtime.block_on(async {
        let (transport, control) = SimTransport::new(vec![spec.clone()], radio);
        let credentials = pair_sim_device(&transport, &control, &spec).await;
        let transport = Arc::new(transport);
        let config = FleetConfig {
            timeouts: LinkTimeouts {
                connect: Duration::from_secs(2),
                command: Duration::from_secs(5),
            },
            idle_disconnect: Duration::from_millis(20),
            ..FleetConfig::default()
        };
        let fleet = Fleet::start(transport.clone(), config, vec![credentials]);
        let gateway = gateway_over(fleet, DEADLINE);
        follow_advertisements(&transport, gateway.clone()).await;
        let settings = MqttSettings {
            host: "127.0.0.1".to_owned(),
            port: broker.port,
            client_id: "in-process".to_owned(),
            credentials: None,
            topics: Topics::new("nuki", "homeassistant"),
            tls: None,
            rights: Rights::of(&[Capability::OperateDoors]),
            health_interval: Duration::from_secs(60),
            gateway_name: "test".to_owned(),
        };
        let shutdown = CancellationToken::new();
        let (handle, task) =
            nuki_edge::mqtt::start(gateway.clone(), settings, shutdown.clone()).expect("start");
        let running = tokio::spawn(task);
        let events = gateway.subscribe();
        gateway.refresh_all();
        (gateway, control, handle, shutdown, running, events)
    });

    subscriber.wait_for("nuki/gateway/state", "online");
    subscriber.wait_next(&format!("{ROOT}/state"), 0);

    // Once the idle link is closed, the lock tells of changes by its advertisement's flag.
    runtime.block_on(async {
        loop {
            match events.recv().await {
                Ok(GatewayEvent::DeviceDisconnected { .. }) => return,
                Ok(_) => {}
                Err(error) => panic!("gateway bus: {error}"),
            }
        }
    });
    // Somebody unlocks by hand: the state follows (its lockActionEvent and lastAction come
    // from the activity log, which the daemon delivers: tests/mqtt_outbox.rs).
    control.manual_action(&device, 1).expect("manual unlock");
    subscriber.wait_for(&format!("{ROOT}/state"), "3");

    // The activity log's entry point: QoS 1 on gateway/events, answered with the id once
    // the broker has it.
    let entry = r#"{"id":7,"action":"unlock"}"#.to_owned();
    let acknowledged = runtime.block_on(handle.publish_event(entry.clone(), 7));
    assert_eq!(acknowledged.expect("acknowledged"), 7);
    assert_eq!(subscriber.wait_next("nuki/gateway/events", 0), entry);

    // Unpairing removes every entity from Home Assistant and clears the retained state.
    let lock_config = "homeassistant/lock/nuki_33000001_lock/config";
    let before = subscriber.on(lock_config).len();
    assert!(gateway.fleet().remove(&device));
    assert_eq!(subscriber.wait_next(lock_config, before), "");
    subscriber.wait_for(&format!("{ROOT}/state"), "");
    subscriber.wait_for(
        "homeassistant/sensor/nuki_33000001_battery_level/config",
        "",
    );

    shutdown.cancel();
    let ended = runtime.block_on(running).expect("the task ran");
    assert!(ended.is_ok(), "{ended:?}");
    subscriber.wait_for("nuki/gateway/state", "offline");
}
