//! Logging in: throttled per account (in its record) and per client address (in memory),
//! one verification at a time so a burst of guesses cannot outrun the counters.

use std::net::IpAddr;
use std::sync::Mutex;

use crate::access::AccountId;
use crate::gateway::{lock, Gateway};

use super::credentials::{verify_nobody, verify_password};
use super::error::AccountError;
use super::lockout::{ClientThrottle, MAX_ACCOUNT_FAILURES};
use super::policy::normalize_email;
use super::records::{self, AccountRecord};
use super::sessions::start_session;
use super::{totp, LoggedIn, LoginAttempt, Proof};

/// The gateway's memory of login attempts.
#[derive(Debug, Default)]
pub struct LoginState {
    clients: Mutex<ClientThrottle>,
    /// Held while a password or code is checked and its outcome counted.
    verifying: tokio::sync::Mutex<()>,
}

enum Verdict {
    Passed(Box<AccountRecord>),
    Failed { locked: Option<u64> },
    TotpMissing,
}

impl Gateway {
    /// Checks a login and starts a session.
    pub async fn login(&self, attempt: LoginAttempt) -> Result<LoggedIn, AccountError> {
        if let Some(retry_after_s) = self.client_locked(attempt.client) {
            return Err(AccountError::LockedOut { retry_after_s });
        }
        let _one_at_a_time = self.logins.verifying.lock().await;
        let now = self.now_unix();
        // Checked again: the wait for the turn may have been long.
        if let Some(retry_after_s) = self.client_locked(attempt.client) {
            return Err(AccountError::LockedOut { retry_after_s });
        }
        let found = match normalize_email(&attempt.email) {
            Ok(email) => self
                .store
                .read(|tx| records::account_by_email(tx, &email))?,
            Err(_) => None,
        };
        if let Some(retry_after_s) = found.as_ref().and_then(|a| a.guard.retry_after(now)) {
            return Err(AccountError::LockedOut { retry_after_s });
        }
        let password_ok = self
            .password_matches(found.as_ref(), attempt.password.clone())
            .await?;
        let verdict = match found {
            None => Verdict::Failed { locked: None },
            Some(account) => {
                self.count_login(account.id, password_ok, attempt.totp.as_deref(), now)?
            }
        };
        match verdict {
            Verdict::Passed(account) => {
                if let Some(client) = attempt.client {
                    lock(&self.logins.clients).succeeded(client);
                }
                let session = self.store.write(|tx| start_session(tx, account.id, now))?;
                tracing::info!(account = %account.id, "logged in");
                Ok(LoggedIn {
                    account: account.view(now),
                    session,
                })
            }
            Verdict::TotpMissing => Err(AccountError::TotpRequired),
            Verdict::Failed { locked } => {
                let client_locked = attempt
                    .client
                    .and_then(|client| lock(&self.logins.clients).failed(client, now));
                tracing::info!(client = ?attempt.client, "login failed");
                match locked.or(client_locked) {
                    Some(retry_after_s) => Err(AccountError::LockedOut { retry_after_s }),
                    None => Err(AccountError::LoginFailed),
                }
            }
        }
    }

    fn client_locked(&self, client: Option<IpAddr>) -> Option<u64> {
        let now = self.now_unix();
        client.and_then(|client| lock(&self.logins.clients).retry_after(client, now))
    }

    /// Verifies on a blocking thread (argon2id takes tens of milliseconds); an unknown
    /// account costs the same time as a known one.
    async fn password_matches(
        &self,
        account: Option<&AccountRecord>,
        password: String,
    ) -> Result<bool, AccountError> {
        let hash = account.map(|account| account.password_hash.clone());
        tokio::task::spawn_blocking(move || match hash {
            Some(hash) => verify_password(&password, &hash),
            None => {
                verify_nobody(&password);
                false
            }
        })
        .await
        .map_err(|_| AccountError::Hashing(super::credentials::HashingFailed))
    }

    /// Counts the outcome in the account's record, in one transaction with the check of the
    /// two-factor code, so a code is accepted once even by two logins at the same moment.
    fn count_login(
        &self,
        id: AccountId,
        password_ok: bool,
        code: Option<&str>,
        now: i64,
    ) -> Result<Verdict, AccountError> {
        Ok(self.store.write(|tx| {
            let Some(mut account) = records::account(tx, id)? else {
                return Ok(Verdict::Failed { locked: None });
            };
            let passed = if !password_ok {
                false
            } else if !account.totp.enabled {
                true
            } else {
                let Some(code) = code else {
                    return Ok(Verdict::TotpMissing);
                };
                accept_code(&mut account, code, now)
            };
            let verdict = if passed {
                account.guard.succeeded();
                Verdict::Passed(Box::new(account.clone()))
            } else {
                Verdict::Failed {
                    locked: account.guard.failed(now, MAX_ACCOUNT_FAILURES),
                }
            };
            records::put_account(tx, &account)?;
            Ok(verdict)
        })?)
    }

    /// Checks what the account's holder presented beyond the credential (for changes of the
    /// e-mail address, password or two-factor login), counting failures like logins.
    pub(super) async fn prove(&self, id: AccountId, proof: Proof) -> Result<(), AccountError> {
        let _one_at_a_time = self.logins.verifying.lock().await;
        let now = self.now_unix();
        let account = self
            .store
            .read(|tx| records::account(tx, id))?
            .ok_or(AccountError::UnknownAccount(id))?;
        if let Some(retry_after_s) = account.guard.retry_after(now) {
            return Err(AccountError::LockedOut { retry_after_s });
        }
        let (password_ok, code, wrong) = match &proof {
            Proof::Password(password) => (
                self.password_matches(Some(&account), password.clone())
                    .await?,
                None,
                AccountError::WrongPassword,
            ),
            Proof::TotpCode(code) => (true, Some(code.as_str()), AccountError::WrongCode),
        };
        let verdict = self.store.write(|tx| {
            let Some(mut account) = records::account(tx, id)? else {
                return Ok(Verdict::Failed { locked: None });
            };
            let passed = password_ok
                && code.is_none_or(|code| {
                    account.totp.enabled && accept_code(&mut account, code, now)
                });
            let verdict = if passed {
                account.guard.succeeded();
                Verdict::Passed(Box::new(account.clone()))
            } else {
                Verdict::Failed {
                    locked: account.guard.failed(now, MAX_ACCOUNT_FAILURES),
                }
            };
            records::put_account(tx, &account)?;
            Ok(verdict)
        })?;
        match verdict {
            Verdict::Passed(_) => Ok(()),
            Verdict::Failed {
                locked: Some(retry_after_s),
            } => Err(AccountError::LockedOut { retry_after_s }),
            Verdict::Failed { locked: None } | Verdict::TotpMissing => Err(wrong),
        }
    }
}

/// Whether `code` is valid now and newer than the last accepted one; records its step.
pub(super) fn accept_code(account: &mut AccountRecord, code: &str, now: i64) -> bool {
    let Some(secret) = account.totp.secret.as_deref() else {
        return false;
    };
    match totp::check(secret, code, now, account.totp.last_step) {
        Some(step) => {
            account.totp.last_step = Some(step);
            true
        }
        None => false,
    }
}
