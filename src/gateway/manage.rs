//! "Manage Nuki Box": settings that live on the device itself, changed over BLE: its name
//! and location (a read-modify-write of its Config) and its security PIN.
//!
//! After a PIN change the gateway talks to the device with the new PIN: the stored pairing
//! is updated and the device's task restarted with it.

use std::time::Duration;

use serde::Deserialize;

use crate::access::{Capability, DenialReason, DeviceId, Principal};
use crate::devices::admin_ops::{self, ConfigChange, JobSpec};
use crate::devices::credentials::DeviceCredentials;
use crate::devices::fleet::FleetEvent;
use crate::devices::outcome::{Failure, UnreachableReason};
use crate::devices::slots::Priority;
use crate::nuki::enums::ErrorCode;
use crate::nuki::messages::{SecurityPin, NAME_LEN};
use crate::nuki::product::ProductType;

use super::{Gateway, GatewayResult, Refusal};

/// How long a PIN change waits for the device's old link to close before the restarted task
/// may open a new one (the device takes one central at a time).
const LINK_HANDOVER: Duration = Duration::from_secs(2);

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

/// Why a change is not one the device can take. Never contains the PIN.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvalidSetting {
    #[error("the device name must be 1 to {NAME_LEN} bytes")]
    Name,
    #[error("the latitude must lie within ±90° and the longitude within ±180°")]
    Location,
    #[error("the security PIN must be a number from 1 to {max} on this device")]
    SecurityPin { max: u32 },
}

impl DeviceSettingsChange {
    /// Checks the change against what `product` accepts, without the radio (the management
    /// API answers 422 with this before calling [`Gateway::manage_device`]).
    pub fn check(&self, product: ProductType) -> Result<(), InvalidSetting> {
        if let Some(name) = &self.name {
            if name.trim().is_empty() || name.len() > NAME_LEN || name.contains('\0') {
                return Err(InvalidSetting::Name);
            }
        }
        if let Some((latitude, longitude)) = self.location {
            let fits = latitude.is_finite()
                && longitude.is_finite()
                && (-90.0..=90.0).contains(&latitude)
                && (-180.0..=180.0).contains(&longitude);
            if !fits {
                return Err(InvalidSetting::Location);
            }
        }
        if let Some(pin) = self.security_pin {
            let max = product.max_security_pin();
            // 0 is what a client without a PIN sends; no device takes it as a PIN.
            if pin == 0 || pin > max {
                return Err(InvalidSetting::SecurityPin { max });
            }
        }
        Ok(())
    }
}

impl Gateway {
    /// Changes settings on the device over BLE, on behalf of `principal` (who needs
    /// `manage_devices`). Name and location first, then the PIN. A change the device cannot
    /// take (see [`DeviceSettingsChange::check`]) is refused as the device would refuse it.
    pub async fn manage_device(
        &self,
        principal: &Principal,
        device: DeviceId,
        change: DeviceSettingsChange,
    ) -> GatewayResult<()> {
        if !principal.rights().allows(Capability::ManageDevices) {
            return Err(Refusal::Denied {
                reason: DenialReason::MissingRight {
                    capability: Capability::ManageDevices,
                },
            });
        }
        let view = self.device_by_id(device).ok_or(Refusal::UnknownDevice)?;
        if change.check(view.product).is_err() {
            return Err(Refusal::RefusedByDevice {
                code: ErrorCode::KErrorBadParameter,
            });
        }
        let job = JobSpec {
            address: view.address.clone(),
            priority: Priority::User,
            deadline: self.settings.action_deadline,
        };
        if change.name.is_some() || change.location.is_some() {
            let config = ConfigChange {
                name: change.name.clone(),
                location: change.location,
                zone: None,
            };
            admin_ops::change_config(&self.fleet, &job, config).await?;
            tracing::info!(%principal, %device, name = ?change.name, location = ?change.location, "device settings changed");
        }
        if let Some(pin) = change.security_pin {
            let new_pin = SecurityPin::for_family(pin, view.product.service_family());
            self.change_security_pin(&job, new_pin).await?;
            tracing::info!(%principal, %device, "device security PIN changed");
        }
        Ok(())
    }

