//! One GATT link through a proxy: connect, discover, then requests each answered by the
//! proxy's response for that handle, with indications queued in between.

use std::collections::VecDeque;
use std::sync::Arc;

use async_trait::async_trait;
use esphome_native_api::parser::ProtoMessage;
use esphome_native_api::proto::{
    BluetoothDeviceRequest, BluetoothDeviceRequestType, BluetoothGattGetServicesRequest,
    BluetoothGattNotifyRequest, BluetoothGattService, BluetoothGattWriteDescriptorRequest,
    BluetoothGattWriteRequest,
};
use tokio::sync::{mpsc, watch};
use uuid::Uuid;

use super::convert;
use super::limits::{timed, CallLimits, Operation};
use super::session::{Session, FEATURE_REMOTE_CACHING};
use crate::ble::{BleError, BleLink, DeviceAddress, Indication, SlotReport};

const PROPERTY_NOTIFY: u32 = 0x10;
const PROPERTY_INDICATE: u32 = 0x20;
const CCCD: u32 = 0x2902;
const CCCD_INDICATE: [u8; 2] = [0x02, 0x00];
const CCCD_NOTIFY: [u8; 2] = [0x01, 0x00];

/// What a link needs to know of its proxy.
#[derive(Clone)]
pub(super) struct LinkContext {
    pub proxy: String,
    pub limits: CallLimits,
    pub slots: watch::Receiver<SlotReport>,
}

#[derive(Debug, Clone)]
struct Characteristic {
    uuid: Uuid,
    handle: u32,
    properties: u32,
    cccd: Option<u32>,
}

pub struct EsphomeLink {
    session: Arc<Session>,
    context: LinkContext,
    address: DeviceAddress,
    api_address: u64,
    events: mpsc::UnboundedReceiver<ProtoMessage>,
    characteristics: Vec<Characteristic>,
    indications: VecDeque<Indication>,
    /// V3 connections leave the CCCD to the client; legacy ones write it in the proxy.
    writes_cccd: bool,
    /// The proxy reported the device connected; a later "not connected" means the link is lost.
    established: bool,
    lost: bool,
    open: bool,
}

impl EsphomeLink {
    pub(super) async fn open(
        session: Arc<Session>,
        context: LinkContext,
        address: DeviceAddress,
        api_address: u64,
        address_type: Option<u32>,
    ) -> Result<Self, BleError> {
        let events = session
            .route(api_address)
            .ok_or_else(|| BleError::ConnectFailed {
                address: address.clone(),
                reason: format!(
                    "ESPHome proxy {}: a link to this device is already open",
                    context.proxy
                ),
            })?;
        let writes_cccd = session.features() & FEATURE_REMOTE_CACHING != 0;
        let mut link = Self {
            session,
            context,
            address,
            api_address,
            events,
            characteristics: Vec::new(),
            indications: VecDeque::new(),
            writes_cccd,
            established: false,
            lost: false,
            // From here on a drop (a caller giving up) cancels the attempt at the proxy.
            open: true,
        };
        let request_type = match writes_cccd {
            true => BluetoothDeviceRequestType::ConnectV3WithoutCache,
            false => BluetoothDeviceRequestType::Connect,
        };
        link.send(ProtoMessage::BluetoothDeviceRequest(
            BluetoothDeviceRequest {
                address: api_address,
                request_type: request_type as i32,
                has_address_type: address_type.is_some(),
                address_type: address_type.unwrap_or(0),
            },
        ))
        .await?;
        let limits = link.context.limits;
        timed(&limits, Operation::Connect, link.await_connection()).await?;
        link.send(ProtoMessage::BluetoothGattGetServicesRequest(
            BluetoothGattGetServicesRequest {
                address: api_address,
            },
        ))
        .await?;
        let services = timed(&limits, Operation::DiscoverServices, link.await_services()).await?;
        link.characteristics = characteristics_of(&services);
        Ok(link)
    }

    async fn await_connection(&mut self) -> Result<(), BleError> {
        loop {
            let message = self.next_event().await?;
            if let ProtoMessage::BluetoothDeviceConnectionResponse(response) = message {
                if response.connected {
                    self.established = true;
                    return Ok(());
                }
                // The proxy released the attempt; no disconnect to send.
                self.open = false;
                return Err(self.refusal(response.error));
            }
        }
    }

