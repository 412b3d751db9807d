//! Accounts: the owner and sub-accounts, sessions and API tokens.

use crate::access::Principal;

use super::authenticate::AuthFailure;
use super::Gateway;

impl Gateway {
    pub(super) fn authenticate_session(&self, _token: &str) -> Result<Principal, AuthFailure> {
        Err(AuthFailure::Invalid)
    }

    pub(super) fn authenticate_api_token(&self, _token: &str) -> Result<Principal, AuthFailure> {
        Err(AuthFailure::Invalid)
    }
}
