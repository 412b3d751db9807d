//! Snapshots of the Bridge API's JSON, the shapes Home Assistant, openHAB, ioBroker and
//! scripts parse: key names, values, which keys appear for which device type. First as the
//! pure builders produce them (fixed times, keys in the order they are sent), then as the real
//! daemon serves them over HTTP (keys sorted, as parsed), with the fields that depend on the
//! clock redacted. A changed snapshot is a changed API: review it with the clients in mind.

mod common;

use std::time::Duration;

use common::bridge_states::{device, states, value, with_door, NOW};
use common::callback_receiver::CallbackReceiver;
use common::config::{ConfigBuilder, SimDeviceEntry};
use common::fixture::paired_daemon;
use nuki_edge::http::bridge_json::{
    failure_body, ActionBody, BridgeDeviceType, BridgeIdentity, CallbackBody, InfoBody, ListItem,
    LockStateBody, ScanResult,
};
use nuki_edge::http::query::{error_body, QueryParams};
use nuki_edge::http::token::{BridgeToken, TokenError, TokenForm, TokenVerifier};
use nuki_edge::nuki::enums::DeviceType;
use nuki_edge::nuki::product::ProductType as DeviceKind;
use nuki_edge::nuki::product::ProductType;
use nuki_edge::nuki::uuids::ServiceFamily;
use serde_json::{json, Value};

// ---- pure builders ---------------------------------------------------------------------------

/// The Bridge device type every product is reported as: what clients key their entities on.
fn bridge_type(family: ServiceFamily, config_type: Option<DeviceType>) -> BridgeDeviceType {
    ProductType::from_config_device_type(family, config_type).bridge_device_type()
}

#[test]
fn list_items_for_every_device_type() {
    let keyturner = ServiceFamily::Keyturner;
    let box_states = states(keyturner, 2, 1, 45 << 2);
    let old_lock = states(keyturner, 2, 3, 0x00);
    let lock_4 = with_door(states(keyturner, 2, 1, (40 << 2) | 0x02), 2, 0x03);
    let ultra = with_door(states(ServiceFamily::Ultra, 2, 3, 30 << 2), 3, 0x00);
    let opener = states(ServiceFamily::Opener, 2, 1, 0x00);
    let devices = [
        device(
            0x5400_0001,
            bridge_type(keyturner, Some(DeviceType::Box)),
            "Entrance",
            Some(&box_states),
        ),
        device(
            0x5400_0002,
            bridge_type(keyturner, Some(DeviceType::SmartLock1And2)),
            "Flat Old",
            Some(&old_lock),
        ),
        device(
            0x5400_0004,
            bridge_type(keyturner, Some(DeviceType::SmartLock3And4)),
            "Flat 4",
            Some(&lock_4),
        ),
        device(
            0x5400_0005,
            bridge_type(ServiceFamily::Ultra, Some(DeviceType::SmartLockUltra)),
            "Penthouse",
            Some(&ultra),
        ),
        device(
            0x5400_0003,
            bridge_type(ServiceFamily::Opener, Some(DeviceType::Opener)),
            "Intercom",
            Some(&opener),
        ),
    ];
    let items: Vec<ListItem> = devices
        .iter()
        .map(|device| ListItem::new(device, NOW))
        .collect();
    let types: Vec<Value> = items
        .iter()
        .map(|item| value(item)["deviceType"].clone())
        .collect();
    assert_eq!(
        types,
        [json!(0), json!(0), json!(4), json!(4), json!(2)],
        "Box 0, Smart Lock 2 0, Smart Lock 4 4, Ultra 4, Opener 2"
    );
    insta::assert_json_snapshot!("list_items_every_device_type", items);
}

#[test]
fn never_read_device_list_item() {
    let mut unread = device(5, BridgeDeviceType::SmartLock, "New", None);
    unread.firmware_version = None;
    unread.states_received_unix = None;
    insta::assert_json_snapshot!("list_item_never_read", ListItem::new(&unread, NOW));
}