    async fn change_security_pin(&self, job: &JobSpec, new_pin: SecurityPin) -> GatewayResult<()> {
        let credentials = self
            .fleet
            .credentials(&job.address)
            .ok_or(Refusal::UnknownDevice)?;
        match admin_ops::set_security_pin(&self.fleet, job, new_pin).await {
            Ok(()) => {}
            Err(failure) if outcome_unknown(&failure) => {
                // The device may have taken the new PIN before the link broke: the old one
                // tells. Refused means the new one is in force.
                match admin_ops::verify_security_pin(&self.fleet, job).await {
                    Err(Failure::Refused {
                        code: ErrorCode::KErrorBadPin,
                    }) => {}
                    _ => return Err(failure.into()),
                }
            }
            Err(failure) => return Err(failure.into()),
        }
        self.adopt_security_pin(credentials, new_pin).await;
        Ok(())
    }

    /// From now on the device is spoken to with `new_pin`: stored with its pairing, and its
    /// task restarted with it once the old task's link is closed.
    async fn adopt_security_pin(&self, credentials: DeviceCredentials, new_pin: SecurityPin) {
        let address = credentials.address.clone();
        let stored = super::provisioning::in_store(self.store.clone(), move |store| {
            if let Some(mut pairing) = store.pairing(&address)? {
                pairing.security_pin = Some(new_pin);
                store.save_pairing(&pairing)?;
            }
            Ok(())
        })
        .await;
        if let Err(error) = stored {
            tracing::error!(device = %credentials.name, %error, "the device has a new security PIN that could not be stored; after a restart the gateway will present the old one");
        }
        let mut events = self.fleet.subscribe();
        let address = credentials.address.clone();
        let updated = DeviceCredentials {
            security_pin: Some(new_pin),
            ..credentials
        };
        self.fleet.add(updated);
        let handed_over = tokio::time::timeout(LINK_HANDOVER, async {
            loop {
                match events.recv().await {
                    Ok(FleetEvent::Disconnected { address: closed }) if closed == address => return,
                    Ok(_) | Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {}
                    Err(tokio::sync::broadcast::error::RecvError::Closed) => return,
                }
            }
        })
        .await;
        if handed_over.is_err() {
            tracing::debug!(device = %address, "no open link to hand over after the PIN change");
        }
    }
}

/// Whether a failed command may still have been carried out by the device.
fn outcome_unknown(failure: &Failure) -> bool {
    match failure {
        Failure::TimedOut => true,
        Failure::Unreachable { reason } => matches!(
            reason,
            UnreachableReason::LinkLost | UnreachableReason::NoAnswer | UnreachableReason::Protocol
        ),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn changes_are_checked_against_the_product() {
        let lock = ProductType::SmartLock4;
        let ok = DeviceSettingsChange {
            name: Some("Entrance".into()),
            location: Some((47.37, 8.54)),
            security_pin: Some(9_999),
        };
        assert_eq!(ok.check(lock), Ok(()));
        let too_wide = DeviceSettingsChange {
            security_pin: Some(123_456),
            ..DeviceSettingsChange::default()
        };
        assert_eq!(
            too_wide.check(lock),
            Err(InvalidSetting::SecurityPin { max: 9_999 })
        );
        assert!(!too_wide
            .check(lock)
            .unwrap_err()
            .to_string()
            .contains("123456"));
        assert_eq!(too_wide.check(ProductType::SmartLockUltra), Ok(()));
        let long_name = DeviceSettingsChange {
            name: Some("x".repeat(NAME_LEN + 1)),
            ..DeviceSettingsChange::default()
        };
        assert_eq!(long_name.check(lock), Err(InvalidSetting::Name));
        let nowhere = DeviceSettingsChange {
            location: Some((91.0, 0.0)),
            ..DeviceSettingsChange::default()
        };
        assert_eq!(nowhere.check(lock), Err(InvalidSetting::Location));
    }

    #[test]
    fn debug_hides_the_pin() {
        let change = DeviceSettingsChange {
            security_pin: Some(4_321),
            ..DeviceSettingsChange::default()
        };
        assert!(!format!("{change:?}").contains("4321"));
    }
}
