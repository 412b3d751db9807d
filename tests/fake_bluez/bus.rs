//! A private `dbus-daemon` for one test: its own config in a temp dir, killed on drop.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;

/// Whether `dbus-daemon` (Debian package `dbus`) is installed; `.ci/test` installs it.
pub fn dbus_daemon_available() -> bool {
    Command::new("dbus-daemon")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|status| status.success())
}

/// A bus that anyone on the machine may own names on, like the system bus with a permissive
/// policy: the fake claims `org.bluez`, the backend under test calls it.
///
/// libdbus reads `DBUS_SYSTEM_BUS_ADDRESS` once per process and keeps it, so every bus of one
/// process listens on the same socket path (one at a time) and the address carries no guid.
pub struct PrivateBus {
    daemon: Child,
    address: String,
    socket: PathBuf,
}

/// This process's bus directory, made on first use and left empty at exit.
fn bus_dir() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        tempfile::Builder::new()
            .prefix("fake-bluez-bus")
            .tempdir()
            .expect("temp dir for the bus")
            .keep()
    })
}

impl PrivateBus {
    pub fn start() -> PrivateBus {
        let dir = bus_dir();
        let socket = dir.join("bus");
        let _ = std::fs::remove_file(&socket);
        let config = dir.join("bus.conf");
        std::fs::write(
            &config,
            format!(
                r#"<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>custom</type>
  <listen>unix:path={}</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow user="*"/>
    <allow own="*"/>
    <allow send_destination="*" eavesdrop="true"/>
    <allow receive_sender="*"/>
  </policy>
</busconfig>
"#,
                socket.display()
            ),
        )
        .expect("write bus config");
        let mut daemon = Command::new("dbus-daemon")
            .arg(format!("--config-file={}", config.display()))
            .arg("--nofork")
            .arg("--print-address=1")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start dbus-daemon");
        let stdout = daemon.stdout.take().expect("piped stdout");
        let mut line = String::new();
        BufReader::new(stdout)
            .read_line(&mut line)
            .expect("dbus-daemon prints its address");
        assert!(!line.trim().is_empty(), "dbus-daemon printed no address");
        PrivateBus {
            daemon,
            address: format!("unix:path={}", socket.display()),
            socket,
        }
    }

    pub fn address(&self) -> &str {
        &self.address
    }
}

impl Drop for PrivateBus {
    fn drop(&mut self) {
        let _ = self.daemon.kill();
        let _ = self.daemon.wait();
        let _ = std::fs::remove_file(&self.socket);
        let _ = std::fs::remove_file(self.socket.with_file_name("bus.conf"));
    }
}
