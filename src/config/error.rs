//! Why a configuration could not be loaded. Every message is one line that names the key and
//! never repeats a value, because the value may be a secret.

use std::path::PathBuf;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {reason}")]
    Read { path: PathBuf, reason: String },

    #[error("{path}: TOML syntax error at line {line}, column {column}: {message}")]
    Syntax {
        path: PathBuf,
        line: usize,
        column: usize,
        message: String,
    },

    #[error("environment variable {name} is not valid UTF-8")]
    EnvNotUnicode { name: String },

    #[error("unknown key `{key}`")]
    UnknownKey { key: String },

    #[error("`{key}` has the wrong type: expected {expected}")]
    WrongType { key: String, expected: String },

    #[error("`{key}`: {reason}")]
    Invalid { key: String, reason: String },

    #[error("`{key}` and `{key}_file` are both set; use only one")]
    SecretTwice { key: String },

    #[error("cannot read `{key}_file` {path}: {reason}")]
    SecretFile {
        key: String,
        path: PathBuf,
        reason: String,
    },

    #[error("`{key}`: the value {value:?} is used by more than one simulated device")]
    Duplicate { key: String, value: String },
}

impl ConfigError {
    pub(crate) fn invalid(key: impl Into<String>, reason: impl Into<String>) -> Self {
        ConfigError::Invalid {
            key: key.into(),
            reason: reason.into(),
        }
    }

    /// The key the error is about, where there is one.
    pub fn key(&self) -> Option<&str> {
        match self {
            ConfigError::UnknownKey { key }
            | ConfigError::WrongType { key, .. }
            | ConfigError::Invalid { key, .. }
            | ConfigError::SecretTwice { key }
            | ConfigError::SecretFile { key, .. }
            | ConfigError::Duplicate { key, .. } => Some(key),
            ConfigError::Read { .. }
            | ConfigError::Syntax { .. }
            | ConfigError::EnvNotUnicode { .. } => None,
        }
    }
}

/// Joins a multi-line message into one line.
pub(crate) fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}
