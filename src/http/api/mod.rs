//! The management API under `/api/v1`: JSON in and out, on the same listener as the Bridge
//! API. Every route is declared with its OpenAPI description (utoipa), and the document at
//! `/api/v1/openapi.json` is generated from the same declarations the router is built from,
//! so the two cannot drift apart.
//!
//! Handlers authenticate the caller ([`Caller`]) and go through the gateway with the
//! principal; they never touch devices or the store themselves.

mod accounts;
mod auth;
use auth::SecuritySchemes;
mod body;
mod error;
mod paging;
mod session;
mod status;

use std::sync::Arc;

use axum::routing::{any, get};
use axum::{Json, Router};
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::gateway::Gateway;

pub use auth::{Caller, SESSION_COOKIE};
pub use body::ApiJson;
pub use error::{ApiError, ErrorBody, ErrorDetail};
pub use paging::{Page, PageQuery, DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE};

/// Where the OpenAPI document is served.
pub const OPENAPI_PATH: &str = "/api/v1/openapi.json";

/// What every handler of the management API shares.
pub struct ApiState {
    pub gateway: Arc<Gateway>,
}

pub type SharedState = Arc<ApiState>;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "nuki-edge management API",
        description = "Addresses, residential units, people, permissions, accounts and devices \
                       of a building's Nuki gateway. Errors are `{\"error\":{\"code\",\"message\"}}`."
    ),
    components(schemas(ErrorBody, ErrorDetail)),
    modifiers(&SecuritySchemes)
)]
struct ApiDoc;

/// The routes and their OpenAPI document, before state is attached.
pub fn routes() -> OpenApiRouter<SharedState> {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(status::status))
        .merge(accounts::routes())
        .merge(session::routes())
}

/// The generated OpenAPI document.
pub fn openapi() -> utoipa::openapi::OpenApi {
    routes().split_for_parts().1
}

/// The management API as one part of the composed router.
pub fn router(gateway: Arc<Gateway>) -> Router {
    let (router, document) = routes().split_for_parts();
    let document = Arc::new(document);
    router
        .route(
            OPENAPI_PATH,
            get(move || {
                let document = document.clone();
                async move { Json(document.as_ref().clone()) }
            }),
        )
        .route("/api/v1/{*rest}", any(error::unknown_route))
        .with_state(Arc::new(ApiState { gateway }))
}
