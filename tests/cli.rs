//! The built binary: exit codes and the one-line error contract.

mod common;

use std::path::Path;
use std::process::{Command, Output};

const BINARY: &str = env!("CARGO_BIN_EXE_nuki-edge");
const DEMO: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/config/demo.toml");
const DEFAULT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/config/default.toml");

fn run(args: &[&str]) -> Output {
    Command::new(BINARY)
        .args(args)
        .env_remove("RUST_LOG")
        .env_remove("NUKI_EDGE__BLE__BACKEND")
        .output()
        .unwrap()
}

fn stderr_lines(output: &Output) -> Vec<String> {
    String::from_utf8_lossy(&output.stderr)
        .lines()
        .map(str::to_owned)
        .collect()
}

/// Exit code 2 and exactly one `error: …` line on stderr.
fn assert_bad_input(output: &Output) -> String {
    assert_eq!(output.status.code(), Some(2), "{output:?}");
    let lines = stderr_lines(output);
    assert_eq!(lines.len(), 1, "stderr: {lines:?}");
    assert!(lines[0].starts_with("error: "), "{lines:?}");
    lines[0].clone()
}

fn write_config(dir: &Path, text: &str) -> String {
    let path = dir.join("nuki-edge.toml");
    std::fs::write(&path, text).unwrap();
    path.to_string_lossy().into_owned()
}

#[test]
fn check_config_accepts_the_demo() {
    let output = run(&["check-config", DEMO]);
    assert_eq!(output.status.code(), Some(0), "{output:?}");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(stdout.trim(), "config OK: 8 simulated devices, backend sim");
    assert!(output.stderr.is_empty());
}

#[test]
fn check_config_accepts_the_defaults() {
    let output = run(&["check-config", DEFAULT]);
    assert_eq!(output.status.code(), Some(0), "{output:?}");
    assert!(String::from_utf8_lossy(&output.stdout).contains("backend bluez"));
}

#[test]
fn check_config_rejects_an_unknown_key() {
    let dir = tempfile::tempdir().unwrap();
    let file = write_config(dir.path(), "[ble]\nbackend = \"sim\"\nscan_secs = 3\n");
    let line = assert_bad_input(&run(&["check-config", &file]));
    assert!(line.contains("scan_secs"), "{line}");
}

#[test]
fn check_config_rejects_an_invalid_value_without_printing_secrets() {
    let dir = tempfile::tempdir().unwrap();
    let file = write_config(dir.path(), "[pairing]\nsecurity_pin = \"12x456\"\n");
    let line = assert_bad_input(&run(&["check-config", &file]));
    assert!(line.contains("pairing.security_pin"), "{line}");
    assert!(!line.contains("12x456"), "{line}");
}

#[test]
fn check_config_reports_environment_overrides() {
    let dir = tempfile::tempdir().unwrap();
    let file = write_config(dir.path(), "");
    let output = Command::new(BINARY)
        .args(["check-config", &file])
        .env("NUKI_EDGE__BLE__BACKEND", "sim")
        .output()
        .unwrap();
    let line = assert_bad_input(&output);
    assert!(line.contains("sim.devices"), "{line}");
}

#[test]
fn a_missing_config_file_is_bad_input() {
    let line = assert_bad_input(&run(&["check-config", "/nonexistent/nuki-edge.toml"]));
    assert!(line.contains("/nonexistent/nuki-edge.toml"), "{line}");
}

#[test]
fn usage_errors_are_one_line() {
    assert_bad_input(&run(&[]));
    assert_bad_input(&run(&["frobnicate"]));
    assert_bad_input(&run(&["lock", "--config", DEMO]));
    let line = assert_bad_input(&run(&[
        "pair",
        "--config",
        DEMO,
        "Penthouse",
        "--as",
        "fob",
    ]));
    assert!(line.contains("--as"), "{line}");
}

#[test]
fn device_commands_check_the_config_first() {
    let dir = tempfile::tempdir().unwrap();
    let file = write_config(dir.path(), "[ble]\nbackend = \"sim\"\n");
    for command in ["state", "lock", "unlock", "unlatch"] {
        let line = assert_bad_input(&run(&[command, "--config", &file, "Penthouse"]));
        assert!(line.contains("sim.devices"), "{line}");
    }
}

