//! `[mqtt]`: the connection to an MQTT broker (Nuki's MQTT API layout and Home Assistant
//! discovery). MQTT is off while `host` is unset.

use std::path::{Path, PathBuf};
use std::str::FromStr;

use serde::Deserialize;
use zeroize::Zeroizing;

use super::error::ConfigError;

/// The broker's plain port.
pub const MQTT_PORT: u16 = 1883;
/// The broker's TLS port.
pub const MQTT_TLS_PORT: u16 = 8883;
/// `mqtt.health_interval_s` default: a health report every minute.
pub const DEFAULT_HEALTH_INTERVAL_S: u64 = 60;
/// Client ids longer than this are refused by some brokers (MQTT 3.1.1 guarantees only 23).
const MAX_CLIENT_ID_BYTES: usize = 64;
const MAX_PREFIX_BYTES: usize = 128;

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MqttConfig {
    /// The broker's host name or address; MQTT is off while unset.
    pub host: Option<String>,
    /// Default 1883, or 8883 with TLS.
    pub port: Option<u16>,
    pub username: Option<String>,
    /// A file holding the password (read at start-up, never logged).
    pub password_file: Option<PathBuf>,
    /// Filled from `password_file` by [`super::Config::resolve_secret_files`].
    #[serde(skip)]
    pub password: Option<MqttPassword>,
    /// Default: derived from `gateway.name`.
    pub client_id: Option<String>,
    pub topic_prefix: String,
    /// Empty: no Home Assistant discovery.
    pub discovery_prefix: String,
    /// TLS is on when a CA file is set.
    pub tls_ca_file: Option<PathBuf>,
    pub tls_cert_file: Option<PathBuf>,
    pub tls_key_file: Option<PathBuf>,
    /// What commands over MQTT may do, as the integration principal `mqtt`.
    pub rights: crate::access::Rights,
    /// How often `<prefix>/gateway/health` is published.
    pub health_interval_s: u64,
}

impl Default for MqttConfig {
    fn default() -> Self {
        Self {
            host: None,
            port: None,
            username: None,
            password_file: None,
            password: None,
            client_id: None,
            topic_prefix: "nuki".to_owned(),
            discovery_prefix: "homeassistant".to_owned(),
            tls_ca_file: None,
            tls_cert_file: None,
            tls_key_file: None,
            rights: crate::access::Rights::of(&[crate::access::Capability::OperateDoors]),
            health_interval_s: DEFAULT_HEALTH_INTERVAL_S,
        }
    }
}

impl MqttConfig {
    pub fn enabled(&self) -> bool {
        self.host.is_some()
    }

    pub fn tls(&self) -> bool {
        self.tls_ca_file.is_some()
    }

    pub fn port(&self) -> u16 {
        self.port
            .unwrap_or(if self.tls() { MQTT_TLS_PORT } else { MQTT_PORT })
    }

    /// `client_id`, or `nuki-edge-<gateway name>` reduced to letters, digits, `-` and `_`.
    pub fn client_id(&self, gateway_name: &str) -> String {
        if let Some(id) = &self.client_id {
            return id.clone();
        }
        let name: String = gateway_name
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                    c
                } else {
                    '_'
                }
            })
            .take(MAX_CLIENT_ID_BYTES - "nuki-edge-".len())
            .collect();
        if name == "nuki-edge" {
            return name;
        }
        format!("nuki-edge-{name}")
    }

    pub fn health_interval(&self) -> std::time::Duration {
        std::time::Duration::from_secs(self.health_interval_s)
    }

    pub(super) fn validate(&self) -> Result<(), ConfigError> {
        if let Some(host) = &self.host {
            if host.trim().is_empty() || host.chars().any(|c| c.is_whitespace() || c == '/') {
                return Err(ConfigError::invalid(
                    "mqtt.host",
                    "must be a host name or address (leave it out to switch MQTT off)",
                ));
            }
        }
        if self.port == Some(0) {
            return Err(ConfigError::invalid("mqtt.port", "must be 1-65535"));
        }
        if self.username.as_deref().is_some_and(str::is_empty) {
            return Err(ConfigError::invalid(
                "mqtt.username",
                "must not be empty (leave it out for an anonymous connection)",
            ));
        }
        if self.password_file.is_some() && self.username.is_none() {
            return Err(ConfigError::invalid(
                "mqtt.password_file",
                "needs mqtt.username (MQTT sends a password only with a user name)",
            ));
        }
        if let Some(id) = &self.client_id {
            if id.is_empty() || id.len() > MAX_CLIENT_ID_BYTES || id.chars().any(char::is_control) {
                return Err(ConfigError::invalid(
                    "mqtt.client_id",
                    format!("must be 1 to {MAX_CLIENT_ID_BYTES} bytes without control characters"),
                ));
            }
        }
        check_prefix("mqtt.topic_prefix", &self.topic_prefix, false)?;
        check_prefix("mqtt.discovery_prefix", &self.discovery_prefix, true)?;
        for (key, file) in [
            ("mqtt.tls_ca_file", &self.tls_ca_file),
            ("mqtt.tls_cert_file", &self.tls_cert_file),
            ("mqtt.tls_key_file", &self.tls_key_file),
        ] {
            if let Some(path) = file {
                check_readable_file(key, path)?;
            }
        }
        if self.tls_cert_file.is_some() != self.tls_key_file.is_some() {
            return Err(ConfigError::invalid(
                "mqtt.tls_cert_file",
                "a client certificate needs its key: set both mqtt.tls_cert_file and \
                 mqtt.tls_key_file, or neither",
            ));
        }
        if self.tls_cert_file.is_some() && !self.tls() {
            return Err(ConfigError::invalid(
                "mqtt.tls_cert_file",
                "a client certificate is only used over TLS: set mqtt.tls_ca_file too",
            ));
        }
        if !(1..=24 * 60 * 60).contains(&self.health_interval_s) {
            return Err(ConfigError::invalid(
                "mqtt.health_interval_s",
                "must be between 1 and 86400 seconds",
            ));
        }
        Ok(())
    }
}

