//! The real `nuki-edge run` process: started on any free port, it reports the address it
//! bound in its own start-up log line; its whole output is kept so tests can read the log
//! (and search it for secrets); it stops on SIGTERM and is killed when a test forgets it.

use std::io::{BufRead, BufReader, Read};
use std::net::SocketAddr;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use serde_json::Value;

use super::bridge_client::BridgeClient;
use super::config::TestConfig;

pub const BINARY: &str = env!("CARGO_BIN_EXE_nuki-edge");
/// A hang guard only: pairing twenty simulated devices on a busy two-core machine can take
/// a while, but never this long.
pub const STARTUP_WAIT: Duration = Duration::from_secs(120);
const STOP_WAIT: Duration = Duration::from_secs(60);
/// The start-up line the daemon writes once its HTTP listener is bound; its `listen` field
/// carries the bound address.
pub const READY_MESSAGE: &str = "Bridge API ready";
/// Logged once per device whose state was read (the first read counts as a change).
pub const STATE_CHANGED: &str = "state changed";

/// Every line the process wrote, stdout and stderr interleaved as they arrived.
#[derive(Default)]
struct Output {
    lines: Mutex<Vec<String>>,
    grown: Condvar,
}

impl Output {
    fn collect(self: &Arc<Self>, stream: impl Read + Send + 'static) -> JoinHandle<()> {
        let output = self.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stream).lines().map_while(Result::ok) {
                output.lines.lock().expect("output lock").push(line);
                output.grown.notify_all();
            }
        })
    }

    fn snapshot(&self) -> Vec<String> {
        self.lines.lock().expect("output lock").clone()
    }
}

/// A JSON log line as an object; anything else as `{"unparsed": line}`.
pub fn parse_line(line: &str) -> Value {
    serde_json::from_str(line).unwrap_or_else(|_| serde_json::json!({ "unparsed": line }))
}

pub struct Daemon {
    child: Child,
    output: Arc<Output>,
    readers: Vec<JoinHandle<()>>,
    address: SocketAddr,
    token: Option<String>,
    device_count: usize,
}

impl Daemon {
    /// Starts `nuki-edge run` and waits until its Bridge API listens.
    pub fn start(config: &TestConfig) -> Self {
        Self::start_with_env(config, &[])
    }

    /// The same, with extra environment variables (`NOTIFY_SOCKET` for the systemd tests).
    pub fn start_with_env(config: &TestConfig, env: &[(&str, &str)]) -> Self {
        let mut command = Command::new(BINARY);
        // A test runner started by systemd must not hand its own notify socket down.
        for inherited in [
            "NOTIFY_SOCKET",
            "WATCHDOG_USEC",
            "WATCHDOG_PID",
            "JOURNAL_STREAM",
        ] {
            command.env_remove(inherited);
        }
        command.envs(env.iter().copied());
        command
            .args(["run", "--config", config.arg()])
            .env_remove("RUST_LOG")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        // The developer's own overrides must not change what a test runs.
        for (name, _) in std::env::vars_os() {
            if name.to_string_lossy().starts_with("NUKI_EDGE__") {
                command.env_remove(name);
            }
        }
        let mut child = command.spawn().expect("daemon starts");
        let output = Arc::new(Output::default());
        let readers = vec![
            output.collect(child.stdout.take().expect("stdout piped")),
            output.collect(child.stderr.take().expect("stderr piped")),
        ];
        let mut daemon = Self {
            child,
            output,
            readers,
            address: SocketAddr::from(([127, 0, 0, 1], 0)),
            token: config.token().map(str::to_owned),
            device_count: config.devices().len(),
        };
        daemon.address = daemon.wait_for_listen_address();
        daemon
    }

    fn wait_for_listen_address(&mut self) -> SocketAddr {
        let address = self.wait_until(&format!("a {READY_MESSAGE:?} line"), |lines| {
            lines.iter().map(|line| parse_line(line)).find_map(|line| {
                (line["message"] == READY_MESSAGE)
                    .then(|| line["listen"].as_str().map(str::to_owned))
                    .flatten()
            })
        });
        address.parse().unwrap_or_else(|error| {
            panic!("{READY_MESSAGE:?} carries a socket address, not {address:?}: {error}")
        })
    }