#[test]
fn help_and_version_succeed() {
    let help = run(&["--help"]);
    assert_eq!(help.status.code(), Some(0));
    let text = String::from_utf8_lossy(&help.stdout);
    for command in [
        "run",
        "check-config",
        "scan",
        "pair",
        "state",
        "lock",
        "unlock",
        "unlatch",
        "decode",
    ] {
        assert!(text.contains(command), "help lacks {command}");
    }
    let version = run(&["--version"]);
    assert_eq!(version.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&version.stdout).contains(env!("CARGO_PKG_VERSION")));
}

#[test]
fn decode_rejects_garbage() {
    let line = assert_bad_input(&run(&["decode", "not-hex-at-all"]));
    assert!(line.contains("hex"), "{line}");
    assert_bad_input(&run(&["decode"]));
}

#[test]
fn decode_rejects_a_bad_key_without_echoing_it() {
    let line = assert_bad_input(&run(&["decode", "--key", "c0ffee", "01000c00"]));
    assert!(line.contains("key"), "{line}");
    assert!(!line.to_lowercase().contains("c0ffee"), "{line}");
}

#[test]
fn decode_prints_a_plain_frame_as_json() {
    // Request Data (0x0001) asking for 0x000C, split into fragments as captured.
    let mut frame = vec![0x01, 0x00, 0x0C, 0x00];
    let crc = nuki_edge::nuki::crc::crc16(&frame);
    frame.extend_from_slice(&crc.to_le_bytes());
    let text = hex::encode(&frame);
    let output = run(&["decode", "--family", "keyturner", &text[..4], &text[4..]]);
    assert_eq!(output.status.code(), Some(0), "{output:?}");
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(report["framing"], "plain");
    assert_eq!(report["command"], "request_data");
    assert_eq!(report["crc_valid"], true);
}

// --- configuration checks that once slipped through ------------------------------------------

/// A complete simulated config with `extra` appended, its store inside `dir`.
fn sim_config(dir: &Path, extra: &str) -> String {
    let store = dir.join("state").join("store.redb");
    write_config(
        dir,
        &format!(
            "[store]\npath = \"{}\"\n\n[ble]\nbackend = \"sim\"\n\n\
             [[sim.devices]]\naddress = \"54:D2:72:00:00:01\"\nname = \"Entrance\"\n\
             nuki_id = 0x54000001\nkind = \"box\"\n\n{extra}",
            store.display()
        ),
    )
}

fn assert_check_config_names(extra: &str, key: &str) {
    let dir = tempfile::tempdir().unwrap();
    let file = sim_config(dir.path(), extra);
    let line = assert_bad_input(&common::cli::run_guarded(&["check-config", &file]));
    assert!(line.contains(key), "{extra:?}: {line}");
}

#[test]
fn an_invalid_listen_address_is_refused_before_anything_is_created() {
    for listen in [
        "127.0.0.1",
        "127.0.0.1:99999",
        "nonsense address:80",
        ":8080",
        "",
    ] {
        assert_check_config_names(&format!("[http]\nlisten = \"{listen}\"\n"), "http.listen");
    }
    let dir = tempfile::tempdir().unwrap();
    let file = sim_config(dir.path(), "[http]\nlisten = \"127.0.0.1\"\n");
    let line = assert_bad_input(&common::cli::run_guarded(&["run", "--config", &file]));
    assert!(line.contains("http.listen"), "{line}");
    assert!(
        !dir.path().join("state").exists(),
        "the store was created before the config was checked"
    );
}

#[test]
fn a_misspelt_log_level_is_refused() {
    for level in ["inof", "warning", "debgu,nuki_edge=info", "nuki_edge=loud"] {
        assert_check_config_names(&format!("[log]\nlevel = \"{level}\"\n"), "log.level");
    }
    let dir = tempfile::tempdir().unwrap();
    for level in ["warn", "INFO", "info,nuki_edge::ble=debug", "off"] {
        let file = sim_config(dir.path(), &format!("[log]\nlevel = \"{level}\"\n"));
        let output = common::cli::run_guarded(&["check-config", &file]);
        assert_eq!(output.status.code(), Some(0), "{level}: {output:?}");
    }
}

