//! Administrative operations on one device (keypad codes, authorization entries, Config,
//! security PIN), each run as one job of the device's task through [`Fleet::run`], so they
//! share its link, its queue and its priorities with everything else.
//!
//! A device's refusal comes back as [`Failure::Refused`] with the device's code; everything
//! else (unreachable, busy, deadline) means the outcome is unknown or the work did not start.

use std::time::Duration;

use crate::ble::DeviceAddress;
use crate::nuki::enums::TimeZoneId;
use crate::nuki::messages::{
    AuthorizationEntry, Config, KeypadCode, KeypadCodeUpdate, Message, NewKeypadCode, SecurityPin,
    SetConfig, UserAuthorizationUpdate,
};

use super::client::{DeviceClient, LIST_PAGE};
use super::fleet::Fleet;
use super::link::LinkError;
use super::outcome::Failure;
use super::slots::Priority;

/// Where a job runs and how long it may take, queueing included.
#[derive(Debug, Clone)]
pub struct JobSpec {
    pub address: DeviceAddress,
    pub priority: Priority,
    pub deadline: Duration,
}

/// The time zone a device reads weekdays and times of day in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct DeviceZone {
    /// Offset from UTC in minutes, as the Config carries it.
    pub offset_minutes: i16,
    /// The zone id (§5.12), `0xFFFF` when the zone has none.
    pub zone_id: u16,
}

/// The writable Config fields "Manage Nuki Box" changes; `None` keeps a field.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ConfigChange {
    pub name: Option<String>,
    pub location: Option<(f32, f32)>,
    pub zone: Option<DeviceZone>,
}

impl ConfigChange {
    /// Applies the change to a Set Config; whether anything differs from what it held.
    pub fn apply(&self, config: &mut SetConfig) -> bool {
        let before = config.clone();
        let (name, latitude, longitude, offset, dst, zone_id) = match config {
            SetConfig::Lock(c) => (
                &mut c.name,
                &mut c.latitude,
                &mut c.longitude,
                &mut c.timezone_offset,
                &mut c.dst_mode,
                &mut c.timezone_id,
            ),
            SetConfig::Opener(c) => (
                &mut c.name,
                &mut c.latitude,
                &mut c.longitude,
                &mut c.timezone_offset,
                &mut c.dst_mode,
                &mut c.timezone_id,
            ),
        };
        if let Some(new_name) = &self.name {
            new_name.clone_into(name);
        }
        if let Some((new_latitude, new_longitude)) = self.location {
            *latitude = new_latitude;
            *longitude = new_longitude;
        }
        if let Some(zone) = self.zone {
            *offset = zone.offset_minutes;
            *zone_id = TimeZoneId::from_u16(zone.zone_id);
            if *zone_id == TimeZoneId::NotSet {
                // Without a zone id the device would add its own DST rule to an offset the
                // gateway already keeps current.
                *dst = crate::nuki::enums::DstMode::Disabled;
            }
        }
        *config != before
    }
}

/// Every keypad code on the device, page by page.
pub async fn keypad_codes(fleet: &Fleet, job: &JobSpec) -> Result<Vec<KeypadCode>, Failure> {
    run(fleet, job, "list keypad codes", true, |client| {
        Box::pin(list_keypad_codes(client))
    })
    .await
}

/// Adds a keypad code; answers its id. Not repeated after a lost link (the code may exist
/// then; list the codes to find out).
pub async fn add_keypad_code(
    fleet: &Fleet,
    job: &JobSpec,
    code: NewKeypadCode,
) -> Result<u16, Failure> {
    run(fleet, job, "add keypad code", false, move |client| {
        let code = code.clone();
        Box::pin(async move { client.add_keypad_code(code).await })
    })
    .await
}

pub async fn update_keypad_code(
    fleet: &Fleet,
    job: &JobSpec,
    update: KeypadCodeUpdate,
) -> Result<(), Failure> {
    run(fleet, job, "update keypad code", true, move |client| {
        let update = update.clone();
        Box::pin(async move { client.update_keypad_code(update).await })
    })
    .await
}

pub async fn remove_keypad_code(fleet: &Fleet, job: &JobSpec, code_id: u16) -> Result<(), Failure> {
    run(fleet, job, "remove keypad code", true, move |client| {
        Box::pin(async move { client.remove_keypad_code(code_id).await })
    })
    .await
}

/// Every authorization entry on the device, page by page.
pub async fn authorizations(
    fleet: &Fleet,
    job: &JobSpec,
) -> Result<Vec<AuthorizationEntry>, Failure> {
    run(fleet, job, "list authorizations", true, |client| {
        Box::pin(list_authorizations(client))
    })
    .await
}

pub async fn update_authorization(
    fleet: &Fleet,
    job: &JobSpec,
    update: UserAuthorizationUpdate,
) -> Result<(), Failure> {
    run(fleet, job, "update authorization", true, move |client| {
        let update = update.clone();
        Box::pin(async move { client.update_authorization(update).await })
    })
    .await
}

pub async fn remove_authorization(
    fleet: &Fleet,
    job: &JobSpec,
    auth_id: u32,
) -> Result<(), Failure> {
    run(fleet, job, "remove authorization", true, move |client| {
        Box::pin(async move {
            client
                .execute(Message::RemoveUserAuthorization { auth_id })
                .await
                .map(drop)
        })
    })
    .await
}

pub async fn config(fleet: &Fleet, job: &JobSpec) -> Result<Config, Failure> {
    run(fleet, job, "read config", true, |client| {
        Box::pin(client.config())
    })
    .await
}

