//! `lockActionEvent` and the retained `lastAction` from the activity log's entries: every
//! lock action on a device, through the gateway or from the device's own log (keypad, a turn
//! by hand, the button, auto lock). The log is anonymized already, and so is the line:
//! authId and codeId are always 0.

use crate::events::{Actor, EventKind, OutcomeResult, StoredEvent};
use crate::nuki::enums::{LockAction, OpenerAction};

use super::message::Message;
use super::state::EventTrigger;
use super::topics::{self, Topics};

/// The completion of a device log entry that did what it says.
const COMPLETED: &str = "success";
/// The principal's name actions over MQTT are recorded with.
const MQTT_ACTOR: &str = super::client::MQTT_PRINCIPAL;

/// `extra` of a keypad action (Nuki MQTT API): the arrow (back) key, a code, a fingerprint.
const KEYPAD_BACK_KEY: u8 = 0;
const KEYPAD_CODE: u8 = 1;
const KEYPAD_FINGERPRINT: u8 = 2;

/// The messages of one stored event: `lockActionEvent` and the retained `lastAction` when
/// it is a lock action that happened on a known device; nothing otherwise.
pub fn log_action_messages(topics: &Topics, stored: &StoredEvent) -> Vec<Message> {
    let Some(line) = lock_action_line(stored) else {
        return Vec::new();
    };
    vec![
        Message::transient(
            topics.device(line.nuki_id, topics::LOCK_ACTION_EVENT),
            format!("{},{},0,0,{}", line.action, line.trigger.id(), line.extra),
        ),
        Message::retained(
            topics.device(line.nuki_id, topics::LAST_ACTION),
            line.action_name,
        ),
    ]
}

struct LockActionLine {
    nuki_id: u32,
    action: u8,
    action_name: String,
    trigger: EventTrigger,
    extra: u8,
}

fn lock_action_line(stored: &StoredEvent) -> Option<LockActionLine> {
    let event = &stored.event;
    let nuki_id = event.device.as_ref()?.nuki_id?;
    let action_name = event.action.as_deref()?;
    let action = action_number(action_name)?;
    let (trigger, extra) = match event.kind {
        EventKind::Action => {
            let succeeded = event
                .outcome
                .as_ref()
                .is_some_and(|outcome| outcome.result == OutcomeResult::Success);
            if !succeeded {
                return None;
            }
            let trigger = match &event.actor {
                Some(Actor::Integration { name }) if name == MQTT_ACTOR => EventTrigger::Mqtt,
                _ => EventTrigger::System,
            };
            (trigger, 0)
        }
        EventKind::DeviceAction => {
            if event
                .completion
                .as_deref()
                .is_some_and(|done| done != COMPLETED)
            {
                return None;
            }
            match event.source.as_deref() {
                Some("keypad") => {
                    // The back key locks without a code: the only keypad action by nobody.
                    let extra = if event.actor == Some(Actor::Device) {
                        KEYPAD_BACK_KEY
                    } else {
                        KEYPAD_CODE
                    };
                    (EventTrigger::Keypad, extra)
                }
                Some("fingerprint") => (EventTrigger::Keypad, KEYPAD_FINGERPRINT),
                _ => (trigger_of(event.trigger.as_deref()?)?, 0),
            }
        }
        _ => return None,
    };
    Some(LockActionLine {
        nuki_id,
        action,
        action_name: action_name.to_owned(),
        trigger,
        extra,
    })
}

/// The action's number; the names of smart lock and Opener actions differ where their
/// numbers do.
fn action_number(name: &str) -> Option<u8> {
    LockAction::from_name(name)
        .map(LockAction::to_u8)
        .or_else(|| OpenerAction::from_name(name).map(OpenerAction::to_u8))
}

fn trigger_of(name: &str) -> Option<EventTrigger> {
    Some(match name {
        "system" => EventTrigger::System,
        "manual" => EventTrigger::Manual,
        "button" => EventTrigger::Button,
        "automatic" => EventTrigger::Automatic,
        "auto_lock" => EventTrigger::AutoLock,
        "homekit" => EventTrigger::HomeKit,
        "mqtt" => EventTrigger::Mqtt,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::{DeviceRef, Event, Outcome};

    fn stored(kind: EventKind, edit: impl FnOnce(&mut Event)) -> StoredEvent {
        let mut event = Event::new(kind, 1_800_000_000, 1_800_000_000);
        event.device = Some(DeviceRef {
            smartlock_id: Some(7),
            address: "sim:flat-4".to_owned(),
            nuki_id: Some(0x2FFF_94F4),
        });
        edit(&mut event);
        StoredEvent { id: 1, event }
    }

    fn payloads(stored: &StoredEvent) -> Vec<(String, String, bool)> {
        log_action_messages(&Topics::new("nuki", "homeassistant"), stored)
            .into_iter()
            .map(|message| (message.topic, message.payload, message.retain))
            .collect()
    }

    #[test]
    fn a_manual_turn_names_nobody_and_sets_the_last_action() {
        let turn = stored(EventKind::DeviceAction, |event| {
            event.action = Some("lock".to_owned());
            event.trigger = Some("manual".to_owned());
            event.completion = Some("success".to_owned());
            event.actor = Some(Actor::Device);
        });
        assert_eq!(
            payloads(&turn),
            vec![
                (
                    "nuki/2FFF94F4/lockActionEvent".to_owned(),
                    "2,1,0,0,0".to_owned(),
                    false
                ),
                (
                    "nuki/2FFF94F4/lastAction".to_owned(),
                    "lock".to_owned(),
                    true
                ),
            ]
        );
    }

    #[test]
    fn actions_through_the_gateway_say_mqtt_or_system_and_only_when_done() {
        let over_mqtt = stored(EventKind::Action, |event| {
            event.action = Some("unlock".to_owned());
            event.actor = Some(Actor::Integration {
                name: "mqtt".to_owned(),
            });
            event.outcome = Some(Outcome {
                result: OutcomeResult::Success,
                reason: None,
            });
        });
        assert_eq!(payloads(&over_mqtt)[0].1, "1,172,0,0,0");
        let mut by_resident = over_mqtt.clone();
        by_resident.event.actor = Some(Actor::Resident);
        assert_eq!(payloads(&by_resident)[0].1, "1,0,0,0,0");
        let mut denied = by_resident.clone();
        denied.event.outcome = Some(Outcome {
            result: OutcomeResult::Denied,
            reason: Some("no right".to_owned()),
        });
        assert!(payloads(&denied).is_empty());
    }

    #[test]
    fn keypad_actions_tell_the_source_but_never_the_code() {
        let code = stored(EventKind::DeviceAction, |event| {
            event.action = Some("unlock".to_owned());
            event.source = Some("keypad".to_owned());
            event.completion = Some("success".to_owned());
            event.actor = Some(Actor::Resident);
        });
        assert_eq!(payloads(&code)[0].1, "1,255,0,0,1");
        let mut wrong = code.clone();
        wrong.event.completion = Some("invalid_code".to_owned());
        assert!(payloads(&wrong).is_empty());
    }

    #[test]
    fn other_events_publish_nothing() {
        let state = stored(EventKind::StateChanged, |event| {
            event.trigger = Some("manual".to_owned());
        });
        assert!(payloads(&state).is_empty());
        let requested = stored(EventKind::ActionRequested, |event| {
            event.action = Some("unlock".to_owned());
        });
        assert!(payloads(&requested).is_empty());
    }
}
