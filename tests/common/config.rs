//! A typed builder for the daemon's configuration file, so tests say which knobs they turn
//! instead of carrying TOML text. The keys written are exactly those `config/default.toml`
//! documents (the loader refuses unknown keys, and a test in `tests/daemon.rs` loads a file
//! with every knob set through the real loader).

use std::path::{Path, PathBuf};

use nuki_edge::config::{IdType, LogFormat};
use nuki_edge::nuki::product::ProductType as DeviceKind;
use tempfile::TempDir;
use toml::{Table, Value};

/// Any free port: the daemon reports the one it bound in its "Bridge API ready" log line, so
/// no test ever guesses a free port and races another test for it.
pub const LISTEN_ON_ANY_PORT: &str = "127.0.0.1:0";

/// One `[[sim.devices]]` entry.
#[derive(Clone)]
pub struct SimDeviceEntry {
    pub kind: DeviceKind,
    pub name: String,
    pub address: String,
    pub nuki_id: u32,
    pub security_pin: Option<u32>,
    pub start_in_pairing_mode: Option<bool>,
    pub motor_time_ms: Option<u64>,
    pub states_layout_len: Option<usize>,
    pub door_sensor: Option<bool>,
    pub keypad: Option<bool>,
    /// Where it stands, metres (x, y, z).
    pub position: Option<[f64; 3]>,
}

impl SimDeviceEntry {
    pub fn new(kind: DeviceKind, name: &str, address: &str, nuki_id: u32) -> Self {
        Self {
            kind,
            name: name.to_owned(),
            address: address.to_owned(),
            nuki_id,
            security_pin: None,
            start_in_pairing_mode: None,
            motor_time_ms: None,
            states_layout_len: None,
            door_sensor: None,
            keypad: None,
            position: None,
        }
    }

    /// Stands at (x, y, z) metres, so that simulated radios hear it by distance.
    pub fn at(mut self, position: [f64; 3]) -> Self {
        self.position = Some(position);
        self
    }

    pub fn pin(mut self, security_pin: u32) -> Self {
        self.security_pin = Some(security_pin);
        self
    }

    pub fn in_pairing_mode(mut self, in_pairing_mode: bool) -> Self {
        self.start_in_pairing_mode = Some(in_pairing_mode);
        self
    }

    pub fn motor_time_ms(mut self, milliseconds: u64) -> Self {
        self.motor_time_ms = Some(milliseconds);
        self
    }

    pub fn states_layout_len(mut self, bytes: usize) -> Self {
        self.states_layout_len = Some(bytes);
        self
    }

    pub fn door_sensor(mut self, installed: bool) -> Self {
        self.door_sensor = Some(installed);
        self
    }

    pub fn keypad(mut self, installed: bool) -> Self {
        self.keypad = Some(installed);
        self
    }

    fn to_table(&self) -> Table {
        let mut table = Table::new();
        table.insert("address".into(), self.address.clone().into());
        table.insert("name".into(), self.name.clone().into());
        table.insert("nuki_id".into(), i64::from(self.nuki_id).into());
        table.insert("kind".into(), self.kind.name().into());
        if let Some(pin) = self.security_pin {
            table.insert("security_pin".into(), i64::from(pin).into());
        }
        if let Some(on) = self.start_in_pairing_mode {
            table.insert("start_in_pairing_mode".into(), on.into());
        }
        if let Some(milliseconds) = self.motor_time_ms {
            table.insert("motor_time_ms".into(), integer(milliseconds));
        }
        if let Some(bytes) = self.states_layout_len {
            table.insert("states_layout_len".into(), integer(bytes as u64));
        }
        if let Some(installed) = self.door_sensor {
            table.insert("door_sensor".into(), installed.into());
        }
        if let Some(installed) = self.keypad {
            table.insert("keypad".into(), installed.into());
        }
        if let Some(position) = self.position {
            table.insert("position".into(), position_value(position));
        }
        table
    }
}