#[test]
fn lock_state_bodies_of_a_lock_and_an_opener() {
    let lock_states = with_door(
        states(ServiceFamily::Keyturner, 2, 1, (40 << 2) | 0x02),
        2,
        0,
    );
    let lock = device(
        0x5400_0004,
        BridgeDeviceType::SmartLock3,
        "Flat 4",
        Some(&lock_states),
    );
    let opener_states = states(ServiceFamily::Opener, 2, 3, 0x01);
    let mut opener = device(
        0x5400_0003,
        BridgeDeviceType::Opener,
        "Intercom",
        Some(&opener_states),
    );
    opener.last_ring_unix = Some(NOW - 10);
    insta::assert_json_snapshot!("lock_state_lock", LockStateBody::new(&lock, NOW));
    insta::assert_json_snapshot!("lock_state_opener", LockStateBody::new(&opener, NOW));
}

#[test]
fn callback_bodies_of_a_lock_and_an_opener() {
    let lock_states = with_door(
        states(ServiceFamily::Keyturner, 2, 3, (25 << 2) | 0x01),
        3,
        4,
    );
    let lock = device(
        0x5400_0004,
        BridgeDeviceType::SmartLock3,
        "Flat 4",
        Some(&lock_states),
    );
    let opener_states = states(ServiceFamily::Opener, 3, 1, 0x00);
    let mut opener = device(
        0x5400_0003,
        BridgeDeviceType::Opener,
        "Intercom",
        Some(&opener_states),
    );
    opener.last_ring_unix = Some(NOW - 31);
    insta::assert_json_snapshot!("callback_lock", CallbackBody::new(&lock, NOW));
    insta::assert_json_snapshot!("callback_opener", CallbackBody::new(&opener, NOW));
}

#[test]
fn action_and_info_bodies() {
    let done = ActionBody {
        success: true,
        battery_critical: false,
    };
    insta::assert_json_snapshot!("lock_action", done);
    let identity = BridgeIdentity::new(0x1234_5678, 987_654_321).unwrap();
    let info = InfoBody::new(
        identity,
        3600,
        NOW,
        vec![
            ScanResult {
                nuki_id: 0x1A2B_3C4D,
                device_type: BridgeDeviceType::Opener,
                name: "Nuki_Opener_1A2B3C4D".to_owned(),
                rssi: -72,
                paired: true,
            },
            ScanResult {
                nuki_id: 0x5400_0004,
                device_type: BridgeDeviceType::SmartLock3,
                name: "Nuki_54000004".to_owned(),
                rssi: -60,
                paired: false,
            },
        ],
    );
    insta::assert_json_snapshot!("info", info);
}

#[test]
fn error_bodies() {
    let bad_action = QueryParams::parse("nukiId=1&action=lock")
        .action()
        .unwrap_err();
    insta::assert_json_snapshot!("error_400_bad_parameter", bad_action.body());

    let mut verifier = TokenVerifier::new(BridgeToken::new("abcdef123456").unwrap());
    let wrong = verifier
        .verify(&QueryParams::parse("token=wrongtoken1"), NOW)
        .unwrap_err();
    assert_eq!(wrong.http_status(), 401);
    let wrong_body = error_body(&wrong.to_string());
    assert!(!wrong_body.to_string().contains("abcdef123456"));
    insta::assert_json_snapshot!("error_401_wrong_token", wrong_body);

    insta::assert_json_snapshot!("error_404_unknown_device", error_body("unknown device"));

    let full = TokenError::ReplayCacheFull;
    assert_eq!(full.http_status(), 503, "clients retry a busy Bridge");
    insta::assert_json_snapshot!("error_503_replay_cache_full", error_body(&full.to_string()));
    insta::assert_json_snapshot!("lock_state_unreachable", failure_body());
    assert_ne!(
        TokenError::Wrong {
            form: TokenForm::Hashed
        }
        .to_string(),
        wrong.to_string(),
        "the 401 body names the token form"
    );
}

// ---- over real HTTP --------------------------------------------------------------------------

const TOKEN: &str = "snapshot1234";
/// Fixed, so that `/info` does not carry a random id.
const HARDWARE_ID: u32 = 0x1234_5678;
const REDACTED: &str = "[redacted]";

/// Replaces the values at these JSON pointers (those that depend on the clock).
fn redact(mut body: Value, pointers: &[&str]) -> Value {
    for pointer in pointers {
        if let Some(field) = body.pointer_mut(pointer) {
            *field = json!(REDACTED);
        }
    }
    body
}

