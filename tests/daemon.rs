//! The daemon as systemd runs it: first start pairs the building's devices and reads their
//! states; SIGTERM stops it cleanly; a restart keeps every pairing and pairs nothing again.
//! Logs never carry keys or PINs.

mod common;

use std::collections::HashMap;

use common::config::{ConfigBuilder, SimDeviceEntry, TestConfig};
use common::daemon::Daemon;
use nuki_edge::config::{Config, IdType, LogFormat};
use nuki_edge::nuki::product::ProductType as DeviceKind;

fn building() -> TestConfig {
    ConfigBuilder::new()
        .bridge_token("daemontoken1")
        .auto_pair(IdType::Bridge)
        .security_pin(482913)
        .device(
            SimDeviceEntry::new(DeviceKind::Box, "Entrance", "54:D2:72:00:00:01", 0x54000001)
                .pin(1701),
        )
        .device(
            SimDeviceEntry::new(
                DeviceKind::SmartLockUltra,
                "Penthouse",
                "54:D2:72:00:00:03",
                0x54000003,
            )
            .pin(482913),
        )
        .device(
            SimDeviceEntry::new(
                DeviceKind::Opener,
                "Intercom",
                "54:D2:72:00:00:04",
                0x54000004,
            )
            .pin(2001),
        )
        .build()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restart_keeps_pairings_and_logs_no_secrets() {
    let config = building();

    let mut first = Daemon::start(&config);
    first.wait_for("paired", 3);
    first.wait_for("state changed", 3);
    let (_, added) = first
        .bridge()
        .get_text("/callback/add?url=http://127.0.0.1:9/hook&token=daemontoken1")
        .await;
    assert!(added.contains("\"success\":true"), "{added}");
    let (code, log) = first.stop();
    assert_eq!(code, Some(0), "clean exit on SIGTERM: {log:#?}");
    assert!(log.iter().any(|l| l["message"] == "stopped"));
    let first_log = log;

    let sim_memory = config.sim_memory_path();
    let mode = std::os::unix::fs::PermissionsExt::mode(
        &std::fs::metadata(&sim_memory)
            .expect("simulated devices remember")
            .permissions(),
    );
    assert_eq!(mode & 0o777, 0o600);

    let mut second = Daemon::start(&config);
    second.wait_for("state changed", 3);
    let (_, listed) = second
        .bridge()
        .get_text("/callback/list?token=daemontoken1")
        .await;
    assert!(
        listed.contains("http://127.0.0.1:9/hook"),
        "callbacks survive a restart: {listed}"
    );
    let (code, log) = second.stop();
    assert_eq!(code, Some(0));
    assert!(
        log.iter()
            .all(|l| l["message"] != "paired" && l["message"] != "pairing failed"),
        "nothing paired again after a restart: {log:#?}"
    );
    assert!(
        log.iter()
            .all(|l| l["message"] != "could not read the state"),
        "every device still answers with the stored key: {log:#?}"
    );

    // Both runs' whole output: the first one paired, so it handled every PIN and key.
    let everything = serde_json::to_string(&[&first_log, &log])
        .expect("log as text")
        .to_lowercase();
    assert!(
        !everything.contains("daemontoken1"),
        "the Bridge API token leaked into the log"
    );
    // As whole numbers: the digits of a PIN also turn up inside timestamps' fractions.
    for secret in ["482913", "1701", "2001"] {
        assert!(
            !contains_whole_number(&everything, secret),
            "PIN {secret} leaked into the log"
        );
    }
    let memory: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&sim_memory).expect("read memory")).expect("JSON");
    let keys: Vec<String> = memory
        .as_object()
        .expect("devices by address")
        .values()
        .flat_map(|device| {
            device["authorizations"]
                .as_array()
                .cloned()
                .unwrap_or_default()
        })
        .filter_map(|authorization| authorization["key"].as_str().map(str::to_lowercase))
        .collect();
    assert_eq!(keys.len(), 3, "one authorization per device");
    for key in keys {
        assert!(
            !everything.contains(&key[..16]),
            "a pairing key leaked into the log"
        );
    }
}

