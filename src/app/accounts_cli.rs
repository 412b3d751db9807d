//! `nuki-edge account create-owner|token`: the first owner account and API tokens for
//! scripts. With the daemon running (it holds the store) the request goes through the
//! control socket, where it runs as [`Principal::Local`]; with the daemon stopped the command
//! opens the store itself.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::clock::{Clock, SystemClock};
use crate::config::Config;
use crate::gateway::accounts::{check_password, normalize_email, PolicyError};
use crate::gateway::{AccountBook, AccountError, Gateway, Principal};
use crate::store::{Store, StoreError};

use super::control::{self, ControlAnswer, ControlError};

/// How long the daemon may take for an account request (hashing a password is the slow
/// part, well under a second).
const ACCOUNT_ANSWER_WITHIN: Duration = Duration::from_secs(10);
/// While a starting daemon holds the store but does not listen yet, its socket is asked
/// again after this long …
const DAEMON_STARTING_POLL: Duration = Duration::from_millis(250);
/// … this many times (about ten seconds).
const DAEMON_STARTING_ATTEMPTS: u32 = 40;

#[derive(Debug, thiserror::Error)]
pub enum AccountsCliError {
    #[error("cannot read the password file {path}: {reason}")]
    PasswordFile { path: PathBuf, reason: String },
    #[error("cannot ask for the password at a terminal ({0}); give it with --password-file")]
    Prompt(String),
    #[error("the two passwords differ")]
    PasswordsDiffer,
    #[error(transparent)]
    Policy(#[from] PolicyError),
    #[error(transparent)]
    Account(#[from] AccountError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Control(#[from] ControlError),
    /// The running daemon refused the request (no such account, an owner exists, …).
    #[error("{0}")]
    DaemonBadRequest(String),
    /// The running daemon could not carry the request out.
    #[error("{0}")]
    DaemonFailed(String),
}

impl AccountsCliError {
    /// Exit code 2 versus 1, as for the other commands.
    pub fn is_bad_input(&self) -> bool {
        match self {
            AccountsCliError::PasswordFile { .. }
            | AccountsCliError::Prompt(_)
            | AccountsCliError::PasswordsDiffer
            | AccountsCliError::Policy(_)
            | AccountsCliError::DaemonBadRequest(_) => true,
            AccountsCliError::Account(error) => error.is_bad_input(),
            AccountsCliError::Store(error) => error.needs_operator(),
            AccountsCliError::Control(_) | AccountsCliError::DaemonFailed(_) => false,
        }
    }
}

/// A request of the account commands on the control socket: `{"account": …}`.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AccountControl {
    pub account: AccountRequest,
}

#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum AccountRequest {
    CreateOwner {
        email: String,
        name: String,
        password: String,
    },
    Token {
        email: String,
        name: String,
    },
}

impl std::fmt::Debug for AccountRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            AccountRequest::CreateOwner { email, name, .. } => f
                .debug_struct("CreateOwner")
                .field("email", email)
                .field("name", name)
                .field("password", &"…")
                .finish(),
            AccountRequest::Token { email, name } => f
                .debug_struct("Token")
                .field("email", email)
                .field("name", name)
                .finish(),
        }
    }
}

/// What `create-owner` reports.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct OwnerCreated {
    id: i64,
    email: String,
}

/// What `token` gets back.
#[derive(Clone, Serialize, Deserialize)]
struct TokenIssued {
    token: String,
}

/// Refuses a malformed e-mail address before the password is asked for.
pub fn check_email(email: &str) -> Result<(), AccountsCliError> {
    normalize_email(email)?;
    Ok(())
}

/// The password from `file` (without its trailing newline), or asked for twice at the
/// terminal without echo.
pub fn read_password(file: Option<&Path>) -> Result<String, AccountsCliError> {
    if let Some(path) = file {
        let text =
            std::fs::read_to_string(path).map_err(|error| AccountsCliError::PasswordFile {
                path: path.to_owned(),
                reason: error.to_string(),
            })?;
        return Ok(text.trim_end_matches(['\n', '\r']).to_owned());
    }
    let prompt = |text: &str| {
        rpassword::prompt_password(text)
            .map_err(|error| AccountsCliError::Prompt(error.to_string()))
    };
    let first = prompt("password for the owner account: ")?;
    check_password(&first)?;
    let again = prompt("the same password again: ")?;
    if first != again {
        return Err(AccountsCliError::PasswordsDiffer);
    }
    Ok(first)
}

