//! The daemon as systemd runs it: first start pairs the building's devices and reads their
//! states; SIGTERM stops it cleanly; a restart keeps every pairing and pairs nothing again.
//! Logs never carry keys or PINs.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

const BINARY: &str = env!("CARGO_BIN_EXE_nuki-edge");
/// Generous: the daemon pairs three devices over a simulated 5 ms radio.
const STARTUP_WAIT: Duration = Duration::from_secs(60);

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|address| address.port())
        .expect("a free port")
}

/// A plain HTTP/1.0 GET; returns the body.
fn http_get(port: u16, path: &str) -> String {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).expect("connect");
    write!(stream, "GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n").expect("send");
    let mut response = String::new();
    stream.read_to_string(&mut response).expect("read");
    response
        .split_once("\r\n\r\n")
        .map(|(_, body)| body.to_owned())
        .unwrap_or_default()
}

fn config(dir: &Path, port: u16) -> String {
    let text = format!(
        r#"
[store]
path = "{store}"

[log]
format = "json"

[ble]
backend = "sim"

[http]
listen = "127.0.0.1:{port}"

[bridge]
token = "daemontoken1"

[pairing]
id_type = "bridge"
auto_pair = true
security_pin = 482913

[sim]
connection_interval_ms = 5
connect_time_ms = 20

[[sim.devices]]
address = "54:D2:72:00:00:01"
name = "Entrance"
nuki_id = 0x54000001
kind = "box"
security_pin = 1701

[[sim.devices]]
address = "54:D2:72:00:00:03"
name = "Penthouse"
nuki_id = 0x54000003
kind = "smart_lock_ultra"
security_pin = 482913

[[sim.devices]]
address = "54:D2:72:00:00:04"
name = "Intercom"
nuki_id = 0x54000004
kind = "opener"
security_pin = 2001
"#,
        store = dir.join("store.redb").display(),
        port = port,
    );
    let path = dir.join("daemon.toml");
    std::fs::write(&path, text).expect("write config");
    path.to_string_lossy().into_owned()
}

struct Daemon {
    child: Child,
    lines: mpsc::Receiver<serde_json::Value>,
    seen: Vec<serde_json::Value>,
}

impl Daemon {
    fn start(config: &str) -> Self {
        let mut child = Command::new(BINARY)
            .args(["run", "--config", config])
            .env_remove("RUST_LOG")
            .stderr(Stdio::piped())
            .stdout(Stdio::null())
            .spawn()
            .expect("daemon starts");
        let stderr = child.stderr.take().expect("stderr piped");
        let (sender, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                let value = serde_json::from_str(&line)
                    .unwrap_or_else(|_| serde_json::json!({ "unparsed": line }));
                if sender.send(value).is_err() {
                    break;
                }
            }
        });
        Self {
            child,
            lines,
            seen: Vec::new(),
        }
    }

    /// Waits until `count` log lines with `message` have appeared.
    fn wait_for(&mut self, message: &str, count: usize) {
        let deadline = std::time::Instant::now() + STARTUP_WAIT;
        while self.count(message) < count {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => self.seen.push(line),
                Err(_) => panic!(
                    "no {count}× {message:?} in time; log so far: {:#?}",
                    self.seen
                ),
            }
        }
    }

    fn count(&self, message: &str) -> usize {
        self.seen
            .iter()
            .filter(|line| line["message"] == message)
            .count()
    }

    /// SIGTERM, then the exit status and the remaining log.
    fn stop(mut self) -> (Option<i32>, Vec<serde_json::Value>) {
        let pid = self.child.id().to_string();
        let killed = Command::new("kill").args(["-TERM", &pid]).status();
        assert!(killed.is_ok_and(|s| s.success()), "kill -TERM works");
        let status = self.child.wait().expect("daemon exits");
        self.seen.extend(self.lines.try_iter());
        (status.code(), self.seen)
    }
}

#[test]
fn restart_keeps_pairings_and_logs_no_secrets() {
    let dir = tempfile::tempdir().expect("tempdir");
    let port = free_port();
    let config = config(dir.path(), port);

    let mut first = Daemon::start(&config);
    first.wait_for("paired", 3);
    first.wait_for("state changed", 3);
    let added = http_get(
        port,
        "/callback/add?url=http://127.0.0.1:9/hook&token=daemontoken1",
    );
    assert!(added.contains("\"success\":true"), "{added}");
    let (code, log) = first.stop();
    assert_eq!(code, Some(0), "clean exit on SIGTERM: {log:#?}");
    assert!(log.iter().any(|l| l["message"] == "stopped"));

    let sim_memory = dir.path().join("store.redb.sim.json");
    let mode = std::os::unix::fs::PermissionsExt::mode(
        &std::fs::metadata(&sim_memory)
            .expect("simulated devices remember")
            .permissions(),
    );
    assert_eq!(mode & 0o777, 0o600);

    let mut second = Daemon::start(&config);
    second.wait_for("state changed", 3);
    let listed = http_get(port, "/callback/list?token=daemontoken1");
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

    let everything = serde_json::to_string(&log)
        .expect("log as text")
        .to_lowercase();
    for secret in ["482913", "1701", "2001"] {
        assert!(
            !everything.contains(secret),
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
