//! The Bluetooth checks of the `bluez` backend: the system D-Bus, permission to talk to
//! BlueZ on it, an adapter present and powered, and BlueZ's version.

use crate::config::{BleBackend, Config};

use super::Check;

pub fn check(config: &Config) -> Vec<Check> {
    match config.ble.backend {
        BleBackend::Sim => vec![Check::skip(
            "Bluetooth adapter",
            "simulated radio (ble.backend = \"sim\"): no adapter needed",
        )],
        BleBackend::Bluez => bluez(config),
    }
}

#[cfg(not(feature = "bluetooth"))]
fn bluez(_config: &Config) -> Vec<Check> {
    vec![Check::fail(
        "Bluetooth adapter",
        "this build has no Bluetooth support (feature `bluetooth` disabled)",
        "install a build with the `bluetooth` feature, or set ble.backend = \"sim\"",
    )]
}

#[cfg(feature = "bluetooth")]
fn bluez(config: &Config) -> Vec<Check> {
    let mut checks = dbus_checks::adapter(config.ble.adapter.as_deref());
    checks.push(version::check());
    checks
}

#[cfg(feature = "bluetooth")]
mod dbus_checks {
    use std::collections::HashMap;
    use std::time::Duration;

    use dbus::arg::{prop_cast, PropMap};
    use dbus::blocking::stdintf::org_freedesktop_dbus::ObjectManager;
    use dbus::blocking::Connection;

    use super::Check;

    /// Every D-Bus call of doctor gives up after this long.
    const DBUS_CALL_TIMEOUT: Duration = Duration::from_secs(5);
    const BLUEZ: &str = "org.bluez";
    const ADAPTER_INTERFACE: &str = "org.bluez.Adapter1";
    /// D-Bus error names (the protocol's error identifiers, not message texts).
    const ACCESS_DENIED: &str = "org.freedesktop.DBus.Error.AccessDenied";
    const SERVICE_UNKNOWN: &str = "org.freedesktop.DBus.Error.ServiceUnknown";
    const NAME_HAS_NO_OWNER: &str = "org.freedesktop.DBus.Error.NameHasNoOwner";
    const NO_REPLY: &str = "org.freedesktop.DBus.Error.NoReply";

    type Objects = HashMap<dbus::Path<'static>, HashMap<String, PropMap>>;

    pub fn adapter(wanted: Option<&str>) -> Vec<Check> {
        let connection = match Connection::new_system() {
            Ok(connection) => connection,
            Err(error) => {
                return vec![Check::fail(
                    "system D-Bus",
                    format!(
                        "cannot connect: {}",
                        error.message().unwrap_or("no reason given")
                    ),
                    "start the system bus (`systemctl start dbus`; Debian package dbus)",
                )]
            }
        };
        let mut checks = vec![Check::ok("system D-Bus", "reachable")];
        let proxy = connection.with_proxy(BLUEZ, "/", DBUS_CALL_TIMEOUT);
        let objects: Objects = match proxy.get_managed_objects() {
            Ok(objects) => objects,
            Err(error) => {
                checks.push(bluez_unreachable(&error));
                return checks;
            }
        };
        checks.push(Check::ok(
            "BlueZ permission",
            "BlueZ answers this user on D-Bus",
        ));
        checks.push(adapter_check(&objects, wanted));
        checks
    }

    fn bluez_unreachable(error: &dbus::Error) -> Check {
        let reason = error.message().unwrap_or("no reason given").to_owned();
        match error.name() {
            Some(ACCESS_DENIED) => Check::fail(
                "BlueZ permission",
                format!("D-Bus refuses this user access to BlueZ: {reason}"),
                "add the user to group bluetooth (`adduser nuki-edge bluetooth`); the packaged unit does so",
            ),
            Some(SERVICE_UNKNOWN | NAME_HAS_NO_OWNER) => Check::fail(
                "BlueZ",
                "bluetoothd is not running (org.bluez is not on the system bus)",
                "install and start BlueZ: `apt install bluez && systemctl enable --now bluetooth`",
            ),
            Some(NO_REPLY) => Check::fail(
                "BlueZ",
                format!("bluetoothd did not answer within {DBUS_CALL_TIMEOUT:?}"),
                "restart it: `systemctl restart bluetooth`",
            ),
            _ => Check::fail(
                "BlueZ",
                format!("BlueZ cannot be asked: {reason}"),
                "check `systemctl status bluetooth` and `journalctl -u bluetooth`",
            ),
        }
    }

    fn adapter_check(objects: &Objects, wanted: Option<&str>) -> Check {
        let adapters: Vec<(String, bool)> = objects
            .iter()
            .filter_map(|(path, interfaces)| {
                let properties = interfaces.get(ADAPTER_INTERFACE)?;
                let name = path.rsplit('/').next().unwrap_or_default().to_owned();
                let powered = prop_cast::<bool>(properties, "Powered").copied();
                Some((name, powered.unwrap_or(false)))
            })
            .collect();
        let chosen = match wanted {
            Some(name) => adapters.iter().find(|(found, _)| found == name),
            None => adapters.iter().min_by(|a, b| a.0.cmp(&b.0)),
        };
        match (chosen, wanted) {
            (None, Some(name)) => Check::fail(
                "Bluetooth adapter",
                format!(
                    "no adapter {name} (BlueZ has: {})",
                    list(&adapters)
                ),
                "plug the adapter in, or set ble.adapter to one BlueZ has (`bluetoothctl list`)",
            ),
            (None, None) => Check::fail(
                "Bluetooth adapter",
                "BlueZ has no adapter",
                "plug in a Bluetooth LE adapter; on a Pi check `rfkill list` and that dtoverlay=disable-bt is not set",
            ),
            (Some((name, false)), _) => Check::fail(
                "Bluetooth adapter",
                format!("{name} is present but powered off"),
                format!("power it on: `rfkill unblock bluetooth && bluetoothctl power on` (adapter {name})"),
            ),
            (Some((name, true)), _) => Check::ok("Bluetooth adapter", format!("{name} present and powered")),
        }
    }

