//! Encrypted commands on the keyturner USDIO: key lookup, the checks of §4.3 / §6 in the
//! order a real device applies them, then dispatch.

use std::time::Duration;

use crate::nuki::codec::DecodeError;
use crate::nuki::command::CommandId;
use crate::nuki::enums::ErrorCode;
use crate::nuki::frame::{self, FrameError};
use crate::nuki::messages::{self, Message, Protection};

use super::{Outbound, SimDevice};
use crate::ble::sim::pin::PinRejection;

/// Where a verified command came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Origin {
    pub auth_id: u32,
    pub command: CommandId,
    pub connection: u64,
}

impl SimDevice {
    pub(super) fn on_usdio_write(&mut self, bytes: &[u8], now: Duration) -> Vec<Outbound> {
        let Some(connection) = self.connection_id() else {
            return Vec::new();
        };
        let header = match frame::read_header(bytes) {
            Ok(header) => header,
            Err(_) => {
                return vec![self.plain_error(ErrorCode::ErrorBadLength, CommandId::Unknown(0))]
            }
        };
        let auth_id = header.auth_id;
        let Some(key) = self.authorizations.get(auth_id).map(|a| a.key().clone()) else {
            return vec![self.plain_error(ErrorCode::KErrorNotAuthorized, CommandId::Unknown(0))];
        };
        let opened = match frame::open_encrypted(&key, bytes) {
            Ok(opened) => opened,
            Err(FrameError::Authentication) => {
                return vec![self.plain_error(ErrorCode::KErrorNotAuthorized, CommandId::Unknown(0))]
            }
            Err(_) => {
                return vec![self.plain_error(ErrorCode::ErrorBadLength, CommandId::Unknown(0))]
            }
        };
        let command = opened.command;
        if !opened.crc_valid {
            return self.sealed_error(auth_id, ErrorCode::ErrorBadCrc, command);
        }
        if opened.sealed_auth_id != auth_id {
            return self.sealed_error(auth_id, ErrorCode::KErrorNotAuthorized, command);
        }
        if let Some(connection) = self.connection.as_mut() {
            connection.session_auth = Some(auth_id);
        }
        let origin = Origin {
            auth_id,
            command,
            connection,
        };
        match self.verify(origin, &opened.payload, now) {
            Ok(message) => {
                if let Some(entry) = self.authorizations.get_mut(auth_id) {
                    entry.last_active_unix = self.clock.unix(now);
                }
                if command != CommandId::RequestData {
                    self.most_recent_command = command;
                }
                self.execute(origin, message, now)
            }
            Err(code) => self.sealed_error(auth_id, code, command),
        }
    }

    /// Decodes the payload and checks length, challenge, PIN and the authorization's
    /// restrictions.
    fn verify(
        &mut self,
        origin: Origin,
        payload: &[u8],
        now: Duration,
    ) -> Result<Message, ErrorCode> {
        let command = origin.command;
        if messages::sent_by_device(command) || is_pairing_only(command) {
            return Err(ErrorCode::ErrorUnknown);
        }
        let decoded =
            messages::decode(command, payload, self.family).map_err(|error| match error {
                DecodeError::UnknownCommand(_) | DecodeError::WrongDirection { .. } => {
                    ErrorCode::ErrorUnknown
                }
                DecodeError::InvalidValue { .. } => ErrorCode::KErrorBadParameter,
                DecodeError::TooShort { .. }
                | DecodeError::TrailingBytes { .. }
                | DecodeError::BadLength { .. } => ErrorCode::ErrorBadLength,
            })?;
        let protection = messages::protection(command);
        if protection == Protection::None {
            return Ok(decoded.message);
        }
        let issued = self.authorizations.take_challenge(origin.auth_id);
        let proof = decoded.proof.as_ref().ok_or(ErrorCode::ErrorBadLength)?;
        if issued != Some(proof.nonce) {
            return Err(ErrorCode::KErrorBadNonce);
        }
        if protection == Protection::ChallengeAndPin {
            let pin = proof.pin.ok_or(ErrorCode::ErrorBadLength)?;
            self.pins
                .check(pin, now)
                .map_err(|rejection| match rejection {
                    PinRejection::Wrong => ErrorCode::KErrorBadPin,
                    PinRejection::LockedOut => ErrorCode::KErrorTooManyPinAttempts,
                })?;
        }
        let authorization = self
            .authorizations
            .get(origin.auth_id)
            .ok_or(ErrorCode::KErrorNotAuthorized)?;
        if !authorization.enabled {
            return Err(ErrorCode::KErrorDisabled);
        }
        let now_unix = self.clock.unix(now);
        if !authorization
            .window
            .allows(now_unix, self.settings.timezone_offset())
        {
            return Err(ErrorCode::KErrorTimeNotAllowed);
        }
        Ok(decoded.message)
    }

    fn execute(&mut self, origin: Origin, message: Message, now: Duration) -> Vec<Outbound> {
        match message {
            Message::RequestData { command, .. } => self.request_data(origin, command, now),
            Message::LockAction {
                action,
                flags,
                name_suffix,
                ..
            } => self.lock_action(origin, action.to_u8(), flags, name_suffix, now),
            Message::SimpleLockAction { action } => match action.to_u8() {
                // Simple Lock Action knows only unlock and lock, on every device kind.
                value @ (0x01 | 0x02) => self.lock_action(origin, value, 0, None, now),
                _ => self.sealed_error(
                    origin.auth_id,
                    ErrorCode::KErrorBadParameter,
                    origin.command,
                ),
            },
            Message::ContinuousModeAction { enabled, .. } if self.spec.kind.is_opener() => {
                let action = if enabled { 0x04 } else { 0x05 };
                self.lock_action(origin, action, 0, None, now)
            }
            Message::KeypadAction {
                source,
                code,
                action,
            } => self.keypad_action(origin, source, code.0, action, now),
            Message::RequestCalibration => self.calibrate(origin, now),
            other => self.administer(origin, other, now),
        }
    }

    fn request_data(
        &mut self,
        origin: Origin,
        requested: CommandId,
        now: Duration,
    ) -> Vec<Outbound> {
        let auth_id = origin.auth_id;
        let reply = match requested {
            CommandId::Challenge => {
                let nonce = self.entropy.challenge();
                self.authorizations.issue_challenge(auth_id, nonce);
                Message::Challenge(nonce)
            }
            CommandId::KeyturnerStates => {
                let is_bridge = self
                    .authorizations
                    .get(auth_id)
                    .is_some_and(|a| a.id_type == crate::ble::sim::auth::ID_TYPE_BRIDGE);
                if is_bridge {
                    self.state_changed = false;
                }
                Message::KeyturnerStates(self.keyturner_states(now))
            }
            CommandId::BatteryReport => Message::BatteryReport(self.battery_report()),
            CommandId::MostRecentCommand => Message::MostRecentCommand {
                command: self.most_recent_command,
            },
            CommandId::FirmwareStatus => Message::FirmwareStatus {
                version: self.settings.firmware(),
                unknown: vec![0; 5],
            },
            _ => return self.sealed_error(auth_id, ErrorCode::KErrorBadParameter, origin.command),
        };
        self.sealed(auth_id, &reply).into_iter().collect()
    }
}

fn is_pairing_only(command: CommandId) -> bool {
    matches!(
        command,
        CommandId::PublicKey
            | CommandId::AuthorizationAuthenticator
            | CommandId::AuthorizationData
            | CommandId::AuthorizationIdConfirmation
    )
}
