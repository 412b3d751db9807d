//! A real mosquitto broker per test: its own config file in a temporary directory, a free
//! loopback port, optional TLS listener; stop and restart on the same port. And a subscriber
//! (rumqttc on its own thread) that keeps every message it saw, reconnecting and
//! resubscribing after a broker restart.

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use rumqttc::{AsyncClient, Event, MqttOptions, Packet, PublishOptions, QoS, Transport};
use tempfile::TempDir;

/// Hang guard only: how long a test waits for the broker or a message.
pub const MQTT_WAIT: Duration = Duration::from_secs(60);
const POLL_SLICE: Duration = Duration::from_millis(200);
/// Pause of the test subscriber between reconnection attempts.
const SUBSCRIBER_RETRY: Duration = Duration::from_millis(100);

/// The PEM files of a TLS listener (made by the test with rcgen).
pub struct BrokerTls {
    pub ca: PathBuf,
    pub cert: PathBuf,
    pub key: PathBuf,
    /// Clients must present a certificate signed by `ca`.
    pub require_client_certificate: bool,
}

pub struct Mosquitto {
    dir: TempDir,
    /// Plain listener (tests subscribe here).
    pub port: u16,
    /// TLS listener, when configured.
    pub tls_port: Option<u16>,
    child: Option<Child>,
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|address| address.port())
        .expect("a free loopback port")
}

pub fn mosquitto_binary() -> PathBuf {
    for candidate in ["/usr/sbin/mosquitto", "/usr/bin/mosquitto"] {
        if Path::new(candidate).exists() {
            return PathBuf::from(candidate);
        }
    }
    panic!("mosquitto is not installed (`apt-get install mosquitto`; .ci/test installs it)");
}

impl Mosquitto {
    pub fn start() -> Self {
        Self::start_with(None)
    }

    /// A broker that keeps its sessions (subscriptions and queued QoS 1 messages of clients
    /// with a clean session false) across [`Self::restart_gracefully`].
    pub fn start_persistent() -> Self {
        let mut broker = Self::start_with(None);
        broker.stop();
        let mut text =
            std::fs::read_to_string(broker.dir().join("mosquitto.conf")).expect("broker config");
        text = text.replace("persistence false\n", "");
        text.push_str(&format!(
            "persistence true\npersistence_location {}/\nmax_queued_messages 100000\n",
            broker.dir().display()
        ));
        // Started as root, mosquitto runs as the user `mosquitto`, which could not write its
        // database into our private directory: the sessions were silently not saved, and
        // messages for the test subscriber published before it reconnected were lost.
        std::fs::set_permissions(broker.dir(), std::fs::Permissions::from_mode(0o777))
            .expect("broker directory writable for the broker's user");
        std::fs::write(broker.dir().join("mosquitto.conf"), text).expect("broker config");
        broker.launch();
        broker
    }

    pub fn start_tls(tls: BrokerTls) -> Self {
        Self::start_with(Some(tls))
    }

    fn start_with(tls: Option<BrokerTls>) -> Self {
        let dir = tempfile::tempdir().expect("broker directory");
        let port = free_port();
        let mut text = format!(
            "per_listener_settings false\nallow_anonymous true\npersistence false\n\
             log_dest stderr\nlistener {port} 127.0.0.1\n"
        );
        let tls_port = tls.map(|tls| {
            let tls_port = free_port();
            text.push_str(&format!(
                "listener {tls_port} 127.0.0.1\ncafile {}\ncertfile {}\nkeyfile {}\n\
                 require_certificate {}\n",
                tls.ca.display(),
                tls.cert.display(),
                tls.key.display(),
                tls.require_client_certificate
            ));
            tls_port
        });
        std::fs::write(dir.path().join("mosquitto.conf"), text).expect("broker config");
        let mut broker = Self {
            dir,
            port,
            tls_port,
            child: None,
        };
        broker.launch();
        broker
    }

