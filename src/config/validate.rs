//! Checks that types alone cannot express.

use std::collections::HashSet;
use std::net::SocketAddr;

use tracing_subscriber::filter::LevelFilter;

use super::error::{one_line, ConfigError};
use super::sections::BleBackend;
use super::sim::SimConfig;
use super::Config;

/// Name fields of the protocol are 32 bytes, zero padded.
pub const MAX_NAME_BYTES: usize = 32;
const MAX_GATEWAY_NAME_BYTES: usize = 64;
const MAX_FRAGMENT_LEN: usize = 512;
/// Controllers of Pi-class machines hold only a handful of LE links.
const MAX_LINK_SLOTS: usize = 10;

impl Config {
    pub fn validate(&self) -> Result<(), ConfigError> {
        check_name("gateway.name", &self.gateway.name, MAX_GATEWAY_NAME_BYTES)?;
        if self.store.path.as_os_str().is_empty() {
            return Err(ConfigError::invalid("store.path", "must not be empty"));
        }
        if !(1..=10_000_000).contains(&self.events.max_entries) {
            return Err(ConfigError::invalid(
                "events.max_entries",
                "must be between 1 and 10000000",
            ));
        }
        if !(1..=3_650).contains(&self.events.max_age_days) {
            return Err(ConfigError::invalid(
                "events.max_age_days",
                "must be between 1 and 3650 days",
            ));
        }
        check_log_level(&self.log.level)?;
        check_listen(&self.http.listen)?;
        self.validate_durations()?;
        self.validate_ble()?;
        self.validate_fleet()?;
        if !(1..=300).contains(&self.gateway.shutdown_timeout_s) {
            return Err(ConfigError::invalid(
                "gateway.shutdown_timeout_s",
                "must be between 1 and 300 seconds",
            ));
        }
        if !(1..=65_536).contains(&self.http.max_connections) {
            return Err(ConfigError::invalid(
                "http.max_connections",
                "must be between 1 and 65536",
            ));
        }
        check_name("pairing.name", &self.pairing.name, MAX_NAME_BYTES)?;
        if jiff::tz::TimeZone::get(&self.gateway.time_zone).is_err() {
            return Err(ConfigError::invalid(
                "gateway.time_zone",
                "must be an IANA time zone name such as \"Europe/Zurich\" or \"UTC\"",
            ));
        }
        self.mqtt.validate()?;
        validate_sim(&self.sim, self.ble.backend)
    }

    fn validate_ble(&self) -> Result<(), ConfigError> {
        let ble = &self.ble;
        if ble.adapter.as_deref().is_some_and(|a| a.trim().is_empty()) {
            return Err(ConfigError::invalid(
                "ble.adapter",
                "must not be empty (leave it out to use every adapter)",
            ));
        }
        if ble.adapter.is_some() && ble.adapters.is_some() {
            return Err(ConfigError::invalid(
                "ble.adapter",
                "set either adapter (one) or adapters (a list), not both",
            ));
        }
        if ble.switch_margin_db > MAX_SWITCH_MARGIN_DB {
            return Err(ConfigError::invalid(
                "ble.switch_margin_db",
                format!("must be between 0 and {MAX_SWITCH_MARGIN_DB}"),
            ));
        }
        if !(1..=MAX_RSSI_WINDOW).contains(&ble.rssi_window) {
            return Err(ConfigError::invalid(
                "ble.rssi_window",
                format!("must be between 1 and {MAX_RSSI_WINDOW}"),
            ));
        }
        if !(1..=MAX_RADIO_SILENCE_S).contains(&ble.radio_silence_s) {
            return Err(ConfigError::invalid(
                "ble.radio_silence_s",
                format!("must be between 1 and {MAX_RADIO_SILENCE_S}"),
            ));
        }
        let radios = self.validate_radio_names()?;
        for (device, radio) in &ble.pin {
            let known = radios.contains(radio.as_str())
                || (self.ble.backend == BleBackend::Bluez
                    && ble.adapters.is_none()
                    && ble.adapter.is_none()
                    && looks_like_adapter(radio));
            if !known {
                return Err(ConfigError::invalid(
                    format!("ble.pin.\"{device}\""),
                    format!("no radio is named \"{radio}\""),
                ));
            }
        }
        Ok(())
    }

