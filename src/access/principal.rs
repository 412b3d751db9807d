//! Who asks. Every request through the gateway carries one, from every interface.

use serde::Serialize;

use super::ids::{AccountId, PermissionId};
use super::rights::Rights;

#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Principal {
    /// An account of the building's management: the owner (all rights) or a sub-account.
    Account {
        id: AccountId,
        owner: bool,
        rights: Rights,
    },
    /// A home-automation system or script, known by the credential it presented (the
    /// Bridge API token, or an account's API token named for it).
    Integration { name: String, rights: Rights },
    /// Somebody on the gateway machine itself with access to the daemon's control socket
    /// (the installer running `nuki-edge lock …`), or the daemon's own start-up work.
    Local,
    /// A person presenting the secret of a gateway-mediated permission; may do exactly what
    /// that permission allows.
    Holder { permission: PermissionId },
}

impl Principal {
    /// The name the Bridge API's token goes by.
    pub const BRIDGE_API: &'static str = "bridge-api";

    /// The principal a Bridge API token stands for, with its default right: operating doors.
    pub fn bridge_api() -> Self {
        Principal::Integration {
            name: Self::BRIDGE_API.into(),
            rights: Rights::of(&[super::rights::Capability::OperateDoors]),
        }
    }

    /// The rights that come with who the principal is. A holder has none of its own: its
    /// permission is its only grant.
    pub fn rights(&self) -> Rights {
        match self {
            Principal::Account { owner: true, .. } | Principal::Local => Rights::ADMIN,
            Principal::Account { rights, .. } | Principal::Integration { rights, .. } => *rights,
            Principal::Holder { .. } => Rights::NONE,
        }
    }
}

impl std::fmt::Display for Principal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Principal::Account {
                id, owner: true, ..
            } => write!(f, "owner account {id}"),
            Principal::Account { id, .. } => write!(f, "account {id}"),
            Principal::Integration { name, .. } => write!(f, "integration {name}"),
            Principal::Local => f.write_str("local"),
            Principal::Holder { permission } => write!(f, "holder of permission {permission}"),
        }
    }
}
