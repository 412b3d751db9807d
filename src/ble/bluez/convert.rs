//! Pure translations between btleplug's types and ours.

use btleplug::api::{BDAddr, CentralEvent, CentralState, PeripheralProperties};
use btleplug::platform::PeripheralId;

use crate::ble::{Advertisement, DeviceAddress};

/// Parses `AA:BB:CC:DD:EE:FF` (either case). Stricter than `BDAddr::from_str`, which accepts
/// one-digit or signed groups and can panic on multi-byte input.
pub(super) fn parse_address(address: &DeviceAddress) -> Option<BDAddr> {
    let mut groups = address.0.split(':');
    let mut bytes = [0u8; 6];
    for byte in &mut bytes {
        let group = groups.next()?;
        if group.len() != 2 || !group.bytes().all(|digit| digit.is_ascii_hexdigit()) {
            return None;
        }
        *byte = u8::from_str_radix(group, 16).ok()?;
    }
    groups.next().is_none().then_some(BDAddr::from(bytes))
}

/// Upper case with colons, the form the rest of the gateway stores.
pub(super) fn device_address(address: BDAddr) -> DeviceAddress {
    DeviceAddress(address.to_string())
}

/// `None` for a device BlueZ remembers but has not heard in the current discovery: BlueZ
/// clears the RSSI of such devices, and their cached data (e.g. an old state-changed flag)
/// must not look like a fresh advertisement.
pub(super) fn heard_advertisement(properties: PeripheralProperties) -> Option<Advertisement> {
    properties.rssi?;
    Some(Advertisement {
        address: Some(device_address(properties.address)),
        // btleplug's `local_name` prefers BlueZ's alias, which is the address itself for an
        // unnamed device; `advertisement_name` is what the device really advertised.
        local_name: properties.advertisement_name,
        rssi: properties.rssi,
        manufacturer_data: properties.manufacturer_data,
        service_data: properties.service_data,
        services: properties.services,
        heard_by: Vec::new(),
    })
}

/// The device whose advertised data (not just its signal strength) changed.
pub(super) fn advertisement_changed(event: &CentralEvent) -> Option<&PeripheralId> {
    match event {
        CentralEvent::DeviceDiscovered(id)
        | CentralEvent::DeviceUpdated(id)
        | CentralEvent::ManufacturerDataAdvertisement { id, .. }
        | CentralEvent::ServiceDataAdvertisement { id, .. }
        | CentralEvent::ServicesAdvertisement { id, .. } => Some(id),
        _ => None,
    }
}

/// The adapter (re)powered: after a power cycle or a bluetoothd restart it has forgotten our
/// discovery.
pub(super) fn adapter_powered_on(event: &CentralEvent) -> bool {
    matches!(event, CentralEvent::StateUpdate(CentralState::PoweredOn))
}

/// Any sign that the device is advertising right now.
pub(super) fn device_heard(event: &CentralEvent) -> Option<&PeripheralId> {
    match event {
        CentralEvent::RssiUpdate { id, .. } => Some(id),
        other => advertisement_changed(other),
    }
}

/// BlueZ describes an adapter as `hci0 (usb:v1D6Bp0246d0537)`; the config names it `hci0`.
pub(super) fn adapter_name(adapter_info: &str) -> Option<&str> {
    adapter_info.split_whitespace().next()
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use uuid::Uuid;

    use super::*;

    fn address(text: &str) -> DeviceAddress {
        DeviceAddress(text.into())
    }

    #[test]
    fn parses_colon_separated_addresses_in_either_case() {
        let expected = BDAddr::from([0x54, 0xD2, 0x72, 0xAB, 0x0C, 0xFF]);
        assert_eq!(parse_address(&address("54:D2:72:AB:0C:FF")), Some(expected));
        assert_eq!(parse_address(&address("54:d2:72:ab:0c:ff")), Some(expected));
    }

    #[test]
    fn rejects_anything_but_six_two_digit_hex_groups() {
        for bad in [
            "",
            "54:D2:72:AB:0C",
            "54:D2:72:AB:0C:FF:00",
            "54:D2:72:AB:0C:F",
            "54:D2:72:AB:0C:+F",
            "54:D2:72:AB:0C:FG",
            "54D272AB0CFF",
            "54-D2-72-AB-0C-FF",
            "a\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}b",
            "54:D2:72:AB:0C:\u{e9}",
            "front door",
        ] {
            assert_eq!(parse_address(&address(bad)), None, "{bad:?}");
        }
    }

    #[test]
    fn addresses_round_trip_in_upper_case() {
        let parsed = parse_address(&address("54:d2:72:ab:0c:ff")).unwrap();
        assert_eq!(device_address(parsed), address("54:D2:72:AB:0C:FF"));
    }

    fn nuki_properties() -> PeripheralProperties {
        let service = Uuid::from_u128(0xa92e_e200_5501_11e4_916c_0800_200c_9a66);
        PeripheralProperties {
            address: BDAddr::from([0x54, 0xD2, 0x72, 0x01, 0x02, 0x03]),
            local_name: Some("54-D2-72-01-02-03".into()),
            advertisement_name: Some("Nuki_1A2B3C4D".into()),
            rssi: Some(-67),
            tx_power_level: Some(-12),
            manufacturer_data: HashMap::from([(0x004C, vec![0x02, 0x15, 0xA9, 0x2E])]),
            service_data: HashMap::from([(service, vec![0x01])]),
            services: vec![service],
            ..PeripheralProperties::default()
        }
    }

    #[test]
    fn a_heard_device_maps_field_by_field() {
        let properties = nuki_properties();
        let advertisement = heard_advertisement(properties.clone()).unwrap();
        assert_eq!(
            advertisement,
            Advertisement {
                address: Some(address("54:D2:72:01:02:03")),
                local_name: Some("Nuki_1A2B3C4D".into()),
                rssi: Some(-67),
                manufacturer_data: properties.manufacturer_data,
                service_data: properties.service_data,
                services: properties.services,
                heard_by: Vec::new(),
            }
        );
    }

    #[test]
    fn the_alias_bluez_invents_for_a_nameless_device_is_not_a_name() {
        let properties = PeripheralProperties {
            advertisement_name: None,
            ..nuki_properties()
        };
        let advertisement = heard_advertisement(properties).unwrap();
        assert_eq!(advertisement.local_name, None);
    }

    #[test]
    fn a_remembered_but_unheard_device_is_no_advertisement() {
        let properties = PeripheralProperties {
            rssi: None,
            ..nuki_properties()
        };
        assert_eq!(heard_advertisement(properties), None);
    }

    #[test]
    fn adapter_state_events_name_no_device() {
        let event = CentralEvent::StateUpdate(CentralState::PoweredOn);
        assert!(advertisement_changed(&event).is_none());
        assert!(device_heard(&event).is_none());
        assert!(adapter_powered_on(&event));
        assert!(!adapter_powered_on(&CentralEvent::StateUpdate(
            CentralState::PoweredOff
        )));
    }

    #[test]
    fn adapter_names_come_from_the_first_word_of_the_info() {
        assert_eq!(adapter_name("hci1 (usb:v1D6Bp0246d0537)"), Some("hci1"));
        assert_eq!(adapter_name("hci0"), Some("hci0"));
        assert_eq!(adapter_name("   "), None);
    }
}