/// Reads the Config and writes it back changed, on one link; nothing is written when the
/// device already holds the change. Answers whether it wrote.
pub async fn change_config(
    fleet: &Fleet,
    job: &JobSpec,
    change: ConfigChange,
) -> Result<bool, Failure> {
    run(fleet, job, "change config", true, move |client| {
        let change = change.clone();
        Box::pin(async move {
            let mut config = client.config().await?.to_set_config();
            if !change.apply(&mut config) {
                return Ok(false);
            }
            client.set_config(config).await?;
            Ok(true)
        })
    })
    .await
}

/// Sets a new security PIN. Not repeated after a lost link: the device may hold the new PIN
/// then, and a second attempt would present the old one.
pub async fn set_security_pin(
    fleet: &Fleet,
    job: &JobSpec,
    new_pin: SecurityPin,
) -> Result<(), Failure> {
    run(fleet, job, "set security pin", false, move |client| {
        Box::pin(async move { client.set_security_pin(new_pin).await })
    })
    .await
}

/// Whether the device accepts the PIN the task knows.
pub async fn verify_security_pin(fleet: &Fleet, job: &JobSpec) -> Result<(), Failure> {
    run(fleet, job, "verify security pin", true, |client| {
        Box::pin(client.verify_security_pin())
    })
    .await
}

async fn run<T, F>(
    fleet: &Fleet,
    job: &JobSpec,
    name: &'static str,
    repeatable: bool,
    operation: F,
) -> Result<T, Failure>
where
    T: Send + 'static,
    F: for<'a> FnMut(&'a mut DeviceClient) -> futures::future::BoxFuture<'a, Result<T, LinkError>>
        + Send
        + 'static,
{
    fleet
        .run(
            &job.address,
            job.priority,
            job.deadline,
            name,
            repeatable,
            operation,
        )
        .await
}

async fn list_keypad_codes(client: &mut DeviceClient) -> Result<Vec<KeypadCode>, LinkError> {
    let mut codes = Vec::new();
    loop {
        let offset = u16::try_from(codes.len()).unwrap_or(u16::MAX);
        let result = client
            .execute(Message::RequestKeypadCodes {
                offset,
                count: LIST_PAGE,
            })
            .await?;
        let mut total = None;
        let mut page = 0usize;
        for message in result.replies {
            match message {
                Message::KeypadCodeCount { count } => total = Some(usize::from(count)),
                Message::KeypadCode(code) => {
                    codes.push(code);
                    page += 1;
                }
                _ => {}
            }
        }
        let more = total.map_or(page == usize::from(LIST_PAGE), |total| codes.len() < total);
        if page == 0 || !more || offset == u16::MAX {
            return Ok(codes);
        }
    }
}

async fn list_authorizations(
    client: &mut DeviceClient,
) -> Result<Vec<AuthorizationEntry>, LinkError> {
    let mut entries = Vec::new();
    loop {
        let offset = u16::try_from(entries.len()).unwrap_or(u16::MAX);
        let result = client
            .execute(Message::RequestAuthorizationEntries {
                offset,
                count: LIST_PAGE,
            })
            .await?;
        let mut page = 0usize;
        for message in result.replies {
            if let Message::AuthorizationEntry(entry) = message {
                entries.push(entry);
                page += 1;
            }
        }
        if page < usize::from(LIST_PAGE) || offset == u16::MAX {
            return Ok(entries);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nuki::enums::{AdvertisingMode, DstMode, FobAction};
    use crate::nuki::messages::LockSetConfig;

    fn lock_config() -> SetConfig {
        SetConfig::Lock(LockSetConfig {
            name: "Front door".into(),
            latitude: 47.0,
            longitude: 8.0,
            auto_unlatch: false,
            pairing_enabled: true,
            button_enabled: true,
            led_enabled: true,
            led_brightness: 3,
            timezone_offset: 0,
            dst_mode: DstMode::European,
            fob_action_1: FobAction::Unlock,
            fob_action_2: FobAction::Lock,
            fob_action_3: FobAction::LockNGo,
            single_lock: false,
            advertising_mode: AdvertisingMode::Automatic,
            timezone_id: TimeZoneId::NotSet,
        })
    }

    #[test]
    fn a_change_touches_only_its_fields_and_says_whether_it_changed_anything() {
        let mut config = lock_config();
        let change = ConfigChange {
            name: Some("Back door".into()),
            location: None,
            zone: Some(DeviceZone {
                offset_minutes: 60,
                zone_id: TimeZoneId::EuropeBerlin.to_u16(),
            }),
        };
        assert!(change.apply(&mut config));
        let SetConfig::Lock(lock) = &config else {
            panic!("a lock config stays one");
        };
        assert_eq!(lock.name, "Back door");
        assert_eq!((lock.latitude, lock.longitude), (47.0, 8.0));
        assert_eq!(lock.timezone_offset, 60);
        assert_eq!(lock.timezone_id, TimeZoneId::EuropeBerlin);
        assert_eq!(lock.dst_mode, DstMode::European);
        assert!(!change.apply(&mut config), "applied twice changes nothing");
    }

    #[test]
    fn a_zone_without_id_switches_the_device_dst_rule_off() {
        let mut config = lock_config();
        let change = ConfigChange {
            zone: Some(DeviceZone {
                offset_minutes: 330,
                zone_id: TimeZoneId::NotSet.to_u16(),
            }),
            ..ConfigChange::default()
        };
        assert!(change.apply(&mut config));
        let SetConfig::Lock(lock) = &config else {
            panic!("a lock config stays one");
        };
        assert_eq!(lock.dst_mode, DstMode::Disabled);
    }
}