    fn launch(&mut self) {
        let child = Command::new(mosquitto_binary())
            .arg("-c")
            .arg(self.dir.path().join("mosquitto.conf"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("mosquitto starts");
        self.child = Some(child);
        let deadline = Instant::now() + MQTT_WAIT;
        let address = SocketAddr::from(([127, 0, 0, 1], self.port));
        while TcpStream::connect_timeout(&address, POLL_SLICE).is_err() {
            assert!(Instant::now() < deadline, "mosquitto did not listen");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Kills the broker (its retained messages are gone: no persistence).
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Stops the broker with SIGTERM, so a persistent one saves its sessions.
    pub fn stop_gracefully(&mut self) {
        if let Some(mut child) = self.child.take() {
            let pid = child.id().to_string();
            let signalled = Command::new("kill").args(["-TERM", &pid]).status();
            assert!(signalled.is_ok_and(|s| s.success()), "kill -TERM works");
            let _ = child.wait();
        }
        let config = std::fs::read_to_string(self.dir().join("mosquitto.conf")).unwrap_or_default();
        if config.contains("persistence true") {
            assert!(
                self.dir().join("mosquitto.db").exists(),
                "the persistent broker saved its sessions"
            );
        }
    }

    /// Starts the broker again on the same ports (after a stop).
    pub fn start_again(&mut self) {
        assert!(self.child.is_none(), "the broker is still running");
        self.launch();
    }

    /// A new broker process on the same ports.
    pub fn restart(&mut self) {
        self.stop();
        self.launch();
    }

    pub fn dir(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for Mosquitto {
    fn drop(&mut self) {
        self.stop();
    }
}

/// One message as the subscriber saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Seen {
    pub topic: String,
    pub payload: String,
    /// Delivered from the broker's retained store (on subscribing).
    pub retained: bool,
}

#[derive(Default)]
struct Inbox {
    messages: Mutex<Vec<Seen>>,
    grown: Condvar,
}

/// A test client subscribed to `filter` on the broker's plain port.
pub struct Subscriber {
    inbox: Arc<Inbox>,
    client: AsyncClient,
    _thread: std::thread::JoinHandle<()>,
}

impl Subscriber {
    pub fn connect(port: u16, filter: &str) -> Self {
        Self::connect_with(port, filter, true)
    }

    /// A subscriber with clean session false: with [`Mosquitto::start_persistent`], what is
    /// published while it reconnects after a broker restart is kept for it.
    pub fn connect_persistent(port: u16, filter: &str) -> Self {
        Self::connect_with(port, filter, false)
    }

    fn connect_with(port: u16, filter: &str, clean_session: bool) -> Self {
        let id = format!("test-{}-{}", std::process::id(), free_port());
        let mut options = MqttOptions::new(id, ("127.0.0.1", port));
        options
            .set_clean_session(clean_session)
            .set_keep_alive(5)
            .set_max_packet_size(256 * 1024, 256 * 1024);
        options.set_transport(Transport::tcp());
        let (client, mut eventloop) = AsyncClient::builder(options).capacity(256).build();
        let inbox = Arc::new(Inbox::default());
        let (thread_inbox, thread_client, filter) =
            (inbox.clone(), client.clone(), filter.to_owned());
        let (subscribed_sender, subscribed) = std::sync::mpsc::channel();
        let thread = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("subscriber runtime");
            runtime.block_on(async move {
                loop {
                    match eventloop.poll().await {
                        Ok(Event::Incoming(Packet::ConnAck(_))) => {
                            let _ = thread_client.try_subscribe(filter.clone(), QoS::AtLeastOnce);
                        }
                        Ok(Event::Incoming(Packet::SubAck(_))) => {
                            let _ = subscribed_sender.send(());
                        }
                        Ok(Event::Incoming(Packet::Publish(publish))) => {
                            let seen = Seen {
                                topic: String::from_utf8_lossy(&publish.topic).into_owned(),
                                payload: String::from_utf8_lossy(&publish.payload).into_owned(),
                                retained: publish.retain,
                            };
                            thread_inbox.messages.lock().expect("inbox").push(seen);
                            thread_inbox.grown.notify_all();
                        }
                        Ok(_) => {}
                        Err(rumqttc::ConnectionError::RequestsDone) => return,
                        Err(_) => tokio::time::sleep(SUBSCRIBER_RETRY).await,
                    }
                }
            });
        });
        subscribed
            .recv_timeout(MQTT_WAIT)
            .expect("the test subscriber is subscribed");
        Self {
            inbox,
            client,
            _thread: thread,
        }
    }

    /// Publishes (not retained, QoS 1), as a home-automation system would.
    pub fn publish(&self, topic: &str, payload: &str) {
        self.client
            .try_publish(
                topic.to_owned(),
                payload.to_owned(),
                PublishOptions::at_least_once(),
            )
            .expect("publish queued");
    }

    pub fn messages(&self) -> Vec<Seen> {
        self.inbox.messages.lock().expect("inbox").clone()
    }

    /// Messages on `topic` so far.
    pub fn on(&self, topic: &str) -> Vec<Seen> {
        self.messages()
            .into_iter()
            .filter(|seen| seen.topic == topic)
            .collect()
    }

    /// The newest payload on `topic`.
    pub fn latest(&self, topic: &str) -> Option<String> {
        self.on(topic).last().map(|seen| seen.payload.clone())
    }

    /// Waits until `found` finds something in the messages so far (hang guard only).
    pub fn wait_until<T>(&self, what: &str, found: impl Fn(&[Seen]) -> Option<T>) -> T {
        let deadline = Instant::now() + MQTT_WAIT;
        let mut messages = self.inbox.messages.lock().expect("inbox");
        loop {
            if let Some(result) = found(&messages) {
                return result;
            }
            assert!(
                Instant::now() < deadline,
                "no {what}; messages so far:\n{:#?}",
                *messages
            );
            messages = self
                .inbox
                .grown
                .wait_timeout(messages, POLL_SLICE)
                .expect("inbox")
                .0;
        }
    }

    /// Waits until the newest payload on `topic` is `payload`.
    pub fn wait_for(&self, topic: &str, payload: &str) {
        self.wait_until(&format!("{payload:?} on {topic}"), |messages| {
            messages
                .iter()
                .rev()
                .find(|seen| seen.topic == topic)
                .filter(|seen| seen.payload == payload)
                .map(|_| ())
        });
    }

    /// Waits for a message on `topic` after the first `skip` ones and returns its payload.
    pub fn wait_next(&self, topic: &str, skip: usize) -> String {
        self.wait_until(&format!("message #{} on {topic}", skip + 1), |messages| {
            messages
                .iter()
                .filter(|seen| seen.topic == topic)
                .nth(skip)
                .map(|seen| seen.payload.clone())
        })
    }
}

impl Drop for Subscriber {
    fn drop(&mut self) {
        let _ = self.client.try_disconnect_now();
    }
}
