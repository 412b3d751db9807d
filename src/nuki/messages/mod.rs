//! Typed payloads of every command of the master table (§4), both directions.
//!
//! [`encode`] produces the payload bytes (without command id and CRC: framing is
//! [`crate::nuki::frame`]'s job), [`decode`] reads them back. Requests, which clients build,
//! must have their exact length. Messages a device sends are read leniently: older and newer
//! firmware send shorter or longer layouts, and fields beyond the known ones are ignored.
//! Layouts that differ between Smart Locks and Openers are chosen by the [`ServiceFamily`].

mod advanced;
mod common;
mod config;
pub(crate) mod fields;
mod keypad;
mod log;
mod pairing;
mod proof;
mod schedule;
mod states;
mod users;
mod wire;

use serde::Serialize;

use super::codec::{DateTime, TimeOfDay};
use super::command::CommandId;
use super::enums::{
    DeviceAction, ErrorCode, KeypadActionKind, KeypadSource, SortOrder, StatusCode,
};

pub use advanced::{
    AdvancedConfig, LockAdvancedConfig, LockAdvancedSettings, OpenerAdvancedConfig,
    OpenerAdvancedSettings, SetAdvancedConfig,
};
pub use common::{AccessCode, AllowedWindow, FirmwareVersion, HardwareRevision, Weekdays};
pub use config::{Config, LockConfig, LockSetConfig, OpenerConfig, OpenerSetConfig, SetConfig};
pub use keypad::{KeypadCode, KeypadCodeUpdate, NewKeypadCode, KEYPAD_NAME_LEN};
pub use log::{LogData, LogEntry, LogEntryCount};
pub use pairing::{
    AuthorizationData, AuthorizationDataUltra, AuthorizationId, AuthorizationIdUltra, NAME_LEN,
};
pub use proof::{
    pin_len, protection, PinError, Proof, Protection, SecurityPin, CHALLENGE_NONCE_LEN,
};
pub use schedule::TimeControlEntry;
pub use states::{
    battery_charging, battery_critical, battery_percent, BatteryReport, KeyturnerStates,
    OpeningsClosingsSummary,
};
pub use users::{AuthorizationEntry, AuthorizationInvite, UserAuthorizationUpdate};
pub use wire::{decode, encode, sent_by_device, Decoded};

/// What secrets (PINs, keys, keypad codes) look like in JSON.
pub const REDACTED: &str = "<redacted>";

/// Width of the optional name suffix of Lock Action.
pub const NAME_SUFFIX_LEN: usize = 20;

