//! Provisioning: keeps the keypad codes and authorization entries on the devices in
//! agreement with the stored permissions.

use serde::Serialize;

use crate::access::{DeviceId, PermissionId};

use super::Gateway;

/// Where one permission stands on one device.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum ProvisioningState {
    /// Waiting to be written (the device may be out of range).
    Pending { attempts: u32 },
    /// On the device as stored.
    Applied,
    /// The device refused it; retried only after the permission changes.
    Failed { reason: String, attempts: u32 },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DeviceProvisioning {
    pub device: DeviceId,
    #[serde(flatten)]
    pub state: ProvisioningState,
}

impl Gateway {
    /// Tells provisioning that stored permissions (or the building) changed; it works out
    /// what the devices need from the store.
    pub fn provisioning_changed(&self) {}

    /// Where `permission` stands on each device in its scope (empty for permissions that
    /// live on the gateway only).
    pub fn provisioning_status(&self, _permission: &PermissionId) -> Vec<DeviceProvisioning> {
        Vec::new()
    }
}
