//! Starts the Nuki-Bridge-compatible HTTP API: its token and identity (from the config, or
//! generated once and kept in the store), callbacks, and the listener.

use std::sync::Arc;
use std::time::Duration;

use rand::Rng;

use crate::config::Config;
use crate::gateway::{Gateway, Principal};
use crate::http::bridge_json::{colliding_ids, BridgeDeviceType, BridgeIdentity};
use crate::http::callbacks::{Callbacks, DeliveryPolicy, SaveSlots};
use crate::http::server::{AuthWindow, BridgeApi};
use crate::http::token::{generate_token, BridgeToken};
use crate::store::Store;

use super::ops::{self, OpsError};
use super::settings_writer::SettingsWriter;

const TOKEN_SETTING: &str = "bridge.token";
const HARDWARE_ID_SETTING: &str = "bridge.hardware_id";
const CALLBACKS_SETTING: &str = "bridge.callbacks";
const AUTH_ENABLED_SETTING: &str = "bridge.auth_enabled";

/// The Bridge API, ready to be served: its listener is bound (a taken port is a start-up
/// error) and its router is one part of the daemon's composed router.
pub struct BridgePart {
    pub listener: tokio::net::TcpListener,
    pub router: axum::Router,
}

/// Sets up the Bridge API: token, identity, restored callbacks, and the bound listener.
pub async fn start(
    config: &Config,
    store: &Arc<Store>,
    gateway: Arc<Gateway>,
    settings: SettingsWriter,
    events: Arc<crate::events::EventLog>,
) -> Result<BridgePart, OpsError> {
    let token = bridge_token(config, store)?;
    let identity = bridge_identity(config, store)?;
    let policy = DeliveryPolicy {
        attempts: config.bridge.callback_attempts,
        first_pause: Duration::from_millis(config.bridge.callback_retry_ms),
        timeout: Duration::from_millis(config.bridge.callback_timeout_ms),
    };
    let saved: Vec<Option<String>> = store
        .get_setting(CALLBACKS_SETTING)?
        .and_then(|text| serde_json::from_str(&text).ok())
        .unwrap_or_default();
    let callback_settings = settings.clone();
    let save: SaveSlots = Box::new(move |slots| match serde_json::to_string(slots) {
        Ok(text) => callback_settings.set(CALLBACKS_SETTING, text),
        Err(error) => tracing::warn!(%error, "could not save the Bridge API callbacks"),
    });
    let callbacks = Callbacks::restored(policy, &saved, Some(save));
    let window = AuthWindow {
        path: ops::auth_window_path(config),
    };
    let listener = tokio::net::TcpListener::bind(&config.http.listen)
        .await
        .map_err(|error| {
            OpsError::Http(format!("cannot listen on {}: {error}", config.http.listen))
        })?;
    let address = listener
        .local_addr()
        .map(|a| a.to_string())
        .unwrap_or_else(|_| config.http.listen.clone());
    tracing::info!(listen = %address, "Bridge API ready");
    if std::io::IsTerminal::is_terminal(&std::io::stdout()) {
        // Shown to the person who started the gateway, never written to the log.
        println!("Bridge API on http://{address}/  token: {}", token.reveal());
    }
    warn_about_colliding_ids(&gateway);
    tracing::info!(
        hardware_id = identity.hardware_id(),
        dhcp_hostname = %identity.dhcp_hostname(),
        "Home Assistant discovers this gateway when the machine announces that DHCP host name"
    );
    let api = BridgeApi::new(gateway, token, identity, callbacks, window, events);
    api.set_rights(config.bridge.rights);
    // Anything but a saved "true" keeps /auth off: it hands out the token.
    let auth_enabled = store
        .get_setting(AUTH_ENABLED_SETTING)?
        .is_none_or(|text| text == "true");
    api.keep_auth_enabled(
        auth_enabled,
        Box::new(move |enabled| settings.set(AUTH_ENABLED_SETTING, enabled.to_string())),
    );
    Ok(BridgePart {
        listener,
        router: api.router(),
    })
}

/// Clients address devices by (nukiId, deviceType); two devices sharing both cannot be told
/// apart over the API.
fn warn_about_colliding_ids(gateway: &Gateway) {
    let keys: Vec<(u32, BridgeDeviceType)> = gateway
        .devices(&Principal::bridge_api())
        .iter()
        .map(|device| (device.nuki_id, device.product.bridge_device_type()))
        .collect();
    for (nuki_id, device_type) in colliding_ids(&keys) {
        tracing::warn!(
            nuki_id,
            device_type = device_type.to_u8(),
            "two devices share a Nuki ID and Bridge device type; API clients reach only one"
        );
    }
}

fn bridge_token(config: &Config, store: &Store) -> Result<BridgeToken, OpsError> {
    let text = match &config.bridge.token {
        Some(token) => token.expose().to_owned(),
        None => match store.get_setting(TOKEN_SETTING)? {
            Some(stored) => stored,
            None => {
                let generated = generate_token(&mut rand::rngs::OsRng);
                store.set_setting(TOKEN_SETTING, &generated)?;
                tracing::info!("generated a Bridge API token and kept it in the store");
                generated
            }
        },
    };
    BridgeToken::new(text).map_err(|error| OpsError::Http(format!("bridge.token: {error}")))
}

fn bridge_identity(config: &Config, store: &Store) -> Result<BridgeIdentity, OpsError> {
    let hardware_id = match config.bridge.hardware_id {
        Some(id) => id,
        None => match store
            .get_setting(HARDWARE_ID_SETTING)?
            .and_then(|text| text.parse().ok())
        {
            Some(id) => id,
            None => {
                let id = rand::thread_rng().gen_range(0x1000_0000..0x7FFF_FFFF_u32);
                store.set_setting(HARDWARE_ID_SETTING, &id.to_string())?;
                id
            }
        },
    };
    // A second id derived from the first, stable across restarts.
    let server_id = hardware_id.rotate_left(13) & 0x7FFF_FFFF;
    BridgeIdentity::new(hardware_id, server_id)
        .map_err(|error| OpsError::Http(format!("bridge.hardware_id: {error}")))
}
