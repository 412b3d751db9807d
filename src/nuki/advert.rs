//! Advertisements (§1.5): the iBeacon of a paired device in door mode, the pairing-mode and
//! uninitialized service data, and a walker over raw AD structures. Pure: takes bytes.

use serde::Serialize;
use uuid::Uuid;

use super::codec::DecodeError;
use super::uuids::{
    ServiceFamily, LOCK_INIT_SERVICE, LOCK_KEYTURNER_SERVICE, LOCK_PAIRING_SERVICE,
    OPENER_INIT_SERVICE, OPENER_KEYTURNER_SERVICE, OPENER_PAIRING_SERVICE, ULTRA_PAIRING_SERVICE,
};

/// Apple's company id, under which the beacon is sent.
pub const APPLE_COMPANY_ID: u16 = 0x004C;
const IBEACON_TYPE: u8 = 0x02;
const IBEACON_LEN: u8 = 0x15;
/// Beacon bytes after the company id: type, length, UUID 16, major 2, minor 2, power 1.
pub const BEACON_LEN: usize = 23;

const AD_FLAGS: u8 = 0x01;
const AD_SHORT_NAME: u8 = 0x08;
const AD_COMPLETE_NAME: u8 = 0x09;
const AD_SERVICE_DATA_128: u8 = 0x21;
const AD_MANUFACTURER: u8 = 0xFF;
/// Flags of a Nuki device: LE general discoverable, BR/EDR not supported.
pub const NUKI_AD_FLAGS: u8 = 0x06;

/// A door-mode beacon.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Beacon {
    /// Keyturner (Smart Lock, Box, Ultra) or Opener, from the proximity UUID.
    pub family: ServiceFamily,
    #[serde(serialize_with = "serialize_nuki_id")]
    pub nuki_id: u32,
    /// Measured power in dBm, with the flag bit cleared.
    pub tx_power: i8,
    /// Bit 0 of the power byte: the state changed and no Bridge has read it yet.
    pub state_changed: bool,
}

impl Beacon {
    /// The name the device advertises, `Nuki_` and the id in upper-case hex.
    pub fn device_name(&self) -> String {
        device_name(self.nuki_id)
    }
}

/// `Nuki_33C335C5` for id 0x33C335C5.
pub fn device_name(nuki_id: u32) -> String {
    format!("Nuki_{nuki_id:08X}")
}

fn serialize_nuki_id<S: serde::Serializer>(id: &u32, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(&format!("{id:08X}"))
}

/// Parses the iBeacon from manufacturer data *after* the 2-byte company id. `None` when the
/// data is not a Nuki beacon (e.g. a HomeKit advertisement, which has another first byte).
pub fn parse_beacon(data: &[u8]) -> Option<Beacon> {
    if data.len() < BEACON_LEN || data[0] != IBEACON_TYPE || data[1] != IBEACON_LEN {
        return None;
    }
    let mut uuid = [0u8; 16];
    uuid.copy_from_slice(&data[2..18]);
    let family = match Uuid::from_bytes(uuid) {
        LOCK_KEYTURNER_SERVICE => ServiceFamily::Keyturner,
        OPENER_KEYTURNER_SERVICE => ServiceFamily::Opener,
        _ => return None,
    };
    let major = u16::from_be_bytes([data[18], data[19]]);
    let minor = u16::from_be_bytes([data[20], data[21]]);
    let power = data[22];
    Some(Beacon {
        family,
        nuki_id: (u32::from(major) << 16) | u32::from(minor),
        tx_power: (power & !1) as i8,
        state_changed: power & 1 != 0,
    })
}

/// Parses manufacturer data that still starts with the company id (`4C 00`).
pub fn parse_beacon_with_company_id(data: &[u8]) -> Option<Beacon> {
    match data {
        [low, high, rest @ ..] if u16::from_le_bytes([*low, *high]) == APPLE_COMPANY_ID => {
            parse_beacon(rest)
        }
        _ => None,
    }
}

/// The beacon as manufacturer data after the company id (what a simulated device sends).
pub fn encode_beacon(beacon: &Beacon) -> Vec<u8> {
    let uuid = match beacon.family {
        ServiceFamily::Opener => OPENER_KEYTURNER_SERVICE,
        ServiceFamily::Keyturner | ServiceFamily::Ultra => LOCK_KEYTURNER_SERVICE,
    };
    let mut out = Vec::with_capacity(BEACON_LEN);
    out.push(IBEACON_TYPE);
    out.push(IBEACON_LEN);
    out.extend_from_slice(uuid.as_bytes());
    out.extend_from_slice(&beacon.nuki_id.to_be_bytes());
    out.push((beacon.tx_power as u8 & !1) | u8::from(beacon.state_changed));
    out
}

