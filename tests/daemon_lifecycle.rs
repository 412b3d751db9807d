//! The daemon as systemd runs it: SIGTERM during a running action winds everything down and
//! closes every link, a core task that dies takes the daemon down with a non-zero exit, and
//! the installer's one-shot commands work through the running daemon.

mod common;

use common::cli::{json, run_with, stderr};
use common::config::{ConfigBuilder, SimDeviceEntry};
use common::daemon::Daemon;
use common::fixture::paired_daemon;
use nuki_edge::config::IdType;
use nuki_edge::nuki::product::ProductType;
use serde_json::Value;

const TOKEN: &str = "lifecycle42";
const FLAT: u32 = 0x5501_0000;
const ENTRANCE: u32 = 0x5501_0001;

fn building() -> ConfigBuilder {
    ConfigBuilder::new().bridge_token(TOKEN).devices([
        SimDeviceEntry::new(ProductType::SmartLock4, "Flat 1", "sim:life-1", FLAT)
            .pin(1234)
            .motor_time_ms(1500),
        SimDeviceEntry::new(ProductType::Box, "Entrance", "sim:life-2", ENTRANCE).pin(1234),
    ])
}

fn lines_with<'a>(log: &'a [Value], message: &str) -> Vec<&'a Value> {
    log.iter()
        .filter(|line| line["message"] == message)
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn sigterm_during_a_lock_action_answers_it_closes_every_link_and_exits_zero() {
    let (_config, daemon) = paired_daemon(building());
    let bridge = daemon.bridge();
    // The Box keeps its link open after its first read (mains powered); open one to the
    // lock too, with an action whose motor runs for a while.
    let action = tokio::spawn(async move {
        bridge
            .get_authorized(&format!("/lockAction?nukiId={FLAT}&deviceType=4&action=2"))
            .await
    });
    // The motor runs for 1.5 s after a link of a few milliseconds: mid-action.
    tokio::time::sleep(std::time::Duration::from_millis(800)).await;
    let (code, log) = tokio::task::spawn_blocking(move || daemon.stop())
        .await
        .expect("stopped");
    let (status, body) = action.await.expect("the action was answered");
    assert!(
        (status == 200 && body["success"] == true) || body["success"] == false,
        "the action either completed or was reported: {status} {body}"
    );
    assert_eq!(code, Some(0), "a requested stop exits 0");
    let closed: Vec<&str> = lines_with(&log, "link closed at shutdown")
        .iter()
        .filter_map(|line| line["device"].as_str())
        .collect();
    assert!(
        closed.contains(&"Entrance"),
        "the Box's idle link was closed: {closed:?}"
    );
    assert!(
        closed.contains(&"Flat 1"),
        "the lock's link was closed: {closed:?}"
    );
    assert_eq!(lines_with(&log, "stopped").len(), 1);
}

#[test]
fn a_radio_that_dies_takes_the_daemon_down_with_a_non_zero_exit() {
    let config = building()
        .auto_pair(IdType::Bridge)
        .set("sim", "adapter_fails_after_s", 2)
        .build();
    let daemon = Daemon::start(&config);
    let (code, log) = daemon.wait_exit();
    assert_eq!(code, Some(1), "systemd restarts on this exit code");
    let ended = lines_with(
        &log,
        "a core task ended; shutting down so that systemd restarts the daemon",
    );
    assert_eq!(ended.len(), 1, "the failure is logged once");
    let named = ended[0]["ended"].as_str().unwrap_or_default();
    assert!(
        named.contains("advertisement watcher"),
        "the failed task is named: {named}"
    );
}

#[test]
fn one_shot_commands_work_through_the_running_daemon() {
    let (config, daemon) = paired_daemon(building());
    let mut socket = config.store_path().as_os_str().to_owned();
    socket.push(".control.sock");
    let mode = std::fs::metadata(&socket)
        .expect("control socket")
        .permissions();
    assert_eq!(
        std::os::unix::fs::PermissionsExt::mode(&mode) & 0o777,
        0o600,
        "only the daemon's user may reach the daemon"
    );
    let unlocked = run_with(&config, "unlock", &["Flat 1"]);
    assert!(unlocked.status.success(), "{}", stderr(&unlocked));
    let unlocked = json(&unlocked);
    assert_eq!(unlocked["device"], "Flat 1");
    assert_eq!(unlocked["result"]["accepted"], true, "{unlocked}");
    assert_eq!(
        unlocked["result"]["state"]["lock_state"], "unlocked",
        "{unlocked}"
    );
    let state = json(&run_with(&config, "state", &["sim:life-1"]));
    assert_eq!(
        state["result"]["state"]["lock_state"], "unlocked",
        "{state}"
    );

    let unknown = run_with(&config, "lock", &["Nobody"]);
    assert_eq!(unknown.status.code(), Some(2));
    let message = stderr(&unknown);
    assert_eq!(message.lines().count(), 1, "{message}");
    assert!(
        message.starts_with("error: unknown device 'Nobody'"),
        "{message}"
    );

    let (code, _) = daemon.stop();
    assert_eq!(code, Some(0));
}
