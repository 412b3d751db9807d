//! The installer CLI against a simulated building, one process per command, as an installer
//! uses it: scan, pair, state, lock, unlock, unlatch. Pairings survive between processes (the
//! store on disk) and so does the simulated devices' own memory.

mod common;

use common::cli::{json, run, stdout};
use common::config::{ConfigBuilder, SimDeviceEntry, TestConfig};
use nuki_edge::config::LogFormat;
use nuki_edge::nuki::product::ProductType as DeviceKind;

/// A small building: a Box, a Smart Lock 4 (not in pairing mode), an Ultra and an Opener.
fn building() -> TestConfig {
    ConfigBuilder::new()
        // Text logs, as an installer at a terminal reads them.
        .log_format(LogFormat::Text)
        .pairing_timeout_s(6)
        .device(
            SimDeviceEntry::new(DeviceKind::Box, "Entrance", "54:D2:72:00:00:01", 0x54000001)
                .pin(1701)
                .in_pairing_mode(true),
        )
        .device(
            SimDeviceEntry::new(
                DeviceKind::SmartLock4,
                "Flat 1",
                "54:D2:72:00:00:02",
                0x54000002,
            )
            .pin(1111)
            .in_pairing_mode(false),
        )
        .device(
            SimDeviceEntry::new(
                DeviceKind::SmartLockUltra,
                "Penthouse",
                "54:D2:72:00:00:03",
                0x54000003,
            )
            .pin(482913)
            .in_pairing_mode(true),
        )
        .device(
            SimDeviceEntry::new(
                DeviceKind::Opener,
                "Intercom",
                "54:D2:72:00:00:04",
                0x54000004,
            )
            .pin(2001)
            .in_pairing_mode(true),
        )
        .build()
}

#[test]
fn scan_lists_kind_id_rssi_and_pairing_mode() {
    let building = building();
    let config = building.arg();
    let rows = json(&run(&[
        "scan",
        "--config",
        config,
        "--seconds",
        "2",
        "--json",
    ]));
    let rows = rows.as_array().expect("array");
    assert_eq!(rows.len(), 4, "{rows:?}");
    let entrance = rows
        .iter()
        .find(|r| r["address"] == "54:D2:72:00:00:01")
        .expect("entrance heard");
    assert_eq!(entrance["pairing_mode"], true);
    assert_eq!(entrance["nuki_id"], "54000001");
    assert_eq!(entrance["kind"], "keyturner");
    assert!(entrance["rssi"].as_i64().is_some_and(|r| r < 0));
    let flat = rows
        .iter()
        .find(|r| r["address"] == "54:D2:72:00:00:02")
        .expect("flat heard");
    assert_eq!(flat["pairing_mode"], false);
    let opener = rows
        .iter()
        .find(|r| r["address"] == "54:D2:72:00:00:04")
        .expect("opener heard");
    assert_eq!(opener["kind"], "opener");
}

#[test]
fn pair_then_operate_in_separate_processes() {
    let building = building();
    let config = building.arg();

    let paired = run(&["pair", "--config", config, "Entrance"]);
    assert_eq!(paired.status.code(), Some(0), "{paired:?}");
    assert!(
        stdout(&paired).contains("paired with Entrance"),
        "{}",
        stdout(&paired)
    );

    let store = building.store_path();
    let mode = std::os::unix::fs::PermissionsExt::mode(
        &std::fs::metadata(store)
            .expect("store exists")
            .permissions(),
    );
    assert_eq!(mode & 0o777, 0o600, "the store holds keys");

    let state = json(&run(&["state", "--config", config, "Entrance"]));
    assert_eq!(state["result"]["state"]["lock_state"], "locked", "{state}");

    let unlocked = json(&run(&["unlock", "--config", config, "entrance"]));
    assert_eq!(
        unlocked["result"]["state"]["lock_state"], "unlocked",
        "{unlocked}"
    );
    let locked = json(&run(&["lock", "--config", config, "54:D2:72:00:00:01"]));
    assert_eq!(
        locked["result"]["state"]["lock_state"], "locked",
        "{locked}"
    );
    let unlatched = json(&run(&["unlatch", "--config", config, "Entrance"]));
    assert_eq!(unlatched["result"]["accepted"], true, "{unlatched}");

    // A new process still knows the state the last one left.
    let state = json(&run(&["state", "--config", config, "Entrance"]));
    assert_ne!(state["result"]["state"]["lock_state"], "locked", "{state}");
}

#[test]
fn pair_waits_for_the_button_with_a_countdown() {
    let building = building();
    let config = building.arg();
    let paired = run(&["pair", "--config", config, "Flat 1"]);
    assert_eq!(paired.status.code(), Some(0), "{paired:?}");
    let text = stdout(&paired);
    assert!(
        text.contains("waiting for Flat 1 to enter pairing mode"),
        "{text}"
    );
    assert!(text.contains("s left)"), "{text}");
    assert!(text.contains("pressing the button of Flat 1"), "{text}");
    assert!(text.contains("paired with Flat 1"), "{text}");
}

#[test]
fn ultra_pairs_with_its_pin_and_opener_operates() {
    let building = building();
    let config = building.arg();
    let paired = json(&run(&["pair", "--config", config, "Penthouse", "--json"]));
    assert_eq!(paired["kind"], "smart_lock_ultra");
    assert_eq!(paired["nuki_id"], "54000003");
    assert_eq!(paired["paired_as"], "app");
    let state = json(&run(&["state", "--config", config, "Penthouse"]));
    assert_eq!(state["result"]["state"]["nuki_state"], "door_mode");

    json(&run(&[
        "pair", "--config", config, "Intercom", "--as", "bridge", "--json",
    ]));
    let rto = json(&run(&["unlock", "--config", config, "Intercom"]));
    assert_eq!(rto["result"]["state"]["lock_state"], "rto_active", "{rto}");
}

#[test]
fn wrong_ultra_pin_fails_with_a_clear_line() {
    let building = building();
    let config = building.arg();
    let output = run(&["pair", "--config", config, "Penthouse", "--pin", "111111"]);
    assert_eq!(output.status.code(), Some(1), "{output:?}");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("security PIN is wrong"), "{stderr}");
    assert!(!stderr.contains("111111"), "the PIN is never echoed");
}

#[test]
fn unpaired_and_unknown_devices_are_bad_input() {
    let building = building();
    let config = building.arg();
    let output = run(&["state", "--config", config, "Flat 1"]);
    assert_eq!(output.status.code(), Some(2), "{output:?}");
    assert!(String::from_utf8_lossy(&output.stderr).contains("not paired"));
    let output = run(&["lock", "--config", config, "Cellar"]);
    assert_eq!(output.status.code(), Some(2), "{output:?}");
    assert!(String::from_utf8_lossy(&output.stderr).contains("unknown device"));
}
