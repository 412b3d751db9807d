//! The stored log: events under their sequence id, newest readable first for people and
//! oldest first for consumers, pruned by count and by age in the transaction that adds to
//! it, with each consumer's cursor and each device's log position beside it.

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use tokio::sync::watch;

use crate::ble::DeviceAddress;
use crate::nuki::codec::DateTime;
use crate::store::{Store, StoreError, Table, WriteTx};

use super::error::EventsError;
use super::model::{DeviceLogPosition, EventKind, StoredEvent};
use super::settings::EventSettings;
use super::translate::{LogRead, Pending};

/// The store counter sequence ids come from.
const SEQUENCE: &str = "event_seq";
/// Events decoded per read while a filtered page is searched.
const SCAN_CHUNK: usize = 256;

/// A key that sorts sequence ids by value.
fn seq_key(seq: u64) -> String {
    format!("{seq:020}")
}

/// Which events a reader wants; every field narrows.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct EventFilter {
    /// `smartlockId`.
    pub device: Option<u64>,
    /// Building (`addressId`).
    pub address_id: Option<i64>,
    pub kinds: Option<Vec<EventKind>>,
    /// Unix seconds, inclusive.
    pub from: Option<i64>,
    /// Unix seconds, inclusive.
    pub until: Option<i64>,
    /// Only events with a greater sequence id.
    pub after_id: Option<u64>,
}

impl EventFilter {
    fn admits(&self, stored: &StoredEvent) -> bool {
        let event = &stored.event;
        self.device.is_none_or(|device| {
            event
                .device
                .as_ref()
                .is_some_and(|known| known.smartlock_id == Some(device))
        }) && self
            .address_id
            .is_none_or(|address| event.address_id == Some(address))
            && self
                .kinds
                .as_ref()
                .is_none_or(|kinds| kinds.contains(&event.kind))
            && self.from.is_none_or(|from| event.time >= from)
            && self.until.is_none_or(|until| event.time <= until)
            && self.after_id.is_none_or(|after| stored.id > after)
    }
}

#[derive(Serialize, Deserialize)]
struct StoredPosition {
    index: u32,
    device_time: i64,
}

/// The activity log on the gateway's store. Share it with `Arc`.
pub struct EventLog {
    store: Arc<Store>,
    settings: EventSettings,
    latest: watch::Sender<u64>,
}

impl std::fmt::Debug for EventLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EventLog")
            .field("settings", &self.settings)
            .field("latest", &*self.latest.borrow())
            .finish()
    }
}

impl EventLog {
    /// The log kept in `store` (its tables come with the store's schema).
    pub fn open(store: Arc<Store>, settings: EventSettings) -> Result<Arc<Self>, EventsError> {
        let latest = store.read(|tx| tx.counter(SEQUENCE))?;
        let (latest, _) = watch::channel(latest);
        Ok(Arc::new(Self {
            store,
            settings,
            latest,
        }))
    }

    pub fn settings(&self) -> EventSettings {
        self.settings
    }

    /// The sequence id of the newest event stored (0 before the first).
    pub fn latest_id(&self) -> u64 {
        *self.latest.borrow()
    }

    /// Wakes when events are stored; holds the newest sequence id.
    pub fn watch(&self) -> watch::Receiver<u64> {
        self.latest.subscribe()
    }

    /// Stores translated events (skipping device log entries stored before) and device log
    /// positions, and prunes, in one transaction; answers the ids given.
    pub(super) fn append(
        &self,
        pending: Vec<Pending>,
        reads: Vec<LogRead>,
        now: i64,
    ) -> Result<Vec<u64>, EventsError> {
        let settings = self.settings;
        let stored = self.store.write(|tx| {
            let mut ids = Vec::new();
            let oldest_kept = settings.oldest_kept(now);
            for Pending { event, seen } in pending {
                if let Some(seen) = &seen {
                    if tx.get::<u64>(Table::DeviceLogSeen, seen)?.is_some() {
                        continue;
                    }
                    // Older than the log keeps: it would be pruned at once, and its key with it.
                    if event.recorded_at < oldest_kept {
                        continue;
                    }
                }
                let id = tx.next_number(SEQUENCE)?;
                tx.put(Table::Events, &seq_key(id), &StoredEvent { id, event })?;
                if let Some(seen) = &seen {
                    tx.put(Table::DeviceLogSeen, seen, &id)?;
                }
                ids.push(id);
            }
            for read in reads {
                let position = StoredPosition {
                    index: read.position.index,
                    device_time: read.position.device_time,
                };
                tx.put(Table::DeviceLogPositions, &read.device.0, &position)?;
            }
            prune(tx, settings, now)?;
            Ok(ids)
        })?;
        if let Some(last) = stored.last() {
            self.latest.send_replace(*last);
        }
        Ok(stored)
    }

    /// Prunes by age now (the recorder also prunes with every batch it stores).
    pub fn prune(&self, now: i64) -> Result<u64, EventsError> {
        let settings = self.settings;
        Ok(self.store.write(|tx| prune(tx, settings, now))?)
    }

    /// Up to `limit` events after sequence id `after`, oldest first: what a consumer reads.
    pub fn after(&self, after: u64, limit: usize) -> Result<Vec<StoredEvent>, EventsError> {
        let from = seq_key(after);
        Ok(self.store.read(|tx| {
            Ok(tx
                .page::<StoredEvent>(Table::Events, Some(&from), limit)?
                .into_iter()
                .map(|(_, event)| event)
                .collect())
        })?)
    }

