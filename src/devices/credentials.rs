//! What the fleet needs to talk to one paired device. The app fills it from the store.

use crate::ble::DeviceAddress;
use crate::nuki::crypto::SharedKey;
use crate::nuki::exchange::Session;
use crate::nuki::messages::SecurityPin;
use crate::nuki::product::ProductType;
use crate::nuki::uuids::ServiceFamily;

#[derive(Clone)]
pub struct DeviceCredentials {
    pub address: DeviceAddress,
    pub name: String,
    /// The device's Nuki ID (0 when unknown, e.g. paired before it was recorded).
    pub nuki_id: u32,
    /// What the device reported itself to be at pairing.
    pub product: ProductType,
    pub auth_id: u32,
    pub app_id: u32,
    pub key: SharedKey,
    pub security_pin: Option<SecurityPin>,
}

impl DeviceCredentials {
    pub fn family(&self) -> ServiceFamily {
        self.product.service_family()
    }

    /// A mains-powered device's link may stay open longer: idling costs it no battery.
    pub fn is_mains_powered(&self) -> bool {
        self.product.is_mains_powered()
    }

    pub fn session(&self) -> Session {
        Session {
            auth_id: self.auth_id,
            key: self.key.clone(),
            family: self.family(),
        }
    }
}

impl std::fmt::Debug for DeviceCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DeviceCredentials")
            .field("address", &self.address)
            .field("name", &self.name)
            .field("product", &self.product)
            .field("auth_id", &self.auth_id)
            .finish_non_exhaustive()
    }
}
