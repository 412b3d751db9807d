//! The three callback slots of the Bridge API and the delivery of state changes to them.
//!
//! Every registered URL has its own ordered queue and delivery task, so a slow or dead
//! receiver delays only its own callbacks, never a request or another receiver.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::mpsc;

use super::query::CALLBACK_SLOTS;

/// Bodies queued per receiver before the oldest undelivered state changes are dropped.
const QUEUE_PER_RECEIVER: usize = 64;

/// Retry policy of one delivery.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeliveryPolicy {
    pub attempts: u32,
    pub first_pause: Duration,
    pub timeout: Duration,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CallbackError {
    #[error("too many callbacks registered")]
    Full,
    #[error("callback already added")]
    Duplicate,
    #[error("callback not found")]
    NotFound,
}

struct Slot {
    url: String,
    queue: mpsc::Sender<serde_json::Value>,
}

/// Called with the registered URLs by slot whenever they change, so they survive a restart
/// (Home Assistant registers its webhook once, at setup).
pub type SaveSlots = Box<dyn Fn(&[Option<String>]) + Send + Sync>;

/// The registered callbacks; ids are the slot numbers 0, 1 and 2 that clients assume.
pub struct Callbacks {
    slots: Mutex<Vec<Option<Slot>>>,
    client: reqwest::Client,
    policy: DeliveryPolicy,
    save: Option<SaveSlots>,
}

impl Callbacks {
    pub fn new(policy: DeliveryPolicy) -> Arc<Self> {
        Self::restored(policy, &[], None)
    }

    /// Callbacks registered before a restart, in their slots, saved again on every change.
    /// Must run inside a tokio runtime (each URL gets its delivery task).
    pub fn restored(
        policy: DeliveryPolicy,
        slots: &[Option<String>],
        save: Option<SaveSlots>,
    ) -> Arc<Self> {
        let client = reqwest::Client::builder()
            .timeout(policy.timeout)
            .build()
            .unwrap_or_else(|_| reqwest::Client::new());
        let callbacks = Arc::new(Self {
            slots: Mutex::new((0..CALLBACK_SLOTS).map(|_| None).collect()),
            client,
            policy,
            save,
        });
        {
            let mut live = callbacks.lock();
            for (index, url) in slots.iter().enumerate().take(live.len()) {
                if let Some(url) = url {
                    live[index] = Some(callbacks.open_slot(url.clone()));
                }
            }
        }
        callbacks
    }

    fn open_slot(&self, url: String) -> Slot {
        let (queue, bodies) = mpsc::channel(QUEUE_PER_RECEIVER);
        tokio::spawn(deliver(
            self.client.clone(),
            url.clone(),
            bodies,
            self.policy,
        ));
        Slot { url, queue }
    }

    fn persist(&self, slots: &[Option<Slot>]) {
        if let Some(save) = &self.save {
            let urls: Vec<Option<String>> = slots
                .iter()
                .map(|slot| slot.as_ref().map(|slot| slot.url.clone()))
                .collect();
            save(&urls);
        }
    }

    /// Registers `url` in the first free slot and starts its delivery task.
    pub fn add(&self, url: String) -> Result<u8, CallbackError> {
        let mut slots = self.lock();
        if slots.iter().flatten().any(|slot| slot.url == url) {
            return Err(CallbackError::Duplicate);
        }
        let index = slots
            .iter()
            .position(Option::is_none)
            .ok_or(CallbackError::Full)?;
        slots[index] = Some(self.open_slot(url));
        self.persist(&slots);
        Ok(u8::try_from(index).unwrap_or(u8::MAX))
    }

    /// Removes a slot; its queue ends and the delivery task stops after the current attempt.
    pub fn remove(&self, id: u8) -> Result<(), CallbackError> {
        let mut slots = self.lock();
        let slot = slots
            .get_mut(usize::from(id))
            .ok_or(CallbackError::NotFound)?;
        slot.take().map(drop).ok_or(CallbackError::NotFound)?;
        self.persist(&slots);
        Ok(())
    }

    pub fn list(&self) -> Vec<(u8, String)> {
        self.lock()
            .iter()
            .enumerate()
            .filter_map(|(index, slot)| {
                let slot = slot.as_ref()?;
                Some((u8::try_from(index).ok()?, slot.url.clone()))
            })
            .collect()
    }

    /// Queues `body` for every receiver without waiting for any of them.
    pub fn publish(&self, body: &serde_json::Value) {
        for slot in self.lock().iter().flatten() {
            if slot.queue.try_send(body.clone()).is_err() {
                tracing::warn!(url = %slot.url, "callback receiver is too far behind; dropped a state change");
            }
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Option<Slot>>> {
        self.slots
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// POSTs each body in order; retries connection failures and 5xx with doubling pauses. Any
/// other answer counts as delivered (a receiver saying 404 does not want it again).
async fn deliver(
    client: reqwest::Client,
    url: String,
    mut bodies: mpsc::Receiver<serde_json::Value>,
    policy: DeliveryPolicy,
) {
    while let Some(body) = bodies.recv().await {
        let mut pause = policy.first_pause;
        for attempt in 1..=policy.attempts.max(1) {
            let sent = client.post(&url).json(&body).send().await;
            let retry = match &sent {
                Ok(response) => response.status().is_server_error(),
                Err(_) => true,
            };
            if !retry {
                break;
            }
            if attempt == policy.attempts.max(1) {
                tracing::warn!(%url, attempts = attempt, "callback not delivered; giving up on this state change");
                break;
            }
            tokio::time::sleep(pause).await;
            pause = pause.saturating_mul(2);
        }
    }
}
