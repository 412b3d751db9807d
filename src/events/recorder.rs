//! The task that fills the log: reads the gateway's lossless feed, takes everything waiting
//! as one batch, anonymizes it and stores it in one write transaction.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::access::Principal;
use crate::ble::DeviceAddress;
use crate::gateway::{Gateway, GatewayEvent};

use super::directory::Directory;
use super::error::EventsError;
use super::log::EventLog;
use super::model::DeviceRef;
use super::translate::{translate, Context};

/// Bus events stored in one transaction at most.
pub const MAX_BATCH: usize = 512;
/// Pause before a failed write is tried once more.
const RETRY_PAUSE: Duration = Duration::from_secs(1);

/// Fills an [`EventLog`] from a gateway's bus.
pub struct Recorder {
    log: Arc<EventLog>,
    gateway: Arc<Gateway>,
    feed: Mutex<Option<mpsc::UnboundedReceiver<GatewayEvent>>>,
    /// Devices as last seen, so an event about a device just removed still carries its ids.
    devices: Mutex<HashMap<DeviceAddress, DeviceRef>>,
    /// Lookups for anonymizing, with the access rules they were read under; read again when
    /// the rules change or a batch changes permissions, provisioning or pairings.
    directory: Mutex<Option<(usize, Arc<Directory>)>>,
}

impl Recorder {
    /// Starts following the gateway's bus at once: nothing sent after this is missed, even
    /// before [`Self::run`] is polled.
    pub fn new(log: Arc<EventLog>, gateway: Arc<Gateway>) -> Self {
        let feed = gateway.event_feed();
        Self {
            log,
            gateway,
            feed: Mutex::new(Some(feed)),
            devices: Mutex::new(HashMap::new()),
            directory: Mutex::new(None),
        }
    }

    pub fn log(&self) -> &Arc<EventLog> {
        &self.log
    }

    /// Stores a batch of bus events; answers the sequence ids given. The public entry point
    /// for the task and for tests.
    pub fn record(&self, batch: Vec<GatewayEvent>) -> Result<Vec<u64>, EventsError> {
        let now = self.gateway.now_unix();
        let directory = self.directory(&batch)?;
        let devices = self.devices();
        let context = Context {
            now,
            directory: &directory,
            devices: &devices,
        };
        let mut pending = Vec::new();
        let mut reads = Vec::new();
        for event in batch {
            let (events, read) = translate(event, &context);
            pending.extend(events);
            reads.extend(read);
        }
        self.log.append(pending, reads, now)
    }

    /// Records until `shutdown`, then stores what is still waiting and returns. A supervised
    /// core task: it ends early only when run twice.
    pub async fn run(self, shutdown: CancellationToken) -> Result<(), EventsError> {
        let Some(mut feed) = lock(&self.feed).take() else {
            return Err(EventsError::StartedTwice);
        };
        let recorder = Arc::new(self);
        loop {
            let first = tokio::select! {
                () = shutdown.cancelled() => None,
                event = feed.recv() => event,
            };
            let Some(first) = first else {
                break;
            };
            let batch = take_waiting(&mut feed, first);
            recorder.store_batch(batch).await;
        }
        // What the gateway reported before it stopped still belongs in the log.
        while let Ok(first) = feed.try_recv() {
            let batch = take_waiting(&mut feed, first);
            recorder.store_batch(batch).await;
        }
        Ok(())
    }

    async fn store_batch(self: &Arc<Self>, batch: Vec<GatewayEvent>) {
        let count = batch.len();
        for retry in [false, true] {
            if retry {
                tokio::time::sleep(RETRY_PAUSE).await;
            }
            let recorder = self.clone();
            let kept = batch.clone();
            match tokio::task::spawn_blocking(move || recorder.record(kept)).await {
                Ok(Ok(_)) => return,
                // The events' content is never logged: it may name who acted.
                Ok(Err(error)) => tracing::warn!(%error, count, "activity log write failed"),
                Err(_) => tracing::warn!(count, "activity log write ended unexpectedly"),
            }
        }
        tracing::error!(count, "activity log events lost after a failed retry");
    }

    fn directory(&self, batch: &[GatewayEvent]) -> Result<Arc<Directory>, EventsError> {
        let rules = Arc::as_ptr(&self.gateway.rules()) as usize;
        let changes = batch.iter().any(|event| {
            matches!(
                event,
                GatewayEvent::PermissionChanged { .. }
                    | GatewayEvent::ProvisioningResult { .. }
                    | GatewayEvent::DeviceAdded { .. }
                    | GatewayEvent::DeviceRemoved { .. }
                    | GatewayEvent::Pairing { .. }
                    | GatewayEvent::DeviceLogEntries { .. }
            )
        });
        let mut cached = lock(&self.directory);
        if let Some((generation, directory)) = cached.as_ref() {
            if *generation == rules && !changes {
                return Ok(directory.clone());
            }
        }
        let own = self
            .gateway
            .devices(&Principal::Local)
            .into_iter()
            .filter_map(|view| {
                let own = self.gateway.own_authorization(&view.address)?;
                Some((view.address, own))
            })
            .collect();
        let directory = Arc::new(Directory::load(self.gateway.store(), own)?);
        *cached = Some((rules, directory.clone()));
        Ok(directory)
    }

    fn devices(&self) -> HashMap<DeviceAddress, DeviceRef> {
        let mut known = lock(&self.devices);
        for view in self.gateway.devices(&Principal::Local) {
            known.insert(
                view.address.clone(),
                DeviceRef {
                    smartlock_id: Some(view.id.0),
                    address: view.address.to_string(),
                    nuki_id: Some(view.nuki_id),
                },
            );
        }
        known.clone()
    }
}

/// `first` and whatever else is waiting, up to [`MAX_BATCH`].
fn take_waiting(
    feed: &mut mpsc::UnboundedReceiver<GatewayEvent>,
    first: GatewayEvent,
) -> Vec<GatewayEvent> {
    let mut batch = vec![first];
    while batch.len() < MAX_BATCH {
        match feed.try_recv() {
            Ok(event) => batch.push(event),
            Err(_) => break,
        }
    }
    batch
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}
