//! Pairing as a gateway operation: it runs beside everything else (never in the daemon's main
//! loop), waits for the device's pairing-mode advertisement with a countdown, pairs on a link
//! slot of the fleet, stores the key off the async executor and adds the device to the fleet,
//! reporting each step on the bus.

use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;
use tokio::time::Instant;

use crate::ble::DeviceAddress;
use crate::devices::credentials::DeviceCredentials;
use crate::devices::fleet::PairFailure;
use crate::devices::link::LinkError;
use crate::devices::pairing::{PairedDevice, PairingStep};
use crate::nuki::advert::PairingAdvert;
use crate::nuki::enums::{ErrorCode, IdType};
use crate::nuki::messages::SecurityPin;
use crate::nuki::pairing::{PairingError, PairingRequest};
use crate::nuki::uuids::ServiceFamily;
use crate::store::{Pairing, Store};

use super::events::{GatewayEvent, PairingProgress};
use super::view::{DeviceView, Refusal};
use super::{lock, Gateway};
use crate::access::Principal;

/// A pairing-mode advertisement older than this is not trusted to mean the device still is.
pub(super) const RECENT_PAIRING_ADVERT: Duration = Duration::from_secs(5);
/// How often the countdown is reported while waiting for the button.
const COUNTDOWN_STEP: Duration = Duration::from_secs(1);

/// How the gateway introduces itself to new devices; from `[pairing]`.
#[derive(Debug, Clone)]
pub struct PairingSettings {
    pub name: String,
    pub id_type: IdType,
    /// Fixed app id; otherwise one is generated once and kept in the store.
    pub app_id: Option<u32>,
    /// A building-wide default security PIN, used where it fits the device.
    pub default_pin: Option<u32>,
    /// How long to wait for the device to enter pairing mode.
    pub wait_for_button: Duration,
    /// How long the key exchange itself may take, link slot included.
    pub deadline: Duration,
}

impl Default for PairingSettings {
    fn default() -> Self {
        Self {
            name: "nuki-edge".into(),
            id_type: IdType::Bridge,
            app_id: None,
            default_pin: None,
            wait_for_button: Duration::from_secs(30),
            deadline: Duration::from_secs(30),
        }
    }
}

/// What to pair.
#[derive(Clone)]
pub struct PairingOrder {
    pub address: DeviceAddress,
    pub name: String,
    /// The PIN the installer gave (needed by an Ultra).
    pub security_pin: Option<String>,
    /// Pair as Bridge (`Some(true)`) or app; `None`: as configured.
    pub as_bridge: Option<bool>,
}

impl std::fmt::Debug for PairingOrder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PairingOrder")
            .field("address", &self.address)
            .field("name", &self.name)
            .field(
                "security_pin",
                &self.security_pin.as_ref().map(|_| "<redacted>"),
            )
            .field("as_bridge", &self.as_bridge)
            .finish()
    }
}

/// Why a pairing did not happen.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, thiserror::Error)]
#[serde(tag = "failure", rename_all = "snake_case")]
pub enum PairingFailure {
    #[error("a pairing of this device is already running")]
    AlreadyRunning,
    #[error("not seen in pairing mode within {seconds} s: hold its button for about 5 s until the LED ring lights up, then try again")]
    NoPairingMode { seconds: u64 },
    #[error("invalid security PIN")]
    BadPin,
    #[error("{advice}")]
    Device { advice: String },
    #[error(transparent)]
    Refused(Refusal),
    #[error("cannot keep the new pairing: {reason}")]
    Store { reason: String },
}

impl Gateway {
    /// Starts pairing a device in the background; its progress arrives on the bus as
    /// [`GatewayEvent::Pairing`].
    pub fn start_pairing(
        self: &Arc<Self>,
        principal: &Principal,
        order: PairingOrder,
    ) -> Result<(), PairingFailure> {
        let claim = self.claim_pairing(principal, &order.address)?;
        let gateway = self.clone();
        self.tasks.spawn(async move {
            let _claim = claim;
            let _ = gateway.run_pairing(order).await;
        });
        Ok(())
    }

    /// Pairs a device and waits for the result.
    pub async fn pair(
        self: &Arc<Self>,
        principal: &Principal,
        order: PairingOrder,
    ) -> Result<DeviceView, PairingFailure> {
        let _claim = self.claim_pairing(principal, &order.address)?;
        self.run_pairing(order).await
    }

