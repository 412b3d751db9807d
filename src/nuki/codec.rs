//! Little-endian field readers and writers shared by every payload codec.

use serde::Serialize;

/// Why a payload could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    #[error("payload too short: {field} needs {needed} more byte(s) at offset {offset}")]
    TooShort {
        field: &'static str,
        offset: usize,
        needed: usize,
    },
    #[error("payload has {extra} unexpected trailing byte(s)")]
    TrailingBytes { extra: usize },
    #[error("invalid value {value:#x} for {field}")]
    InvalidValue { field: &'static str, value: u32 },
    #[error("payload length {len} does not fit command {command}")]
    BadLength { command: &'static str, len: usize },
    #[error("command {0:#06x} is not known")]
    UnknownCommand(u16),
    #[error("command {command} is not expected in this direction")]
    WrongDirection { command: &'static str },
}

/// Sequential reader over a payload.
pub struct Reader<'a> {
    bytes: &'a [u8],
    offset: usize,
}

impl<'a> Reader<'a> {
    pub fn new(bytes: &'a [u8]) -> Self {
        Self { bytes, offset: 0 }
    }

    pub fn remaining(&self) -> usize {
        self.bytes.len() - self.offset
    }

    pub fn offset(&self) -> usize {
        self.offset
    }

    pub fn take(&mut self, field: &'static str, len: usize) -> Result<&'a [u8], DecodeError> {
        if self.remaining() < len {
            return Err(DecodeError::TooShort {
                field,
                offset: self.offset,
                needed: len - self.remaining(),
            });
        }
        let slice = &self.bytes[self.offset..self.offset + len];
        self.offset += len;
        Ok(slice)
    }

    pub fn array<const N: usize>(&mut self, field: &'static str) -> Result<[u8; N], DecodeError> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.take(field, N)?);
        Ok(out)
    }

    pub fn u8(&mut self, field: &'static str) -> Result<u8, DecodeError> {
        Ok(self.take(field, 1)?[0])
    }

    pub fn i8(&mut self, field: &'static str) -> Result<i8, DecodeError> {
        Ok(self.u8(field)? as i8)
    }

    pub fn bool(&mut self, field: &'static str) -> Result<bool, DecodeError> {
        Ok(self.u8(field)? != 0)
    }

    pub fn u16(&mut self, field: &'static str) -> Result<u16, DecodeError> {
        Ok(u16::from_le_bytes(self.array(field)?))
    }

    pub fn i16(&mut self, field: &'static str) -> Result<i16, DecodeError> {
        Ok(i16::from_le_bytes(self.array(field)?))
    }

    pub fn u32(&mut self, field: &'static str) -> Result<u32, DecodeError> {
        Ok(u32::from_le_bytes(self.array(field)?))
    }

    pub fn f32(&mut self, field: &'static str) -> Result<f32, DecodeError> {
        Ok(f32::from_le_bytes(self.array(field)?))
    }

    /// A fixed-width, zero-padded UTF-8 name.
    pub fn name(&mut self, field: &'static str, width: usize) -> Result<String, DecodeError> {
        let raw = self.take(field, width)?;
        let end = raw.iter().position(|&b| b == 0).unwrap_or(raw.len());
        Ok(String::from_utf8_lossy(&raw[..end]).into_owned())
    }

    pub fn date_time(&mut self, field: &'static str) -> Result<DateTime, DecodeError> {
        Ok(DateTime {
            year: self.u16(field)?,
            month: self.u8(field)?,
            day: self.u8(field)?,
            hour: self.u8(field)?,
            minute: self.u8(field)?,
            second: self.u8(field)?,
        })
    }

    pub fn time_of_day(&mut self, field: &'static str) -> Result<TimeOfDay, DecodeError> {
        Ok(TimeOfDay {
            hour: self.u8(field)?,
            minute: self.u8(field)?,
        })
    }

    /// The unread rest of the payload.
    pub fn rest(&mut self) -> &'a [u8] {
        let slice = &self.bytes[self.offset..];
        self.offset = self.bytes.len();
        slice
    }

    /// Fails when bytes remain; used by requests, whose length is exact.
    pub fn finish(&self) -> Result<(), DecodeError> {
        match self.remaining() {
            0 => Ok(()),
            extra => Err(DecodeError::TrailingBytes { extra }),
        }
    }
}

/// Sequential little-endian writer.
#[derive(Default)]
pub struct Writer {
    bytes: Vec<u8>,
}

impl Writer {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn with_capacity(capacity: usize) -> Self {
        Self {
            bytes: Vec::with_capacity(capacity),
        }
    }

    pub fn bytes(&mut self, bytes: &[u8]) -> &mut Self {
        self.bytes.extend_from_slice(bytes);
        self
    }

    pub fn u8(&mut self, value: u8) -> &mut Self {
        self.bytes.push(value);
        self
    }

    pub fn i8(&mut self, value: i8) -> &mut Self {
        self.u8(value as u8)
    }

    pub fn bool(&mut self, value: bool) -> &mut Self {
        self.u8(u8::from(value))
    }

    pub fn u16(&mut self, value: u16) -> &mut Self {
        self.bytes(&value.to_le_bytes())
    }

    pub fn i16(&mut self, value: i16) -> &mut Self {
        self.bytes(&value.to_le_bytes())
    }

    pub fn u32(&mut self, value: u32) -> &mut Self {
        self.bytes(&value.to_le_bytes())
    }

    pub fn f32(&mut self, value: f32) -> &mut Self {
        self.bytes(&value.to_le_bytes())
    }

    /// Writes `text` zero-padded to `width` bytes, cutting it at a character boundary.
    pub fn name(&mut self, text: &str, width: usize) -> &mut Self {
        let mut end = text.len().min(width);
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        self.bytes(&text.as_bytes()[..end]);
        self.bytes.resize(self.bytes.len() + width - end, 0);
        self
    }

    pub fn date_time(&mut self, value: &DateTime) -> &mut Self {
        self.u16(value.year)
            .u8(value.month)
            .u8(value.day)
            .u8(value.hour)
            .u8(value.minute)
            .u8(value.second)
    }

    pub fn time_of_day(&mut self, value: &TimeOfDay) -> &mut Self {
        self.u8(value.hour).u8(value.minute)
    }

    pub fn into_vec(self) -> Vec<u8> {
        self.bytes
    }
}

/// The protocol's 7-byte UTC date-time. Kept raw so that every byte round-trips, even when a
/// device sends an impossible date (all zeros for "never").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash)]
pub struct DateTime {
    pub year: u16,
    pub month: u8,
    pub day: u8,
    pub hour: u8,
    pub minute: u8,
    pub second: u8,
}

impl DateTime {
    pub fn from_offset(value: time::OffsetDateTime) -> Self {
        let utc = value.to_offset(time::UtcOffset::UTC);
        Self {
            year: u16::try_from(utc.year()).unwrap_or(0),
            month: u8::from(utc.month()),
            day: utc.day(),
            hour: utc.hour(),
            minute: utc.minute(),
            second: utc.second(),
        }
    }

    pub fn from_unix(seconds: i64) -> Self {
        time::OffsetDateTime::from_unix_timestamp(seconds)
            .map(Self::from_offset)
            .unwrap_or_default()
    }

    /// The value as a real UTC time, or `None` for "never" or an impossible date.
    pub fn to_offset(&self) -> Option<time::OffsetDateTime> {
        let month = time::Month::try_from(self.month).ok()?;
        let date = time::Date::from_calendar_date(i32::from(self.year), month, self.day).ok()?;
        let clock = time::Time::from_hms(self.hour, self.minute, self.second).ok()?;
        Some(time::PrimitiveDateTime::new(date, clock).assume_utc())
    }

    pub fn is_zero(&self) -> bool {
        *self == Self::default()
    }

    /// ISO 8601 UTC text (`2024-05-01T12:34:56Z`), or `None` when the value is not a real time.
    pub fn to_iso8601(&self) -> Option<String> {
        let value = self.to_offset()?;
        value
            .format(&time::format_description::well_known::Rfc3339)
            .ok()
    }
}

impl Serialize for DateTime {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self.to_iso8601() {
            Some(text) => serializer.serialize_str(&text),
            None => serializer.serialize_none(),
        }
    }
}

