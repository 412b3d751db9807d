//! The device's table of authorizations (paired apps, bridges, fobs, keypads).

use std::collections::BTreeMap;

use crate::nuki::codec::TimeOfDay;
use crate::nuki::crypto::SharedKey;
use crate::nuki::messages::AllowedWindow;

use super::clock;

/// Authorization (ID) type of a Bridge; only one may exist.
pub(crate) const ID_TYPE_BRIDGE: u8 = 1;

/// When a time-limited authorization (or keypad code) may act.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct TimeWindow {
    pub time_limited: bool,
    pub allowed: AllowedWindow,
}

impl TimeWindow {
    /// Dates are compared in UTC, weekdays and times of day in the device's local time.
    pub fn allows(&self, utc_unix: i64, timezone_offset_minutes: i16) -> bool {
        if !self.time_limited {
            return true;
        }
        let allowed = &self.allowed;
        if let Some(from) = clock::unix_of(&allowed.from_date) {
            if utc_unix < from {
                return false;
            }
        }
        if let Some(until) = clock::unix_of(&allowed.until_date) {
            if utc_unix > until {
                return false;
            }
        }
        let local = utc_unix + i64::from(timezone_offset_minutes) * 60;
        let weekdays = allowed.weekdays.0 & 0x7F;
        if weekdays != 0 && weekdays & clock::weekday_bit(local) == 0 {
            return false;
        }
        let minute_of = |t: TimeOfDay| u16::from(t.hour) * 60 + u16::from(t.minute);
        let (from, until) = (minute_of(allowed.from_time), minute_of(allowed.until_time));
        let now = minute_of(clock::time_of_day(local));
        match from.cmp(&until) {
            std::cmp::Ordering::Equal => true,
            std::cmp::Ordering::Less => (from..until).contains(&now),
            std::cmp::Ordering::Greater => now >= from || now < until,
        }
    }
}

pub(crate) struct Authorization {
    pub id: u32,
    pub id_type: u8,
    /// The App/Bridge/Fob id given at pairing; invitations have none.
    pub app_id: Option<u32>,
    pub name: String,
    key: SharedKey,
    pub enabled: bool,
    pub remote_allowed: bool,
    pub created_unix: i64,
    pub last_active_unix: i64,
    pub lock_count: u16,
    pub window: TimeWindow,
    pending_challenge: Option<[u8; 32]>,
}

impl Authorization {
    pub fn key(&self) -> &SharedKey {
        &self.key
    }

    /// An authorization read back from the device's memory.
    #[allow(clippy::too_many_arguments)]
    pub fn restored(
        id: u32,
        id_type: u8,
        app_id: Option<u32>,
        name: String,
        key: SharedKey,
        enabled: bool,
        remote_allowed: bool,
        (created_unix, last_active_unix): (i64, i64),
        lock_count: u16,
        window: TimeWindow,
    ) -> Self {
        Self {
            id,
            id_type,
            app_id,
            name,
            key,
            enabled,
            remote_allowed,
            created_unix,
            last_active_unix,
            lock_count,
            window,
            pending_challenge: None,
        }
    }
}

impl std::fmt::Debug for Authorization {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Authorization")
            .field("id", &self.id)
            .field("id_type", &self.id_type)
            .field("name", &self.name)
            .field("enabled", &self.enabled)
            .finish_non_exhaustive()
    }
}

pub(crate) struct NewAuthorization {
    pub id_type: u8,
    pub app_id: Option<u32>,
    pub name: String,
    pub key: SharedKey,
    pub remote_allowed: bool,
    pub window: TimeWindow,
    pub created_unix: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("no free authorization slot")]
pub(crate) struct TableFull;

#[derive(Debug)]
pub(crate) struct AuthorizationTable {
    entries: BTreeMap<u32, Authorization>,
    next_id: u32,
    max: usize,
}

impl AuthorizationTable {
    pub fn new(max: usize, first_id: u32) -> Self {
        Self {
            entries: BTreeMap::new(),
            next_id: first_id.max(1),
            max,
        }
    }

    pub fn next_id(&self) -> u32 {
        self.next_id
    }

    /// Replaces the table with authorizations from memory (beyond the maximum are dropped).
    pub fn restore(&mut self, entries: Vec<Authorization>, next_id: u32) {
        self.entries = entries
            .into_iter()
            .take(self.max)
            .map(|entry| (entry.id, entry))
            .collect();
        let after_last = self
            .entries
            .keys()
            .max()
            .map_or(1, |id| id.saturating_add(1));
        self.next_id = next_id.max(after_last);
    }

    pub fn set_next_id(&mut self, id: u32) {
        self.next_id = id;
    }

    /// Stores a new authorization. Another one with the same App id, or any Bridge when a
    /// Bridge is added, is replaced (the device keeps only one Bridge).
    pub fn insert(&mut self, new: NewAuthorization) -> Result<u32, TableFull> {
        let replaced: Vec<u32> = self
            .entries
            .values()
            .filter(|existing| {
                (new.app_id.is_some() && existing.app_id == new.app_id)
                    || (new.id_type == ID_TYPE_BRIDGE && existing.id_type == ID_TYPE_BRIDGE)
            })
            .map(|existing| existing.id)
            .collect();
        if self.entries.len() - replaced.len() >= self.max {
            return Err(TableFull);
        }
        for id in replaced {
            self.entries.remove(&id);
        }
        let id = self.allocate_id();
        self.entries.insert(
            id,
            Authorization {
                id,
                id_type: new.id_type,
                app_id: new.app_id,
                name: new.name,
                key: new.key,
                enabled: true,
                remote_allowed: new.remote_allowed,
                created_unix: new.created_unix,
                last_active_unix: new.created_unix,
                lock_count: 0,
                window: new.window,
                pending_challenge: None,
            },
        );
        Ok(id)
    }

