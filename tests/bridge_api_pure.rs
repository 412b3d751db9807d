//! The pure Bridge API building blocks through their public API: the token vectors of the
//! Bridge documentation, the query quirks real clients produce, and the exact JSON a Smart
//! Lock 4 with door sensor, a Smart Lock 2 without, an Opener and a Box produce.

mod common;

use common::bridge_states::{device, states, value, with_door, NOW};
use nuki_edge::http::bridge_json::{
    lock_action, ActionBody, BridgeDeviceType, BridgeIdentity, CallbackBody, InfoBody, ListItem,
    LockStateBody, ScanResult, UnsupportedAction,
};
use nuki_edge::http::query::{QueryError, QueryParams};
use nuki_edge::http::token::{BridgeToken, TokenError, TokenForm, TokenVerifier};
use nuki_edge::nuki::enums::{DeviceType, DoorSensorState};
use nuki_edge::nuki::product::ProductType;
use nuki_edge::nuki::uuids::ServiceFamily;
use serde_json::json;

// ---- A.2 vectors -------------------------------------------------------------------------

const TOKEN: &str = "123456";
const DOC_TS: &str = "2019-03-05T01:06:53Z";
const DOC_UNIX: i64 = 1_551_748_013;
const DOC_HASH: &str = "f52eb5ce382e356c4239f8fb4d0a87402bb95b7b3124f0762b806ad7d0d01cb6";
const DOC_NONCE: &str = "119c38fb6d7d707b8a45f14e688b74b8c4c1acf33643c71a";
const DOC_CTOKEN: &str =
    "a7f6b4df6758b92445bd5470b755b43ba41cf50af8b3f6e19368348ddfb1686291555dfd90b31f9333";
const OWN_NONCE: &str = "000102030405060708090a0b0c0d0e0f1011121314151617";
const OWN_CTOKEN: &str =
    "640c125aace08463d2c55584fc3c072b0d18691477fb7364ff6728f02d5d7d7fde94d337e8a5ff3df6";
/// 2024-01-01T12:00:00Z.
const OWN_UNIX: i64 = 1_704_110_400;

fn verifier() -> TokenVerifier {
    TokenVerifier::new(BridgeToken::new(TOKEN).unwrap())
}

fn q(text: &str) -> QueryParams {
    QueryParams::parse(text)
}

fn hashed_doc() -> QueryParams {
    q(&format!("ts={DOC_TS}&rnr=4711&hash={DOC_HASH}"))
}

#[test]
fn plain_token_vector() {
    assert_eq!(
        verifier().verify(&q("token=123456"), 0),
        Ok(TokenForm::Plain)
    );
}

#[test]
fn hashed_doc_vector_once_then_replayed() {
    let mut verifier = verifier();
    assert_eq!(
        verifier.verify(&hashed_doc(), DOC_UNIX),
        Ok(TokenForm::Hashed)
    );
    assert_eq!(
        verifier.verify(&hashed_doc(), DOC_UNIX + 1),
        Err(TokenError::Replayed {
            form: TokenForm::Hashed
        })
    );
}

#[test]
fn hashed_stale_in_both_directions() {
    let mut verifier = verifier();
    assert_eq!(
        verifier.verify(&hashed_doc(), DOC_UNIX + 61),
        Err(TokenError::Stale {
            form: TokenForm::Hashed,
            skew_seconds: -61
        })
    );
    assert_eq!(
        verifier.verify(&hashed_doc(), DOC_UNIX - 61),
        Err(TokenError::Stale {
            form: TokenForm::Hashed,
            skew_seconds: 61
        })
    );
    // Exactly at the edge is still fresh.
    assert_eq!(
        verifier.verify(&hashed_doc(), DOC_UNIX - 60),
        Ok(TokenForm::Hashed)
    );
}

#[test]
fn encrypted_doc_vector_with_both_nonce_spellings() {
    for name in ["nonce", "nounce"] {
        let mut verifier = verifier();
        let query = q(&format!("ctoken={DOC_CTOKEN}&{name}={DOC_NONCE}"));
        assert_eq!(
            verifier.verify(&query, DOC_UNIX + 30),
            Ok(TokenForm::Encrypted)
        );
        assert_eq!(
            verifier.verify(&query, DOC_UNIX + 31),
            Err(TokenError::Replayed {
                form: TokenForm::Encrypted
            })
        );
    }
}

