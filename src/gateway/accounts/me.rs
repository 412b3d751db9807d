//! What an account does to itself: read itself, change its e-mail address and password
//! (each proven with the password, each ending its other sessions), two-factor login, and
//! its API tokens.

use crate::access::{AccountId, Principal};
use crate::gateway::Gateway;
use crate::store::Table;

use super::book::{token_view, AccountBook};
use super::credentials::{hash_password, HashingFailed};
use super::error::AccountError;
use super::login::accept_code;
use super::policy::{check_password, normalize_email};
use super::records::{self, AccountRecord, TotpState};
use super::sessions::session_key;
use super::{totp, AccountView, ApiTokenView, IssuedToken, Proof, TotpEnrollment};

/// The account behind a principal.
fn account_id(principal: &Principal) -> Result<AccountId, AccountError> {
    match principal {
        Principal::Account { id, .. } => Ok(*id),
        _ => Err(AccountError::NotAnAccount),
    }
}

impl Gateway {
    /// The caller's own account.
    pub fn own_account(&self, principal: &Principal) -> Result<AccountView, AccountError> {
        let id = account_id(principal)?;
        AccountBook::new(&self.store, self.now_unix()).account(id)
    }

    /// Changes the caller's e-mail address after checking its password; its other sessions
    /// end.
    pub async fn change_own_email(
        &self,
        principal: &Principal,
        current_session: Option<&str>,
        password: String,
        new_email: &str,
    ) -> Result<AccountView, AccountError> {
        let id = account_id(principal)?;
        let email = normalize_email(new_email)?;
        self.prove(id, Proof::Password(password)).await?;
        let keep = current_session.map(session_key);
        self.change_own(id, |tx, account| {
            if account.email != email {
                if records::account_by_email(tx, &email)?.is_some() {
                    return Ok(Err(AccountError::EmailTaken));
                }
                account.email = email.clone();
            }
            records::remove_sessions(tx, account.id, keep.as_deref())?;
            Ok(Ok(()))
        })
    }

    /// Changes the caller's password after checking the current one; its other sessions end.
    pub async fn change_own_password(
        &self,
        principal: &Principal,
        current_session: Option<&str>,
        current_password: String,
        new_password: String,
    ) -> Result<AccountView, AccountError> {
        let id = account_id(principal)?;
        check_password(&new_password)?;
        self.prove(id, Proof::Password(current_password)).await?;
        let hash = tokio::task::spawn_blocking(move || hash_password(&new_password))
            .await
            .map_err(|_| AccountError::Hashing(HashingFailed))??;
        let keep = current_session.map(session_key);
        self.change_own(id, |tx, account| {
            account.password_hash = hash.clone();
            records::remove_sessions(tx, account.id, keep.as_deref())?;
            Ok(Ok(()))
        })
    }

    /// Starts two-factor enrolment: a new secret, shown this once; login needs codes only
    /// after [`Self::confirm_totp`].
    pub fn enroll_totp(&self, principal: &Principal) -> Result<TotpEnrollment, AccountError> {
        let id = account_id(principal)?;
        let secret = totp::new_secret();
        let view = self.change_own(id, |_, account| {
            if account.totp.enabled {
                return Ok(Err(AccountError::TotpEnabled));
            }
            account.totp = TotpState {
                secret: Some(secret.clone()),
                enabled: false,
                last_step: None,
            };
            Ok(Ok(()))
        })?;
        Ok(TotpEnrollment {
            otpauth_url: totp::otpauth_url(&secret, &view.email),
            secret,
        })
    }

