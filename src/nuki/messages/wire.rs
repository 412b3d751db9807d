//! The payload codec: [`encode`] and [`decode`] for every [`Message`].

use super::super::codec::{DecodeError, Reader, Writer};
use super::super::command::CommandId;
use super::super::enums::{
    DeviceAction, ErrorCode, KeypadActionKind, KeypadSource, SortOrder, StatusCode,
};
use super::super::uuids::ServiceFamily;
use super::*;

/// A decoded payload and, for protected requests, the proof that ended it.
#[derive(Debug, Clone, PartialEq)]
pub struct Decoded {
    pub message: Message,
    pub proof: Option<Proof>,
}

/// Whether `command` is sent by the device (and therefore decoded leniently).
pub fn sent_by_device(command: CommandId) -> bool {
    use CommandId as C;
    matches!(
        command,
        C::Challenge
            | C::AuthorizationId
            | C::AuthorizationEntry
            | C::KeyturnerStates
            | C::Status
            | C::MostRecentCommand
            | C::OpeningsClosingsSummary
            | C::BatteryReport
            | C::ErrorReport
            | C::Config
            | C::AuthorizationIdInvite
            | C::AuthorizationEntryCount
            | C::FirmwareStatus
            | C::LogEntry
            | C::LogEntryCount
            | C::AdvancedConfig
            | C::TimeControlEntryId
            | C::TimeControlEntryCount
            | C::TimeControlEntry
            | C::KeypadCodeId
            | C::KeypadCodeCount
            | C::KeypadCode
            | C::AuthorizationInfo
    )
}

/// Payload bytes of `message`: body, then for protected commands (see [`protection`]) the
/// challenge nonce, then the PIN in the width of `family`. A proof given for an unprotected
/// command is ignored; a missing PIN of a PIN-protected command is sent as 0 (what clients
/// send to a lock that never had a PIN). Without a proof only the body is written.
pub fn encode(message: &Message, family: ServiceFamily, proof: Option<&Proof>) -> Vec<u8> {
    let mut writer = Writer::with_capacity(64);
    write_body(message, family, &mut writer);
    if let Some(proof) = proof {
        match protection(message.command()) {
            Protection::None => {}
            Protection::Challenge => {
                writer.bytes(&proof.nonce);
            }
            Protection::ChallengeAndPin => {
                writer.bytes(&proof.nonce);
                proof
                    .pin
                    .unwrap_or(SecurityPin::Short(0))
                    .write_for(family, &mut writer);
            }
        }
    }
    writer.into_vec()
}

/// Reads the payload of `command`. Requests must have their exact length
/// ([`DecodeError::BadLength`] otherwise); device messages may carry extra bytes.
pub fn decode(
    command: CommandId,
    payload: &[u8],
    family: ServiceFamily,
) -> Result<Decoded, DecodeError> {
    if let CommandId::Unknown(id) = command {
        return Err(DecodeError::UnknownCommand(id));
    }
    let bad_length = || DecodeError::BadLength {
        command: command.name(),
        len: payload.len(),
    };
    let protection = protection(command);
    let body_len = payload
        .len()
        .checked_sub(protection.wire_len(family))
        .ok_or_else(bad_length)?;
    let (body, tail) = payload.split_at(body_len);
    let proof = read_proof(protection, tail, family)?;
    let mut reader = Reader::new(body);
    if sent_by_device(command) {
        let message = read_body(command, &mut reader, family)?;
        return Ok(Decoded { message, proof });
    }
    let message = read_body(command, &mut reader, family)
        .and_then(|message| reader.finish().map(|()| message))
        .map_err(|error| match error {
            DecodeError::TooShort { .. } | DecodeError::TrailingBytes { .. } => bad_length(),
            other => other,
        })?;
    Ok(Decoded { message, proof })
}

fn read_proof(
    protection: Protection,
    tail: &[u8],
    family: ServiceFamily,
) -> Result<Option<Proof>, DecodeError> {
    let mut reader = Reader::new(tail);
    Ok(match protection {
        Protection::None => None,
        Protection::Challenge => Some(Proof::challenge(reader.array("challenge nonce")?)),
        Protection::ChallengeAndPin => {
            let nonce = reader.array("challenge nonce")?;
            Some(Proof::with_pin(
                nonce,
                SecurityPin::read_for(family, &mut reader)?,
            ))
        }
    })
}

