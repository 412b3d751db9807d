//! One open GATT link through BlueZ.

use std::pin::Pin;

use async_trait::async_trait;
use btleplug::api::{
    Central, CentralEvent, Characteristic, Peripheral as _, ValueNotification, WriteType,
};
use btleplug::platform::{Adapter, Peripheral, PeripheralId};
use futures::{Stream, StreamExt};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use uuid::Uuid;

use super::calls::{timed, CallLimits, Operation};
use crate::ble::{BleError, BleLink, DeviceAddress, Indication};

/// Indications waiting for the link layer; the device sends one message at a time, so this
/// only has to absorb a burst of fragments.
const INDICATION_QUEUE: usize = 64;

type LinkEvent = Result<Indication, BleError>;

pub struct BluezLink {
    peripheral: Peripheral,
    address: DeviceAddress,
    characteristics: Vec<Characteristic>,
    events: mpsc::Receiver<LinkEvent>,
    forwarder: JoinHandle<()>,
    open: bool,
    limits: CallLimits,
}

impl BluezLink {
    /// Takes over a connected peripheral whose services are discovered. On error the caller
    /// still owns the connection.
    pub(super) async fn open(
        adapter: &Adapter,
        peripheral: Peripheral,
        address: DeviceAddress,
        limits: CallLimits,
    ) -> Result<Self, BleError> {
        // Both streams open before any subscribe, so no indication or disconnect is missed.
        let notifications = timed(
            &limits,
            Operation::Notifications,
            Some(&address),
            peripheral.notifications(),
        )
        .await?;
        let adapter_events =
            timed(&limits, Operation::Events, Some(&address), adapter.events()).await?;
        let (sender, events) = mpsc::channel(INDICATION_QUEUE);
        let forwarder = tokio::spawn(forward_link_events(
            notifications,
            adapter_events,
            peripheral.id(),
            sender,
        ));
        Ok(Self {
            characteristics: peripheral.characteristics().into_iter().collect(),
            peripheral,
            address,
            events,
            forwarder,
            open: true,
            limits,
        })
    }

    fn characteristic(&self, uuid: Uuid) -> Result<Characteristic, BleError> {
        self.characteristics
            .iter()
            .find(|characteristic| characteristic.uuid == uuid)
            .cloned()
            .ok_or(BleError::NoSuchCharacteristic(uuid))
    }

    /// BlueZ reports a call on a dropped link as a generic failure; asking for the connection
    /// state tells the link layer the real reason.
    async fn explain<T>(&self, result: Result<T, BleError>) -> Result<T, BleError> {
        let Err(error) = result else { return result };
        let state = self.peripheral.is_connected();
        match timed(
            &self.limits,
            Operation::ConnectionState,
            Some(&self.address),
            state,
        )
        .await
        {
            Ok(false) => Err(BleError::Disconnected),
            _ => Err(error),
        }
    }
}

#[async_trait]
impl BleLink for BluezLink {
    fn characteristics(&self) -> Vec<Uuid> {
        self.characteristics
            .iter()
            .map(|characteristic| characteristic.uuid)
            .collect()
    }

    async fn subscribe(&mut self, characteristic: Uuid) -> Result<(), BleError> {
        let characteristic = self.characteristic(characteristic)?;
        // StartNotify: BlueZ writes the CCCD and confirms each indication itself.
        let subscribed = self.peripheral.subscribe(&characteristic);
        let result = timed(
            &self.limits,
            Operation::Subscribe,
            Some(&self.address),
            subscribed,
        )
        .await;
        self.explain(result).await
    }

    async fn write(&mut self, characteristic: Uuid, value: &[u8]) -> Result<(), BleError> {
        let characteristic = self.characteristic(characteristic)?;
        // With response: BlueZ turns a value longer than the MTU allows into a long write.
        let written = self
            .peripheral
            .write(&characteristic, value, WriteType::WithResponse);
        let result = timed(&self.limits, Operation::Write, Some(&self.address), written).await;
        self.explain(result).await
    }

    async fn next_indication(&mut self) -> Result<Indication, BleError> {
        // The forwarder ends after reporting a lost link, so a closed queue means the same.
        self.events
            .recv()
            .await
            .unwrap_or(Err(BleError::Disconnected))
    }

    async fn disconnect(&mut self) -> Result<(), BleError> {
        self.open = false;
        self.forwarder.abort();
        timed(
            &self.limits,
            Operation::Disconnect,
            Some(&self.address),
            self.peripheral.disconnect(),
        )
        .await
    }
}

impl Drop for BluezLink {
    fn drop(&mut self) {
        self.forwarder.abort();
        if !self.open {
            return;
        }
        // A forgotten link would keep the device busy (it accepts a single connection) and
        // drain its battery, so close it in the background.
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            let peripheral = self.peripheral.clone();
            let address = self.address.clone();
            let limits = self.limits;
            runtime.spawn(async move { disconnect_quietly(&peripheral, &address, &limits).await });
        }
    }
}

/// Best-effort disconnect where nobody can act on a failure.
pub(super) async fn disconnect_quietly(
    peripheral: &Peripheral,
    address: &DeviceAddress,
    limits: &CallLimits,
) {
    if let Err(error) = timed(
        limits,
        Operation::Disconnect,
        Some(address),
        peripheral.disconnect(),
    )
    .await
    {
        tracing::debug!(%address, %error, "disconnect failed");
    }
}

/// Moves indications into the link's queue (so `next_indication` is cancel-safe) and ends the
/// queue with `Disconnected` when BlueZ reports the link gone.
async fn forward_link_events(
    mut notifications: Pin<Box<dyn Stream<Item = ValueNotification> + Send>>,
    mut adapter_events: Pin<Box<dyn Stream<Item = CentralEvent> + Send>>,
    peripheral: PeripheralId,
    queue: mpsc::Sender<LinkEvent>,
) {
    loop {
        let event = tokio::select! {
            // Indications that arrived before the disconnect are delivered first.
            biased;
            notification = notifications.next() => match notification {
                Some(notification) => Ok(Indication {
                    characteristic: notification.uuid,
                    value: notification.value,
                }),
                None => Err(BleError::Disconnected),
            },
            event = adapter_events.next() => match event {
                Some(CentralEvent::DeviceDisconnected(id)) if id == peripheral => {
                    Err(BleError::Disconnected)
                }
                // Any power change of the adapter ends its links; after a bluetoothd restart
                // this (the new adapter powering up) is the only word about it on D-Bus.
                Some(CentralEvent::StateUpdate(_)) => Err(BleError::Disconnected),
                Some(_) => continue,
                None => Err(BleError::Disconnected),
            },
        };
        let lost = event.is_err();
        if queue.send(event).await.is_err() || lost {
            return;
        }
    }
}
