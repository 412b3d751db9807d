//! The configuration files shipped in config/, the loader's layering and checks, and the
//! store's persistence guarantees.

mod common;

use std::collections::HashMap;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use nuki_edge::ble::DeviceAddress;
use nuki_edge::config::{BleBackend, Config, ConfigError, IdType, LogFormat, SecurityPin};
use nuki_edge::nuki::crypto::SharedKey;
use nuki_edge::nuki::product::ProductType;
use nuki_edge::store::{Pairing, Store, StoreError, CURRENT_SCHEMA_VERSION};

const DEFAULT_TOML: &str = include_str!("../config/default.toml");
const DEMO_TOML: &str = include_str!("../config/demo.toml");

fn no_env() -> HashMap<String, String> {
    HashMap::new()
}

fn env(pairs: &[(&str, &str)]) -> HashMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

fn parse(text: &str) -> Result<Config, ConfigError> {
    Config::parse(text, Path::new("test.toml"), no_env())
}

/// Parses, resolves secret files and validates, like loading a file does.
fn load_text(text: &str) -> Result<Config, ConfigError> {
    let mut config = parse(text)?;
    config.resolve_secret_files()?;
    config.validate()?;
    Ok(config)
}

fn write_temp(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

/// `#key = value` lines (no space after `#`) are the optional keys of default.toml.
fn uncomment_optional_keys(text: &str) -> String {
    text.lines()
        .map(|line| match line.strip_prefix('#') {
            Some(rest) if rest.starts_with("[[") || is_assignment(rest) => rest,
            _ => line,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn is_assignment(line: &str) -> bool {
    line.split_once(" = ").is_some_and(|(key, _)| {
        !key.is_empty() && key.chars().all(|c| c.is_ascii_lowercase() || c == '_')
    })
}

fn sim_device(address: &str, name: &str, nuki_id: &str, kind: &str, pin: u32) -> String {
    format!(
        "[[sim.devices]]\naddress = \"{address}\"\nname = \"{name}\"\nnuki_id = {nuki_id}\n\
         kind = \"{kind}\"\nsecurity_pin = {pin}\n"
    )
}

fn assert_one_line_naming(err: &ConfigError, key: &str) {
    let text = err.to_string();
    assert!(!text.contains('\n'), "not one line: {text}");
    assert!(text.contains(key), "{text:?} does not name {key}");
    assert_eq!(err.key(), Some(key));
}

// --- the shipped files ---------------------------------------------------------------------

#[test]
fn default_toml_loads_and_matches_the_code_defaults() {
    let dir = tempfile::tempdir().unwrap();
    let path = write_temp(dir.path(), "default.toml", DEFAULT_TOML);
    let config = Config::load_with_env(&path, no_env()).unwrap();
    assert_eq!(config, Config::default());
    assert_eq!(config.ble.backend, BleBackend::Bluez);
    assert_eq!(config.ble.scan_seconds, 5);
    assert_eq!(config.ble.connect_timeout_ms, 10_000);
    assert_eq!(config.ble.command_timeout_ms, 20_000);
    assert_eq!(config.ble.pairing_timeout_s, 30);
    assert_eq!(config.pairing.id_type, IdType::App);
    assert!(!config.pairing.auto_pair);
    assert_eq!(
        config.store.path,
        PathBuf::from("/var/lib/nuki-edge/nuki-edge.redb")
    );
    assert_eq!(config.sim.seed, 1);
    assert_eq!(config.sim.fragment_len, 20);
}

#[test]
fn every_key_documented_in_default_toml_is_known() {
    let full = uncomment_optional_keys(DEFAULT_TOML);
    assert_ne!(full, DEFAULT_TOML, "default.toml documents optional keys");
    let config = parse(&full).unwrap();
    // The optional keys really were read, so none of them is a silently ignored typo.
    assert_eq!(config.ble.adapter.as_deref(), Some("hci0"));
    assert_eq!(config.pairing.app_id, Some(4242));
    assert_eq!(
        config.pairing.security_pin,
        Some(SecurityPin::Long(123_456))
    );
    assert!(config.pairing.security_pin_file.is_some());
    let [device] = config.sim.devices.as_slice() else {
        panic!("the documented device block was not read");
    };
    assert_eq!(device.nuki_id, 0x33C3_35C5);
    assert_eq!(device.kind, ProductType::SmartLock4);
    assert_eq!(device.states_layout_len, Some(27));
    assert_eq!(device.motor_time_ms, Some(1500));
    assert!(device.position.is_some());
    let [radio] = config.sim.radios.as_slice() else {
        panic!("the documented radio block was not read");
    };
    assert_eq!(radio.name, "entrance");
    assert_eq!(config.mqtt.host.as_deref(), Some("127.0.0.1"));
    assert!(config.mqtt.tls_key_file.is_some());
}

#[test]
fn every_config_key_is_documented_in_default_toml() {
    let keys = [
        "[gateway]",
        "[store]",
        "[log]",
        "[ble]",
        "[pairing]",
        "[sim]",
        "[[sim.devices]]",
        "[[sim.radios]]",
        "position =",
        "name =",
        "path =",
        "level =",
        "format =",
        "backend =",
        "adapter =",
        "scan_seconds =",
        "connect_timeout_ms =",
        "command_timeout_ms =",
        "pairing_timeout_s =",
        "id_type =",
        "app_id =",
        "auto_pair =",
        "security_pin =",
        "security_pin_file =",
        "seed =",
        "connection_interval_ms =",
        "connect_time_ms =",
        "fragment_len =",
        "address =",
        "nuki_id =",
        "kind =",
        "start_in_pairing_mode =",
        "states_layout_len =",
        "motor_time_ms =",
        "door_sensor =",
        "[mqtt]",
        "host =",
        "port =",
        "username =",
        "password_file =",
        "client_id =",
        "topic_prefix =",
        "discovery_prefix =",
        "tls_ca_file =",
        "tls_cert_file =",
        "tls_key_file =",
        "rights =",
        "health_interval_s =",
    ];
    for key in keys {
        assert!(DEFAULT_TOML.contains(key), "default.toml lacks {key}");
    }
}

#[test]
fn demo_toml_is_the_simulated_building() {
    let dir = tempfile::tempdir().unwrap();
    let path = write_temp(dir.path(), "demo.toml", DEMO_TOML);
    let config = Config::load_with_env(&path, no_env()).unwrap();
    assert_eq!(config.ble.backend, BleBackend::Sim);
    assert!(config.pairing.auto_pair);
    assert_eq!(config.store.path, PathBuf::from("./nuki-edge-demo.redb"));
    let devices = &config.sim.devices;
    assert_eq!(devices.len(), 8);
    // Every door stands somewhere, for the radios the demo describes.
    assert!(devices.iter().all(|d| d.position.is_some()));
    let radios: Vec<&str> = config.sim.radios.iter().map(|r| r.name.as_str()).collect();
    assert_eq!(radios, ["entrance", "stairwell"]);
    let count = |kind| devices.iter().filter(|d| d.kind == kind).count();
    assert_eq!(count(ProductType::Box), 2);
    assert_eq!(count(ProductType::Opener), 1);
    assert_eq!(count(ProductType::SmartLockUltra), 1);
    assert_eq!(
        count(ProductType::SmartLock2) + count(ProductType::SmartLock4),
        4
    );
    assert!(count(ProductType::SmartLock2) > 0 && count(ProductType::SmartLock4) > 0);
    let ultra = devices
        .iter()
        .find(|d| d.kind == ProductType::SmartLockUltra)
        .unwrap();
    assert_eq!(ultra.security_pin.value(), 123_456);
    assert_eq!(
        config.pairing.security_pin,
        Some(SecurityPin::Long(123_456))
    );
    for entrance in ["Entrance North", "Entrance South"] {
        let found = config.find_sim_device(entrance).unwrap();
        assert_eq!(found.kind, ProductType::Box);
    }
    assert!(devices.iter().all(|d| d.start_in_pairing_mode));
}

#[test]
fn devices_are_found_by_address_or_name() {
    let config = parse(DEMO_TOML).unwrap();
    let by_address = config.find_sim_device("54:d2:72:5a:00:31").unwrap();
    assert_eq!(by_address.name, "Penthouse");
    assert_eq!(
        config.find_sim_device("penthouse").unwrap().address,
        "54:D2:72:5A:00:31"
    );
    assert!(config.find_sim_device("Cellar").is_none());
}

// --- layering ------------------------------------------------------------------------------

#[test]
fn environment_overrides_the_file() {
    let text = "[ble]\nbackend = \"bluez\"\nscan_seconds = 2\n[log]\nformat = \"text\"\n";
    let overrides = env(&[
        ("NUKI_EDGE__BLE__SCAN_SECONDS", "9"),
        ("NUKI_EDGE__LOG__FORMAT", "json"),
        ("NUKI_EDGE__PAIRING__AUTO_PAIR", "true"),
        ("NUKI_EDGE__PAIRING__SECURITY_PIN", "0042"),
        ("NUKI_EDGE__GATEWAY__NAME", "north-wing"),
        ("OTHER_APP__BLE__SCAN_SECONDS", "1"),
    ]);
    let config = Config::parse(text, Path::new("t.toml"), overrides).unwrap();
    assert_eq!(config.ble.scan_seconds, 9);
    assert_eq!(config.ble.backend, BleBackend::Bluez);
    assert_eq!(config.log.format, LogFormat::Json);
    assert!(config.pairing.auto_pair);
    assert_eq!(config.pairing.security_pin, Some(SecurityPin::Long(42)));
    assert_eq!(config.gateway.name, "north-wing");
}

#[test]
fn environment_cannot_add_unknown_keys() {
    let err = Config::parse(
        "",
        Path::new("t.toml"),
        env(&[("NUKI_EDGE__BLE__SCAN_SECONS", "3")]),
    )
    .unwrap_err();
    assert_one_line_naming(&err, "ble");
    assert!(err.to_string().contains("scan_secons"));
}

#[test]
fn load_with_env_applies_overrides_before_validation() {
    let dir = tempfile::tempdir().unwrap();
    let path = write_temp(dir.path(), "c.toml", "");
    let err = Config::load_with_env(&path, env(&[("NUKI_EDGE__BLE__BACKEND", "sim")])).unwrap_err();
    assert_one_line_naming(&err, "sim.devices");
}

// --- errors --------------------------------------------------------------------------------

#[test]
fn unknown_keys_are_rejected_everywhere() {
    for (text, key) in [
        ("[gateway]\nnmae = \"x\"\n", "gateway"),
        ("[store]\npaht = \"x\"\n", "store"),
        ("[log]\nlevle = \"x\"\n", "log"),
        ("[ble]\nbackends = \"sim\"\n", "ble"),
        ("[pairing]\nautopair = true\n", "pairing"),
        ("[sim]\nseeds = 1\n", "sim"),
        ("[bridge]\ntokn = \"abcdef123\"\n", "bridge"),
        ("[fleet]\nslots = 3\n", "fleet"),
        ("[http]\nport = 8080\n", "http"),
        ("toplevel = 1\n", "(top level)"),
    ] {
        let err = parse(text).unwrap_err();
        assert!(
            matches!(err, ConfigError::Invalid { .. }),
            "{text}: {err:?}"
        );
        assert_one_line_naming(&err, key);
    }
    let err = parse(&format!(
        "{}colour = \"red\"\n",
        sim_device("a", "A", "1", "box", 0)
    ))
    .unwrap_err();
    assert_one_line_naming(&err, "sim.devices[0]");
    assert!(err.to_string().contains("colour"));
}

#[test]
fn wrong_types_name_the_key() {
    let err = parse("[ble]\nscan_seconds = \"five\"\n").unwrap_err();
    assert!(matches!(err, ConfigError::WrongType { .. }), "{err:?}");
    assert_one_line_naming(&err, "ble.scan_seconds");

    let err = parse("[ble]\nbackend = \"bluetooth\"\n").unwrap_err();
    assert_one_line_naming(&err, "ble.backend");

    let err = parse(&sim_device("a", "A", "\"0xZZ\"", "box", 0)).unwrap_err();
    assert_one_line_naming(&err, "sim.devices[0].nuki_id");

    let err = parse(&sim_device("a", "A", "1", "smart_lock_9", 0)).unwrap_err();
    assert_one_line_naming(&err, "sim.devices[0].kind");
}

#[test]
fn nuki_ids_accept_numbers_and_hex_text() {
    let text = format!(
        "{}{}",
        sim_device("a", "A", "\"0x33C335C5\"", "box", 0),
        sim_device("b", "B", "123", "opener", 0)
    );
    let config = parse(&text).unwrap();
    assert_eq!(config.sim.devices[0].nuki_id, 0x33C3_35C5);
    assert_eq!(config.sim.devices[1].nuki_id, 123);
}

#[test]
fn syntax_errors_give_a_position_but_not_the_line() {
    let err = parse("[pairing]\nsecurity_pin = 98765x\n").unwrap_err();
    let ConfigError::Syntax { line, .. } = &err else {
        panic!("{err:?}");
    };
    assert_eq!(*line, 2);
    let text = err.to_string();
    assert!(!text.contains('\n'));
    assert!(!text.contains("98765"), "{text}");
}

#[test]
fn bad_pins_are_refused_without_echoing_them() {
    for text in [
        "[pairing]\nsecurity_pin = \"98765x\"\n",
        "[pairing]\nsecurity_pin = 9876543\n",
        "[pairing]\nsecurity_pin = -98765\n",
    ] {
        let err = parse(text).unwrap_err();
        assert_one_line_naming(&err, "pairing.security_pin");
        assert!(!err.to_string().contains("98765"), "{err}");
    }
}

#[test]
fn validation_errors_name_the_key() {
    let sim = "[ble]\nbackend = \"sim\"\n";
    let cases: Vec<(String, &str)> = vec![
        (sim.to_owned(), "sim.devices"),
        (
            format!("[pairing]\nname = \"{}\"\n", "x".repeat(33)),
            "pairing.name",
        ),
        ("[pairing]\nname = \"\"\n".to_owned(), "pairing.name"),
        (
            format!("[gateway]\nname = \"{}\"\n", "g".repeat(65)),
            "gateway.name",
        ),
        ("[ble]\nscan_seconds = 0\n".to_owned(), "ble.scan_seconds"),
        (
            "[ble]\ncommand_timeout_ms = 0\n".to_owned(),
            "ble.command_timeout_ms",
        ),
        ("[ble]\nadapter = \"\"\n".to_owned(), "ble.adapter"),
        (
            "[ble]\nadapter = \"hci0\"\nadapters = [\"hci1\"]\n".to_owned(),
            "ble.adapter",
        ),
        ("[ble]\nadapters = [\" \"]\n".to_owned(), "ble.adapters[0]"),
        (
            "[ble]\nswitch_margin_db = 41\n".to_owned(),
            "ble.switch_margin_db",
        ),
        ("[ble]\nrssi_window = 0\n".to_owned(), "ble.rssi_window"),
        (
            "[ble]\nradio_silence_s = 0\n".to_owned(),
            "ble.radio_silence_s",
        ),
        (
            "[ble]\nadapters = [\"hall\"]\n[[ble.proxies]]\nname = \"hall\"\nhost = \"esp\"\n"
                .to_owned(),
            "ble.proxies[0].name",
        ),
        (
            "[[ble.proxies]]\nname = \"hall\"\nhost = \"\"\n".to_owned(),
            "ble.proxies[0].host",
        ),
        (
            "[[ble.proxies]]\nname = \"hall\"\nhost = \"esp\"\nport = 0\n".to_owned(),
            "ble.proxies[0].port",
        ),
        (
            "[ble]\nadapters = [\"hci0\"]\npin = { \"54:D2:72:00:00:01\" = \"cellar\" }\n"
                .to_owned(),
            "ble.pin.\"54:D2:72:00:00:01\"",
        ),
        (
            "[log]\nlevel = \"nuki_edge=loud\"\n".to_owned(),
            "log.level",
        ),
        ("[sim]\nfragment_len = 0\n".to_owned(), "sim.fragment_len"),
        (
            format!("{sim}{}", sim_device("a", "A", "1", "smart_lock_4", 10_000)),
            "sim.devices[0].security_pin",
        ),
        (
            format!("{sim}{}", sim_device("a", "A", "1", "opener", 12_345)),
            "sim.devices[0].security_pin",
        ),
        (
            format!(
                "{sim}{}",
                sim_device("a", "A", "1", "smart_lock_ultra", 1_000_000)
            ),
            "sim.devices[0].security_pin",
        ),
        (
            format!(
                "{sim}{}{}",
                sim_device("sim:1", "A", "1", "box", 0),
                sim_device("SIM:1", "B", "2", "box", 0)
            ),
            "sim.devices[1].address",
        ),
        (
            format!(
                "{sim}{}{}",
                sim_device("a", "Flat", "1", "box", 0),
                sim_device("b", "flat", "2", "box", 0)
            ),
            "sim.devices[1].name",
        ),
        (
            format!(
                "{sim}{}{}",
                sim_device("a", "A", "1", "box", 0),
                sim_device("b", "B", "\"0x1\"", "box", 0)
            ),
            "sim.devices[1].nuki_id",
        ),
        (
            format!("{sim}{}", sim_device("a", &"n".repeat(33), "1", "box", 0)),
            "sim.devices[0].name",
        ),
        (
            format!(
                "{sim}{}[[sim.radios]]\nname = \"hall\"\nposition = [0, 0, 0]\n\
                 [[sim.radios]]\nname = \"hall\"\nposition = [9, 0, 0]\n",
                sim_device("a", "A", "1", "box", 0)
            ),
            "sim.radios[1].name",
        ),
        (
            format!(
                "{sim}{}[[sim.radios]]\nname = \"hall\"\nposition = [0, inf, 0]\n",
                sim_device("a", "A", "1", "box", 0)
            ),
            "sim.radios[0].position",
        ),
        (
            format!(
                "{sim}{}position = [nan, 0, 0]\n",
                sim_device("a", "A", "1", "box", 0)
            ),
            "sim.devices[0].position",
        ),
    ];
    for (text, key) in cases {
        let err = load_text(&text).unwrap_err();
        assert_one_line_naming(&err, key);
    }
    let duplicate = load_text(&format!(
        "{sim}{}{}",
        sim_device("a", "A", "7", "box", 0),
        sim_device("b", "B", "7", "box", 0)
    ))
    .unwrap_err();
    assert!(matches!(duplicate, ConfigError::Duplicate { .. }));

    let ultra = format!(
        "{sim}{}",
        sim_device("a", "A", "1", "smart_lock_ultra", 999_999)
    );
    assert!(load_text(&ultra).is_ok());
    // A device may stand somewhere while no radio does: every radio hears it then.
    let placed = format!(
        "{sim}{}position = [1.5, 2, 3]\n",
        sim_device("a", "A", "1", "box", 0)
    );
    assert!(load_text(&placed).is_ok());
    // Pins name any radio there is: an adapter BlueZ may offer, a proxy, a simulated radio.
    let pins =
        "[ble]\npin = { \"54:D2:72:00:00:01\" = \"hci1\", \"54:D2:72:00:00:02\" = \"hall\" }\n\
                [[ble.proxies]]\nname = \"hall\"\nhost = \"esp-hall.local\"\n";
    let config = load_text(pins).unwrap();
    assert_eq!(config.ble.proxies[0].port, 6053);
    let sim_pin = format!(
        "[ble]\nbackend = \"sim\"\npin = {{ \"a\" = \"sim\" }}\n{}",
        sim_device("a", "A", "1", "box", 0)
    );
    assert!(load_text(&sim_pin).is_ok());
}

// --- secret files --------------------------------------------------------------------------

#[test]
fn security_pin_can_come_from_a_file() {
    let dir = tempfile::tempdir().unwrap();
    let pin_file = write_temp(dir.path(), "pin", "654321\n");
    let text = format!(
        "[pairing]\nsecurity_pin_file = \"{}\"\n",
        pin_file.display()
    );
    let config = load_text(&text).unwrap();
    assert_eq!(
        config.pairing.security_pin,
        Some(SecurityPin::Long(654_321))
    );
    assert!(!format!("{config:?}").contains("654321"));
}

#[test]
fn secret_file_problems_are_reported() {
    let dir = tempfile::tempdir().unwrap();
    let pin_file = write_temp(dir.path(), "pin", "12ab56\n");
    let missing = dir.path().join("missing");

    let both = format!(
        "[pairing]\nsecurity_pin = 1\nsecurity_pin_file = \"{}\"\n",
        pin_file.display()
    );
    let err = load_text(&both).unwrap_err();
    assert!(matches!(err, ConfigError::SecretTwice { .. }));
    assert_one_line_naming(&err, "pairing.security_pin");

    let absent = format!("[pairing]\nsecurity_pin_file = \"{}\"\n", missing.display());
    let err = load_text(&absent).unwrap_err();
    assert!(matches!(err, ConfigError::SecretFile { .. }));
    assert_one_line_naming(&err, "pairing.security_pin");

    let garbage = format!(
        "[pairing]\nsecurity_pin_file = \"{}\"\n",
        pin_file.display()
    );
    let err = load_text(&garbage).unwrap_err();
    assert_one_line_naming(&err, "pairing.security_pin_file");
    assert!(!err.to_string().contains("12ab56"));
}

// --- store ---------------------------------------------------------------------------------

const KEY_BYTES: [u8; 32] = [
    0x21, 0x7F, 0xCB, 0x0F, 0x18, 0xCA, 0xF2, 0x84, 0xE9, 0xBD, 0xEA, 0x0B, 0x94, 0xB8, 0x3B, 0x8D,
    0x10, 0x86, 0x7E, 0xD7, 0x06, 0xBF, 0xDE, 0xDB, 0xD2, 0x38, 0x1F, 0x4C, 0xB3, 0xB8, 0xF7, 0x30,
];

fn pairing(address: &str, product: ProductType, pin: Option<SecurityPin>) -> Pairing {
    Pairing {
        address: DeviceAddress(address.to_owned()),
        nuki_id: 0x2A00_0011,
        product,
        device_name: "Flat 1.1".to_owned(),
        auth_id: 2,
        app_id: 0x1234_5678,
        id_type: 0,
        key: SharedKey::from_bytes(KEY_BYTES),
        security_pin: pin,
        paired_at_unix: 1_767_225_600,
    }
}

fn mode_of(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[test]
fn pairings_round_trip_and_survive_reopening() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state").join("nested").join("store.redb");
    let lock = pairing("54:D2:72:2A:00:11", ProductType::SmartLock4, None);
    let ultra = pairing(
        "54:D2:72:5A:00:31",
        ProductType::SmartLockUltra,
        Some(SecurityPin::Long(123_456)),
    );
    {
        let store = Store::open(&path).unwrap();
        assert_eq!(store.pairing(&lock.address).unwrap(), None);
        store.save_pairing(&ultra).unwrap();
        store.save_pairing(&lock).unwrap();
        assert_eq!(store.pairing(&ultra.address).unwrap(), Some(ultra.clone()));
        store.set_setting("app_id", "305419896").unwrap();
    }
    let store = Store::open(&path).unwrap();
    assert_eq!(store.pairings().unwrap(), vec![lock.clone(), ultra.clone()]);
    assert_eq!(
        store.get_setting("app_id").unwrap().as_deref(),
        Some("305419896")
    );
    assert_eq!(store.get_setting("missing").unwrap(), None);

    let mut renewed = lock.clone();
    renewed.auth_id = 9;
    store.save_pairing(&renewed).unwrap();
    assert_eq!(store.pairing(&lock.address).unwrap(), Some(renewed));
    assert_eq!(store.pairings().unwrap().len(), 2);

    assert!(store.remove_pairing(&lock.address).unwrap());
    assert!(!store.remove_pairing(&lock.address).unwrap());
    assert_eq!(store.pairings().unwrap(), vec![ultra]);
}

#[test]
fn store_file_is_private() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store.redb");
    drop(Store::open(&path).unwrap());
    assert_eq!(mode_of(&path), 0o600);

    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
    let store = Store::open(&path).unwrap();
    assert_eq!(mode_of(&path), 0o600);
    assert_eq!(store.schema_version().unwrap(), CURRENT_SCHEMA_VERSION);
}

#[test]
fn schema_version_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store.redb");
    drop(Store::open(&path).unwrap());
    let db = redb::Database::create(&path).unwrap();
    let txn = redb::ReadableDatabase::begin_read(&db).unwrap();
    let meta = txn
        .open_table(redb::TableDefinition::<&str, u64>::new("meta"))
        .unwrap();
    let version = meta.get("schema_version").unwrap().unwrap().value();
    assert_eq!(version, CURRENT_SCHEMA_VERSION);
}

#[test]
fn a_newer_schema_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store.redb");
    drop(Store::open(&path).unwrap());
    {
        let db = redb::Database::create(&path).unwrap();
        let txn = db.begin_write().unwrap();
        {
            let mut meta = txn
                .open_table(redb::TableDefinition::<&str, u64>::new("meta"))
                .unwrap();
            meta.insert("schema_version", CURRENT_SCHEMA_VERSION + 1)
                .unwrap();
        }
        txn.commit().unwrap();
    }
    let err = Store::open(&path).unwrap_err();
    assert_eq!(
        err,
        StoreError::NewerSchema {
            path: path.clone(),
            found: CURRENT_SCHEMA_VERSION + 1,
            supported: CURRENT_SCHEMA_VERSION,
        }
    );
    assert!(!err.to_string().contains('\n'));
}

#[test]
fn a_file_that_is_not_a_store_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = write_temp(dir.path(), "store.redb", "this is not a database at all");
    let err = Store::open(&path).unwrap_err();
    assert!(matches!(err, StoreError::Damaged { .. }), "{err:?}");
    assert!(err.needs_operator());
    assert_eq!(
        std::fs::read(&path).unwrap(),
        b"this is not a database at all"
    );
}

