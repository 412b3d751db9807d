//! Running under systemd: readiness, the watchdog, stopping and status lines through the
//! notify socket (`Type=notify`), and logs straight into the journal with their fields.
//!
//! Every call is a no-op when the daemon was not started by systemd (no `NOTIFY_SOCKET`),
//! so a person running `nuki-edge run` at a terminal sees no difference.
//!
//! The watchdog is fed by a heartbeat that asks the core loop (the advertisement watcher,
//! which drives the gateway and the fleet) a liveness question and pings only when it got an
//! answer in time: a hung core loop stops the pings, and systemd restarts the daemon.

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use sd_notify::NotifyState;
use tokio::sync::{mpsc, oneshot};
use tokio_util::sync::CancellationToken;

/// Set by systemd when the service's stderr is connected to the journal: `DEVICE:INODE`.
const JOURNAL_STREAM_VAR: &str = "JOURNAL_STREAM";
/// How often the heartbeat asks the core loop, as a share of the watchdog interval: four
/// probes per interval leave room for a slow answer or two before systemd gives up.
const PROBES_PER_WATCHDOG_INTERVAL: u32 = 4;
/// Probes never come closer together than this, whatever `WATCHDOG_USEC` says.
const MIN_PROBE_INTERVAL: Duration = Duration::from_millis(10);
/// How long one connection attempt of the readiness self-check may take.
const SELF_CHECK_CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
/// How many times the readiness self-check tries each listener before giving up.
const SELF_CHECK_ATTEMPTS: u32 = 50;
/// The pause between two attempts of the readiness self-check.
const SELF_CHECK_PAUSE: Duration = Duration::from_millis(20);

/// Sends notifications to systemd; does nothing when not started by it.
#[derive(Debug, Clone, Copy, Default)]
pub struct Notifier;

impl Notifier {
    /// Whether a service manager listens (`NOTIFY_SOCKET` is set).
    pub fn is_active(self) -> bool {
        std::env::var_os("NOTIFY_SOCKET").is_some()
    }

    /// `READY=1` with a status line: the daemon serves requests.
    pub fn ready(self, status: &str) {
        self.send(&[NotifyState::Ready, NotifyState::Status(status)]);
    }

    /// `WATCHDOG=1`: the core loop made progress.
    pub fn watchdog(self) {
        self.send(&[NotifyState::Watchdog]);
    }

    /// `STOPPING=1`: the daemon is winding down.
    pub fn stopping(self, status: &str) {
        self.send(&[NotifyState::Stopping, NotifyState::Status(status)]);
    }

    /// `STATUS=…`: one line `systemctl status` shows.
    pub fn status(self, status: &str) {
        self.send(&[NotifyState::Status(status)]);
    }

    fn send(self, states: &[NotifyState]) {
        if let Err(error) = sd_notify::notify(states) {
            tracing::debug!(%error, "cannot notify systemd");
        }
    }
}

/// The watchdog interval systemd asked for (`WatchdogSec=`), if any.
pub fn watchdog_interval() -> Option<Duration> {
    sd_notify::watchdog_enabled().filter(|interval| !interval.is_zero())
}

/// The core loop's side of the liveness question: answer each probe while making progress.
pub struct ProbeReceiver {
    receiver: Option<mpsc::Receiver<oneshot::Sender<()>>>,
}

/// The heartbeat's side: asks the core loop whether it is alive.
#[derive(Clone)]
pub struct Probes {
    sender: mpsc::Sender<oneshot::Sender<()>>,
}

/// A probe channel with room for one unanswered question: a stalled loop leaves it full.
pub fn liveness() -> (Probes, ProbeReceiver) {
    let (sender, receiver) = mpsc::channel(1);
    (
        Probes { sender },
        ProbeReceiver {
            receiver: Some(receiver),
        },
    )
}

impl ProbeReceiver {
    /// The next question; pending forever once nobody asks any more (no watchdog), so a
    /// `select!` branch on it costs nothing then.
    pub async fn next(&mut self) -> oneshot::Sender<()> {
        if let Some(receiver) = self.receiver.as_mut() {
            if let Some(answer) = receiver.recv().await {
                return answer;
            }
        }
        self.receiver = None;
        std::future::pending().await
    }
}

impl Probes {
    /// Asks once; true when the core loop answered within `limit`.
    pub async fn ask(&self, limit: Duration) -> bool {
        let (answer, answered) = oneshot::channel();
        if self.sender.try_send(answer).is_err() {
            // The previous question is still unread: the loop is not turning.
            return false;
        }
        matches!(tokio::time::timeout(limit, answered).await, Ok(Ok(())))
    }
}