fn read_body(
    command: CommandId,
    r: &mut Reader<'_>,
    family: ServiceFamily,
) -> Result<Message, DecodeError> {
    use CommandId as C;
    let len = r.remaining();
    Ok(match command {
        C::RequestData => Message::RequestData {
            command: CommandId::from_u16(r.u16("requested command")?),
            extra: r.rest().to_vec(),
        },
        C::PublicKey => Message::PublicKey(r.array("public key")?),
        C::Challenge => Message::Challenge(r.array("nonce")?),
        C::AuthorizationAuthenticator => {
            Message::AuthorizationAuthenticator(r.array("authenticator")?)
        }
        C::AuthorizationData => match len {
            AuthorizationDataUltra::LEN => {
                Message::AuthorizationDataUltra(AuthorizationDataUltra::read(r, true)?)
            }
            AuthorizationDataUltra::SHORT_PIN_LEN => {
                Message::AuthorizationDataUltra(AuthorizationDataUltra::read(r, false)?)
            }
            _ => Message::AuthorizationData(AuthorizationData::read(r)?),
        },
        C::AuthorizationId => match len {
            AuthorizationIdUltra::LEN => {
                Message::AuthorizationIdUltra(AuthorizationIdUltra::read(r)?)
            }
            AuthorizationId::LEN => Message::AuthorizationId(AuthorizationId::read(r)?),
            _ => {
                return Err(DecodeError::BadLength {
                    command: command.name(),
                    len,
                })
            }
        },
        C::AuthorizationIdConfirmation => Message::AuthorizationIdConfirmation {
            authenticator: r.array("authenticator")?,
            auth_id: r.u32("authorization id")?,
        },
        C::AuthorizationInfo => Message::AuthorizationInfo(r.u8("security pin set")?),
        C::Status => Message::Status(StatusCode::from_u8(r.u8("status")?)),
        C::ErrorReport => Message::ErrorReport {
            code: ErrorCode::from_u8(r.u8("error code")?),
            command: CommandId::from_u16(r.u16("command id")?),
        },
        C::KeyturnerStates => Message::KeyturnerStates(KeyturnerStates::read(r, family)?),
        C::LockAction => Message::LockAction {
            action: DeviceAction::from_u8(r.u8("lock action")?, family),
            app_id: r.u32("app id")?,
            flags: r.u8("flags")?,
            name_suffix: if r.remaining() >= NAME_SUFFIX_LEN {
                Some(r.name("name suffix", NAME_SUFFIX_LEN)?)
            } else {
                None
            },
        },
        C::SimpleLockAction => Message::SimpleLockAction {
            action: DeviceAction::from_u8(r.u8("lock action")?, family),
        },
        C::Config if family.is_opener() => Message::Config(Config::Opener(OpenerConfig::read(r)?)),
        C::Config => Message::Config(Config::Lock(LockConfig::read(r)?)),
        C::SetConfig if family.is_opener() => {
            Message::SetConfig(SetConfig::Opener(OpenerSetConfig::read(r)?))
        }
        C::SetConfig => Message::SetConfig(SetConfig::Lock(LockSetConfig::read(r)?)),
        C::RequestConfig => Message::RequestConfig,
        C::AdvancedConfig if family.is_opener() => {
            Message::AdvancedConfig(AdvancedConfig::Opener(OpenerAdvancedConfig::read(r)?))
        }
        C::AdvancedConfig => {
            Message::AdvancedConfig(AdvancedConfig::Lock(LockAdvancedConfig::read(r)?))
        }
        C::SetAdvancedConfig if family.is_opener() => {
            Message::SetAdvancedConfig(SetAdvancedConfig::Opener(OpenerAdvancedSettings::read(r)?))
        }
        C::SetAdvancedConfig => {
            Message::SetAdvancedConfig(SetAdvancedConfig::Lock(LockAdvancedSettings::read(r)?))
        }
        C::RequestAdvancedConfig => Message::RequestAdvancedConfig,
        C::BatteryReport => Message::BatteryReport(BatteryReport::read(r, family)?),
        C::LogEntry => Message::LogEntry(LogEntry::read(r, family)?),
        C::LogEntryCount => Message::LogEntryCount(LogEntryCount::read(r)?),
        C::RequestLogEntries => Message::RequestLogEntries {
            start_index: r.u32("start index")?,
            count: r.u16("count")?,
            sort_order: SortOrder::from_u8(r.u8("sort order")?),
            total_count: r.bool("total count")?,
        },
        C::EnableLogging => Message::EnableLogging {
            enabled: r.bool("enabled")?,
        },
        C::AuthorizationEntry => Message::AuthorizationEntry(AuthorizationEntry::read(r)?),
        C::AuthorizationEntryCount => Message::AuthorizationEntryCount {
            count: r.u16("count")?,
        },
        C::RequestAuthorizationEntries => Message::RequestAuthorizationEntries {
            offset: r.u16("offset")?,
            count: r.u16("count")?,
        },
        C::AuthorizationDataInvite => {
            Message::AuthorizationDataInvite(AuthorizationInvite::read(r)?)
        }
        C::AuthorizationIdInvite => Message::AuthorizationIdInvite {
            auth_id: r.u32("authorization id")?,
            created: r.date_time("date created")?,
        },
        C::UpdateUserAuthorization => {
            Message::UpdateUserAuthorization(UserAuthorizationUpdate::read(r)?)
        }
        C::RemoveUserAuthorization => Message::RemoveUserAuthorization {
            auth_id: r.u32("authorization id")?,
        },
        C::KeypadCode => Message::KeypadCode(KeypadCode::read(r)?),
        C::KeypadCodeCount => Message::KeypadCodeCount {
            count: r.u16("count")?,
        },
        C::KeypadCodeId => Message::KeypadCodeId {
            code_id: r.u16("code id")?,
            created: r.date_time("date created")?,
        },
        C::AddKeypadCode => Message::AddKeypadCode(NewKeypadCode::read(r)?),
        C::UpdateKeypadCode => Message::UpdateKeypadCode(KeypadCodeUpdate::read(r)?),
        C::RemoveKeypadCode => Message::RemoveKeypadCode {
            code_id: r.u16("code id")?,
        },
        C::RequestKeypadCodes => Message::RequestKeypadCodes {
            offset: r.u16("offset")?,
            count: r.u16("count")?,
        },
        C::KeypadAction => Message::KeypadAction {
            source: KeypadSource::from_u8(r.u8("source")?),
            code: AccessCode(r.u32("code")?),
            action: KeypadActionKind::from_u8(r.u8("action")?),
        },
        C::TimeControlEntry => Message::TimeControlEntry(TimeControlEntry::read(r, family)?),
        C::TimeControlEntryCount => Message::TimeControlEntryCount {
            count: r.u8("count")?,
        },
        C::TimeControlEntryId => Message::TimeControlEntryId {
            entry_id: r.u8("entry id")?,
        },
        C::AddTimeControlEntry => Message::AddTimeControlEntry {
            weekdays: Weekdays(r.u8("weekdays")?),
            time: r.time_of_day("time")?,
            action: DeviceAction::from_u8(r.u8("lock action")?, family),
        },
        C::UpdateTimeControlEntry => {
            Message::UpdateTimeControlEntry(TimeControlEntry::read(r, family)?)
        }
        C::RemoveTimeControlEntry => Message::RemoveTimeControlEntry {
            entry_id: r.u8("entry id")?,
        },
        C::RequestTimeControlEntries => Message::RequestTimeControlEntries,
        C::SetSecurityPin => Message::SetSecurityPin {
            new_pin: SecurityPin::read_for(family, r)?,
        },
        C::VerifySecurityPin => Message::VerifySecurityPin,
        C::RequestCalibration => Message::RequestCalibration,
        C::RequestReboot => Message::RequestReboot,
        C::UpdateTime => Message::UpdateTime(r.date_time("time")?),
        C::MostRecentCommand => Message::MostRecentCommand {
            command: CommandId::from_u16(r.u16("command id")?),
        },
        C::OpeningsClosingsSummary => {
            Message::OpeningsClosingsSummary(OpeningsClosingsSummary::read(r)?)
        }
        C::FirmwareStatus => Message::FirmwareStatus {
            version: FirmwareVersion::read(r)?,
            unknown: r.rest().to_vec(),
        },
        C::ContinuousModeAction => Message::ContinuousModeAction {
            enabled: r.bool("enabled")?,
            timeout: r.u8("timeout")?,
        },
        C::StartBusSignalRecording => Message::StartBusSignalRecording,
        C::Unknown(id) => return Err(DecodeError::UnknownCommand(id)),
    })
}

