//! Sessions and API tokens as credentials: found by the hash of what the caller presented,
//! valid only while their account exists (so deleting an account ends them at once), with
//! the account's current rights.

use crate::access::{AccountId, Principal};
use crate::gateway::authenticate::{AuthFailure, SESSION_PREFIX};
use crate::gateway::Gateway;
use crate::store::{StoreError, Table, WriteTx};

use super::credentials::{new_token, token_hash};
use serde::de::DeserializeOwned;
use serde::Serialize;

use super::records::{self, AccountRecord, ApiTokenRecord, Reads, SessionRecord};
use super::NewSession;

/// A session unused for this long has ended.
pub const SESSION_IDLE_SECONDS: i64 = 12 * 60 * 60;
/// A session ends this long after the login, used or not.
pub const SESSION_ABSOLUTE_SECONDS: i64 = 7 * 24 * 60 * 60;
/// A session's or token's last use is written at most this often (one write per request
/// would be wasteful; the idle limit is in hours).
const LAST_USE_RESOLUTION_SECONDS: i64 = 60;

impl SessionRecord {
    fn is_live(&self, now: i64) -> bool {
        now.saturating_sub(self.last_seen) < SESSION_IDLE_SECONDS
            && now.saturating_sub(self.created) < SESSION_ABSOLUTE_SECONDS
    }
}

/// Starts a session for `account`, and drops the sessions that ended, so the table holds
/// only live ones.
pub(super) fn start_session(
    tx: &WriteTx,
    account: AccountId,
    now: i64,
) -> Result<NewSession, StoreError> {
    for (key, session) in tx.keyed::<SessionRecord>(Table::Sessions)? {
        if !session.is_live(now) {
            tx.remove(Table::Sessions, &key)?;
        }
    }
    let token = new_token(SESSION_PREFIX);
    tx.put(
        Table::Sessions,
        &token_hash(&token),
        &SessionRecord {
            account,
            created: now,
            last_seen: now,
        },
    )?;
    Ok(NewSession {
        token,
        max_age_s: u64::try_from(SESSION_ABSOLUTE_SECONDS).unwrap_or(0),
    })
}

fn store_failure(error: StoreError) -> AuthFailure {
    tracing::warn!(%error, "cannot check a credential");
    AuthFailure::Store
}

impl Gateway {
    pub(in crate::gateway) fn authenticate_session(
        &self,
        token: &str,
    ) -> Result<Principal, AuthFailure> {
        let key = token_hash(token);
        let now = self.now_unix();
        let (session, account) =
            self.credential_with_account::<SessionRecord>(Table::Sessions, &key, |s| s.account)?;
        if !session.is_live(now) {
            // Best effort: the next login sweeps it up otherwise.
            let _ = self.store.write(|tx| tx.remove(Table::Sessions, &key));
            return Err(AuthFailure::Invalid);
        }
        if now.saturating_sub(session.last_seen) >= LAST_USE_RESOLUTION_SECONDS {
            let touched = SessionRecord {
                last_seen: now,
                ..session
            };
            self.rewrite_if_present(Table::Sessions, &key, &touched)?;
        }
        Ok(account.principal())
    }

    pub(in crate::gateway) fn authenticate_api_token(
        &self,
        token: &str,
    ) -> Result<Principal, AuthFailure> {
        let key = token_hash(token);
        let now = self.now_unix();
        let (record, account) =
            self.credential_with_account::<ApiTokenRecord>(Table::ApiTokens, &key, |r| r.account)?;
        let stale = record
            .last_used
            .is_none_or(|used| now.saturating_sub(used) >= LAST_USE_RESOLUTION_SECONDS);
        if stale {
            let touched = ApiTokenRecord {
                last_used: Some(now),
                ..record
            };
            self.rewrite_if_present(Table::ApiTokens, &key, &touched)?;
        }
        Ok(account.principal())
    }

    /// The credential stored under `key` in `table` and the account it belongs to, read
    /// together; `Invalid` when either is gone.
    fn credential_with_account<R: DeserializeOwned>(
        &self,
        table: Table,
        key: &str,
        account_of: impl Fn(&R) -> AccountId,
    ) -> Result<(R, AccountRecord), AuthFailure> {
        let found = self
            .store
            .read(|tx| {
                let Some(credential) = tx.get::<R>(table, key)? else {
                    return Ok(None);
                };
                let account = records::account(tx, account_of(&credential))?;
                Ok(account.map(|account| (credential, account)))
            })
            .map_err(store_failure)?;
        found.ok_or(AuthFailure::Invalid)
    }

    /// Writes a credential's new last use, only if it is still there: a logout or a
    /// revocation may have come in between.
    fn rewrite_if_present<R: Serialize + DeserializeOwned>(
        &self,
        table: Table,
        key: &str,
        record: &R,
    ) -> Result<(), AuthFailure> {
        self.store
            .write(|tx| {
                if tx.get::<R>(table, key)?.is_some() {
                    tx.put(table, key, record)?;
                }
                Ok(())
            })
            .map_err(store_failure)
    }

    /// Ends the session whose token is `token` (logout). Unknown tokens are fine: the
    /// session is gone either way.
    pub fn end_session(&self, token: &str) -> Result<(), StoreError> {
        let key = token_hash(token);
        self.store
            .write(|tx| tx.remove(Table::Sessions, &key))
            .map(|_| ())
    }
}

/// The store key of the session `token`, to keep it when the others are ended.
pub(super) fn session_key(token: &str) -> String {
    token_hash(token)
}
