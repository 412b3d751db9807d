//! Who a credential stands for. Interfaces hand over what the caller presented; the gateway
//! answers with the principal, or why not. Secrets are told apart by their prefix, so each
//! is checked against its own table only.

use crate::access::Principal;

use super::Gateway;

/// Prefix of an account's API token.
pub const API_TOKEN_PREFIX: &str = "nea_";
/// Prefix of a session token (kept in the session cookie).
pub const SESSION_PREFIX: &str = "nes_";
/// Prefix of the secret of a gateway-mediated permission.
pub const PERMISSION_SECRET_PREFIX: &str = "nep_";

/// What a caller presented. `Debug` never shows the secret.
#[derive(Clone, PartialEq, Eq)]
pub enum Credential {
    /// `Authorization: Bearer …`: an API token or a permission's secret.
    Bearer(String),
    /// The session cookie of a logged-in account.
    Session(String),
}

impl std::fmt::Debug for Credential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Credential::Bearer(_) => f.write_str("Credential::Bearer(…)"),
            Credential::Session(_) => f.write_str("Credential::Session(…)"),
        }
    }
}

/// Why a credential was not accepted. Says nothing about which part was wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthFailure {
    #[error("the credential is not valid (unknown, expired or revoked)")]
    Invalid,
    #[error("too many failed attempts; try again in {retry_after_s} s")]
    LockedOut { retry_after_s: u64 },
    #[error("the store could not be read")]
    Store,
}

impl Gateway {
    pub fn authenticate(&self, credential: &Credential) -> Result<Principal, AuthFailure> {
        match credential {
            Credential::Session(token) => self.authenticate_session(token),
            Credential::Bearer(token) if token.starts_with(API_TOKEN_PREFIX) => {
                self.authenticate_api_token(token)
            }
            Credential::Bearer(token) if token.starts_with(PERMISSION_SECRET_PREFIX) => {
                self.authenticate_permission_secret(token)
            }
            Credential::Bearer(_) => Err(AuthFailure::Invalid),
        }
    }
}
