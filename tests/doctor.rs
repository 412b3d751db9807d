//! `nuki-edge doctor`: each verdict and exit code on a healthy demo, a store others can
//! read, a missing system bus for the bluez backend, a taken HTTP port, a broken
//! configuration, and `--json` for scripts.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::process::{Command, Output};

use common::cli::{run_guarded, stderr, stdout};
use common::config::{ConfigBuilder, SimDeviceEntry, TestConfig};
use common::daemon::BINARY;
use common::fixture::paired_daemon;
use nuki_edge::nuki::product::ProductType;
use serde_json::Value;

fn building() -> ConfigBuilder {
    ConfigBuilder::new().bridge_token("doctor4242").devices([
        SimDeviceEntry::new(
            ProductType::SmartLock4,
            "Flat 1",
            "sim:doctor-1",
            0x8801_0001,
        )
        .pin(1234),
        SimDeviceEntry::new(ProductType::Box, "Entrance", "sim:doctor-2", 0x8801_0002).pin(1234),
    ])
}

fn doctor(config: &TestConfig, json: bool) -> Output {
    let mut args = vec!["doctor", "--config", config.arg()];
    if json {
        args.push("--json");
    }
    run_guarded(&args)
}

fn report(output: &Output) -> Value {
    serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|error| panic!("JSON on stdout ({error}): {}", stdout(output)))
}

/// The check named `name` of a JSON report.
fn check<'a>(report: &'a Value, name: &str) -> &'a Value {
    report["checks"]
        .as_array()
        .and_then(|checks| checks.iter().find(|check| check["check"] == name))
        .unwrap_or_else(|| panic!("a check {name:?} in {report}"))
}

/// A store written by a daemon that paired the building, then stopped.
fn stopped_building() -> TestConfig {
    let (config, daemon) = paired_daemon(building());
    let (code, _) = daemon.stop();
    assert_eq!(code, Some(0));
    config
}

#[test]
fn a_healthy_demo_with_its_daemon_running_passes() {
    let (config, daemon) = paired_daemon(building());
    let output = doctor(&config, false);
    let table = stdout(&output);
    assert_eq!(output.status.code(), Some(0), "{table}{}", stderr(&output));
    assert!(table.contains("no check failed"), "{table}");
    let output = doctor(&config, true);
    assert_eq!(output.status.code(), Some(0));
    let report = report(&output);
    assert_ne!(report["verdict"], "fail", "{report}");
    for name in [
        "configuration",
        "store private",
        "store consistent",
        "system clock",
    ] {
        assert_eq!(check(&report, name)["verdict"], "ok", "{name}: {report}");
    }
    assert_eq!(check(&report, "Bluetooth adapter")["verdict"], "skip");
    let listener = check(&report, "HTTP listener");
    assert_eq!(listener["verdict"], "ok", "{listener}");
    let flat = check(&report, "device Flat 1");
    assert_eq!(flat["verdict"], "ok", "{flat}");
    assert!(
        flat["detail"].as_str().is_some_and(|d| d.contains("dBm")),
        "signal strength shown: {flat}"
    );
    assert_eq!(check(&report, "device Entrance")["verdict"], "ok");
    drop(daemon);
}

#[test]
fn without_the_daemon_the_devices_are_not_judged() {
    let config = stopped_building();
    let output = doctor(&config, true);
    assert_eq!(output.status.code(), Some(0), "{}", stdout(&output));
    let devices = check(&report(&output), "paired devices").clone();
    assert_eq!(devices["verdict"], "skip");
    assert!(devices["detail"]
        .as_str()
        .is_some_and(|d| d.contains("daemon not running")));
}

#[test]
fn a_store_others_can_read_fails_with_the_chmod_fix() {
    let config = stopped_building();
    std::fs::set_permissions(config.store_path(), std::fs::Permissions::from_mode(0o644))
        .expect("chmod");
    let output = doctor(&config, false);
    assert_eq!(output.status.code(), Some(1), "{}", stdout(&output));
    let table = stdout(&output);
    let fix = format!("fix: chmod 600 {}", config.store_path().display());
    assert!(table.contains(&fix), "{table}");
    assert!(table.contains("1 check failed"), "{table}");
    assert!(stderr(&output).starts_with("error: 1 doctor check failed"));
    // Doctor only looks: the mode is as it found it.
    let mode = std::fs::metadata(config.store_path())
        .expect("store")
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o644);
}