    fn refusal(&self, error: i32) -> BleError {
        let slots = *self.context.slots.borrow();
        let reason = if slots.free == 0 && slots.limit > 0 {
            format!(
                "ESPHome proxy {}: no free connection slot (0 of {} free; proxy error {error})",
                self.context.proxy, slots.limit
            )
        } else {
            format!(
                "ESPHome proxy {}: the proxy could not connect (error {error})",
                self.context.proxy
            )
        };
        BleError::ConnectFailed {
            address: self.address.clone(),
            reason,
        }
    }

    async fn await_services(&mut self) -> Result<Vec<BluetoothGattService>, BleError> {
        let mut services = Vec::new();
        loop {
            match self.next_event().await? {
                ProtoMessage::BluetoothGattGetServicesResponse(response) => {
                    services.extend(response.services);
                }
                ProtoMessage::BluetoothGattGetServicesDoneResponse(_) => return Ok(services),
                ProtoMessage::BluetoothGattErrorResponse(error) => {
                    return Err(self.gatt_failure("service discovery", error.error));
                }
                _ => {}
            }
        }
    }

    /// The next message about this device other than an indication.
    async fn next_event(&mut self) -> Result<ProtoMessage, BleError> {
        loop {
            if let Some(message) = self.take_event().await? {
                return Ok(message);
            }
        }
    }

    /// Takes one message off the queue: indications are queued (`None`), a reported
    /// disconnect or the end of the API connection fail with `Disconnected`. Cancel-safe.
    async fn take_event(&mut self) -> Result<Option<ProtoMessage>, BleError> {
        if self.lost {
            return Err(BleError::Disconnected);
        }
        let Some(message) = self.events.recv().await else {
            self.lost = true;
            self.open = false;
            return Err(BleError::Disconnected);
        };
        match message {
            ProtoMessage::BluetoothDeviceConnectionResponse(response)
                if !response.connected && self.established =>
            {
                self.lost = true;
                self.open = false;
                Err(BleError::Disconnected)
            }
            ProtoMessage::BluetoothGattNotifyDataResponse(data) => {
                if let Some(uuid) = self.uuid_of(data.handle) {
                    self.indications.push_back(Indication {
                        characteristic: uuid,
                        value: data.data,
                    });
                }
                Ok(None)
            }
            message => Ok(Some(message)),
        }
    }

    /// Waits for the proxy's answer to a request on `handle`.
    async fn await_answer(&mut self, handle: u32, what: &str) -> Result<(), BleError> {
        loop {
            match self.next_event().await? {
                ProtoMessage::BluetoothGattWriteResponse(m) if m.handle == handle => return Ok(()),
                ProtoMessage::BluetoothGattNotifyResponse(m) if m.handle == handle => return Ok(()),
                ProtoMessage::BluetoothGattErrorResponse(m) if m.handle == handle => {
                    return Err(self.gatt_failure(what, m.error));
                }
                _ => {}
            }
        }
    }

    fn gatt_failure(&self, what: &str, code: i32) -> BleError {
        BleError::Adapter(format!(
            "ESPHome proxy {}: {what} on {} failed with GATT error {code}",
            self.context.proxy, self.address
        ))
    }

    async fn send(&mut self, message: ProtoMessage) -> Result<(), BleError> {
        if self.lost {
            return Err(BleError::Disconnected);
        }
        if self.session.send(message).await {
            Ok(())
        } else {
            self.lost = true;
            self.open = false;
            Err(BleError::Disconnected)
        }
    }

    fn uuid_of(&self, handle: u32) -> Option<Uuid> {
        self.characteristics
            .iter()
            .find(|c| c.handle == handle)
            .map(|c| c.uuid)
    }

    fn characteristic(&self, uuid: Uuid) -> Result<Characteristic, BleError> {
        self.characteristics
            .iter()
            .find(|c| c.uuid == uuid)
            .cloned()
            .ok_or(BleError::NoSuchCharacteristic(uuid))
    }

    fn disconnect_request(&self) -> ProtoMessage {
        ProtoMessage::BluetoothDeviceRequest(BluetoothDeviceRequest {
            address: self.api_address,
            request_type: BluetoothDeviceRequestType::Disconnect as i32,
            ..Default::default()
        })
    }