fn position_value(position: [f64; 3]) -> Value {
    Value::Array(position.into_iter().map(Value::Float).collect())
}

fn integer(value: u64) -> Value {
    Value::Integer(i64::try_from(value).expect("test values fit TOML integers"))
}

/// Builds a configuration in its own temporary directory: the store, the simulated devices'
/// memory and the config file all live there and vanish with the [`TestConfig`].
pub struct ConfigBuilder {
    dir: TempDir,
    sections: Table,
    devices: Vec<SimDeviceEntry>,
}

impl Default for ConfigBuilder {
    fn default() -> Self {
        Self::new()
    }
}

impl ConfigBuilder {
    /// The simulated backend with a fast radio (5 ms interval, 20 ms connect), JSON logs (the
    /// harness reads them) and the HTTP API on any free port.
    pub fn new() -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = dir.path().join("store.redb");
        let builder = Self {
            dir,
            sections: Table::new(),
            devices: Vec::new(),
        };
        builder
            .set("store", "path", store.to_string_lossy().into_owned())
            .set("ble", "backend", "sim")
            .set("http", "listen", LISTEN_ON_ANY_PORT)
            .log_format(LogFormat::Json)
            .radio_timing(5, 20)
    }

    /// Any key of any section; the typed methods below are the ones to prefer.
    pub fn set(mut self, section: &str, key: &str, value: impl Into<Value>) -> Self {
        let section = self
            .sections
            .entry(section.to_owned())
            .or_insert_with(|| Value::Table(Table::new()));
        if let Value::Table(table) = section {
            table.insert(key.to_owned(), value.into());
        }
        self
    }

    pub fn gateway_name(self, name: &str) -> Self {
        self.set("gateway", "name", name)
    }

    pub fn log_level(self, level: &str) -> Self {
        self.set("log", "level", level)
    }

    pub fn log_format(self, format: LogFormat) -> Self {
        let text = match format {
            LogFormat::Text => "text",
            LogFormat::Json => "json",
        };
        self.set("log", "format", text)
    }

    pub fn pairing_timeout_s(self, seconds: u64) -> Self {
        self.set("ble", "pairing_timeout_s", integer(seconds))
    }

    pub fn command_timeout_ms(self, milliseconds: u64) -> Self {
        self.set("ble", "command_timeout_ms", integer(milliseconds))
    }

    /// The daemon pairs every configured simulated device it does not know yet.
    pub fn auto_pair(self, id_type: IdType) -> Self {
        self.pairing_id_type(id_type)
            .set("pairing", "auto_pair", true)
    }

    pub fn pairing_id_type(self, id_type: IdType) -> Self {
        let text = match id_type {
            IdType::App => "app",
            IdType::Bridge => "bridge",
        };
        self.set("pairing", "id_type", text)
    }

    pub fn app_id(self, app_id: u32) -> Self {
        self.set("pairing", "app_id", i64::from(app_id))
    }

    /// The gateway's security PIN (`[pairing] security_pin`).
    pub fn security_pin(self, pin: u32) -> Self {
        self.set("pairing", "security_pin", i64::from(pin))
    }

    pub fn link_slots(self, slots: usize) -> Self {
        self.set("fleet", "link_slots", integer(slots as u64))
    }

    pub fn idle_disconnect_ms(self, milliseconds: u64) -> Self {
        self.set("fleet", "idle_disconnect_ms", integer(milliseconds))
    }

    pub fn reconnect_backoff_ms(self, milliseconds: u64) -> Self {
        self.set("fleet", "reconnect_backoff_ms", integer(milliseconds))
    }

    pub fn bridge_token(self, token: &str) -> Self {
        self.set("bridge", "token", token)
    }

    pub fn hardware_id(self, id: u32) -> Self {
        self.set("bridge", "hardware_id", i64::from(id))
    }

    pub fn action_deadline_ms(self, milliseconds: u64) -> Self {
        self.set("bridge", "action_deadline_ms", integer(milliseconds))
    }

    pub fn callback_attempts(self, attempts: u32) -> Self {
        self.set("bridge", "callback_attempts", i64::from(attempts))
    }

    pub fn callback_retry_ms(self, milliseconds: u64) -> Self {
        self.set("bridge", "callback_retry_ms", integer(milliseconds))
    }

    pub fn callback_timeout_ms(self, milliseconds: u64) -> Self {
        self.set("bridge", "callback_timeout_ms", integer(milliseconds))
    }

    pub fn radio_timing(self, connection_interval_ms: u64, connect_time_ms: u64) -> Self {
        self.set(
            "sim",
            "connection_interval_ms",
            integer(connection_interval_ms),
        )
        .set("sim", "connect_time_ms", integer(connect_time_ms))
    }

    pub fn sim_seed(self, seed: u64) -> Self {
        self.set("sim", "seed", integer(seed))
    }

    pub fn device(mut self, device: SimDeviceEntry) -> Self {
        self.devices.push(device);
        self
    }

    /// One more `[[sim.radios]]` entry: a simulated radio standing at (x, y, z) metres.
    pub fn sim_radio(mut self, name: &str, position: [f64; 3]) -> Self {
        let mut radio = Table::new();
        radio.insert("name".into(), name.into());
        radio.insert("position".into(), position_value(position));
        let sim = self
            .sections
            .entry("sim")
            .or_insert_with(|| Value::Table(Table::new()));
        if let Value::Table(sim) = sim {
            let radios = sim
                .entry("radios")
                .or_insert_with(|| Value::Array(Vec::new()));
            if let Value::Array(radios) = radios {
                radios.push(Value::Table(radio));
            }
        }
        self
    }

    pub fn devices(mut self, devices: impl IntoIterator<Item = SimDeviceEntry>) -> Self {
        self.devices.extend(devices);
        self
    }

    /// Writes `nuki-edge.toml` into the directory.
    pub fn build(mut self) -> TestConfig {
        let token = self
            .sections
            .get("bridge")
            .and_then(|bridge| bridge.get("token"))
            .and_then(Value::as_str)
            .map(str::to_owned);
        let devices: Vec<Value> = self
            .devices
            .iter()
            .map(|device| Value::Table(device.to_table()))
            .collect();
        if !devices.is_empty() {
            self = self.set("sim", "devices", Value::Array(devices));
        }
        let path = self.dir.path().join("nuki-edge.toml");
        let text = toml::to_string(&self.sections).expect("TOML text");
        std::fs::write(&path, text).expect("write config");
        TestConfig {
            store: self.dir.path().join("store.redb"),
            dir: self.dir,
            path,
            token,
            devices: self.devices,
        }
    }
}

/// A written configuration and the directory that holds it, its store and the simulated
/// devices' memory. Dropping it removes them.
pub struct TestConfig {
    dir: TempDir,
    path: PathBuf,
    store: PathBuf,
    token: Option<String>,
    devices: Vec<SimDeviceEntry>,
}

impl TestConfig {
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The path as a command-line argument.
    pub fn arg(&self) -> &str {
        self.path.to_str().expect("temporary paths are UTF-8")
    }

    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    pub fn store_path(&self) -> &Path {
        &self.store
    }

    /// Where the simulated devices keep their memory between runs (next to the store).
    pub fn sim_memory_path(&self) -> PathBuf {
        let mut name = self.store.clone().into_os_string();
        name.push(".sim.json");
        PathBuf::from(name)
    }

    pub fn token(&self) -> Option<&str> {
        self.token.as_deref()
    }

    pub fn devices(&self) -> &[SimDeviceEntry] {
        &self.devices
    }

    pub fn text(&self) -> String {
        std::fs::read_to_string(&self.path).expect("read config")
    }
}
