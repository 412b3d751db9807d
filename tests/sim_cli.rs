//! `nuki-edge sim DEVICE …` acts on the simulated devices of a running daemon from outside,
//! as an installer trying the gateway (and the tests and benchmarks) do; what is wrong for
//! the device or the daemon is a clear exit code 2.

mod common;

use common::cli::{json, run_with, stderr};
use common::config::{ConfigBuilder, SimDeviceEntry, TestConfig};
use common::daemon::Daemon;
use nuki_edge::config::IdType;
use nuki_edge::nuki::product::ProductType as DeviceKind;

const FLAT: &str = "Flat 1";

fn building() -> TestConfig {
    ConfigBuilder::new()
        .bridge_token("simclitoken1")
        .auto_pair(IdType::Bridge)
        .device(
            SimDeviceEntry::new(
                DeviceKind::SmartLock4,
                FLAT,
                "54:D2:72:00:00:02",
                0x54000002,
            )
            .pin(1111)
            .door_sensor(true),
        )
        .device(
            SimDeviceEntry::new(DeviceKind::Box, "Entrance", "54:D2:72:00:00:01", 0x54000001)
                .pin(1701),
        )
        .build()
}

fn state_is(line: &serde_json::Value, lock_state: &str) -> bool {
    line["message"] == "state changed" && line["device"] == FLAT && line["lock_state"] == lock_state
}

#[test]
fn a_turn_by_hand_reaches_the_daemon_as_a_state_change() {
    let config = building();
    let mut daemon = Daemon::start(&config);
    daemon.wait_ready();

    let answer = json(&run_with(&config, "sim", &[FLAT, "turn", "lock"]));
    assert_eq!(answer["outcome"], "turned", "{answer}");
    daemon.wait_for_line("the flat reported locked", |line| state_is(line, "locked"));

    let answer = json(&run_with(
        &config,
        "sim",
        &["54:d2:72:00:00:02", "door", "open"],
    ));
    assert_eq!(answer["outcome"], "door open", "{answer}");

    // What the device cannot do, or a device that is not there: bad input, one line.
    for (args, says) in [
        (vec![FLAT, "keypad", "123456"], "keypad"),
        (vec!["Garage", "button"], "unknown device"),
        (vec!["Entrance", "ring"], "Opener"),
    ] {
        let output = run_with(&config, "sim", &args);
        assert_eq!(output.status.code(), Some(2), "{args:?}: {output:?}");
        let message = stderr(&output);
        assert_eq!(message.trim().lines().count(), 1, "{message}");
        assert!(message.contains(says), "{args:?}: {message}");
    }
    let (code, _) = daemon.stop();
    assert_eq!(code, Some(0));
}

#[test]
fn without_a_running_daemon_sim_says_what_it_needs() {
    let config = building();
    let output = run_with(&config, "sim", &[FLAT, "turn", "unlock"]);
    assert_eq!(output.status.code(), Some(2), "{output:?}");
    assert!(
        stderr(&output).contains("no daemon is running"),
        "{}",
        stderr(&output)
    );
}
