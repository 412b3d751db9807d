//! Test and demo controls of the simulated building.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use super::{SimError, World};
use crate::ble::sim::device::{
    ControlError, Fault, KeypadOutcome, Outbound, SimDevice, SimSnapshot,
};
use crate::ble::sim::memory::DeviceMemory;
use crate::ble::DeviceAddress;
use crate::nuki::enums::IdType;
use crate::nuki::messages::{AuthorizationEntry, Config, KeypadCode, LogEntry};

/// Test and demo controls: buttons, faults, range, door, knob, snapshots. Never a path into
/// a link: the gateway must learn everything over the protocol.
#[derive(Clone)]
pub struct SimControl {
    pub(super) world: Arc<World>,
}

impl SimControl {
    pub(super) fn new(world: Arc<World>) -> Self {
        Self { world }
    }

    fn with_device<T>(
        &self,
        address: &DeviceAddress,
        action: impl FnOnce(&mut SimDevice, Duration) -> Result<(T, Vec<Outbound>), ControlError>,
    ) -> Result<T, SimError> {
        let node = self.world.node(address)?;
        let result = {
            let mut state = node.lock();
            let now = node.now();
            node.catch_up(&mut state, now);
            let (value, out) = action(&mut state.device, now)?;
            node.deliver(&mut state, out, now);
            value
        };
        node.wake.notify_one();
        Ok(result)
    }

    /// Every simulated address.
    pub fn addresses(&self) -> Vec<DeviceAddress> {
        self.world.nodes.keys().cloned().collect()
    }

    /// Holds the button: pairing mode for the spec's timeout. False when the device's Config
    /// disables pairing (or it is rebooting).
    pub fn press_button(&self, address: &DeviceAddress) -> Result<bool, SimError> {
        self.with_device(address, |device, now| {
            Ok((device.press_button(now), Vec::new()))
        })
    }

    pub fn inject_fault(&self, address: &DeviceAddress, fault: Fault) -> Result<(), SimError> {
        self.with_device(address, |device, _| {
            device.inject_fault(fault);
            Ok(((), Vec::new()))
        })
    }

    /// Moves the device out of (or back into) radio range. Leaving range drops an open link
    /// and stops advertisements.
    pub fn set_in_range(&self, address: &DeviceAddress, in_range: bool) -> Result<(), SimError> {
        let node = self.world.node(address)?;
        {
            let mut state = node.lock();
            let now = node.now();
            node.catch_up(&mut state, now);
            state.in_range = in_range;
            if !in_range {
                node.drop_link(&mut state, now, now);
            }
        }
        node.wake.notify_one();
        Ok(())
    }

    /// The door sensor sees the door open or closed.
    pub fn set_door(&self, address: &DeviceAddress, open: bool) -> Result<(), SimError> {
        self.with_device(address, |device, now| Ok(((), device.set_door(open, now)?)))
    }

    /// The device's keypad reports a critical (or a replaced) battery.
    pub fn set_keypad_battery_critical(
        &self,
        address: &DeviceAddress,
        critical: bool,
    ) -> Result<(), SimError> {
        self.with_device(address, |device, now| {
            Ok(((), device.set_keypad_battery_critical(critical, now)?))
        })
    }

    /// A manual turn of the knob or key (trigger "manual"), with a §5.3 action byte.
    pub fn manual_action(&self, address: &DeviceAddress, action: u8) -> Result<(), SimError> {
        self.with_device(address, |device, now| {
            Ok(((), device.manual_action(action, now)?))
        })
    }

    /// Opener: someone rings the doorbell.
    pub fn ring_doorbell(&self, address: &DeviceAddress) -> Result<(), SimError> {
        self.with_device(address, |device, now| Ok(((), device.ring_doorbell(now)?)))
    }

    /// Somebody types `code` on the device's keypad (the device needs one); the device
    /// checks it as it checks every keypad code, its time window included.
    pub fn enter_keypad_code(
        &self,
        address: &DeviceAddress,
        code: u32,
    ) -> Result<KeypadOutcome, SimError> {
        self.with_device(address, |device, now| device.enter_keypad_code(code, now))
    }

    /// The keypad codes the device holds.
    pub fn keypad_codes(&self, address: &DeviceAddress) -> Result<Vec<KeypadCode>, SimError> {
        self.with_device(address, |device, _| Ok((device.keypad_codes(), Vec::new())))
    }

    /// The authorization entries the device holds, with their time windows.
    pub fn authorization_entries(
        &self,
        address: &DeviceAddress,
    ) -> Result<Vec<AuthorizationEntry>, SimError> {
        self.with_device(address, |device, _| {
            Ok((device.authorization_entries(), Vec::new()))
        })
    }

    /// The Config the device would report now.
    pub fn config(&self, address: &DeviceAddress) -> Result<Config, SimError> {
        self.with_device(address, |device, now| Ok((device.config(now), Vec::new())))
    }

    /// Sets the device's clock to `unix` (UTC seconds); it runs on from there.
    pub fn set_wall_clock(&self, address: &DeviceAddress, unix: i64) -> Result<(), SimError> {
        self.with_device(address, |device, now| {
            device.set_wall_clock(unix, now)?;
            Ok(((), Vec::new()))
        })
    }

    /// Somebody pairs an app or fob with the device in the Nuki app (the gateway never sees
    /// its key); answers the new authorization id.
    pub fn add_authorization(
        &self,
        address: &DeviceAddress,
        name: &str,
        id_type: IdType,
    ) -> Result<u32, SimError> {
        self.with_device(address, |device, now| {
            Ok((device.add_authorization(name, id_type, now)?, Vec::new()))
        })
    }

    pub fn snapshot(&self, address: &DeviceAddress) -> Result<SimSnapshot, SimError> {
        self.with_device(address, |device, _| Ok((device.snapshot(), Vec::new())))
    }

    /// The index the device gives its next log entry: near `u32::MAX` to see its counter
    /// wrap, 1 to act out a counter reset.
    pub fn set_next_log_index(&self, address: &DeviceAddress, index: u32) -> Result<(), SimError> {
        self.with_device(address, |device, _| {
            device.set_next_log_index(index);
            Ok(((), Vec::new()))
        })
    }

    /// Appends `count` logged manual turns at once (a log that filled up while nobody read
    /// it); raises the state-changed flag.
    pub fn append_log_entries(
        &self,
        address: &DeviceAddress,
        count: usize,
    ) -> Result<(), SimError> {
        self.with_device(address, |device, now| {
            device.append_log_entries(count, now);
            Ok(((), Vec::new()))
        })
    }

    /// Every entry of the device's log, oldest first.
    pub fn log_entries(&self, address: &DeviceAddress) -> Result<Vec<LogEntry>, SimError> {
        self.with_device(address, |device, _| Ok((device.log_entries(), Vec::new())))
    }

    /// The non-volatile memory of every device, by address.
    pub fn memories(&self) -> BTreeMap<DeviceAddress, DeviceMemory> {
        self.world
            .nodes
            .iter()
            .map(|(address, node)| (address.clone(), node.lock().device.memory()))
            .collect()
    }

    /// Powers a device up with remembered memory (call before any link is opened).
    pub fn restore(&self, address: &DeviceAddress, memory: &DeviceMemory) -> Result<(), SimError> {
        self.with_device(address, |device, _| {
            device.restore(memory);
            Ok(((), Vec::new()))
        })
    }
}

impl std::fmt::Debug for SimControl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SimControl")
            .field("devices", &self.world.nodes.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}