/// One message payload, typed. Serializes as `{"command": <name>, "fields": {...}}`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "command", content = "fields", rename_all = "snake_case")]
pub enum Message {
    RequestData {
        command: CommandId,
        /// Command-specific extra data; none is used in practice.
        #[serde(serialize_with = "fields::hex_bytes")]
        extra: Vec<u8>,
    },
    PublicKey(#[serde(serialize_with = "fields::public_key")] [u8; 32]),
    Challenge(#[serde(serialize_with = "fields::nonce")] [u8; 32]),
    AuthorizationAuthenticator(#[serde(serialize_with = "fields::authenticator")] [u8; 32]),
    AuthorizationData(AuthorizationData),
    /// Authorization Data of the Smart Lock Ultra pairing (same id 0x0006, sent encrypted).
    AuthorizationDataUltra(AuthorizationDataUltra),
    AuthorizationId(AuthorizationId),
    /// Authorization-ID of the Smart Lock Ultra pairing (same id 0x0007, sent encrypted).
    AuthorizationIdUltra(AuthorizationIdUltra),
    AuthorizationIdConfirmation {
        #[serde(serialize_with = "fields::hex_bytes")]
        authenticator: [u8; 32],
        auth_id: u32,
    },
    /// Ultra pairing: whether a security PIN is set.
    AuthorizationInfo(#[serde(serialize_with = "fields::authorization_info")] u8),
    Status(#[serde(serialize_with = "fields::status")] StatusCode),
    ErrorReport {
        code: ErrorCode,
        command: CommandId,
    },
    KeyturnerStates(KeyturnerStates),
    LockAction {
        action: DeviceAction,
        app_id: u32,
        /// Bit 0 auto unlock (Opener: geofence), bit 1 force.
        flags: u8,
        #[serde(skip_serializing_if = "Option::is_none")]
        name_suffix: Option<String>,
    },
    SimpleLockAction {
        action: DeviceAction,
    },
    Config(Config),
    SetConfig(SetConfig),
    RequestConfig,
    AdvancedConfig(AdvancedConfig),
    SetAdvancedConfig(SetAdvancedConfig),
    RequestAdvancedConfig,
    BatteryReport(BatteryReport),
    LogEntry(LogEntry),
    LogEntryCount(LogEntryCount),
    RequestLogEntries {
        /// Entries strictly after this index are returned; 0 = from the start.
        start_index: u32,
        count: u16,
        sort_order: SortOrder,
        /// Ask for Log Entry Count first.
        total_count: bool,
    },
    EnableLogging {
        enabled: bool,
    },
    AuthorizationEntry(AuthorizationEntry),
    AuthorizationEntryCount {
        count: u16,
    },
    RequestAuthorizationEntries {
        offset: u16,
        count: u16,
    },
    AuthorizationDataInvite(AuthorizationInvite),
    AuthorizationIdInvite {
        auth_id: u32,
        created: DateTime,
    },
    UpdateUserAuthorization(UserAuthorizationUpdate),
    RemoveUserAuthorization {
        auth_id: u32,
    },
    KeypadCode(KeypadCode),
    KeypadCodeCount {
        count: u16,
    },
    KeypadCodeId {
        code_id: u16,
        created: DateTime,
    },
    AddKeypadCode(NewKeypadCode),
    UpdateKeypadCode(KeypadCodeUpdate),
    RemoveKeypadCode {
        code_id: u16,
    },
    RequestKeypadCodes {
        offset: u16,
        count: u16,
    },
    KeypadAction {
        source: KeypadSource,
        code: AccessCode,
        action: KeypadActionKind,
    },
    TimeControlEntry(TimeControlEntry),
    TimeControlEntryCount {
        count: u8,
    },
    TimeControlEntryId {
        entry_id: u8,
    },
    AddTimeControlEntry {
        weekdays: Weekdays,
        time: TimeOfDay,
        action: DeviceAction,
    },
    UpdateTimeControlEntry(TimeControlEntry),
    RemoveTimeControlEntry {
        entry_id: u8,
    },
    RequestTimeControlEntries,
    SetSecurityPin {
        new_pin: SecurityPin,
    },
    VerifySecurityPin,
    /// Opener: "Set Calibrated".
    RequestCalibration,
    RequestReboot,
    UpdateTime(#[serde(serialize_with = "fields::time")] DateTime),
    MostRecentCommand {
        command: CommandId,
    },
    OpeningsClosingsSummary(OpeningsClosingsSummary),
    FirmwareStatus {
        version: FirmwareVersion,
        /// Bytes after the version; meaning unknown.
        #[serde(serialize_with = "fields::hex_bytes")]
        unknown: Vec<u8>,
    },
    /// Opener.
    ContinuousModeAction {
        enabled: bool,
        timeout: u8,
    },
    /// Opener; no payload is published.
    StartBusSignalRecording,
}

impl Message {
    pub fn command(&self) -> CommandId {
        use CommandId as C;
        match self {
            Message::RequestData { .. } => C::RequestData,
            Message::PublicKey(_) => C::PublicKey,
            Message::Challenge(_) => C::Challenge,
            Message::AuthorizationAuthenticator(_) => C::AuthorizationAuthenticator,
            Message::AuthorizationData(_) | Message::AuthorizationDataUltra(_) => {
                C::AuthorizationData
            }
            Message::AuthorizationId(_) | Message::AuthorizationIdUltra(_) => C::AuthorizationId,
            Message::AuthorizationIdConfirmation { .. } => C::AuthorizationIdConfirmation,
            Message::AuthorizationInfo(_) => C::AuthorizationInfo,
            Message::Status(_) => C::Status,
            Message::ErrorReport { .. } => C::ErrorReport,
            Message::KeyturnerStates(_) => C::KeyturnerStates,
            Message::LockAction { .. } => C::LockAction,
            Message::SimpleLockAction { .. } => C::SimpleLockAction,
            Message::Config(_) => C::Config,
            Message::SetConfig(_) => C::SetConfig,
            Message::RequestConfig => C::RequestConfig,
            Message::AdvancedConfig(_) => C::AdvancedConfig,
            Message::SetAdvancedConfig(_) => C::SetAdvancedConfig,
            Message::RequestAdvancedConfig => C::RequestAdvancedConfig,
            Message::BatteryReport(_) => C::BatteryReport,
            Message::LogEntry(_) => C::LogEntry,
            Message::LogEntryCount(_) => C::LogEntryCount,
            Message::RequestLogEntries { .. } => C::RequestLogEntries,
            Message::EnableLogging { .. } => C::EnableLogging,
            Message::AuthorizationEntry(_) => C::AuthorizationEntry,
            Message::AuthorizationEntryCount { .. } => C::AuthorizationEntryCount,
            Message::RequestAuthorizationEntries { .. } => C::RequestAuthorizationEntries,
            Message::AuthorizationDataInvite(_) => C::AuthorizationDataInvite,
            Message::AuthorizationIdInvite { .. } => C::AuthorizationIdInvite,
            Message::UpdateUserAuthorization(_) => C::UpdateUserAuthorization,
            Message::RemoveUserAuthorization { .. } => C::RemoveUserAuthorization,
            Message::KeypadCode(_) => C::KeypadCode,
            Message::KeypadCodeCount { .. } => C::KeypadCodeCount,
            Message::KeypadCodeId { .. } => C::KeypadCodeId,
            Message::AddKeypadCode(_) => C::AddKeypadCode,
            Message::UpdateKeypadCode(_) => C::UpdateKeypadCode,
            Message::RemoveKeypadCode { .. } => C::RemoveKeypadCode,
            Message::RequestKeypadCodes { .. } => C::RequestKeypadCodes,
            Message::KeypadAction { .. } => C::KeypadAction,
            Message::TimeControlEntry(_) => C::TimeControlEntry,
            Message::TimeControlEntryCount { .. } => C::TimeControlEntryCount,
            Message::TimeControlEntryId { .. } => C::TimeControlEntryId,
            Message::AddTimeControlEntry { .. } => C::AddTimeControlEntry,
            Message::UpdateTimeControlEntry(_) => C::UpdateTimeControlEntry,
            Message::RemoveTimeControlEntry { .. } => C::RemoveTimeControlEntry,
            Message::RequestTimeControlEntries => C::RequestTimeControlEntries,
            Message::SetSecurityPin { .. } => C::SetSecurityPin,
            Message::VerifySecurityPin => C::VerifySecurityPin,
            Message::RequestCalibration => C::RequestCalibration,
            Message::RequestReboot => C::RequestReboot,
            Message::UpdateTime(_) => C::UpdateTime,
            Message::MostRecentCommand { .. } => C::MostRecentCommand,
            Message::OpeningsClosingsSummary(_) => C::OpeningsClosingsSummary,
            Message::FirmwareStatus { .. } => C::FirmwareStatus,
            Message::ContinuousModeAction { .. } => C::ContinuousModeAction,
            Message::StartBusSignalRecording => C::StartBusSignalRecording,
        }
    }

    /// The snake_case name of the variant (differs from the command name for the Ultra
    /// pairing layouts).
    pub fn layout_name(&self) -> &'static str {
        match self {
            Message::AuthorizationDataUltra(_) => "authorization_data_ultra",
            Message::AuthorizationIdUltra(_) => "authorization_id_ultra",
            other => other.command().name(),
        }
    }
}
