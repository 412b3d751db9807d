//! The retained state topics of one device, in the numbers of Nuki's MQTT API (the same ids
//! as the Bridge API: lock state, mode, door sensor state, device type), and the
//! `lockActionEvent` line.

use crate::gateway::DeviceView;
use crate::nuki::bridge_numbers::{bridge_mode, bridge_state, bridge_time};
use crate::nuki::enums::{DeviceAction, DoorSensorState};
use crate::nuki::messages::KeyturnerStates;

use super::message::Message;
use super::topics::{self, Topics};

/// Everything the state topics of one device are built from.
#[derive(Debug, Clone, Copy)]
pub struct DeviceState<'a> {
    pub device: &'a DeviceView,
    /// The last state the device reported; `None` before its first report.
    pub states: Option<&'a KeyturnerStates>,
    /// Gateway up and the device answering over Bluetooth.
    pub connected: bool,
    /// When this update happens (Unix seconds, the gateway's time).
    pub now_unix: i64,
}

fn flag(value: bool) -> &'static str {
    if value {
        "true"
    } else {
        "false"
    }
}

/// Every retained state message of a device. Topics whose value is unknown (no report yet,
/// no door sensor, an Opener's charge state) are left out rather than published with a
/// made-up value. `firmware` is not published: the gateway does not read the firmware
/// version yet.
pub fn state_messages(topics: &Topics, state: &DeviceState<'_>) -> Vec<Message> {
    let id = state.device.nuki_id;
    let at = |leaf: &str| topics.device(id, leaf);
    let mut messages = vec![
        Message::retained(
            at(topics::DEVICE_TYPE),
            state
                .device
                .product
                .bridge_device_type()
                .to_u8()
                .to_string(),
        ),
        Message::retained(at(topics::NAME), state.device.name.clone()),
    ];
    if let Some(states) = state.states {
        let opener = state.device.product.is_opener();
        messages.push(Message::retained(
            at(topics::MODE),
            bridge_mode(states.nuki_state).to_string(),
        ));
        messages.push(Message::retained(
            at(topics::STATE),
            bridge_state(states.lock_state).0.to_string(),
        ));
        messages.push(Message::retained(
            at(topics::BATTERY_CRITICAL),
            flag(states.battery_critical()),
        ));
        if !opener {
            messages.push(Message::retained(
                at(topics::BATTERY_CHARGE_STATE),
                states.battery_percent().to_string(),
            ));
            messages.push(Message::retained(
                at(topics::BATTERY_CHARGING),
                flag(states.battery_charging()),
            ));
        }
        messages.push(Message::retained(
            at(topics::KEYPAD_BATTERY_CRITICAL),
            flag(states.keypad_battery_critical().unwrap_or(false)),
        ));
        if let Some(door) = door_sensor(states) {
            messages.push(Message::retained(
                at(topics::DOOR_SENSOR_STATE),
                door.to_u8().to_string(),
            ));
            messages.push(Message::retained(
                at(topics::DOOR_SENSOR_BATTERY_CRITICAL),
                flag(states.door_sensor_battery_critical().unwrap_or(false)),
            ));
        }
    }
    messages.push(Message::retained(
        at(topics::TIMESTAMP),
        bridge_time(state.now_unix),
    ));
    messages.push(connected_message(topics, id, state.connected));
    messages
}

/// A lock with a door sensor; `None` for Openers and locks without one.
pub fn door_sensor(states: &KeyturnerStates) -> Option<DoorSensorState> {
    states
        .door_sensor_state
        .filter(|door| *door != DoorSensorState::Unavailable)
}

pub fn connected_message(topics: &Topics, nuki_id: u32, connected: bool) -> Message {
    Message::retained(topics.device(nuki_id, topics::CONNECTED), flag(connected))
}

/// What triggered an action, in the numbering of `lockActionEvent` (Nuki MQTT API). Actions
/// through the gateway are `System` (Bluetooth: every interface but MQTT) or `Mqtt`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventTrigger {
    System,
    Manual,
    Button,
    Automatic,
    AutoLock,
    HomeKit,
    Mqtt,
    Keypad,
}

impl EventTrigger {
    pub fn id(self) -> u8 {
        match self {
            EventTrigger::System => 0,
            EventTrigger::Manual => 1,
            EventTrigger::Button => 2,
            EventTrigger::Automatic => 3,
            EventTrigger::AutoLock => 6,
            EventTrigger::HomeKit => 171,
            EventTrigger::Mqtt => 172,
            EventTrigger::Keypad => 255,
        }
    }
}

/// `lockActionEvent`: `action,trigger,authId,codeId,extra`. Anonymized: authId and codeId are
/// always 0, so nobody learns who acted; extra is 0 (no auto-unlock or keypad detail).
pub fn lock_action_event(
    topics: &Topics,
    nuki_id: u32,
    action: DeviceAction,
    trigger: EventTrigger,
) -> Message {
    Message::transient(
        topics.device(nuki_id, topics::LOCK_ACTION_EVENT),
        format!("{},{},0,0,0", action.to_u8(), trigger.id()),
    )
}

/// Empty retained payloads for every state topic of a device that was unpaired.
pub fn cleared_state(topics: &Topics, nuki_id: u32) -> Vec<Message> {
    topics::RETAINED_LEAVES
        .iter()
        .map(|leaf| Message::clear(topics.device(nuki_id, leaf)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nuki::enums::LockAction;

    #[test]
    fn lock_action_events_never_name_who_acted() {
        let topics = Topics::new("nuki", "homeassistant");
        let event = lock_action_event(
            &topics,
            0x2FFF94F4,
            DeviceAction::Lock(LockAction::Unlock),
            EventTrigger::Mqtt,
        );
        assert_eq!(event.topic, "nuki/2FFF94F4/lockActionEvent");
        assert_eq!(event.payload, "1,172,0,0,0");
        assert!(!event.retain);
    }
}