#[test]
fn encrypted_own_vector_and_staleness() {
    let query = q(&format!("nonce={OWN_NONCE}&ctoken={OWN_CTOKEN}"));
    assert_eq!(
        verifier().verify(&query, OWN_UNIX),
        Ok(TokenForm::Encrypted)
    );
    assert_eq!(
        verifier().verify(&query, OWN_UNIX + 3600),
        Err(TokenError::Stale {
            form: TokenForm::Encrypted,
            skew_seconds: -3600
        })
    );
    assert_eq!(
        verifier().verify(&query, OWN_UNIX - 120),
        Err(TokenError::Stale {
            form: TokenForm::Encrypted,
            skew_seconds: 120
        })
    );
}

#[test]
fn wrong_token_in_every_form() {
    let mut other = TokenVerifier::new(BridgeToken::new("654321").unwrap());
    assert_eq!(
        other.verify(&q("token=123456"), DOC_UNIX),
        Err(TokenError::Wrong {
            form: TokenForm::Plain
        })
    );
    assert_eq!(
        other.verify(&hashed_doc(), DOC_UNIX),
        Err(TokenError::Wrong {
            form: TokenForm::Hashed
        })
    );
    let encrypted = q(&format!("ctoken={DOC_CTOKEN}&nonce={DOC_NONCE}"));
    assert_eq!(
        other.verify(&encrypted, DOC_UNIX),
        Err(TokenError::Wrong {
            form: TokenForm::Encrypted
        })
    );
    // A failed attempt with the same (ts, rnr) does not burn it for the right hash.
    let mut right = verifier();
    let forged = q(&format!("ts={DOC_TS}&rnr=4711&hash={}", "0".repeat(64)));
    assert_eq!(
        right.verify(&forged, DOC_UNIX),
        Err(TokenError::Wrong {
            form: TokenForm::Hashed
        })
    );
    assert_eq!(right.verify(&hashed_doc(), DOC_UNIX), Ok(TokenForm::Hashed));
    // A tampered ctoken fails authentication.
    let mut tampered = DOC_CTOKEN.to_owned();
    tampered.replace_range(0..2, "a6");
    let query = q(&format!("ctoken={tampered}&nonce={DOC_NONCE}"));
    assert_eq!(
        verifier().verify(&query, DOC_UNIX),
        Err(TokenError::Wrong {
            form: TokenForm::Encrypted
        })
    );
}

#[test]
fn missing_parts_and_garbage() {
    let mut verifier = verifier();
    assert_eq!(verifier.verify(&q(""), DOC_UNIX), Err(TokenError::Missing));
    assert_eq!(
        verifier.verify(&q("?&nukiId=1"), DOC_UNIX),
        Err(TokenError::Missing)
    );
    let malformed = |form| move |result: Result<TokenForm, TokenError>| matches!(result, Err(TokenError::Malformed { form: f, .. }) if f == form);
    let hashed = malformed(TokenForm::Hashed);
    let encrypted = malformed(TokenForm::Encrypted);
    for query in [
        format!("rnr=4711&hash={DOC_HASH}"),
        format!("ts={DOC_TS}&hash={DOC_HASH}"),
        format!("ts={DOC_TS}&rnr=4711"),
        format!("ts={DOC_TS}&rnr=4711&hash=zz{}", &DOC_HASH[2..]),
        format!("ts={DOC_TS}&rnr=4711&hash={}", &DOC_HASH[..62]),
        format!("ts=yesterday&rnr=4711&hash={DOC_HASH}"),
    ] {
        assert!(hashed(verifier.verify(&q(&query), DOC_UNIX)), "{query}");
    }
    for query in [
        format!("ctoken={DOC_CTOKEN}"),
        format!("nonce={DOC_NONCE}"),
        format!("ctoken=xyz&nonce={DOC_NONCE}"),
        format!("ctoken={DOC_CTOKEN}&nonce=0g"),
        format!("ctoken={DOC_CTOKEN}&nonce={}", &DOC_NONCE[..46]),
        format!("ctoken=00ff&nonce={DOC_NONCE}"),
    ] {
        assert!(encrypted(verifier.verify(&q(&query), DOC_UNIX)), "{query}");
    }
    for error in [
        TokenError::Missing,
        TokenError::Wrong {
            form: TokenForm::Plain,
        },
        TokenError::Replayed {
            form: TokenForm::Hashed,
        },
    ] {
        assert_eq!(error.http_status(), 401);
    }
}

