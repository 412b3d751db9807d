//! The events delivery has issued and the broker has not acknowledged yet, oldest first.
//! Their acknowledgements are awaited one at a time in issue order while newer events are
//! issued, so a broker that holds its PUBACKs back for a moment (Nagle's algorithm on its
//! side) delays the cursor, never the next events.

use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use rumqttc::PublishNotice;

use super::client::MqttError;

type Acknowledgement = Pin<Box<dyn Future<Output = Result<(), MqttError>> + Send>>;

/// Issued events and their outstanding acknowledgements.
pub(super) struct InFlight {
    /// Event ids with the notices not yet taken for waiting, oldest first.
    events: VecDeque<(u64, VecDeque<PublishNotice>)>,
    /// The oldest outstanding acknowledgement, being awaited.
    waiting: Option<Acknowledgement>,
    /// How long one acknowledgement may take before delivery counts as failed.
    limit: Duration,
}

/// What the broker has acknowledged since the last time.
pub(super) struct Settled {
    pub events: u64,
    /// The newest event all of whose messages (and all before it) were acknowledged.
    pub last: Option<u64>,
}

impl InFlight {
    pub(super) fn new(limit: Duration) -> Self {
        Self {
            events: VecDeque::new(),
            waiting: None,
            limit,
        }
    }

    /// Events issued and not settled yet.
    pub(super) fn len(&self) -> usize {
        self.events.len()
    }

    pub(super) fn push(&mut self, id: u64, notices: Vec<PublishNotice>) {
        self.events.push_back((id, notices.into()));
    }

    /// Starts awaiting the oldest outstanding acknowledgement, if any and none is awaited.
    pub(super) fn arm(&mut self) {
        if self.waiting.is_some() {
            return;
        }
        let limit = self.limit;
        let next = self
            .events
            .iter_mut()
            .find_map(|(_, notices)| notices.pop_front());
        self.waiting = next.map(|notice| {
            Box::pin(async move {
                match tokio::time::timeout(limit, notice.wait_completion_async()).await {
                    Ok(Ok(())) => Ok(()),
                    Ok(Err(error)) => Err(MqttError::NotPublished(error.to_string())),
                    Err(_) => Err(MqttError::NotPublished(
                        "no acknowledgement in time".to_owned(),
                    )),
                }
            }) as Acknowledgement
        });
    }

    pub(super) fn is_waiting(&self) -> bool {
        self.waiting.is_some()
    }

    /// The awaited acknowledgement; pending forever when none is armed (guard the branch
    /// with [`Self::is_waiting`]).
    pub(super) async fn acknowledgement(&mut self) -> Result<(), MqttError> {
        match self.waiting.as_mut() {
            Some(waiting) => {
                let result = waiting.await;
                self.waiting = None;
                result
            }
            None => std::future::pending().await,
        }
    }

    /// Takes the oldest events whose every message is acknowledged off the queue.
    pub(super) fn settle(&mut self) -> Settled {
        let mut settled = Settled {
            events: 0,
            last: None,
        };
        if self.waiting.is_some() {
            return settled;
        }
        while let Some((id, notices)) = self.events.front() {
            if !notices.is_empty() {
                break;
            }
            settled.events += 1;
            settled.last = Some(*id);
            self.events.pop_front();
        }
        settled
    }

    /// Forgets everything in flight (after a failure delivery starts again from the cursor).
    pub(super) fn clear(&mut self) {
        self.events.clear();
        self.waiting = None;
    }
}
