//! Layering: the TOML file first, then `NUKI_EDGE__SECTION__KEY` environment variables.

use std::collections::HashMap;
use std::path::Path;

use config::{Environment, File, FileFormat};

use super::error::{one_line, ConfigError};
use super::Config;

/// Environment variables starting with `NUKI_EDGE__` override file keys.
pub const ENV_PREFIX: &str = "NUKI_EDGE";
/// Separates the prefix, the section and the key: `NUKI_EDGE__BLE__BACKEND=sim`.
pub const ENV_SEPARATOR: &str = "__";

impl Config {
    /// Loads the file with the process environment's overrides, reads secret files and
    /// validates.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        Self::load_with_env(path, process_env_overrides()?)
    }

    /// As [`Config::load`], with the environment given as a map (for tests).
    pub fn load_with_env(path: &Path, env: HashMap<String, String>) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|err| ConfigError::Read {
            path: path.to_owned(),
            reason: one_line(&err.to_string()),
        })?;
        let mut config = Self::parse(&text, path, env)?;
        config.resolve_secret_files()?;
        config.validate()?;
        Ok(config)
    }

    /// Layers `text` (TOML; `origin` names it in errors) and `env` and deserializes. Reads no
    /// secret files and does not validate.
    pub fn parse(
        text: &str,
        origin: &Path,
        env: HashMap<String, String>,
    ) -> Result<Config, ConfigError> {
        check_syntax(text, origin)?;
        let layered = config::Config::builder()
            .add_source(File::from_str(text, FileFormat::Toml))
            .add_source(
                Environment::with_prefix(ENV_PREFIX)
                    .prefix_separator(ENV_SEPARATOR)
                    .separator(ENV_SEPARATOR)
                    .try_parsing(true)
                    .source(Some(env)),
            )
            .build()
            .map_err(|err| convert_error(err, None))?;
        layered
            .try_deserialize::<Config>()
            .map_err(|err| convert_error(err, None))
    }
}

/// The `NUKI_EDGE__*` variables of this process.
pub fn process_env_overrides() -> Result<HashMap<String, String>, ConfigError> {
    let wanted = format!("{ENV_PREFIX}{ENV_SEPARATOR}");
    let mut overrides = HashMap::new();
    for (name, value) in std::env::vars_os() {
        let name = name.to_string_lossy().into_owned();
        if !name.to_ascii_uppercase().starts_with(&wanted) {
            continue;
        }
        // The value might be a secret, so it is not quoted even in this error.
        let value = value
            .into_string()
            .map_err(|_| ConfigError::EnvNotUnicode { name: name.clone() })?;
        overrides.insert(name, value);
    }
    Ok(overrides)
}

/// TOML syntax errors are reported by position only: the toml crate's own message quotes
/// the offending line, which could hold a secret.
fn check_syntax(text: &str, origin: &Path) -> Result<(), ConfigError> {
    let Err(err) = text.parse::<toml::Table>() else {
        return Ok(());
    };
    let offset = err.span().map_or(0, |span| span.start);
    let (line, column) = line_and_column(text, offset);
    Err(ConfigError::Syntax {
        path: origin.to_owned(),
        line,
        column,
        message: one_line(err.message()),
    })
}

fn line_and_column(text: &str, offset: usize) -> (usize, usize) {
    let before = text.get(..offset).unwrap_or(text);
    let line = before.matches('\n').count() + 1;
    let column = before
        .rfind('\n')
        .map_or(before.chars().count(), |newline| {
            before[newline + 1..].chars().count()
        })
        + 1;
    (line, column)
}

/// Keeps the key and what was expected; drops the value the config crate would quote.
fn convert_error(err: config::ConfigError, key: Option<String>) -> ConfigError {
    let key_or_root =
        |key: Option<String>| key.map_or_else(|| "(top level)".to_owned(), |key| tidy_key(&key));
    match err {
        config::ConfigError::At {
            error,
            key: inner_key,
            ..
        } => convert_error(*error, inner_key.or(key)),
        config::ConfigError::Type {
            expected,
            key: inner_key,
            ..
        } => ConfigError::WrongType {
            key: key_or_root(inner_key.or(key)),
            expected: expected.to_owned(),
        },
        config::ConfigError::NotFound(missing) => {
            ConfigError::invalid(tidy_key(&missing), "a required key is missing")
        }
        other => ConfigError::invalid(key_or_root(key), one_line(&other.to_string())),
    }
}

/// The config crate joins array paths without a dot (`sim.devices[0]nuki_id`).
fn tidy_key(key: &str) -> String {
    let mut tidy = String::with_capacity(key.len() + 2);
    let mut after_index = false;
    for ch in key.chars() {
        if after_index && ch != '.' && ch != '[' {
            tidy.push('.');
        }
        after_index = ch == ']';
        tidy.push(ch);
    }
    tidy
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn array_keys_get_their_dot() {
        assert_eq!(tidy_key("sim.devices[0]nuki_id"), "sim.devices[0].nuki_id");
        assert_eq!(tidy_key("sim.devices[0].name"), "sim.devices[0].name");
        assert_eq!(tidy_key("a[1][2]"), "a[1][2]");
    }

    #[test]
    fn positions_count_from_one() {
        assert_eq!(line_and_column("a\nbc\n", 3), (2, 2));
        assert_eq!(line_and_column("abc", 0), (1, 1));
    }
}
