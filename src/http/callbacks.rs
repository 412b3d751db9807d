//! The three callback slots of the Bridge API and the delivery of state changes to them.
//!
//! Every registered URL has its own ordered queue and delivery task, so a slow or dead
//! receiver delays only its own callbacks, never a request or another receiver. Removing a
//! callback aborts its task at once, dropping what it still had queued or was retrying; a
//! URL registered again waits until the aborted task is gone, so one URL never has two tasks
//! posting to it and its callbacks stay in order.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::query::{parse_callback_url, CALLBACK_SLOTS};

/// Bodies queued per receiver; a receiver this far behind (down, or answering slower than
/// the doors change) loses the newest state changes until it catches up, counted in
/// [`DROPPED_METRIC`]. The queues are filled from the activity log (`callback_feed`).
const QUEUE_PER_RECEIVER: usize = 1024;
/// Counter of state changes a callback receiver lost because its queue was full.
pub const DROPPED_METRIC: &str = "nuki_edge_callbacks_dropped_total";

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
    #[error("invalid url")]
    InvalidUrl,
}

/// A registered URL: the text the client sent (listed and saved as such) and the parsed form
/// that is posted to and compared.
#[derive(Clone)]
struct CallbackUrl {
    text: String,
    parsed: url::Url,
}

impl CallbackUrl {
    fn parse(text: String) -> Result<Self, CallbackError> {
        let parsed = parse_callback_url(&text).map_err(|_| CallbackError::InvalidUrl)?;
        Ok(Self { text, parsed })
    }

    /// Equal for spellings of one receiver: the parser already lowercases scheme and host and
    /// drops the default port; credentials do not make another receiver.
    fn identity(&self) -> String {
        let mut url = self.parsed.clone();
        // Both fail only for URLs without a host, which parse_callback_url refuses.
        let _ = url.set_username("");
        let _ = url.set_password(None);
        url.into()
    }

    /// Safe to log: the origin only. The path of a webhook URL is often its secret (Home
    /// Assistant's webhook id), and the origin is serialized with everything escaped.
    fn for_log(&self) -> String {
        self.parsed.origin().ascii_serialization()
    }
}

struct Slot {
    url: CallbackUrl,
    queue: mpsc::Sender<serde_json::Value>,
    delivery: JoinHandle<()>,
}

/// Aborted delivery tasks that may still be winding down, by URL identity.
type Retired = Vec<(String, JoinHandle<()>)>;

struct Registry {
    slots: Vec<Option<Slot>>,
    retired: Retired,
}

/// Called with the registered URLs by slot whenever they change, so they survive a restart
/// (Home Assistant registers its webhook once, at setup).
pub type SaveSlots = Box<dyn Fn(&[Option<String>]) + Send + Sync>;

/// The registered callbacks; ids are the slot numbers 0, 1 and 2 that clients assume.
pub struct Callbacks {
    registry: Mutex<Registry>,
    client: reqwest::Client,
    policy: DeliveryPolicy,
    save: Option<SaveSlots>,
}

impl Callbacks {
    pub fn new(policy: DeliveryPolicy) -> Arc<Self> {
        Self::restored(policy, &[], None)
    }

