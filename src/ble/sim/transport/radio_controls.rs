//! Test controls of the positioned radios: power, where devices stand, what a radio hears.

use super::{SimControl, SimError};
use crate::ble::sim::path_loss::Position;
use crate::ble::{DeviceAddress, RadioId};

impl SimControl {
    /// The positioned radios, by name.
    pub fn radios(&self) -> Vec<RadioId> {
        self.world.radios().keys().cloned().collect()
    }

    /// Powers a radio off (it hears nothing, its open links drop, connects through it fail at
    /// once) or back on.
    pub fn set_radio_up(&self, radio: &RadioId, up: bool) -> Result<(), SimError> {
        let mut radios = self.world.radios();
        let state = radios
            .get_mut(radio)
            .ok_or_else(|| SimError::UnknownRadio(radio.clone()))?;
        state.up = up;
        if up {
            return Ok(());
        }
        // Still holding the radios: a connect through this radio cannot slip in meanwhile.
        for node in self.world.nodes.values() {
            let dropped = {
                let mut node_state = node.lock();
                let through_radio = node_state
                    .link
                    .as_ref()
                    .is_some_and(|port| port.radio.as_ref() == Some(radio));
                if through_radio {
                    let now = node.now();
                    node.catch_up(&mut node_state, now);
                    node.drop_link(&mut node_state, now, now);
                }
                through_radio
            };
            if dropped {
                node.wake.notify_one();
            }
        }
        Ok(())
    }

    /// Moves a device. An open link stays up; what radios hear and connect to follows the
    /// new position.
    pub fn move_device(&self, address: &DeviceAddress, position: Position) -> Result<(), SimError> {
        let node = self.world.node(address)?;
        node.lock().position = Some(position);
        Ok(())
    }

    /// The RSSI (dBm, before jitter) `radio` hears from the device now; `None` when it does
    /// not hear it at all (too far, or the radio is off).
    pub fn rssi_at(
        &self,
        radio: &RadioId,
        address: &DeviceAddress,
    ) -> Result<Option<i16>, SimError> {
        let radios = self.world.radios();
        let state = radios
            .get(radio)
            .ok_or_else(|| SimError::UnknownRadio(radio.clone()))?;
        let node = self.world.node(address)?;
        let node_state = node.lock();
        if !node_state.in_range {
            return Ok(None);
        }
        Ok(self.world.reception_by(state, &node_state).mean_rssi())
    }
}
