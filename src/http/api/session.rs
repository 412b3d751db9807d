//! `/api/v1/session`: logging in (a session cookie) and out.

use axum::extract::State;
use axum::http::header::{CACHE_CONTROL, SET_COOKIE};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::gateway::LoginAttempt;

use super::accounts::{presented_session, Account, ClientAddress, Refused};
use super::auth::SESSION_COOKIE;
use super::error::{ApiError, ErrorBody};
use super::{ApiJson, SharedState};

pub(super) fn routes() -> OpenApiRouter<SharedState> {
    OpenApiRouter::new().routes(routes!(login, logout))
}

/// A login.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Login {
    pub email: String,
    #[schema(format = Password)]
    pub password: String,
    /// The current code of the authenticator app, for accounts with two-factor login.
    pub totp: Option<String>,
}

/// A started session; its token is in the `nuki_edge_session` cookie only.
#[derive(Serialize, ToSchema)]
pub struct SessionStarted {
    pub account: Account,
}

fn cookie(value: &str, max_age_s: u64) -> Result<HeaderValue, ApiError> {
    // No `Secure`: the gateway serves plain HTTP on the local network, where browsers would
    // drop a secure cookie. HttpOnly keeps it from scripts, SameSite=Strict from other sites.
    HeaderValue::from_str(&format!(
        "{SESSION_COOKIE}={value}; HttpOnly; SameSite=Strict; Path=/; Max-Age={max_age_s}"
    ))
    .map_err(|_| ApiError::internal("the session cookie could not be written"))
}

/// Logs in with e-mail address and password (and the two-factor code, where on).
#[utoipa::path(
    post,
    path = "/api/v1/session",
    tag = "session",
    request_body = Login,
    responses(
        (status = 200, description = "Logged in", body = SessionStarted,
            headers(("Set-Cookie" = String, description = "`nuki_edge_session=nes_…; HttpOnly; SameSite=Strict; Path=/; Max-Age=604800`"))),
        (status = 400, description = "Malformed JSON", body = ErrorBody),
        (status = 401, description = "E-mail address, password or code not correct (`login_failed`), or the account needs its two-factor code (`totp_required`)", body = ErrorBody),
        (status = 413, description = "The body is larger than the gateway accepts", body = ErrorBody),
        (status = 415, description = "The body is not JSON", body = ErrorBody),
        (status = 422, description = "A field is missing, unknown or of the wrong type", body = ErrorBody),
        (status = 429, description = "The account or the client is locked after repeated failures", body = ErrorBody,
            headers(("Retry-After" = u64, description = "Seconds until the next attempt"))),
    )
)]
pub(super) async fn login(
    State(state): State<SharedState>,
    ClientAddress(client): ClientAddress,
    ApiJson(body): ApiJson<Login>,
) -> Result<
    (
        StatusCode,
        [(HeaderName, HeaderValue); 2],
        Json<SessionStarted>,
    ),
    Refused,
> {
    let logged_in = state
        .gateway
        .login(LoginAttempt {
            email: body.email,
            password: body.password,
            totp: body.totp,
            client,
        })
        .await?;
    let cookie = cookie(&logged_in.session.token, logged_in.session.max_age_s)?;
    Ok((
        StatusCode::OK,
        [
            (SET_COOKIE, cookie),
            (CACHE_CONTROL, HeaderValue::from_static("no-store")),
        ],
        Json(SessionStarted {
            account: logged_in.account.into(),
        }),
    ))
}

/// Logs out: ends the session of the cookie, and clears the cookie.
#[utoipa::path(
    delete,
    path = "/api/v1/session",
    tag = "session",
    security(("session" = [])),
    responses(
        (status = 204, description = "The session has ended (or had already)",
            headers(("Set-Cookie" = String, description = "Clears the session cookie"))),
        (status = 401, description = "No session cookie", body = ErrorBody),
    )
)]
pub(super) async fn logout(
    State(state): State<SharedState>,
    headers: HeaderMap,
) -> Result<(StatusCode, [(HeaderName, HeaderValue); 1]), Refused> {
    let token = presented_session(&headers)
        .ok_or_else(|| ApiError::unauthorized("no session cookie to end"))?;
    state.gateway.end_session(&token).map_err(|error| {
        tracing::error!(%error, "cannot end a session");
        ApiError::internal("the store failed; see the gateway's log")
    })?;
    Ok((StatusCode::NO_CONTENT, [(SET_COOKIE, cookie("", 0)?)]))
}
