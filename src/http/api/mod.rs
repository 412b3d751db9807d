//! The management API under `/api/v1`: JSON in and out, on the same listener as the Bridge
//! API. Every route is declared with its OpenAPI description (utoipa), and the document at
//! `/api/v1/openapi.json` is generated from the same declarations the router is built from,
//! so the two cannot drift apart.
//!
//! Handlers authenticate the caller ([`Caller`]) and go through the gateway with the
//! principal; they never touch devices or the store themselves.

mod accounts;
mod addresses;
mod auth;
use auth::SecuritySchemes;
mod body;
mod calls;
mod devices;
mod error;
mod events;
mod paging;
mod people;
mod permissions;
mod session;
mod setup;
mod status;
mod units;

use std::sync::{Arc, OnceLock};

use axum::routing::any;
use axum::{Json, Router};
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::events::EventLog;
use crate::gateway::Gateway;

pub use auth::{Caller, SESSION_COOKIE};
pub use body::ApiJson;
pub use calls::ApiQuery;
pub use error::{ApiError, ErrorBody, ErrorDetail, NO_ROUTE};
pub use paging::{Page, PageQuery, DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE};

/// Where the OpenAPI document is served.
pub const OPENAPI_PATH: &str = "/api/v1/openapi.json";

/// What every handler of the management API shares.
pub struct ApiState {
    pub gateway: Arc<Gateway>,
    /// The activity log; `None` answers `/api/v1/events` with 503.
    pub events: Option<Arc<EventLog>>,
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

/// The routes and their OpenAPI document, before state is attached. Every route is added
/// through `routes!` (here or in a part's own `routes()`), which registers it in the router and
/// the document at once.
pub fn routes() -> OpenApiRouter<SharedState> {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(openapi_document))
        .routes(routes!(status::status))
        .routes(routes!(devices::list_devices))
        .routes(routes!(devices::get_device, devices::patch_device))
        .routes(routes!(devices::device_settings))
        .routes(routes!(devices::device_action))
        .routes(routes!(
            addresses::list_addresses,
            addresses::create_address
        ))
        .routes(routes!(
            addresses::get_address,
            addresses::patch_address,
            addresses::delete_address
        ))
        .routes(routes!(units::list_units, units::create_unit))
        .routes(routes!(
            units::get_unit,
            units::patch_unit,
            units::delete_unit
        ))
        .routes(routes!(people::list_people, people::create_person))
        .routes(routes!(
            people::get_person,
            people::patch_person,
            people::delete_person
        ))
        .routes(routes!(
            permissions::list_permissions,
            permissions::create_permission
        ))
        .routes(routes!(
            permissions::get_permission,
            permissions::patch_permission,
            permissions::delete_permission
        ))
        .routes(routes!(setup::start_setup))
        .routes(routes!(setup::get_setup))
        .routes(routes!(events::list_events))
        .merge(accounts::routes())
        .merge(session::routes())
}

/// This document (OpenAPI 3.1), generated from the routes.
#[utoipa::path(
    get,
    path = "/api/v1/openapi.json",
    tag = "status",
    responses((status = 200, description = "The OpenAPI document of this API", body = Object))
)]
async fn openapi_document() -> Json<utoipa::openapi::OpenApi> {
    static DOCUMENT: OnceLock<utoipa::openapi::OpenApi> = OnceLock::new();
    Json(DOCUMENT.get_or_init(openapi).clone())
}

/// The generated OpenAPI document.
pub fn openapi() -> utoipa::openapi::OpenApi {
    routes().split_for_parts().1
}

/// The management API as one part of the composed router, without the activity log.
pub fn router(gateway: Arc<Gateway>) -> Router {
    build(ApiState {
        gateway,
        events: None,
    })
}

/// The management API with the activity log at `/api/v1/events` (what the daemon serves).
pub fn router_with_events(gateway: Arc<Gateway>, events: Arc<EventLog>) -> Router {
    build(ApiState {
        gateway,
        events: Some(events),
    })
}

fn build(state: ApiState) -> Router {
    let (router, _) = routes().split_for_parts();
    router
        .route("/api/v1/{*rest}", any(error::unknown_route))
        .with_state(Arc::new(state))
}
