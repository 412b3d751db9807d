//! The activity log end to end: anonymized before it is stored, served by
//! `GET /api/v1/events` and the Bridge `/log` over real HTTP, device log entries matched and
//! stored once, retention by count and age, paging, and consumers with persisted cursors.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::building::{account_token, api_building, owner_token, ApiBuilding, MONDAY_NOON_UTC};
use common::callback_receiver::CallbackReceiver;
use nuki_edge::access::{Limits, PermissionKind, Principal, Rights, Scope};
use nuki_edge::ble::sim::{RadioModel, SimTransport};
use nuki_edge::ble::DeviceAddress;
use nuki_edge::clock::ManualClock;
use nuki_edge::devices::fleet::{Fleet, FleetConfig};
use nuki_edge::events::{
    Actor, EventFilter, EventKind, EventLog, EventSettings, Recorder, StoredEvent, Subscription,
};
use nuki_edge::gateway::{
    AddressDraft, Credential, Gateway, GatewayEvent, GatewaySettings, PermissionDraft, PersonDraft,
    UnitDraft,
};
use nuki_edge::nuki::codec::DateTime;
use nuki_edge::nuki::enums::{CompletionStatus, DeviceAction, LockAction, LogEntryType, Trigger};
use nuki_edge::nuki::messages::{LogData, LogEntry};
use nuki_edge::store::Store;
use serde_json::Value;
use tokio_util::sync::CancellationToken;

/// Generous guard against a hang; never a speed requirement.
const HANG_GUARD: Duration = Duration::from_secs(30);
const BRIDGE_TOKEN: &str = "eventsToken_1";
const RESIDENT_NAME: &str = "Zelda Residentova";
const RESIDENT_KEY: &str = "Zelda front key";
const OWN_NAME: &str = "Caretaker Ernst";

fn unlock() -> DeviceAction {
    DeviceAction::Lock(LockAction::Unlock)
}

/// Waits until `log` holds at least `count` events that `filter` admits.
async fn wait_for(log: &EventLog, filter: &EventFilter, count: usize) -> Vec<StoredEvent> {
    let mut wake = log.watch();
    tokio::time::timeout(HANG_GUARD, async {
        loop {
            let found = log.newest(filter, None, 1000).expect("read");
            if found.len() >= count {
                return found;
            }
            let _ = wake.changed().await;
        }
    })
    .await
    .expect("the events arrive")
}

struct People {
    resident_secret: String,
    own_secret: String,
    resident_permission: String,
    resident_person: i64,
}

/// A resident of a flat in the building and the caretaker (one of the owner's own people),
/// each with a gateway permission for the entrance.
fn people(building: &ApiBuilding) -> People {
    let gateway = &building.gateway;
    let address = gateway
        .create_address(
            &Principal::Local,
            AddressDraft {
                name: "Rosenweg 4".into(),
                time_zone: Some("Europe/Zurich".into()),
                boxes: vec![building.entrance],
            },
        )
        .expect("address")
        .address;
    let unit = gateway
        .create_unit(
            &Principal::Local,
            address.id,
            UnitDraft {
                name: "Flat A".into(),
                locks: vec![building.flat_a],
            },
        )
        .expect("unit");
    let resident = gateway
        .create_person(
            &Principal::Local,
            PersonDraft {
                name: RESIDENT_NAME.into(),
                unit: Some(unit.id.clone()),
            },
        )
        .expect("resident");
    let caretaker = gateway
        .create_person(
            &Principal::Local,
            PersonDraft {
                name: "Ernst".into(),
                unit: None,
            },
        )
        .expect("caretaker");
    let resident_permission = gateway
        .create_permission(
            &Principal::Local,
            PermissionDraft {
                person: resident.id,
                name: RESIDENT_KEY.into(),
                scope: Scope::Unit {
                    unit: unit.id.clone(),
                },
                kind: PermissionKind::GatewayAccess,
                limits: Limits::default(),
                code: None,
            },
        )
        .expect("resident permission");
    let own_permission = gateway
        .create_permission(
            &Principal::Local,
            PermissionDraft {
                person: caretaker.id,
                name: OWN_NAME.into(),
                scope: Scope::AddressBoxes {
                    address: address.id,
                },
                kind: PermissionKind::GatewayAccess,
                limits: Limits::default(),
                code: None,
            },
        )
        .expect("own permission");
    People {
        resident_secret: resident_permission.secret.clone().expect("secret"),
        own_secret: own_permission.secret.clone().expect("secret"),
        resident_permission: resident_permission.view.permission.id.0.clone(),
        resident_person: resident.id.0,
    }
}