    /// Every radio's name, checked to be unique: adapters, proxies, simulated radios.
    fn validate_radio_names(&self) -> Result<HashSet<&str>, ConfigError> {
        let ble = &self.ble;
        let mut names: HashSet<&str> = HashSet::new();
        let local: Vec<(String, &str)> = match self.ble.backend {
            BleBackend::Bluez => ble
                .adapters
                .iter()
                .flatten()
                .chain(ble.adapter.iter())
                .enumerate()
                .map(|(index, name)| (format!("ble.adapters[{index}]"), name.as_str()))
                .collect(),
            BleBackend::Sim if self.sim.radios.is_empty() => {
                vec![("sim".to_owned(), SIM_RADIO_NAME)]
            }
            BleBackend::Sim => self
                .sim
                .radios
                .iter()
                .enumerate()
                .map(|(index, radio)| (format!("sim.radios[{index}].name"), radio.name.as_str()))
                .collect(),
        };
        for (key, name) in local {
            if name.trim().is_empty() {
                return Err(ConfigError::invalid(key, "must not be empty"));
            }
            names.insert(name);
        }
        for (index, proxy) in ble.proxies.iter().enumerate() {
            let key = |field: &str| format!("ble.proxies[{index}].{field}");
            check_name(&key("name"), &proxy.name, MAX_NAME_BYTES)?;
            if !names.insert(proxy.name.as_str()) {
                return Err(ConfigError::Duplicate {
                    key: key("name"),
                    value: proxy.name.clone(),
                });
            }
            if proxy.host.trim().is_empty() {
                return Err(ConfigError::invalid(key("host"), "must not be empty"));
            }
            if proxy.port == 0 {
                return Err(ConfigError::invalid(
                    key("port"),
                    "must be between 1 and 65535",
                ));
            }
        }
        Ok(names)
    }
}

impl Config {
    fn validate_fleet(&self) -> Result<(), ConfigError> {
        let fleet = &self.fleet;
        if fleet.link_slots == 0 {
            return Err(ConfigError::invalid(
                "fleet.link_slots",
                "must be at least 1",
            ));
        }
        if fleet.link_slots > MAX_LINK_SLOTS {
            return Err(ConfigError::invalid(
                "fleet.link_slots",
                format!("at most {MAX_LINK_SLOTS} links (BlueZ adapters manage only a few)"),
            ));
        }
        Ok(())
    }
}

/// A level name, or tracing directives. A bare word that is no level is valid filter syntax
/// (it selects a target at every level) and would silently switch every other log off, so a
/// misspelt level is refused here.
fn check_log_level(level: &str) -> Result<(), ConfigError> {
    const KEY: &str = "log.level";
    if level.trim().is_empty() {
        return Err(ConfigError::invalid(KEY, "must not be empty"));
    }
    tracing_subscriber::EnvFilter::try_new(level)
        .map_err(|err| ConfigError::invalid(KEY, one_line(&err.to_string())))?;
    let bare_words = level
        .split(',')
        .map(str::trim)
        .filter(|directive| !directive.is_empty() && !directive.contains(['=', '[']));
    for word in bare_words {
        if word.parse::<LevelFilter>().is_err() {
            return Err(ConfigError::invalid(
                KEY,
                format!(
                    "`{word}` is not a level (trace, debug, info, warn, error, off); filter a \
                     module as target=level"
                ),
            ));
        }
    }
    Ok(())
}

/// `IP:PORT` or `HOST:PORT`; the listener binds it only after the store is open, too late to
/// be a configuration error.
fn check_listen(listen: &str) -> Result<(), ConfigError> {
    if listen.parse::<SocketAddr>().is_ok() {
        return Ok(());
    }
    let host_name = |host: &str| {
        !host.is_empty()
            && host
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.')
    };
    let valid = listen
        .rsplit_once(':')
        .is_some_and(|(host, port)| host_name(host) && port.parse::<u16>().is_ok());
    if valid {
        return Ok(());
    }
    Err(ConfigError::invalid(
        "http.listen",
        "must be HOST:PORT, such as 127.0.0.1:8080, 0.0.0.0:8080 or [::]:8080",
    ))
}

