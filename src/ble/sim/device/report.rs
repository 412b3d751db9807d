//! What the device shows without a link: its advertisement, and the snapshot tests read.

use std::collections::HashMap;
use std::time::Duration;

use crate::ble::{Advertisement, DeviceAddress};
use crate::nuki::advert::{self, Beacon, PairingAdvert};

use super::{Fault, SimDevice};

/// What a test may look at without going through the protocol.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimSnapshot {
    pub address: DeviceAddress,
    pub nuki_id: u32,
    pub nuki_state: u8,
    pub lock_state: u8,
    /// A movement (motor, relay or calibration) is in progress.
    pub moving: bool,
    pub pairing_mode: bool,
    pub state_changed_flag: bool,
    pub connected: bool,
    pub authorizations: Vec<AuthorizationSnapshot>,
    pub log_count: usize,
    pub logging_enabled: bool,
    pub door_open: Option<bool>,
    pub battery_percent: u8,
    pub config_update_count: u8,
    pub config_name: String,
    pub keypad_code_count: usize,
    pub time_control_count: usize,
    /// Last lock action, its trigger and completion status (wire values).
    pub last_action: (u8, u8, u8),
    pub pending_faults: Vec<Fault>,
}

/// An authorization as a snapshot shows it (never the key).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthorizationSnapshot {
    pub auth_id: u32,
    pub id_type: u8,
    pub app_id: Option<u32>,
    pub name: String,
    pub enabled: bool,
    pub remote_allowed: bool,
    pub lock_count: u16,
}

impl SimDevice {
    /// The advertisement as broadcast now, or `None` while rebooting. RSSI is the radio's job.
    pub fn advertisement(&self, now: Duration) -> Option<Advertisement> {
        if !self.is_reachable(now) {
            return None;
        }
        let beacon = Beacon {
            family: self.family,
            nuki_id: self.spec.nuki_id,
            tx_power: if self.spec.kind.is_opener() { -60 } else { -56 },
            state_changed: self.state_changed,
        };
        let mut manufacturer_data = HashMap::new();
        manufacturer_data.insert(advert::APPLE_COMPANY_ID, advert::encode_beacon(&beacon));
        let mut service_data = HashMap::new();
        let mut services = vec![self.characteristics.keyturner_service];
        if self.in_pairing_mode() {
            let (uuid, data) = advert::encode_pairing_service_data(&PairingAdvert {
                family: self.family,
                nuki_id: self.spec.nuki_id,
                uninitialized: false,
            });
            service_data.insert(uuid, data);
            services.push(self.characteristics.pairing_service);
        }
        Some(Advertisement {
            address: Some(self.spec.address.clone()),
            local_name: Some(self.spec.local_name()),
            rssi: None,
            manufacturer_data,
            service_data,
            services,
            heard_by: Vec::new(),
        })
    }

    pub fn snapshot(&self) -> SimSnapshot {
        SimSnapshot {
            address: self.spec.address.clone(),
            nuki_id: self.spec.nuki_id,
            nuki_state: self.nuki_state().to_u8(),
            lock_state: self.mechanism.lock_state(),
            moving: self.mechanism.is_busy(),
            pairing_mode: self.in_pairing_mode(),
            state_changed_flag: self.state_changed,
            connected: self.connection.is_some(),
            authorizations: self
                .authorizations
                .iter()
                .map(|a| AuthorizationSnapshot {
                    auth_id: a.id,
                    id_type: a.id_type,
                    app_id: a.app_id,
                    name: a.name.clone(),
                    enabled: a.enabled,
                    remote_allowed: a.remote_allowed,
                    lock_count: a.lock_count,
                })
                .collect(),
            log_count: self.logbook.len(),
            logging_enabled: self.logbook.enabled(),
            door_open: self.door.sensor.then_some(self.door.open),
            battery_percent: self.battery.percent(),
            config_update_count: self.settings.config_update_count,
            config_name: self.settings.name().to_owned(),
            keypad_code_count: self.keypad.len(),
            time_control_count: self.schedule.len(),
            last_action: self.mechanism.last_action(),
            pending_faults: self.faults.clone(),
        }
    }
}
