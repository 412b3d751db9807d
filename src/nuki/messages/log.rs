//! Log payloads (§4.2.28–4.2.30).

use serde::Serialize;

use super::super::codec::{DateTime, DecodeError, Reader, Writer};
use super::super::enums::{
    CompletionStatus, DeviceAction, DoorSensorEvent, KeypadSource, LogEntryType, Trigger,
};
use super::super::uuids::ServiceFamily;
use super::common::FirmwareVersion;
use super::pairing::NAME_LEN;

/// Log Entry 0x0032.
#[derive(Clone, PartialEq, Eq, Serialize)]
pub struct LogEntry {
    pub index: u32,
    pub timestamp: DateTime,
    pub auth_id: u32,
    pub auth_name: String,
    pub entry_type: LogEntryType,
    pub data: LogData,
}

/// Without the authorization's name: it is often a resident's, and `Debug` output ends up in
/// logs (the activity log keeps entries only anonymized).
impl std::fmt::Debug for LogEntry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LogEntry")
            .field("index", &self.index)
            .field("timestamp", &self.timestamp)
            .field("auth_id", &self.auth_id)
            .field("auth_name", &super::REDACTED)
            .field("entry_type", &self.entry_type)
            .field("data", &self.data)
            .finish()
    }
}

/// The type-specific part of a log entry. Devices pad it; padding is ignored. Data too short
/// for its type, or of an unknown type, is kept as raw bytes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum LogData {
    /// Types 0x01 (logging) and 0x07 (door sensor logging).
    Enabled { enabled: bool },
    /// Types 0x02 lock action, 0x03 calibration, 0x04 initialization run.
    LockAction {
        action: DeviceAction,
        trigger: Trigger,
        flags: u8,
        completion_status: CompletionStatus,
    },
    /// Type 0x05.
    KeypadAction {
        action: DeviceAction,
        source: KeypadSource,
        completion_status: CompletionStatus,
        code_id: u16,
    },
    /// Type 0x06 on a Smart Lock.
    DoorSensor { event: DoorSensorEvent },
    /// Type 0x06 on an Opener.
    DoorbellRecognition {
        /// Bits 0–1: 0 none, 1 ring to open, 2 continuous mode.
        mode: u8,
        /// 0 doorbell, 1 time control, 2 app, 3 button, 4 fob, 5 bridge, 6 keypad.
        source: u8,
        geofence: bool,
        doorbell_suppression: bool,
        sound_id: u8,
        completion_status: CompletionStatus,
        code_id: u16,
    },
    /// Type 0x0A.
    FirmwareUpdate { version: FirmwareVersion },
    Raw {
        #[serde(serialize_with = "super::fields::hex_bytes")]
        bytes: Vec<u8>,
    },
}

impl LogEntry {
    /// Length without type-specific data.
    pub const HEADER_LEN: usize = 48;

    pub(crate) fn read(
        reader: &mut Reader<'_>,
        family: ServiceFamily,
    ) -> Result<Self, DecodeError> {
        let index = reader.u32("index")?;
        let timestamp = reader.date_time("timestamp")?;
        let auth_id = reader.u32("authorization id")?;
        let auth_name = reader.name("authorization name", NAME_LEN)?;
        let entry_type = LogEntryType::from_u8(reader.u8("log entry type")?);
        let rest = reader.rest();
        let data = read_data(entry_type, rest, family).unwrap_or_else(|_| LogData::Raw {
            bytes: rest.to_vec(),
        });
        Ok(Self {
            index,
            timestamp,
            auth_id,
            auth_name,
            entry_type,
            data,
        })
    }

    pub(crate) fn write(&self, writer: &mut Writer) {
        writer
            .u32(self.index)
            .date_time(&self.timestamp)
            .u32(self.auth_id)
            .name(&self.auth_name, NAME_LEN)
            .u8(self.entry_type.to_u8());
        match &self.data {
            LogData::Enabled { enabled } => {
                writer.bool(*enabled);
            }
            LogData::LockAction {
                action,
                trigger,
                flags,
                completion_status,
            } => {
                writer
                    .u8(action.to_u8())
                    .u8(trigger.to_u8())
                    .u8(*flags)
                    .u8(completion_status.to_u8());
            }
            LogData::KeypadAction {
                action,
                source,
                completion_status,
                code_id,
            } => {
                writer
                    .u8(action.to_u8())
                    .u8(source.to_u8())
                    .u8(completion_status.to_u8())
                    .u16(*code_id);
            }
            LogData::DoorSensor { event } => {
                writer.u8(event.to_u8());
            }
            LogData::DoorbellRecognition {
                mode,
                source,
                geofence,
                doorbell_suppression,
                sound_id,
                completion_status,
                code_id,
            } => {
                writer
                    .u8(*mode)
                    .u8(*source)
                    .bool(*geofence)
                    .bool(*doorbell_suppression)
                    .u8(*sound_id)
                    .u8(completion_status.to_u8())
                    .u16(*code_id);
            }
            LogData::FirmwareUpdate { version } => version.write(writer),
            LogData::Raw { bytes } => {
                writer.bytes(bytes);
            }
        }
    }
}