    /// Callbacks registered before a restart, in their slots, saved again on every change.
    /// Must run inside a tokio runtime (each URL gets its delivery task). A saved URL that no
    /// longer passes the checks is left out.
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
            registry: Mutex::new(Registry {
                slots: (0..CALLBACK_SLOTS).map(|_| None).collect(),
                retired: Vec::new(),
            }),
            client,
            policy,
            save,
        });
        {
            let mut registry = callbacks.lock();
            for (index, text) in slots.iter().enumerate().take(registry.slots.len()) {
                let Some(text) = text else { continue };
                match CallbackUrl::parse(text.clone()) {
                    Ok(url) => {
                        let slot = callbacks.open_slot(url, None);
                        registry.slots[index] = Some(slot);
                    }
                    Err(_) => {
                        tracing::warn!(
                            slot = index,
                            "left out a saved callback with an invalid url"
                        )
                    }
                }
            }
        }
        callbacks
    }

    fn open_slot(&self, url: CallbackUrl, predecessor: Option<JoinHandle<()>>) -> Slot {
        let (queue, bodies) = mpsc::channel(QUEUE_PER_RECEIVER);
        let delivery = tokio::spawn(deliver(
            self.client.clone(),
            url.clone(),
            bodies,
            self.policy,
            predecessor,
        ));
        Slot {
            url,
            queue,
            delivery,
        }
    }

    fn persist(&self, slots: &[Option<Slot>]) {
        if let Some(save) = &self.save {
            let urls: Vec<Option<String>> = slots
                .iter()
                .map(|slot| slot.as_ref().map(|slot| slot.url.text.clone()))
                .collect();
            save(&urls);
        }
    }

    /// Registers `url` in the first free slot and starts its delivery task. Another spelling
    /// of a registered URL (letter case, default port, credentials) is a duplicate.
    pub fn add(&self, url: String) -> Result<u8, CallbackError> {
        let url = CallbackUrl::parse(url)?;
        let identity = url.identity();
        let mut registry = self.lock();
        if registry
            .slots
            .iter()
            .flatten()
            .any(|slot| slot.url.identity() == identity)
        {
            return Err(CallbackError::Duplicate);
        }
        let index = registry
            .slots
            .iter()
            .position(Option::is_none)
            .ok_or(CallbackError::Full)?;
        registry.retired.retain(|(_, task)| !task.is_finished());
        let predecessor = registry
            .retired
            .iter()
            .position(|(retired, _)| *retired == identity)
            .map(|position| registry.retired.swap_remove(position).1);
        registry.slots[index] = Some(self.open_slot(url, predecessor));
        self.persist(&registry.slots);
        Ok(u8::try_from(index).unwrap_or(u8::MAX))
    }

    /// Removes a slot and aborts its delivery: nothing queued or being retried for it is
    /// posted any more.
    pub fn remove(&self, id: u8) -> Result<(), CallbackError> {
        let mut registry = self.lock();
        let slot = registry
            .slots
            .get_mut(usize::from(id))
            .and_then(Option::take)
            .ok_or(CallbackError::NotFound)?;
        slot.delivery.abort();
        registry.retired.retain(|(_, task)| !task.is_finished());
        registry.retired.push((slot.url.identity(), slot.delivery));
        self.persist(&registry.slots);
        Ok(())
    }

    pub fn list(&self) -> Vec<(u8, String)> {
        self.lock()
            .slots
            .iter()
            .enumerate()
            .filter_map(|(index, slot)| {
                let slot = slot.as_ref()?;
                Some((u8::try_from(index).ok()?, slot.url.text.clone()))
            })
            .collect()
    }

    /// Queues `body` for every receiver without waiting for any of them.
    pub fn publish(&self, body: &serde_json::Value) {
        for slot in self.lock().slots.iter().flatten() {
            if slot.queue.try_send(body.clone()).is_err() {
                metrics::counter!(DROPPED_METRIC).increment(1);
                tracing::warn!(receiver = %slot.url.for_log(), "callback receiver is too far behind; dropped a state change");
            }
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Registry> {
        self.registry
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl Drop for Callbacks {
    fn drop(&mut self) {
        let registry = self.lock();
        for slot in registry.slots.iter().flatten() {
            slot.delivery.abort();
        }
    }
}

/// POSTs each body in order; retries connection failures and 5xx with doubling pauses. Any
/// other answer counts as delivered (a receiver saying 404 does not want it again).
/// A task for a URL registered again first waits for the aborted task of its previous
/// registration to be gone.
async fn deliver(
    client: reqwest::Client,
    url: CallbackUrl,
    mut bodies: mpsc::Receiver<serde_json::Value>,
    policy: DeliveryPolicy,
    predecessor: Option<JoinHandle<()>>,
) {
    if let Some(predecessor) = predecessor {
        // Its outcome is always "cancelled" or "finished"; only its end matters.
        let _ = predecessor.await;
    }
    while let Some(body) = bodies.recv().await {
        let mut pause = policy.first_pause;
        for attempt in 1..=policy.attempts.max(1) {
            let sent = client.post(url.parsed.clone()).json(&body).send().await;
            let retry = match &sent {
                Ok(response) => response.status().is_server_error(),
                Err(_) => true,
            };
            if !retry {
                break;
            }
            if attempt == policy.attempts.max(1) {
                tracing::warn!(receiver = %url.for_log(), attempts = attempt, "callback not delivered; giving up on this state change");
                break;
            }
            tokio::time::sleep(pause).await;
            pause = pause.saturating_mul(2);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(text: &str) -> CallbackUrl {
        CallbackUrl::parse(text.to_owned()).unwrap()
    }

    #[test]
    fn spellings_of_one_receiver_share_an_identity() {
        let registered = url("http://cb.example/hook?x=1");
        for variant in [
            "HTTP://CB.EXAMPLE/hook?x=1",
            "http://cb.example:80/hook?x=1",
            "http://user:secret@cb.example/hook?x=1",
        ] {
            assert_eq!(url(variant).identity(), registered.identity(), "{variant}");
        }
        for other in [
            "http://cb.example/Hook?x=1",
            "http://cb.example:8080/hook?x=1",
            "http://cb.example/hook?x=2",
        ] {
            assert_ne!(url(other).identity(), registered.identity(), "{other}");
        }
    }

    #[test]
    fn log_form_is_the_escaped_origin_without_secrets() {
        let shown =
            url("http://user:secret@Host.example:8123/api/webhook/SECRETID%0Aforged").for_log();
        assert!(!shown.contains("secret"), "{shown}");
        assert!(!shown.contains("SECRETID"), "{shown}");
        assert_eq!(shown, "http://host.example:8123");
    }

    #[test]
    fn invalid_urls_are_refused_by_add() {
        let callbacks_error = CallbackUrl::parse("http://[::1".to_owned()).err();
        assert_eq!(callbacks_error, Some(CallbackError::InvalidUrl));
    }

    #[tokio::test]
    async fn saved_urls_that_no_longer_pass_are_left_out() {
        let policy = DeliveryPolicy {
            attempts: 1,
            first_pause: Duration::from_millis(1),
            timeout: Duration::from_millis(100),
        };
        let saved = [
            Some("http://127.0.0.1:9/a".to_owned()),
            Some("abcdefé".to_owned()),
            Some("http://h:99999/".to_owned()),
        ];
        let callbacks = Callbacks::restored(policy, &saved, None);
        assert_eq!(callbacks.list(), [(0, "http://127.0.0.1:9/a".to_owned())]);
    }
}
