//! The one device model: every view of "what a device is" derives from `ProductType`, pairings
//! keep it typed (and records written before it was kept still load), power comes from what
//! the device reported, and a Box is called a Box outside the Bridge API.

use std::path::Path;
use std::process::{Command, Output};

use nuki_edge::ble::DeviceAddress;
use nuki_edge::config::{SecurityPin, SimDeviceConfig};
use nuki_edge::http::bridge_json::BridgeDeviceType;
use nuki_edge::nuki::enums::DeviceType;
use nuki_edge::nuki::product::ProductType;
use nuki_edge::nuki::uuids::ServiceFamily;
use nuki_edge::store::Store;
use redb::{Database, TableDefinition};

const BINARY: &str = env!("CARGO_BIN_EXE_nuki-edge");

/// The store's pairings table, as `src/store/schema.rs` defines it.
const PAIRINGS: TableDefinition<&str, &[u8]> = TableDefinition::new("pairings");

const KEY_HEX: &str = "217fcb0f18caf284e9bdea0b94b83b8d10867ed706bfdedbd2381f4cb3b8f730";

/// Writes `records` (address → stored bytes) into a store file as an older build left them.
fn store_with_raw_records(path: &Path, records: &[(&str, &str)]) {
    drop(Store::open(path).expect("create store"));
    let db = Database::open(path).expect("open redb");
    let txn = db.begin_write().expect("write txn");
    {
        let mut table = txn.open_table(PAIRINGS).expect("pairings table");
        for (address, record) in records {
            table
                .insert(*address, record.as_bytes())
                .expect("insert record");
        }
    }
    txn.commit().expect("commit");
}

#[test]
fn every_product_derives_its_views() {
    // (product, family, Bridge deviceType, Web API type, Config device type byte, name)
    let table = [
        (
            ProductType::SmartLock2,
            ServiceFamily::Keyturner,
            0,
            0,
            0,
            "smart_lock_2",
        ),
        (ProductType::Box, ServiceFamily::Keyturner, 0, 1, 1, "box"),
        (
            ProductType::Opener,
            ServiceFamily::Opener,
            2,
            2,
            2,
            "opener",
        ),
        (
            ProductType::SmartDoor,
            ServiceFamily::Keyturner,
            3,
            3,
            3,
            "smart_door",
        ),
        (
            ProductType::SmartLock4,
            ServiceFamily::Keyturner,
            4,
            4,
            4,
            "smart_lock_4",
        ),
        (
            ProductType::SmartLockUltra,
            ServiceFamily::Ultra,
            4,
            5,
            5,
            "smart_lock_ultra",
        ),
    ];
    assert_eq!(table.len(), ProductType::ALL.len());
    for (product, family, bridge, web, config_byte, name) in table {
        assert_eq!(product.service_family(), family, "{product:?}");
        assert_eq!(product.bridge_device_type().to_u8(), bridge, "{product:?}");
        assert_eq!(product.web_api_type(), web, "{product:?}");
        assert_eq!(
            product.config_device_type().to_u8(),
            config_byte,
            "{product:?}"
        );
        assert_eq!(product.name(), name);
        assert_eq!(product.is_mains_powered(), product == ProductType::Box);
    }
    assert_eq!(ProductType::Box.to_string(), "Box");
}

#[test]
fn products_are_recognised_from_family_and_config_byte() {
    let keyturner = |byte: Option<u8>| {
        ProductType::from_config_device_type(
            ServiceFamily::Keyturner,
            byte.map(DeviceType::from_u8),
        )
    };
    assert_eq!(keyturner(Some(1)), ProductType::Box);
    assert_eq!(keyturner(Some(0)), ProductType::SmartLock2);
    assert_eq!(keyturner(None), ProductType::SmartLock2);
    assert_eq!(keyturner(Some(3)), ProductType::SmartDoor);
    assert_eq!(keyturner(Some(4)), ProductType::SmartLock4);
    // Without the Ultra's pairing service a type-5 lock speaks the 4th gen's protocol.
    assert_eq!(keyturner(Some(5)), ProductType::SmartLock4);
    assert_eq!(keyturner(Some(0x42)), ProductType::SmartLock2);
    assert_eq!(
        ProductType::from_config_device_type(ServiceFamily::Ultra, None),
        ProductType::SmartLockUltra
    );
    assert_eq!(
        ProductType::from_config_device_type(ServiceFamily::Opener, Some(DeviceType::Opener)),
        ProductType::Opener
    );
}

