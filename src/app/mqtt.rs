//! Starts the MQTT interface when `mqtt.host` is set: its settings from the configuration,
//! rustls' crypto provider installed first.

use std::sync::Arc;

use tokio_util::sync::CancellationToken;
use zeroize::Zeroizing;

use crate::config::Config;
use crate::events::{EventLog, EventsError, Subscription};
use crate::gateway::Gateway;
use crate::mqtt::tls::{install_crypto_provider, TlsFiles};
use crate::mqtt::{MqttError, MqttHandle, MqttSettings, MqttTask, Topics};

/// The interface's settings; `None` while MQTT is off.
pub fn settings(config: &Config) -> Option<MqttSettings> {
    let mqtt = &config.mqtt;
    let host = mqtt.host.clone()?;
    let tls = mqtt.tls_ca_file.clone().map(|ca| TlsFiles {
        ca,
        client: mqtt.tls_cert_file.clone().zip(mqtt.tls_key_file.clone()),
    });
    Some(MqttSettings {
        host,
        port: mqtt.port(),
        client_id: mqtt.client_id(&config.gateway.name),
        credentials: mqtt.username.clone().map(|user| {
            let password = mqtt
                .password
                .as_ref()
                .map(|password| Zeroizing::new(password.expose().to_owned()));
            (user, password)
        }),
        topics: Topics::new(&mqtt.topic_prefix, &mqtt.discovery_prefix),
        tls,
        rights: mqtt.rights,
        health_interval: mqtt.health_interval(),
        gateway_name: config.gateway.name.clone(),
    })
}

/// The handle and the task to run supervised, or `None` while MQTT is off.
pub fn start(
    config: &Config,
    gateway: Arc<Gateway>,
    shutdown: CancellationToken,
) -> Result<Option<(MqttHandle, MqttTask)>, MqttError> {
    let Some(settings) = settings(config) else {
        return Ok(None);
    };
    install_crypto_provider();
    tracing::info!(
        host = %settings.host,
        port = settings.port,
        tls = settings.tls.is_some(),
        client_id = %settings.client_id,
        "MQTT starting"
    );
    crate::mqtt::start(gateway, settings, shutdown).map(Some)
}

/// The activity log's way to MQTT (see [`crate::mqtt::delivery`]), or `None` while MQTT is
/// off. Open it before the recorder stores anything.
pub fn open_outbox(
    config: &Config,
    log: &Arc<EventLog>,
) -> Result<Option<Subscription>, EventsError> {
    if config.mqtt.host.is_none() {
        return Ok(None);
    }
    crate::mqtt::delivery::open(log.clone()).map(Some)
}
