//! Accounts under `/api/v1`: managing accounts (`/accounts`, needs `manage_accounts`), the
//! caller's own account (`/account`: e-mail address, password, two-factor login, API tokens).
//! Login and logout are in `session.rs`.

mod manage;
mod me;
mod refusal;
mod schemas;
mod tokens;
mod totp;

use std::net::{IpAddr, SocketAddr};

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::header::{AUTHORIZATION, COOKIE};
use axum::http::request::Parts;
use axum::http::HeaderMap;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::auth::SESSION_COOKIE;
use super::SharedState;

pub(super) use refusal::Refused;
pub(super) use schemas::Account;

/// Every route of this module.
pub(super) fn routes() -> OpenApiRouter<SharedState> {
    OpenApiRouter::new()
        .routes(routes!(manage::list_accounts, manage::create_account))
        .routes(routes!(
            manage::get_account,
            manage::update_account,
            manage::delete_account
        ))
        .routes(routes!(me::own_account))
        .routes(routes!(me::change_email))
        .routes(routes!(me::change_password))
        .routes(routes!(totp::enroll, totp::disable))
        .routes(routes!(totp::confirm))
        .routes(routes!(tokens::list_tokens, tokens::create_token))
        .routes(routes!(tokens::revoke_token))
}

/// The session token the request authenticated with, if it was a session cookie: the
/// caller's own session survives the change of its password or e-mail address. (A request
/// with an `Authorization` header authenticated with that, as [`super::Caller`] does.)
pub(super) fn presented_session(headers: &HeaderMap) -> Option<String> {
    if headers.contains_key(AUTHORIZATION) {
        return None;
    }
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|cookies| cookies.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == SESSION_COOKIE)
        .map(|(_, value)| value.to_owned())
}

/// The client's address as the listener saw it (no forwarding header is trusted).
#[derive(Debug, Clone, Copy)]
pub(super) struct ClientAddress(pub Option<IpAddr>);

impl<S: Send + Sync> FromRequestParts<S> for ClientAddress {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        Ok(ClientAddress(
            parts
                .extensions
                .get::<ConnectInfo<SocketAddr>>()
                .map(|ConnectInfo(address)| address.ip()),
        ))
    }
}

/// An id from the path: a positive integer, or 400.
pub(super) fn parse_id(text: &str, what: &str) -> Result<u64, super::ApiError> {
    text.parse::<u64>()
        .ok()
        .filter(|id| *id > 0 && i64::try_from(*id).is_ok())
        .ok_or_else(|| super::ApiError::bad_request(format!("{what} ids are positive integers")))
}