fn write_body(message: &Message, family: ServiceFamily, w: &mut Writer) {
    match message {
        Message::RequestData { command, extra } => {
            w.u16(command.to_u16()).bytes(extra);
        }
        Message::PublicKey(bytes)
        | Message::Challenge(bytes)
        | Message::AuthorizationAuthenticator(bytes) => {
            w.bytes(bytes);
        }
        Message::AuthorizationData(data) => data.write(w),
        Message::AuthorizationDataUltra(data) => data.write(w),
        Message::AuthorizationId(data) => data.write(w),
        Message::AuthorizationIdUltra(data) => data.write(w),
        Message::AuthorizationIdConfirmation {
            authenticator,
            auth_id,
        } => {
            w.bytes(authenticator).u32(*auth_id);
        }
        Message::AuthorizationInfo(value) => {
            w.u8(*value);
        }
        Message::Status(status) => {
            w.u8(status.to_u8());
        }
        Message::ErrorReport { code, command } => {
            w.u8(code.to_u8()).u16(command.to_u16());
        }
        Message::KeyturnerStates(states) => states.write(w),
        Message::LockAction {
            action,
            app_id,
            flags,
            name_suffix,
        } => {
            w.u8(action.to_u8()).u32(*app_id).u8(*flags);
            if let Some(suffix) = name_suffix {
                w.name(suffix, NAME_SUFFIX_LEN);
            }
        }
        Message::SimpleLockAction { action } => {
            w.u8(action.to_u8());
        }
        Message::Config(Config::Lock(config)) => config.write(w),
        Message::Config(Config::Opener(config)) => config.write(w),
        Message::SetConfig(SetConfig::Lock(config)) => config.write(w),
        Message::SetConfig(SetConfig::Opener(config)) => config.write(w),
        Message::AdvancedConfig(AdvancedConfig::Lock(config)) => config.write(w),
        Message::AdvancedConfig(AdvancedConfig::Opener(config)) => config.write(w),
        Message::SetAdvancedConfig(SetAdvancedConfig::Lock(settings)) => settings.write(w),
        Message::SetAdvancedConfig(SetAdvancedConfig::Opener(settings)) => settings.write(w),
        Message::BatteryReport(report) => report.write(w),
        Message::LogEntry(entry) => entry.write(w),
        Message::LogEntryCount(count) => count.write(w),
        Message::RequestLogEntries {
            start_index,
            count,
            sort_order,
            total_count,
        } => {
            w.u32(*start_index)
                .u16(*count)
                .u8(sort_order.to_u8())
                .bool(*total_count);
        }
        Message::EnableLogging { enabled } => {
            w.bool(*enabled);
        }
        Message::AuthorizationEntry(entry) => entry.write(w),
        Message::AuthorizationEntryCount { count } | Message::KeypadCodeCount { count } => {
            w.u16(*count);
        }
        Message::RequestAuthorizationEntries { offset, count }
        | Message::RequestKeypadCodes { offset, count } => {
            w.u16(*offset).u16(*count);
        }
        Message::AuthorizationDataInvite(invite) => invite.write(w),
        Message::AuthorizationIdInvite { auth_id, created } => {
            w.u32(*auth_id).date_time(created);
        }
        Message::UpdateUserAuthorization(update) => update.write(w),
        Message::RemoveUserAuthorization { auth_id } => {
            w.u32(*auth_id);
        }
        Message::KeypadCode(code) => code.write(w),
        Message::KeypadCodeId { code_id, created } => {
            w.u16(*code_id).date_time(created);
        }
        Message::AddKeypadCode(code) => code.write(w),
        Message::UpdateKeypadCode(code) => code.write(w),
        Message::RemoveKeypadCode { code_id } => {
            w.u16(*code_id);
        }
        Message::KeypadAction {
            source,
            code,
            action,
        } => {
            w.u8(source.to_u8()).u32(code.0).u8(action.to_u8());
        }
        Message::TimeControlEntry(entry) | Message::UpdateTimeControlEntry(entry) => entry.write(w),
        Message::TimeControlEntryCount { count } => {
            w.u8(*count);
        }
        Message::TimeControlEntryId { entry_id } | Message::RemoveTimeControlEntry { entry_id } => {
            w.u8(*entry_id);
        }
        Message::AddTimeControlEntry {
            weekdays,
            time,
            action,
        } => {
            w.u8(weekdays.0).time_of_day(time).u8(action.to_u8());
        }
        Message::SetSecurityPin { new_pin } => new_pin.write_for(family, w),
        Message::UpdateTime(time) => {
            w.date_time(time);
        }
        Message::MostRecentCommand { command } => {
            w.u16(command.to_u16());
        }
        Message::OpeningsClosingsSummary(summary) => summary.write(w),
        Message::FirmwareStatus { version, unknown } => {
            version.write(w);
            w.bytes(unknown);
        }
        Message::ContinuousModeAction { enabled, timeout } => {
            w.bool(*enabled).u8(*timeout);
        }
        Message::RequestConfig
        | Message::RequestAdvancedConfig
        | Message::RequestTimeControlEntries
        | Message::VerifySecurityPin
        | Message::RequestCalibration
        | Message::RequestReboot
        | Message::StartBusSignalRecording => {}
    }
}
