//! Time control payloads (§4.2.34).

use serde::Serialize;

use super::super::codec::{DecodeError, Reader, TimeOfDay, Writer};
use super::super::enums::DeviceAction;
use super::super::uuids::ServiceFamily;
use super::common::Weekdays;

/// Time Control Entry 0x003E, also the body of Update Time Control Entry 0x003F (6 bytes).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TimeControlEntry {
    pub entry_id: u8,
    pub enabled: bool,
    pub weekdays: Weekdays,
    pub time: TimeOfDay,
    pub action: DeviceAction,
}

impl TimeControlEntry {
    pub const LEN: usize = 6;

    pub(crate) fn read(
        reader: &mut Reader<'_>,
        family: ServiceFamily,
    ) -> Result<Self, DecodeError> {
        Ok(Self {
            entry_id: reader.u8("entry id")?,
            enabled: reader.bool("enabled")?,
            weekdays: Weekdays(reader.u8("weekdays")?),
            time: reader.time_of_day("time")?,
            action: DeviceAction::from_u8(reader.u8("lock action")?, family),
        })
    }

    pub(crate) fn write(&self, writer: &mut Writer) {
        writer
            .u8(self.entry_id)
            .bool(self.enabled)
            .u8(self.weekdays.0)
            .time_of_day(&self.time)
            .u8(self.action.to_u8());
    }
}