    fn allocate_id(&mut self) -> u32 {
        while self.entries.contains_key(&self.next_id) || self.next_id == 0 {
            self.next_id = self.next_id.wrapping_add(1);
        }
        let id = self.next_id;
        self.next_id = self.next_id.wrapping_add(1);
        id
    }

    pub fn get(&self, id: u32) -> Option<&Authorization> {
        self.entries.get(&id)
    }

    pub fn get_mut(&mut self, id: u32) -> Option<&mut Authorization> {
        self.entries.get_mut(&id)
    }

    pub fn remove(&mut self, id: u32) -> bool {
        self.entries.remove(&id).is_some()
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn iter(&self) -> impl Iterator<Item = &Authorization> {
        self.entries.values()
    }

    pub fn has_bridge(&self) -> bool {
        self.entries.values().any(|a| a.id_type == ID_TYPE_BRIDGE)
    }

    /// The requester first, then the others by id (the order of Authorization Entries).
    pub fn listing_order(&self, requester: u32) -> Vec<u32> {
        let mut ids: Vec<u32> = Vec::with_capacity(self.entries.len());
        if self.entries.contains_key(&requester) {
            ids.push(requester);
        }
        ids.extend(self.entries.keys().copied().filter(|&id| id != requester));
        ids
    }

    /// Remembers `nonce` as the only challenge this authorization may use next.
    pub fn issue_challenge(&mut self, id: u32, nonce: [u8; 32]) {
        if let Some(entry) = self.entries.get_mut(&id) {
            entry.pending_challenge = Some(nonce);
        }
    }

    /// Consumes the pending challenge: each one is good for a single command.
    pub fn take_challenge(&mut self, id: u32) -> Option<[u8; 32]> {
        self.entries
            .get_mut(&id)
            .and_then(|entry| entry.pending_challenge.take())
    }

    pub fn forget_challenges(&mut self) {
        for entry in self.entries.values_mut() {
            entry.pending_challenge = None;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nuki::codec::DateTime;
    use crate::nuki::messages::Weekdays;

    fn new(id_type: u8, app_id: Option<u32>, name: &str) -> NewAuthorization {
        NewAuthorization {
            id_type,
            app_id,
            name: name.into(),
            key: SharedKey::from_bytes([1; 32]),
            remote_allowed: true,
            window: TimeWindow::default(),
            created_unix: 0,
        }
    }

    #[test]
    fn same_app_id_replaces_and_one_bridge_only() {
        let mut table = AuthorizationTable::new(3, 1);
        let first = table.insert(new(0, Some(7), "phone")).unwrap();
        let again = table.insert(new(0, Some(7), "phone again")).unwrap();
        assert_ne!(first, again);
        assert_eq!(table.len(), 1);
        assert!(table.get(first).is_none());
        let bridge = table.insert(new(1, Some(100), "bridge A")).unwrap();
        let bridge2 = table.insert(new(1, Some(200), "bridge B")).unwrap();
        assert!(table.get(bridge).is_none());
        assert_eq!(table.get(bridge2).unwrap().name, "bridge B");
        assert_eq!(table.len(), 2);
    }

    #[test]
    fn full_table_refuses_but_replacement_still_works() {
        let mut table = AuthorizationTable::new(2, 1);
        table.insert(new(0, Some(1), "a")).unwrap();
        table.insert(new(0, Some(2), "b")).unwrap();
        assert_eq!(table.insert(new(0, Some(3), "c")), Err(TableFull));
        assert!(table.insert(new(0, Some(2), "b2")).is_ok());
    }

    #[test]
    fn challenges_are_single_use() {
        let mut table = AuthorizationTable::new(2, 1);
        let id = table.insert(new(0, Some(1), "a")).unwrap();
        table.issue_challenge(id, [9; 32]);
        table.issue_challenge(id, [8; 32]);
        assert_eq!(table.take_challenge(id), Some([8; 32]));
        assert_eq!(table.take_challenge(id), None);
    }

    #[test]
    fn listing_puts_requester_first() {
        let mut table = AuthorizationTable::new(5, 1);
        let a = table.insert(new(0, Some(1), "a")).unwrap();
        let b = table.insert(new(0, Some(2), "b")).unwrap();
        let c = table.insert(new(0, Some(3), "c")).unwrap();
        assert_eq!(table.listing_order(b), [b, a, c]);
    }

    #[test]
    fn time_window_checks_dates_weekdays_and_hours() {
        // 2024-05-01 12:34:56 UTC, a Wednesday.
        let now = 1_714_566_896;
        let mut window = TimeWindow {
            time_limited: true,
            allowed: AllowedWindow {
                weekdays: Weekdays(0b0001_0000),
                from_time: TimeOfDay { hour: 8, minute: 0 },
                until_time: TimeOfDay {
                    hour: 17,
                    minute: 0,
                },
                ..AllowedWindow::default()
            },
        };
        assert!(window.allows(now, 0));
        assert!(!window.allows(now, 300), "17:34 local is after the window");
        window.allowed.weekdays = Weekdays(0b0100_0000);
        assert!(!window.allows(now, 0), "Monday only");
        window.allowed.weekdays = Weekdays(0);
        window.allowed.until_date = DateTime::from_unix(now - 1);
        assert!(!window.allows(now, 0));
        window.time_limited = false;
        assert!(window.allows(now, 0));
    }
}
