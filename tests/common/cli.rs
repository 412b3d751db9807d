//! The installer's command line, one process per command, as an installer runs it.

use std::process::{Command, Output};

use super::config::TestConfig;
use super::daemon::BINARY;

/// Runs `nuki-edge ARGS…` without the developer's log filter.
pub fn run(args: &[&str]) -> Output {
    Command::new(BINARY)
        .args(args)
        .env_remove("RUST_LOG")
        .output()
        .expect("binary runs")
}

/// A run of the binary that hangs longer than this is a defect, not slowness.
const HANG_GUARD: std::time::Duration = std::time::Duration::from_secs(60);

/// Runs `nuki-edge ARGS…` without the developer's log filter or `NUKI_EDGE__*` overrides;
/// kills it and fails the test if it outlives the hang guard.
pub fn run_guarded(args: &[&str]) -> Output {
    let mut command = Command::new(BINARY);
    command
        .args(args)
        .env_remove("RUST_LOG")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    for (name, _) in std::env::vars_os() {
        if name.to_string_lossy().starts_with("NUKI_EDGE__") {
            command.env_remove(name);
        }
    }
    let child = command.spawn().expect("binary runs");
    let pid = child.id().to_string();
    let (sender, receiver) = std::sync::mpsc::channel();
    std::thread::spawn(move || sender.send(child.wait_with_output()));
    match receiver.recv_timeout(HANG_GUARD) {
        Ok(output) => output.expect("output collected"),
        Err(_) => {
            let _ = Command::new("kill").args(["-KILL", &pid]).status();
            panic!("nuki-edge {args:?} hung");
        }
    }
}

/// Runs `nuki-edge COMMAND --config FILE ARGS…`.
pub fn run_with(config: &TestConfig, command: &str, args: &[&str]) -> Output {
    let mut all = vec![command, "--config", config.arg()];
    all.extend_from_slice(args);
    run(&all)
}

pub fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

pub fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// The command's JSON on stdout; the command must have succeeded.
pub fn json(output: &Output) -> serde_json::Value {
    assert_eq!(output.status.code(), Some(0), "{output:?}");
    serde_json::from_slice(&output.stdout).expect("JSON on stdout")
}
