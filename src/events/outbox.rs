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

/// Saves a consumer's cursor in the background, so a publisher never waits for the store's
/// commit between two batches: [`Self::note`] hands over the newest handled id, and the
/// writer saves the newest one it has whenever the previous save is done (ids noted during a
/// save are merged into one). A crash can lose the last few ids noted; they are delivered
/// again after the restart, which at-least-once allows.
pub struct CursorWriter {
    handled: watch::Sender<u64>,
    writer: tokio::task::JoinHandle<()>,
}

impl CursorWriter {
    /// Starts the writer for `consumer`, whose cursor stands at `position`.
    pub fn start(log: Arc<EventLog>, consumer: &str, position: u64) -> Self {
        let (handled, mut noted) = watch::channel(position);
        let consumer = consumer.to_owned();
        let writer = tokio::spawn(async move {
            let mut saved = position;
            loop {
                let closed = noted.changed().await.is_err();
                let newest = *noted.borrow_and_update();
                if newest > saved {
                    let (log, consumer) = (log.clone(), consumer.clone());
                    let result =
                        tokio::task::spawn_blocking(move || log.save_cursor(&consumer, newest))
                            .await;
                    match result {
                        Ok(Ok(())) => saved = newest,
                        Ok(Err(error)) => {
                            tracing::warn!(%error, "cannot save an activity log cursor")
                        }
                        Err(_) => tracing::warn!("saving an activity log cursor was interrupted"),
                    }
                }
                if closed {
                    return;
                }
            }
        });
        Self { handled, writer }
    }

    /// Every event up to `id` is handled.
    pub fn note(&self, id: u64) {
        self.handled.send_if_modified(|newest| {
            let newer = id > *newest;
            if newer {
                *newest = id;
            }
            newer
        });
    }

    /// Saves what was noted last and ends the writer.
    pub async fn finish(self) {
        drop(self.handled);
        let _ = self.writer.await;
    }
}