/// Creates the owner account; answers the line to print.
pub async fn create_owner(
    config: &Config,
    email: &str,
    name: &str,
    password: String,
) -> Result<String, AccountsCliError> {
    // Refused here already, before anything is sent or opened.
    let email = normalize_email(email)?;
    check_password(&password)?;
    let request = AccountRequest::CreateOwner {
        email: email.clone(),
        name: name.to_owned(),
        password: password.clone(),
    };
    let created: OwnerCreated = match reach(config, &request).await? {
        Reached::Daemon(value) => serde_json::from_value(value)
            .map_err(|error| ControlError::BadAnswer(error.to_string()))?,
        Reached::Store(store) => {
            let view = AccountBook::new(&store, SystemClock.now_unix())
                .create_owner(&email, name, &password)?;
            OwnerCreated {
                id: view.id.0,
                email: view.email,
            }
        }
    };
    Ok(format!(
        "owner account {} ({}) created; log in at /api/v1/session",
        created.id, created.email
    ))
}

/// Issues an API token for the account `email`; answers the token.
pub async fn issue_token(
    config: &Config,
    email: &str,
    name: &str,
) -> Result<String, AccountsCliError> {
    let request = AccountRequest::Token {
        email: email.to_owned(),
        name: name.to_owned(),
    };
    let issued: TokenIssued = match reach(config, &request).await? {
        Reached::Daemon(value) => serde_json::from_value(value)
            .map_err(|error| ControlError::BadAnswer(error.to_string()))?,
        Reached::Store(store) => {
            let issued = AccountBook::new(&store, SystemClock.now_unix())
                .issue_api_token_for(email, name)?;
            TokenIssued {
                token: issued.token,
            }
        }
    };
    Ok(issued.token)
}

/// Who carried the request out.
enum Reached {
    /// The running daemon, with its answer.
    Daemon(serde_json::Value),
    /// Nobody: the daemon is stopped, and the store is ours.
    Store(Store),
}

/// The running daemon, or else the store. A daemon that is starting holds the store before
/// its control socket listens: then the socket is asked again for a while.
async fn reach(config: &Config, request: &AccountRequest) -> Result<Reached, AccountsCliError> {
    let mut attempts = 0;
    loop {
        if let Some(value) = ask_daemon(config, request).await? {
            return Ok(Reached::Daemon(value));
        }
        match Store::open(&config.store.path) {
            Ok(store) => return Ok(Reached::Store(store)),
            Err(StoreError::InUse { .. }) if attempts < DAEMON_STARTING_ATTEMPTS => {
                attempts += 1;
                tokio::time::sleep(DAEMON_STARTING_POLL).await;
            }
            Err(error) => return Err(error.into()),
        }
    }
}

/// The running daemon's answer; `None` when no daemon listens.
async fn ask_daemon(
    config: &Config,
    request: &AccountRequest,
) -> Result<Option<serde_json::Value>, AccountsCliError> {
    let request = AccountControl {
        account: request.clone(),
    };
    let path = control::socket_path(config);
    match control::request(&path, &request, ACCOUNT_ANSWER_WITHIN).await? {
        None => Ok(None),
        Some(ControlAnswer::Done(value)) => Ok(Some(value)),
        Some(ControlAnswer::BadRequest(message)) => {
            Err(AccountsCliError::DaemonBadRequest(message))
        }
        Some(ControlAnswer::Failed(message)) => Err(AccountsCliError::DaemonFailed(message)),
    }
}

/// Whether a control line is an account request (`{"account": …}`).
pub(super) fn is_account_request(line: &str) -> bool {
    serde_json::from_str::<serde_json::Value>(line.trim())
        .ok()
        .is_some_and(|value| value.get("account").is_some())
}

/// The daemon's side: carries out an account request as the local operator.
pub(super) async fn answer(gateway: &Gateway, line: &str) -> ControlAnswer {
    let request = match serde_json::from_str::<AccountControl>(line.trim()) {
        Ok(request) => request.account,
        Err(error) => {
            return ControlAnswer::BadRequest(format!("malformed account request: {error}"))
        }
    };
    let principal = Principal::Local;
    let result = match request {
        AccountRequest::CreateOwner {
            email,
            name,
            password,
        } => gateway
            .create_owner(&principal, email, name, password)
            .await
            .map(|view| {
                serde_json::to_value(OwnerCreated {
                    id: view.id.0,
                    email: view.email,
                })
            }),
        AccountRequest::Token { email, name } => gateway
            .issue_api_token_for(&principal, &email, &name)
            .map(|issued| {
                serde_json::to_value(TokenIssued {
                    token: issued.token,
                })
            }),
    };
    let result = match result {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(_)) => return ControlAnswer::Failed("the answer could not be rendered".into()),
        Err(error) => Err(error),
    };
    match result {
        Ok(value) => ControlAnswer::Done(value),
        Err(error) if error.is_bad_input() => ControlAnswer::BadRequest(error.to_string()),
        Err(error) => ControlAnswer::Failed(error.to_string()),
    }
}