/// Pings the watchdog after each answered probe, and withholds the ping (saying so in the
/// status line) while the core loop does not answer, so systemd restarts a hung daemon.
pub async fn heartbeat(
    notifier: Notifier,
    probes: Probes,
    watchdog: Duration,
    shutdown: CancellationToken,
) {
    let every = (watchdog / PROBES_PER_WATCHDOG_INTERVAL).max(MIN_PROBE_INTERVAL);
    let mut ticker = tokio::time::interval(every);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut missed: u64 = 0;
    loop {
        tokio::select! {
            () = shutdown.cancelled() => return,
            _ = ticker.tick() => {}
        }
        let answered = tokio::select! {
            () = shutdown.cancelled() => return,
            answered = probes.ask(every) => answered,
        };
        if answered {
            if missed > 0 {
                tracing::info!(missed, "the core loop answers again");
                notifier.status("running");
            }
            missed = 0;
            notifier.watchdog();
        } else {
            missed += 1;
            tracing::warn!(
                missed,
                "the core loop did not answer; withholding the watchdog ping"
            );
            notifier.status(&format!(
                "core loop not answering ({missed} probes); watchdog pings withheld"
            ));
        }
    }
}

/// Waits until the HTTP listener and the control socket accept connections, so that READY
/// is only sent once a client that acts on it gets through. False when one never did.
pub async fn listeners_accept(http: SocketAddr, control: &Path) -> bool {
    let http = reachable(http);
    for _ in 0..SELF_CHECK_ATTEMPTS {
        let tcp = tokio::time::timeout(
            SELF_CHECK_CONNECT_TIMEOUT,
            tokio::net::TcpStream::connect(http),
        );
        let unix = tokio::time::timeout(
            SELF_CHECK_CONNECT_TIMEOUT,
            tokio::net::UnixStream::connect(control),
        );
        let (tcp, unix) = tokio::join!(tcp, unix);
        if matches!((tcp, unix), (Ok(Ok(_)), Ok(Ok(_)))) {
            return true;
        }
        tokio::time::sleep(SELF_CHECK_PAUSE).await;
    }
    false
}

/// A wildcard listen address is reached over the loopback interface of the same family.
fn reachable(address: SocketAddr) -> SocketAddr {
    let ip = match address.ip() {
        std::net::IpAddr::V4(ip) if ip.is_unspecified() => std::net::Ipv4Addr::LOCALHOST.into(),
        std::net::IpAddr::V6(ip) if ip.is_unspecified() => std::net::Ipv6Addr::LOCALHOST.into(),
        ip => ip,
    };
    SocketAddr::new(ip, address.port())
}

/// Whether stderr is the journal stream systemd connected (`JOURNAL_STREAM` names its
/// device and inode); a redirected stderr of a child process is not.
pub fn stderr_is_journal() -> bool {
    let Some(expected) = std::env::var(JOURNAL_STREAM_VAR)
        .ok()
        .and_then(|text| parse_journal_stream(&text))
    else {
        return false;
    };
    stderr_identity().is_some_and(|actual| actual == expected)
}

fn parse_journal_stream(text: &str) -> Option<(u64, u64)> {
    let (device, inode) = text.trim().split_once(':')?;
    Some((device.parse().ok()?, inode.parse().ok()?))
}

fn stderr_identity() -> Option<(u64, u64)> {
    use std::os::fd::AsFd;
    use std::os::unix::fs::MetadataExt;
    let descriptor = std::io::stderr().as_fd().try_clone_to_owned().ok()?;
    let metadata = std::fs::File::from(descriptor).metadata().ok()?;
    Some((metadata.dev(), metadata.ino()))
}

/// The journald layer when started by systemd with stderr on the journal: each event's
/// fields become journal fields (`DEVICE=`, `LOCK_STATE=`…) instead of text in a line.
pub fn journal_layer() -> Option<tracing_journald::Layer> {
    if !stderr_is_journal() {
        return None;
    }
    match tracing_journald::layer() {
        Ok(layer) => Some(layer.with_syslog_identifier("nuki-edge".to_owned())),
        Err(error) => {
            eprintln!("journald not reachable ({error}); logging to stderr");
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn journal_stream_values_parse() {
        assert_eq!(parse_journal_stream("8:12345\n"), Some((8, 12345)));
        assert_eq!(parse_journal_stream("8-12345"), None);
        assert_eq!(parse_journal_stream("x:1"), None);
    }

    #[test]
    fn wildcard_addresses_are_reached_over_loopback() {
        let any: SocketAddr = "0.0.0.0:8080".parse().unwrap();
        assert_eq!(reachable(any), "127.0.0.1:8080".parse().unwrap());
        let any6: SocketAddr = "[::]:80".parse().unwrap();
        assert_eq!(reachable(any6), "[::1]:80".parse().unwrap());
        let given: SocketAddr = "192.0.2.1:1".parse().unwrap();
        assert_eq!(reachable(given), given);
    }

    #[tokio::test]
    async fn a_loop_that_stops_answering_fails_the_probe() {
        let (probes, mut receiver) = liveness();
        let answering = tokio::spawn(async move {
            let answer = receiver.next().await;
            let _ = answer.send(());
            // Then the loop stalls: it keeps the receiver but reads no more.
            std::future::pending::<()>().await;
            drop(receiver);
        });
        assert!(probes.ask(Duration::from_secs(5)).await);
        assert!(!probes.ask(Duration::from_millis(10)).await);
        assert!(
            !probes.ask(Duration::from_secs(5)).await,
            "an unread question fails at once"
        );
        answering.abort();
    }
}
