//! The daemon's radios as an installer sees them: `/api/v1/status` and `scan` tell which
//! radio serves each device, why, and every radio that hears it, in a simulated building
//! with two radios at opposite ends of a corridor.

mod common;

use std::time::Duration;

use common::accounts::{create_owner, ApiClient};
use common::cli::{run_with, stdout};
use common::config::{ConfigBuilder, SimDeviceEntry};
use common::fixture::paired_daemon;
use nuki_edge::nuki::product::ProductType as DeviceKind;
use serde_json::Value;

/// Hang guard while the radios hear the doors: advertisements come every half second, so
/// this is never reached unless routing is broken.
const ROUTES_GUARD: Duration = Duration::from_secs(60);

fn corridor() -> ConfigBuilder {
    ConfigBuilder::new()
        .bridge_token("radiostat1")
        .sim_radio("west", [0.0, 0.0, 1.0])
        .sim_radio("east", [30.0, 0.0, 1.0])
        .device(
            SimDeviceEntry::new(
                DeviceKind::SmartLock4,
                "West door",
                "54:D2:72:20:00:01",
                0x5420_0001,
            )
            .at([2.0, 0.0, 1.0]),
        )
        .device(
            SimDeviceEntry::new(
                DeviceKind::SmartLock4,
                "East door",
                "54:D2:72:20:00:02",
                0x5420_0002,
            )
            .at([27.0, 0.0, 1.0]),
        )
}

fn route<'a>(status: &'a Value, name: &str) -> Option<&'a Value> {
    status["routes"]
        .as_array()?
        .iter()
        .find(|route| route["name"] == name && route["radio"].is_string())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_shows_each_door_served_by_the_radio_nearest_to_it() {
    let (config, daemon) = paired_daemon(corridor());
    let owner = ApiClient::bearer(&daemon.base_url(), &create_owner(&config));

    let deadline = tokio::time::Instant::now() + ROUTES_GUARD;
    let status = loop {
        let status = owner.get("/api/v1/status").await.body;
        if route(&status, "West door").is_some() && route(&status, "East door").is_some() {
            break status;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no routes for both doors: {status}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };

    let radios = status["radios"].as_array().expect("radios");
    let names: Vec<&str> = radios.iter().filter_map(|r| r["name"].as_str()).collect();
    assert_eq!(names, ["west", "east"], "{status}");
    for radio in radios {
        assert_eq!(radio["kind"], "simulated", "{radio}");
        assert_eq!(radio["up"], true, "{radio}");
        assert_eq!(radio["linkSlots"], 3, "{radio}");
    }
    for (door, nearest) in [("West door", "west"), ("East door", "east")] {
        let route = route(&status, door).expect("routed");
        assert_eq!(route["radio"], nearest, "{route}");
        assert_eq!(route["heardBy"][0]["radio"], nearest, "{route}");
        assert!(route["deviceId"].is_u64(), "{route}");
        assert!(route["reason"].is_string(), "{route}");
    }

    // Each door is operated through its own radio.
    let bridge = daemon.bridge();
    for nuki_id in [0x5420_0001_u32, 0x5420_0002] {
        let (status, body) = bridge
            .get_authorized(&format!(
                "/lockAction?nukiId={nuki_id}&deviceType=4&action=1"
            ))
            .await;
        assert_eq!(
            (status, &body["success"]),
            (200, &Value::Bool(true)),
            "{body}"
        );
    }
}

#[test]
fn scan_lists_every_radio_that_hears_each_door() {
    let config = corridor().build();
    let output = run_with(&config, "scan", &["--seconds", "3"]);
    let text = stdout(&output);
    assert!(output.status.success(), "{text}");
    let west = text
        .lines()
        .find(|line| line.contains("54:D2:72:20:00:01"))
        .unwrap_or_else(|| panic!("the west door is listed: {text}"));
    assert!(west.contains("via west"), "{west}");
    assert!(west.contains("heard by west "), "{west}");
    let east = text
        .lines()
        .find(|line| line.contains("54:D2:72:20:00:02"))
        .unwrap_or_else(|| panic!("the east door is listed: {text}"));
    assert!(east.contains("via east"), "{east}");
}