#[test]
fn the_bluez_backend_without_a_system_bus_fails_with_the_fix() {
    let config = ConfigBuilder::new().set("ble", "backend", "bluez").build();
    let dir = tempfile::tempdir().expect("tempdir");
    let nowhere = format!("unix:path={}", dir.path().join("no-bus").display());
    let output = Command::new(BINARY)
        .args(["doctor", "--json", "--config", config.arg()])
        .env("DBUS_SYSTEM_BUS_ADDRESS", nowhere)
        .env_remove("RUST_LOG")
        .output()
        .expect("doctor runs");
    assert_eq!(output.status.code(), Some(1), "{}", stdout(&output));
    let report = report(&output);
    let bus = check(&report, "system D-Bus");
    assert_eq!(bus["verdict"], "fail", "{bus}");
    assert!(
        bus["fix"]
            .as_str()
            .is_some_and(|fix| fix.contains("systemctl start dbus")),
        "{bus}"
    );
}

#[test]
fn a_port_taken_by_another_program_fails() {
    let squatter = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let taken = squatter.local_addr().expect("address").to_string();
    let config = building().set("http", "listen", taken.as_str()).build();
    let output = doctor(&config, true);
    assert_eq!(output.status.code(), Some(1));
    let listener = check(&report(&output), "HTTP listener").clone();
    assert_eq!(listener["verdict"], "fail", "{listener}");
    assert!(listener["fix"]
        .as_str()
        .is_some_and(|f| f.contains("http.listen")));
}

#[test]
fn network_services_the_config_cannot_name_are_skipped() {
    // This version's configuration has no [mqtt] or cloud section (unknown keys are refused),
    // so an unreachable broker cannot be configured: both checks say "not configured".
    let config = building().build();
    let report = report(&doctor(&config, true));
    for name in ["MQTT broker", "Nuki cloud"] {
        let service = check(&report, name);
        assert_eq!(service["verdict"], "skip", "{service}");
        assert_eq!(service["detail"], "not configured");
    }
}

#[test]
fn a_configuration_that_does_not_load_is_a_failed_check() {
    let config = building().build();
    std::fs::write(config.path(), "[ble]\nbackend = \"carrier-pigeon\"\n").expect("write");
    let output = doctor(&config, true);
    assert_eq!(output.status.code(), Some(1));
    let configuration = check(&report(&output), "configuration").clone();
    assert_eq!(configuration["verdict"], "fail");
    assert!(configuration["fix"]
        .as_str()
        .is_some_and(|fix| fix.contains("check-config")));
}

#[test]
fn bad_command_lines_exit_2() {
    let output = run_guarded(&["doctor"]);
    assert_eq!(output.status.code(), Some(2));
    let output = run_guarded(&["doctor", "--config", "x.toml", "--verbose"]);
    assert_eq!(output.status.code(), Some(2));
    assert_eq!(stderr(&output).lines().count(), 1);
}

#[test]
fn a_clock_behind_the_last_time_the_gateway_saw_fails() {
    let config = stopped_building();
    let next_year = jiff::Timestamp::now().as_second() + 365 * 24 * 3600;
    {
        let store = nuki_edge::store::Store::open(config.store_path()).expect("store");
        store
            .set_setting(
                nuki_edge::gateway::SETTING_LAST_KNOWN_TIME,
                &next_year.to_string(),
            )
            .expect("setting written");
    }
    let output = doctor(&config, true);
    assert_eq!(output.status.code(), Some(1), "{}", stdout(&output));
    let clock = check(&report(&output), "system clock").clone();
    assert_eq!(clock["verdict"], "fail", "{clock}");
    assert!(clock["fix"].as_str().is_some_and(|fix| fix.contains("NTP")));
}