/// Records exactly as the build before the product model wrote them (family + Config byte),
/// and as the builds before that wrote them (family only), load as the product they describe.
#[test]
fn records_in_the_old_layout_still_load() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store.redb");
    let box_record = format!(
        r#"{{"address":"54:D2:72:4E:00:01","nuki_id":1308622849,"family":"keyturner","device_name":"Entrance North","auth_id":3,"app_id":305419896,"id_type":1,"key":"{KEY_HEX}","security_pin":1701,"paired_at_unix":1767225600,"device_type":1}}"#
    );
    let sl4_record = format!(
        r#"{{"address":"54:D2:72:4E:00:02","nuki_id":1308622850,"family":"keyturner","device_name":"Flat 2","auth_id":4,"app_id":305419896,"id_type":1,"key":"{KEY_HEX}","security_pin":null,"paired_at_unix":1767225601,"device_type":4}}"#
    );
    let ultra_record = format!(
        r#"{{"address":"54:D2:72:4E:00:03","nuki_id":1308622851,"family":"ultra","device_name":"Penthouse","auth_id":5,"app_id":305419896,"id_type":0,"key":"{KEY_HEX}","security_pin":482913,"paired_at_unix":1767225602}}"#
    );
    let opener_record = format!(
        r#"{{"address":"54:D2:72:4E:00:04","nuki_id":1308622852,"family":"opener","device_name":"Intercom","auth_id":6,"app_id":305419896,"id_type":1,"key":"{KEY_HEX}","security_pin":null,"paired_at_unix":1767225603,"device_type":null}}"#
    );
    let no_byte_record = format!(
        r#"{{"address":"54:D2:72:4E:00:05","nuki_id":1308622853,"family":"keyturner","device_name":"Cellar","auth_id":7,"app_id":305419896,"id_type":1,"key":"{KEY_HEX}","security_pin":null,"paired_at_unix":1767225604}}"#
    );
    store_with_raw_records(
        &path,
        &[
            ("54:D2:72:4E:00:01", &box_record),
            ("54:D2:72:4E:00:02", &sl4_record),
            ("54:D2:72:4E:00:03", &ultra_record),
            ("54:D2:72:4E:00:04", &opener_record),
            ("54:D2:72:4E:00:05", &no_byte_record),
        ],
    );

    let store = Store::open(&path).unwrap();
    let product = |address: &str| {
        store
            .pairing(&DeviceAddress(address.to_owned()))
            .unwrap()
            .unwrap()
            .product
    };
    assert_eq!(product("54:D2:72:4E:00:01"), ProductType::Box);
    assert_eq!(product("54:D2:72:4E:00:02"), ProductType::SmartLock4);
    assert_eq!(product("54:D2:72:4E:00:03"), ProductType::SmartLockUltra);
    assert_eq!(product("54:D2:72:4E:00:04"), ProductType::Opener);
    assert_eq!(product("54:D2:72:4E:00:05"), ProductType::SmartLock2);

    let entrance = store
        .pairing(&DeviceAddress("54:D2:72:4E:00:01".to_owned()))
        .unwrap()
        .unwrap();
    assert_eq!(entrance.device_name, "Entrance North");
    assert_eq!(entrance.nuki_id, 0x4E00_0001);
    assert_eq!(entrance.security_pin.map(SecurityPin::value), Some(1701));
    assert_eq!(hex::encode(entrance.key.expose()), KEY_HEX);
    let penthouse = store
        .pairing(&DeviceAddress("54:D2:72:4E:00:03".to_owned()))
        .unwrap()
        .unwrap();
    assert_eq!(penthouse.security_pin, Some(SecurityPin::Long(482_913)));

    // Saved again, the record names the product and loads the same.
    store.save_pairing(&entrance).unwrap();
    assert_eq!(
        store.pairing(&entrance.address).unwrap(),
        Some(entrance.clone())
    );
}

/// The Bridge API keeps the numbers its clients operate: a Box and a Smart Lock 2.0 are 0, a
/// Smart Lock 3.0/4th gen and an Ultra 4, an Opener 2 — also for devices from old records.
#[test]
fn bridge_types_of_old_records_do_not_change() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store.redb");
    let record = |address: &str, family: &str, byte: &str| {
        format!(
            r#"{{"address":"{address}","nuki_id":1,"family":"{family}","device_name":"{address}","auth_id":1,"app_id":1,"id_type":1,"key":"{KEY_HEX}","security_pin":null,"paired_at_unix":0,"device_type":{byte}}}"#
        )
    };
    let records = [
        ("a", record("a", "keyturner", "1")),
        ("b", record("b", "keyturner", "0")),
        ("c", record("c", "keyturner", "4")),
        ("d", record("d", "ultra", "5")),
        ("e", record("e", "opener", "2")),
        ("f", record("f", "keyturner", "null")),
    ];
    let raw: Vec<(&str, &str)> = records.iter().map(|(a, r)| (*a, r.as_str())).collect();
    store_with_raw_records(&path, &raw);
    let store = Store::open(&path).unwrap();
    let bridge = |address: &str| {
        let pairing = store
            .pairing(&DeviceAddress(address.to_owned()))
            .unwrap()
            .unwrap();
        nuki_edge::gateway::credentials_of(&pairing)
            .product
            .bridge_device_type()
    };
    assert_eq!(bridge("a"), BridgeDeviceType::SmartLock);
    assert_eq!(bridge("b"), BridgeDeviceType::SmartLock);
    assert_eq!(bridge("c"), BridgeDeviceType::SmartLock3);
    assert_eq!(bridge("d"), BridgeDeviceType::SmartLock3);
    assert_eq!(bridge("e"), BridgeDeviceType::Opener);
    assert_eq!(bridge("f"), BridgeDeviceType::SmartLock);
}

