//! Pure conversions between the ESPHome API's shapes and ours: u64 addresses, UUIDs as two
//! u64 or a short UUID, and raw advertisement data (AD structures).

use std::collections::HashMap;

use uuid::Uuid;

use crate::ble::{Advertisement, DeviceAddress};

/// The Bluetooth base UUID: short (16/32-bit) UUIDs are this with the first 32 bits replaced.
const BASE_UUID: u128 = 0x0000_0000_0000_1000_8000_0080_5F9B_34FB;

const AD_FLAGS: u8 = 0x01;
const AD_INCOMPLETE_16: u8 = 0x02;
const AD_COMPLETE_16: u8 = 0x03;
const AD_INCOMPLETE_128: u8 = 0x06;
const AD_COMPLETE_128: u8 = 0x07;
const AD_SHORT_NAME: u8 = 0x08;
const AD_COMPLETE_NAME: u8 = 0x09;
const AD_SERVICE_DATA_16: u8 = 0x16;
const AD_SERVICE_DATA_128: u8 = 0x21;
const AD_MANUFACTURER: u8 = 0xFF;

/// `AA:BB:CC:DD:EE:FF` from the API's address (the MAC in the low 48 bits, first octet highest).
pub fn format_address(address: u64) -> DeviceAddress {
    let bytes = address.to_be_bytes();
    let octets: Vec<String> = bytes[2..].iter().map(|b| format!("{b:02X}")).collect();
    DeviceAddress(octets.join(":"))
}

/// The API's address of a MAC-formatted device address; `None` for anything else (a
/// simulator name), which no proxy can reach.
pub fn parse_address(address: &DeviceAddress) -> Option<u64> {
    let octets: Vec<&str> = address.0.split(':').collect();
    if octets.len() != 6 {
        return None;
    }
    octets.iter().try_fold(0u64, |acc, octet| {
        if octet.len() != 2 {
            return None;
        }
        let value = u8::from_str_radix(octet, 16).ok()?;
        Some((acc << 8) | u64::from(value))
    })
}

/// A UUID as the API sends it: two u64 (most significant first), or, when that is empty, a
/// short UUID on the Bluetooth base.
pub fn api_uuid(long: &[u64], short: u32) -> Option<Uuid> {
    match long {
        [high, low] => Some(Uuid::from_u128(
            (u128::from(*high) << 64) | u128::from(*low),
        )),
        [] if short != 0 => Some(short_uuid(short)),
        _ => None,
    }
}

/// The two u64 the API uses for a 128-bit UUID, most significant first.
pub fn uuid_to_api(uuid: Uuid) -> Vec<u64> {
    let value = uuid.as_u128();
    // Truncation is the point: the two halves of the 128-bit value.
    vec![(value >> 64) as u64, value as u64]
}

pub fn short_uuid(short: u32) -> Uuid {
    Uuid::from_u128(BASE_UUID | (u128::from(short) << 96))
}

/// An advertisement from raw AD structures; a malformed tail is ignored, as radios do.
pub fn parse_raw_advertisement(address: u64, rssi: i32, data: &[u8]) -> Advertisement {
    let mut advertisement = Advertisement {
        address: Some(format_address(address)),
        rssi: i16::try_from(rssi).ok(),
        ..Advertisement::default()
    };
    let mut rest = data;
    while let [length, tail @ ..] = rest {
        let length = usize::from(*length);
        if length == 0 || tail.len() < length {
            break;
        }
        let (structure, next) = tail.split_at(length);
        rest = next;
        if let [kind, value @ ..] = structure {
            apply_structure(&mut advertisement, *kind, value);
        }
    }
    advertisement
}

fn apply_structure(advertisement: &mut Advertisement, kind: u8, value: &[u8]) {
    match kind {
        AD_COMPLETE_NAME => {
            advertisement.local_name = Some(String::from_utf8_lossy(value).into_owned());
        }
        // A complete name wins over a shortened one, whichever comes first.
        AD_SHORT_NAME if advertisement.local_name.is_none() => {
            advertisement.local_name = Some(String::from_utf8_lossy(value).into_owned());
        }
        AD_MANUFACTURER => {
            if let [low, high, payload @ ..] = value {
                let company = u16::from_le_bytes([*low, *high]);
                advertisement
                    .manufacturer_data
                    .insert(company, payload.to_vec());
            }
        }
        AD_SERVICE_DATA_128 if value.len() >= 16 => {
            let (uuid, payload) = value.split_at(16);
            insert_service_data(&mut advertisement.service_data, uuid_le(uuid), payload);
        }
        AD_SERVICE_DATA_16 if value.len() >= 2 => {
            let (uuid, payload) = value.split_at(2);
            let short = u32::from(u16::from_le_bytes([uuid[0], uuid[1]]));
            insert_service_data(&mut advertisement.service_data, short_uuid(short), payload);
        }
        AD_INCOMPLETE_128 | AD_COMPLETE_128 => {
            for chunk in value.chunks_exact(16) {
                push_service(&mut advertisement.services, uuid_le(chunk));
            }
        }
        AD_INCOMPLETE_16 | AD_COMPLETE_16 => {
            for chunk in value.chunks_exact(2) {
                let short = u32::from(u16::from_le_bytes([chunk[0], chunk[1]]));
                push_service(&mut advertisement.services, short_uuid(short));
            }
        }
        AD_FLAGS => {}
        _ => {}
    }
}