/// A topic prefix: levels separated by `/`, no wildcards, no leading or trailing slash, no
/// empty level. The discovery prefix may be empty (no discovery).
fn check_prefix(key: &str, prefix: &str, may_be_empty: bool) -> Result<(), ConfigError> {
    if prefix.is_empty() {
        if may_be_empty {
            return Ok(());
        }
        return Err(ConfigError::invalid(key, "must not be empty"));
    }
    if prefix.len() > MAX_PREFIX_BYTES {
        return Err(ConfigError::invalid(
            key,
            format!("at most {MAX_PREFIX_BYTES} bytes"),
        ));
    }
    if prefix.contains(['+', '#']) || prefix.chars().any(|c| c.is_control()) {
        return Err(ConfigError::invalid(
            key,
            "must not contain the MQTT wildcards + or # or control characters",
        ));
    }
    if prefix.starts_with('/') || prefix.ends_with('/') || prefix.contains("//") {
        return Err(ConfigError::invalid(
            key,
            "must not start or end with / nor contain an empty level (//)",
        ));
    }
    Ok(())
}

fn check_readable_file(key: &str, path: &Path) -> Result<(), ConfigError> {
    match std::fs::metadata(path) {
        Ok(metadata) if metadata.is_file() => Ok(()),
        Ok(_) => Err(ConfigError::invalid(
            key,
            format!("{} is not a regular file", path.display()),
        )),
        Err(error) => Err(ConfigError::invalid(
            key,
            format!("cannot read {}: {}", path.display(), error.kind()),
        )),
    }
}

/// The broker password: any non-empty text. Never printed.
#[derive(Clone, PartialEq, Eq)]
pub struct MqttPassword(Zeroizing<String>);

impl MqttPassword {
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for MqttPassword {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("<redacted>")
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("must not be empty")]
pub struct EmptyPassword;

impl FromStr for MqttPassword {
    type Err = EmptyPassword;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        if text.is_empty() {
            return Err(EmptyPassword);
        }
        Ok(Self(Zeroizing::new(text.to_owned())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes_without_wildcards_or_outer_slashes() {
        assert!(check_prefix("k", "nuki", false).is_ok());
        assert!(check_prefix("k", "home/nuki", false).is_ok());
        for bad in ["", "/nuki", "nuki/", "nu+ki", "nuki/#", "a//b"] {
            assert!(check_prefix("k", bad, false).is_err(), "{bad:?} passed");
        }
        assert!(check_prefix("k", "", true).is_ok());
    }

    #[test]
    fn client_id_comes_from_the_gateway_name() {
        let config = MqttConfig::default();
        assert_eq!(config.client_id("nuki-edge"), "nuki-edge");
        assert_eq!(config.client_id("Haus 7"), "nuki-edge-Haus_7");
    }

    #[test]
    fn tls_changes_the_default_port() {
        let mut config = MqttConfig::default();
        assert_eq!(config.port(), MQTT_PORT);
        config.tls_ca_file = Some("/ca.pem".into());
        assert_eq!(config.port(), MQTT_TLS_PORT);
        config.port = Some(1);
        assert_eq!(config.port(), 1);
    }
}
