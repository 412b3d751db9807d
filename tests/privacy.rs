//! Nobody can tell which resident opened a door. Residents with distinctive names act on a
//! simulated building through their permissions — through the gateway with their access
//! secret, and with their keypad code on the lock's own keypad (which the gateway only learns
//! from the lock's log) — and so does the caretaker, whose permission is the owner's own. The
//! caretaker's name shows in the activity log (so the search below can find a name where one
//! is); the residents' names, person ids, permission ids and codes appear nowhere: not on
//! MQTT, not in the HTTP APIs that report activity, not in the Bridge callbacks or `/log`, not
//! in the daemon's output at `trace`, and acting adds no copy of them to the database file.

mod common;

use std::time::Duration;

use common::accounts::{create_owner, ApiClient, Auth};
use common::bridge_client::urlencode;
use common::building_api::{self, smartlock_id};
use common::callback_receiver::CallbackReceiver;
use common::config::{ConfigBuilder, SimDeviceEntry};
use common::daemon::Daemon;
use common::mosquitto::{Mosquitto, Subscriber};
use nuki_edge::config::IdType;
use nuki_edge::nuki::product::ProductType as DeviceKind;
use serde_json::{json, Value};

const RESIDENT: &str = "Zebulon Quackenbush-Vantongeren";
const RESIDENT_PERMISSION: &str = "Quackenbush family key";
const RESIDENT_KEYPAD: &str = "Quackenbush keypad";
const CARETAKER: &str = "Caretaker Ilse Brandstetter";
const CARETAKER_PERMISSION: &str = "Caretaker master key";
const FLAT: &str = "Flat 3";
/// Hang guard only.
const WAIT: Duration = Duration::from_secs(60);
const POLL: Duration = Duration::from_millis(100);

fn occurrences(haystack: &[u8], needle: &str) -> usize {
    haystack
        .windows(needle.len())
        .filter(|window| *window == needle.as_bytes())
        .count()
}

