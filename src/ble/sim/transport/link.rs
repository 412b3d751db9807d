//! The central's end of a simulated link: writes cost air time, indications arrive one
//! fragment per connection interval, and the device side may end the link at any time.

use std::collections::VecDeque;
use std::sync::Arc;

use async_trait::async_trait;
use tokio::sync::mpsc;
use uuid::Uuid;

use super::{LinkEvent, Node};
use crate::ble::sim::device::Fault;
use crate::ble::{BleError, BleLink, Indication};

/// The central's end of a link to a simulated device.
pub struct SimLink {
    node: Arc<Node>,
    link_id: u64,
    characteristics: Vec<Uuid>,
    events: mpsc::UnboundedReceiver<LinkEvent>,
    /// Events received but not yet due, in time order.
    queue: VecDeque<LinkEvent>,
    closed: bool,
    /// The device side has ended the link; only queued events remain.
    device_gone: bool,
}

impl SimLink {
    pub(super) fn new(
        node: Arc<Node>,
        link_id: u64,
        characteristics: Vec<Uuid>,
        events: mpsc::UnboundedReceiver<LinkEvent>,
    ) -> Self {
        Self {
            node,
            link_id,
            characteristics,
            events,
            queue: VecDeque::new(),
            closed: false,
            device_gone: false,
        }
    }

    fn check_characteristic(&self, characteristic: Uuid) -> Result<(), BleError> {
        if self.characteristics.contains(&characteristic) {
            Ok(())
        } else {
            Err(BleError::NoSuchCharacteristic(characteristic))
        }
    }

    fn absorb(&mut self, event: LinkEvent) {
        if let LinkEvent::Dropped { at } = event {
            // What the radio had not sent yet when the link dropped is lost.
            self.queue.retain(|queued| queued.at() <= at);
        }
        self.queue.push_back(event);
    }

    fn release(&mut self) {
        if self.closed {
            return;
        }
        self.closed = true;
        let mut state = self.node.lock();
        if Node::link_alive(&state, self.link_id) {
            state.link = None;
            let now = self.node.now();
            state.device.on_disconnect(now);
        }
    }
}

#[async_trait]
impl BleLink for SimLink {
    fn characteristics(&self) -> Vec<Uuid> {
        self.characteristics.clone()
    }

    async fn subscribe(&mut self, characteristic: Uuid) -> Result<(), BleError> {
        self.check_characteristic(characteristic)?;
        if self.closed {
            return Err(BleError::Disconnected);
        }
        // Writing the CCCD takes one packet.
        tokio::time::sleep(self.node.radio.write_time(2)).await;
        let mut state = self.node.lock();
        match state.link.as_mut() {
            Some(port) if port.id == self.link_id => {
                port.subscribed.insert(characteristic);
                Ok(())
            }
            _ => Err(BleError::Disconnected),
        }
    }

    async fn write(&mut self, characteristic: Uuid, value: &[u8]) -> Result<(), BleError> {
        self.check_characteristic(characteristic)?;
        if self.closed || !Node::link_alive(&self.node.lock(), self.link_id) {
            return Err(BleError::Disconnected);
        }
        tokio::time::sleep(self.node.radio.write_time(value.len())).await;
        let node = Arc::clone(&self.node);
        {
            let mut state = node.lock();
            if !Node::link_alive(&state, self.link_id) {
                return Err(BleError::Disconnected);
            }
            let now = node.now();
            node.catch_up(&mut state, now);
            if state.device.take_fault(Fault::NoAnswer) {
                return Ok(());
            }
            let drop_now = state.device.is_command(characteristic, value)
                && state.device.take_fault(Fault::DropLinkMidCommand);
            let out = state.device.on_write(characteristic, value, now);
            if drop_now {
                node.drop_link(&mut state, now, now);
            } else {
                node.deliver(&mut state, out, now);
                if state.device.take_disconnect_request() {
                    let at = state
                        .link
                        .as_ref()
                        .map_or(now, |port| port.air_free_at.max(now));
                    node.drop_link(&mut state, now, at);
                }
            }
        }
        node.wake.notify_one();
        Ok(())
    }

    async fn next_indication(&mut self) -> Result<Indication, BleError> {
        loop {
            if self.closed {
                return Err(BleError::Disconnected);
            }
            while let Ok(event) = self.events.try_recv() {
                self.absorb(event);
            }
            let now = self.node.now();
            match self.queue.front() {
                Some(event) if event.at() <= now => match self.queue.pop_front() {
                    Some(LinkEvent::Indication { indication, .. }) => return Ok(indication),
                    _ => {
                        self.closed = true;
                        return Err(BleError::Disconnected);
                    }
                },
                Some(event) => {
                    let due = self.node.instant(event.at());
                    if self.device_gone {
                        tokio::time::sleep_until(due).await;
                        continue;
                    }
                    tokio::select! {
                        _ = tokio::time::sleep_until(due) => {}
                        event = self.events.recv() => match event {
                            Some(event) => self.absorb(event),
                            None => self.device_gone = true,
                        },
                    }
                }
                None if self.device_gone => {
                    self.closed = true;
                    return Err(BleError::Disconnected);
                }
                None => match self.events.recv().await {
                    Some(event) => self.absorb(event),
                    None => self.device_gone = true,
                },
            }
        }
    }

    async fn disconnect(&mut self) -> Result<(), BleError> {
        self.release();
        self.node.wake.notify_one();
        Ok(())
    }
}

impl Drop for SimLink {
    fn drop(&mut self) {
        self.release();
    }
}

impl std::fmt::Debug for SimLink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SimLink")
            .field("link_id", &self.link_id)
            .field("closed", &self.closed)
            .finish_non_exhaustive()
    }
}