fn insert_service_data(data: &mut HashMap<Uuid, Vec<u8>>, uuid: Uuid, payload: &[u8]) {
    data.insert(uuid, payload.to_vec());
}

fn push_service(services: &mut Vec<Uuid>, uuid: Uuid) {
    if !services.contains(&uuid) {
        services.push(uuid);
    }
}

/// AD structures carry 128-bit UUIDs little-endian.
fn uuid_le(bytes: &[u8]) -> Uuid {
    let mut array = [0u8; 16];
    array.copy_from_slice(&bytes[..16]);
    array.reverse();
    Uuid::from_bytes(array)
}

#[cfg(test)]
mod tests {
    use super::*;

    const NUKI_SERVICE: &str = "a92ee200-5501-11e4-916c-0800200c9a66";

    #[test]
    fn addresses_format_as_upper_case_octets_and_parse_back() {
        let formatted = format_address(0x54D2_72AA_BBCC);
        assert_eq!(formatted, DeviceAddress("54:D2:72:AA:BB:CC".into()));
        assert_eq!(parse_address(&formatted), Some(0x54D2_72AA_BBCC));
        assert_eq!(
            parse_address(&DeviceAddress("54:d2:72:aa:bb:cc".into())),
            Some(0x54D2_72AA_BBCC)
        );
    }

    #[test]
    fn non_mac_addresses_do_not_parse() {
        for text in [
            "sim:lock",
            "54:D2:72:AA:BB",
            "54:D2:72:AA:BB:CCC",
            "GG:D2:72:AA:BB:CC",
        ] {
            assert_eq!(parse_address(&DeviceAddress(text.into())), None, "{text}");
        }
    }

    #[test]
    fn long_uuids_are_two_u64_most_significant_first() {
        let uuid: Uuid = NUKI_SERVICE.parse().unwrap();
        let api = uuid_to_api(uuid);
        assert_eq!(api, vec![0xa92e_e200_5501_11e4, 0x916c_0800_200c_9a66]);
        assert_eq!(api_uuid(&api, 0), Some(uuid));
    }

    #[test]
    fn short_uuids_sit_on_the_bluetooth_base() {
        let cccd: Uuid = "00002902-0000-1000-8000-00805f9b34fb".parse().unwrap();
        assert_eq!(api_uuid(&[], 0x2902), Some(cccd));
        assert_eq!(api_uuid(&[], 0), None);
        assert_eq!(api_uuid(&[1], 0x2902), None);
    }

    fn structure(kind: u8, value: &[u8]) -> Vec<u8> {
        let mut out = vec![u8::try_from(value.len() + 1).unwrap(), kind];
        out.extend_from_slice(value);
        out
    }

    #[test]
    fn raw_advertisements_parse_every_structure_we_use() {
        let service: Uuid = NUKI_SERVICE.parse().unwrap();
        let mut service_le = *service.as_bytes();
        service_le.reverse();
        let ibeacon = [0x02, 0x15, 1, 2, 3];
        let mut data = structure(AD_FLAGS, &[0x06]);
        data.extend(structure(AD_SHORT_NAME, b"Nuki"));
        data.extend(structure(AD_COMPLETE_NAME, b"Nuki_2FFF94F4"));
        data.extend(structure(
            AD_MANUFACTURER,
            &[[0x4C, 0x00].as_slice(), &ibeacon].concat(),
        ));
        data.extend(structure(
            AD_SERVICE_DATA_128,
            &[service_le.as_slice(), &[9, 8]].concat(),
        ));
        data.extend(structure(AD_SERVICE_DATA_16, &[0x0F, 0x18, 0x55]));
        data.extend(structure(AD_COMPLETE_128, &service_le));
        data.extend(structure(AD_COMPLETE_16, &[0x0F, 0x18]));

        let parsed = parse_raw_advertisement(0x54D2_72AA_BBCC, -67, &data);
        assert_eq!(
            parsed.address,
            Some(DeviceAddress("54:D2:72:AA:BB:CC".into()))
        );
        assert_eq!(parsed.rssi, Some(-67));
        assert_eq!(parsed.local_name.as_deref(), Some("Nuki_2FFF94F4"));
        assert_eq!(
            parsed.manufacturer_data.get(&0x004C),
            Some(&ibeacon.to_vec())
        );
        assert_eq!(parsed.service_data.get(&service), Some(&vec![9, 8]));
        assert_eq!(
            parsed.service_data.get(&short_uuid(0x180F)),
            Some(&vec![0x55])
        );
        assert_eq!(parsed.services, vec![service, short_uuid(0x180F)]);
        assert!(parsed.heard_by.is_empty());
    }

    #[test]
    fn a_shortened_name_is_kept_when_no_complete_name_follows() {
        let data = structure(AD_SHORT_NAME, b"Nuki");
        let parsed = parse_raw_advertisement(1, -40, &data);
        assert_eq!(parsed.local_name.as_deref(), Some("Nuki"));
    }

    #[test]
    fn a_malformed_tail_keeps_what_parsed_before_it() {
        let mut data = structure(AD_COMPLETE_NAME, b"Door");
        data.extend([9, AD_MANUFACTURER, 1]);
        let parsed = parse_raw_advertisement(1, -40, &data);
        assert_eq!(parsed.local_name.as_deref(), Some("Door"));
        assert!(parsed.manufacturer_data.is_empty());
        let empty = parse_raw_advertisement(1, -40, &[0, 0, 0]);
        assert_eq!(empty.local_name, None);
    }
}
