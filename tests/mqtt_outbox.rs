//! The activity log reaches MQTT through its persisted cursor, against a real mosquitto and
//! the real daemon: every stored event arrives on `nuki/gateway/events` (at least once, in
//! order) across a broker restart in the middle of a burst and across a gateway killed with
//! SIGKILL; a turn by hand arrives as an anonymized `lockActionEvent` with a retained
//! `lastAction`.

mod common;

use std::collections::{BTreeSet, HashMap, HashSet};
use std::time::{Duration, Instant};

use common::accounts::{create_owner, ApiClient};
use common::building_api;
use common::cli::{json, run_with};
use common::config::{ConfigBuilder, SimDeviceEntry};
use common::fixture::{paired_daemon, start_ready};
use common::mosquitto::{Mosquitto, Seen, Subscriber, MQTT_WAIT};
use nuki_edge::nuki::product::ProductType;
use serde_json::{json, Value};
use tokio::runtime::Runtime;

const LOCK_ID: u32 = 0x2FFF_94F4;
const LOCK_NAME: &str = "Flat 4";
const EVENTS: &str = "nuki/gateway/events";
/// Permissions created per burst; each one is a stored `permission_changed` event.
const BURST: usize = 200;
/// How long the log must stay unchanged to count as settled.
const QUIET: Duration = Duration::from_millis(1_000);

fn building(port: u16) -> ConfigBuilder {
    ConfigBuilder::new()
        .set("mqtt", "host", "127.0.0.1")
        .set("mqtt", "port", i64::from(port))
        .device(
            SimDeviceEntry::new(ProductType::SmartLock4, LOCK_NAME, "sim:flat-4", LOCK_ID)
                .motor_time_ms(50),
        )
}

/// Where the burst's permissions go: a resident of a unit with the lock.
struct Tenant {
    person_id: i64,
    unit_id: String,
}

async fn tenant(owner: &ApiClient) -> Tenant {
    let devices = building_api::devices(owner).await;
    let lock = building_api::smartlock_id(&devices, LOCK_NAME);
    let (_, unit_id) = building_api::address_with_unit(
        owner,
        ("Rosenweg 4", "Europe/Zurich", &[]),
        ("4th floor", &[lock]),
    )
    .await;
    Tenant {
        person_id: building_api::resident(owner, "Ines Varga", &unit_id).await,
        unit_id,
    }
}

/// Creates `count` permissions (one stored event each), named from `first` on.
async fn burst(owner: &ApiClient, tenant: &Tenant, first: usize, count: usize) {
    for n in first..first + count {
        let created = owner
            .post(
                "/api/v1/permissions",
                json!({
                    "personId": tenant.person_id,
                    "name": format!("Key {n}"),
                    "type": "gateway_access",
                    "scope": {"kind": "unit", "unitId": tenant.unit_id},
                }),
            )
            .await;
        assert_eq!(created.status, 201, "{:?}", created.body);
    }
}

/// Every stored event id above `after`, oldest first, read through `GET /api/v1/events`.
async fn stored_ids(owner: &ApiClient, after: u64) -> Vec<u64> {
    let mut ids = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(cursor) => format!("/api/v1/events?limit=500&cursor={cursor}"),
            None => "/api/v1/events?limit=500".to_owned(),
        };
        let page = owner.get(&path).await;
        assert_eq!(page.status, 200, "{:?}", page.body);
        let items = page.body["items"].as_array().cloned().unwrap_or_default();
        let mut past = false;
        for item in &items {
            let id = item["id"].as_u64().expect("event id");
            if id <= after {
                past = true;
                break;
            }
            ids.push(id);
        }
        cursor = page.body["nextCursor"]
            .as_str()
            .or(page.body["next_cursor"].as_str())
            .map(str::to_owned);
        if past || cursor.is_none() {
            break;
        }
    }
    ids.reverse();
    ids
}

/// Waits until everything stored so far arrived and nothing more is being stored (the
/// provisioning of the last permissions reports a moment later). Only then the broker may
/// go: mosquitto stopped while it routes a message it already acknowledged may lose it on
/// its own side, which says nothing about the gateway.
async fn settle(subscriber: &Subscriber, owner: &ApiClient, before: u64) {
    let mut stored = stored_ids(owner, before).await;
    loop {
        assert_every_id_arrives_in_order(subscriber, &stored);
        tokio::time::sleep(QUIET).await;
        let now_stored = stored_ids(owner, before).await;
        if now_stored == stored {
            return;
        }
        stored = now_stored;
    }
}