#[test]
fn errors_and_debug_never_contain_the_token() {
    let mut verifier = TokenVerifier::new(BridgeToken::new("Zq9secretXy").unwrap());
    let error = verifier.verify(&q("token=Zq9secretXz"), 0).unwrap_err();
    assert!(!error.to_string().contains("Zq9secret"));
    assert!(!format!("{error:?}").contains("Zq9secret"));
    assert!(!format!("{verifier:?}").contains("Zq9secret"));
}

// ---- A.10 query quirks ---------------------------------------------------------------------

#[test]
fn quirk_unencoded_callback_url_from_pynuki() {
    let query = q("url=http://192.168.0.5:8123/api/webhook/01HXYZ&token=123456");
    assert_eq!(
        query.callback_url().unwrap(),
        "http://192.168.0.5:8123/api/webhook/01HXYZ"
    );
    assert_eq!(verifier().verify(&query, 0), Ok(TokenForm::Plain));
}

#[test]
fn quirk_partly_encoded_url_from_iobroker() {
    let query = q("url=http%3A%2F/10.0.0.2:51988/api/nuki.0&token=123456");
    assert_eq!(
        query.callback_url().unwrap(),
        "http://10.0.0.2:51988/api/nuki.0"
    );
}

#[test]
fn quirk_empty_first_parameter_with_hashed_token() {
    let query = q(&format!("?&ts={DOC_TS}&rnr=4711&hash={DOC_HASH}"));
    assert_eq!(verifier().verify(&query, DOC_UNIX), Ok(TokenForm::Hashed));
}

#[test]
fn quirk_dummy_first_parameter() {
    let query = q("?1&nukiId=42&token=123456");
    assert_eq!(query.nuki_id(), Ok(42));
    assert_eq!(verifier().verify(&query, 0), Ok(TokenForm::Plain));
}

#[test]
fn quirk_device_type_missing_means_zero() {
    assert_eq!(q("nukiId=42&action=2&token=x").device_type(), Ok(0));
}

#[test]
fn quirk_no_wait_spellings() {
    assert_eq!(q("noWait=1").no_wait(), Ok(true));
    assert_eq!(q("nowait=true").no_wait(), Ok(true));
    assert_eq!(q("NoWait=0").no_wait(), Ok(false));
    assert_eq!(q("").no_wait(), Ok(false));
}

#[test]
fn quirk_duplicate_keys_first_wins() {
    let query = q("action=1&action=3");
    assert_eq!(query.action(), Ok(1));
}

#[test]
fn invalid_parameters_give_400_bodies() {
    let error = q("action=lock").action().unwrap_err();
    assert!(matches!(error, QueryError::Invalid { name: "action", .. }));
    assert_eq!(error.body()["success"], json!(false));
    assert!(error.body()["error"].is_string());
    assert_eq!(
        lock_action(ServiceFamily::Keyturner, 6),
        Err(UnsupportedAction(6))
    );
}

// ---- A.5 JSON shapes -----------------------------------------------------------------------

