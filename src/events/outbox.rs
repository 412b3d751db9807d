//! The log as an outbox: a consumer (the MQTT publisher, Bridge callbacks, the web UI) reads
//! the stored events after its persisted cursor, and the in-memory bus only wakes it.
//!
//! Bounded by retention: the oldest events are pruned when the log is full or too old, even
//! when a consumer has not read them. A consumer behind the oldest kept event skips to it;
//! `nuki_edge_events_dropped_total{consumer}` counts what it missed.

use std::sync::Arc;

use tokio::sync::watch;

use super::error::EventsError;
use super::log::EventLog;
use super::model::StoredEvent;

/// The counter of events a consumer missed because retention pruned them first.
pub const DROPPED_METRIC: &str = "nuki_edge_events_dropped_total";

/// One consumer's way through the log: at-least-once, in sequence order.
pub struct Subscription {
    log: Arc<EventLog>,
    consumer: String,
    /// The last event handed out by [`Self::next_batch`].
    read: u64,
    wake: watch::Receiver<u64>,
    dropped: u64,
}

impl std::fmt::Debug for Subscription {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Subscription")
            .field("consumer", &self.consumer)
            .field("read", &self.read)
            .field("dropped", &self.dropped)
            .finish()
    }
}

impl Subscription {
    /// Resumes `consumer` after its saved cursor. A consumer seen for the first time starts
    /// after the newest event (it does not replay history), and that start is saved.
    pub fn open(log: Arc<EventLog>, consumer: &str) -> Result<Self, EventsError> {
        let wake = log.watch();
        let read = match log.cursor(consumer)? {
            Some(cursor) => cursor,
            None => {
                let latest = log.latest_id();
                log.save_cursor(consumer, latest)?;
                latest
            }
        };
        Ok(Self {
            log,
            consumer: consumer.to_owned(),
            read,
            wake,
            dropped: 0,
        })
    }

    pub fn consumer(&self) -> &str {
        &self.consumer
    }

    /// The last event handed out.
    pub fn position(&self) -> u64 {
        self.read
    }

    /// Events this consumer missed to retention since it was opened.
    pub fn dropped(&self) -> u64 {
        self.dropped
    }

    /// The next up to `limit` events after those handed out, oldest first; waits until there
    /// is at least one. Cancel-safe: nothing is handed out before it returns.
    pub async fn next_batch(&mut self, limit: usize) -> Result<Vec<StoredEvent>, EventsError> {
        loop {
            // Marked seen before reading, so an event stored meanwhile wakes the wait below.
            self.wake.borrow_and_update();
            let batch = self.log.after(self.read, limit.max(1))?;
            if let (Some(first), Some(last)) = (batch.first(), batch.last()) {
                // Sequence ids are contiguous: a gap is what retention pruned unread.
                let missed = first.id.saturating_sub(self.read + 1);
                if missed > 0 {
                    self.dropped += missed;
                    metrics::counter!(DROPPED_METRIC, "consumer" => self.consumer.clone())
                        .increment(missed);
                    tracing::warn!(
                        consumer = %self.consumer,
                        missed,
                        "activity log consumer fell behind retention; skipped to the oldest kept event"
                    );
                }
                self.read = last.id;
                return Ok(batch);
            }
            if self.wake.changed().await.is_err() {
                // The log is gone (shutdown): nothing more will come.
                return Ok(Vec::new());
            }
        }
    }

    /// Saves that every event up to `id` is handled; a restart resumes after it.
    pub async fn ack(&mut self, id: u64) -> Result<(), EventsError> {
        let (log, consumer) = (self.log.clone(), self.consumer.clone());
        tokio::task::spawn_blocking(move || log.save_cursor(&consumer, id))
            .await
            .map_err(|_| EventsError::Interrupted)??;
        if id > self.read {
            self.read = id;
        }
        Ok(())
    }
}
