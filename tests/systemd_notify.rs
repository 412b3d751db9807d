//! The daemon under systemd's `Type=notify` and `WatchdogSec=`: a fake notify socket (a Unix
//! datagram socket the test binds, `NOTIFY_SOCKET` pointing at it) receives what systemd
//! would. READY comes only once the listeners answer, WATCHDOG pings stop while the core loop
//! is stalled (`sim.stall_core_after_s`), STOPPING comes at shutdown. And the unit's
//! hardening keeps its `systemd-analyze security` score.

mod common;

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::{UnixDatagram, UnixStream};
use std::path::{Path, PathBuf};
use std::time::Duration;

use common::config::{ConfigBuilder, SimDeviceEntry};
use common::daemon::Daemon;
use nuki_edge::config::IdType;
use nuki_edge::nuki::product::ProductType;

/// A hang guard only: the next notification should come long before.
const NOTIFICATION_WAIT: Duration = Duration::from_secs(60);
/// The watchdog interval the tests ask for (`WATCHDOG_USEC`): probes every 250 ms.
const WATCHDOG_USEC: &str = "1000000";
/// The unit's `systemd-analyze security --offline=yes` exposure score today.
const HARDENING_SCORE_LIMIT: f64 = 1.5;
const UNIT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/systemd/nuki-edge.service");

/// What systemd would receive: one datagram per notification, `KEY=VALUE` lines.
struct FakeNotifySocket {
    _dir: tempfile::TempDir,
    path: PathBuf,
    socket: UnixDatagram,
}

impl FakeNotifySocket {
    fn bind() -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("notify.sock");
        let socket = UnixDatagram::bind(&path).expect("bind the notify socket");
        socket
            .set_read_timeout(Some(NOTIFICATION_WAIT))
            .expect("read timeout");
        Self {
            _dir: dir,
            path,
            socket,
        }
    }

    fn path(&self) -> &str {
        self.path.to_str().expect("UTF-8 path")
    }

    /// The next notification's lines; panics when none comes within the hang guard.
    fn next(&self) -> Vec<String> {
        let mut buffer = vec![0u8; 4096];
        let length = self
            .socket
            .recv(&mut buffer)
            .expect("a notification within the hang guard");
        String::from_utf8_lossy(&buffer[..length])
            .lines()
            .map(str::to_owned)
            .collect()
    }

    /// Reads notifications until one has `line`; returns those read before it, and it.
    fn until(&self, wanted: impl Fn(&str) -> bool) -> (Vec<Vec<String>>, Vec<String>) {
        let mut before = Vec::new();
        loop {
            let notification = self.next();
            if notification.iter().any(|line| wanted(line)) {
                return (before, notification);
            }
            before.push(notification);
        }
    }
}

fn is_ping(notification: &[String]) -> bool {
    notification.iter().any(|line| line == "WATCHDOG=1")
}

fn withheld(line: &str) -> bool {
    line.starts_with("STATUS=") && line.contains("watchdog pings withheld")
}

fn building() -> ConfigBuilder {
    ConfigBuilder::new()
        .bridge_token("notify1234")
        .device(
            SimDeviceEntry::new(
                ProductType::SmartLock4,
                "Flat 1",
                "sim:notify-1",
                0x7701_0001,
            )
            .pin(1234),
        )
        .auto_pair(IdType::Bridge)
}

/// The address in READY's status line (`STATUS=serving on 127.0.0.1:PORT; …`).
fn served_address(notification: &[String]) -> String {
    notification
        .iter()
        .find_map(|line| line.strip_prefix("STATUS=serving on "))
        .and_then(|rest| rest.split(';').next())
        .map(str::to_owned)
        .unwrap_or_else(|| panic!("READY carries the address in STATUS: {notification:?}"))
}

fn http_get(address: &str, path: &str) -> String {
    let mut stream = std::net::TcpStream::connect(address).expect("the HTTP listener accepts");
    stream
        .set_read_timeout(Some(NOTIFICATION_WAIT))
        .expect("read timeout");
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n\r\n"
    )
    .expect("request sent");
    let mut status = String::new();
    BufReader::new(stream)
        .read_line(&mut status)
        .expect("an answer");
    status
}

fn control_request(path: &Path, line: &str) -> String {
    let mut stream = UnixStream::connect(path).expect("the control socket accepts");
    stream
        .set_read_timeout(Some(NOTIFICATION_WAIT))
        .expect("read timeout");
    writeln!(stream, "{line}").expect("request sent");
    let mut answer = String::new();
    BufReader::new(stream)
        .read_line(&mut answer)
        .expect("an answer");
    answer
}