#[test]
fn smart_lock_4_with_door_sensor_locked() {
    let family = ServiceFamily::Keyturner;
    let kind = ProductType::from_config_device_type(family, Some(DeviceType::SmartLock3And4))
        .bridge_device_type();
    // Battery byte: 80 % (40 << 2), charging, not critical. Door closed; keypad present and
    // its battery critical (bits 0 and 1).
    let states = with_door(states(family, 2, 1, (40 << 2) | 0x02), 2, 0x03);
    let lock = device(0x1A2B_3C4D, kind, "Front door", Some(&states));
    assert_eq!(
        value(&ListItem::new(&lock, NOW)),
        json!({
            "nukiId": 439041101,
            "deviceType": 4,
            "name": "Front door",
            "firmwareVersion": "4.2.6",
            "lastKnownState": {
                "mode": 2,
                "state": 1,
                "stateName": "locked",
                "batteryCritical": false,
                "batteryCharging": true,
                "batteryChargeState": 80,
                "keypadBatteryCritical": true,
                "doorsensorState": 2,
                "doorsensorStateName": "door closed",
                "timestamp": "2018-10-03T06:48:00+00:00"
            }
        })
    );
    assert_eq!(
        value(&LockStateBody::new(&lock, NOW)),
        json!({
            "mode": 2,
            "state": 1,
            "stateName": "locked",
            "batteryCritical": false,
            "batteryCharging": true,
            "batteryChargeState": 80,
            "keypadBatteryCritical": true,
            "doorsensorState": 2,
            "doorsensorStateName": "door closed",
            "success": true
        })
    );
    assert_eq!(
        value(&CallbackBody::new(&lock, NOW)),
        json!({
            "nukiId": 439041101,
            "deviceType": 4,
            "mode": 2,
            "state": 1,
            "stateName": "locked",
            "batteryCritical": false,
            "batteryCharging": true,
            "batteryChargeState": 80,
            "keypadBatteryCritical": true,
            "doorsensorState": 2,
            "doorsensorStateName": "door closed"
        })
    );
}

#[test]
fn smart_lock_4_door_open_and_unlocked_lock_n_go() {
    let family = ServiceFamily::Keyturner;
    let states = with_door(states(family, 2, 6, (25 << 2) | 0x01), 3, 0x04);
    let lock = device(7, BridgeDeviceType::SmartLock3, "SL4", Some(&states));
    assert_eq!(
        value(&CallbackBody::new(&lock, NOW)),
        json!({
            "nukiId": 7,
            "deviceType": 4,
            "mode": 2,
            "state": 6,
            "stateName": "unlocked (lock 'n' go)",
            "batteryCritical": true,
            "batteryCharging": false,
            "batteryChargeState": 50,
            "keypadBatteryCritical": false,
            "doorsensorState": 3,
            "doorsensorStateName": "door opened"
        })
    );
}

#[test]
fn smart_lock_2_without_door_sensor() {
    let family = ServiceFamily::Keyturner;
    let kind = ProductType::from_config_device_type(family, Some(DeviceType::SmartLock1And2))
        .bridge_device_type();
    // Old firmware: 15-byte states, battery byte carries no percentage.
    let unlocked = states(family, 2, 3, 0x00);
    let lock = device(11_223_344, kind, "Cellar", Some(&unlocked));
    assert_eq!(
        value(&ListItem::new(&lock, NOW))["lastKnownState"],
        json!({
            "mode": 2,
            "state": 3,
            "stateName": "unlocked",
            "batteryCritical": false,
            "batteryCharging": false,
            "keypadBatteryCritical": false,
            "timestamp": "2018-10-03T06:48:00+00:00"
        })
    );
    // Newer firmware reporting "no sensor" (0) still has no door keys; jammed motor.
    let mut blocked = with_door(states(family, 2, 254, 0x01 | (5 << 2)), 0, 0x00);
    blocked.door_sensor_state = Some(DoorSensorState::Unavailable);
    let lock = device(11_223_344, kind, "Cellar", Some(&blocked));
    assert_eq!(
        value(&LockStateBody::new(&lock, NOW)),
        json!({
            "mode": 2,
            "state": 254,
            "stateName": "motor blocked",
            "batteryCritical": true,
            "batteryCharging": false,
            "batteryChargeState": 10,
            "keypadBatteryCritical": false,
            "success": true
        })
    );
    assert_eq!(value(&ListItem::new(&lock, NOW))["deviceType"], json!(0));
}

