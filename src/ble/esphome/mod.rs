//! An ESPHome Bluetooth proxy as a radio, over the ESPHome native API (Noise-encrypted).
//!
//! One API connection per proxy carries the advertisement feed, the slot reports and every
//! link; it is kept up in the background with exponential backoff, so the daemon starts (and
//! reports the proxy as down) while a proxy is unreachable.

mod convert;
mod key;
mod limits;
mod link;
mod session;
mod wire;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use rand::Rng;
use tokio::sync::{broadcast, mpsc, watch};
use tokio::task::JoinHandle;

use crate::ble::{
    Advertisement, BleError, BleLink, BleTransport, DeviceAddress, RadioId, SlotReport,
};
use crate::config::ProxyConfig;
pub use convert::{format_address, parse_address, uuid_to_api};
pub use key::{ApiKey, KeyError};
pub use limits::CallLimits;
pub use link::EsphomeLink;
use link::LinkContext;
use session::{Outlets, Session, SessionError};

/// Advertisements kept for a slow reader before it loses the oldest.
const ADVERT_BACKLOG: usize = 512;
/// Advertisements waiting in one feed for its consumer.
const ADVERTISEMENT_QUEUE: usize = 256;

/// Whether the proxy's API connection is up, as the status shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProxyStatus {
    /// The first attempt is still running.
    Connecting,
    Up,
    /// Down, with why the last attempt or the connection ended; retried in the background.
    Down(String),
}

/// One ESPHome Bluetooth proxy. Dropping it closes its API connection and its links.
pub struct EsphomeProxy {
    shared: Arc<Shared>,
    supervisor: JoinHandle<()>,
}

struct Shared {
    name: String,
    target: String,
    key: Option<ApiKey>,
    limits: CallLimits,
    session: Mutex<Option<Arc<Session>>>,
    status: watch::Sender<ProxyStatus>,
    outlets: Arc<Outlets>,
}

impl EsphomeProxy {
    /// Reads the key and starts connecting in the background; returns at once. Only a key
    /// file that cannot be read or decoded fails here. Must run inside a tokio runtime.
    pub fn start(config: &ProxyConfig, limits: CallLimits) -> Result<Self, BleError> {
        let key = match &config.encryption_key_file {
            Some(path) => Some(ApiKey::from_file(path).map_err(|error| {
                BleError::Adapter(format!("ESPHome proxy {}: {error}", config.name))
            })?),
            None => None,
        };
        Ok(Self::with_key(config, key, limits))
    }

    /// As [`EsphomeProxy::start`] with the key already read.
    pub fn with_key(config: &ProxyConfig, key: Option<ApiKey>, limits: CallLimits) -> Self {
        let (adverts, _) = broadcast::channel(ADVERT_BACKLOG);
        let shared = Arc::new(Shared {
            name: config.name.clone(),
            target: format!("{}:{}", config.host, config.port),
            key,
            limits,
            session: Mutex::new(None),
            status: watch::Sender::new(ProxyStatus::Connecting),
            outlets: Arc::new(Outlets {
                adverts,
                slots: watch::Sender::new(SlotReport::default()),
                address_types: Mutex::new(HashMap::new()),
            }),
        });
        let supervisor = tokio::spawn(supervise(Arc::clone(&shared)));
        Self { shared, supervisor }
    }

    pub fn radio(&self) -> RadioId {
        RadioId(self.shared.name.clone())
    }

    pub fn status(&self) -> watch::Receiver<ProxyStatus> {
        self.shared.status.subscribe()
    }

    /// Waits until the API connection is up; otherwise the error names the proxy, its
    /// address and why the last attempt failed.
    pub async fn wait_until_up(&self, within: Duration) -> Result<(), BleError> {
        let mut status = self.status();
        let up = tokio::time::timeout(within, status.wait_for(|s| *s == ProxyStatus::Up)).await;
        match up {
            Ok(Ok(_)) => Ok(()),
            _ => Err(self.shared.down_error()),
        }
    }
}

impl Drop for EsphomeProxy {
    fn drop(&mut self) {
        self.supervisor.abort();
    }
}

impl std::fmt::Debug for EsphomeProxy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EsphomeProxy")
            .field("name", &self.shared.name)
            .field("target", &self.shared.target)
            .field("encrypted", &self.shared.key.is_some())
            .field("status", &*self.shared.status.borrow())
            .finish()
    }
}

impl Shared {
    fn session(&self) -> Option<Arc<Session>> {
        self.session.lock().ok().and_then(|session| session.clone())
    }

    fn set_session(&self, session: Option<Arc<Session>>) {
        if let Ok(mut current) = self.session.lock() {
            *current = session;
        }
    }

    fn down_error(&self) -> BleError {
        let why = match &*self.status.borrow() {
            ProxyStatus::Connecting => "still connecting".to_owned(),
            ProxyStatus::Up => "connected".to_owned(),
            ProxyStatus::Down(reason) => reason.clone(),
        };
        BleError::Adapter(format!(
            "ESPHome proxy {} at {}: {why}",
            self.name, self.target
        ))
    }