#[test]
fn pairing_debug_hides_the_key_and_pin() {
    let shown = format!(
        "{:?}",
        pairing(
            "54:D2:72:5A:00:31",
            ProductType::SmartLockUltra,
            Some(SecurityPin::Long(123_456)),
        )
    );
    assert!(shown.contains("54:D2:72:5A:00:31"), "{shown}");
    let key_hex = hex::encode(KEY_BYTES);
    assert!(!shown.to_lowercase().contains(&key_hex[..8]), "{shown}");
    assert!(!shown.contains("123456"), "{shown}");
    assert!(
        !shown.contains(&format!("{:?}", &KEY_BYTES[..4])),
        "{shown}"
    );
}

// --- damaged stores, through the binary ------------------------------------------------------

/// A daemon config for `store`; the HTTP port is chosen by the OS so nothing collides.
fn daemon_config(dir: &Path, store: &Path) -> String {
    let text = format!(
        "[store]\npath = \"{}\"\n\n[ble]\nbackend = \"sim\"\n\n[http]\nlisten = \"127.0.0.1:0\"\n\n{}",
        store.display(),
        sim_device("54:D2:72:00:00:01", "Entrance", "0x54000001", "box", 0)
    );
    write_temp(dir, "nuki-edge.toml", &text)
        .to_string_lossy()
        .into_owned()
}