#[test]
fn opener_online_rto_and_continuous_mode_with_ring() {
    let family = ServiceFamily::Opener;
    let kind =
        ProductType::from_config_device_type(family, Some(DeviceType::Opener)).bridge_device_type();
    let online = states(family, 2, 1, 0x00);
    let mut opener = device(0x1A2B_3C4D, kind, "Intercom", Some(&online));
    assert_eq!(
        value(&ListItem::new(&opener, NOW)),
        json!({
            "nukiId": 439041101,
            "deviceType": 2,
            "name": "Intercom",
            "firmwareVersion": "4.2.6",
            "lastKnownState": {
                "mode": 2,
                "state": 1,
                "stateName": "online",
                "batteryCritical": false,
                "keypadBatteryCritical": false,
                "ringactionState": false,
                "timestamp": "2018-10-03T06:48:00+00:00"
            }
        })
    );

    let rto = states(family, 2, 3, 0x01);
    opener.states = Some(&rto);
    opener.last_ring_unix = Some(NOW - 10);
    assert_eq!(
        value(&CallbackBody::new(&opener, NOW)),
        json!({
            "nukiId": 439041101,
            "deviceType": 2,
            "mode": 2,
            "state": 3,
            "stateName": "rto active",
            "batteryCritical": true,
            "keypadBatteryCritical": false,
            "ringactionTimestamp": "2018-10-03T06:48:50+00:00",
            "ringactionState": true
        })
    );

    let continuous = states(family, 3, 1, 0x00);
    opener.states = Some(&continuous);
    opener.last_ring_unix = Some(NOW - 31);
    assert_eq!(
        value(&LockStateBody::new(&opener, NOW)),
        json!({
            "mode": 3,
            "state": 1,
            "stateName": "online",
            "batteryCritical": false,
            "keypadBatteryCritical": false,
            "ringactionTimestamp": "2018-10-03T06:48:29+00:00",
            "ringactionState": false,
            "success": true
        })
    );
}

#[test]
fn box_appears_as_smart_lock_type_0() {
    let family = ServiceFamily::Keyturner;
    let kind =
        ProductType::from_config_device_type(family, Some(DeviceType::Box)).bridge_device_type();
    assert_eq!(kind, BridgeDeviceType::SmartLock);
    let unlatched = states(family, 2, 5, 45 << 2);
    let entrance = device(0x0BAD_CAFE, kind, "Entrance B", Some(&unlatched));
    assert_eq!(
        value(&ListItem::new(&entrance, NOW)),
        json!({
            "nukiId": 195939070,
            "deviceType": 0,
            "name": "Entrance B",
            "firmwareVersion": "4.2.6",
            "lastKnownState": {
                "mode": 2,
                "state": 5,
                "stateName": "unlatched",
                "batteryCritical": false,
                "batteryCharging": false,
                "batteryChargeState": 90,
                "keypadBatteryCritical": false,
                "timestamp": "2018-10-03T06:48:00+00:00"
            }
        })
    );
    // Box actions use the lock numbering.
    assert_eq!(lock_action(family, 3).unwrap().name(), "unlatch");
}

#[test]
fn never_read_device_is_undefined_without_timestamp() {
    let mut lock = device(5, BridgeDeviceType::SmartLock, "New", None);
    lock.firmware_version = None;
    lock.states_received_unix = None;
    assert_eq!(
        value(&ListItem::new(&lock, NOW)),
        json!({
            "nukiId": 5,
            "deviceType": 0,
            "name": "New",
            "lastKnownState": {
                "mode": 2,
                "state": 255,
                "stateName": "undefined",
                "batteryCritical": false,
                "batteryCharging": false,
                "keypadBatteryCritical": false
            }
        })
    );
}

#[test]
fn action_and_info_bodies() {
    assert_eq!(
        value(&ActionBody {
            success: true,
            battery_critical: false
        }),
        json!({"success": true, "batteryCritical": false})
    );
    let identity = BridgeIdentity::new(0x1234_5678, 987_654_321).unwrap();
    let info = InfoBody::new(
        identity,
        3600,
        NOW,
        vec![ScanResult {
            nuki_id: 0x1A2B_3C4D,
            device_type: BridgeDeviceType::Opener,
            name: "Nuki_Opener_1A2B3C4D".to_owned(),
            rssi: -72,
            paired: true,
        }],
    );
    assert_eq!(
        value(&info),
        json!({
            "bridgeType": 1,
            "ids": {"hardwareId": 305419896, "serverId": 987654321},
            "versions": {"firmwareVersion": "2.14.0"},
            "uptime": 3600,
            "currentTime": "2018-10-03T06:49:00+00:00",
            "serverConnected": false,
            "scanResults": [{
                "nukiId": 439041101,
                "deviceType": 2,
                "name": "Nuki_Opener_1A2B3C4D",
                "rssi": -72,
                "paired": true
            }],
            "clockTrusted": true
        })
    );
}
