//! What a simulated device remembers across a power cycle, as a real device keeps it in
//! flash: its authorizations (with their keys), security PIN, name and bolt position. The
//! demo and one-shot CLI commands run in separate processes; without this memory a device
//! would forget every pairing between two commands.

use serde::{Deserialize, Serialize};

use crate::nuki::codec::{Reader, Writer};
use crate::nuki::crypto::SharedKey;
use crate::nuki::messages::AllowedWindow;

use super::auth::{Authorization, TimeWindow};

/// Non-volatile memory of one device. Holds keys: write it only to files with mode 0600.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceMemory {
    pub authorizations: Vec<StoredAuthorization>,
    pub next_authorization_id: u32,
    pub security_pin: u32,
    pub name: String,
    pub lock_state: u8,
    /// Power cycles so far; mixed into the random stream so that nonces never repeat.
    pub boots: u64,
}

impl std::fmt::Debug for DeviceMemory {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DeviceMemory")
            .field("authorizations", &self.authorizations.len())
            .field("name", &self.name)
            .field("lock_state", &self.lock_state)
            .field("boots", &self.boots)
            .finish_non_exhaustive()
    }
}

/// One authorization as kept in memory; the key as hex, the time window as its wire bytes.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredAuthorization {
    pub id: u32,
    pub id_type: u8,
    pub app_id: Option<u32>,
    pub name: String,
    key: String,
    pub enabled: bool,
    pub remote_allowed: bool,
    pub created_unix: i64,
    pub last_active_unix: i64,
    pub lock_count: u16,
    pub time_limited: bool,
    window: String,
}

impl StoredAuthorization {
    pub(crate) fn from_live(authorization: &Authorization) -> Self {
        let mut writer = Writer::new();
        authorization.window.allowed.write(&mut writer);
        Self {
            id: authorization.id,
            id_type: authorization.id_type,
            app_id: authorization.app_id,
            name: authorization.name.clone(),
            key: hex::encode(authorization.key().expose()),
            enabled: authorization.enabled,
            remote_allowed: authorization.remote_allowed,
            created_unix: authorization.created_unix,
            last_active_unix: authorization.last_active_unix,
            lock_count: authorization.lock_count,
            time_limited: authorization.window.time_limited,
            window: hex::encode(writer.into_vec()),
        }
    }

    /// `None` when the stored key or window is damaged; such an entry is forgotten.
    pub(crate) fn to_live(&self) -> Option<Authorization> {
        let key = SharedKey::from_hex(&self.key).ok()?;
        let window_bytes = hex::decode(&self.window).ok()?;
        let allowed = AllowedWindow::read(&mut Reader::new(&window_bytes)).ok()?;
        Some(Authorization::restored(
            self.id,
            self.id_type,
            self.app_id,
            self.name.clone(),
            key,
            self.enabled,
            self.remote_allowed,
            (self.created_unix, self.last_active_unix),
            self.lock_count,
            TimeWindow {
                time_limited: self.time_limited,
                allowed,
            },
        ))
    }
}