/// A store with two pairings and a setting, written through the real Store API.
fn store_with_pairings(path: &Path) {
    fill(&Store::open(path).unwrap());
}

fn fill(store: &Store) {
    for pairing in [
        pairing("54:D2:72:2A:00:11", ProductType::SmartLock4, None),
        pairing(
            "54:D2:72:5A:00:31",
            ProductType::SmartLockUltra,
            Some(SecurityPin::Long(123_456)),
        ),
    ] {
        store.save_pairing(&pairing).unwrap();
    }
    store
        .set_setting("bridge.hardware_id", "305419896")
        .unwrap();
}

/// Zeroes every 4 KiB page (past the header) holding `needle`: a data page in use.
fn zero_pages_holding(path: &Path, needle: &[u8]) {
    const PAGE: usize = 4096;
    let mut bytes = std::fs::read(path).unwrap();
    let mut zeroed = 0;
    for start in (PAGE..bytes.len()).step_by(PAGE) {
        let end = (start + PAGE).min(bytes.len());
        if bytes[start..end].windows(needle.len()).any(|w| w == needle) {
            bytes[start..end].fill(0);
            zeroed += 1;
        }
    }
    assert!(zeroed > 0, "no page holds the record");
    std::fs::write(path, bytes).unwrap();
}

fn stderr_lines(output: &std::process::Output) -> Vec<String> {
    String::from_utf8_lossy(&output.stderr)
        .lines()
        .map(str::to_owned)
        .collect()
}

