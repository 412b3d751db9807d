//! Administrative commands: configuration, PIN, time, reboot, logs, users, keypad codes and
//! time control (§4.2).

use std::time::Duration;

use crate::nuki::codec::DateTime;
use crate::nuki::enums::{ErrorCode, IdType, SortOrder, StatusCode};
use crate::nuki::messages::{
    AuthorizationEntry, AuthorizationInvite, LogEntryCount, Message, UserAuthorizationUpdate,
};

use super::keyturner::Origin;
use super::{Outbound, SimDevice};
use crate::ble::sim::auth::{NewAuthorization, TimeWindow};
use crate::ble::sim::keypad::KeypadError;
use crate::ble::sim::logbook::LogAuthor;
use crate::ble::sim::schedule::ScheduleError;

const MAX_SHORT_PIN: u32 = 9_999;
const MAX_LONG_PIN: u32 = 999_999;

impl SimDevice {
    pub(super) fn administer(
        &mut self,
        origin: Origin,
        message: Message,
        now: Duration,
    ) -> Vec<Outbound> {
        match self.administer_checked(origin, message, now) {
            Ok(out) => out,
            Err(code) => self.sealed_error(origin.auth_id, code, origin.command),
        }
    }

    fn complete(&mut self, origin: Origin) -> Result<Vec<Outbound>, ErrorCode> {
        Ok(self.sealed_status(origin.auth_id, StatusCode::Complete))
    }

    fn reply(&mut self, origin: Origin, messages: &[Message]) -> Vec<Outbound> {
        messages
            .iter()
            .filter_map(|message| self.sealed(origin.auth_id, message))
            .collect()
    }

    fn administer_checked(
        &mut self,
        origin: Origin,
        message: Message,
        now: Duration,
    ) -> Result<Vec<Outbound>, ErrorCode> {
        let time = self.clock.date_time(now);
        match message {
            Message::RequestConfig => {
                let config = self.settings.config(time, self.spec.keypad);
                Ok(self.reply(origin, &[Message::Config(config)]))
            }
            Message::RequestAdvancedConfig => {
                let config = self.settings.advanced_config();
                Ok(self.reply(origin, &[Message::AdvancedConfig(config)]))
            }
            Message::SetConfig(config) => {
                self.settings
                    .apply_config(config)
                    .map_err(|_| ErrorCode::KErrorBadParameter)?;
                self.complete(origin)
            }
            Message::SetAdvancedConfig(config) => {
                self.settings
                    .apply_advanced(config)
                    .map_err(|_| ErrorCode::KErrorBadParameter)?;
                self.complete(origin)
            }
            Message::SetSecurityPin { new_pin } => {
                let limit = if self.family.pin_is_wide() {
                    MAX_LONG_PIN
                } else {
                    MAX_SHORT_PIN
                };
                let value = new_pin.value();
                if value > limit {
                    return Err(ErrorCode::KErrorBadParameter);
                }
                self.pins.set(new_pin);
                self.complete(origin)
            }
            Message::VerifySecurityPin => self.complete(origin),
            Message::UpdateTime(value) => {
                if !self.clock.set(now, &value) {
                    return Err(ErrorCode::KErrorBadParameter);
                }
                // Entries between the old and the new time do not run retroactively.
                self.schedule_checked_local = None;
                self.complete(origin)
            }
            Message::RequestReboot => {
                let out = self.complete(origin)?;
                self.disconnect_requested = true;
                self.rebooting_until = Some(now + self.spec.reboot_time);
                self.pairing_mode_until = None;
                Ok(out)
            }
            Message::EnableLogging { enabled } => {
                let author = self.log_author(origin);
                self.logbook.set_enabled(enabled, time, &author);
                self.complete(origin)
            }
            Message::RequestLogEntries {
                start_index,
                count,
                sort_order,
                total_count,
            } => {
                if matches!(sort_order, SortOrder::Unknown(_)) {
                    return Err(ErrorCode::KErrorBadParameter);
                }
                let mut messages = Vec::new();
                if total_count {
                    messages.push(Message::LogEntryCount(LogEntryCount {
                        logging_enabled: self.logbook.enabled(),
                        count: saturating_u16(self.logbook.len()),
                        door_sensor_enabled: self.door.sensor,
                        door_sensor_logging_enabled: Some(self.door.logging),
                    }));
                }
                messages.extend(
                    self.logbook
                        .select(start_index, count, sort_order)
                        .into_iter()
                        .map(Message::LogEntry),
                );
                let mut out = self.reply(origin, &messages);
                out.extend(self.complete(origin)?);
                Ok(out)
            }
            Message::RequestAuthorizationEntries { offset, count } => {
                let mut messages = Vec::new();
                if offset == 0 {
                    messages.push(Message::AuthorizationEntryCount {
                        count: saturating_u16(self.authorizations.len()),
                    });
                }
                let ids = self.authorizations.listing_order(origin.auth_id);
                messages.extend(
                    ids.into_iter()
                        .skip(usize::from(offset))
                        .take(usize::from(count))
                        .filter_map(|id| self.authorization_entry(id))
                        .map(Message::AuthorizationEntry),
                );
                let mut out = self.reply(origin, &messages);
                out.extend(self.complete(origin)?);
                Ok(out)
            }
            Message::AuthorizationDataInvite(invite) => self.invite(origin, invite, now),
            Message::UpdateUserAuthorization(update) => {
                self.update_authorization(update)?;
                self.complete(origin)
            }
            Message::RemoveUserAuthorization { auth_id } => {
                if self.authorizations.get(auth_id).is_none() {
                    return Err(ErrorCode::KErrorInvalidAuthId);
                }
                // Answer first: the requester may be removing itself, and then its key goes.
                let out = self.complete(origin)?;
                self.authorizations.remove(auth_id);
                if let Some(connection) = self.connection.as_mut() {
                    if connection.session_auth == Some(auth_id) {
                        connection.session_auth = None;
                    }
                }
                Ok(out)
            }
            Message::AddKeypadCode(code) => {
                let code_id = self.keypad.add(code, time).map_err(keypad_error)?;
                Ok(self.reply(
                    origin,
                    &[Message::KeypadCodeId {
                        code_id,
                        created: time,
                    }],
                ))
            }
            Message::UpdateKeypadCode(update) => {
                self.keypad.update(update).map_err(keypad_error)?;
                self.complete(origin)
            }
            Message::RemoveKeypadCode { code_id } => {
                self.keypad.remove(code_id).map_err(keypad_error)?;
                self.complete(origin)
            }
            Message::RequestKeypadCodes { offset, count } => {
                let mut messages = vec![Message::KeypadCodeCount {
                    count: saturating_u16(self.keypad.len()),
                }];
                messages.extend(
                    self.keypad
                        .list(offset, count)
                        .into_iter()
                        .map(Message::KeypadCode),
                );
                let mut out = self.reply(origin, &messages);
                out.extend(self.complete(origin)?);
                Ok(out)
            }
            Message::AddTimeControlEntry {
                weekdays,
                time: at,
                action,
            } => {
                let entry_id = self
                    .schedule
                    .add(weekdays, at, action)
                    .map_err(schedule_error)?;
                Ok(self.reply(origin, &[Message::TimeControlEntryId { entry_id }]))
            }
            Message::UpdateTimeControlEntry(entry) => {
                self.schedule.update(entry).map_err(schedule_error)?;
                self.complete(origin)
            }
            Message::RemoveTimeControlEntry { entry_id } => {
                self.schedule.remove(entry_id).map_err(schedule_error)?;
                self.complete(origin)
            }
            Message::RequestTimeControlEntries => {
                let mut messages = vec![Message::TimeControlEntryCount {
                    count: u8::try_from(self.schedule.len()).unwrap_or(u8::MAX),
                }];
                messages.extend(
                    self.schedule
                        .entries()
                        .cloned()
                        .map(Message::TimeControlEntry),
                );
                let mut out = self.reply(origin, &messages);
                out.extend(self.complete(origin)?);
                Ok(out)
            }
            Message::StartBusSignalRecording if self.spec.kind.is_opener() => self.complete(origin),
            _ => Err(ErrorCode::ErrorUnknown),
        }
    }

