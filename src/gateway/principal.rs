//! Who asks the gateway for something. Every request carries one, so the rules of the
//! permissions issue can decide per principal; today every principal may do everything.

use serde::Serialize;

#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Principal {
    /// The building's owner (the Nuki Box management account).
    Owner,
    /// A home-automation system or script, known by the credential it presented (the
    /// Bridge API token, later an API token of an account).
    Integration { name: String },
    /// Somebody on the gateway machine itself with access to the daemon's control socket
    /// (the installer running `nuki-edge lock …`), or the daemon's own start-up work.
    Local,
}

impl Principal {
    /// The principal a Bridge API token stands for.
    pub fn bridge_api() -> Self {
        Principal::Integration {
            name: "bridge-api".into(),
        }
    }
}

impl std::fmt::Display for Principal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Principal::Owner => f.write_str("owner"),
            Principal::Integration { name } => write!(f, "integration {name}"),
            Principal::Local => f.write_str("local"),
        }
    }
}
