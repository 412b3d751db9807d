//! The thin I/O part: one task drives rumqttc's event loop (it never waits on anything but
//! the network and its own backoff), the interface task follows the gateway bus and the
//! broker's notices and publishes with `try_publish` (never blocking), and each command runs
//! in a task of its own because a lock action takes seconds.
//!
//! rumqttc does not reconnect by itself (we poll again after a jittered backoff), does not
//! restore subscriptions and, with a clean session, forgets unacknowledged messages: after
//! every ConnAck the interface subscribes again and republishes `online`, discovery and every
//! device's retained state.

use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use rumqttc::{
    AsyncClient, ConnectReturnCode, Event, EventLoop, LastWill, MqttOptions, Outgoing, Packet,
    PublishOptions, QoS, TlsConfiguration, Transport,
};
use tokio::sync::{broadcast, mpsc, watch};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use zeroize::Zeroizing;

use crate::access::Rights;
use crate::ble::DeviceAddress;
use crate::gateway::{DeviceView, Gateway, GatewayEvent, Principal, Refusal};

use super::backoff::Backoff;
use super::commands::{
    parse_command, refusal_code, RESPONSE_MALFORMED, RESPONSE_SUCCESS, RESPONSE_UNKNOWN_DEVICE,
};
use super::delivery::DeliveryStats;
use super::discovery::{self, DiscoveredDevice, GatewayIdentity};
use super::health::Health;
use super::message::Message;
use super::state::{self, DeviceState};
use super::tls::{self, TlsFiles, TlsSetupError};
use super::topics::{self, CommandKind, Topics};

/// The principal's name commands over MQTT are decided as.
pub const MQTT_PRINCIPAL: &str = "mqtt";
/// How often an idle connection pings the broker (and the broker notices a dead gateway,
/// publishing the last will, after 1.5 times this).
pub const KEEP_ALIVE: Duration = Duration::from_secs(30);
/// Requests queued for the event loop; beyond this, `try_publish` drops (and every retained
/// value is republished at the next ConnAck anyway).
const REQUEST_CAPACITY: usize = 4096;
/// The largest message we accept from the broker (commands and HA's status are a few bytes).
const MAX_INCOMING_PACKET: usize = 16 * 1024;
/// The largest message we send (a discovery config is about 1 KiB; activity entries small).
const MAX_OUTGOING_PACKET: usize = 64 * 1024;
/// At shutdown: how long the last messages (`offline`, `connected=false`) may take to be
/// acknowledged before the connection is closed anyway.
pub const GOODBYE_DRAIN: Duration = Duration::from_secs(2);
/// At shutdown: how long the event loop may take to end after the disconnect.
const POLL_END_WAIT: Duration = Duration::from_secs(3);
/// How long [`MqttHandle::publish_event`] waits for the broker's acknowledgement.
pub const EVENT_ACK_LIMIT: Duration = Duration::from_secs(10);

/// Everything the MQTT interface needs, taken from the configuration by the daemon.
#[derive(Clone)]
pub struct MqttSettings {
    pub host: String,
    pub port: u16,
    pub client_id: String,
    /// User name and password.
    pub credentials: Option<(String, Option<Zeroizing<String>>)>,
    pub topics: Topics,
    pub tls: Option<TlsFiles>,
    /// What commands over MQTT may do.
    pub rights: Rights,
    pub health_interval: Duration,
    /// `gateway.name`, the gateway's name in Home Assistant.
    pub gateway_name: String,
}

