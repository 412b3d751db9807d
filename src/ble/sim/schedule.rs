//! Time control entries (§4.2.34): lock actions the device runs at a time of day.

use std::collections::BTreeMap;

use crate::nuki::codec::TimeOfDay;
use crate::nuki::enums::DeviceAction;
use crate::nuki::messages::{TimeControlEntry, Weekdays};

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub(crate) enum ScheduleError {
    #[error("no space for another time control entry")]
    Full,
    #[error("invalid time control entry")]
    Invalid,
    #[error("no time control entry with this id")]
    UnknownId,
}

#[derive(Debug)]
pub(crate) struct Schedule {
    entries: BTreeMap<u8, TimeControlEntry>,
    capacity: usize,
}

fn valid(time: &TimeOfDay, action: DeviceAction) -> bool {
    let known_action = match action {
        DeviceAction::Lock(action) => matches!(action.to_u8(), 0x01..=0x06),
        DeviceAction::Opener(action) => matches!(action.to_u8(), 0x01..=0x05),
    };
    time.hour < 24 && time.minute < 60 && known_action
}

impl Schedule {
    pub fn new(capacity: usize) -> Self {
        Self {
            entries: BTreeMap::new(),
            capacity: capacity.min(usize::from(u8::MAX)),
        }
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn add(
        &mut self,
        weekdays: Weekdays,
        time: TimeOfDay,
        action: DeviceAction,
    ) -> Result<u8, ScheduleError> {
        if !valid(&time, action) {
            return Err(ScheduleError::Invalid);
        }
        if self.entries.len() >= self.capacity {
            return Err(ScheduleError::Full);
        }
        let entry_id = (1..=u8::MAX)
            .find(|id| !self.entries.contains_key(id))
            .ok_or(ScheduleError::Full)?;
        self.entries.insert(
            entry_id,
            TimeControlEntry {
                entry_id,
                enabled: true,
                weekdays,
                time,
                action,
            },
        );
        Ok(entry_id)
    }

    pub fn update(&mut self, entry: TimeControlEntry) -> Result<(), ScheduleError> {
        if !self.entries.contains_key(&entry.entry_id) {
            return Err(ScheduleError::UnknownId);
        }
        if !valid(&entry.time, entry.action) {
            return Err(ScheduleError::Invalid);
        }
        self.entries.insert(entry.entry_id, entry);
        Ok(())
    }

    pub fn remove(&mut self, entry_id: u8) -> Result<(), ScheduleError> {
        self.entries
            .remove(&entry_id)
            .map(|_| ())
            .ok_or(ScheduleError::UnknownId)
    }

    pub fn entries(&self) -> impl Iterator<Item = &TimeControlEntry> {
        self.entries.values()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nuki::enums::LockAction;

    #[test]
    fn add_update_remove() {
        let mut schedule = Schedule::new(1);
        let lock = DeviceAction::Lock(LockAction::Lock);
        let evening = TimeOfDay {
            hour: 22,
            minute: 0,
        };
        assert_eq!(
            schedule.add(
                Weekdays(0),
                TimeOfDay {
                    hour: 25,
                    minute: 0
                },
                lock
            ),
            Err(ScheduleError::Invalid)
        );
        let id = schedule.add(Weekdays(0), evening, lock).unwrap();
        assert_eq!(
            schedule.add(Weekdays(0), evening, lock),
            Err(ScheduleError::Full)
        );
        let mut entry = schedule.entries().next().cloned().unwrap();
        entry.enabled = false;
        schedule.update(entry.clone()).unwrap();
        entry.entry_id = 9;
        assert_eq!(schedule.update(entry), Err(ScheduleError::UnknownId));
        schedule.remove(id).unwrap();
        assert_eq!(schedule.len(), 0);
    }
}