    /// Waits until `found` finds something in the output so far; panics with the whole log
    /// when the process exits first or the hang guard runs out.
    fn wait_until<T>(&mut self, what: &str, found: impl Fn(&[String]) -> Option<T>) -> T {
        let deadline = Instant::now() + STARTUP_WAIT;
        let mut lines = self.output.lines.lock().expect("output lock");
        loop {
            if let Some(result) = found(&lines) {
                return result;
            }
            let exited = self.child.try_wait().ok().flatten();
            if exited.is_some() || Instant::now() >= deadline {
                drop(lines);
                panic!(
                    "no {what} (daemon exit: {exited:?}); log so far:\n{}",
                    self.log_text()
                );
            }
            // Short slices so that an exited process is noticed even when it wrote nothing.
            lines = self
                .output
                .grown
                .wait_timeout(lines, Duration::from_millis(200))
                .expect("output lock")
                .0;
        }
    }

    /// Waits until `count` log lines with `message` have appeared.
    pub fn wait_for(&mut self, message: &str, count: usize) {
        self.wait_until(&format!("{count}× {message:?}"), |lines| {
            let seen = lines
                .iter()
                .filter(|line| parse_line(line)["message"] == message)
                .count();
            (seen >= count).then_some(())
        });
    }

    /// Waits until a log line satisfies `wanted`.
    pub fn wait_for_line(&mut self, what: &str, wanted: impl Fn(&Value) -> bool) {
        self.wait_until(what, |lines| {
            lines
                .iter()
                .any(|line| wanted(&parse_line(line)))
                .then_some(())
        });
    }

    /// Waits until every configured device is paired and its state read once.
    pub fn wait_ready(&mut self) {
        let devices = self.device_count;
        self.wait_for(STATE_CHANGED, devices);
    }

    pub fn address(&self) -> SocketAddr {
        self.address
    }

    /// `http://127.0.0.1:PORT`
    pub fn base_url(&self) -> String {
        format!("http://{}", self.address)
    }

    /// A Bridge API client with the configured token.
    pub fn bridge(&self) -> BridgeClient {
        BridgeClient::new(
            self.address,
            self.token
                .as_deref()
                .expect("the config sets a Bridge token"),
        )
    }

    /// Every output line so far, JSON lines parsed.
    pub fn log(&self) -> Vec<Value> {
        self.output
            .snapshot()
            .iter()
            .map(|line| parse_line(line))
            .collect()
    }

    /// Every output line so far, as written.
    pub fn log_text(&self) -> String {
        self.output.snapshot().join("\n")
    }

    /// How many log lines carry `message`.
    pub fn count(&self, message: &str) -> usize {
        self.log()
            .iter()
            .filter(|line| line["message"] == message)
            .count()
    }

    /// SIGTERM, then the exit code and the whole log.
    pub fn stop(mut self) -> (Option<i32>, Vec<Value>) {
        let pid = self.child.id().to_string();
        let signalled = Command::new("kill").args(["-TERM", &pid]).status();
        assert!(signalled.is_ok_and(|s| s.success()), "kill -TERM works");
        let status = self.wait_for_exit();
        // The pipes close when the process is gone, so the readers finish with the last line.
        for reader in std::mem::take(&mut self.readers) {
            let _ = reader.join();
        }
        (status.code(), self.log())
    }

    /// SIGKILL: the daemon gets no chance to say goodbye (its broker publishes the last will).
    pub fn kill(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Waits for the daemon to exit by itself (hang guard only), then the exit code and the
    /// whole log.
    pub fn wait_exit(mut self) -> (Option<i32>, Vec<Value>) {
        let status = self.wait_for_exit();
        for reader in std::mem::take(&mut self.readers) {
            let _ = reader.join();
        }
        (status.code(), self.log())
    }

    fn wait_for_exit(&mut self) -> ExitStatus {
        let deadline = Instant::now() + STOP_WAIT;
        loop {
            if let Some(status) = self.child.try_wait().expect("wait for the daemon") {
                return status;
            }
            if Instant::now() >= deadline {
                let _ = self.child.kill();
                panic!("the daemon did not stop; log:\n{}", self.log_text());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
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