/// Exit code 2 (systemd must not restart) and exactly one `error: …` line.
fn assert_refused(output: &std::process::Output) -> String {
    let lines = stderr_lines(output);
    assert_eq!(output.status.code(), Some(2), "stderr: {lines:?}");
    assert_eq!(lines.len(), 1, "stderr: {lines:?}");
    assert!(lines[0].starts_with("error: "), "{lines:?}");
    lines[0].clone()
}

fn assert_daemon_refuses_unchanged(dir: &Path, store: &Path) -> String {
    let before = std::fs::read(store).unwrap();
    let config = daemon_config(dir, store);
    let line = assert_refused(&common::cli::run_guarded(&["run", "--config", &config]));
    assert!(line.contains(&store.display().to_string()), "{line}");
    assert_eq!(
        std::fs::read(store).unwrap(),
        before,
        "the file was changed"
    );
    line
}

#[test]
fn a_zeroed_page_stops_the_daemon_with_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store.redb");
    store_with_pairings(&store);
    zero_pages_holding(&store, b"Flat 1.1");
    let line = assert_daemon_refuses_unchanged(dir.path(), &store);
    assert!(line.contains("damaged"), "{line}");
    assert!(line.contains("store recover"), "{line}");
}

#[test]
fn an_empty_store_file_is_damage_not_a_new_store() {
    let dir = tempfile::tempdir().unwrap();
    let store = write_temp(dir.path(), "store.redb", "");
    let line = assert_daemon_refuses_unchanged(dir.path(), &store);
    assert!(line.contains("empty"), "{line}");
}

