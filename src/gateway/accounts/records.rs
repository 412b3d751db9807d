//! The stored records: accounts (`Table::Accounts`, key `int_key(id)`), sessions
//! (`Table::Sessions`) and API tokens (`Table::ApiTokens`), the latter two keyed by the
//! SHA-256 of their token, so a presented token is found in one lookup and the store never
//! holds a usable one.

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::access::{AccountId, Principal, Rights};
use crate::store::{int_key, ReadTx, StoreError, Table, WriteTx};

use super::lockout::LoginGuard;
use super::AccountView;

#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountRecord {
    pub id: AccountId,
    /// Normalized (trimmed, lower case); unique.
    pub email: String,
    pub name: String,
    pub owner: bool,
    /// The owner's are always all.
    pub rights: Rights,
    /// argon2id PHC string.
    pub password_hash: String,
    #[serde(default)]
    pub totp: TotpState,
    #[serde(default)]
    pub guard: LoginGuard,
    /// Unix seconds.
    pub created: i64,
}

impl std::fmt::Debug for AccountRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AccountRecord")
            .field("id", &self.id)
            .field("email", &self.email)
            .field("name", &self.name)
            .field("owner", &self.owner)
            .field("rights", &self.rights)
            .field("password_hash", &"…")
            .field("totp", &self.totp)
            .field("guard", &self.guard)
            .field("created", &self.created)
            .finish()
    }
}

impl AccountRecord {
    pub fn key(&self) -> String {
        int_key(self.id.0)
    }

    pub fn principal(&self) -> Principal {
        Principal::Account {
            id: self.id,
            owner: self.owner,
            rights: if self.owner {
                Rights::ADMIN
            } else {
                self.rights
            },
        }
    }

    pub fn view(&self, now: i64) -> AccountView {
        AccountView {
            id: self.id,
            email: self.email.clone(),
            name: self.name.clone(),
            owner: self.owner,
            rights: self.principal().rights(),
            totp_enabled: self.totp.enabled,
            locked_until: self.guard.retry_after(now).and(self.guard.locked_until),
            created: self.created,
        }
    }
}

/// Two-factor login: a secret while enrolling (not enabled yet) or enabled, and the last
/// step whose code was accepted, so no code works twice.
#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TotpState {
    /// Base32. Kept in the clear: the gateway must compute the codes.
    pub secret: Option<String>,
    pub enabled: bool,
    pub last_step: Option<u64>,
}

impl std::fmt::Debug for TotpState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TotpState")
            .field("secret", &self.secret.as_ref().map(|_| "…"))
            .field("enabled", &self.enabled)
            .field("last_step", &self.last_step)
            .finish()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionRecord {
    pub account: AccountId,
    pub created: i64,
    pub last_seen: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiTokenRecord {
    pub id: u64,
    pub account: AccountId,
    pub name: String,
    pub created: i64,
    pub last_used: Option<i64>,
}

/// Reads both kinds of transaction offer.
pub trait Reads {
    fn record<V: DeserializeOwned>(&self, table: Table, key: &str)
        -> Result<Option<V>, StoreError>;
    fn keyed<V: DeserializeOwned>(&self, table: Table) -> Result<Vec<(String, V)>, StoreError>;
}

impl Reads for ReadTx {
    fn record<V: DeserializeOwned>(
        &self,
        table: Table,
        key: &str,
    ) -> Result<Option<V>, StoreError> {
        self.get(table, key)
    }

    fn keyed<V: DeserializeOwned>(&self, table: Table) -> Result<Vec<(String, V)>, StoreError> {
        self.page(table, None, usize::MAX)
    }
}

impl Reads for WriteTx {
    fn record<V: DeserializeOwned>(
        &self,
        table: Table,
        key: &str,
    ) -> Result<Option<V>, StoreError> {
        self.get(table, key)
    }

    fn keyed<V: DeserializeOwned>(&self, table: Table) -> Result<Vec<(String, V)>, StoreError> {
        self.page(table, None, usize::MAX)
    }
}

pub fn account(tx: &impl Reads, id: AccountId) -> Result<Option<AccountRecord>, StoreError> {
    tx.record(Table::Accounts, &int_key(id.0))
}

/// Accounts are few (an owner and a handful of sub-accounts), so a scan is fine.
pub fn account_by_email(tx: &impl Reads, email: &str) -> Result<Option<AccountRecord>, StoreError> {
    Ok(tx
        .keyed::<AccountRecord>(Table::Accounts)?
        .into_iter()
        .map(|(_, account)| account)
        .find(|account| account.email == email))
}

pub fn owner(tx: &impl Reads) -> Result<Option<AccountRecord>, StoreError> {
    Ok(tx
        .keyed::<AccountRecord>(Table::Accounts)?
        .into_iter()
        .map(|(_, account)| account)
        .find(|account| account.owner))
}

pub fn put_account(tx: &WriteTx, account: &AccountRecord) -> Result<(), StoreError> {
    tx.put(Table::Accounts, &account.key(), account)
}

/// Ends the sessions of `account`, but for the one stored under `keep` (the caller's own).
pub fn remove_sessions(
    tx: &WriteTx,
    account: AccountId,
    keep: Option<&str>,
) -> Result<(), StoreError> {
    for (key, session) in tx.keyed::<SessionRecord>(Table::Sessions)? {
        if session.account == account && Some(key.as_str()) != keep {
            tx.remove(Table::Sessions, &key)?;
        }
    }
    Ok(())
}

/// The API tokens of `account` with their keys, oldest first.
pub fn tokens_of(
    tx: &impl Reads,
    account: AccountId,
) -> Result<Vec<(String, ApiTokenRecord)>, StoreError> {
    let mut tokens: Vec<_> = tx
        .keyed::<ApiTokenRecord>(Table::ApiTokens)?
        .into_iter()
        .filter(|(_, token)| token.account == account)
        .collect();
    tokens.sort_by_key(|(_, token)| token.id);
    Ok(tokens)
}

/// Removes an account with every session and API token it had.
pub fn remove_account(tx: &WriteTx, account: &AccountRecord) -> Result<(), StoreError> {
    remove_sessions(tx, account.id, None)?;
    for (key, _) in tokens_of(tx, account.id)? {
        tx.remove(Table::ApiTokens, &key)?;
    }
    tx.remove(Table::Accounts, &account.key())?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_shows_no_hash_and_no_secret() {
        let record = AccountRecord {
            id: AccountId(1),
            email: "ann@example.org".into(),
            name: "Ann".into(),
            owner: true,
            rights: Rights::ADMIN,
            password_hash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA".into(),
            totp: TotpState {
                secret: Some("JBSWY3DPEHPK3PXP".into()),
                enabled: true,
                last_step: Some(7),
            },
            guard: LoginGuard::default(),
            created: 0,
        };
        let debug = format!("{record:?}");
        assert!(!debug.contains("argon2id"), "{debug}");
        assert!(!debug.contains("JBSWY3DPEHPK3PXP"), "{debug}");
        assert!(debug.contains("ann@example.org"));
    }
}
