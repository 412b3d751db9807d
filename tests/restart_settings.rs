//! Settings a Bridge API client changes survive a daemon restart, as on the official Bridge.

use std::io::{BufRead, BufReader, Read, Write};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

const BINARY: &str = env!("CARGO_BIN_EXE_nuki-edge");
const TOKEN: &str = "restarttoken1";
/// Generous: only catches a daemon that never comes up.
const STARTUP_WAIT: Duration = Duration::from_secs(60);

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|address| address.port())
        .expect("a free port")
}

/// A plain HTTP/1.0 GET; returns the status line and the body.
fn http_get(port: u16, path: &str) -> (String, String) {
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).expect("connect");
    write!(stream, "GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n").expect("send");
    let mut response = String::new();
    stream.read_to_string(&mut response).expect("read");
    let (head, body) = response.split_once("\r\n\r\n").unwrap_or((&response, ""));
    let status = head.lines().next().unwrap_or_default().to_owned();
    (status, body.to_owned())
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
token = "{TOKEN}"
[sim]
connection_interval_ms = 5
connect_time_ms = 20
[[sim.devices]]
address = "54:D2:72:00:00:01"
name = "Entrance"
nuki_id = 0x54000001
kind = "box"
"#,
        store = dir.join("store.redb").display(),
    );
    let path = dir.join("daemon.toml");
    std::fs::write(&path, text).expect("write config");
    path.to_string_lossy().into_owned()
}

struct Daemon {
    child: Child,
}

impl Daemon {
    /// Starts the daemon and waits until its Bridge API listens.
    fn start(config: &str) -> Self {
        let mut child = Command::new(BINARY)
            .args(["run", "--config", config])
            .env_remove("RUST_LOG")
            .stderr(Stdio::piped())
            .stdout(Stdio::null())
            .spawn()
            .expect("daemon starts");
        let stderr = child.stderr.take().expect("stderr piped");
        let (sender, ready) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if line.contains("Bridge API ready") {
                    let _ = sender.send(());
                }
            }
        });
        let daemon = Self { child };
        ready
            .recv_timeout(STARTUP_WAIT)
            .expect("the Bridge API comes up");
        daemon
    }

    fn stop(mut self) -> Option<i32> {
        let pid = self.child.id().to_string();
        let killed = Command::new("kill").args(["-TERM", &pid]).status();
        assert!(killed.is_ok_and(|s| s.success()), "kill -TERM works");
        self.child.wait().expect("daemon exits").code()
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

#[test]
fn disabled_auth_stays_disabled_after_a_restart() {
    let dir = tempfile::tempdir().expect("tempdir");
    let port = free_port();
    let config = config(dir.path(), port);

    let first = Daemon::start(&config);
    let (status, body) = http_get(port, &format!("/configAuth?enable=0&token={TOKEN}"));
    assert!(status.contains(" 200 "), "{status} {body}");
    assert!(body.contains("\"success\":true"), "{body}");
    let (status, _) = http_get(port, "/auth");
    assert!(status.contains(" 403 "), "disabled at once: {status}");
    assert_eq!(first.stop(), Some(0));

    let second = Daemon::start(&config);
    let (status, body) = http_get(port, "/auth");
    assert!(status.contains(" 403 "), "still disabled: {status} {body}");

    // Enabling is kept as well: /auth then waits for the installer's window rather than
    // refusing. The window is opened first so the answer comes at once.
    let (status, _) = http_get(port, &format!("/configAuth?enable=1&token={TOKEN}"));
    assert!(status.contains(" 200 "), "{status}");
    assert_eq!(second.stop(), Some(0));
    let opened = Command::new(BINARY)
        .args([
            "bridge-auth",
            "--config",
            &config,
            "--open",
            "--seconds",
            "60",
        ])
        .output()
        .expect("bridge-auth runs");
    assert!(opened.status.success(), "{opened:?}");
    let third = Daemon::start(&config);
    let (status, body) = http_get(port, "/auth");
    assert!(status.contains(" 200 "), "{status} {body}");
    assert!(
        body.contains(TOKEN),
        "enabled again after a restart: {body}"
    );
    assert_eq!(third.stop(), Some(0));
}
