//! The checks that need no radio and no daemon: the store, the clock, the HTTP port, and the
//! network services the configuration names.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use crate::config::Config;
use crate::store::{self, Store};

use super::Check;

/// The store setting in which the gateway keeps the newest time it has seen (Unix seconds).
const LAST_KNOWN_TIME_SETTING: &str = crate::gateway::SETTING_LAST_KNOWN_TIME;
/// systemd-timesyncd creates this file once the clock was synchronized.
const TIMESYNC_FLAG: &str = "/run/systemd/timesync/synchronized";

/// Readable, private (mode 0600) and consistent.
/// A store the running daemon holds open always looks "not closed cleanly" from outside.
pub fn store(config: &Config, daemon_running: bool) -> Vec<Check> {
    let path = &config.store.path;
    let shown = path.display();
    let metadata = match std::fs::metadata(path) {
        Ok(metadata) => metadata,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
            return vec![Check::warn(
                "store",
                format!("no store at {shown} yet"),
                "none needed before the first start: the daemon creates it (mode 0600)",
            )]
        }
        Err(error) => {
            return vec![Check::fail(
                "store readable",
                format!("{shown}: {error}"),
                "run doctor as root or as the service user (sudo -u nuki-edge nuki-edge doctor …)",
            )]
        }
    };
    let mut checks = Vec::new();
    let mode = metadata.permissions().mode() & 0o777;
    checks.push(if mode & 0o077 != 0 {
        Check::fail(
            "store private",
            format!("{shown} has mode {mode:04o}: other users can read the pairing keys"),
            format!("chmod 600 {shown}"),
        )
    } else {
        Check::ok("store private", format!("mode {mode:04o}"))
    });
    checks.push(match store::check(path) {
        Ok(report) if report.needs_crash_repair && daemon_running => Check::ok(
            "store consistent",
            format!(
                "every page readable; open in the running daemon ({} pairings)",
                report.pairings
            ),
        ),
        Ok(report) if report.needs_crash_repair => Check::warn(
            "store consistent",
            report.to_string(),
            "none needed: the next start repairs it",
        ),
        Ok(report) => Check::ok("store consistent", report.to_string()),
        Err(error) => Check::fail(
            "store consistent",
            error.to_string(),
            format!(
                "stop the daemon, then `nuki-edge store recover --config <file>` (keeps a copy of {shown})"
            ),
        ),
    });
    checks
}

/// A clock before this build, or before the newest time the gateway has seen, is wrong: key
/// expiry, schedules and logs would all be off.
pub fn clock(config: &Config) -> Check {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_secs());
    let now_text = rfc3339(now);
    let fix = "set the time: enable NTP (`timedatectl set-ntp true`) or fit a real-time clock";
    // The same floor the gateway's clock trust uses (`access::BUILD_FLOOR_UNIX`).
    let built = u64::try_from(crate::access::BUILD_FLOOR_UNIX).unwrap_or(0);
    if now < built {
        return Check::fail(
            "system clock",
            format!("{now_text} is before this build ({})", rfc3339(built)),
            fix,
        );
    }
    let last_known = last_known_time(&config.store.path);
    if let Some(last) = last_known.filter(|last| now < *last) {
        return Check::fail(
            "system clock",
            format!(
                "{now_text} is before the last time the gateway saw ({})",
                rfc3339(last)
            ),
            fix,
        );
    }
    let synchronized = Path::new(TIMESYNC_FLAG).exists();
    let mut detail = format!("{now_text}, after the build date");
    if last_known.is_some() {
        detail.push_str(" and the last time the gateway saw");
    }
    if synchronized {
        detail.push_str("; synchronized by systemd-timesyncd");
    }
    Check::ok("system clock", detail)
}

fn rfc3339(unix: u64) -> String {
    i64::try_from(unix)
        .ok()
        .and_then(|seconds| jiff::Timestamp::from_second(seconds).ok())
        .map_or_else(|| format!("{unix} (Unix time)"), |time| time.to_string())
}

/// The newest time the gateway recorded, read from a private copy of the store (the daemon
/// may hold the store open, and doctor writes nothing).
fn last_known_time(path: &Path) -> Option<u64> {
    if !path.exists() {
        return None;
    }
    let mut copy = path.as_os_str().to_owned();
    copy.push(format!(".doctor-{}", std::process::id()));
    let copy = PathBuf::from(copy);
    let text = copy_and_read(path, &copy);
    let _ = std::fs::remove_file(&copy);
    let text = text?;
    let text = text.trim();
    text.parse::<u64>().ok().or_else(|| {
        text.parse::<jiff::Timestamp>()
            .ok()
            .and_then(|time| u64::try_from(time.as_second()).ok())
    })
}

fn copy_and_read(path: &Path, copy: &Path) -> Option<String> {
    use std::os::unix::fs::OpenOptionsExt;
    // The copy holds the keys too: created private before a byte is written.
    let mut target = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(copy)
        .ok()?;
    let mut source = std::fs::File::open(path).ok()?;
    std::io::copy(&mut source, &mut target).ok()?;
    drop(target);
    let store = Store::open(copy).ok()?;
    store.get_setting(LAST_KNOWN_TIME_SETTING).ok().flatten()
}

/// The configured port must be free, or held by our own daemon.
pub async fn http_listener(config: &Config, daemon_running: bool) -> Check {
    let listen = &config.http.listen;
    match tokio::net::TcpListener::bind(listen).await {
        Ok(_) => Check::ok("HTTP listener", format!("{listen} is free")),
        Err(error) if error.kind() == std::io::ErrorKind::AddrInUse && daemon_running => Check::ok(
            "HTTP listener",
            format!("{listen} is served by the running daemon"),
        ),
        Err(error) if error.kind() == std::io::ErrorKind::AddrInUse => Check::fail(
            "HTTP listener",
            format!("{listen} is taken by another program"),
            "stop that program (`ss -ltnp` names it) or choose another http.listen",
        ),
        Err(error) => Check::fail(
            "HTTP listener",
            format!("cannot listen on {listen}: {error}"),
            "choose an address of this machine and a port above 1023 for http.listen",
        ),
    }
}

/// MQTT and the Nuki cloud: checked when the configuration has them. This version's
/// configuration has neither section, so both are reported as not configured.
pub fn network_services(_config: &Config) -> Vec<Check> {
    vec![
        Check::skip("MQTT broker", "not configured"),
        Check::skip("Nuki cloud", "not configured"),
    ]
}
