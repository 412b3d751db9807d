//! The secrets of permissions, stored apart from them (`Table::PermissionSecrets`, keyed by
//! permission id) so a permission can be listed, logged and published without them.

use serde::{Deserialize, Serialize};

/// What only the holder and the devices may know. `Debug` shows neither value.
#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PermissionSecret {
    /// SHA-256 (hex) of a gateway-mediated permission's secret (`nep_…`); the secret itself
    /// is shown once, at creation, and never stored.
    pub access_hash: Option<String>,
    /// A keypad code (six digits 1–9), kept because it is provisioned to every device in
    /// scope, again whenever a device lost it.
    pub keypad_code: Option<u32>,
}

impl std::fmt::Debug for PermissionSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PermissionSecret")
            .field("access_hash", &self.access_hash.as_ref().map(|_| "…"))
            .field("keypad_code", &self.keypad_code.map(|_| "…"))
            .finish()
    }
}