    fn log_author(&self, origin: Origin) -> LogAuthor {
        LogAuthor {
            auth_id: origin.auth_id,
            name: self
                .authorizations
                .get(origin.auth_id)
                .map(|a| a.name.clone())
                .unwrap_or_default(),
        }
    }

    pub(super) fn authorization_entry(&self, auth_id: u32) -> Option<AuthorizationEntry> {
        let a = self.authorizations.get(auth_id)?;
        Some(AuthorizationEntry {
            auth_id: a.id,
            id_type: IdType::from_u8(a.id_type),
            name: a.name.clone(),
            enabled: a.enabled,
            remote_allowed: a.remote_allowed,
            created: DateTime::from_unix(a.created_unix),
            last_active: DateTime::from_unix(a.last_active_unix),
            lock_count: a.lock_count,
            time_limited: a.window.time_limited,
            // Devices always send the full 75-byte layout.
            allowed: Some(a.window.allowed),
        })
    }

    fn invite(
        &mut self,
        origin: Origin,
        invite: AuthorizationInvite,
        now: Duration,
    ) -> Result<Vec<Outbound>, ErrorCode> {
        if matches!(invite.id_type, IdType::Unknown(_)) {
            return Err(ErrorCode::KErrorBadParameter);
        }
        let created_unix = self.clock.unix(now);
        let auth_id = self
            .authorizations
            .insert(NewAuthorization {
                id_type: invite.id_type.to_u8(),
                app_id: None,
                name: invite.name,
                key: invite.shared_key,
                remote_allowed: invite.remote_allowed,
                window: TimeWindow {
                    time_limited: invite.time_limited,
                    allowed: invite.allowed,
                },
                created_unix,
            })
            .map_err(|_| ErrorCode::KErrorTooManyEntries)?;
        self.state_changed = true;
        Ok(self.reply(
            origin,
            &[Message::AuthorizationIdInvite {
                auth_id,
                created: DateTime::from_unix(created_unix),
            }],
        ))
    }

    fn update_authorization(&mut self, update: UserAuthorizationUpdate) -> Result<(), ErrorCode> {
        let entry = self
            .authorizations
            .get_mut(update.auth_id)
            .ok_or(ErrorCode::KErrorInvalidAuthId)?;
        entry.name = update.name;
        entry.enabled = update.enabled;
        entry.remote_allowed = update.remote_allowed;
        entry.window = TimeWindow {
            time_limited: update.time_limited,
            allowed: update.allowed,
        };
        Ok(())
    }
}

fn saturating_u16(value: usize) -> u16 {
    u16::try_from(value).unwrap_or(u16::MAX)
}

fn keypad_error(error: KeypadError) -> ErrorCode {
    match error {
        KeypadError::Full => ErrorCode::KErrorTooManyEntries,
        KeypadError::CodeExists => ErrorCode::KErrorCodeAlreadyExists,
        KeypadError::InvalidCode | KeypadError::UnknownId => ErrorCode::KErrorBadParameter,
    }
}

fn schedule_error(error: ScheduleError) -> ErrorCode {
    match error {
        ScheduleError::Full => ErrorCode::KErrorTooManyEntries,
        ScheduleError::Invalid | ScheduleError::UnknownId => ErrorCode::KErrorBadParameter,
    }
}
