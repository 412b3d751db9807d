//! What the fleet needs to talk to one paired device. The app fills it from the store.

use crate::ble::DeviceAddress;
use crate::nuki::crypto::SharedKey;
use crate::nuki::exchange::Session;
use crate::nuki::messages::SecurityPin;
use crate::nuki::uuids::ServiceFamily;

#[derive(Clone)]
pub struct DeviceCredentials {
    pub address: DeviceAddress,
    pub name: String,
    /// The device's Nuki ID (0 when unknown, e.g. paired before it was recorded).
    pub nuki_id: u32,
    pub family: ServiceFamily,
    /// The Config's device-type byte, when known (tells a Smart Lock 3/4 from a 2.0).
    pub device_type: Option<crate::nuki::enums::DeviceType>,
    pub auth_id: u32,
    pub app_id: u32,
    pub key: SharedKey,
    pub security_pin: Option<SecurityPin>,
    /// Mains powered (a Box): its link may stay open longer.
    pub mains_powered: bool,
}

impl DeviceCredentials {
    pub fn session(&self) -> Session {
        Session {
            auth_id: self.auth_id,
            key: self.key.clone(),
            family: self.family,
        }
    }
}

impl std::fmt::Debug for DeviceCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DeviceCredentials")
            .field("address", &self.address)
            .field("name", &self.name)
            .field("family", &self.family)
            .field("auth_id", &self.auth_id)
            .finish_non_exhaustive()
    }
}
