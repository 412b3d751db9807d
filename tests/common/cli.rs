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