/// The harness writes only keys the real loader accepts (it refuses unknown keys), with the
/// values the test asked for.
#[test]
fn the_config_builder_writes_what_the_loader_reads() {
    let config = ConfigBuilder::new()
        .gateway_name("harness")
        .log_level("debug")
        .log_format(LogFormat::Text)
        .pairing_timeout_s(6)
        .command_timeout_ms(4_000)
        .auto_pair(IdType::Bridge)
        .app_id(4242)
        .security_pin(482913)
        .link_slots(2)
        .idle_disconnect_ms(500)
        .reconnect_backoff_ms(100)
        .bridge_token("abcdef123456")
        .hardware_id(305_419_896)
        .action_deadline_ms(60_000)
        .callback_attempts(2)
        .callback_retry_ms(50)
        .callback_timeout_ms(1_000)
        .radio_timing(7, 21)
        .sim_seed(9)
        .device(
            SimDeviceEntry::new(DeviceKind::SmartLock4, "Flat 1", "sim:1", 0x5401_0000)
                .pin(1234)
                .in_pairing_mode(true)
                .motor_time_ms(200)
                .states_layout_len(27)
                .door_sensor(true),
        )
        .device(SimDeviceEntry::new(
            DeviceKind::Opener,
            "Intercom",
            "sim:2",
            0x5400_0003,
        ))
        .build();
    let loaded = Config::load_with_env(config.path(), HashMap::new())
        .unwrap_or_else(|error| panic!("{error}:\n{}", config.text()));

    assert_eq!(loaded.gateway.name, "harness");
    assert_eq!(loaded.store.path, config.store_path());
    assert_eq!(loaded.log.level, "debug");
    assert_eq!(loaded.log.format, LogFormat::Text);
    assert_eq!(loaded.ble.backend.as_str(), "sim");
    assert_eq!(loaded.ble.pairing_timeout_s, 6);
    assert_eq!(loaded.ble.command_timeout_ms, 4_000);
    assert_eq!(loaded.pairing.id_type, IdType::Bridge);
    assert!(loaded.pairing.auto_pair);
    assert_eq!(loaded.pairing.app_id, Some(4242));
    assert!(loaded.pairing.security_pin.is_some());
    assert_eq!(loaded.fleet.link_slots, 2);
    assert_eq!(loaded.fleet.idle_disconnect_ms, 500);
    assert_eq!(loaded.fleet.reconnect_backoff_ms, 100);
    assert_eq!(loaded.http.listen, "127.0.0.1:0", "any free port");
    assert_eq!(
        loaded.bridge.token.as_ref().map(|token| token.expose()),
        Some("abcdef123456")
    );
    assert_eq!(config.token(), Some("abcdef123456"));
    assert_eq!(loaded.bridge.hardware_id, Some(305_419_896));
    assert_eq!(loaded.bridge.action_deadline_ms, 60_000);
    assert_eq!(loaded.bridge.callback_attempts, 2);
    assert_eq!(loaded.bridge.callback_retry_ms, 50);
    assert_eq!(loaded.bridge.callback_timeout_ms, 1_000);
    assert_eq!(loaded.sim.connection_interval_ms, 7);
    assert_eq!(loaded.sim.connect_time_ms, 21);
    assert_eq!(loaded.sim.seed, 9);
    assert_eq!(loaded.sim.devices.len(), 2);
    let lock = &loaded.sim.devices[0];
    assert_eq!(
        (lock.address.as_str(), lock.name.as_str(), lock.nuki_id),
        ("sim:1", "Flat 1", 0x5401_0000)
    );
    assert_eq!(lock.kind, DeviceKind::SmartLock4);
    assert_eq!(lock.security_pin.value(), 1234);
    assert!(lock.start_in_pairing_mode);
    assert_eq!(lock.motor_time_ms, Some(200));
    assert_eq!(lock.states_layout_len, Some(27));
    assert!(lock.door_sensor);
    let opener = &loaded.sim.devices[1];
    assert_eq!(opener.kind, DeviceKind::Opener);
    assert_eq!(
        opener.security_pin.value(),
        0,
        "unset keys keep their defaults"
    );
}

/// Two daemons at once, each on the port the system gave it: the harness learns the address
/// from the daemon's own "Bridge API ready" line, so tests never race for a guessed port.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn daemons_on_any_port_report_the_address_they_bound() {
    // One device each (the simulated backend needs one), left unpaired: only the API matters.
    let entrance = || SimDeviceEntry::new(DeviceKind::Box, "Entrance", "sim:1", 0x5400_0001);
    let configs = [
        ConfigBuilder::new()
            .bridge_token("firsttoken1")
            .device(entrance())
            .build(),
        ConfigBuilder::new()
            .bridge_token("secondtoken2")
            .device(entrance())
            .build(),
    ];
    let daemons: Vec<Daemon> = configs.iter().map(Daemon::start).collect();
    assert_ne!(daemons[0].address(), daemons[1].address());
    for daemon in &daemons {
        assert_ne!(daemon.address().port(), 0);
        let (status, info) = daemon.bridge().get_authorized("/info").await;
        assert_eq!(status, 200, "{info}");
        assert_eq!(info["bridgeType"], 1);
    }
    let (status, _) = daemons[0].bridge().get("/info?token=secondtoken2").await;
    assert_eq!(status, 401, "each address reaches its own daemon");
    for daemon in daemons {
        let (code, log) = daemon.stop();
        assert_eq!(code, Some(0), "{log:#?}");
    }
}

/// Whether `number` occurs in `text` with no digit right before or after it.
fn contains_whole_number(text: &str, number: &str) -> bool {
    text.match_indices(number).any(|(start, _)| {
        let before = text[..start].chars().next_back();
        let after = text[start + number.len()..].chars().next();
        !before.is_some_and(|c| c.is_ascii_digit()) && !after.is_some_and(|c| c.is_ascii_digit())
    })
}

#[test]
fn whole_numbers_are_told_from_digits_inside_others() {
    assert!(contains_whole_number("pin 1701 sent", "1701"));
    assert!(contains_whole_number("\"pin\":1701}", "1701"));
    assert!(!contains_whole_number("06:40:17.170123z", "1701"));
}
