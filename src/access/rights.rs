//! What an account or integration may do, per capability. As in the Nuki Box management
//! account, rights never name a device: a sub-account sees every device.

use serde::{Deserialize, Serialize};

/// One thing an account may be allowed to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Capability {
    /// Lock, unlock, unlatch; open the building's doors.
    OperateDoors,
    /// Read the activity log.
    ViewActivityLog,
    /// Create, change and revoke people and their permissions.
    ManageUsers,
    /// Create and change addresses and residential units.
    ManageBuilding,
    /// Set up (pair) devices and manage them: name, location, security PIN.
    ManageDevices,
    /// Bridge API, MQTT, cloud and API tokens of integrations.
    ManageIntegrations,
    /// Sub-accounts and gateway settings.
    ManageAccounts,
}

impl Capability {
    pub const ALL: [Capability; 7] = [
        Capability::OperateDoors,
        Capability::ViewActivityLog,
        Capability::ManageUsers,
        Capability::ManageBuilding,
        Capability::ManageDevices,
        Capability::ManageIntegrations,
        Capability::ManageAccounts,
    ];

    fn bit(self) -> u16 {
        1 << (self as u16)
    }

    pub fn name(self) -> &'static str {
        match self {
            Capability::OperateDoors => "operate_doors",
            Capability::ViewActivityLog => "view_activity_log",
            Capability::ManageUsers => "manage_users",
            Capability::ManageBuilding => "manage_building",
            Capability::ManageDevices => "manage_devices",
            Capability::ManageIntegrations => "manage_integrations",
            Capability::ManageAccounts => "manage_accounts",
        }
    }
}

impl std::fmt::Display for Capability {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// A set of capabilities. Serialized as the list of their names; `"admin"` in that list
/// stands for all of them.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Rights(u16);

impl Rights {
    pub const NONE: Rights = Rights(0);
    pub const ADMIN: Rights = Rights((1 << Capability::ALL.len()) - 1);

    pub fn of(capabilities: &[Capability]) -> Self {
        Rights(capabilities.iter().fold(0, |bits, c| bits | c.bit()))
    }

    pub fn allows(self, capability: Capability) -> bool {
        self.0 & capability.bit() != 0
    }

    pub fn is_admin(self) -> bool {
        self == Rights::ADMIN
    }

    pub fn capabilities(self) -> Vec<Capability> {
        Capability::ALL
            .into_iter()
            .filter(|c| self.allows(*c))
            .collect()
    }
}

impl std::fmt::Debug for Rights {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.is_admin() {
            return f.write_str("Rights(admin)");
        }
        f.debug_tuple("Rights").field(&self.capabilities()).finish()
    }
}

#[derive(Serialize, Deserialize)]
#[serde(untagged)]
enum RightName {
    Capability(Capability),
    Admin(AdminWord),
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
enum AdminWord {
    Admin,
}

impl Serialize for Rights {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        if self.is_admin() {
            return vec![RightName::Admin(AdminWord::Admin)].serialize(serializer);
        }
        self.capabilities().serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for Rights {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let names = Vec::<RightName>::deserialize(deserializer)?;
        Ok(names
            .into_iter()
            .fold(Rights::NONE, |rights, name| match name {
                RightName::Admin(_) => Rights::ADMIN,
                RightName::Capability(c) => Rights(rights.0 | c.bit()),
            }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn admin_is_every_capability() {
        for capability in Capability::ALL {
            assert!(Rights::ADMIN.allows(capability));
            assert!(!Rights::NONE.allows(capability));
        }
        assert_eq!(Rights::of(&Capability::ALL), Rights::ADMIN);
    }

    #[test]
    fn serialized_as_names() {
        let rights = Rights::of(&[Capability::OperateDoors, Capability::ViewActivityLog]);
        let json = serde_json::to_string(&rights).unwrap();
        assert_eq!(json, r#"["operate_doors","view_activity_log"]"#);
        assert_eq!(serde_json::from_str::<Rights>(&json).unwrap(), rights);
        assert_eq!(
            serde_json::to_string(&Rights::ADMIN).unwrap(),
            r#"["admin"]"#
        );
        assert_eq!(
            serde_json::from_str::<Rights>(r#"["admin"]"#).unwrap(),
            Rights::ADMIN
        );
        assert!(serde_json::from_str::<Rights>(r#"["fly"]"#).is_err());
    }
}
