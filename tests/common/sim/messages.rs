//! Small builders and readers of protocol messages the simulator tests share.

use nuki_edge::nuki::command::CommandId;
use nuki_edge::nuki::enums::{DeviceAction, ErrorCode, LockAction, StatusCode};
use nuki_edge::nuki::messages::{self, Message, SetConfig};

pub fn error(code: ErrorCode, command: CommandId) -> Message {
    Message::ErrorReport { code, command }
}

pub fn lock_action(action: LockAction) -> Message {
    Message::LockAction {
        action: DeviceAction::Lock(action),
        app_id: 42,
        flags: 0,
        name_suffix: None,
    }
}

pub fn lock_state(message: &Message) -> Option<u8> {
    match message {
        Message::KeyturnerStates(states) => Some(states.lock_state.to_u8()),
        _ => None,
    }
}

pub fn states_of(messages: &[Message]) -> Vec<u8> {
    messages.iter().filter_map(lock_state).collect()
}

pub fn only(mut messages: Vec<Message>) -> Message {
    assert_eq!(messages.len(), 1, "one reply expected: {messages:?}");
    messages.remove(0)
}

pub fn complete() -> Vec<Message> {
    vec![Message::Status(StatusCode::Complete)]
}

pub fn set_config_from(config: &messages::LockConfig) -> Option<SetConfig> {
    Some(SetConfig::Lock(config.into()))
}