#[test]
fn a_truncated_store_is_refused_unchanged() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store.redb");
    store_with_pairings(&store);
    let bytes = std::fs::read(&store).unwrap();
    std::fs::write(&store, &bytes[..bytes.len() / 2]).unwrap();
    assert_daemon_refuses_unchanged(dir.path(), &store);
    // A cut inside the header is damage too, not "some other file".
    std::fs::write(&store, &bytes[..100]).unwrap();
    assert_daemon_refuses_unchanged(dir.path(), &store);
}

#[test]
fn a_directory_as_store_path_is_refused_and_left_alone() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store.redb");
    std::fs::create_dir(&store).unwrap();
    std::fs::set_permissions(&store, std::fs::Permissions::from_mode(0o755)).unwrap();
    let config = daemon_config(dir.path(), &store);
    let line = assert_refused(&common::cli::run_guarded(&["run", "--config", &config]));
    assert!(line.contains("not a regular file"), "{line}");
    assert_eq!(mode_of(&store), 0o755, "the directory was chmod-ed");
}

#[test]
fn store_check_reports_a_healthy_and_a_damaged_store() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store.redb");
    store_with_pairings(&store);
    let config = daemon_config(dir.path(), &store);
    let healthy = common::cli::run_guarded(&["store", "check", "--config", &config]);
    assert_eq!(healthy.status.code(), Some(0), "{healthy:?}");
    let report = String::from_utf8_lossy(&healthy.stdout);
    assert!(report.contains("intact"), "{report}");
    assert!(report.contains("2 pairings"), "{report}");

    zero_pages_holding(&store, b"Flat 1.1");
    let before = std::fs::read(&store).unwrap();
    let line = assert_refused(&common::cli::run_guarded(&[
        "store", "check", "--config", &config,
    ]));
    assert!(line.contains("damaged"), "{line}");
    assert_eq!(
        std::fs::read(&store).unwrap(),
        before,
        "check changed the file"
    );
    let leftovers: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|entry| entry.unwrap().file_name())
        .collect();
    assert_eq!(leftovers.len(), 2, "check left files behind: {leftovers:?}");
}

