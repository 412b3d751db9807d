//! The activity log delivered to MQTT through its persisted cursor (the log is the outbox):
//! every stored event as its JSON on `<prefix>/gateway/events` at QoS 1, with the
//! `lockActionEvent` and retained `lastAction` of lock actions beside it. Events are issued
//! while the acknowledgements of earlier ones are awaited in order (pipelined, at most
//! `MAX_IN_FLIGHT` outstanding); the cursor moves past what the broker acknowledged. On a failure (broker away, no PUBACK in time) it waits a
//! jittered backoff and sends again from the saved cursor: at-least-once, in log order,
//! across broker outages and gateway restarts. Subscribers tell repeats apart by the `id`.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::events::{CursorWriter, EventLog, EventsError, StoredEvent, Subscription};

use super::backoff::Backoff;
use super::client::{MqttError, MqttHandle, EVENT_ACK_LIMIT};
use super::in_flight::{InFlight, Settled};
use super::log_actions::log_action_messages;
use super::message::Message;

/// The activity log consumer whose cursor MQTT delivery keeps.
pub const DELIVERY_CONSUMER: &str = "mqtt";
/// Events read from the log and issued at a time.
pub const DELIVERY_BATCH: usize = 1024;
/// Events issued and not yet acknowledged, at most; then delivery waits for the broker.
const MAX_IN_FLIGHT: usize = 4 * DELIVERY_BATCH;
/// The counter of events the broker acknowledged.
pub const DELIVERED_METRIC: &str = "nuki_edge_events_delivered_total";
/// How long delivery waits for the broker to take or acknowledge the next message before
/// it sends again from the cursor: a limit on silence, not on the batch (a slow broker that
/// keeps acknowledging is waited for).
const PROGRESS_LIMIT: Duration = EVENT_ACK_LIMIT;

/// What delivery reports in `<prefix>/gateway/health`.
#[derive(Debug, Default)]
pub struct DeliveryStats {
    delivered: AtomicU64,
    dropped: AtomicU64,
    backlog: AtomicU64,
}

impl DeliveryStats {
    /// Events the broker acknowledged since the start (repeats after a failure included).
    pub fn delivered(&self) -> u64 {
        self.delivered.load(Ordering::Relaxed)
    }

    /// Events retention pruned before they were delivered.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }

    /// Events stored but not acknowledged yet.
    pub fn backlog(&self) -> u64 {
        self.backlog.load(Ordering::Relaxed)
    }
}

/// Opens the delivery's way through the log. Open it before anything is recorded at start:
/// the first time it starts after the newest event stored, later after its saved cursor.
pub fn open(log: Arc<EventLog>) -> Result<Subscription, EventsError> {
    Subscription::open(log, DELIVERY_CONSUMER)
}

/// Delivers until shutdown (or until the log is gone). Run it beside the MQTT interface.
/// The cursor is saved in the background, off the path from one batch to the next, and
/// once more at the end.
pub async fn deliver(
    handle: MqttHandle,
    log: Arc<EventLog>,
    subscription: Subscription,
    shutdown: CancellationToken,
) {
    let cursor = CursorWriter::start(log.clone(), DELIVERY_CONSUMER, subscription.position());
    deliver_noting(handle, log, subscription, shutdown, &cursor).await;
    cursor.finish().await;
}