/// Service data of a device in pairing mode or not yet initialized.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct PairingAdvert {
    pub family: ServiceFamily,
    #[serde(serialize_with = "serialize_nuki_id")]
    pub nuki_id: u32,
    /// Sent under the initialization service: the device has never been set up.
    pub uninitialized: bool,
}

/// Parses the service data of `service_uuid` (pairing or initialization service): the Nuki id
/// as 4 bytes big-endian.
pub fn parse_pairing_service_data(service_uuid: Uuid, data: &[u8]) -> Option<PairingAdvert> {
    let (family, uninitialized) = match service_uuid {
        LOCK_PAIRING_SERVICE => (ServiceFamily::Keyturner, false),
        ULTRA_PAIRING_SERVICE => (ServiceFamily::Ultra, false),
        OPENER_PAIRING_SERVICE => (ServiceFamily::Opener, false),
        LOCK_INIT_SERVICE => (ServiceFamily::Keyturner, true),
        OPENER_INIT_SERVICE => (ServiceFamily::Opener, true),
        _ => return None,
    };
    let id: [u8; 4] = data.get(..4)?.try_into().ok()?;
    Some(PairingAdvert {
        family,
        nuki_id: u32::from_be_bytes(id),
        uninitialized,
    })
}

/// The service UUID and data a device in pairing mode (or uninitialized) advertises.
pub fn encode_pairing_service_data(advert: &PairingAdvert) -> (Uuid, Vec<u8>) {
    let uuid = match (advert.family, advert.uninitialized) {
        (ServiceFamily::Opener, true) => OPENER_INIT_SERVICE,
        (_, true) => LOCK_INIT_SERVICE,
        (ServiceFamily::Keyturner, false) => LOCK_PAIRING_SERVICE,
        (ServiceFamily::Ultra, false) => ULTRA_PAIRING_SERVICE,
        (ServiceFamily::Opener, false) => OPENER_PAIRING_SERVICE,
    };
    (uuid, advert.nuki_id.to_be_bytes().to_vec())
}

/// One AD record this module does not interpret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AdRecord {
    pub ad_type: u8,
    #[serde(serialize_with = "crate::nuki::messages::fields::hex_bytes")]
    pub data: Vec<u8>,
}

/// What raw advertising data says about a Nuki device.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct AdvertSummary {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub flags: Option<u8>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub local_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub beacon: Option<Beacon>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pairing: Option<PairingAdvert>,
    /// Apple manufacturer data that is not an iBeacon (HomeKit-capable locks send one).
    pub homekit_advertisement: bool,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub other_records: Vec<AdRecord>,
}

impl AdvertSummary {
    /// Whether anything Nuki-specific was found.
    pub fn is_nuki(&self) -> bool {
        self.beacon.is_some()
            || self.pairing.is_some()
            || self
                .local_name
                .as_deref()
                .is_some_and(|name| name.starts_with("Nuki"))
    }
}

/// Walks raw AD structures (`length ‖ type ‖ data`, repeated). A zero length ends the data
/// (the rest is padding); a record running past the end is an error.
pub fn parse_ad_structures(bytes: &[u8]) -> Result<AdvertSummary, DecodeError> {
    let mut summary = AdvertSummary::default();
    let mut offset = 0;
    while offset < bytes.len() {
        let len = usize::from(bytes[offset]);
        if len == 0 {
            break;
        }
        let end = offset + 1 + len;
        if end > bytes.len() {
            return Err(DecodeError::TooShort {
                field: "AD record",
                offset,
                needed: end - bytes.len(),
            });
        }
        let ad_type = bytes[offset + 1];
        let data = &bytes[offset + 2..end];
        apply_record(&mut summary, ad_type, data);
        offset = end;
    }
    Ok(summary)
}