/// Polls the activity log until `wanted` holds for its newest page.
async fn wait_for_events(owner: &ApiClient, what: &str, wanted: impl Fn(&[Value]) -> bool) {
    let deadline = std::time::Instant::now() + WAIT;
    loop {
        let page = owner.get("/api/v1/events?limit=200").await;
        assert_eq!(page.status, 200, "{:?}", page.body);
        let items = page.body["items"].as_array().cloned().unwrap_or_default();
        if wanted(&items) {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no {what} in the activity log: {items:#?}"
        );
        tokio::time::sleep(POLL).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_output_tells_which_resident_opened_a_door() {
    let broker = Mosquitto::start();
    let config = ConfigBuilder::new()
        .bridge_token("privacytok1")
        .auto_pair(IdType::Bridge)
        .log_level("trace")
        .set("mqtt", "host", "127.0.0.1")
        .set("mqtt", "port", i64::from(broker.port))
        .device(SimDeviceEntry::new(
            DeviceKind::Box,
            "Entrance",
            "54:D2:72:30:00:01",
            0x5430_0001,
        ))
        .device(
            SimDeviceEntry::new(
                DeviceKind::SmartLock4,
                FLAT,
                "54:D2:72:30:00:03",
                0x5430_0003,
            )
            .keypad(true),
        )
        .build();
    let everything_on_mqtt = Subscriber::connect(broker.port, "#");
    let mut daemon = Daemon::start(&config);
    daemon.wait_ready();
    let callbacks = CallbackReceiver::start().await;
    let (added, _) = daemon
        .bridge()
        .get_authorized(&format!("/callback/add?url={}", urlencode(callbacks.url())))
        .await;
    assert_eq!(added, 200);

    let owner = ApiClient::bearer(&daemon.base_url(), &create_owner(&config));
    let devices = building_api::devices(&owner).await;
    let entrance = smartlock_id(&devices, "Entrance");
    let flat = smartlock_id(&devices, FLAT);
    let (_, unit_id) = building_api::address_with_unit(
        &owner,
        ("Rosenweg 9", "Europe/Zurich", &[entrance]),
        ("3rd floor", &[flat]),
    )
    .await;
    let person = |name: &str, unit: Option<&str>| {
        let body = match unit {
            Some(unit) => json!({"name": name, "unitId": unit}),
            None => json!({"name": name}),
        };
        let owner = &owner;
        async move {
            let created = owner.post("/api/v1/people", body).await;
            assert_eq!(created.status, 201, "{:?}", created.body);
            created.body["id"].as_i64().expect("person id")
        }
    };
    let resident = person(RESIDENT, Some(&unit_id)).await;
    let caretaker = person(CARETAKER, None).await;
    let grant = |body: Value| {
        let owner = &owner;
        async move {
            let created = owner.post("/api/v1/permissions", body).await;
            assert_eq!(created.status, 201, "{:?}", created.body);
            created.body
        }
    };
    let resident_access = grant(json!({
        "personId": resident, "name": RESIDENT_PERMISSION, "type": "gateway_access",
        "scope": {"kind": "unit", "unitId": unit_id},
    }))
    .await;
    let resident_code = grant(json!({
        "personId": resident, "name": RESIDENT_KEYPAD, "type": "keypad_code",
        "scope": {"kind": "unit", "unitId": unit_id},
    }))
    .await;
    let caretaker_access = grant(json!({
        "personId": caretaker, "name": CARETAKER_PERMISSION, "type": "gateway_access",
        "scope": {"kind": "device", "smartlockId": flat},
    }))
    .await;
    let secret = |permission: &Value| {
        permission["secret"]
            .as_str()
            .expect("the secret, shown once")
            .to_owned()
    };
    let code = resident_code["code"].as_str().expect("the code").to_owned();
    let resident_code_id = resident_code["id"].as_str().expect("id").to_owned();
    let store = config.store_path().to_owned();
    let before = std::fs::read(&store).expect("the store file");

    // The code reaches the lock's keypad.
    let deadline = std::time::Instant::now() + WAIT;
    loop {
        let permission = owner
            .get(&format!("/api/v1/permissions/{resident_code_id}"))
            .await;
        if permission.body["provisioning"]
            .as_array()
            .is_some_and(|on| on.iter().all(|device| device["state"] == "applied"))
        {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the keypad code was not written: {:?}",
            permission.body
        );
        tokio::time::sleep(POLL).await;
    }

    // The resident opens the flat with the gateway, then with the keypad; the caretaker
    // locks it again.
    let act = |secret: String, action: &'static str| {
        let base = daemon.base_url();
        async move {
            let holder = ApiClient::new(&base, Auth::Bearer(secret));
            let deadline = std::time::Instant::now() + WAIT;
            loop {
                let done = holder
                    .post(
                        &format!("/api/v1/devices/{flat}/action"),
                        json!({"action": action}),
                    )
                    .await;
                // The lock may still be moving from the keypad opening.
                if done.status == 409 && std::time::Instant::now() < deadline {
                    tokio::time::sleep(POLL).await;
                    continue;
                }
                assert_eq!(done.status, 200, "{:?}", done.body);
                break;
            }
        }
    };
    let resident_secret = secret(&resident_access);
    act(resident_secret.clone(), "unlock").await;
    act(secret(&caretaker_access), "lock").await;
    let typed = common::cli::run_with(&config, "sim", &[FLAT, "keypad", &code]);
    let typed = common::cli::json(&typed);
    assert_eq!(typed["outcome"], "code accepted", "{typed}");
    act(secret(&caretaker_access), "lock").await;

    // The lock's own log brings the keypad opening in, as a resident's, without a name.
    wait_for_events(&owner, "keypad opening by a resident", |items| {
        items.iter().any(|event| {
            event["actor"]["type"] == "resident" && event.to_string().contains("keypad")
        })
    })
    .await;
    wait_for_events(&owner, "caretaker's actions", |items| {
        items
            .iter()
            .filter(|event| event["actor"]["name"] == CARETAKER_PERMISSION)
            .count()
            >= 2
    })
    .await;
    let events = owner.get("/api/v1/events?limit=200").await.body;
    let mut outputs = vec![("GET /api/v1/events".to_owned(), events.to_string())];
    for path in ["/api/v1/status", "/api/v1/devices"] {
        outputs.push((path.to_owned(), owner.get(path).await.body.to_string()));
    }
    let bridge = daemon.bridge();
    for path in ["/log?count=200", "/list", "/info"] {
        let (status, body) = bridge.get_authorized(path).await;
        assert_eq!(status, 200, "{path}: {body}");
        outputs.push((format!("Bridge {path}"), body.to_string()));
    }
    assert!(
        outputs[0].1.contains(CARETAKER_PERMISSION),
        "the owner's own permission keeps its name, so the search can find names: {}",
        outputs[0].1
    );
    outputs.push((
        "Bridge callbacks".to_owned(),
        Value::Array(callbacks.received()).to_string(),
    ));
    let mqtt: Vec<String> = everything_on_mqtt
        .messages()
        .into_iter()
        .map(|seen| format!("{} {}", seen.topic, seen.payload))
        .collect();
    assert!(
        mqtt.iter().any(|message| message.contains("/state ")),
        "MQTT carried the devices' states: {mqtt:?}"
    );
    outputs.push(("MQTT".to_owned(), mqtt.join("\n")));
    let (exit, daemon_log) = daemon.stop();
    assert_eq!(exit, Some(0));
    assert!(
        daemon_log.iter().any(|line| line["level"] == "TRACE"),
        "the daemon logged at trace"
    );
    let daemon_text = serde_json::to_string(&daemon_log).expect("log as text");
    // Regression: at trace the request spans carried the whole URI, Bridge token included.
    assert!(
        !daemon_text.contains("privacytok1"),
        "the Bridge token is in the daemon's output"
    );
    outputs.push(("the daemon's output at trace".to_owned(), daemon_text));
    let after = std::fs::read(&store).expect("the store file");

    let resident_ids = [
        resident.to_string(),
        resident_access["id"].as_str().expect("id").to_owned(),
        resident_code_id.clone(),
    ];
    for (channel, text) in &outputs {
        for name in [
            RESIDENT,
            "Quackenbush",
            RESIDENT_PERMISSION,
            RESIDENT_KEYPAD,
        ] {
            assert!(
                !text.contains(name),
                "{channel} names the resident ({name}): {text}"
            );
        }
        for id in &resident_ids[1..] {
            assert!(
                !text.contains(id.as_str()),
                "{channel} carries the id {id}: {text}"
            );
        }
        // As a whole number: six digits also turn up inside timestamps' fractions.
        if let Some(at) = whole_number_at(text, &code) {
            let context = &text[at.saturating_sub(80)..(at + 80).min(text.len())];
            panic!("{channel} carries the resident's keypad code: …{context}…");
        }
        assert!(
            !text.contains(&resident_secret[4..]),
            "{channel} carries the resident's access secret"
        );
    }
    // The person id is a small number: look for it only where ids are named.
    assert!(
        !outputs[0].1.contains(&format!("\"personId\":{resident}")),
        "the activity log names the resident's person id"
    );
    // redb reuses freed pages, so stale copies of the people table may be overwritten while
    // the gateway acts (fewer occurrences); a copy that acting wrote would make more.
    for name in ["Quackenbush", RESIDENT_PERMISSION, RESIDENT_KEYPAD] {
        let (after, before) = (occurrences(&after, name), occurrences(&before, name));
        assert!(
            after <= before,
            "acting added copies of {name:?} to the database file ({before} before, {after} after)"
        );
    }
}

/// Where `number` stands on its own in `text` (no digit or decimal point around it).
fn whole_number_at(text: &str, number: &str) -> Option<usize> {
    let bytes = text.as_bytes();
    let part_of_number = |byte: u8| byte.is_ascii_digit() || byte == b'.';
    text.match_indices(number).map(|(at, _)| at).find(|&at| {
        let before = at.checked_sub(1).map(|i| bytes[i]);
        let after = bytes.get(at + number.len()).copied();
        !before.is_some_and(part_of_number) && !after.is_some_and(part_of_number)
    })
}