    fn claim_pairing(
        self: &Arc<Self>,
        principal: &Principal,
        device: &DeviceAddress,
    ) -> Result<PairingClaim, PairingFailure> {
        self.authorize(principal, crate::access::Capability::ManageDevices)
            .map_err(|reason| PairingFailure::Refused(Refusal::Denied { reason }))?;
        if self.shutdown.is_cancelled() {
            return Err(PairingFailure::Refused(Refusal::ShuttingDown));
        }
        if !lock(&self.pairings_running).insert(device.clone()) {
            return Err(PairingFailure::AlreadyRunning);
        }
        Ok(PairingClaim {
            gateway: self.clone(),
            device: device.clone(),
        })
    }

    async fn run_pairing(&self, order: PairingOrder) -> Result<DeviceView, PairingFailure> {
        let result = self.pair_steps(&order).await;
        let progress = match &result {
            Ok((view, authorization_id)) => PairingProgress::Done {
                nuki_id: view.nuki_id,
                authorization_id: *authorization_id,
            },
            Err(failure) => PairingProgress::Failed {
                reason: failure.to_string(),
            },
        };
        match &result {
            Ok((view, _)) => {
                tracing::info!(device = %order.name, address = %order.address, product = %view.product, "paired")
            }
            Err(failure) => {
                tracing::warn!(device = %order.name, %failure, "pairing failed")
            }
        }
        self.report_pairing(&order.address, progress);
        result.map(|(view, _)| view)
    }

    /// The new device and the authorization id it gave the gateway.
    async fn pair_steps(&self, order: &PairingOrder) -> Result<(DeviceView, u32), PairingFailure> {
        let advert = self.wait_for_pairing_mode(&order.address).await?;
        let settings = &self.settings.pairing;
        let security_pin = resolve_pin(
            order.security_pin.as_deref(),
            settings.default_pin,
            advert.family,
        )?;
        let id_type = match order.as_bridge {
            Some(true) => IdType::Bridge,
            Some(false) => IdType::App,
            None => settings.id_type,
        };
        let app_id = match settings.app_id {
            Some(id) => id,
            None => {
                self.blocking_store(|store| store.app_id_or_insert_with(rand::random))
                    .await?
            }
        };
        let request = PairingRequest {
            id_type,
            app_id,
            name: settings.name.clone(),
            security_pin,
        };
        let events = self.events.clone();
        let device = order.address.clone();
        let progress = move |step: PairingStep| {
            let progress = match step {
                PairingStep::WaitingForButton { seconds_left } => {
                    PairingProgress::WaitingForButton { seconds_left }
                }
                PairingStep::ExchangingKeys => PairingProgress::ExchangingKeys,
                PairingStep::ReadingConfig => PairingProgress::ReadingConfig,
            };
            let _ = events.send(GatewayEvent::Pairing {
                device: device.clone(),
                progress,
            });
        };
        let paired = self
            .fleet
            .pair(
                &order.address,
                advert.family,
                request,
                settings.deadline,
                &progress,
            )
            .await
            .map_err(|failure| match failure {
                PairFailure::Fleet(failure) => PairingFailure::Refused(failure.into()),
                PairFailure::Link(error) => PairingFailure::Device {
                    advice: pairing_advice(&error),
                },
            })?;
        let pairing = pairing_record(
            order,
            &advert,
            &paired,
            app_id,
            id_type,
            security_pin,
            self.now_unix(),
        );
        let stored = pairing.clone();
        self.blocking_store(move |store| store.save_pairing(&stored))
            .await?;
        self.fleet.add(credentials_of(&pairing));
        lock(&self.recent_pairing_adverts).remove(&order.address);
        self.fleet
            .devices()
            .into_iter()
            .find(|device| device.address == order.address)
            .map(|device| (DeviceView::from(device), pairing.auth_id))
            .ok_or(PairingFailure::Refused(Refusal::ShuttingDown))
    }

    /// Runs a store call on the blocking pool: redb commits fsync, which must not stall the
    /// executor's threads that serve requests and radios.
    async fn blocking_store<T, F>(&self, call: F) -> Result<T, PairingFailure>
    where
        T: Send + 'static,
        F: FnOnce(&Store) -> Result<T, crate::store::StoreError> + Send + 'static,
    {
        let store = self.store.clone();
        tokio::task::spawn_blocking(move || call(&store))
            .await
            .map_err(|error| PairingFailure::Store {
                reason: error.to_string(),
            })?
            .map_err(|error| PairingFailure::Store {
                reason: error.to_string(),
            })
    }