#[test]
fn store_recover_repairs_a_copy_taken_while_open_and_keeps_a_backup() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store.redb");
    // A naive backup copies the file while the daemon has it open: the copy needs redb's
    // crash repair.
    let live_copy = {
        let open = Store::open(&store).unwrap();
        fill(&open);
        std::fs::read(&store).unwrap()
    };
    std::fs::write(&store, &live_copy).unwrap();
    let config = daemon_config(dir.path(), &store);
    let output = common::cli::run_guarded(&["store", "recover", "--config", &config]);
    assert_eq!(output.status.code(), Some(0), "{output:?}");
    let report = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(report.contains("2 pairings"), "{report}");
    let backup = dir
        .path()
        .join(report.split("backup at ").nth(1).unwrap().trim());
    assert_eq!(std::fs::read(&backup).unwrap(), live_copy);
    assert_eq!(mode_of(&backup), 0o600, "the backup holds keys");
    let reopened = Store::open(&store).unwrap();
    assert_eq!(reopened.pairings().unwrap().len(), 2);
}

#[test]
fn store_recover_leaves_an_unrepairable_store_and_keeps_a_backup() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store.redb");
    store_with_pairings(&store);
    zero_pages_holding(&store, b"Flat 1.1");
    let before = std::fs::read(&store).unwrap();
    let config = daemon_config(dir.path(), &store);
    let line = assert_refused(&common::cli::run_guarded(&[
        "store", "recover", "--config", &config,
    ]));
    assert!(line.contains("cannot be repaired"), "{line}");
    assert_eq!(std::fs::read(&store).unwrap(), before);
    let backup = line
        .split("copy is at ")
        .nth(1)
        .and_then(|rest| rest.split(';').next())
        .unwrap();
    assert_eq!(std::fs::read(backup.trim()).unwrap(), before);
}

