//! The sections of the configuration file, with their defaults. `config/default.toml`
//! documents every key; keep the two in step (a test checks it).

use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;

use super::pin::SecurityPin;
use super::sim::SimConfig;

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct GatewayConfig {
    /// How this gateway names itself in logs and reports.
    pub name: String,
    /// On SIGTERM/SIGINT, the daemon ends within this many seconds: requests in flight and
    /// running commands finish (or are cut off), every BLE link is closed, the store flushed.
    pub shutdown_timeout_s: u64,
    /// The local control socket through which one-shot commands (`nuki-edge lock …`) reach
    /// the running daemon; default: beside the store, `<store>.control.sock`.
    pub control_socket: Option<PathBuf>,
    /// IANA time zone for the time windows of permissions on devices that belong to no
    /// address (an address's own zone wins).
    pub time_zone: String,
}

impl Default for GatewayConfig {
    fn default() -> Self {
        Self {
            name: "nuki-edge".to_owned(),
            shutdown_timeout_s: 10,
            control_socket: None,
            time_zone: "UTC".to_owned(),
        }
    }
}

impl GatewayConfig {
    pub fn shutdown_timeout(&self) -> std::time::Duration {
        std::time::Duration::from_secs(self.shutdown_timeout_s)
    }
}

/// Retention of the activity log (`[events]`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EventsConfig {
    /// The oldest events are pruned beyond this many.
    pub max_entries: u64,
    /// Events older than this are pruned.
    pub max_age_days: u64,
}

