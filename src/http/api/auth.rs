//! The caller of a management API request: a bearer token (an account's API token, or the
//! secret of a gateway-mediated permission) or the session cookie of a logged-in account.

use axum::extract::FromRequestParts;
use axum::http::header::{AUTHORIZATION, COOKIE};
use axum::http::request::Parts;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::Modify;

use crate::access::Principal;
use crate::gateway::Credential;

use super::error::ApiError;
use super::SharedState;

/// Name of the session cookie (HttpOnly, SameSite=Strict).
pub const SESSION_COOKIE: &str = "nuki_edge_session";

/// The principal behind a request.
#[derive(Debug, Clone)]
pub struct Caller(pub Principal);

impl FromRequestParts<SharedState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &SharedState,
    ) -> Result<Self, Self::Rejection> {
        let credential = credential_of(parts).ok_or_else(|| {
            ApiError::unauthorized(
                "send `Authorization: Bearer <token>` or log in for a session cookie",
            )
        })?;
        state
            .gateway
            .authenticate(&credential)
            .map(Caller)
            .map_err(ApiError::from)
    }
}

fn credential_of(parts: &Parts) -> Option<Credential> {
    if let Some(value) = parts.headers.get(AUTHORIZATION) {
        let token = value.to_str().ok()?.strip_prefix("Bearer ")?.trim();
        return (!token.is_empty()).then(|| Credential::Bearer(token.to_owned()));
    }
    parts
        .headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|cookies| cookies.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == SESSION_COOKIE)
        .map(|(_, value)| Credential::Session(value.to_owned()))
}

/// The two ways to authenticate, for the OpenAPI document.
pub(super) struct SecuritySchemes;

impl Modify for SecuritySchemes {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
        components.add_security_scheme(
            "session",
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::new(SESSION_COOKIE))),
        );
    }
}