#[test]
fn the_gateways_time_zone_must_be_an_iana_name() {
    assert_eq!(load_text("").unwrap().gateway.time_zone, "UTC");
    let zurich = load_text("[gateway]\ntime_zone = \"Europe/Zurich\"\n").unwrap();
    assert_eq!(zurich.gateway.time_zone, "Europe/Zurich");
    let err = load_text("[gateway]\ntime_zone = \"Mars/Olympus\"\n").unwrap_err();
    assert_one_line_naming(&err, "gateway.time_zone");
}

// --- [mqtt] ----------------------------------------------------------------------------------

#[test]
fn mqtt_is_off_by_default_and_validated_when_set() {
    let config = load_text("").unwrap();
    assert!(!config.mqtt.enabled());
    assert_eq!(config.mqtt.port(), nuki_edge::config::MQTT_PORT);

    for (text, key) in [
        (
            "[mqtt]\nhost = \"b\"\ntopic_prefix = \"/nuki\"\n",
            "mqtt.topic_prefix",
        ),
        (
            "[mqtt]\nhost = \"b\"\ntopic_prefix = \"nuki/+\"\n",
            "mqtt.topic_prefix",
        ),
        (
            "[mqtt]\ndiscovery_prefix = \"ha/\"\n",
            "mqtt.discovery_prefix",
        ),
        ("[mqtt]\nhost = \"\"\n", "mqtt.host"),
        ("[mqtt]\nhealth_interval_s = 0\n", "mqtt.health_interval_s"),
        (
            "[mqtt]\npassword_file = \"/etc/hostname\"\n",
            "mqtt.password_file",
        ),
    ] {
        let err = load_text(text).unwrap_err();
        assert_one_line_naming(&err, key);
    }
    let err = parse("[mqtt]\npassword = \"secret\"\n").unwrap_err();
    assert!(err.to_string().contains("password"), "{err}");
}