    fn list(adapters: &[(String, bool)]) -> String {
        if adapters.is_empty() {
            return "none".to_owned();
        }
        adapters
            .iter()
            .map(|(name, _)| name.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    }

    #[cfg(test)]
    mod tests {
        use super::*;
        use dbus::arg::{RefArg, Variant};

        fn objects(adapters: &[(&str, bool)]) -> Objects {
            let mut objects = Objects::new();
            objects.insert(dbus::Path::from("/org/bluez"), HashMap::new());
            for (name, powered) in adapters {
                let mut properties = PropMap::new();
                properties.insert(
                    "Powered".to_owned(),
                    Variant(Box::new(*powered) as Box<dyn RefArg>),
                );
                let mut interfaces = HashMap::new();
                interfaces.insert(ADAPTER_INTERFACE.to_owned(), properties);
                objects.insert(dbus::Path::from(format!("/org/bluez/{name}")), interfaces);
            }
            objects
        }

        #[test]
        fn adapters_are_judged_by_presence_and_power() {
            let none = adapter_check(&objects(&[]), None);
            assert_eq!(none.verdict, crate::app::doctor::Verdict::Fail);
            assert!(none.detail.contains("no adapter"), "{none:?}");
            let off = adapter_check(&objects(&[("hci0", false)]), None);
            assert_eq!(off.verdict, crate::app::doctor::Verdict::Fail);
            assert!(off.fix.contains("power on"), "{off:?}");
            let on = adapter_check(&objects(&[("hci1", true), ("hci0", true)]), None);
            assert_eq!(on.verdict, crate::app::doctor::Verdict::Ok);
            assert!(on.detail.starts_with("hci0"), "the first adapter: {on:?}");
            let missing = adapter_check(&objects(&[("hci0", true)]), Some("hci1"));
            assert_eq!(missing.verdict, crate::app::doctor::Verdict::Fail);
            assert!(
                missing.detail.contains("hci0"),
                "names what there is: {missing:?}"
            );
        }

        #[test]
        fn d_bus_refusals_name_their_fix() {
            let denied = dbus::Error::new_custom(ACCESS_DENIED, "rejected send message");
            assert!(bluez_unreachable(&denied).fix.contains("group bluetooth"));
            let absent = dbus::Error::new_custom(SERVICE_UNKNOWN, "org.bluez unknown");
            assert!(bluez_unreachable(&absent)
                .fix
                .contains("systemctl enable --now bluetooth"));
            let slow = dbus::Error::new_custom(NO_REPLY, "no reply");
            assert!(bluez_unreachable(&slow).fix.contains("restart"));
        }
    }
}

#[cfg(feature = "bluetooth")]
mod version {
    use super::Check;

    /// Where Debian and others install the daemon.
    const BLUETOOTHD: &[&str] = &[
        "/usr/libexec/bluetooth/bluetoothd",
        "/usr/lib/bluetooth/bluetoothd",
        "/usr/sbin/bluetoothd",
    ];
    /// btleplug's BlueZ backend reads properties added in BlueZ 5.56; older ones break it.
    const OLDEST_SUPPORTED: (u32, u32) = (5, 56);

    pub fn check() -> Check {
        let Some(text) = BLUETOOTHD.iter().find_map(|path| {
            let output = std::process::Command::new(path)
                .arg("--version")
                .output()
                .ok()?;
            output
                .status
                .success()
                .then(|| String::from_utf8_lossy(&output.stdout).trim().to_owned())
        }) else {
            return Check::warn(
                "BlueZ version",
                "unknown: bluetoothd not found on this machine",
                "install BlueZ 5.56 or newer (Debian package bluez)",
            );
        };
        match parse(&text) {
            Some(version) if version >= OLDEST_SUPPORTED => {
                Check::ok("BlueZ version", format!("{}.{}", version.0, version.1))
            }
            Some(version) => Check::fail(
                "BlueZ version",
                format!("{}.{} is too old", version.0, version.1),
                "upgrade BlueZ to 5.56 or newer (Debian 12 ships 5.66)",
            ),
            None => Check::warn(
                "BlueZ version",
                format!("unrecognised version text {text:?}"),
                "make sure BlueZ is 5.56 or newer",
            ),
        }
    }

    fn parse(text: &str) -> Option<(u32, u32)> {
        let (major, minor) = text.trim().split_once('.')?;
        Some((major.parse().ok()?, minor.parse().ok()?))
    }

    #[cfg(test)]
    mod tests {
        #[test]
        fn versions_parse() {
            assert_eq!(super::parse("5.66\n"), Some((5, 66)));
            assert_eq!(super::parse("5"), None);
            assert!(super::parse("5.55").unwrap() < super::OLDEST_SUPPORTED);
        }
    }
}
