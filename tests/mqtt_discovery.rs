//! Home Assistant discovery payloads, pinned as snapshots: a change of a key or topic breaks
//! existing Home Assistant set-ups, so it must be a visible decision.

use nuki_edge::access::DeviceId;
use nuki_edge::ble::DeviceAddress;
use nuki_edge::gateway::DeviceView;
use nuki_edge::mqtt::discovery::{
    device_config, device_removal, gateway_config, DiscoveredDevice, GatewayIdentity,
};
use nuki_edge::mqtt::{Message, Topics};
use nuki_edge::nuki::product::ProductType;
use serde_json::Value;

fn view(product: ProductType, nuki_id: u32, name: &str) -> DeviceView {
    DeviceView {
        id: DeviceId::from_parts(product.web_api_type(), nuki_id),
        address: DeviceAddress(format!("sim:{nuki_id:08x}")),
        name: name.to_owned(),
        nuki_id,
        product,
    }
}

/// Topic → parsed config (or null for a removal), in publishing order.
fn as_json(messages: &[Message]) -> Vec<(String, Value, bool)> {
    messages
        .iter()
        .map(|message| {
            let config = if message.payload.is_empty() {
                Value::Null
            } else {
                serde_json::from_str(&message.payload).expect("discovery is JSON")
            };
            (message.topic.clone(), config, message.retain)
        })
        .collect()
}

fn topics() -> Topics {
    Topics::new("nuki", "homeassistant")
}

fn identity() -> GatewayIdentity {
    GatewayIdentity::new("Haus 7", "nuki-edge-Haus_7")
}

#[test]
fn a_smart_lock_with_a_door_sensor() {
    let device = view(ProductType::SmartLock4, 0x2FFF_94F4, "Flat 4");
    let messages = device_config(
        &topics(),
        &identity(),
        &DiscoveredDevice {
            device: &device,
            door_sensor: true,
        },
    );
    assert!(messages.iter().all(|message| message.retain));
    insta::assert_json_snapshot!(as_json(&messages));
}

#[test]
fn a_lock_without_door_sensor_has_its_door_entity_removed() {
    let device = view(ProductType::SmartLock4, 0x2FFF_94F4, "Flat 4");
    let messages = device_config(
        &topics(),
        &identity(),
        &DiscoveredDevice {
            device: &device,
            door_sensor: false,
        },
    );
    let door = messages
        .iter()
        .find(|message| {
            message.topic == "homeassistant/binary_sensor/nuki_2FFF94F4_door_sensor/config"
        })
        .expect("the door entity's topic is sent");
    assert_eq!(
        door.payload, "",
        "an empty retained config removes the entity"
    );
}

#[test]
fn an_opener() {
    let device = view(ProductType::Opener, 0x1A2B_3C4D, "Intercom");
    let messages = device_config(
        &topics(),
        &identity(),
        &DiscoveredDevice {
            device: &device,
            door_sensor: false,
        },
    );
    insta::assert_json_snapshot!(as_json(&messages));
}

#[test]
fn the_gateway_itself() {
    let message = gateway_config(&topics(), &identity()).expect("discovery is on");
    insta::assert_json_snapshot!(as_json(&[message]));
}

#[test]
fn an_unpaired_device_loses_every_entity() {
    let removal = device_removal(&topics(), 0x2FFF_94F4);
    assert_eq!(removal.len(), 6);
    assert!(removal
        .iter()
        .all(|message| message.retain && message.payload.is_empty()));
    insta::assert_json_snapshot!(as_json(&removal));
}

#[test]
fn no_discovery_with_an_empty_prefix() {
    let device = view(ProductType::SmartLock4, 0x2FFF_94F4, "Flat 4");
    let off = Topics::new("nuki", "");
    let messages = device_config(
        &off,
        &identity(),
        &DiscoveredDevice {
            device: &device,
            door_sensor: true,
        },
    );
    assert!(messages.is_empty());
    assert!(gateway_config(&off, &identity()).is_none());
}
