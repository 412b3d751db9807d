//! What the gateway alone knows about a device: the name people see for it and whether it
//! is a favorite. Settings on the device itself go through "Manage Nuki Box" instead.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use crate::access::{Capability, DeviceId, Principal};
use crate::store::Table;

use super::ids::device_key;
use super::{validate, BuildingError};
use crate::gateway::Gateway;

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceProfile {
    /// Shown instead of the device's own name.
    pub display_name: Option<String>,
    pub favorite: bool,
}

/// What to change; `None` keeps it, `display_name: Some(None)` clears it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeviceProfileChange {
    pub display_name: Option<Option<String>>,
    pub favorite: Option<bool>,
}

impl Gateway {
    /// Every stored profile (devices without one have the default).
    pub fn device_profiles(&self) -> Result<HashMap<DeviceId, DeviceProfile>, BuildingError> {
        let stored: Vec<(String, DeviceProfile)> = self
            .store
            .read(|tx| tx.page(Table::DeviceProfiles, None, usize::MAX))?;
        Ok(stored
            .into_iter()
            .filter_map(|(key, profile)| key.parse().ok().map(|id| (DeviceId(id), profile)))
            .collect())
    }

    pub fn device_profile(&self, device: DeviceId) -> Result<DeviceProfile, BuildingError> {
        Ok(self
            .store
            .read(|tx| tx.get(Table::DeviceProfiles, &device_key(device)))?
            .unwrap_or_default())
    }

    pub fn change_device_profile(
        &self,
        principal: &Principal,
        device: DeviceId,
        change: DeviceProfileChange,
    ) -> Result<DeviceProfile, BuildingError> {
        self.require(principal, Capability::ManageDevices)?;
        if self.device_by_id(device).is_none() {
            return Err(BuildingError::NotFound(format!("device {device}")));
        }
        if let Some(Some(name)) = &change.display_name {
            validate::place_name(name)?;
        }
        let key = device_key(device);
        Ok(self.store.write(|tx| {
            let mut profile: DeviceProfile =
                tx.get(Table::DeviceProfiles, &key)?.unwrap_or_default();
            if let Some(name) = change.display_name {
                profile.display_name = name;
            }
            if let Some(favorite) = change.favorite {
                profile.favorite = favorite;
            }
            tx.put(Table::DeviceProfiles, &key, &profile)?;
            Ok(profile)
        })?)
    }
}