#[test]
fn mqtt_client_certificate_needs_its_key_and_a_ca() {
    let dir = tempfile::tempdir().unwrap();
    let pem = write_temp(dir.path(), "x.pem", "not checked here");
    let pem = pem.display();
    let err = load_text(&format!(
        "[mqtt]\ntls_ca_file = \"{pem}\"\ntls_cert_file = \"{pem}\"\n"
    ))
    .unwrap_err();
    assert_one_line_naming(&err, "mqtt.tls_cert_file");
    let err = load_text(&format!(
        "[mqtt]\ntls_cert_file = \"{pem}\"\ntls_key_file = \"{pem}\"\n"
    ))
    .unwrap_err();
    assert_one_line_naming(&err, "mqtt.tls_cert_file");
    let config = load_text(&format!("[mqtt]\nhost = \"b\"\ntls_ca_file = \"{pem}\"\n")).unwrap();
    assert_eq!(config.mqtt.port(), nuki_edge::config::MQTT_TLS_PORT);
    let err = load_text("[mqtt]\ntls_ca_file = \"/nonexistent/ca.pem\"\n").unwrap_err();
    assert_one_line_naming(&err, "mqtt.tls_ca_file");
}

#[test]
fn mqtt_password_comes_from_its_file_and_is_never_printed() {
    let dir = tempfile::tempdir().unwrap();
    let file = write_temp(dir.path(), "mqtt-password", "s3cret pass\n");
    std::fs::set_permissions(&file, std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();
    let config = load_text(&format!(
        "[mqtt]\nhost = \"b\"\nusername = \"gw\"\npassword_file = \"{}\"\n",
        file.display()
    ))
    .unwrap();
    let password = config.mqtt.password.as_ref().expect("read from the file");
    assert_eq!(password.expose(), "s3cret pass");
    assert!(!format!("{config:?}").contains("s3cret"));
}