/// The ids stored after `before` once the whole burst is in the log (the recorder stores a
/// permission's event a moment after the API answered).
async fn stored_burst(owner: &ApiClient, before: u64) -> Vec<u64> {
    let deadline = Instant::now() + MQTT_WAIT;
    loop {
        let ids = stored_ids(owner, before).await;
        if ids.len() >= BURST {
            return ids;
        }
        assert!(Instant::now() < deadline, "{} stored", ids.len());
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn newest_id(owner: &ApiClient) -> u64 {
    let page = owner.get("/api/v1/events?limit=1").await;
    assert_eq!(page.status, 200, "{:?}", page.body);
    page.body["items"][0]["id"].as_u64().unwrap_or(0)
}

/// The events that arrived, in arrival order, as JSON.
fn arrived(messages: &[Seen]) -> Vec<Value> {
    messages
        .iter()
        .filter(|seen| seen.topic == EVENTS)
        .map(|seen| serde_json::from_str(&seen.payload).expect("an event is JSON"))
        .collect()
}

/// Waits until every id in `ids` arrived, then checks that per device the first arrivals
/// came in increasing id order (repeats allowed).
fn assert_every_id_arrives_in_order(subscriber: &Subscriber, ids: &[u64]) {
    assert!(!ids.is_empty(), "the burst stored no event");
    let wanted: BTreeSet<u64> = ids.iter().copied().collect();
    let missing = |messages: &[Seen]| -> Vec<u64> {
        let seen: HashSet<u64> = arrived(messages)
            .iter()
            .filter_map(|event| event["id"].as_u64())
            .collect();
        wanted
            .iter()
            .copied()
            .filter(|id| !seen.contains(id))
            .collect()
    };
    let deadline = Instant::now() + MQTT_WAIT;
    while !missing(&subscriber.messages()).is_empty() {
        if Instant::now() > deadline {
            let arrived_ids: Vec<u64> = arrived(&subscriber.messages())
                .iter()
                .filter_map(|event| event["id"].as_u64())
                .collect();
            panic!(
                "missing {:?}\narrived {arrived_ids:?}",
                missing(&subscriber.messages())
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let mut first_seen = HashSet::new();
    let mut last_per_device: HashMap<String, u64> = HashMap::new();
    for event in arrived(&subscriber.messages()) {
        let id = event["id"].as_u64().expect("id");
        if !first_seen.insert(id) {
            continue;
        }
        let device = event["device"]["address"]
            .as_str()
            .unwrap_or("gateway")
            .to_owned();
        if let Some(before) = last_per_device.insert(device.clone(), id) {
            assert!(
                before < id,
                "{device}: id {id} first arrived after {before}"
            );
        }
    }
}

#[test]
fn every_stored_event_arrives_across_a_broker_restart_in_a_burst() {
    let mut broker = Mosquitto::start_persistent();
    let subscriber = Subscriber::connect_persistent(broker.port, EVENTS);
    let (config, daemon) = paired_daemon(building(broker.port));
    let runtime = Runtime::new().expect("runtime");
    let owner = ApiClient::bearer(&daemon.base_url(), &create_owner(&config));
    let tenant = runtime.block_on(tenant(&owner));
    let before = runtime.block_on(newest_id(&owner));

    runtime.block_on(burst(&owner, &tenant, 0, BURST / 2));
    runtime.block_on(settle(&subscriber, &owner, before));
    broker.stop_gracefully();
    runtime.block_on(burst(&owner, &tenant, BURST / 2, BURST / 4));
    broker.start_again();
    runtime.block_on(burst(&owner, &tenant, BURST * 3 / 4, BURST / 4));

    let ids = runtime.block_on(stored_burst(&owner, before));
    assert_every_id_arrives_in_order(&subscriber, &ids);
    drop(daemon);
}

#[test]
fn every_stored_event_arrives_after_the_gateway_is_killed_in_a_burst() {
    let mut broker = Mosquitto::start_persistent();
    let subscriber = Subscriber::connect_persistent(broker.port, EVENTS);
    let (config, daemon) = paired_daemon(building(broker.port));
    let runtime = Runtime::new().expect("runtime");
    let token = create_owner(&config);
    let owner = ApiClient::bearer(&daemon.base_url(), &token);
    let tenant = runtime.block_on(tenant(&owner));
    let before = runtime.block_on(newest_id(&owner));

    runtime.block_on(burst(&owner, &tenant, 0, BURST / 2));
    runtime.block_on(settle(&subscriber, &owner, before));
    // The rest of the burst is stored while nothing can be delivered, then the gateway dies
    // without a word: only the saved cursor tells the next start what is still to be sent.
    broker.stop_gracefully();
    runtime.block_on(burst(&owner, &tenant, BURST / 2, BURST / 2));
    daemon.kill();
    broker.start_again();

    let daemon = start_ready(&config);
    let owner = ApiClient::bearer(&daemon.base_url(), &token);
    let ids = runtime.block_on(stored_burst(&owner, before));
    assert_every_id_arrives_in_order(&subscriber, &ids);
}

#[test]
fn a_turn_by_hand_is_an_anonymized_lock_action_event_with_a_retained_last_action() {
    let broker = Mosquitto::start();
    let subscriber = Subscriber::connect(broker.port, "nuki/#");
    let (config, _daemon) = paired_daemon(building(broker.port));
    subscriber.wait_for("nuki/gateway/state", "online");

    let answer = json(&run_with(&config, "sim", &[LOCK_NAME, "turn", "lock"]));
    assert_eq!(answer["outcome"], "turned", "{answer}");
    // Lock (2), by hand (1), nobody named (0,0), no extra.
    assert_eq!(
        subscriber.wait_next("nuki/2FFF94F4/lockActionEvent", 0),
        "2,1,0,0,0"
    );
    subscriber.wait_for("nuki/2FFF94F4/lastAction", "lock");
    // Retained: a client subscribing now still gets it.
    let late = Subscriber::connect(broker.port, "nuki/2FFF94F4/lastAction");
    let retained = late.wait_until("the retained last action", |messages| {
        messages.first().cloned()
    });
    assert!(retained.retained);
    assert_eq!(retained.payload, "lock");
    // The same action as one event of the log, on gateway/events.
    subscriber.wait_until("the turn on gateway/events", |messages| {
        arrived(messages)
            .into_iter()
            .find(|event| event["kind"] == "device_action" && event["trigger"] == "manual")
    });
}