    async fn wait_for_pairing_mode(
        &self,
        device: &DeviceAddress,
    ) -> Result<PairingAdvert, PairingFailure> {
        let mut adverts = self.pairing_adverts.subscribe();
        let recent = lock(&self.recent_pairing_adverts)
            .get(device)
            .filter(|(heard, _)| heard.elapsed() < RECENT_PAIRING_ADVERT)
            .map(|(_, advert)| *advert);
        if let Some(advert) = recent {
            return Ok(advert);
        }
        let limit = self.settings.pairing.wait_for_button;
        let deadline = Instant::now() + limit;
        let mut next_report = Instant::now();
        loop {
            let now = Instant::now();
            if now >= deadline {
                return Err(PairingFailure::NoPairingMode {
                    seconds: limit.as_secs(),
                });
            }
            if now >= next_report {
                self.report_pairing(
                    device,
                    PairingProgress::WaitingForButton {
                        seconds_left: deadline.saturating_duration_since(now).as_secs(),
                    },
                );
                next_report = now + COUNTDOWN_STEP;
            }
            tokio::select! {
                heard = adverts.recv() => match heard {
                    Ok((address, advert)) if &address == device => return Ok(advert),
                    Ok(_) | Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {}
                    Err(tokio::sync::broadcast::error::RecvError::Closed) => {
                        return Err(PairingFailure::Refused(Refusal::ShuttingDown));
                    }
                },
                () = tokio::time::sleep_until(next_report.min(deadline)) => {}
                () = self.shutdown.cancelled() => {
                    return Err(PairingFailure::Refused(Refusal::ShuttingDown));
                }
            }
        }
    }

    fn report_pairing(&self, device: &DeviceAddress, progress: PairingProgress) {
        let _ = self.events.send(GatewayEvent::Pairing {
            device: device.clone(),
            progress,
        });
    }
}

/// Holds a device's pairing slot; released when the pairing ends however it ends.
struct PairingClaim {
    gateway: Arc<Gateway>,
    device: DeviceAddress,
}

impl Drop for PairingClaim {
    fn drop(&mut self) {
        lock(&self.gateway.pairings_running).remove(&self.device);
    }
}

/// The PIN to pair with: the installer's, else the building-wide default where it fits.
fn resolve_pin(
    given: Option<&str>,
    default_pin: Option<u32>,
    family: ServiceFamily,
) -> Result<Option<SecurityPin>, PairingFailure> {
    match given {
        Some(text) => SecurityPin::parse(text, family.pin_is_wide())
            .map(Some)
            .map_err(|_| PairingFailure::BadPin),
        None => Ok(default_pin_for(default_pin, family)),
    }
}

/// The building-wide default PIN, where it fits the device (a 6-digit PIN fits only the
/// devices that take wide PINs).
pub fn default_pin_for(default_pin: Option<u32>, family: ServiceFamily) -> Option<SecurityPin> {
    default_pin
        .filter(|&value| family.pin_is_wide() || value <= crate::config::MAX_NARROW_PIN)
        .map(|value| SecurityPin::for_family(value, family))
}

fn pairing_record(
    order: &PairingOrder,
    advert: &PairingAdvert,
    paired: &PairedDevice,
    app_id: u32,
    id_type: IdType,
    security_pin: Option<SecurityPin>,
    now_unix: i64,
) -> Pairing {
    Pairing {
        address: order.address.clone(),
        nuki_id: advert.nuki_id,
        product: paired.product,
        device_name: order.name.clone(),
        auth_id: paired.outcome.auth_id,
        app_id,
        id_type: id_type.to_u8(),
        key: paired.outcome.key.clone(),
        security_pin,
        paired_at_unix: now_unix,
    }
}

/// What the fleet needs of a stored pairing.
pub fn credentials_of(pairing: &Pairing) -> DeviceCredentials {
    DeviceCredentials {
        address: pairing.address.clone(),
        name: pairing.device_name.clone(),
        nuki_id: pairing.nuki_id,
        product: pairing.product,
        auth_id: pairing.auth_id,
        app_id: pairing.app_id,
        key: pairing.key.clone(),
        security_pin: pairing.security_pin,
    }
}

/// What the installer should do about a failed pairing.
pub fn pairing_advice(error: &LinkError) -> String {
    let LinkError::Pairing(pairing) = error else {
        return error.to_string();
    };
    match pairing.device_code() {
        Some(ErrorCode::PErrorNotPairing) => {
            "the device left pairing mode; hold its button again and retry".into()
        }
        Some(ErrorCode::PErrorMaxUser) => {
            "the device has no free authorization slot; remove an unused one in the Nuki app".into()
        }
        Some(ErrorCode::KErrorBadPin) => "the security PIN is wrong".into(),
        Some(ErrorCode::KErrorTooManyPinAttempts) => {
            "too many wrong PINs; the device refuses pairing for a while, wait and retry".into()
        }
        _ => match pairing {
            PairingError::PinRequired => {
                "this Smart Lock Ultra needs its 6-digit security PIN: pass --pin or set pairing.security_pin".into()
            }
            other => other.to_string(),
        },
    }
}