#[test]
fn durations_must_be_positive_and_bounded() {
    let cases = [
        (
            "[bridge]\naction_deadline_ms = 0\n",
            "bridge.action_deadline_ms",
        ),
        (
            "[bridge]\ncallback_timeout_ms = 0\n",
            "bridge.callback_timeout_ms",
        ),
        (
            "[bridge]\ncallback_retry_ms = 0\n",
            "bridge.callback_retry_ms",
        ),
        (
            "[fleet]\nmains_idle_disconnect_s = 0\n",
            "fleet.mains_idle_disconnect_s",
        ),
        (
            "[fleet]\nsafety_refresh_min = 9223372036854775807\n",
            "fleet.safety_refresh_min",
        ),
        (
            "[bridge]\naction_deadline_ms = 9223372036854775807\n",
            "bridge.action_deadline_ms",
        ),
        (
            "[fleet]\nstuck_flag_refresh_s = 9223372036854775807\n",
            "fleet.stuck_flag_refresh_s",
        ),
        (
            "[fleet]\nreconnect_backoff_max_s = 9223372036854775807\n",
            "fleet.reconnect_backoff_max_s",
        ),
        (
            "[sim]\nactivity_interval_s = 9223372036854775807\n",
            "sim.activity_interval_s",
        ),
    ];
    for (extra, key) in cases {
        assert_check_config_names(extra, key);
    }
}

#[test]
fn a_secret_file_that_never_ends_is_refused() {
    assert_check_config_names(
        "[bridge]\ntoken_file = \"/dev/zero\"\n",
        "bridge.token_file",
    );
    assert_check_config_names(
        "[pairing]\nsecurity_pin_file = \"/dev/zero\"\n",
        "pairing.security_pin_file",
    );
    let dir = tempfile::tempdir().unwrap();
    let big = dir.path().join("big-token");
    std::fs::write(&big, "a".repeat(64 * 1024)).unwrap();
    std::fs::set_permissions(&big, std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();
    let file = sim_config(
        dir.path(),
        &format!("[bridge]\ntoken_file = \"{}\"\n", big.display()),
    );
    let line = assert_bad_input(&common::cli::run_guarded(&["check-config", &file]));
    assert!(line.contains("bridge.token_file"), "{line}");
}

#[test]
fn a_secret_file_others_can_read_gives_one_warning_without_its_content() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let token = dir.path().join("token");
    std::fs::write(&token, "secrettoken42\n").unwrap();
    std::fs::set_permissions(&token, std::fs::Permissions::from_mode(0o644)).unwrap();
    let file = sim_config(
        dir.path(),
        &format!("[bridge]\ntoken_file = \"{}\"\n", token.display()),
    );
    let output = common::cli::run_guarded(&["check-config", &file]);
    assert_eq!(output.status.code(), Some(0), "{output:?}");
    let lines = stderr_lines(&output);
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert!(lines[0].starts_with("warning: "), "{lines:?}");
    assert!(lines[0].contains("bridge.token_file"), "{lines:?}");
    assert!(!lines[0].contains("secrettoken42"), "{lines:?}");

    std::fs::set_permissions(&token, std::fs::Permissions::from_mode(0o600)).unwrap();
    let output = common::cli::run_guarded(&["check-config", &file]);
    assert_eq!(output.status.code(), Some(0), "{output:?}");
    assert!(output.stderr.is_empty(), "{output:?}");
}

#[test]
fn the_auth_window_is_bounded() {
    let dir = tempfile::tempdir().unwrap();
    let file = sim_config(dir.path(), "");
    for seconds in ["18446744073709551615", "0", "601"] {
        let line = assert_bad_input(&run(&[
            "bridge-auth",
            "--config",
            &file,
            "--open",
            "--seconds",
            seconds,
        ]));
        assert!(line.contains("--seconds"), "{line}");
    }
    std::fs::create_dir_all(dir.path().join("state")).unwrap();
    let output = run(&[
        "bridge-auth",
        "--config",
        &file,
        "--open",
        "--seconds",
        "600",
    ]);
    assert_eq!(output.status.code(), Some(0), "{output:?}");
    assert!(String::from_utf8_lossy(&output.stdout).contains("600 s"));
}