/// Hour and minute, as the protocol sends them for daily windows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash)]
pub struct TimeOfDay {
    pub hour: u8,
    pub minute: u8,
}

impl Serialize for TimeOfDay {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&format!("{:02}:{:02}", self.hour, self.minute))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn date_time_round_trip_and_iso() {
        let bytes = [0xE8, 0x07, 0x05, 0x01, 0x0C, 0x22, 0x38];
        let value = Reader::new(&bytes).date_time("t").unwrap();
        assert_eq!(value.to_iso8601().as_deref(), Some("2024-05-01T12:34:56Z"));
        let mut writer = Writer::new();
        writer.date_time(&value);
        assert_eq!(writer.into_vec(), bytes);
        assert_eq!(DateTime::default().to_iso8601(), None);
    }

    #[test]
    fn names_pad_and_trim() {
        let mut writer = Writer::new();
        writer.name("Gateway", 32);
        let bytes = writer.into_vec();
        assert_eq!(bytes.len(), 32);
        assert_eq!(Reader::new(&bytes).name("n", 32).unwrap(), "Gateway");
        let mut writer = Writer::new();
        writer.name("ääääääääääää", 5);
        assert_eq!(writer.into_vec().len(), 5);
    }

    #[test]
    fn short_reads_are_typed() {
        let mut reader = Reader::new(&[1]);
        assert!(matches!(
            reader.u16("x"),
            Err(DecodeError::TooShort { field: "x", .. })
        ));
    }
}