    /// Up to `limit` events that `filter` admits with sequence ids below `before` (all when
    /// `None`), newest first: what people read.
    pub fn newest(
        &self,
        filter: &EventFilter,
        before: Option<u64>,
        limit: usize,
    ) -> Result<Vec<StoredEvent>, EventsError> {
        Ok(self.store.read(|tx| {
            let mut found = Vec::new();
            let mut cursor = before.map(seq_key);
            while found.len() < limit {
                let chunk =
                    tx.page_before::<StoredEvent>(Table::Events, cursor.as_deref(), SCAN_CHUNK)?;
                let Some((last_key, _)) = chunk.last() else {
                    break;
                };
                cursor = Some(last_key.clone());
                let exhausted = chunk.len() < SCAN_CHUNK;
                let mut past_floor = false;
                for (_, stored) in chunk {
                    if filter.after_id.is_some_and(|after| stored.id <= after) {
                        past_floor = true;
                        break;
                    }
                    if filter.admits(&stored) {
                        found.push(stored);
                        if found.len() == limit {
                            break;
                        }
                    }
                }
                if exhausted || past_floor {
                    break;
                }
            }
            Ok(found)
        })?)
    }

    /// The number of events kept.
    pub fn len(&self) -> Result<u64, EventsError> {
        Ok(self.store.read(|tx| tx.count(Table::Events))?)
    }

    pub fn is_empty(&self) -> Result<bool, EventsError> {
        Ok(self.len()? == 0)
    }

    /// The sequence id of the oldest event kept.
    pub fn oldest_id(&self) -> Result<Option<u64>, EventsError> {
        Ok(self.store.read(|tx| {
            Ok(tx
                .page::<StoredEvent>(Table::Events, None, 1)?
                .first()
                .map(|(_, event)| event.id))
        })?)
    }

    /// The last sequence id `consumer` saved as handled.
    pub fn cursor(&self, consumer: &str) -> Result<Option<u64>, EventsError> {
        Ok(self
            .store
            .read(|tx| tx.get::<u64>(Table::EventCursors, consumer))?)
    }

    /// Saves that `consumer` handled every event up to `id`; survives restarts.
    pub fn save_cursor(&self, consumer: &str, id: u64) -> Result<(), EventsError> {
        Ok(self
            .store
            .write(|tx| tx.put(Table::EventCursors, consumer, &id))?)
    }

    /// The newest entry of `device`'s own log stored (its index and the device's timestamp),
    /// so reading the device log can resume after it.
    pub fn device_log_position(
        &self,
        device: &DeviceAddress,
    ) -> Result<Option<(u32, DateTime)>, EventsError> {
        let position = self
            .store
            .read(|tx| tx.get::<StoredPosition>(Table::DeviceLogPositions, &device.0))?;
        Ok(position.map(|position| (position.index, DateTime::from_unix(position.device_time))))
    }

    /// The same with the timestamp in Unix seconds.
    pub fn device_log_position_unix(
        &self,
        device: &DeviceAddress,
    ) -> Result<Option<DeviceLogPosition>, EventsError> {
        let position = self
            .store
            .read(|tx| tx.get::<StoredPosition>(Table::DeviceLogPositions, &device.0))?;
        Ok(position.map(|position| DeviceLogPosition {
            index: position.index,
            device_time: position.device_time,
        }))
    }
}

/// Removes what retention no longer keeps: every event recorded before the age limit, then
/// the oldest beyond the count limit, with their device log keys. Answers how many went.
fn prune(tx: &WriteTx, settings: EventSettings, now: i64) -> Result<u64, StoreError> {
    let oldest_kept = settings.oldest_kept(now);
    let mut removed: u64 = 0;
    // Most batches find the oldest event young enough: one record read, not a chunk.
    let oldest_expired = tx
        .page::<StoredEvent>(Table::Events, None, 1)?
        .first()
        .is_some_and(|(_, stored)| stored.event.recorded_at < oldest_kept);
    if oldest_expired {
        loop {
            let chunk = tx.page::<StoredEvent>(Table::Events, None, SCAN_CHUNK)?;
            let mut expired: u64 = 0;
            for (key, stored) in &chunk {
                if stored.event.recorded_at >= oldest_kept {
                    break;
                }
                remove(tx, key, stored)?;
                expired += 1;
            }
            removed += expired;
            if expired < chunk.len() as u64 || chunk.len() < SCAN_CHUNK {
                break;
            }
        }
    }
    let count = tx.count(Table::Events)?;
    if count > settings.max_entries {
        let excess = usize::try_from(count - settings.max_entries).unwrap_or(usize::MAX);
        for (key, stored) in tx.page::<StoredEvent>(Table::Events, None, excess)? {
            remove(tx, &key, &stored)?;
            removed += 1;
        }
    }
    Ok(removed)
}

fn remove(tx: &WriteTx, key: &str, stored: &StoredEvent) -> Result<(), StoreError> {
    tx.remove(Table::Events, key)?;
    if let (Some(device), Some(position)) = (&stored.event.device, stored.event.device_log) {
        let seen = super::translate::seen_key(&DeviceAddress(device.address.clone()), position);
        tx.remove(Table::DeviceLogSeen, &seen)?;
    }
    Ok(())
}