fn apply_record(summary: &mut AdvertSummary, ad_type: u8, data: &[u8]) {
    match ad_type {
        AD_FLAGS if data.len() == 1 => summary.flags = Some(data[0]),
        AD_COMPLETE_NAME => summary.local_name = Some(String::from_utf8_lossy(data).into_owned()),
        AD_SHORT_NAME if summary.local_name.is_none() => {
            summary.local_name = Some(String::from_utf8_lossy(data).into_owned())
        }
        AD_MANUFACTURER => match parse_beacon_with_company_id(data) {
            Some(beacon) => summary.beacon = Some(beacon),
            None if data.starts_with(&APPLE_COMPANY_ID.to_le_bytes()) => {
                summary.homekit_advertisement = true
            }
            None => summary.other_records.push(record(ad_type, data)),
        },
        AD_SERVICE_DATA_128 if data.len() >= 16 => {
            // BLE sends 128-bit UUIDs least significant byte first.
            let mut uuid = [0u8; 16];
            uuid.copy_from_slice(&data[..16]);
            uuid.reverse();
            match parse_pairing_service_data(Uuid::from_bytes(uuid), &data[16..]) {
                Some(pairing) => summary.pairing = Some(pairing),
                None => summary.other_records.push(record(ad_type, data)),
            }
        }
        _ => summary.other_records.push(record(ad_type, data)),
    }
}