/// The building of the shapes: a Box, a Smart Lock 2, a Smart Lock 4, an Ultra, an Opener.
fn building() -> ConfigBuilder {
    ConfigBuilder::new()
        .bridge_token(TOKEN)
        .hardware_id(HARDWARE_ID)
        .security_pin(482913)
        .callback_retry_ms(50)
        .action_deadline_ms(60_000)
        .device(
            SimDeviceEntry::new(
                DeviceKind::Box,
                "Entrance",
                "54:D2:72:00:00:01",
                0x5400_0001,
            )
            .pin(1701),
        )
        .device(
            SimDeviceEntry::new(
                DeviceKind::SmartLock2,
                "Flat Old",
                "54:D2:72:00:00:02",
                0x5400_0002,
            )
            .pin(1702),
        )
        .device(
            SimDeviceEntry::new(
                DeviceKind::Opener,
                "Intercom",
                "54:D2:72:00:00:03",
                0x5400_0003,
            )
            .pin(1703),
        )
        .device(
            SimDeviceEntry::new(
                DeviceKind::SmartLock4,
                "Flat 4",
                "54:D2:72:00:00:04",
                0x5400_0004,
            )
            .pin(1704)
            .motor_time_ms(200),
        )
        .device(
            SimDeviceEntry::new(
                DeviceKind::SmartLockUltra,
                "Penthouse",
                "54:D2:72:00:00:05",
                0x5400_0005,
            )
            .pin(482913)
            .motor_time_ms(200),
        )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn served_json_shapes() {
    let (_config, daemon) = paired_daemon(building());
    let bridge = daemon.bridge();

    let (status, info) = bridge.get_authorized("/info").await;
    assert_eq!(status, 200);
    insta::assert_json_snapshot!("http_info", redact(info, &["/uptime", "/currentTime"]));

    let (status, list) = bridge.get_authorized("/list").await;
    assert_eq!(status, 200);
    let mut items = list.as_array().expect("a /list array").clone();
    items.sort_by_key(|item| item["nukiId"].as_u64());
    let items: Vec<Value> = items
        .into_iter()
        .map(|item| redact(item, &["/lastKnownState/timestamp"]))
        .collect();
    insta::assert_json_snapshot!("http_list", items);

    let (status, state) = bridge
        .get_authorized(&format!("/lockState?nukiId={}", 0x5400_0004))
        .await;
    assert_eq!(status, 200);
    insta::assert_json_snapshot!("http_lock_state", state);

    let receiver = CallbackReceiver::start().await;
    let (status, added) = bridge
        .get_authorized(&format!("/callback/add?url={}", receiver.url()))
        .await;
    assert_eq!(status, 200);
    insta::assert_json_snapshot!("http_callback_add", added);
    let (status, listed) = bridge.get_authorized("/callback/list").await;
    assert_eq!(status, 200);
    assert_eq!(listed["callbacks"][0]["url"], receiver.url());
    insta::assert_json_snapshot!("http_callback_list", redact(listed, &["/callbacks/0/url"]));

    let (status, action) = bridge
        .get_authorized(&format!("/lockAction?nukiId={}&action=1", 0x5400_0004))
        .await;
    assert_eq!(status, 200);
    insta::assert_json_snapshot!("http_lock_action", action);
    let callback = receiver
        .wait_for(Duration::from_secs(60), |body| {
            body["nukiId"] == 0x5400_0004 && body["stateName"] == "unlocked"
        })
        .await;
    insta::assert_json_snapshot!("http_callback_body", callback);

    let (status, body) = bridge.get("/info?token=wrongtoken1").await;
    assert_eq!(status, 401);
    insta::assert_json_snapshot!("http_error_401", body);
    let (status, body) = bridge
        .get_authorized(&format!("/lockAction?nukiId={}&action=9", 0x5400_0004))
        .await;
    assert_eq!(status, 400);
    insta::assert_json_snapshot!("http_error_400", body);
    let (status, body) = bridge
        .get_authorized("/lockAction?nukiId=4660&action=1")
        .await;
    assert_eq!(status, 404);
    insta::assert_json_snapshot!("http_error_404_unknown_device", body);
    let (status, body) = bridge.get_authorized("/nothing").await;
    assert_eq!(status, 404);
    insta::assert_json_snapshot!("http_error_404_no_endpoint", body);
}
