//! `nuki-edge doctor --config F [--json]`: one table of checks, each with a verdict and the
//! fix, for the installer who wants to know why the gateway does not work (or that it does).
//!
//! Doctor only looks: it never writes the store or the configuration, and asks the running
//! daemon (over the control socket) for what only the daemon knows.

mod bluetooth;
mod checks;
mod daemon;

use serde::Serialize;

use crate::config::Config;

pub use daemon::{answer, is_doctor_request};

/// How a check came out; a report is as bad as its worst check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    Ok,
    /// Not needed here, or not configured.
    Skip,
    Warn,
    Fail,
}

impl Verdict {
    fn word(self) -> &'static str {
        match self {
            Verdict::Ok => "ok",
            Verdict::Skip => "skip",
            Verdict::Warn => "warn",
            Verdict::Fail => "FAIL",
        }
    }
}

/// One line of the table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Check {
    pub check: String,
    pub verdict: Verdict,
    pub detail: String,
    /// What to do about it; empty when nothing is to be done.
    pub fix: String,
}

impl Check {
    fn new(check: impl Into<String>, verdict: Verdict, detail: impl Into<String>) -> Self {
        Self {
            check: check.into(),
            verdict,
            detail: detail.into(),
            fix: String::new(),
        }
    }

    fn ok(check: impl Into<String>, detail: impl Into<String>) -> Self {
        Self::new(check, Verdict::Ok, detail)
    }

    fn skip(check: impl Into<String>, detail: impl Into<String>) -> Self {
        Self::new(check, Verdict::Skip, detail)
    }

    fn warn(check: impl Into<String>, detail: impl Into<String>, fix: impl Into<String>) -> Self {
        Self::new(check, Verdict::Warn, detail).with_fix(fix)
    }

    fn fail(check: impl Into<String>, detail: impl Into<String>, fix: impl Into<String>) -> Self {
        Self::new(check, Verdict::Fail, detail).with_fix(fix)
    }

    fn with_fix(mut self, fix: impl Into<String>) -> Self {
        self.fix = fix.into();
        self
    }
}

/// Every check, in the order an installer fixes things.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Report {
    pub verdict: Verdict,
    pub checks: Vec<Check>,
}

impl Report {
    fn new(checks: Vec<Check>) -> Self {
        let verdict = checks
            .iter()
            .map(|check| check.verdict)
            .max()
            .unwrap_or(Verdict::Ok);
        Self { verdict, checks }
    }

    pub fn failed(&self) -> usize {
        self.checks
            .iter()
            .filter(|check| check.verdict == Verdict::Fail)
            .count()
    }

    /// The table for people: check, verdict, detail, and the fix on its own line.
    pub fn table(&self) -> String {
        let width = self
            .checks
            .iter()
            .map(|check| check.check.chars().count())
            .max()
            .unwrap_or(0);
        let mut text = String::new();
        for check in &self.checks {
            text.push_str(&format!(
                "{:<width$}  {:<4}  {}\n",
                check.check,
                check.verdict.word(),
                check.detail
            ));
            if !check.fix.is_empty() {
                text.push_str(&format!("{:<width$}        fix: {}\n", "", check.fix));
            }
        }
        let failed = self.failed();
        text.push_str(&match failed {
            0 => "no check failed".to_owned(),
            1 => "1 check failed".to_owned(),
            n => format!("{n} checks failed"),
        });
        text
    }
}

/// Runs every check. A configuration that does not load is the one failed check: nothing
/// else can be checked without it.
pub async fn run(config_path: &std::path::Path) -> Report {
    let config = match Config::load(config_path) {
        Ok(config) => config,
        Err(error) => {
            return Report::new(vec![Check::fail(
                "configuration",
                format!("{}: {error}", config_path.display()),
                format!(
                    "correct the file, then `nuki-edge check-config {}`",
                    config_path.display()
                ),
            )])
        }
    };
    let mut checks = vec![Check::ok(
        "configuration",
        format!(
            "{} loads (backend {})",
            config_path.display(),
            config.ble.backend
        ),
    )];
    let running = daemon::ask(&config).await;
    checks.extend(checks::store(&config, running.is_running()));
    // libdbus blocks; its calls run off the async workers.
    let radio = config.clone();
    checks.extend(
        tokio::task::spawn_blocking(move || bluetooth::check(&radio))
            .await
            .unwrap_or_else(|_| {
                vec![Check::fail(
                    "Bluetooth adapter",
                    "the Bluetooth check stopped unexpectedly",
                    "run doctor again; report it if it persists",
                )]
            }),
    );
    checks.extend(daemon::devices(&running));
    checks.push(checks::clock(&config));
    checks.push(checks::http_listener(&config, running.is_running()).await);
    checks.extend(checks::network_services(&config));
    Report::new(checks)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_worst_check_is_the_verdict() {
        let report = Report::new(vec![
            Check::ok("a", "fine"),
            Check::warn("b", "meh", "do x"),
            Check::skip("c", "n/a"),
        ]);
        assert_eq!(report.verdict, Verdict::Warn);
        assert_eq!(report.failed(), 0);
        let table = report.table();
        assert!(table.contains("fix: do x"), "{table}");
        assert!(table.ends_with("no check failed"));
        let failing = Report::new(vec![Check::fail("a", "broken", "mend it")]);
        assert_eq!(failing.verdict, Verdict::Fail);
        assert_eq!(failing.failed(), 1);
    }
}
