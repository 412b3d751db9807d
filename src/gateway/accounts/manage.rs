//! Managing accounts (`Capability::ManageAccounts`). Nobody grants a right they lack or
//! changes an account that has rights they lack, so a sub-account cannot raise itself or
//! others above its own rights; the owner, who has every right, can do anything but delete
//! or demote itself.

use crate::access::{AccountId, Capability, DenialReason, Principal, Rights};
use crate::gateway::Gateway;

use super::book::AccountBook;
use super::credentials::hash_password;
use super::error::AccountError;
use super::policy::{check_name, check_password, normalize_email};
use super::records::{self, AccountRecord};
use super::sessions::session_key;
use super::{AccountChange, AccountView, NewAccount};

fn authorize(principal: &Principal) -> Result<(), AccountError> {
    if principal.rights().allows(Capability::ManageAccounts) {
        Ok(())
    } else {
        Err(DenialReason::MissingRight {
            capability: Capability::ManageAccounts,
        }
        .into())
    }
}

/// Refuses rights beyond the principal's own.
fn within_own_rights(principal: &Principal, rights: Rights) -> Result<(), AccountError> {
    let own = principal.rights();
    match rights.capabilities().into_iter().find(|c| !own.allows(*c)) {
        Some(capability) => Err(DenialReason::MissingRight { capability }.into()),
        None => Ok(()),
    }
}

fn is_owner(principal: &Principal) -> bool {
    matches!(
        principal,
        Principal::Account { owner: true, .. } | Principal::Local
    )
}

impl Gateway {
    fn book(&self) -> AccountBook<'_> {
        AccountBook::new(&self.store, self.now_unix())
    }

    /// Up to `limit` accounts after the store key `after` (a page's cursor), with their keys.
    pub fn accounts_page(
        &self,
        principal: &Principal,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<(String, AccountView)>, AccountError> {
        authorize(principal)?;
        self.book().page(after, limit)
    }

    pub fn account(
        &self,
        principal: &Principal,
        id: AccountId,
    ) -> Result<AccountView, AccountError> {
        authorize(principal)?;
        self.book().account(id)
    }

    /// Creates a sub-account with rights within the principal's own.
    pub async fn create_account(
        &self,
        principal: &Principal,
        new: NewAccount,
    ) -> Result<AccountView, AccountError> {
        authorize(principal)?;
        within_own_rights(principal, new.rights)?;
        let store = self.store.clone();
        let now = self.now_unix();
        let view = tokio::task::spawn_blocking(move || {
            AccountBook::new(&store, now).create_sub_account(&new)
        })
        .await
        .map_err(|_| AccountError::Hashing(super::credentials::HashingFailed))??;
        tracing::info!(by = %principal, account = %view.id, "account created");
        Ok(view)
    }

    /// Creates the owner account (local operators only: `nuki-edge account create-owner`).
    pub async fn create_owner(
        &self,
        principal: &Principal,
        email: String,
        name: String,
        password: String,
    ) -> Result<AccountView, AccountError> {
        if *principal != Principal::Local {
            return Err(AccountError::LocalOnly);
        }
        let store = self.store.clone();
        let now = self.now_unix();
        let view = tokio::task::spawn_blocking(move || {
            AccountBook::new(&store, now).create_owner(&email, &name, &password)
        })
        .await
        .map_err(|_| AccountError::Hashing(super::credentials::HashingFailed))??;
        tracing::info!(account = %view.id, "owner account created");
        Ok(view)
    }

    /// Issues an API token for the account with `email` (local operators only: `nuki-edge
    /// account token`).
    pub fn issue_api_token_for(
        &self,
        principal: &Principal,
        email: &str,
        name: &str,
    ) -> Result<super::IssuedToken, AccountError> {
        if *principal != Principal::Local {
            return Err(AccountError::LocalOnly);
        }
        let issued = self.book().issue_api_token_for(email, name)?;
        tracing::info!(token = issued.info.id, "API token issued");
        Ok(issued)
    }

    /// Changes an account. A new password or e-mail address ends the account's sessions but
    /// `current_session` (the caller's own, when it changes itself).
    pub async fn update_account(
        &self,
        principal: &Principal,
        id: AccountId,
        change: AccountChange,
        current_session: Option<&str>,
    ) -> Result<AccountView, AccountError> {
        authorize(principal)?;
        let target = self.manageable(principal, id)?;
        if let Some(rights) = change.rights {
            if target.owner && rights != Rights::ADMIN {
                return Err(AccountError::OwnerRights);
            }
            within_own_rights(principal, rights)?;
        }
        let name = change
            .name
            .as_deref()
            .map(|name| check_name(name, "name"))
            .transpose()?;
        let email = change.email.as_deref().map(normalize_email).transpose()?;
        let password_hash = match change.password {
            Some(password) => {
                check_password(&password)?;
                Some(
                    tokio::task::spawn_blocking(move || hash_password(&password))
                        .await
                        .map_err(|_| AccountError::Hashing(super::credentials::HashingFailed))??,
                )
            }
            None => None,
        };
        let keep = current_session.map(session_key);
        let now = self.now_unix();
        let view = self.store.write(|tx| {
            let Some(mut account) = records::account(tx, id)? else {
                return Ok(Err(AccountError::UnknownAccount(id)));
            };
            let mut credentials_changed = false;
            if let Some(email) = &email {
                if *email != account.email {
                    if records::account_by_email(tx, email)?.is_some() {
                        return Ok(Err(AccountError::EmailTaken));
                    }
                    account.email = email.clone();
                    credentials_changed = true;
                }
            }
            if let Some(hash) = &password_hash {
                account.password_hash = hash.clone();
                // Whoever set it may let the holder in again at once.
                account.guard.succeeded();
                credentials_changed = true;
            }
            if let Some(name) = &name {
                account.name = name.clone();
            }
            if let Some(rights) = change.rights {
                account.rights = rights;
            }
            if credentials_changed {
                records::remove_sessions(tx, id, keep.as_deref())?;
            }
            records::put_account(tx, &account)?;
            Ok(Ok(account.view(now)))
        })??;
        tracing::info!(by = %principal, account = %id, "account changed");
        Ok(view)
    }

    /// Deletes a sub-account; its sessions and API tokens stop working at once.
    pub fn delete_account(&self, principal: &Principal, id: AccountId) -> Result<(), AccountError> {
        authorize(principal)?;
        let target = self.manageable(principal, id)?;
        if target.owner {
            return Err(AccountError::OwnerUndeletable);
        }
        self.store
            .write(|tx| records::remove_account(tx, &target))?;
        tracing::info!(by = %principal, account = %id, "account deleted");
        Ok(())
    }

    /// The account `id`, if the principal may change it.
    fn manageable(
        &self,
        principal: &Principal,
        id: AccountId,
    ) -> Result<AccountRecord, AccountError> {
        let target = self
            .store
            .read(|tx| records::account(tx, id))?
            .ok_or(AccountError::UnknownAccount(id))?;
        if target.owner && !is_owner(principal) {
            return Err(AccountError::OwnerOnly);
        }
        within_own_rights(principal, target.principal().rights())?;
        Ok(target)
    }
}
