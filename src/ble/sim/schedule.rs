//! Time control entries (§4.2.34): lock actions the device runs at a time of day.

use std::collections::BTreeMap;

use crate::nuki::codec::TimeOfDay;
use crate::nuki::enums::DeviceAction;
use crate::nuki::messages::{TimeControlEntry, Weekdays};

use super::clock;

const DAY: i64 = 86_400;

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

    /// The earliest local time (Unix seconds in the device's time zone) strictly after
    /// `after_local` at which an enabled entry fires.
    pub fn next_fire(&self, after_local: i64) -> Option<i64> {
        self.entries
            .values()
            .filter(|entry| entry.enabled)
            .filter_map(|entry| next_fire(entry, after_local))
            .min()
    }

    /// Actions of the enabled entries firing in `(after_local, until_local]`, in time order.
    pub fn due(&self, after_local: i64, until_local: i64) -> Vec<DeviceAction> {
        let mut due: Vec<(i64, DeviceAction)> = self
            .entries
            .values()
            .filter(|entry| entry.enabled)
            .filter_map(|entry| {
                next_fire(entry, after_local)
                    .filter(|at| *at <= until_local)
                    .map(|at| (at, entry.action))
            })
            .collect();
        due.sort_by_key(|(at, _)| *at);
        due.into_iter().map(|(_, action)| action).collect()
    }
}

/// When `entry` fires next after `after_local`: its time of day on an allowed weekday.
fn next_fire(entry: &TimeControlEntry, after_local: i64) -> Option<i64> {
    let day_start = after_local - after_local.rem_euclid(DAY);
    let offset = i64::from(entry.time.hour) * 3600 + i64::from(entry.time.minute) * 60;
    let weekdays = entry.weekdays.0 & 0x7F;
    (0..=7)
        .map(|day| day_start + day * DAY + offset)
        .find(|at| *at > after_local && (weekdays == 0 || weekdays & clock::weekday_bit(*at) != 0))
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

    #[test]
    fn entries_fire_at_their_time_on_allowed_days() {
        let mut schedule = Schedule::new(5);
        let lock = DeviceAction::Lock(LockAction::Lock);
        // 2024-05-01 (a Wednesday) 12:34:56, as local time.
        let now: i64 = 1_714_566_896;
        let midnight = now - now.rem_euclid(DAY);
        schedule
            .add(
                Weekdays(0),
                TimeOfDay {
                    hour: 22,
                    minute: 0,
                },
                lock,
            )
            .unwrap();
        assert_eq!(schedule.next_fire(now), Some(midnight + 22 * 3600));
        // Mondays only: next Monday is 2024-05-06.
        let mut schedule = Schedule::new(5);
        schedule
            .add(
                Weekdays(0b0100_0000),
                TimeOfDay {
                    hour: 6,
                    minute: 30,
                },
                lock,
            )
            .unwrap();
        let monday = midnight + 5 * DAY + 6 * 3600 + 1800;
        assert_eq!(schedule.next_fire(now), Some(monday));
        assert!(schedule.due(now, monday - 1).is_empty());
        assert_eq!(schedule.due(now, monday), [lock]);
        assert!(schedule.due(monday, monday + 60).is_empty(), "fires once");
    }
}
