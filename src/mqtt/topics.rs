//! The topic layout of Nuki's MQTT API: `<prefix>/<NUKI ID in 8 upper-case hex digits>/<leaf>`,
//! the gateway's own topics under `<prefix>/gateway/`, and Home Assistant's discovery topics.

/// State leaves (retained).
pub const DEVICE_TYPE: &str = "deviceType";
pub const NAME: &str = "name";
pub const FIRMWARE: &str = "firmware";
pub const MODE: &str = "mode";
pub const STATE: &str = "state";
pub const BATTERY_CRITICAL: &str = "batteryCritical";
pub const BATTERY_CHARGE_STATE: &str = "batteryChargeState";
pub const BATTERY_CHARGING: &str = "batteryCharging";
pub const KEYPAD_BATTERY_CRITICAL: &str = "keypadBatteryCritical";
pub const DOOR_SENSOR_STATE: &str = "doorsensorState";
pub const DOOR_SENSOR_BATTERY_CRITICAL: &str = "doorsensorBatteryCritical";
pub const TIMESTAMP: &str = "timestamp";
pub const CONNECTED: &str = "connected";
/// Ours: the name of the last lock action the device reported (retained), for Home
/// Assistant's "last action" sensor.
pub const LAST_ACTION: &str = "lastAction";
/// Not retained.
pub const LOCK_ACTION_EVENT: &str = "lockActionEvent";
pub const COMMAND_RESPONSE: &str = "commandResponse";

/// Every retained state leaf, so a removed device's topics can all be cleared.
pub const RETAINED_LEAVES: [&str; 14] = [
    DEVICE_TYPE,
    NAME,
    FIRMWARE,
    MODE,
    STATE,
    BATTERY_CRITICAL,
    BATTERY_CHARGE_STATE,
    BATTERY_CHARGING,
    KEYPAD_BATTERY_CRITICAL,
    DOOR_SENSOR_STATE,
    DOOR_SENSOR_BATTERY_CRITICAL,
    TIMESTAMP,
    CONNECTED,
    LAST_ACTION,
];

/// The commands a device topic accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CommandKind {
    /// `lockAction`: an action id.
    LockAction,
    /// `lock`: `true` locks.
    Lock,
    /// `unlock`: `true` unlocks.
    Unlock,
}

impl CommandKind {
    pub const ALL: [CommandKind; 3] = [
        CommandKind::LockAction,
        CommandKind::Lock,
        CommandKind::Unlock,
    ];

    pub fn leaf(self) -> &'static str {
        match self {
            CommandKind::LockAction => "lockAction",
            CommandKind::Lock => "lock",
            CommandKind::Unlock => "unlock",
        }
    }
}

/// The gateway's topic names, from the configured prefixes (already validated: no wildcards,
/// no outer slashes).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Topics {
    prefix: String,
    discovery: Option<String>,
}

/// A Nuki ID as it appears in topics: 8 upper-case hex digits.
pub fn nuki_id_hex(nuki_id: u32) -> String {
    format!("{nuki_id:08X}")
}

impl Topics {
    /// `discovery_prefix` empty: no Home Assistant discovery.
    pub fn new(prefix: &str, discovery_prefix: &str) -> Self {
        Self {
            prefix: prefix.to_owned(),
            discovery: (!discovery_prefix.is_empty()).then(|| discovery_prefix.to_owned()),
        }
    }

    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// `<prefix>/<ID>`: Home Assistant's `~`.
    pub fn device_root(&self, nuki_id: u32) -> String {
        format!("{}/{}", self.prefix, nuki_id_hex(nuki_id))
    }

    pub fn device(&self, nuki_id: u32, leaf: &str) -> String {
        format!("{}/{leaf}", self.device_root(nuki_id))
    }

    /// Retained `online`/`offline`; `offline` is the last will.
    pub fn gateway_state(&self) -> String {
        format!("{}/gateway/state", self.prefix)
    }

    pub fn gateway_health(&self) -> String {
        format!("{}/gateway/health", self.prefix)
    }

    /// The anonymized activity log.
    pub fn gateway_events(&self) -> String {
        format!("{}/gateway/events", self.prefix)
    }

    /// The subscriptions for commands, one per command kind: `<prefix>/+/<leaf>`.
    pub fn command_filters(&self) -> Vec<String> {
        CommandKind::ALL
            .iter()
            .map(|kind| format!("{}/+/{}", self.prefix, kind.leaf()))
            .collect()
    }

    /// Home Assistant's birth/last-will topic, when discovery is on.
    pub fn home_assistant_status(&self) -> Option<String> {
        self.discovery
            .as_ref()
            .map(|prefix| format!("{prefix}/status"))
    }

    pub fn discovery_enabled(&self) -> bool {
        self.discovery.is_some()
    }

    /// `<discovery_prefix>/<component>/<object_id>/config`.
    pub fn discovery_config(&self, component: &str, object_id: &str) -> Option<String> {
        self.discovery
            .as_ref()
            .map(|prefix| format!("{prefix}/{component}/{object_id}/config"))
    }

    /// The device and command a topic addresses, if it is a command topic of ours.
    pub fn parse_command(&self, topic: &str) -> Option<(u32, CommandKind)> {
        let rest = topic.strip_prefix(&self.prefix)?.strip_prefix('/')?;
        let (id, leaf) = rest.split_once('/')?;
        if id.len() != 8 || !id.chars().all(|c| c.is_ascii_hexdigit()) {
            return None;
        }
        let nuki_id = u32::from_str_radix(id, 16).ok()?;
        let kind = CommandKind::ALL
            .into_iter()
            .find(|kind| kind.leaf() == leaf)?;
        Some((nuki_id, kind))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn device_topics_use_eight_upper_case_hex_digits() {
        let topics = Topics::new("nuki", "homeassistant");
        assert_eq!(topics.device(0x2FFF94F4, STATE), "nuki/2FFF94F4/state");
        assert_eq!(topics.device(0xAB, STATE), "nuki/000000AB/state");
    }

    #[test]
    fn commands_are_parsed_from_their_topics_only() {
        let topics = Topics::new("home/nuki", "");
        assert_eq!(
            topics.parse_command("home/nuki/2FFF94F4/lockAction"),
            Some((0x2FFF94F4, CommandKind::LockAction))
        );
        assert_eq!(
            topics.parse_command("home/nuki/2fff94f4/unlock"),
            Some((0x2FFF94F4, CommandKind::Unlock))
        );
        for other in [
            "home/nuki/gateway/lock",
            "home/nuki/2FFF94F4/state",
            "home/nuki/2FFF94F/lock",
            "home/nukiX/2FFF94F4/lock",
            "nuki/2FFF94F4/lock",
        ] {
            assert_eq!(topics.parse_command(other), None, "{other}");
        }
        assert_eq!(topics.home_assistant_status(), None);
    }
}