fn holder(gateway: &Gateway, secret: &str) -> Principal {
    gateway
        .authenticate(&Credential::Bearer(secret.to_owned()))
        .expect("a valid secret")
}

/// The management API with the log and the Bridge API over the same log, served as the daemon
/// serves them until `stop` is cancelled.
async fn serve(
    gateway: &Arc<Gateway>,
    log: &Arc<EventLog>,
    stop: CancellationToken,
) -> (String, tokio::task::JoinHandle<()>) {
    use nuki_edge::http::bridge_json::BridgeIdentity;
    use nuki_edge::http::callbacks::{Callbacks, DeliveryPolicy};
    use nuki_edge::http::server::{AuthWindow, BridgeApi};
    use nuki_edge::http::token::BridgeToken;
    let bridge = BridgeApi::new(
        gateway.clone(),
        BridgeToken::new(BRIDGE_TOKEN).expect("token"),
        BridgeIdentity::new(7, 8).expect("identity"),
        Callbacks::new(DeliveryPolicy {
            attempts: 1,
            first_pause: Duration::from_millis(10),
            timeout: Duration::from_millis(500),
        }),
        AuthWindow {
            path: std::env::temp_dir().join("nuki-edge-activity-log-test-window"),
        },
        log.clone(),
    );
    let router = nuki_edge::http::router::compose(
        [
            bridge.router(),
            nuki_edge::http::api::router_with_events(gateway.clone(), log.clone()),
        ],
        nuki_edge::http::router::REQUEST_TIMEOUT,
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let address = listener.local_addr().expect("address");
    let served = tokio::spawn(async move {
        let _ = nuki_edge::http::listener::serve(
            listener,
            router,
            nuki_edge::http::listener::ListenerLimits::default(),
            stop,
            Duration::from_secs(1),
        )
        .await;
    });
    (format!("http://{address}"), served)
}

async fn get(client: &reqwest::Client, url: &str, token: Option<&str>) -> (u16, Value) {
    let mut request = client.get(url);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = request.send().await.expect("request");
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn residents_are_anonymized_in_the_store_the_api_and_the_bridge_log() {
    let building = api_building().await;
    let gateway = building.gateway.clone();
    // The log on a store of its own here, so the file read at the end holds only the log
    // (the building's own store holds the resident's name in its people table, as it must).
    let log_dir = tempfile::tempdir().expect("log directory");
    let log_path = log_dir.path().join("events.redb");
    let log_store = Arc::new(Store::open(&log_path).expect("log store"));
    let log = EventLog::open(log_store.clone(), EventSettings::default()).expect("log");
    let recorder = Recorder::new(log.clone(), gateway.clone());
    let recording = tokio::spawn(recorder.run(gateway.stopping()));
    let people = people(&building);
    let stop = CancellationToken::new();
    let (base, served) = serve(&gateway, &log, stop.clone()).await;
    let entrance = &building.addresses[0];

    gateway
        .act(
            &holder(&gateway, &people.resident_secret),
            entrance,
            unlock(),
        )
        .await
        .expect("the resident opens the entrance");
    gateway
        .act(&holder(&gateway, &people.own_secret), entrance, unlock())
        .await
        .expect("the caretaker opens the entrance");
    let actions = EventFilter {
        kinds: Some(vec![EventKind::Action]),
        ..EventFilter::default()
    };
    let stored = wait_for(&log, &actions, 2).await;
    let actors: Vec<&Actor> = stored
        .iter()
        .filter_map(|event| event.event.actor.as_ref())
        .collect();
    assert!(actors.contains(&&Actor::Resident), "{actors:?}");
    assert!(
        actors.contains(&&Actor::Permission {
            name: OWN_NAME.into()
        }),
        "{actors:?}"
    );
    for event in &stored {
        assert_eq!(event.event.source.as_deref(), Some("gateway"));
        assert_eq!(event.event.action.as_deref(), Some("unlock"));
        assert_eq!(
            event.event.device.as_ref().and_then(|d| d.smartlock_id),
            Some(building.entrance.0)
        );
        assert!(event.event.address_id.is_some(), "the entrance is placed");
    }
    let everything =
        serde_json::to_string(&log.newest(&EventFilter::default(), None, 10_000).unwrap()).unwrap();
    assert!(everything.contains(OWN_NAME));
    assert!(!everything.contains(RESIDENT_NAME), "{everything}");
    assert!(!everything.contains(RESIDENT_KEY), "{everything}");
    assert!(
        !everything.contains(&people.resident_permission),
        "{everything}"
    );
    // The permission changes are in the log too, the resident's without its name.
    let changes = log
        .newest(
            &EventFilter {
                kinds: Some(vec![EventKind::PermissionChanged]),
                ..EventFilter::default()
            },
            None,
            10,
        )
        .unwrap();
    assert_eq!(changes.len(), 2, "{changes:?}");
    assert_eq!(
        changes
            .iter()
            .filter(
                |e| e.event.permission.as_ref().and_then(|p| p.name.as_deref()) == Some(OWN_NAME)
            )
            .count(),
        1
    );

    // The management API: the owner sees the caretaker's name, never the resident's.
    let client = reqwest::Client::new();
    let owner = owner_token(&gateway).await;
    let (status, page) = get(
        &client,
        &format!("{base}/api/v1/events?kind=action"),
        Some(&owner),
    )
    .await;
    assert_eq!(status, 200, "{page}");
    let items = page["items"].as_array().expect("items");
    assert_eq!(items.len(), 2, "{page}");
    assert!(items.iter().all(|item| item["kind"] == "action"));
    let text = page.to_string();
    assert!(text.contains(OWN_NAME), "{text}");
    assert!(!text.contains(RESIDENT_NAME) && !text.contains(&people.resident_permission));
    assert!(!text.contains(&format!("\"person\":{}", people.resident_person)));
    assert!(
        items.iter().any(|item| item["actor"]["type"] == "resident"),
        "{text}"
    );
    // Filters by device and building narrow; a time range before the actions finds none.
    let entrance_id = building.entrance.0;
    let (_, by_device) = get(
        &client,
        &format!("{base}/api/v1/events?kind=action&device={entrance_id}"),
        Some(&owner),
    )
    .await;
    assert_eq!(by_device["items"].as_array().map(Vec::len), Some(2));
    let (_, other_device) = get(
        &client,
        &format!("{base}/api/v1/events?device={}", building.flat_b.0),
        Some(&owner),
    )
    .await;
    assert!(other_device["items"].as_array().is_some_and(|items| items
        .iter()
        .all(|i| i["device"]["smartlockId"] == building.flat_b.0)));
    let (_, too_early) = get(
        &client,
        &format!("{base}/api/v1/events?until=2026-11-01T00:00:00Z"),
        Some(&owner),
    )
    .await;
    assert_eq!(
        too_early["items"].as_array().map(Vec::len),
        Some(0),
        "{too_early}"
    );
    let (status, _) = get(
        &client,
        &format!("{base}/api/v1/events?kind=nonsense"),
        Some(&owner),
    )
    .await;
    assert_eq!(status, 400);
    // A sub-account without `view_activity_log` is refused; one with it may read.
    let blind = account_token(&gateway, false, Rights::NONE).await;
    let (status, body) = get(&client, &format!("{base}/api/v1/events"), Some(&blind)).await;
    assert_eq!(status, 403, "{body}");
    let viewer = account_token(
        &gateway,
        false,
        Rights::of(&[nuki_edge::access::Capability::ViewActivityLog]),
    )
    .await;
    assert_eq!(
        get(&client, &format!("{base}/api/v1/events"), Some(&viewer))
            .await
            .0,
        200
    );

    // The Bridge's `/log` reads the same stored log.
    let (status, lines) = get(
        &client,
        &format!("{base}/log?count=50&token={BRIDGE_TOKEN}"),
        None,
    )
    .await;
    assert_eq!(status, 200, "{lines}");
    let lock_actions: Vec<&Value> = lines
        .as_array()
        .expect("lines")
        .iter()
        .filter(|line| line["type"] == "lock-action")
        .collect();
    assert_eq!(lock_actions.len(), 2, "{lines}");
    assert_eq!(lock_actions[0]["nukiId"], "71000001");
    assert_eq!(lock_actions[0]["result"], "success");
    assert!(!lines.to_string().contains(RESIDENT_NAME));
    let (_, cleared) = get(
        &client,
        &format!("{base}/clearlog?token={BRIDGE_TOKEN}"),
        None,
    )
    .await;
    assert_eq!(cleared["success"], true);
    let (_, lines) = get(&client, &format!("{base}/log?token={BRIDGE_TOKEN}"), None).await;
    // Devices may connect again meanwhile; the lock actions before the clearing are gone.
    assert!(
        lines
            .as_array()
            .is_some_and(|lines| lines.iter().all(|line| line["type"] == "ble-connect")),
        "{lines}"
    );
    assert!(
        log.len().unwrap() >= 4,
        "clearing /log keeps the stored log"
    );

    // The resident moves out: the revocation is logged, without the permission's name.
    gateway
        .delete_person(
            &Principal::Local,
            nuki_edge::access::PersonId(people.resident_person),
        )
        .expect("deleted");
    let revoked = wait_for(
        &log,
        &EventFilter {
            kinds: Some(vec![EventKind::PermissionChanged]),
            ..EventFilter::default()
        },
        3,
    )
    .await;
    let newest = revoked[0].event.permission.clone().expect("a permission");
    assert_eq!((newest.change.as_str(), newest.name), ("revoked", None));

    // Closed, the log's file holds the caretaker's name and not the resident's.
    assert!(gateway.shutdown(HANG_GUARD).await);
    stop.cancel();
    tokio::time::timeout(HANG_GUARD, recording)
        .await
        .expect("the recorder stops")
        .expect("joined")
        .expect("recorded");
    tokio::time::timeout(HANG_GUARD, served)
        .await
        .expect("the server stops")
        .expect("joined");
    drop(log);
    tokio::time::timeout(HANG_GUARD, async {
        while Arc::strong_count(&log_store) > 1 {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .expect("every user of the log lets go of it");
    drop(log_store);
    let bytes = std::fs::read(&log_path).expect("log file");
    let contains = |needle: &str| bytes.windows(needle.len()).any(|w| w == needle.as_bytes());
    assert!(
        contains(OWN_NAME),
        "the check can fail: the caretaker's name is there"
    );
    assert!(!contains(RESIDENT_NAME));
    assert!(!contains(RESIDENT_KEY));
    assert!(!contains(&people.resident_permission));
}

fn lock_entry(index: u32, time: i64, auth_id: u32, trigger: Trigger) -> LogEntry {
    LogEntry {
        index,
        timestamp: DateTime::from_unix(time),
        auth_id,
        // What a device keeps as the authorization's name: never stored.
        auth_name: RESIDENT_NAME.into(),
        entry_type: LogEntryType::LockAction,
        data: LogData::LockAction {
            action: unlock(),
            trigger,
            flags: 0,
            completion_status: CompletionStatus::Success,
        },
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn device_log_entries_are_matched_anonymized_and_stored_once() {
    let building = api_building().await;
    let gateway = building.gateway.clone();
    let people = people(&building);
    let flat_a = building.addresses[1].clone();
    // Two device authorizations linked to permissions: the resident's app and the caretaker's.
    let linked = |person_secret: &str, name: &str| {
        let person = match holder(&gateway, person_secret) {
            Principal::Holder { permission } => {
                gateway
                    .permission(&Principal::Local, &permission)
                    .expect("permission")
                    .permission
                    .person
            }
            other => panic!("not a holder: {other:?}"),
        };
        gateway
            .create_permission(
                &Principal::Local,
                PermissionDraft {
                    person,
                    name: name.into(),
                    scope: Scope::Device {
                        device: building.flat_a,
                    },
                    kind: PermissionKind::DeviceAuthorization,
                    limits: Limits::default(),
                    code: None,
                },
            )
            .expect("device authorization permission")
            .view
            .permission
            .id
    };
    let resident_app = linked(&people.resident_secret, "Zelda phone");
    let own_app = linked(&people.own_secret, "Ernst phone");
    gateway
        .link_device_authorization(&Principal::Local, &resident_app, building.flat_a, 77)
        .await
        .expect("linked");
    gateway
        .link_device_authorization(&Principal::Local, &own_app, building.flat_a, 78)
        .await
        .expect("linked");
    let own_auth = gateway.own_authorization(&flat_a).expect("paired");
    let log = EventLog::open(building.store.clone(), EventSettings::default()).expect("log");
    let recorder = Recorder::new(log.clone(), gateway.clone());
    let at = MONDAY_NOON_UTC - 600;
    let entries = vec![
        lock_entry(10, at, 77, Trigger::System),
        lock_entry(11, at + 1, 78, Trigger::System),
        lock_entry(12, at + 2, 4242, Trigger::System),
        lock_entry(13, at + 3, own_auth, Trigger::System),
        lock_entry(14, at + 4, 0, Trigger::Manual),
    ];
    let batch = GatewayEvent::DeviceLogEntries {
        device: flat_a.clone(),
        entries,
    };
    let ids = recorder.record(vec![batch.clone()]).expect("recorded");
    assert_eq!(ids.len(), 4, "the gateway's own entry is not counted twice");
    let again = recorder.record(vec![batch]).expect("recorded");
    assert!(again.is_empty(), "a re-read stores nothing new: {again:?}");
    let stored = log
        .newest(
            &EventFilter {
                kinds: Some(vec![EventKind::DeviceAction]),
                ..EventFilter::default()
            },
            None,
            100,
        )
        .unwrap();
    let actor_of = |index: u32| {
        stored
            .iter()
            .find(|e| e.event.device_log.map(|p| p.index) == Some(index))
            .and_then(|e| e.event.actor.clone())
    };
    assert_eq!(actor_of(10), Some(Actor::Resident));
    assert_eq!(
        actor_of(11),
        Some(Actor::Permission {
            name: "Ernst phone".into()
        })
    );
    assert_eq!(actor_of(12), Some(Actor::Unrecognized));
    assert_eq!(actor_of(13), None);
    assert_eq!(actor_of(14), Some(Actor::Device));
    let event = stored
        .iter()
        .find(|e| e.event.device_log.map(|p| p.index) == Some(10))
        .unwrap();
    assert_eq!(event.event.time, at, "the device's time");
    assert_eq!(event.event.trigger.as_deref(), Some("system"));
    assert_eq!(event.event.completion.as_deref(), Some("success"));
    assert_eq!(event.event.source.as_deref(), Some("device"));
    let text = serde_json::to_string(&stored).unwrap();
    assert!(
        !text.contains(RESIDENT_NAME) && !text.contains("Zelda"),
        "{text}"
    );
    assert!(!text.contains(&resident_app.0) && !text.contains("4242") && !text.contains(":77"));
    // The newest entry read, the gateway's own included, is where reading resumes.
    assert_eq!(
        log.device_log_position(&flat_a).unwrap(),
        Some((14, DateTime::from_unix(at + 4)))
    );
    assert_eq!(
        log.device_log_position(&DeviceAddress("sim:none".into()))
            .unwrap(),
        None
    );
}

/// A gateway over an empty fleet going by `clock`, and a log with `settings` on its store.
async fn bare_log(
    settings: EventSettings,
    clock: Arc<ManualClock>,
) -> (Arc<Gateway>, Recorder, tempfile::TempDir) {
    let (transport, _control) = SimTransport::new(Vec::new(), RadioModel::default());
    let fleet = Fleet::start(Arc::new(transport), FleetConfig::default(), Vec::new());
    let dir = tempfile::tempdir().expect("directory");
    let store = Arc::new(Store::open(&dir.path().join("log.redb")).expect("store"));
    let gateway = Gateway::new(
        fleet,
        store.clone(),
        clock,
        GatewaySettings::with_action_deadline(Duration::from_secs(5)),
    );
    let log = EventLog::open(store, settings).expect("log");
    (gateway.clone(), Recorder::new(log, gateway), dir)
}

fn connected(n: usize) -> Vec<GatewayEvent> {
    (0..n)
        .map(|i| GatewayEvent::DeviceConnected {
            device: DeviceAddress(format!("sim:{i}")),
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retention_keeps_the_newest_by_count_and_by_age() {
    let clock = ManualClock::at(MONDAY_NOON_UTC);
    let settings = EventSettings {
        max_entries: 5,
        max_age_days: 2,
    };
    let (_gateway, recorder, _dir) = bare_log(settings, clock.clone()).await;
    let log = recorder.log().clone();
    let ids = recorder.record(connected(8)).unwrap();
    assert_eq!(
        ids,
        (1..=8).collect::<Vec<u64>>(),
        "contiguous sequence ids"
    );
    assert_eq!(log.len().unwrap(), 5);
    assert_eq!(log.oldest_id().unwrap(), Some(4));
    clock.advance(86_400);
    recorder.record(connected(2)).unwrap();
    assert_eq!(log.oldest_id().unwrap(), Some(6));
    // Two days later the first day's events are too old; the second day's stay.
    clock.advance(86_400 + 60);
    assert_eq!(log.prune(clock_now(&clock)).unwrap(), 3);
    let kept: Vec<u64> = log.after(0, 100).unwrap().iter().map(|e| e.id).collect();
    assert_eq!(kept, vec![9, 10]);
    assert_eq!(log.latest_id(), 10);
}

fn clock_now(clock: &ManualClock) -> i64 {
    use nuki_edge::clock::Clock;
    clock.now_unix()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pages_walk_the_log_newest_first_without_gaps_or_repeats() {
    let clock = ManualClock::at(MONDAY_NOON_UTC);
    let (gateway, recorder, _dir) = bare_log(EventSettings::default(), clock.clone()).await;
    recorder.record(connected(23)).unwrap();
    let log = recorder.log().clone();
    let mut seen = Vec::new();
    let mut before = None;
    loop {
        let page = log.newest(&EventFilter::default(), before, 5).unwrap();
        let Some(last) = page.last() else { break };
        before = Some(last.id);
        seen.extend(page.iter().map(|e| e.id));
    }
    assert_eq!(seen, (1..=23).rev().collect::<Vec<u64>>());
    // Over HTTP, with `next_cursor`.
    let stop = CancellationToken::new();
    let (base, _served) = serve(&gateway, &log, stop.clone()).await;
    let owner = owner_token(&gateway).await;
    let client = reqwest::Client::new();
    let mut ids = Vec::new();
    let mut cursor: Option<String> = None;
    for _ in 0..10 {
        let url = match &cursor {
            Some(c) => format!("{base}/api/v1/events?limit=10&cursor={c}"),
            None => format!("{base}/api/v1/events?limit=10"),
        };
        let (status, page) = get(&client, &url, Some(&owner)).await;
        assert_eq!(status, 200, "{page}");
        ids.extend(
            page["items"]
                .as_array()
                .unwrap()
                .iter()
                .filter_map(|i| i["id"].as_u64()),
        );
        cursor = page["next_cursor"].as_str().map(str::to_owned);
        if cursor.is_none() {
            break;
        }
    }
    assert_eq!(ids, (1..=23).rev().collect::<Vec<u64>>());
    let (status, _) = get(
        &client,
        &format!("{base}/api/v1/events?cursor=zz"),
        Some(&owner),
    )
    .await;
    assert_eq!(status, 400);
    stop.cancel();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_consumer_resumes_from_its_saved_cursor_and_counts_what_retention_dropped() {
    let clock = ManualClock::at(MONDAY_NOON_UTC);
    let dir = tempfile::tempdir().expect("directory");
    let path = dir.path().join("log.redb");
    let settings = EventSettings {
        max_entries: 4,
        max_age_days: 90,
    };
    {
        let (transport, _control) = SimTransport::new(Vec::new(), RadioModel::default());
        let fleet = Fleet::start(Arc::new(transport), FleetConfig::default(), Vec::new());
        let gateway_store = Arc::new(Store::open(&dir.path().join("gateway.redb")).expect("store"));
        let gateway = Gateway::new(
            fleet,
            gateway_store,
            clock.clone(),
            GatewaySettings::with_action_deadline(Duration::from_secs(5)),
        );
        let store = Arc::new(Store::open(&path).expect("store"));
        let log = EventLog::open(store.clone(), settings).expect("log");
        let recorder = Recorder::new(log.clone(), gateway.clone());
        recorder.record(connected(2)).unwrap();
        let mut mqtt = Subscription::open(log.clone(), "mqtt").unwrap();
        assert_eq!(
            mqtt.position(),
            2,
            "a new consumer starts after the newest event"
        );
        recorder.record(connected(3)).unwrap();
        let batch = tokio::time::timeout(HANG_GUARD, mqtt.next_batch(2))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(batch.iter().map(|e| e.id).collect::<Vec<_>>(), vec![3, 4]);
        mqtt.ack(4).await.unwrap();
        // Handed out but not acknowledged: a restart hands it out again.
        let batch = tokio::time::timeout(HANG_GUARD, mqtt.next_batch(10))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(batch.iter().map(|e| e.id).collect::<Vec<_>>(), vec![5]);
        // A waiting consumer is woken by the next event.
        let waiting = tokio::spawn(async move {
            let batch = mqtt.next_batch(10).await.unwrap();
            (mqtt, batch)
        });
        tokio::task::yield_now().await;
        recorder.record(connected(1)).unwrap();
        let (mqtt, batch) = tokio::time::timeout(HANG_GUARD, waiting)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(batch.iter().map(|e| e.id).collect::<Vec<_>>(), vec![6]);
        drop(mqtt);
        assert!(gateway.shutdown(HANG_GUARD).await);
        drop(recorder);
        drop(gateway);
        drop(log);
        tokio::time::timeout(HANG_GUARD, async {
            while Arc::strong_count(&store) > 1 {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        })
        .await
        .expect("the store is let go");
    }
    // Reopened: the cursor survived; meanwhile retention pruned what the consumer never read.
    let store = Arc::new(Store::open(&path).expect("store reopens"));
    let log = EventLog::open(store.clone(), settings).expect("log");
    assert_eq!(log.cursor("mqtt").unwrap(), Some(4));
    assert_eq!(log.latest_id(), 6);
    let (transport, _control) = SimTransport::new(Vec::new(), RadioModel::default());
    let fleet = Fleet::start(Arc::new(transport), FleetConfig::default(), Vec::new());
    let gateway_store = Arc::new(Store::open(&dir.path().join("gateway2.redb")).expect("store"));
    let gateway = Gateway::new(
        fleet,
        gateway_store,
        clock,
        GatewaySettings::with_action_deadline(Duration::from_secs(5)),
    );
    drop(store);
    let recorder = Recorder::new(log.clone(), gateway);
    recorder.record(connected(4)).unwrap();
    assert_eq!(log.oldest_id().unwrap(), Some(7));
    let mut mqtt = Subscription::open(log.clone(), "mqtt").unwrap();
    assert_eq!(mqtt.position(), 4);
    let batch = tokio::time::timeout(HANG_GUARD, mqtt.next_batch(100))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        batch.iter().map(|e| e.id).collect::<Vec<_>>(),
        vec![7, 8, 9, 10]
    );
    assert_eq!(mqtt.dropped(), 2, "events 5 and 6 were pruned unread");
}

#[test]
fn the_event_json_shape_clients_depend_on() {
    use nuki_edge::events::{DeviceRef, Event, Outcome, OutcomeResult, StateFields};
    let mut action = Event::new(EventKind::Action, MONDAY_NOON_UTC, MONDAY_NOON_UTC + 1);
    action.device = Some(DeviceRef {
        smartlock_id: Some(18_255_246_837),
        address: "54:D2:72:01:02:03".into(),
        nuki_id: Some(0x4018_f5f5),
    });
    action.address_id = Some(3);
    action.action = Some("unlock".into());
    action.source = Some("gateway".into());
    action.actor = Some(Actor::Resident);
    action.outcome = Some(Outcome {
        result: OutcomeResult::Denied,
        reason: Some("denied: outside the permission's daily time window".into()),
    });
    let mut state = Event::new(EventKind::StateChanged, MONDAY_NOON_UTC, MONDAY_NOON_UTC);
    state.trigger = Some("manual".into());
    state.state = Some(StateFields {
        lock_state: "locked".into(),
        door_state: Some("door_closed".into()),
        battery_critical: false,
        battery_charge: 80,
        battery_charging: false,
    });
    let events = vec![
        StoredEvent {
            id: 41,
            event: action,
        },
        StoredEvent {
            id: 42,
            event: state,
        },
    ];
    insta::assert_json_snapshot!("activity_log_events", events);
}

/// The state number of every callback the receiver got, once at least `count` arrived.
async fn posted_states(receiver: &CallbackReceiver, count: usize) -> Vec<u64> {
    tokio::time::timeout(HANG_GUARD, async {
        while receiver.received().len() < count {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .expect("the state changes are posted");
    receiver
        .received()
        .iter()
        .map(|body| body["state"].as_u64().expect("state"))
        .collect()
}

/// The entrance's state as read now, once per lock state in `states`: state changes as the
/// gateway reports them.
async fn state_changes(
    gateway: &Gateway,
    entrance: &DeviceAddress,
    states: &[nuki_edge::nuki::enums::LockState],
) -> Vec<GatewayEvent> {
    use nuki_edge::nuki::enums::DeviceLockState;
    gateway
        .read_state(&Principal::Local, entrance)
        .await
        .expect("the entrance answers");
    let cached = gateway
        .cached_state(&Principal::Local, entrance)
        .expect("visible")
        .expect("the entrance was read");
    states
        .iter()
        .map(|&lock_state| {
            let mut state = cached.clone();
            state.lock_state = DeviceLockState::Lock(lock_state);
            GatewayEvent::StateChanged {
                device: entrance.clone(),
                state,
            }
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bridge_callbacks_post_every_logged_state_change_in_order_from_a_saved_cursor() {
    use nuki_edge::nuki::enums::LockState;
    const CHANGES: usize = 300;
    let building = api_building().await;
    let gateway = building.gateway.clone();
    let entrance = building.addresses[0].clone();
    let log_dir = tempfile::tempdir().expect("log directory");
    let log_store = Arc::new(Store::open(&log_dir.path().join("events.redb")).expect("store"));
    let log = EventLog::open(log_store, EventSettings::default()).expect("log");
    let stop = CancellationToken::new();
    let (base, _served) = serve(&gateway, &log, stop.clone()).await;
    let receiver = CallbackReceiver::start().await;
    let client = reqwest::Client::new();
    let (status, _) = get(
        &client,
        &format!(
            "{base}/callback/add?url={}&token={BRIDGE_TOKEN}",
            receiver.url()
        ),
        None,
    )
    .await;
    assert_eq!(status, 200);

    // More state changes at once than the gateway's bus holds, stored straight into the log:
    // the callbacks read the log, so none is skipped, and each keeps the state it logged.
    let recorder = Recorder::new(log.clone(), gateway.clone());
    let states: Vec<LockState> = (0..CHANGES)
        .map(|n| {
            if n % 2 == 0 {
                LockState::Unlocked
            } else {
                LockState::Locked
            }
        })
        .collect();
    let batch = state_changes(&gateway, &entrance, &states).await;
    let ids = recorder.record(batch).expect("stored");
    assert_eq!(ids.len(), CHANGES);

    let posted = posted_states(&receiver, CHANGES).await;
    let logged: Vec<u64> = states.iter().map(|s| u64::from(s.to_u8())).collect();
    assert_eq!(posted, logged);
    // The cursor is saved, so a restart goes on after the last posted change.
    tokio::time::timeout(HANG_GUARD, async {
        while log.cursor("bridge_callbacks").expect("cursor") != ids.last().copied() {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .expect("the callbacks' cursor is saved");
    stop.cancel();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cursor_writer_saves_the_newest_id_noted_and_never_goes_back() {
    use nuki_edge::events::CursorWriter;
    let dir = tempfile::tempdir().expect("directory");
    let store = Arc::new(Store::open(&dir.path().join("log.redb")).expect("store"));
    let log = EventLog::open(store, EventSettings::default()).expect("log");
    let writer = CursorWriter::start(log.clone(), "publisher", 0);
    for id in 1..=500 {
        writer.note(id);
    }
    // An older id noted late (a batch sent again after a failure) does not move it back.
    writer.note(17);
    writer.finish().await;
    assert_eq!(log.cursor("publisher").expect("cursor"), Some(500));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn state_changes_stored_before_a_restart_are_posted_after_it() {
    use nuki_edge::http::bridge_json::BridgeIdentity;
    use nuki_edge::http::callbacks::{Callbacks, DeliveryPolicy};
    use nuki_edge::http::server::{AuthWindow, BridgeApi};
    use nuki_edge::http::token::BridgeToken;
    use nuki_edge::nuki::enums::LockState;
    let building = api_building().await;
    let gateway = building.gateway.clone();
    let entrance = building.addresses[0].clone();
    let log_dir = tempfile::tempdir().expect("log directory");
    let log_store = Arc::new(Store::open(&log_dir.path().join("events.redb")).expect("store"));
    let log = EventLog::open(log_store, EventSettings::default()).expect("log");
    // Where an earlier run of the callbacks stopped: after everything it had posted.
    log.save_cursor("bridge_callbacks", log.latest_id())
        .expect("cursor");
    // Stored while nothing posted them (the gateway crashed before it could).
    let states = [LockState::Unlocked, LockState::Locked, LockState::Unlocked];
    let recorder = Recorder::new(log.clone(), gateway.clone());
    let changes = state_changes(&gateway, &entrance, &states).await;
    recorder.record(changes).expect("stored");

    // The next start, with the callback it had saved: what was not posted is posted now.
    let receiver = CallbackReceiver::start().await;
    let _bridge = BridgeApi::new(
        gateway.clone(),
        BridgeToken::new(BRIDGE_TOKEN).expect("token"),
        BridgeIdentity::new(7, 8).expect("identity"),
        Callbacks::restored(
            DeliveryPolicy {
                attempts: 1,
                first_pause: Duration::from_millis(10),
                timeout: Duration::from_millis(500),
            },
            &[Some(receiver.url().to_owned())],
            None,
        ),
        AuthWindow {
            path: std::env::temp_dir().join("nuki-edge-activity-log-restart-window"),
        },
        log.clone(),
    );
    let posted = posted_states(&receiver, states.len()).await;
    assert_eq!(posted, [3, 1, 3]);
}