async fn deliver_noting(
    handle: MqttHandle,
    log: Arc<EventLog>,
    mut subscription: Subscription,
    shutdown: CancellationToken,
    cursor: &CursorWriter,
) {
    let stats = handle.delivery_stats();
    let mut backoff = Backoff::default();
    let mut dropped_before = 0;
    let mut in_flight = InFlight::new(PROGRESS_LIMIT);
    loop {
        stats.backlog.store(
            log.latest_id().saturating_sub(subscription.position()) + in_flight.len() as u64,
            Ordering::Relaxed,
        );
        in_flight.arm();
        if !in_flight.is_waiting() {
            // Events without messages (none so far) settle without an acknowledgement.
            account(in_flight.settle(), &stats, cursor);
        }
        let room = in_flight.len() < MAX_IN_FLIGHT;
        let failure = tokio::select! {
            biased;
            () = shutdown.cancelled() => return,
            acknowledged = in_flight.acknowledgement(), if in_flight.is_waiting() => {
                match acknowledged {
                    Ok(()) => {
                        account(in_flight.settle(), &stats, cursor);
                        backoff.reset();
                        continue;
                    }
                    Err(error) => Failure::Broker(error),
                }
            }
            batch = next_batch_once_connected(&handle, &mut subscription), if room => {
                match batch {
                    Ok(batch) if batch.is_empty() => return,
                    Ok(batch) => {
                        let dropped = subscription.dropped();
                        stats
                            .dropped
                            .fetch_add(dropped - dropped_before, Ordering::Relaxed);
                        dropped_before = dropped;
                        let issued = tokio::select! {
                            () = shutdown.cancelled() => return,
                            issued = issue_batch(&handle, &batch, &mut in_flight) => issued,
                        };
                        match issued {
                            Ok(()) => continue,
                            Err(error) => Failure::Broker(error),
                        }
                    }
                    Err(error) => Failure::Log(error),
                }
            }
        };
        in_flight.clear();
        let pause = backoff.next_pause();
        tracing::warn!(%failure, retry_in_ms = pause.as_millis() as u64, "activity log delivery to MQTT failed; sending again from the cursor");
        tokio::select! {
            () = shutdown.cancelled() => return,
            () = tokio::time::sleep(pause) => {}
        }
        // Back to the saved cursor: what was handed out but not acknowledged comes again.
        match open(log.clone()) {
            Ok(reopened) => {
                subscription = reopened;
                dropped_before = 0;
            }
            Err(error) => tracing::warn!(%error, "cannot reread the MQTT delivery cursor"),
        }
    }
}

/// Counts what the broker acknowledged and notes it for the cursor.
fn account(settled: Settled, stats: &DeliveryStats, cursor: &CursorWriter) {
    if settled.events == 0 {
        return;
    }
    stats.delivered.fetch_add(settled.events, Ordering::Relaxed);
    metrics::counter!(DELIVERED_METRIC, "consumer" => DELIVERY_CONSUMER).increment(settled.events);
    if let Some(id) = settled.last {
        cursor.note(id);
    }
}

/// The next events, once the broker is connected. Cancel-safe.
async fn next_batch_once_connected(
    handle: &MqttHandle,
    subscription: &mut Subscription,
) -> Result<Vec<StoredEvent>, EventsError> {
    handle.until_connected().await;
    subscription.next_batch(DELIVERY_BATCH).await
}

#[derive(Debug, thiserror::Error)]
enum Failure {
    #[error("{0}")]
    Broker(MqttError),
    #[error("{0}")]
    Log(EventsError),
}

/// Issues every message of the batch without waiting for acknowledgements; each event goes
/// in flight with the notices of its messages.
async fn issue_batch(
    handle: &MqttHandle,
    batch: &[StoredEvent],
    in_flight: &mut InFlight,
) -> Result<(), MqttError> {
    for stored in batch {
        let json = match serde_json::to_string(stored) {
            Ok(json) => json,
            // Cannot happen for these types; skipping keeps the rest flowing.
            Err(error) => {
                tracing::warn!(id = stored.id, %error, "activity log entry not serializable");
                in_flight.push(stored.id, Vec::new());
                continue;
            }
        };
        let messages = std::iter::once(Message::transient(handle.events_topic(), json))
            .chain(log_action_messages(handle.topics(), stored));
        let mut notices = Vec::new();
        for message in messages {
            match tokio::time::timeout(PROGRESS_LIMIT, handle.issue(message)).await {
                Ok(Ok(notice)) => notices.push(notice),
                Ok(Err(error)) => return Err(error),
                Err(_) => return Err(no_ack()),
            }
        }
        in_flight.push(stored.id, notices);
    }
    Ok(())
}

fn no_ack() -> MqttError {
    MqttError::NotPublished("no acknowledgement in time".to_owned())
}
