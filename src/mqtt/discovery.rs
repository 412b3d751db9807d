//! Home Assistant MQTT discovery: one retained config message per entity, with abbreviated
//! keys, at `<discovery_prefix>/<component>/nuki_<ID>_<suffix>/config`.
//!
//! Device identifiers: `["nuki_<ID>"]` (a JSON list, as Home Assistant documents it; Nuki's
//! own firmware sends the string `"[<ID>]"`, which Home Assistant reads as one identifier).
//! Every device points at the gateway (`via_device`), which has an entity of its own (its
//! connectivity), so the link resolves. Every entity is available only while both the
//! device's `connected` and the gateway's state say so (availability list, mode `all`).

use serde_json::{json, Value};

use crate::gateway::DeviceView;

use super::message::Message;
use super::topics::{self, nuki_id_hex, Topics};

/// What the entities of one device are built from.
#[derive(Debug, Clone, Copy)]
pub struct DiscoveredDevice<'a> {
    pub device: &'a DeviceView,
    /// A door sensor is installed (the device reported a door sensor state).
    pub door_sensor: bool,
}

/// The gateway as a Home Assistant device.
#[derive(Debug, Clone)]
pub struct GatewayIdentity {
    /// `gateway.name`.
    pub name: String,
    /// The identifier devices name in `via_device`.
    pub id: String,
}

impl GatewayIdentity {
    /// The MQTT client id in lower case with `_` for anything but letters and digits
    /// (`nuki_edge_haus_7`): unique per broker, which refuses two clients with one id.
    pub fn new(name: &str, client_id: &str) -> Self {
        let id: String = client_id
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() {
                    c.to_ascii_lowercase()
                } else {
                    '_'
                }
            })
            .collect();
        Self {
            name: name.to_owned(),
            id,
        }
    }
}

/// The entities of a device: (component, object-id suffix).
const LOCK: (&str, &str) = ("lock", "lock");
const BATTERY_CRITICAL: (&str, &str) = ("binary_sensor", "battery_critical");
const BATTERY_LEVEL: (&str, &str) = ("sensor", "battery_level");
const DOOR_SENSOR: (&str, &str) = ("binary_sensor", "door_sensor");
const CONNECTIVITY: (&str, &str) = ("binary_sensor", "connectivity");
const LAST_ACTION: (&str, &str) = ("sensor", "last_action");
const ENTITIES: [(&str, &str); 6] = [
    LOCK,
    BATTERY_CRITICAL,
    BATTERY_LEVEL,
    DOOR_SENSOR,
    CONNECTIVITY,
    LAST_ACTION,
];

fn object_id(nuki_id: u32, suffix: &str) -> String {
    format!("nuki_{}_{suffix}", nuki_id_hex(nuki_id))
}