impl Default for EventsConfig {
    fn default() -> Self {
        Self {
            max_entries: 100_000,
            max_age_days: 90,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StoreConfig {
    /// The redb file holding pairings and settings; relative paths are relative to the
    /// working directory.
    pub path: PathBuf,
}

impl Default for StoreConfig {
    fn default() -> Self {
        Self {
            path: PathBuf::from("/var/lib/nuki-edge/nuki-edge.redb"),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LogFormat {
    #[default]
    Text,
    Json,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LogConfig {
    /// A tracing filter: a level (`info`) or directives (`info,nuki_edge::ble=debug`).
    /// `RUST_LOG`, when set, wins.
    pub level: String,
    pub format: LogFormat,
}

impl Default for LogConfig {
    fn default() -> Self {
        Self {
            level: "info".to_owned(),
            format: LogFormat::Text,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BleBackend {
    /// The host's Bluetooth adapter through BlueZ.
    #[default]
    Bluez,
    /// The simulated building from `[sim]`.
    Sim,
}

impl BleBackend {
    /// The spelling used in the configuration file.
    pub fn as_str(self) -> &'static str {
        match self {
            BleBackend::Bluez => "bluez",
            BleBackend::Sim => "sim",
        }
    }
}

impl std::fmt::Display for BleBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BleConfig {
    pub backend: BleBackend,
    /// One BlueZ adapter (`hci0`); the same as `adapters = ["hci0"]`. Kept for existing
    /// configurations; not together with `adapters`.
    pub adapter: Option<String>,
    /// The BlueZ adapters to use (`["hci0", "hci1"]`); every adapter BlueZ offers when
    /// absent. An empty list uses none (only the proxies).
    pub adapters: Option<Vec<String>>,
    /// ESPHome Bluetooth proxies, each one more radio (`[[ble.proxies]]`).
    pub proxies: Vec<ProxyConfig>,
    /// Devices pinned to a radio by an installer: device address → radio name. A pinned
    /// device uses only that radio.
    pub pin: std::collections::BTreeMap<String, String>,
    /// Another radio takes a device over only when it hears it this many dB better than the
    /// radio serving it (smoothed), so a device does not flap between two radios.
    pub switch_margin_db: u8,
    /// How many advertisements the smoothed signal strength of a device at a radio averages
    /// over (exponentially weighted).
    pub rssi_window: u16,
    /// A radio that has not heard a device for this many seconds no longer serves it.
    pub radio_silence_s: u64,
    pub scan_seconds: u64,
    pub connect_timeout_ms: u64,
    pub command_timeout_ms: u64,
    pub pairing_timeout_s: u64,
}

impl Default for BleConfig {
    fn default() -> Self {
        Self {
            backend: BleBackend::Bluez,
            adapter: None,
            adapters: None,
            proxies: Vec::new(),
            pin: std::collections::BTreeMap::new(),
            switch_margin_db: 6,
            rssi_window: 8,
            radio_silence_s: 15,
            scan_seconds: 5,
            connect_timeout_ms: 10_000,
            command_timeout_ms: 20_000,
            pairing_timeout_s: 30,
        }
    }
}

/// One ESPHome Bluetooth proxy (`[[ble.proxies]]`), reached over the ESPHome native API.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProxyConfig {
    /// The radio's name in status, routing and pins; unique among all radios.
    pub name: String,
    /// Host name or IP address of the ESP32.
    pub host: String,
    /// The native API's TCP port.
    #[serde(default = "default_proxy_port")]
    pub port: u16,
    /// File holding the API encryption key (base64 of 32 bytes, as in the ESPHome YAML's
    /// `api: encryption: key:`); unset: plaintext API (not recommended).
    #[serde(default)]
    pub encryption_key_file: Option<PathBuf>,
}

fn default_proxy_port() -> u16 {
    6053
}

impl BleConfig {
    pub fn scan_duration(&self) -> Duration {
        Duration::from_secs(self.scan_seconds)
    }

    pub fn connect_timeout(&self) -> Duration {
        Duration::from_millis(self.connect_timeout_ms)
    }

    pub fn command_timeout(&self) -> Duration {
        Duration::from_millis(self.command_timeout_ms)
    }

    pub fn pairing_timeout(&self) -> Duration {
        Duration::from_secs(self.pairing_timeout_s)
    }
}

/// Which kind of authorization the gateway asks for when pairing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IdType {
    /// Only one Bridge can be paired per device; pairing a new one replaces the old.
    Bridge,
    #[default]
    App,
}

impl IdType {
    /// The protocol's ID type byte (0 app, 1 bridge).
    pub fn as_u8(self) -> u8 {
        match self {
            IdType::App => 0,
            IdType::Bridge => 1,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PairingConfig {
    pub id_type: IdType,
    /// The app/bridge id sent when pairing; when absent the app generates one once and keeps
    /// it in the store.
    pub app_id: Option<u32>,
    /// The authorization name shown in the Nuki app (at most 32 bytes of UTF-8).
    pub name: String,
    /// Pair on its own with every unknown device found in pairing mode.
    pub auto_pair: bool,
    /// Needed to pair a Smart Lock Ultra and for administrative commands. After loading, a
    /// PIN read from `security_pin_file` is here too.
    pub security_pin: Option<SecurityPin>,
    pub security_pin_file: Option<PathBuf>,
}

impl Default for PairingConfig {
    fn default() -> Self {
        Self {
            id_type: IdType::App,
            app_id: None,
            name: "nuki-edge".to_owned(),
            auto_pair: false,
            security_pin: None,
            security_pin_file: None,
        }
    }
}

/// `[fleet]`: how the gateway shares the radio among its devices.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FleetSettings {
    /// BLE links open at the same time (BlueZ adapters manage a handful well).
    pub link_slots: usize,
    /// A battery device's link closes after this long without a command.
    pub idle_disconnect_ms: u64,
    /// A mains-powered Box may keep its link this long (unless another device needs a slot).
    pub mains_idle_disconnect_s: u64,
    /// First wait after a failed connection; doubles per failure (with jitter) up to the max.
    pub reconnect_backoff_ms: u64,
    pub reconnect_backoff_max_s: u64,
    /// Every device's state is read this often even without a state-changed flag.
    pub safety_refresh_min: u64,
    /// While a device's state-changed flag stays raised, read it again no sooner than this.
    pub stuck_flag_refresh_s: u64,
    /// Every device's own log is read for new entries this often, besides whenever its
    /// state-changed flag rises; 0: only on the flag.
    pub log_refresh_min: u64,
}

impl Default for FleetSettings {
    fn default() -> Self {
        Self {
            link_slots: 3,
            idle_disconnect_ms: 2_000,
            mains_idle_disconnect_s: 60,
            reconnect_backoff_ms: 1_000,
            reconnect_backoff_max_s: 300,
            safety_refresh_min: 15,
            stuck_flag_refresh_s: 60,
            log_refresh_min: 60,
        }
    }
}

impl FleetSettings {
    pub fn safety_refresh(&self) -> Duration {
        Duration::from_secs(self.safety_refresh_min.saturating_mul(60))
    }

    /// How often each device's log is read without a flag; zero: only on the flag.
    pub fn log_refresh(&self) -> Duration {
        Duration::from_secs(self.log_refresh_min.saturating_mul(60))
    }
}

/// `[http]`: the local HTTP server (Bridge-compatible API).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HttpConfig {
    /// Address and port to listen on; the official Bridge uses port 8080.
    pub listen: String,
    /// Connections open at once; more are answered 503 and closed. Keep it well below the
    /// service's file descriptor limit (`LimitNOFILE=` in the systemd unit).
    pub max_connections: usize,
    /// A bearer token `/metrics` asks for; unset (and no file): `/metrics` is open to
    /// whoever reaches the listener.
    pub metrics_token: Option<super::secret_text::SecretText>,
    pub metrics_token_file: Option<PathBuf>,
}

impl Default for HttpConfig {
    fn default() -> Self {
        Self {
            listen: "127.0.0.1:8080".to_owned(),
            max_connections: 256,
            metrics_token: None,
            metrics_token_file: None,
        }
    }
}

/// `[bridge]`: the Nuki-Bridge-compatible API.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BridgeSettings {
    /// The API token; generated once and kept in the store when not set.
    pub token: Option<super::secret_text::SecretText>,
    pub token_file: Option<PathBuf>,
    /// The id `/info` reports (clients key their configuration on it); generated once when
    /// not set.
    pub hardware_id: Option<u32>,
    /// A `/lockAction` that waits for its result answers within this many milliseconds.
    pub action_deadline_ms: u64,
    /// Each callback is tried this many times, with doubling pauses from callback_retry_ms.
    pub callback_attempts: u32,
    pub callback_retry_ms: u64,
    /// One callback POST may take this long.
    pub callback_timeout_ms: u64,
    /// What clients holding the Bridge token may do, as an integration principal.
    pub rights: crate::access::Rights,
}

impl Default for BridgeSettings {
    fn default() -> Self {
        Self {
            token: None,
            token_file: None,
            hardware_id: None,
            action_deadline_ms: 15_000,
            callback_attempts: 4,
            callback_retry_ms: 500,
            callback_timeout_ms: 3_000,
            rights: crate::access::Rights::of(&[crate::access::Capability::OperateDoors]),
        }
    }
}

/// The whole configuration.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    pub gateway: GatewayConfig,
    pub store: StoreConfig,
    pub events: EventsConfig,
    pub log: LogConfig,
    pub ble: BleConfig,
    pub pairing: PairingConfig,
    pub fleet: FleetSettings,
    pub http: HttpConfig,
    pub bridge: BridgeSettings,
    pub mqtt: super::mqtt::MqttConfig,
    pub sim: SimConfig,
}
