//! Log output on stderr (stdout belongs to command results), as text or JSON lines.

use tracing_subscriber::EnvFilter;

use crate::config::LogFormat;

/// Overrides the configured level when set and not empty.
pub const LOG_ENV_VAR: &str = "RUST_LOG";

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LoggingError {
    #[error("invalid log filter in {source_name}: {reason}")]
    BadFilter {
        source_name: &'static str,
        reason: String,
    },
    #[error("logging was already set up")]
    AlreadyInitialized,
}

/// The filter in force: `RUST_LOG` when set, else `level` (a level or tracing directives).
pub fn filter(level: &str) -> Result<EnvFilter, LoggingError> {
    match std::env::var(LOG_ENV_VAR) {
        Ok(directives) if !directives.trim().is_empty() => parse_filter(&directives, LOG_ENV_VAR),
        _ => parse_filter(level, "log.level"),
    }
}

fn parse_filter(directives: &str, source_name: &'static str) -> Result<EnvFilter, LoggingError> {
    EnvFilter::try_new(directives).map_err(|err| LoggingError::BadFilter {
        source_name,
        reason: err.to_string().replace('\n', " "),
    })
}

/// Installs the global subscriber. Call once, early.
pub fn init(level: &str, format: LogFormat) -> Result<(), LoggingError> {
    let filter = filter(level)?;
    // Under systemd the journal gets each event's fields as its own fields.
    if let Some(journal) = super::systemd::journal_layer() {
        use tracing_subscriber::layer::SubscriberExt;
        use tracing_subscriber::util::SubscriberInitExt;
        use tracing_subscriber::Layer;
        return tracing_subscriber::registry()
            .with(journal.with_filter(filter))
            .try_init()
            .map_err(|_| LoggingError::AlreadyInitialized);
    }
    use std::io::IsTerminal;
    // Colour codes only for a person at a terminal, never into the journal or a file.
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr);
    let installed = match format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
    };
    installed.map_err(|_| LoggingError::AlreadyInitialized)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_parse_or_fail_clearly() {
        assert!(parse_filter("info,nuki_edge::ble=debug", "log.level").is_ok());
        let err = parse_filter("nuki_edge=loud", "log.level").unwrap_err();
        assert!(matches!(
            err,
            LoggingError::BadFilter {
                source_name: "log.level",
                ..
            }
        ));
    }
}