    fn explain(&self, error: &SessionError) -> String {
        match error {
            SessionError::Unreachable(reason) => format!("unreachable ({reason})"),
            other => other.to_string(),
        }
    }
}

/// Keeps the API connection up: connect, run until it ends, wait, again.
async fn supervise(shared: Arc<Shared>) {
    let mut failures = 0u32;
    loop {
        let opened = tokio::time::timeout(
            shared.limits.session,
            Session::open(
                &shared.target,
                shared.key.as_ref(),
                shared.limits.keepalive,
                Arc::clone(&shared.outlets),
            ),
        )
        .await
        .unwrap_or_else(|_| {
            Err(SessionError::Unreachable(format!(
                "no answer within {:?}",
                shared.limits.session
            )))
        });
        let reason = match opened {
            Ok((session, run)) => {
                failures = 0;
                shared.set_session(Some(session));
                shared.status.send_replace(ProxyStatus::Up);
                tracing::info!(proxy = %shared.name, target = %shared.target, "ESPHome proxy connected");
                let ended = run.await;
                shared.set_session(None);
                ended
            }
            Err(error) => error,
        };
        let reason = shared.explain(&reason);
        failures = failures.saturating_add(1);
        // Slots of a proxy we cannot reach are no use to us.
        shared.outlets.slots.send_modify(|slots| slots.free = 0);
        let changed = shared
            .status
            .send_replace(ProxyStatus::Down(reason.clone()))
            != ProxyStatus::Down(reason.clone());
        if changed {
            tracing::warn!(proxy = %shared.name, target = %shared.target, %reason, "ESPHome proxy down; retrying");
        } else {
            tracing::debug!(proxy = %shared.name, %reason, "ESPHome proxy still down");
        }
        let jitter = rand::thread_rng().gen::<f64>();
        tokio::time::sleep(limits::backoff(&shared.limits, failures, jitter)).await;
    }
}

#[async_trait]
impl BleTransport for EsphomeProxy {
    /// What the proxy forwarded during `duration`: nothing while it is down.
    async fn scan(&self, duration: Duration) -> Result<Vec<Advertisement>, BleError> {
        let mut feed = self.shared.outlets.adverts.subscribe();
        let mut newest: HashMap<DeviceAddress, Advertisement> = HashMap::new();
        let _window_over = tokio::time::timeout(duration, async {
            loop {
                match feed.recv().await {
                    Ok(advert) => {
                        if let Some(address) = advert.address.clone() {
                            newest.insert(address, advert);
                        }
                    }
                    Err(broadcast::error::RecvError::Lagged(_)) => {}
                    Err(broadcast::error::RecvError::Closed) => break,
                }
            }
        })
        .await;
        Ok(newest.into_values().collect())
    }

    async fn advertisements(&self) -> Result<mpsc::Receiver<Advertisement>, BleError> {
        let mut feed = self.shared.outlets.adverts.subscribe();
        let (sender, receiver) = mpsc::channel(ADVERTISEMENT_QUEUE);
        let proxy = self.shared.name.clone();
        tokio::spawn(async move {
            loop {
                let advert = tokio::select! {
                    _ = sender.closed() => return,
                    advert = feed.recv() => advert,
                };
                match advert {
                    Ok(advert) => {
                        if sender.send(advert).await.is_err() {
                            return;
                        }
                    }
                    Err(broadcast::error::RecvError::Lagged(lost)) => {
                        tracing::debug!(%proxy, lost, "slow advertisement reader lost some");
                    }
                    Err(broadcast::error::RecvError::Closed) => return,
                }
            }
        });
        Ok(receiver)
    }

    async fn connect(&self, address: &DeviceAddress) -> Result<Box<dyn BleLink>, BleError> {
        let api_address =
            parse_address(address).ok_or_else(|| BleError::NotFound(address.clone()))?;
        let session = self
            .shared
            .session()
            .ok_or_else(|| self.shared.down_error())?;
        let address_type = self
            .shared
            .outlets
            .address_types
            .lock()
            .ok()
            .and_then(|types| types.get(&api_address).copied());
        let context = LinkContext {
            proxy: self.shared.name.clone(),
            limits: self.shared.limits,
            slots: self.shared.outlets.slots.subscribe(),
        };
        let link =
            EsphomeLink::open(session, context, address.clone(), api_address, address_type).await?;
        Ok(Box::new(link))
    }

    fn slot_reports(&self) -> Option<watch::Receiver<SlotReport>> {
        Some(self.shared.outlets.slots.subscribe())
    }

    /// Up while the API connection is: the advertisement feed outlives a lost connection.
    fn is_up(&self) -> Option<bool> {
        Some(*self.shared.status.borrow() == ProxyStatus::Up)
    }
}
