//! Accounts: exactly one owner and sub-accounts with rights per capability (never per
//! device: a sub-account sees every device), passwords hashed with argon2id, optional TOTP
//! two-factor login, login throttling with a lockout, sessions (for the session cookie) and
//! API tokens per account (shown once, stored hashed).
//!
//! [`AccountBook`] works on a store directly, so the command line can create the owner and
//! issue tokens with the daemon stopped; the [`Gateway`](super::Gateway) methods add the
//! principal's rights, the injected clock and the in-memory throttle of client addresses.

mod book;
mod credentials;
mod error;
mod lockout;
mod login;
mod manage;
mod me;
mod policy;
mod records;
mod sessions;
mod totp;

use std::net::IpAddr;

use serde::Serialize;

use crate::access::{AccountId, Rights};

pub use book::AccountBook;
pub use credentials::{ARGON2_ITERATIONS, ARGON2_LANES, ARGON2_MEMORY_KIB, TOKEN_BYTES};
pub use error::AccountError;
pub use lockout::{LoginGuard, LOCKOUT_SECONDS, MAX_ACCOUNT_FAILURES, MAX_CLIENT_FAILURES};
pub use login::LoginState;
pub use policy::{
    check_name, check_password, normalize_email, PolicyError, MAX_NAME_CHARS, MAX_PASSWORD_CHARS,
    MIN_PASSWORD_CHARS,
};
pub use sessions::{SESSION_ABSOLUTE_SECONDS, SESSION_IDLE_SECONDS};
pub use totp::{code_at as totp_code_at, TOTP_DIGITS, TOTP_ISSUER, TOTP_STEP_SECONDS};

/// What anyone may see of an account: no hash, no secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AccountView {
    pub id: AccountId,
    pub email: String,
    pub name: String,
    pub owner: bool,
    pub rights: Rights,
    pub totp_enabled: bool,
    /// While locked after failed logins: until when (Unix seconds).
    pub locked_until: Option<i64>,
    pub created: i64,
}

/// A sub-account to create.
#[derive(Clone)]
pub struct NewAccount {
    pub email: String,
    pub name: String,
    pub password: String,
    pub rights: Rights,
}

impl std::fmt::Debug for NewAccount {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewAccount")
            .field("email", &self.email)
            .field("name", &self.name)
            .field("password", &"…")
            .field("rights", &self.rights)
            .finish()
    }
}

/// A change to an account by someone who manages accounts; `None` keeps the value.
#[derive(Clone, Default)]
pub struct AccountChange {
    pub name: Option<String>,
    pub email: Option<String>,
    pub rights: Option<Rights>,
    /// A new password (for someone who forgot theirs); ends that account's sessions.
    pub password: Option<String>,
}

impl std::fmt::Debug for AccountChange {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AccountChange")
            .field("name", &self.name)
            .field("email", &self.email)
            .field("rights", &self.rights)
            .field("password", &self.password.as_ref().map(|_| "…"))
            .finish()
    }
}

/// A login as presented.
#[derive(Clone)]
pub struct LoginAttempt {
    pub email: String,
    pub password: String,
    /// The current two-factor code, for accounts that have two-factor login on.
    pub totp: Option<String>,
    /// The client's address, for throttling guessers that try many accounts.
    pub client: Option<IpAddr>,
}

impl std::fmt::Debug for LoginAttempt {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoginAttempt")
            .field("email", &self.email)
            .field("password", &"…")
            .field("totp", &self.totp.as_ref().map(|_| "…"))
            .field("client", &self.client)
            .finish()
    }
}

/// A started session: the token goes into the cookie and is never stored.
#[derive(Clone)]
pub struct NewSession {
    pub token: String,
    /// The session's absolute lifetime, for the cookie's `Max-Age`.
    pub max_age_s: u64,
}

impl std::fmt::Debug for NewSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewSession")
            .field("token", &"…")
            .field("max_age_s", &self.max_age_s)
            .finish()
    }
}

#[derive(Debug, Clone)]
pub struct LoggedIn {
    pub account: AccountView,
    pub session: NewSession,
}

/// What an account's API token shows after its creation: never the token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ApiTokenView {
    pub id: u64,
    pub name: String,
    pub created: i64,
    pub last_used: Option<i64>,
}

/// A new API token, the only time its secret is seen.
#[derive(Clone)]
pub struct IssuedToken {
    pub info: ApiTokenView,
    /// `nea_…`
    pub token: String,
}

impl std::fmt::Debug for IssuedToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IssuedToken")
            .field("info", &self.info)
            .field("token", &"…")
            .finish()
    }
}

/// A two-factor enrolment: the secret for the authenticator app, shown once.
#[derive(Clone)]
pub struct TotpEnrollment {
    /// Base32.
    pub secret: String,
    pub otpauth_url: String,
}

impl std::fmt::Debug for TotpEnrollment {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TotpEnrollment(…)")
    }
}

/// What proves that the caller is the account's holder, beyond the session or token.
#[derive(Clone)]
pub enum Proof {
    Password(String),
    TotpCode(String),
}

impl std::fmt::Debug for Proof {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Proof::Password(_) => f.write_str("Proof::Password(…)"),
            Proof::TotpCode(_) => f.write_str("Proof::TotpCode(…)"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_output_hides_secrets() {
        let attempt = LoginAttempt {
            email: "ann@example.org".into(),
            password: "hunter2hunter2".into(),
            totp: Some("123456".into()),
            client: None,
        };
        let shown = format!(
            "{attempt:?} {:?} {:?} {:?} {:?}",
            NewSession {
                token: "nes_abc".into(),
                max_age_s: 1
            },
            IssuedToken {
                info: ApiTokenView {
                    id: 1,
                    name: "ha".into(),
                    created: 0,
                    last_used: None
                },
                token: "nea_abc".into()
            },
            Proof::Password("hunter2hunter2".into()),
            AccountChange {
                password: Some("hunter2hunter2".into()),
                ..AccountChange::default()
            },
        );
        for secret in ["hunter2", "123456", "nes_abc", "nea_abc"] {
            assert!(!shown.contains(secret), "{secret} in {shown}");
        }
    }
}
