//! Why an account operation was refused. Messages never contain a password, token, hash or
//! two-factor secret, and a failed login never says which part was wrong.

use crate::access::{AccountId, DenialReason};
use crate::store::StoreError;

use super::credentials::HashingFailed;
use super::policy::PolicyError;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AccountError {
    #[error(transparent)]
    Denied(#[from] DenialReason),
    #[error("only accounts have this; log in or use an account's API token")]
    NotAnAccount,
    #[error("no account {0}")]
    UnknownAccount(AccountId),
    #[error("no account has this e-mail address")]
    UnknownEmail,
    #[error("no API token {0} of this account")]
    UnknownToken(u64),
    #[error("another account has this e-mail address")]
    EmailTaken,
    #[error("an owner account exists already; there is exactly one")]
    OwnerExists,
    #[error("the owner account cannot be deleted")]
    OwnerUndeletable,
    #[error("the owner always has every right")]
    OwnerRights,
    #[error("only the owner may change the owner account")]
    OwnerOnly,
    #[error("only on the gateway itself, with `nuki-edge account …`")]
    LocalOnly,
    #[error(transparent)]
    Invalid(#[from] PolicyError),
    #[error("the password is not correct")]
    WrongPassword,
    #[error("the two-factor code is not correct, or was used already")]
    WrongCode,
    #[error("e-mail address, password or two-factor code not correct")]
    LoginFailed,
    #[error("this account logs in with two factors: send the current code as `totp`")]
    TotpRequired,
    #[error("two-factor login is on already; turn it off first")]
    TotpEnabled,
    #[error("two-factor login is not on")]
    TotpDisabled,
    #[error("start the two-factor enrolment first")]
    TotpNotEnrolled,
    #[error("too many failed attempts; try again in {retry_after_s} s")]
    LockedOut { retry_after_s: u64 },
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Hashing(#[from] HashingFailed),
}

impl AccountError {
    /// Whether the request itself was wrong (a command line exits with 2 on it): anything
    /// but a failing store or hasher.
    pub fn is_bad_input(&self) -> bool {
        match self {
            AccountError::Store(store) => store.needs_operator(),
            AccountError::Hashing(_) => false,
            _ => true,
        }
    }
}