#[test]
fn ready_comes_once_the_listeners_answer_and_stopping_at_shutdown() {
    let notify = FakeNotifySocket::bind();
    let config = building().build();
    let daemon = Daemon::start_with_env(&config, &[("NOTIFY_SOCKET", notify.path())]);
    let (before, ready) = notify.until(|line| line == "READY=1");
    assert!(
        before.is_empty(),
        "READY is the first notification: {before:?}"
    );
    // Right away, as a unit ordered After=nuki-edge.service would.
    let address = served_address(&ready);
    let status = http_get(&address, "/metrics");
    assert!(status.starts_with("HTTP/1.1 200"), "{status}");
    let mut control = config.store_path().as_os_str().to_owned();
    control.push(".control.sock");
    let answer = control_request(Path::new(&control), r#"{"doctor":"devices"}"#);
    assert!(
        answer.contains("Flat 1") || answer.starts_with(r#"{"done":[]"#),
        "{answer}"
    );
    let (code, _) = daemon.stop();
    assert_eq!(code, Some(0));
    let (_, stopping) = notify.until(|line| line == "STOPPING=1");
    assert!(stopping.iter().any(|line| line.starts_with("STATUS=")));
}

#[test]
fn watchdog_pings_stop_while_the_core_loop_is_stalled() {
    let notify = FakeNotifySocket::bind();
    let config = building().set("sim", "stall_core_after_s", 3).build();
    let mut daemon = Daemon::start_with_env(
        &config,
        &[
            ("NOTIFY_SOCKET", notify.path()),
            ("WATCHDOG_USEC", WATCHDOG_USEC),
        ],
    );
    let (before_ready, _) = notify.until(|line| line == "READY=1");
    assert!(
        !before_ready.iter().any(|n| is_ping(n)),
        "no ping before READY"
    );
    let (while_turning, _) = notify.until(|line| line.starts_with("STATUS=simulated core stall"));
    let pings = while_turning.iter().filter(|n| is_ping(n)).count();
    assert!(
        pings >= 2,
        "the heartbeat pinged while the core loop turned: {while_turning:?}"
    );
    // A probe answered just before the stall may still be pinged; from the first
    // unanswered one on, three more go unanswered and not one ping comes among them.
    notify.until(withheld);
    let mut after_stall = Vec::new();
    for _ in 0..3 {
        let (between, status) = notify.until(withheld);
        after_stall.extend(between);
        after_stall.push(status);
    }
    assert!(
        !after_stall.iter().any(|n| is_ping(n)),
        "pings stopped with the core loop: {after_stall:?}"
    );
    daemon.wait_for("sim.stall_core_after_s: the core loop stops turning", 1);
    daemon.wait_for(
        "the core loop did not answer; withholding the watchdog ping",
        4,
    );
    let (code, _) = daemon.stop();
    assert_eq!(code, Some(0), "a stalled core loop still honours SIGTERM");
}

#[test]
fn the_unit_keeps_its_hardening_score() {
    let output = match std::process::Command::new("systemd-analyze")
        .args(["security", "--offline=yes", UNIT])
        .output()
    {
        Ok(output) => output,
        Err(error) => {
            println!("skipped: systemd-analyze not available ({error})");
            return;
        }
    };
    let text = String::from_utf8_lossy(&output.stdout);
    let score: f64 = text
        .lines()
        .find_map(|line| {
            line.split("Overall exposure level for nuki-edge.service:")
                .nth(1)
        })
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|number| number.parse().ok())
        .unwrap_or_else(|| panic!("an exposure score in:\n{text}"));
    assert!(
        score <= HARDENING_SCORE_LIMIT,
        "exposure {score} > {HARDENING_SCORE_LIMIT}:\n{text}"
    );
}

#[test]
fn the_unit_is_a_notify_service_with_a_watchdog() {
    let unit = std::fs::read_to_string(UNIT).expect("unit file");
    let keys: Vec<&str> = unit.lines().map(str::trim).collect();
    assert!(keys.contains(&"Type=notify"), "{unit}");
    assert!(keys.iter().any(|line| line.starts_with("WatchdogSec=")));
    assert!(keys.contains(&"NotifyAccess=main"));
}

#[test]
fn a_journal_stream_that_is_not_our_stderr_leaves_logging_on_stderr() {
    // A child whose stderr was redirected inherits JOURNAL_STREAM but must not log into the
    // journal: the variable names another file than its stderr.
    let config = building().build();
    let daemon = Daemon::start_with_env(&config, &[("JOURNAL_STREAM", "0:1")]);
    let (code, log) = daemon.stop();
    assert_eq!(code, Some(0));
    assert!(
        log.iter().any(|line| line["message"] == "stopped"),
        "the log still reaches stderr"
    );
}
