//! Small value types shared by several payloads.

use serde::ser::SerializeSeq;
use serde::Serialize;

use super::super::codec::{DateTime, DecodeError, Reader, TimeOfDay, Writer};
use super::REDACTED;

/// Allowed weekdays: bit 6 Monday … bit 0 Sunday; 0 means every day.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Weekdays(pub u8);

const DAY_BITS: [(u8, &str); 7] = [
    (0x40, "monday"),
    (0x20, "tuesday"),
    (0x10, "wednesday"),
    (0x08, "thursday"),
    (0x04, "friday"),
    (0x02, "saturday"),
    (0x01, "sunday"),
];

impl Weekdays {
    pub const EVERY_DAY: Weekdays = Weekdays(0);

    /// Whether `day` (0 = Monday … 6 = Sunday) is allowed.
    pub fn allows(self, day_from_monday: u8) -> bool {
        match DAY_BITS.get(usize::from(day_from_monday)) {
            Some((bit, _)) => self.0 & 0x7F == 0 || self.0 & bit != 0,
            None => false,
        }
    }
}

impl Serialize for Weekdays {
    /// `"every_day"`, or the list of day names.
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        if self.0 & 0x7F == 0 {
            return serializer.serialize_str("every_day");
        }
        let days: Vec<&str> = DAY_BITS
            .iter()
            .filter(|(bit, _)| self.0 & bit != 0)
            .map(|(_, name)| *name)
            .collect();
        let mut seq = serializer.serialize_seq(Some(days.len()))?;
        for day in days {
            seq.serialize_element(day)?;
        }
        seq.end()
    }
}

/// The time restriction of an authorization or keypad code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct AllowedWindow {
    pub from_date: DateTime,
    pub until_date: DateTime,
    pub weekdays: Weekdays,
    pub from_time: TimeOfDay,
    pub until_time: TimeOfDay,
}

impl AllowedWindow {
    /// Wire length.
    pub const LEN: usize = 19;

    pub(crate) fn read(reader: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(Self {
            from_date: reader.date_time("allowed from date")?,
            until_date: reader.date_time("allowed until date")?,
            weekdays: Weekdays(reader.u8("allowed weekdays")?),
            from_time: reader.time_of_day("allowed from time")?,
            until_time: reader.time_of_day("allowed until time")?,
        })
    }

    pub(crate) fn write(&self, writer: &mut Writer) {
        writer
            .date_time(&self.from_date)
            .date_time(&self.until_date)
            .u8(self.weekdays.0)
            .time_of_day(&self.from_time)
            .time_of_day(&self.until_time);
    }
}

/// Firmware version: major, minor, patch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct FirmwareVersion {
    pub major: u8,
    pub minor: u8,
    pub patch: u8,
}

impl FirmwareVersion {
    pub(crate) fn read(reader: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(Self {
            major: reader.u8("firmware version")?,
            minor: reader.u8("firmware version")?,
            patch: reader.u8("firmware version")?,
        })
    }

    pub(crate) fn write(&self, writer: &mut Writer) {
        writer.u8(self.major).u8(self.minor).u8(self.patch);
    }
}

impl std::fmt::Display for FirmwareVersion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}.{}", self.major, self.minor, self.patch)
    }
}

impl Serialize for FirmwareVersion {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

/// Hardware revision: major, minor.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct HardwareRevision {
    pub major: u8,
    pub minor: u8,
}

impl HardwareRevision {
    pub(crate) fn read(reader: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(Self {
            major: reader.u8("hardware revision")?,
            minor: reader.u8("hardware revision")?,
        })
    }

    pub(crate) fn write(&self, writer: &mut Writer) {
        writer.u8(self.major).u8(self.minor);
    }
}

impl std::fmt::Display for HardwareRevision {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}", self.major, self.minor)
    }
}

impl Serialize for HardwareRevision {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

/// A keypad code (6 digits). It opens the door, so it is treated as a secret: `Debug` and JSON
/// show a marker only.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct AccessCode(pub u32);

impl std::fmt::Debug for AccessCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AccessCode(<redacted>)")
    }
}

impl Serialize for AccessCode {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(REDACTED)
    }
}
