//! The building through the real daemon, as the README's curl session does it: the first
//! owner from the CLI, an address with its Box, a residential unit with its lock, a resident
//! with a time-limited permission, and the door opened (or not) with it. Also what the Bridge
//! token may do when `bridge.rights` takes the right to operate doors away.

mod common;

use common::accounts::{create_owner, ApiClient, Auth};
use common::building_api::{self, smartlock_id};
use common::config::{ConfigBuilder, SimDeviceEntry};
use common::fixture::paired_daemon;
use nuki_edge::nuki::product::ProductType as DeviceKind;
use serde_json::{json, Value};

const RESIDENT: &str = "Mireille Tanner-Okafor";
const ZONE: &str = "Europe/Zurich";

fn rfc3339(unix: i64) -> String {
    jiff::Timestamp::from_second(unix)
        .expect("a time in range")
        .to_string()
}

/// The weekday bit (64 = Monday … 1 = Sunday) of today in Zurich, and of no day but today's.
fn today_bit(now: i64) -> u8 {
    let zone = jiff::tz::TimeZone::get(ZONE).expect("zone");
    let day = zone
        .to_datetime(jiff::Timestamp::from_second(now).expect("now"))
        .weekday()
        .to_monday_one_offset();
    1 << (7 - day)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_resident_opens_the_door_inside_the_permissions_limits_only() {
    let builder = ConfigBuilder::new()
        .bridge_token("buildingtok1")
        .set("gateway", "time_zone", ZONE)
        // The Bridge token may list and read, not operate.
        .set("bridge", "rights", toml::Value::Array(Vec::new()))
        .device(SimDeviceEntry::new(
            DeviceKind::Box,
            "Entrance",
            "54:D2:72:10:00:01",
            0x5410_0001,
        ))
        .device(SimDeviceEntry::new(
            DeviceKind::SmartLock4,
            "Flat 2",
            "54:D2:72:10:00:02",
            0x5410_0002,
        ));
    let (config, daemon) = paired_daemon(builder);
    let owner_token = create_owner(&config);
    let owner = ApiClient::bearer(&daemon.base_url(), &owner_token);

    let devices = building_api::devices(&owner).await;
    let entrance = smartlock_id(&devices, "Entrance");
    let flat = smartlock_id(&devices, "Flat 2");
    let (_, unit_id) = building_api::address_with_unit(
        &owner,
        ("Rosenweg 4", ZONE, &[entrance]),
        ("2nd floor left", &[flat]),
    )
    .await;
    let person_id = building_api::resident(&owner, RESIDENT, &unit_id).await;

    let status = owner.get("/api/v1/status").await;
    assert_eq!(status.body["clock"]["trusted"], true, "{:?}", status.body);
    let now = status.body["time"].as_i64().expect("the gateway's time");
    let permission = |name: &str, limits: Value| {
        let mut body = json!({
            "personId": person_id,
            "name": name,
            "type": "gateway_access",
            "scope": {"kind": "unit", "unitId": unit_id},
        });
        if let (Some(body), Some(limits)) = (body.as_object_mut(), limits.as_object()) {
            body.extend(limits.clone());
        }
        body
    };
    let granted = |answer: &common::accounts::Answer| {
        assert_eq!(answer.status, 201, "{:?}", answer.body);
        answer.body["secret"]
            .as_str()
            .expect("the secret, shown once")
            .to_owned()
    };
    let this_week = granted(
        &owner
            .post(
                "/api/v1/permissions",
                permission(
                    "This week",
                    json!({
                        "allowedFromDate": rfc3339(now - 3_600),
                        "allowedUntilDate": rfc3339(now + 7 * 86_400),
                        "allowedWeekDays": today_bit(now),
                    }),
                ),
            )
            .await,
    );
    let last_month = granted(
        &owner
            .post(
                "/api/v1/permissions",
                permission(
                    "Last month",
                    json!({"allowedUntilDate": rfc3339(now - 7 * 86_400)}),
                ),
            )
            .await,
    );
    let other_days = granted(
        &owner
            .post(
                "/api/v1/permissions",
                permission(
                    "Other days",
                    json!({"allowedWeekDays": 127 & !today_bit(now)}),
                ),
            )
            .await,
    );

    let unlock = |secret: &str, device: u64| {
        let holder = ApiClient::new(&daemon.base_url(), Auth::Bearer(secret.to_owned()));
        async move {
            holder
                .post(
                    &format!("/api/v1/devices/{device}/action"),
                    json!({"action": "unlock"}),
                )
                .await
        }
    };
    for device in [flat, entrance] {
        let opened = unlock(&this_week, device).await;
        assert_eq!(opened.status, 200, "{:?}", opened.body);
        assert_eq!(opened.body["success"], true);
    }
    for (secret, why) in [(&last_month, "expired"), (&other_days, "weekday")] {
        let refused = unlock(secret, flat).await;
        assert_eq!(refused.status, 403, "{:?}", refused.body);
        assert_eq!(refused.body["error"]["code"], "denied");
        let message = refused.body["error"]["message"]
            .as_str()
            .unwrap_or_default();
        assert!(message.contains(why), "{message}");
    }

    // The Bridge token without the right to operate: /list works, /lockAction is a 403 with
    // a JSON body.
    let bridge = daemon.bridge();
    let (listed, _) = bridge.get_authorized("/list").await;
    assert_eq!(listed, 200);
    let (refused, body) = bridge
        .get_authorized(&format!(
            "/lockAction?nukiId={}&deviceType=4&action=1",
            0x5410_0002
        ))
        .await;
    assert_eq!(refused, 403, "{body}");
    assert_eq!(body["success"], false);

    // The daemon's activity log has the resident's four actions, by nobody in particular, and
    // the Bridge's refused one.
    let mut actions = Vec::new();
    for _ in 0..100 {
        let events = owner.get("/api/v1/events?kind=action").await;
        assert_eq!(events.status, 200, "{:?}", events.body);
        actions = events.body["items"].as_array().cloned().unwrap_or_default();
        if actions.len() >= 5 {
            break;
        }
        // The recorder stores what the bus carried a moment after the answers went out.
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(actions.len(), 5, "{actions:?}");
    let (residents, others): (Vec<&Value>, Vec<&Value>) = actions
        .iter()
        .partition(|a| a["actor"]["type"] == "resident");
    assert_eq!(residents.len(), 4, "{actions:?}");
    assert_eq!(others[0]["actor"]["name"], "bridge-api", "{actions:?}");
    assert_eq!(others[0]["outcome"]["result"], "denied");
    let results: Vec<&str> = residents
        .iter()
        .filter_map(|a| a["outcome"]["result"].as_str())
        .collect();
    assert_eq!(
        results.iter().filter(|r| **r == "denied").count(),
        2,
        "{results:?}"
    );
    let text = Value::Array(actions).to_string();
    assert!(
        !text.contains(RESIDENT) && !text.contains("This week"),
        "{text}"
    );
    let (_, lines) = bridge.get_authorized("/log?count=50").await;
    assert!(
        lines.as_array().is_some_and(|lines| lines
            .iter()
            .filter(|l| l["type"] == "lock-action")
            .count()
            == 5),
        "{lines}"
    );

    // Nothing the daemon wrote names the resident.
    let (code, log) = daemon.stop();
    assert_eq!(code, Some(0));
    let everything = serde_json::to_string(&log).expect("log as text");
    assert!(
        !everything.contains(RESIDENT),
        "the resident's name is in the log"
    );
    assert!(
        !everything.contains(&this_week[4..]),
        "a permission's secret is in the log"
    );
}
