//! Typed configuration: a TOML file, overridden by `NUKI_EDGE__SECTION__KEY` environment
//! variables, deserialized strictly (unknown keys are errors), secrets optionally read from
//! `*_file` keys, then validated. `config/default.toml` documents every key.

mod durations;
mod error;
mod load;
mod mqtt;
mod pin;
mod secret_text;
mod secrets;
mod sections;
mod sim;
mod validate;

pub use error::ConfigError;
pub use load::{process_env_overrides, ENV_PREFIX, ENV_SEPARATOR};
pub use mqtt::{MqttConfig, MqttPassword, MQTT_PORT, MQTT_TLS_PORT};
pub use pin::{PinError, SecurityPin, MAX_NARROW_PIN, MAX_WIDE_PIN};
pub use secret_text::SecretText;
pub use sections::{
    BleBackend, BleConfig, BridgeSettings, Config, EventsConfig, FleetSettings, GatewayConfig,
    HttpConfig, IdType, LogConfig, LogFormat, PairingConfig, ProxyConfig, StoreConfig,
};
pub use sim::{parse_nuki_id, SimConfig, SimDeviceConfig};
pub use validate::{MAX_NAME_BYTES, SIM_RADIO_NAME};

impl Config {
    /// The simulated device a command-line DEVICE argument means: its address
    /// (case-insensitive) or its name (exact first, then case-insensitive).
    pub fn find_sim_device(&self, device: &str) -> Option<&SimDeviceConfig> {
        let devices = &self.sim.devices;
        devices
            .iter()
            .find(|d| d.address.eq_ignore_ascii_case(device))
            .or_else(|| devices.iter().find(|d| d.name == device))
            .or_else(|| {
                let wanted = device.to_lowercase();
                devices.iter().find(|d| d.name.to_lowercase() == wanted)
            })
    }
}
