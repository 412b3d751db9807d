//! Holders of gateway-mediated permissions, known by the secret they present. Only the
//! secret's SHA-256 is stored; the rules snapshot indexes the hashes.

use subtle::ConstantTimeEq;

use crate::access::Principal;

use super::authenticate::AuthFailure;
use super::building::secret_hash;
use super::Gateway;

impl Gateway {
    pub(super) fn authenticate_permission_secret(
        &self,
        token: &str,
    ) -> Result<Principal, AuthFailure> {
        let presented = secret_hash(token);
        let snapshot = self.rules.current();
        // The index is keyed by the hash, so what a lookup's timing could reveal is about a
        // hash, from which no secret follows; the final comparison is constant-time anyway.
        let (stored, permission) = snapshot
            .holders
            .get_key_value(&presented)
            .ok_or(AuthFailure::Invalid)?;
        if bool::from(stored[..].ct_eq(&presented[..])) {
            Ok(Principal::Holder {
                permission: permission.clone(),
            })
        } else {
            Err(AuthFailure::Invalid)
        }
    }
}