fn check_name(key: &str, name: &str, max_bytes: usize) -> Result<(), ConfigError> {
    if name.trim().is_empty() {
        return Err(ConfigError::invalid(key, "must not be empty"));
    }
    if name.len() > max_bytes {
        return Err(ConfigError::invalid(
            key,
            format!(
                "is {} bytes long; at most {max_bytes} are allowed",
                name.len()
            ),
        ));
    }
    if name.chars().any(char::is_control) {
        return Err(ConfigError::invalid(
            key,
            "must not contain control characters",
        ));
    }
    Ok(())
}

/// A BlueZ adapter's name as the kernel gives it (`hci0`).
fn looks_like_adapter(name: &str) -> bool {
    name.strip_prefix("hci")
        .is_some_and(|number| !number.is_empty() && number.bytes().all(|b| b.is_ascii_digit()))
}

/// The one simulated radio's name when `[[sim.radios]]` places none.
pub const SIM_RADIO_NAME: &str = "sim";
const MAX_SWITCH_MARGIN_DB: u8 = 40;
const MAX_RSSI_WINDOW: u16 = 1000;
const MAX_RADIO_SILENCE_S: u64 = 3600;

fn validate_sim(sim: &SimConfig, backend: BleBackend) -> Result<(), ConfigError> {
    if backend == BleBackend::Sim && sim.devices.is_empty() {
        return Err(ConfigError::invalid(
            "sim.devices",
            "ble.backend is \"sim\" but no [[sim.devices]] are configured",
        ));
    }
    if !(1..=MAX_FRAGMENT_LEN).contains(&sim.fragment_len) {
        return Err(ConfigError::invalid(
            "sim.fragment_len",
            format!("must be between 1 and {MAX_FRAGMENT_LEN}"),
        ));
    }
    let mut radio_names = HashSet::new();
    for (index, radio) in sim.radios.iter().enumerate() {
        let key = |field: &str| format!("sim.radios[{index}].{field}");
        check_name(&key("name"), &radio.name, MAX_NAME_BYTES)?;
        if !radio_names.insert(radio.name.as_str()) {
            return Err(ConfigError::Duplicate {
                key: key("name"),
                value: radio.name.clone(),
            });
        }
        if !radio.position.is_finite() {
            return Err(ConfigError::invalid(
                key("position"),
                "coordinates must be finite numbers",
            ));
        }
    }
    let mut addresses = HashSet::new();
    let mut names = HashSet::new();
    let mut ids = HashSet::new();
    for (index, device) in sim.devices.iter().enumerate() {
        let key = |field: &str| format!("sim.devices[{index}].{field}");
        if device.address.trim().is_empty() {
            return Err(ConfigError::invalid(key("address"), "must not be empty"));
        }
        // MAC addresses are case-insensitive; treat every address that way.
        if !addresses.insert(device.address.to_ascii_lowercase()) {
            return Err(ConfigError::Duplicate {
                key: key("address"),
                value: device.address.clone(),
            });
        }
        check_name(&key("name"), &device.name, MAX_NAME_BYTES)?;
        // Names select devices on the command line, so they must be unambiguous.
        if !names.insert(device.name.to_lowercase()) {
            return Err(ConfigError::Duplicate {
                key: key("name"),
                value: device.name.clone(),
            });
        }
        if !ids.insert(device.nuki_id) {
            return Err(ConfigError::Duplicate {
                key: key("nuki_id"),
                value: format!("0x{:08X}", device.nuki_id),
            });
        }
        let max_pin = device.kind.max_security_pin();
        if device.security_pin.value() > max_pin {
            return Err(ConfigError::invalid(
                key("security_pin"),
                format!("a {} takes a PIN of at most {max_pin}", device.kind),
            ));
        }
        if device
            .position
            .is_some_and(|position| !position.is_finite())
        {
            return Err(ConfigError::invalid(
                key("position"),
                "coordinates must be finite numbers",
            ));
        }
        if device.states_layout_len == Some(0) {
            return Err(ConfigError::invalid(
                key("states_layout_len"),
                "must be at least 1",
            ));
        }
    }
    Ok(())
}