    /// Turns two-factor login on with a code from the enrolled secret.
    pub fn confirm_totp(
        &self,
        principal: &Principal,
        code: &str,
    ) -> Result<AccountView, AccountError> {
        let id = account_id(principal)?;
        let now = self.now_unix();
        let outcome = self.store.write(|tx| {
            let Some(mut account) = records::account(tx, id)? else {
                return Ok(Err(AccountError::UnknownAccount(id)));
            };
            if account.totp.enabled {
                return Ok(Err(AccountError::TotpEnabled));
            }
            if account.totp.secret.is_none() {
                return Ok(Err(AccountError::TotpNotEnrolled));
            }
            if let Some(retry_after_s) = account.guard.retry_after(now) {
                return Ok(Err(AccountError::LockedOut { retry_after_s }));
            }
            let result = if accept_code(&mut account, code, now) {
                account.totp.enabled = true;
                account.guard.succeeded();
                Ok(account.view(now))
            } else {
                match account.guard.failed(now, super::MAX_ACCOUNT_FAILURES) {
                    Some(retry_after_s) => Err(AccountError::LockedOut { retry_after_s }),
                    None => Err(AccountError::WrongCode),
                }
            };
            records::put_account(tx, &account)?;
            Ok(result)
        })??;
        tracing::info!(account = %id, "two-factor login turned on");
        Ok(outcome)
    }

    /// Turns two-factor login off, proven with a current code or the password.
    pub async fn disable_totp(
        &self,
        principal: &Principal,
        proof: Proof,
    ) -> Result<AccountView, AccountError> {
        let id = account_id(principal)?;
        let enabled = self
            .store
            .read(|tx| records::account(tx, id))?
            .ok_or(AccountError::UnknownAccount(id))?
            .totp
            .enabled;
        if !enabled {
            return Err(AccountError::TotpDisabled);
        }
        self.prove(id, proof).await?;
        let view = self.change_own(id, |_, account| {
            account.totp = TotpState::default();
            Ok(Ok(()))
        })?;
        tracing::info!(account = %id, "two-factor login turned off");
        Ok(view)
    }

    /// The caller's API tokens, oldest first; never the tokens themselves.
    pub fn own_api_tokens(&self, principal: &Principal) -> Result<Vec<ApiTokenView>, AccountError> {
        let id = account_id(principal)?;
        let tokens = self.store.read(|tx| records::tokens_of(tx, id))?;
        Ok(tokens
            .iter()
            .map(|(_, record)| token_view(record))
            .collect())
    }

    /// Issues an API token for the caller's account: it acts with the account's rights.
    pub fn issue_own_api_token(
        &self,
        principal: &Principal,
        name: &str,
    ) -> Result<IssuedToken, AccountError> {
        let id = account_id(principal)?;
        let issued = AccountBook::new(&self.store, self.now_unix()).issue_api_token(id, name)?;
        tracing::info!(account = %id, token = issued.info.id, "API token issued");
        Ok(issued)
    }

    /// Revokes one of the caller's API tokens; it stops working at once.
    pub fn revoke_own_api_token(
        &self,
        principal: &Principal,
        token: u64,
    ) -> Result<(), AccountError> {
        let id = account_id(principal)?;
        self.store.write(|tx| {
            let found = records::tokens_of(tx, id)?
                .into_iter()
                .find(|(_, record)| record.id == token);
            match found {
                Some((key, _)) => {
                    tx.remove(Table::ApiTokens, &key)?;
                    Ok(Ok(()))
                }
                None => Ok(Err(AccountError::UnknownToken(token))),
            }
        })??;
        tracing::info!(account = %id, token, "API token revoked");
        Ok(())
    }

    /// Reads, changes and writes the account `id` in one transaction.
    fn change_own(
        &self,
        id: AccountId,
        change: impl FnOnce(
            &crate::store::WriteTx,
            &mut AccountRecord,
        ) -> Result<Result<(), AccountError>, crate::store::StoreError>,
    ) -> Result<AccountView, AccountError> {
        let now = self.now_unix();
        self.store.write(|tx| {
            let Some(mut account) = records::account(tx, id)? else {
                return Ok(Err(AccountError::UnknownAccount(id)));
            };
            if let Err(refused) = change(tx, &mut account)? {
                return Ok(Err(refused));
            }
            records::put_account(tx, &account)?;
            Ok(Ok(account.view(now)))
        })?
    }
}
