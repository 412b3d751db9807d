//! The JSON of the account routes. Answers never carry a hash or secret, but for the one
//! token or two-factor secret shown at its creation.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::access::Rights;
use crate::gateway::{AccountView, ApiTokenView};

/// One right of an account; `admin` stands for all of them.
#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
#[allow(dead_code)] // Only documents the names `Rights` reads and writes.
pub enum RightName {
    Admin,
    OperateDoors,
    ViewActivityLog,
    ManageUsers,
    ManageBuilding,
    ManageDevices,
    ManageIntegrations,
    ManageAccounts,
}

/// An account: the owner or a sub-account.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Account {
    pub id: i64,
    /// Lower case; unique.
    pub email: String,
    pub name: String,
    /// The one owner: every right, cannot be deleted or demoted.
    pub owner: bool,
    /// Per capability; a sub-account always sees every device.
    #[schema(value_type = Vec<RightName>)]
    pub rights: Rights,
    /// Whether login needs a two-factor code.
    pub totp_enabled: bool,
    /// While locked after failed logins: until when (Unix seconds).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub locked_until: Option<i64>,
    /// Unix seconds.
    pub created: i64,
}

impl From<AccountView> for Account {
    fn from(view: AccountView) -> Self {
        Self {
            id: view.id.0,
            email: view.email,
            name: view.name,
            owner: view.owner,
            rights: view.rights,
            totp_enabled: view.totp_enabled,
            locked_until: view.locked_until,
            created: view.created,
        }
    }
}

/// A page of accounts.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct AccountPage {
    pub items: Vec<Account>,
    /// Pass as `cursor` for the next page; absent on the last one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

/// A sub-account to create.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewAccountBody {
    pub email: String,
    /// 1–100 characters.
    pub name: String,
    /// At least 10 characters.
    #[schema(format = Password)]
    pub password: String,
    /// Only rights the caller has itself.
    #[schema(value_type = Vec<RightName>)]
    pub rights: Rights,
}

/// Changes to an account; absent fields stay as they are.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AccountPatch {
    pub name: Option<String>,
    /// Ends the account's sessions.
    pub email: Option<String>,
    /// Only rights the caller has itself; the owner's cannot change.
    #[schema(value_type = Option<Vec<RightName>>)]
    pub rights: Option<Rights>,
    /// A new password (for a holder who forgot theirs); ends the account's sessions and
    /// lifts a lockout.
    #[schema(format = Password)]
    pub password: Option<String>,
}

/// A new e-mail address for the caller's account.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EmailChange {
    /// The account's current password.
    #[schema(format = Password)]
    pub password: String,
    pub new_email: String,
}

/// A new password for the caller's account.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PasswordChange {
    #[schema(format = Password)]
    pub current_password: String,
    /// At least 10 characters.
    #[schema(format = Password)]
    pub new_password: String,
}

/// A two-factor enrolment, shown once: add it to an authenticator app, then confirm with a
/// code.
#[derive(Serialize, ToSchema)]
pub struct TotpEnrollmentJson {
    /// Base32 (SHA1, 6 digits, 30 s).
    pub secret: String,
    /// The same as an `otpauth://totp/…` URL (for a QR code).
    pub otpauth_url: String,
}

/// A code from the authenticator app.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TotpCode {
    /// Six digits.
    pub code: String,
}

/// What proves the caller may turn two-factor login off: a current code or the password
/// (exactly one).
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TotpDisable {
    pub code: Option<String>,
    #[schema(format = Password)]
    pub password: Option<String>,
}

/// An API token of the caller's account (never the token itself).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ApiToken {
    pub id: u64,
    pub name: String,
    /// Unix seconds.
    pub created: i64,
    /// Unix seconds, to the minute; absent before the first use.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_used: Option<i64>,
}

impl From<ApiTokenView> for ApiToken {
    fn from(view: ApiTokenView) -> Self {
        Self {
            id: view.id,
            name: view.name,
            created: view.created,
            last_used: view.last_used,
        }
    }
}

/// The caller's API tokens, oldest first.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ApiTokenList {
    pub items: Vec<ApiToken>,
}

/// An API token to issue.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewApiToken {
    /// What it is for (e.g. "home assistant"); 1–100 characters.
    pub name: String,
}

/// A new API token: `token` is shown this once and never again.
#[derive(Serialize, ToSchema)]
pub struct IssuedApiToken {
    pub id: u64,
    pub name: String,
    pub created: i64,
    /// `nea_…`; send as `Authorization: Bearer <token>`. It acts with the account's rights.
    pub token: String,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::access::Capability;

    #[test]
    fn the_documented_right_names_are_those_of_the_rights() {
        let documented: Vec<String> = [
            RightName::OperateDoors,
            RightName::ViewActivityLog,
            RightName::ManageUsers,
            RightName::ManageBuilding,
            RightName::ManageDevices,
            RightName::ManageIntegrations,
            RightName::ManageAccounts,
        ]
        .iter()
        .map(|name| {
            serde_json::to_value(name)
                .unwrap()
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
        let actual: Vec<String> = Capability::ALL
            .iter()
            .map(|c| c.name().to_owned())
            .collect();
        assert_eq!(documented, actual);
        assert_eq!(
            serde_json::to_value(RightName::Admin).unwrap(),
            serde_json::to_value(Rights::ADMIN).unwrap()[0]
        );
    }
}
