//! The built binary: exit codes and the one-line error contract.

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
