//! Account operations on a store, shared by the daemon and the command line (which opens the
//! store itself while the daemon is stopped).

use crate::access::{AccountId, Rights};
use crate::gateway::authenticate::API_TOKEN_PREFIX;
use crate::store::{Store, Table};

use super::credentials::{hash_password, new_token, token_hash};
use super::error::AccountError;
use super::policy::{check_name, check_password, normalize_email};
use super::records::{self, AccountRecord, ApiTokenRecord, TotpState};
use super::{AccountView, ApiTokenView, IssuedToken, NewAccount};

/// The counter account ids come from.
const ACCOUNT_COUNTER: &str = "account";
/// The counter API token ids come from.
const API_TOKEN_COUNTER: &str = "api_token";

/// The accounts in `store`, at `now` (Unix seconds).
pub struct AccountBook<'a> {
    store: &'a Store,
    now: i64,
}

impl<'a> AccountBook<'a> {
    pub fn new(store: &'a Store, now: i64) -> Self {
        Self { store, now }
    }

    /// Creates the one owner account. Hashing takes a moment (argon2id): call it off the
    /// async runtime's threads.
    pub fn create_owner(
        &self,
        email: &str,
        name: &str,
        password: &str,
    ) -> Result<AccountView, AccountError> {
        let new = NewAccount {
            email: email.to_owned(),
            name: name.to_owned(),
            password: password.to_owned(),
            rights: Rights::ADMIN,
        };
        // Cheap checks first, so a second owner is refused without hashing.
        let new = validated(&new)?;
        if self.store.read(records::owner)?.is_some() {
            return Err(AccountError::OwnerExists);
        }
        self.insert(new, true)
    }

    /// Creates a sub-account (the caller has checked the rights).
    pub(super) fn create_sub_account(&self, new: &NewAccount) -> Result<AccountView, AccountError> {
        let new = validated(new)?;
        self.insert(new, false)
    }

    fn insert(&self, new: NewAccount, owner: bool) -> Result<AccountView, AccountError> {
        let password_hash = hash_password(&new.password)?;
        let now = self.now;
        self.store.write(|tx| {
            if owner && records::owner(tx)?.is_some() {
                return Ok(Err(AccountError::OwnerExists));
            }
            if records::account_by_email(tx, &new.email)?.is_some() {
                return Ok(Err(AccountError::EmailTaken));
            }
            let number = tx.next_number(ACCOUNT_COUNTER)?;
            let record = AccountRecord {
                id: AccountId(i64::try_from(number).unwrap_or(i64::MAX)),
                email: new.email.clone(),
                name: new.name.clone(),
                owner,
                rights: if owner { Rights::ADMIN } else { new.rights },
                password_hash,
                totp: TotpState::default(),
                guard: Default::default(),
                created: now,
            };
            records::put_account(tx, &record)?;
            Ok(Ok(record.view(now)))
        })?
    }

    /// Issues an API token for the account with e-mail address `email`.
    pub fn issue_api_token_for(
        &self,
        email: &str,
        name: &str,
    ) -> Result<IssuedToken, AccountError> {
        let email = normalize_email(email)?;
        let account = self
            .store
            .read(|tx| records::account_by_email(tx, &email))?
            .ok_or(AccountError::UnknownEmail)?;
        self.issue_api_token(account.id, name)
    }

    /// Issues an API token for `account`.
    pub fn issue_api_token(
        &self,
        account: AccountId,
        name: &str,
    ) -> Result<IssuedToken, AccountError> {
        let name = check_name(name, "token name")?;
        let token = new_token(API_TOKEN_PREFIX);
        let key = token_hash(&token);
        let now = self.now;
        let info = self.store.write(|tx| {
            if records::account(tx, account)?.is_none() {
                return Ok(Err(AccountError::UnknownAccount(account)));
            }
            let record = ApiTokenRecord {
                id: tx.next_number(API_TOKEN_COUNTER)?,
                account,
                name: name.clone(),
                created: now,
                last_used: None,
            };
            tx.put(Table::ApiTokens, &key, &record)?;
            Ok(Ok(token_view(&record)))
        })??;
        Ok(IssuedToken { info, token })
    }

    /// One account.
    pub fn account(&self, id: AccountId) -> Result<AccountView, AccountError> {
        let record = self
            .store
            .read(|tx| records::account(tx, id))?
            .ok_or(AccountError::UnknownAccount(id))?;
        Ok(record.view(self.now))
    }

    /// Up to `limit` accounts after store key `after`, with their keys, by id.
    pub fn page(
        &self,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<(String, AccountView)>, AccountError> {
        let page = self
            .store
            .read(|tx| tx.page::<AccountRecord>(Table::Accounts, after, limit))?;
        Ok(page
            .into_iter()
            .map(|(key, record)| (key, record.view(self.now)))
            .collect())
    }
}

pub(super) fn token_view(record: &ApiTokenRecord) -> ApiTokenView {
    ApiTokenView {
        id: record.id,
        name: record.name.clone(),
        created: record.created,
        last_used: record.last_used,
    }
}

/// The account with its e-mail address normalized and its name trimmed, if every value
/// passes the policy.
fn validated(new: &NewAccount) -> Result<NewAccount, AccountError> {
    check_password(&new.password)?;
    Ok(NewAccount {
        email: normalize_email(&new.email)?,
        name: check_name(&new.name, "name")?,
        password: new.password.clone(),
        rights: new.rights,
    })
}