/// Summarises an advertisement a radio backend has already split into its parts (name,
/// manufacturer data by company id without the id bytes, service data by UUID).
pub fn summarize<'a>(
    local_name: Option<&str>,
    manufacturer_data: impl IntoIterator<Item = (u16, &'a [u8])>,
    service_data: impl IntoIterator<Item = (Uuid, &'a [u8])>,
) -> AdvertSummary {
    let mut summary = AdvertSummary {
        local_name: local_name.map(str::to_owned),
        ..AdvertSummary::default()
    };
    for (company, data) in manufacturer_data {
        match (company, parse_beacon(data)) {
            (APPLE_COMPANY_ID, Some(beacon)) => summary.beacon = Some(beacon),
            (APPLE_COMPANY_ID, None) => summary.homekit_advertisement = true,
            _ => {
                let mut bytes = company.to_le_bytes().to_vec();
                bytes.extend_from_slice(data);
                summary.other_records.push(record(AD_MANUFACTURER, &bytes));
            }
        }
    }
    for (uuid, data) in service_data {
        if let Some(pairing) = parse_pairing_service_data(uuid, data) {
            summary.pairing = Some(pairing);
        }
    }
    summary
}

fn record(ad_type: u8, data: &[u8]) -> AdRecord {
    AdRecord {
        ad_type,
        data: data.to_vec(),
    }
}

/// Raw AD structures as a simulated device would broadcast them: flags, then the name, the
/// beacon and the pairing service data where given. Records that would not fit a length byte
/// are left out.
pub fn encode_ad_structures(
    local_name: Option<&str>,
    beacon: Option<&Beacon>,
    pairing: Option<&PairingAdvert>,
) -> Vec<u8> {
    let mut out = Vec::with_capacity(62);
    push_record(&mut out, AD_FLAGS, &[NUKI_AD_FLAGS]);
    if let Some(name) = local_name {
        push_record(&mut out, AD_COMPLETE_NAME, name.as_bytes());
    }
    if let Some(beacon) = beacon {
        let mut data = APPLE_COMPANY_ID.to_le_bytes().to_vec();
        data.extend_from_slice(&encode_beacon(beacon));
        push_record(&mut out, AD_MANUFACTURER, &data);
    }
    if let Some(pairing) = pairing {
        let (uuid, id) = encode_pairing_service_data(pairing);
        let mut data = uuid.as_bytes().to_vec();
        data.reverse();
        data.extend_from_slice(&id);
        push_record(&mut out, AD_SERVICE_DATA_128, &data);
    }
    out
}

fn push_record(out: &mut Vec<u8>, ad_type: u8, data: &[u8]) {
    if let Ok(len) = u8::try_from(data.len() + 1) {
        out.push(len);
        out.push(ad_type);
        out.extend_from_slice(data);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn real_lock_capture() {
        let data = hex::decode("4c000215a92ee200550111e4916c0800200c9a6633c335c5c8").unwrap();
        let beacon = parse_beacon_with_company_id(&data).unwrap();
        assert_eq!(beacon.family, ServiceFamily::Keyturner);
        assert_eq!(beacon.nuki_id, 0x33C3_35C5);
        assert_eq!(beacon.tx_power, -56);
        assert!(!beacon.state_changed);
        assert_eq!(beacon.device_name(), "Nuki_33C335C5");
        assert_eq!(encode_beacon(&beacon), data[2..]);
    }

    #[test]
    fn real_opener_capture() {
        let data = hex::decode("4c000215a92ae200550111e4916c0800200c9a6634900792c4").unwrap();
        let beacon = parse_beacon(&data[2..]).unwrap();
        assert_eq!(beacon.family, ServiceFamily::Opener);
        assert_eq!(beacon.nuki_id, 0x3490_0792);
        assert_eq!(beacon.tx_power, -60);
        assert!(!beacon.state_changed);
    }

    #[test]
    fn state_changed_flag_is_bit_zero() {
        let mut data = hex::decode("0215a92ee200550111e4916c0800200c9a6633c335c5c9").unwrap();
        let beacon = parse_beacon(&data).unwrap();
        assert!(beacon.state_changed);
        assert_eq!(beacon.tx_power, -56);
        assert_eq!(encode_beacon(&beacon), data);
        data[0] = 0x01;
        assert_eq!(parse_beacon(&data), None);
    }

    #[test]
    fn pairing_service_data_round_trip() {
        for family in [
            ServiceFamily::Keyturner,
            ServiceFamily::Ultra,
            ServiceFamily::Opener,
        ] {
            let advert = PairingAdvert {
                family,
                nuki_id: 0x1234_5678,
                uninitialized: false,
            };
            let (uuid, data) = encode_pairing_service_data(&advert);
            assert_eq!(data, [0x12, 0x34, 0x56, 0x78]);
            assert_eq!(parse_pairing_service_data(uuid, &data), Some(advert));
        }
        assert_eq!(
            parse_pairing_service_data(LOCK_KEYTURNER_SERVICE, &[1, 2, 3, 4]),
            None
        );
    }

    #[test]
    fn ad_structures_round_trip() {
        let beacon = Beacon {
            family: ServiceFamily::Keyturner,
            nuki_id: 0x33C3_35C5,
            tx_power: -56,
            state_changed: true,
        };
        let pairing = PairingAdvert {
            family: ServiceFamily::Ultra,
            nuki_id: 0x33C3_35C5,
            uninitialized: false,
        };
        let bytes = encode_ad_structures(Some("Nuki_33C335C5"), Some(&beacon), Some(&pairing));
        let summary = parse_ad_structures(&bytes).unwrap();
        assert_eq!(summary.flags, Some(NUKI_AD_FLAGS));
        assert_eq!(summary.local_name.as_deref(), Some("Nuki_33C335C5"));
        assert_eq!(summary.beacon, Some(beacon));
        assert_eq!(summary.pairing, Some(pairing));
        assert!(summary.is_nuki());
        // The pairing UUID is sent reversed: the record starts with the last UUID byte.
        let service_data = bytes.windows(3).position(|w| w == [0x15, 0x21, 0x66]);
        assert!(service_data.is_some());
    }

    #[test]
    fn summarize_split_parts() {
        let beacon = hex::decode("0215a92ae200550111e4916c0800200c9a6634900792c5").unwrap();
        let pairing_id = [0x34, 0x90, 0x07, 0x92];
        let summary = summarize(
            Some("Nuki_Opener_34900792"),
            [
                (APPLE_COMPANY_ID, beacon.as_slice()),
                (0x0059, &[1u8, 2][..]),
            ],
            [(OPENER_PAIRING_SERVICE, &pairing_id[..])],
        );
        let parsed = summary.beacon.unwrap();
        assert_eq!(parsed.family, ServiceFamily::Opener);
        assert!(parsed.state_changed);
        assert_eq!(summary.pairing.unwrap().nuki_id, 0x3490_0792);
        assert_eq!(summary.other_records[0].data, [0x59, 0x00, 1, 2]);
        let homekit = summarize(None, [(APPLE_COMPANY_ID, &[0x06u8, 0x31][..])], []);
        assert!(homekit.homekit_advertisement);
        assert!(!homekit.is_nuki());
    }

    #[test]
    fn truncated_ad_record_is_an_error() {
        assert!(parse_ad_structures(&[0x05, 0x09, b'N']).is_err());
        assert_eq!(
            parse_ad_structures(&[0x00, 0xFF]).unwrap(),
            AdvertSummary::default()
        );
    }
}
