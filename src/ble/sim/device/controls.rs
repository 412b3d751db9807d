//! Controls a test uses to stage what happens around a device without the protocol: its
//! clock moved (a test of time windows), an app or fob paired with it by somebody else.

use std::time::Duration;

use crate::nuki::codec::DateTime;
use crate::nuki::crypto::SharedKey;
use crate::nuki::enums::{CompletionStatus, DeviceAction, IdType, LogEntryType, Trigger};
use crate::nuki::messages::{AuthorizationEntry, Config, KeypadCode, LogData, LogEntry};

use super::{ControlError, SimDevice};
use crate::ble::sim::auth::{NewAuthorization, TimeWindow};
use crate::ble::sim::logbook::LogAuthor;

/// Lock action bytes the synthetic entries alternate between (§5.3).
const SYNTHETIC_ACTIONS: [u8; 2] = [0x01, 0x02];

impl SimDevice {
    /// The device's clock reads `unix` (UTC seconds) from now on.
    pub fn set_wall_clock(&mut self, unix: i64, now: Duration) -> Result<(), ControlError> {
        if !self.clock.set(now, &DateTime::from_unix(unix)) {
            return Err(ControlError::Refused("no such time"));
        }
        self.schedule_checked_local = None;
        Ok(())
    }

    /// Somebody pairs an app (id type 0) or fob (2) with the device in the Nuki app; its
    /// key never reaches the gateway. Answers the new authorization id.
    pub fn add_authorization(
        &mut self,
        name: &str,
        id_type: IdType,
        now: Duration,
    ) -> Result<u32, ControlError> {
        let created_unix = self.clock.unix(now);
        let id = self
            .authorizations
            .insert(NewAuthorization {
                id_type: id_type.to_u8(),
                app_id: None,
                name: name.to_owned(),
                key: SharedKey::from_bytes(self.entropy.bytes()),
                remote_allowed: true,
                window: TimeWindow::default(),
                created_unix,
            })
            .map_err(|_| ControlError::Refused("no free authorization slot"))?;
        self.state_changed = true;
        Ok(id)
    }

    /// The keypad codes as the device holds them (codes included, for the test to compare).
    pub fn keypad_codes(&self) -> Vec<KeypadCode> {
        self.keypad.list(0, u16::MAX)
    }

    /// Every authorization entry with its time window, as Request Authorization Entries
    /// would list it.
    pub fn authorization_entries(&self) -> Vec<AuthorizationEntry> {
        let ids: Vec<u32> = self.authorizations.iter().map(|a| a.id).collect();
        ids.into_iter()
            .filter_map(|id| self.authorization_entry(id))
            .collect()
    }

    /// The Config the device would report now.
    pub fn config(&self, now: Duration) -> Config {
        self.settings
            .config(self.clock.date_time(now), self.spec.keypad)
    }

    /// The index the device gives its next log entry (near `u32::MAX` to test the wrap, 1
    /// to act out a counter reset).
    pub fn set_next_log_index(&mut self, index: u32) {
        self.logbook.set_next_index(index);
    }

    /// Every entry of the device's log, oldest first.
    pub fn log_entries(&self) -> Vec<LogEntry> {
        self.logbook.entries()
    }

    /// `count` manual turns, alternately unlocking and locking, each logged (the bolt is
    /// not moved: this stages a busy log quickly). Raises the state-changed flag, as the
    /// turns would have.
    pub fn append_log_entries(&mut self, count: usize, now: Duration) {
        let time = self.clock.date_time(now);
        for turn in 0..count {
            let action = SYNTHETIC_ACTIONS[turn % SYNTHETIC_ACTIONS.len()];
            self.logbook.record(
                time,
                &LogAuthor::device(),
                LogEntryType::LockAction,
                LogData::LockAction {
                    action: DeviceAction::from_u8(action, self.family),
                    trigger: Trigger::Manual,
                    flags: 0,
                    completion_status: CompletionStatus::Success,
                },
            );
        }
        self.state_changed = true;
    }
}