/// Every discovery message of a device. Entities the device does not have (a battery level
/// on an Opener, a door sensor not installed) are sent as removals, so one that went away
/// disappears from Home Assistant too.
pub fn device_config(
    topics: &Topics,
    gateway: &GatewayIdentity,
    discovered: &DiscoveredDevice<'_>,
) -> Vec<Message> {
    let device = discovered.device;
    let id = device.nuki_id;
    let hex = nuki_id_hex(id);
    let opener = device.product.is_opener();
    let base = |suffix_name: &str, unique: &str| {
        let config = json!({
            "~": topics.device_root(id),
            "name": suffix_name,
            "uniq_id": format!("{hex}_{unique}"),
            "obj_id": format!("nuki_{hex}_{unique}"),
            "avty": [
                {"t": topics.device(id, topics::CONNECTED), "pl_avail": "true", "pl_not_avail": "false"},
                {"t": topics.gateway_state(), "pl_avail": "online", "pl_not_avail": "offline"},
            ],
            "avty_mode": "all",
            "dev": device_block(gateway, device),
        });
        config
    };

    let mut lock = base(&device.name, "lock");
    lock["cmd_t"] = json!("~/lockAction");
    lock["stat_t"] = json!("~/state");
    if opener {
        // Opener: "unlocked" is ring-to-open active; open actuates the electric strike.
        extend(
            &mut lock,
            json!({
                "pl_lock": "2", "pl_unlk": "1", "pl_open": "3",
                "stat_locked": "1", "stat_unlocked": "3", "stat_jam": "254",
                "val_tpl": "{{ '3' if value in ['3', '5', '7'] else value }}",
            }),
        );
    } else {
        extend(
            &mut lock,
            json!({
                "pl_lock": "2", "pl_unlk": "1", "pl_open": "3",
                "stat_locked": "1", "stat_locking": "4", "stat_unlocked": "3",
                "stat_unlocking": "2", "stat_jam": "254",
                "val_tpl": "{{ '3' if value in ['5', '6', '7'] else value }}",
            }),
        );
    }

    let mut battery_critical = base("Battery critical", "lock_battery_critical");
    extend(
        &mut battery_critical,
        json!({
            "stat_t": "~/batteryCritical", "dev_cla": "battery", "ent_cat": "diagnostic",
            "pl_on": "true", "pl_off": "false",
        }),
    );

    let mut connectivity = base("Connected", "connected");
    extend(
        &mut connectivity,
        json!({
            "stat_t": "~/connected", "dev_cla": "connectivity", "ent_cat": "diagnostic",
            "pl_on": "true", "pl_off": "false",
        }),
    );
    // Connectivity must show "disconnected", not "unavailable", when the device is away.
    connectivity["avty"] = json!([
        {"t": topics.gateway_state(), "pl_avail": "online", "pl_not_avail": "offline"},
    ]);
    connectivity
        .as_object_mut()
        .map(|object| object.remove("avty_mode"));

    let mut last_action = base("Last action", "last_action");
    extend(
        &mut last_action,
        json!({
            "stat_t": "~/lastAction", "ic": "mdi:history",
        }),
    );

    let mut messages = Vec::new();
    let mut push = |(component, suffix): (&str, &str), config: Option<Value>| {
        let Some(topic) = topics.discovery_config(component, &object_id(id, suffix)) else {
            return;
        };
        messages.push(match config {
            Some(config) => Message::retained(topic, config.to_string()),
            None => Message::clear(topic),
        });
    };
    push(LOCK, Some(lock));
    push(BATTERY_CRITICAL, Some(battery_critical));
    let battery_level = (!opener).then(|| {
        let mut level = base("Battery", "lock_battery_percent");
        extend(
            &mut level,
            json!({
                "stat_t": "~/batteryChargeState", "dev_cla": "battery", "unit_of_meas": "%",
                "stat_cla": "measurement", "ent_cat": "diagnostic",
            }),
        );
        level
    });
    push(BATTERY_LEVEL, battery_level);
    let door = (discovered.door_sensor && !opener).then(|| {
        let mut door = base("Door", "door_sensor");
        extend(
            &mut door,
            json!({
                "stat_t": "~/doorsensorState", "dev_cla": "door", "pl_on": "3", "pl_off": "2",
            }),
        );
        door
    });
    push(DOOR_SENSOR, door);
    push(CONNECTIVITY, Some(connectivity));
    push(LAST_ACTION, Some(last_action));
    messages
}

/// Empty retained configs for every entity of an unpaired device.
pub fn device_removal(topics: &Topics, nuki_id: u32) -> Vec<Message> {
    ENTITIES
        .iter()
        .filter_map(|(component, suffix)| {
            topics.discovery_config(component, &object_id(nuki_id, suffix))
        })
        .map(Message::clear)
        .collect()
}

/// The gateway's own entity: its connectivity, from `<prefix>/gateway/state`.
pub fn gateway_config(topics: &Topics, gateway: &GatewayIdentity) -> Option<Message> {
    let topic = topics.discovery_config("binary_sensor", &gateway.id)?;
    let config = json!({
        "name": "Gateway",
        "uniq_id": format!("{}_state", gateway.id),
        "stat_t": topics.gateway_state(),
        "pl_on": "online",
        "pl_off": "offline",
        "dev_cla": "connectivity",
        "ent_cat": "diagnostic",
        "dev": {
            "ids": [gateway.id],
            "name": gateway.name,
            "mf": "nuki-edge",
            "mdl": "nuki-edge gateway",
            "sw": env!("CARGO_PKG_VERSION"),
        },
    });
    Some(Message::retained(topic, config.to_string()))
}

fn device_block(gateway: &GatewayIdentity, device: &DeviceView) -> Value {
    json!({
        "ids": [format!("nuki_{}", nuki_id_hex(device.nuki_id))],
        "mf": "Nuki",
        "name": device.name,
        "mdl": device.product.label(),
        "via_device": gateway.id,
    })
}

fn extend(config: &mut Value, more: Value) {
    if let (Some(config), Value::Object(more)) = (config.as_object_mut(), more) {
        config.extend(more);
    }
}