/// Mains power follows the product the device reported, with no simulator in sight.
#[test]
fn a_paired_box_is_mains_powered_without_any_sim_config() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store.redb");
    let record = |address: &str, byte: u8| {
        format!(
            r#"{{"address":"{address}","nuki_id":2,"family":"keyturner","device_name":"{address}","auth_id":1,"app_id":1,"id_type":1,"key":"{KEY_HEX}","security_pin":null,"paired_at_unix":0,"device_type":{byte}}}"#
        )
    };
    let (entrance, flat) = (record("AA:00", 1), record("AA:01", 4));
    store_with_raw_records(&path, &[("AA:00", &entrance), ("AA:01", &flat)]);
    let store = Store::open(&path).unwrap();
    let credentials = |address: &str| {
        let pairing = store
            .pairing(&DeviceAddress(address.to_owned()))
            .unwrap()
            .unwrap();
        nuki_edge::gateway::credentials_of(&pairing)
    };
    assert!(credentials("AA:00").is_mains_powered());
    assert!(!credentials("AA:01").is_mains_powered());
}

#[test]
fn config_kinds_keep_their_spelling() {
    let kind = |text: &str| {
        toml::from_str::<SimDeviceConfig>(&format!(
            "address = \"a\"\nname = \"n\"\nnuki_id = 1\nkind = \"{text}\"\n"
        ))
        .map(|device| device.kind)
    };
    assert_eq!(kind("box").unwrap(), ProductType::Box);
    assert_eq!(kind("smart_lock_2").unwrap(), ProductType::SmartLock2);
    assert_eq!(kind("smart_lock_4").unwrap(), ProductType::SmartLock4);
    assert_eq!(kind("smart_lock_3").unwrap(), ProductType::SmartLock4);
    assert_eq!(
        kind("smart_lock_ultra").unwrap(),
        ProductType::SmartLockUltra
    );
    assert_eq!(kind("opener").unwrap(), ProductType::Opener);
    assert!(kind("keypad").is_err());
}

#[test]
fn the_configured_pin_is_the_protocol_pin_and_stays_secret() {
    let pin: SecurityPin = "482913".parse().unwrap();
    assert_eq!(pin.value(), 482_913);
    assert!(!format!("{pin:?}").contains("482913"));
    assert!("1234567".parse::<SecurityPin>().is_err());
}

fn run(args: &[&str]) -> Output {
    Command::new(BINARY)
        .args(args)
        .env_remove("RUST_LOG")
        .output()
        .expect("binary runs")
}

fn json(output: &Output) -> serde_json::Value {
    assert_eq!(output.status.code(), Some(0), "{output:?}");
    serde_json::from_slice(&output.stdout).expect("JSON on stdout")
}

fn building_with_a_box(dir: &Path) -> String {
    let text = format!(
        r#"
[store]
path = "{store}"

[ble]
backend = "sim"
pairing_timeout_s = 6

[sim]
connection_interval_ms = 5
connect_time_ms = 20

[[sim.devices]]
address = "54:D2:72:00:00:01"
name = "Entrance"
nuki_id = 0x54000001
kind = "box"
security_pin = 1701
start_in_pairing_mode = true
"#,
        store = dir.join("store.redb").display()
    );
    let path = dir.join("building.toml");
    std::fs::write(&path, text).expect("write config");
    path.to_string_lossy().into_owned()
}

/// The Box says it is a Box (Config device type 1) at pairing; the store, `pair`, `state` and
/// `scan` call it one from then on.
#[test]
fn a_box_is_a_box_in_the_store_and_the_cli() {
    let dir = tempfile::tempdir().unwrap();
    let config = building_with_a_box(dir.path());

    let paired = json(&run(&["pair", "--config", &config, "Entrance", "--json"]));
    assert_eq!(paired["kind"], "box", "{paired}");

    let store = Store::open(&dir.path().join("store.redb")).unwrap();
    let pairing = store
        .pairing(&DeviceAddress("54:D2:72:00:00:01".to_owned()))
        .unwrap()
        .expect("paired");
    assert_eq!(pairing.product, ProductType::Box);
    drop(store);

    let state = json(&run(&["state", "--config", &config, "Entrance"]));
    assert_eq!(state["product"], "box", "{state}");

    let rows = json(&run(&[
        "scan",
        "--config",
        &config,
        "--seconds",
        "2",
        "--json",
    ]));
    let entrance = rows
        .as_array()
        .and_then(|rows| rows.iter().find(|r| r["address"] == "54:D2:72:00:00:01"))
        .expect("entrance heard");
    assert_eq!(entrance["product"], "box", "{entrance}");
    assert_eq!(entrance["kind"], "keyturner", "{entrance}");

    let table = run(&["scan", "--config", &config, "--seconds", "2"]);
    assert_eq!(table.status.code(), Some(0), "{table:?}");
    let text = String::from_utf8_lossy(&table.stdout);
    let line = text
        .lines()
        .find(|line| line.starts_with("54:D2:72:00:00:01"))
        .unwrap_or_else(|| panic!("entrance listed: {text}"));
    assert!(line.contains(" Box "), "{line}");
}