fn read_data(
    entry_type: LogEntryType,
    bytes: &[u8],
    family: ServiceFamily,
) -> Result<LogData, DecodeError> {
    let mut reader = Reader::new(bytes);
    let reader = &mut reader;
    Ok(match entry_type {
        LogEntryType::LoggingEnabled | LogEntryType::DoorSensorLogging => LogData::Enabled {
            enabled: reader.bool("enabled")?,
        },
        LogEntryType::LockAction | LogEntryType::Calibration | LogEntryType::InitializationRun => {
            LogData::LockAction {
                action: DeviceAction::from_u8(reader.u8("lock action")?, family),
                trigger: Trigger::from_u8(reader.u8("trigger")?),
                flags: reader.u8("flags")?,
                completion_status: CompletionStatus::from_u8(reader.u8("completion status")?),
            }
        }
        LogEntryType::KeypadAction => LogData::KeypadAction {
            action: DeviceAction::from_u8(reader.u8("lock action")?, family),
            source: KeypadSource::from_u8(reader.u8("source")?),
            completion_status: CompletionStatus::from_u8(reader.u8("completion status")?),
            code_id: reader.u16("code id")?,
        },
        LogEntryType::DoorSensor if family.is_opener() => LogData::DoorbellRecognition {
            mode: reader.u8("mode")?,
            source: reader.u8("source")?,
            geofence: reader.bool("geofence")?,
            doorbell_suppression: reader.bool("doorbell suppression")?,
            sound_id: reader.u8("sound id")?,
            completion_status: CompletionStatus::from_u8(reader.u8("completion status")?),
            code_id: reader.u16("code id")?,
        },
        LogEntryType::DoorSensor => LogData::DoorSensor {
            event: DoorSensorEvent::from_u8(reader.u8("door sensor event")?),
        },
        LogEntryType::FirmwareUpdate => LogData::FirmwareUpdate {
            version: FirmwareVersion::read(reader)?,
        },
        LogEntryType::Unknown(_) => LogData::Raw {
            bytes: bytes.to_vec(),
        },
    })
}

/// Log Entry Count 0x0033: 5 bytes; some firmware sends 4, without the last field (door
/// sensor logging, the newest log setting), which is then `None`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LogEntryCount {
    pub logging_enabled: bool,
    pub count: u16,
    pub door_sensor_enabled: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub door_sensor_logging_enabled: Option<bool>,
}

impl LogEntryCount {
    pub const MIN_LEN: usize = 4;
    pub const LEN: usize = 5;

    pub(crate) fn read(reader: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(Self {
            logging_enabled: reader.bool("logging enabled")?,
            count: reader.u16("count")?,
            door_sensor_enabled: reader.bool("door sensor enabled")?,
            door_sensor_logging_enabled: match reader.remaining() {
                0 => None,
                _ => Some(reader.bool("door sensor logging enabled")?),
            },
        })
    }

    pub(crate) fn write(&self, writer: &mut Writer) {
        writer
            .bool(self.logging_enabled)
            .u16(self.count)
            .bool(self.door_sensor_enabled);
        if let Some(enabled) = self.door_sensor_logging_enabled {
            writer.bool(enabled);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip(bytes: &[u8]) -> LogEntryCount {
        let count = LogEntryCount::read(&mut Reader::new(bytes)).unwrap();
        let mut writer = Writer::new();
        count.write(&mut writer);
        assert_eq!(writer.into_vec(), bytes);
        count
    }

    #[test]
    fn log_entry_count_in_both_lengths() {
        let short = round_trip(&[0x01, 0x2A, 0x00, 0x01]);
        assert_eq!(short.count, 42);
        assert!(short.door_sensor_enabled);
        assert_eq!(short.door_sensor_logging_enabled, None);
        let full = round_trip(&[0x01, 0x2A, 0x00, 0x01, 0x00]);
        assert_eq!(full.door_sensor_logging_enabled, Some(false));
        assert!(LogEntryCount::read(&mut Reader::new(&[0x01, 0x2A, 0x00])).is_err());
    }

    #[test]
    fn debug_output_leaves_the_authorization_name_out() {
        let entry = LogEntry {
            index: 7,
            timestamp: DateTime::default(),
            auth_id: 3,
            auth_name: "Ottilie Privatova".into(),
            entry_type: LogEntryType::LockAction,
            data: LogData::Enabled { enabled: true },
        };
        let shown = format!("{entry:?}");
        assert!(!shown.contains("Ottilie"), "{shown}");
        assert!(shown.contains("auth_id: 3"), "{shown}");
    }
}