    async fn subscribe_inner(&mut self, target: Characteristic) -> Result<(), BleError> {
        self.send(ProtoMessage::BluetoothGattNotifyRequest(
            BluetoothGattNotifyRequest {
                address: self.api_address,
                handle: target.handle,
                enable: true,
            },
        ))
        .await?;
        self.await_answer(target.handle, "enabling indications")
            .await?;
        let (true, Some(cccd)) = (self.writes_cccd, target.cccd) else {
            return Ok(());
        };
        let value = match target.properties & PROPERTY_INDICATE != 0 {
            true => CCCD_INDICATE,
            false => CCCD_NOTIFY,
        };
        self.send(ProtoMessage::BluetoothGattWriteDescriptorRequest(
            BluetoothGattWriteDescriptorRequest {
                address: self.api_address,
                handle: cccd,
                data: value.to_vec(),
            },
        ))
        .await?;
        self.await_answer(cccd, "writing the CCCD").await
    }
}

fn characteristics_of(services: &[BluetoothGattService]) -> Vec<Characteristic> {
    services
        .iter()
        .flat_map(|service| &service.characteristics)
        .filter_map(|c| {
            let uuid = convert::api_uuid(&c.uuid, c.short_uuid)?;
            let cccd = c
                .descriptors
                .iter()
                .find(|d| {
                    convert::api_uuid(&d.uuid, d.short_uuid) == Some(convert::short_uuid(CCCD))
                })
                .map(|d| d.handle);
            Some(Characteristic {
                uuid,
                handle: c.handle,
                properties: c.properties,
                cccd,
            })
        })
        .collect()
}

#[async_trait]
impl BleLink for EsphomeLink {
    fn characteristics(&self) -> Vec<Uuid> {
        self.characteristics.iter().map(|c| c.uuid).collect()
    }

    async fn subscribe(&mut self, characteristic: Uuid) -> Result<(), BleError> {
        let target = self.characteristic(characteristic)?;
        if target.properties & (PROPERTY_NOTIFY | PROPERTY_INDICATE) == 0 {
            return Err(BleError::Adapter(format!(
                "ESPHome proxy {}: characteristic {characteristic} of {} cannot indicate",
                self.context.proxy, self.address
            )));
        }
        let limits = self.context.limits;
        timed(&limits, Operation::Subscribe, self.subscribe_inner(target)).await
    }

    async fn write(&mut self, characteristic: Uuid, value: &[u8]) -> Result<(), BleError> {
        let target = self.characteristic(characteristic)?;
        let limits = self.context.limits;
        timed(&limits, Operation::Write, async {
            // With response: the proxy's ESP-IDF turns a value longer than the MTU allows into
            // a long write.
            self.send(ProtoMessage::BluetoothGattWriteRequest(
                BluetoothGattWriteRequest {
                    address: self.api_address,
                    handle: target.handle,
                    response: true,
                    data: value.to_vec(),
                },
            ))
            .await?;
            self.await_answer(target.handle, "write").await
        })
        .await
    }

    async fn next_indication(&mut self) -> Result<Indication, BleError> {
        // Cancel-safe: a message taken off the queue is handled before the next await.
        loop {
            if let Some(indication) = self.indications.pop_front() {
                return Ok(indication);
            }
            // Answers nobody waits for (a late one after a timeout) are dropped here.
            self.take_event().await?;
        }
    }

    async fn disconnect(&mut self) -> Result<(), BleError> {
        if !self.open {
            self.session.unroute(self.api_address);
            return Ok(());
        }
        let request = self.disconnect_request();
        self.send(request).await?;
        self.open = false;
        let limits = self.context.limits;
        let confirmed = timed(&limits, Operation::Disconnect, async {
            loop {
                if let ProtoMessage::BluetoothDeviceConnectionResponse(r) =
                    self.next_event().await?
                {
                    if !r.connected {
                        return Ok(());
                    }
                }
            }
        })
        .await;
        self.lost = true;
        self.session.unroute(self.api_address);
        match confirmed {
            // The link is gone either way once the API connection is.
            Err(BleError::Disconnected) => Ok(()),
            other => other,
        }
    }
}

impl Drop for EsphomeLink {
    fn drop(&mut self) {
        // A forgotten link would keep the lock busy and hold one of the proxy's few slots.
        if self.open {
            self.session.send_now(self.disconnect_request());
        }
        self.session.unroute(self.api_address);
    }
}
