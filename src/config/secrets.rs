//! Secrets may be given inline (`security_pin = …`) or, better for packaging and systemd
//! credentials, as a file (`security_pin_file = "/etc/nuki-edge/pin"`). A future secret
//! `bridge.token` only needs its pair of fields and one `resolve_secret_file` call.

use std::io::Read;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::str::FromStr;

use zeroize::Zeroizing;

use super::error::ConfigError;
use super::Config;

impl Config {
    /// Reads every `*_file` secret into its inline field. Setting both is an error, so a
    /// forgotten inline value cannot silently shadow the file.
    pub fn resolve_secret_files(&mut self) -> Result<(), ConfigError> {
        resolve_secret_file(
            "pairing.security_pin",
            &mut self.pairing.security_pin,
            self.pairing.security_pin_file.as_deref(),
        )?;
        resolve_secret_file(
            "bridge.token",
            &mut self.bridge.token,
            self.bridge.token_file.as_deref(),
        )?;
        resolve_secret_file(
            "http.metrics_token",
            &mut self.http.metrics_token,
            self.http.metrics_token_file.as_deref(),
        )?;
        resolve_secret_file(
            "mqtt.password",
            &mut self.mqtt.password,
            self.mqtt.password_file.as_deref(),
        )
    }
}

/// Fills `inline` from `file` (content trimmed). `key` is the inline key's full name.
pub(crate) fn resolve_secret_file<T: FromStr>(
    key: &str,
    inline: &mut Option<T>,
    file: Option<&Path>,
) -> Result<(), ConfigError> {
    let Some(path) = file else {
        return Ok(());
    };
    if inline.is_some() {
        return Err(ConfigError::SecretTwice {
            key: key.to_owned(),
        });
    }
    let text = read_secret_file(key, path)?;
    let value = text.trim().parse::<T>().map_err(|_| {
        ConfigError::invalid(
            format!("{key}_file"),
            format!("{} does not hold a valid value", path.display()),
        )
    })?;
    *inline = Some(value);
    Ok(())
}

/// A secret is a token or a PIN: a few bytes. The limit keeps `/dev/zero` or a wrong path to a
/// big file from filling memory.
pub const MAX_SECRET_FILE_BYTES: u64 = 4096;

/// Reads a secret file: a regular file (a device or FIFO could block or never end) of at most
/// [`MAX_SECRET_FILE_BYTES`].
fn read_secret_file(key: &str, path: &Path) -> Result<Zeroizing<String>, ConfigError> {
    let file_key = format!("{key}_file");
    let unreadable = |err: std::io::Error| ConfigError::SecretFile {
        key: key.to_owned(),
        path: path.to_owned(),
        reason: err.kind().to_string(),
    };
    let metadata = std::fs::metadata(path).map_err(unreadable)?;
    if !metadata.is_file() {
        return Err(ConfigError::invalid(
            file_key,
            format!("{} is not a regular file", path.display()),
        ));
    }
    if metadata.permissions().mode() & 0o077 != 0 {
        // Logging is not set up while the configuration loads; stderr reaches the operator
        // (and the journal) all the same.
        eprintln!(
            "warning: `{file_key}` {} can be read by group or others; chmod 600 it",
            path.display()
        );
    }
    let mut bytes = Zeroizing::new(Vec::new());
    std::fs::File::open(path)
        .and_then(|file| file.take(MAX_SECRET_FILE_BYTES + 1).read_to_end(&mut bytes))
        .map_err(unreadable)?;
    if bytes.len() as u64 > MAX_SECRET_FILE_BYTES {
        return Err(ConfigError::invalid(
            file_key,
            format!(
                "{} is larger than {MAX_SECRET_FILE_BYTES} bytes; it should hold just the secret",
                path.display()
            ),
        ));
    }
    let text = std::str::from_utf8(&bytes).map_err(|_| {
        ConfigError::invalid(
            format!("{key}_file"),
            format!("{} is not UTF-8 text", path.display()),
        )
    })?;
    Ok(Zeroizing::new(text.to_owned()))
}
