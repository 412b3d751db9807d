//! Secrets may be given inline (`security_pin = …`) or, better for packaging and systemd
//! credentials, as a file (`security_pin_file = "/etc/nuki-edge/pin"`). A future secret
//! `bridge.token` only needs its pair of fields and one `resolve_secret_file` call.

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
    let text = std::fs::read_to_string(path)
        .map(Zeroizing::new)
        .map_err(|err| ConfigError::SecretFile {
            key: key.to_owned(),
            path: path.to_owned(),
            reason: err.kind().to_string(),
        })?;
    let value = text.trim().parse::<T>().map_err(|_| {
        ConfigError::invalid(
            format!("{key}_file"),
            format!("{} does not hold a valid value", path.display()),
        )
    })?;
    *inline = Some(value);
    Ok(())
}