impl std::fmt::Debug for MqttSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MqttSettings")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("client_id", &self.client_id)
            .field("username", &self.credentials.as_ref().map(|(user, _)| user))
            .field("topics", &self.topics)
            .field("tls", &self.tls)
            .field("rights", &self.rights)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum MqttError {
    #[error("MQTT TLS set-up: {0}")]
    Tls(#[from] TlsSetupError),
    #[error("MQTT client options: {0}")]
    Options(String),
    #[error("the MQTT client has stopped")]
    Stopped,
    #[error("the broker did not take the message: {0}")]
    NotPublished(String),
}

/// What the rest of the daemon may publish through the running interface.
#[derive(Clone)]
pub struct MqttHandle {
    client: AsyncClient,
    topics: Arc<Topics>,
    /// Whether the broker accepted the connection (and has not been lost since).
    connected: watch::Receiver<bool>,
    delivery: Arc<DeliveryStats>,
}

impl MqttHandle {
    pub fn topics(&self) -> &Topics {
        &self.topics
    }

    /// `<prefix>/gateway/events`.
    pub fn events_topic(&self) -> String {
        self.topics.gateway_events()
    }

    /// What the activity log's delivery reports in the health JSON.
    pub fn delivery_stats(&self) -> Arc<DeliveryStats> {
        self.delivery.clone()
    }

    /// Returns once the broker connection is up (at once when it is).
    pub async fn until_connected(&self) {
        let mut connected = self.connected.clone();
        // An error means the interface is gone: nothing will connect again.
        if connected.wait_for(|up| *up).await.is_err() {
            std::future::pending::<()>().await;
        }
    }

    /// Queues `message` at QoS 1 and answers the notice of its acknowledgement without
    /// waiting for it, so that many can be under way at once.
    pub async fn issue(&self, message: Message) -> Result<rumqttc::PublishNotice, MqttError> {
        self.client
            .publish_tracked(
                message.topic,
                message.payload,
                PublishOptions::at_least_once().retain(message.retain),
            )
            .await
            .map_err(|error| MqttError::NotPublished(error.to_string()))
    }

    /// Publishes one (already anonymized) activity-log entry on `<prefix>/gateway/events` at
    /// QoS 1, not retained, and waits for the broker's acknowledgement (at most
    /// [`EVENT_ACK_LIMIT`]). Answers `id` once the broker has it, so the caller can move its
    /// log cursor past it; on an error the caller sends the entry again later (QoS 1: a
    /// subscriber may see an entry twice, and tells them apart by the id inside the JSON).
    pub async fn publish_event(&self, json: String, id: u64) -> Result<u64, MqttError> {
        let notice = self
            .client
            .publish_tracked(
                self.topics.gateway_events(),
                json,
                PublishOptions::at_least_once(),
            )
            .await
            .map_err(|error| MqttError::NotPublished(error.to_string()))?;
        match tokio::time::timeout(EVENT_ACK_LIMIT, notice.wait_completion_async()).await {
            Ok(Ok(())) => Ok(id),
            Ok(Err(error)) => Err(MqttError::NotPublished(error.to_string())),
            Err(_) => Err(MqttError::NotPublished(
                "no acknowledgement in time".to_owned(),
            )),
        }
    }
}

/// The interface's task: ends when shutdown is asked (after saying goodbye), or with an
/// error if the client stopped on its own.
pub type MqttTask = std::pin::Pin<Box<dyn Future<Output = Result<(), MqttError>> + Send + 'static>>;

/// What the event-loop task tells the interface.
enum Notice {
    Connected,
    Incoming {
        topic: String,
        payload: Vec<u8>,
        retained: bool,
    },
    Lost(String),
}

/// Builds the client and returns the handle and the interface's task (run it supervised).
/// Subscribes to the gateway bus at once, so nothing that happens before the task first
/// runs is missed.
pub fn start(
    gateway: Arc<Gateway>,
    settings: MqttSettings,
    shutdown: CancellationToken,
) -> Result<(MqttHandle, MqttTask), MqttError> {
    let options = options(&settings)?;
    let (client, mut eventloop) = AsyncClient::builder(options)
        .capacity(REQUEST_CAPACITY)
        .try_build()
        .map_err(|error| MqttError::Options(error.to_string()))?;
    // Every message is small and waited for (a state, a command's answer, a PUBACK that moves
    // the log's cursor): Nagle's algorithm held them for ~40 ms behind an unacknowledged one.
    let mut network = eventloop.network_options();
    network.set_tcp_nodelay(true);
    eventloop.set_network_options(network);
    let topics = Arc::new(settings.topics.clone());
    let (connected, connected_receiver) = watch::channel(false);
    let delivery = Arc::new(DeliveryStats::default());
    let handle = MqttHandle {
        client: client.clone(),
        topics: topics.clone(),
        connected: connected_receiver,
        delivery: delivery.clone(),
    };
    let events = gateway.subscribe();
    let interface = Interface {
        identity: GatewayIdentity::new(&settings.gateway_name, &settings.client_id),
        principal: Principal::Integration {
            name: MQTT_PRINCIPAL.to_owned(),
            rights: settings.rights,
        },
        gateway,
        client,
        topics,
        health_interval: settings.health_interval,
        reachable: HashMap::new(),
        door_sensors: HashMap::new(),
        known: HashMap::new(),
        connections: 0,
        commands: Arc::new(AtomicU64::new(0)),
        commands_running: TaskTracker::new(),
        started: Instant::now(),
        broker_up: false,
        unreachable_reported: false,
        connected,
        delivery,
    };
    Ok((handle, Box::pin(interface.run(eventloop, events, shutdown))))
}

fn options(settings: &MqttSettings) -> Result<MqttOptions, MqttError> {
    let mut options = MqttOptions::new(
        settings.client_id.clone(),
        (settings.host.clone(), settings.port),
    );
    options
        .set_keep_alive(u16::try_from(KEEP_ALIVE.as_secs()).unwrap_or(u16::MAX))
        .set_clean_session(true)
        .set_max_packet_size(MAX_INCOMING_PACKET, MAX_OUTGOING_PACKET)
        .set_last_will(LastWill::new(
            settings.topics.gateway_state(),
            "offline",
            QoS::AtLeastOnce,
            true,
        ));
    if let Some((user, password)) = &settings.credentials {
        match password {
            Some(password) => {
                options.set_credentials(user.clone(), password.as_bytes().to_vec());
            }
            None => {
                options.set_username(user.clone());
            }
        }
    }
    if let Some(files) = &settings.tls {
        let config = tls::client_config(files)?;
        options.set_transport(Transport::tls_with_config(TlsConfiguration::Rustls(config)));
    }
    Ok(options)
}

/// Drives the event loop: polls, hands ConnAcks and incoming messages to the interface, and
/// after an error waits its backoff before polling again (which reconnects).
async fn drive(
    mut eventloop: EventLoop,
    notices: mpsc::UnboundedSender<Notice>,
    leaving: CancellationToken,
) {
    let mut backoff = Backoff::default();
    loop {
        let polled = tokio::select! {
            polled = eventloop.poll() => polled,
            // A connection attempt to a silent host must not hold up the shutdown.
            () = leaving.cancelled(), if !leaving.is_cancelled() => continue,
        };
        match polled {
            Ok(Event::Incoming(Packet::ConnAck(ack))) => {
                if ack.code == ConnectReturnCode::Success {
                    backoff.reset();
                    let _ = notices.send(Notice::Connected);
                }
            }
            Ok(Event::Incoming(Packet::Publish(publish))) => {
                let _ = notices.send(Notice::Incoming {
                    topic: String::from_utf8_lossy(&publish.topic).into_owned(),
                    payload: publish.payload.to_vec(),
                    retained: publish.retain,
                });
            }
            Ok(Event::Outgoing(Outgoing::Disconnect)) if leaving.is_cancelled() => return,
            Ok(_) => {}
            Err(error) => {
                if leaving.is_cancelled() {
                    return;
                }
                let _ = notices.send(Notice::Lost(error.to_string()));
                let pause = backoff.next_pause();
                tokio::select! {
                    () = tokio::time::sleep(pause) => {}
                    () = leaving.cancelled() => return,
                }
            }
        }
    }
}

struct Interface {
    gateway: Arc<Gateway>,
    client: AsyncClient,
    topics: Arc<Topics>,
    identity: GatewayIdentity,
    principal: Principal,
    health_interval: Duration,
    /// Whether each device answered its last contact; absent: not known yet.
    reachable: HashMap<DeviceAddress, bool>,
    /// Whether each device's discovery was sent with a door sensor.
    door_sensors: HashMap<DeviceAddress, bool>,
    /// Every paired device seen, so an unpaired one can still be named by its Nuki ID.
    known: HashMap<DeviceAddress, DeviceView>,
    connections: u64,
    commands: Arc<AtomicU64>,
    commands_running: TaskTracker,
    started: Instant,
    broker_up: bool,
    /// The current outage was reported already.
    unreachable_reported: bool,
    /// Tells the activity log's delivery whether to send.
    connected: watch::Sender<bool>,
    delivery: Arc<DeliveryStats>,
}

impl Interface {
    async fn run(
        mut self,
        eventloop: EventLoop,
        mut events: broadcast::Receiver<GatewayEvent>,
        shutdown: CancellationToken,
    ) -> Result<(), MqttError> {
        let (notices_sender, mut notices) = mpsc::unbounded_channel();
        let leaving = CancellationToken::new();
        let mut driver = tokio::spawn(drive(eventloop, notices_sender, leaving.clone()));
        let mut health = tokio::time::interval(self.health_interval);
        health.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let ended = loop {
            tokio::select! {
                () = shutdown.cancelled() => break Ok(()),
                notice = notices.recv() => match notice {
                    Some(notice) => self.on_notice(notice),
                    None => break Err(MqttError::Stopped),
                },
                event = events.recv() => match event {
                    Ok(event) => self.on_event(event),
                    Err(broadcast::error::RecvError::Lagged(missed)) => {
                        tracing::warn!(missed, "MQTT fell behind the gateway bus; republishing every state");
                        self.publish_every_state();
                    }
                    Err(broadcast::error::RecvError::Closed) => break Ok(()),
                },
                _ = health.tick() => self.publish_health(),
            }
        };
        self.say_goodbye().await;
        leaving.cancel();
        if tokio::time::timeout(POLL_END_WAIT, &mut driver)
            .await
            .is_err()
        {
            // A connection attempt to a silent broker: nothing left to say goodbye to.
            tracing::warn!("the MQTT event loop did not end in time");
            driver.abort();
        }
        ended
    }

    fn on_notice(&mut self, notice: Notice) {
        match notice {
            Notice::Connected => self.on_connected(),
            Notice::Incoming {
                topic,
                payload,
                retained,
            } => self.on_message(&topic, payload, retained),
            Notice::Lost(reason) => {
                if self.broker_up {
                    tracing::warn!(%reason, "MQTT broker connection lost; reconnecting");
                } else if !self.unreachable_reported {
                    tracing::warn!(%reason, "MQTT broker not reachable; retrying");
                } else {
                    tracing::debug!(%reason, "MQTT broker still not reachable");
                }
                // One warning per outage; the retries of the same outage are debug lines.
                self.unreachable_reported = !self.broker_up || self.unreachable_reported;
                self.broker_up = false;
                self.connected.send_replace(false);
            }
        }
    }

    fn on_connected(&mut self) {
        self.connections += 1;
        self.broker_up = true;
        self.unreachable_reported = false;
        tracing::info!(
            connections = self.connections,
            prefix = self.topics.prefix(),
            "MQTT connected"
        );
        let mut filters: Vec<(String, QoS)> = self
            .topics
            .command_filters()
            .into_iter()
            .map(|filter| (filter, QoS::ExactlyOnce))
            .collect();
        if let Some(status) = self.topics.home_assistant_status() {
            filters.push((status, QoS::AtLeastOnce));
        }
        for (filter, qos) in filters {
            if let Err(error) = self.client.try_subscribe(filter, qos) {
                tracing::warn!(%error, "cannot subscribe to an MQTT topic");
            }
        }
        self.send(Message::retained(self.topics.gateway_state(), "online"));
        self.publish_discovery();
        self.publish_every_state();
        self.publish_health();
        // After the retained state: the log's delivery queues behind it.
        self.connected.send_replace(true);
    }

    fn on_message(&mut self, topic: &str, payload: Vec<u8>, retained: bool) {
        if self.topics.home_assistant_status().as_deref() == Some(topic) {
            if payload.as_slice() == b"online" {
                tracing::info!("Home Assistant came online; sending discovery again");
                self.publish_discovery();
            }
            return;
        }
        let Some((nuki_id, kind)) = self.topics.parse_command(topic) else {
            return;
        };
        self.commands.fetch_add(1, Ordering::Relaxed);
        let command = Command {
            gateway: self.gateway.clone(),
            client: self.client.clone(),
            topics: self.topics.clone(),
            principal: self.principal.clone(),
            nuki_id,
            kind,
            payload,
            // A retained command would run again at every reconnect: never acted upon.
            retained,
        };
        self.commands_running.spawn(command.carry_out());
    }

    fn on_event(&mut self, event: GatewayEvent) {
        match event {
            GatewayEvent::StateChanged { device, state } => {
                self.reachable.insert(device.clone(), true);
                let Some(view) = self.view(&device) else {
                    return;
                };
                let door = state::door_sensor(&state).is_some();
                if self.door_sensors.get(&device) != Some(&door) {
                    self.publish_device_discovery(&view, door);
                }
                self.publish_state(&view, Some(&state));
            }
            GatewayEvent::DeviceAdded { device } => {
                if let Some(view) = self.view(&device) {
                    let door = self.door_sensor_of(&view);
                    self.publish_device_discovery(&view, door);
                    let states = self
                        .gateway
                        .cached_state(&Principal::Local, &device)
                        .ok()
                        .flatten();
                    self.publish_state(&view, states.as_ref());
                }
            }
            GatewayEvent::DeviceRemoved { device } => {
                self.reachable.remove(&device);
                self.door_sensors.remove(&device);
                if let Some(view) = self.known.remove(&device) {
                    for message in discovery::device_removal(&self.topics, view.nuki_id)
                        .into_iter()
                        .chain(state::cleared_state(&self.topics, view.nuki_id))
                    {
                        self.send(message);
                    }
                }
            }
            GatewayEvent::ActionFinished {
                device, outcome, ..
            } => match outcome {
                // Its lockActionEvent comes from the activity log (see `delivery`).
                Ok(_) => {
                    if let Some(view) = self.view(&device) {
                        self.set_reachable(&view, true);
                    }
                }
                Err(Refusal::Unreachable { .. }) => {
                    if let Some(view) = self.view(&device) {
                        self.set_reachable(&view, false);
                    }
                }
                Err(_) => {}
            },
            GatewayEvent::ActionRequested { .. }
            | GatewayEvent::DeviceConnected { .. }
            | GatewayEvent::DeviceDisconnected { .. }
            | GatewayEvent::BatteryCritical { .. }
            | GatewayEvent::Pairing { .. }
            | GatewayEvent::PermissionChanged { .. }
            | GatewayEvent::ProvisioningResult { .. }
            | GatewayEvent::DeviceLogEntries { .. } => {}
        }
    }

    /// The device's view, remembered for when it is unpaired.
    fn view(&mut self, device: &DeviceAddress) -> Option<DeviceView> {
        let view = self
            .gateway
            .devices(&Principal::Local)
            .into_iter()
            .find(|view| &view.address == device)?;
        self.known.insert(device.clone(), view.clone());
        Some(view)
    }

    fn door_sensor_of(&self, view: &DeviceView) -> bool {
        self.gateway
            .cached_state(&Principal::Local, &view.address)
            .ok()
            .flatten()
            .is_some_and(|states| state::door_sensor(&states).is_some())
    }

    fn set_reachable(&mut self, view: &DeviceView, reachable: bool) {
        let before = self.reachable.insert(view.address.clone(), reachable);
        if before != Some(reachable) {
            self.send(state::connected_message(
                &self.topics,
                view.nuki_id,
                reachable,
            ));
        }
    }

    fn publish_state(
        &mut self,
        view: &DeviceView,
        states: Option<&crate::nuki::messages::KeyturnerStates>,
    ) {
        let connected = *self
            .reachable
            .entry(view.address.clone())
            .or_insert(states.is_some());
        let messages = state::state_messages(
            &self.topics,
            &DeviceState {
                device: view,
                states,
                connected,
                now_unix: self.gateway.now_unix(),
            },
        );
        for message in messages {
            self.send(message);
        }
    }

    fn publish_every_state(&mut self) {
        for view in self.gateway.devices(&Principal::Local) {
            self.known.insert(view.address.clone(), view.clone());
            let states = self
                .gateway
                .cached_state(&Principal::Local, &view.address)
                .ok()
                .flatten();
            self.publish_state(&view, states.as_ref());
        }
    }

    fn publish_device_discovery(&mut self, view: &DeviceView, door_sensor: bool) {
        self.door_sensors.insert(view.address.clone(), door_sensor);
        let messages = discovery::device_config(
            &self.topics,
            &self.identity,
            &DiscoveredDevice {
                device: view,
                door_sensor,
            },
        );
        for message in messages {
            self.send(message);
        }
    }

    fn publish_discovery(&mut self) {
        if !self.topics.discovery_enabled() {
            return;
        }
        if let Some(message) = discovery::gateway_config(&self.topics, &self.identity) {
            self.send(message);
        }
        for view in self.gateway.devices(&Principal::Local) {
            self.known.insert(view.address.clone(), view.clone());
            let door = self.door_sensor_of(&view);
            self.publish_device_discovery(&view, door);
        }
    }

    fn publish_health(&mut self) {
        if !self.broker_up {
            return;
        }
        let devices = self.gateway.devices(&Principal::Local);
        let reachable = devices
            .iter()
            .filter(|view| self.reachable.get(&view.address) == Some(&true))
            .count();
        let health = Health {
            uptime_s: self.started.elapsed().as_secs(),
            devices: devices.len(),
            devices_reachable: reachable,
            broker_reconnects: self.connections.saturating_sub(1),
            commands_received: self.commands.load(Ordering::Relaxed),
            events_delivered: self.delivery.delivered(),
            events_dropped: self.delivery.dropped(),
            events_backlog: self.delivery.backlog(),
            version: env!("CARGO_PKG_VERSION"),
        };
        self.send(Message::retained(
            self.topics.gateway_health(),
            health.to_json(),
        ));
    }

    /// Queues a message without waiting: a full queue (a long broker outage) drops it, and
    /// the next ConnAck republishes every retained value.
    fn send(&self, message: Message) {
        let options = PublishOptions::at_least_once().retain(message.retain);
        if let Err(error) = self
            .client
            .try_publish(message.topic, message.payload, options)
        {
            tracing::debug!(%error, "MQTT message dropped");
        }
    }

    /// `offline` for the gateway and `connected=false` for every device, then a clean
    /// disconnect (so the broker does not publish the last will on top).
    async fn say_goodbye(&mut self) {
        self.commands_running.close();
        if !self.broker_up {
            return;
        }
        for view in self.gateway.devices(&Principal::Local) {
            self.send(state::connected_message(&self.topics, view.nuki_id, false));
        }
        self.send(Message::retained(self.topics.gateway_state(), "offline"));
        if let Err(error) = self.client.disconnect_with_timeout(GOODBYE_DRAIN).await {
            tracing::debug!(%error, "MQTT disconnect not queued");
        }
    }
}

/// One command received over MQTT, carried out through the gateway as the MQTT principal.
struct Command {
    gateway: Arc<Gateway>,
    client: AsyncClient,
    topics: Arc<Topics>,
    principal: Principal,
    nuki_id: u32,
    kind: CommandKind,
    payload: Vec<u8>,
    retained: bool,
}

impl Command {
    async fn carry_out(self) {
        let code = self.outcome().await;
        if code != RESPONSE_SUCCESS {
            tracing::info!(
                nuki_id = %topics::nuki_id_hex(self.nuki_id),
                command = self.kind.leaf(),
                code,
                "MQTT command refused"
            );
        }
        let topic = self.topics.device(self.nuki_id, topics::COMMAND_RESPONSE);
        // Waiting here is fine: this task is not the event loop.
        if let Err(error) = self
            .client
            .publish(topic, code.to_string(), PublishOptions::at_least_once())
            .await
        {
            tracing::debug!(%error, "MQTT command response not queued");
        }
    }

    async fn outcome(&self) -> u8 {
        if self.retained {
            return RESPONSE_MALFORMED;
        }
        let device = self
            .gateway
            .devices(&Principal::Local)
            .into_iter()
            .find(|view| view.nuki_id == self.nuki_id);
        let Some(device) = device else {
            return RESPONSE_UNKNOWN_DEVICE;
        };
        let Ok(action) = parse_command(self.kind, &self.payload, device.product.is_opener()) else {
            return RESPONSE_MALFORMED;
        };
        match self
            .gateway
            .act(&self.principal, &device.address, action)
            .await
        {
            Ok(_) => RESPONSE_SUCCESS,
            Err(refusal) => refusal_code(&refusal),
        }
    }
}
