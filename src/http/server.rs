//! The Nuki-Bridge-compatible HTTP API (v1.13) on top of the gateway core.
//!
//! Unlike the official Bridge, requests are served concurrently: `/list` comes from the state
//! cache, and a slow device only delays requests for that device.

// Handlers return early with a ready response; boxing it would only add an allocation.
#![allow(clippy::result_large_err)]

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{json, Value};
use tokio::sync::broadcast;

use crate::ble::DeviceAddress;
use crate::clock::unix_now;
use crate::devices::fleet::DeviceInfo;
use crate::devices::outcome::{Failure, Outcome};
use crate::gateway::{Gateway, GatewayEvent, Principal};
use crate::nuki::enums::DeviceAction;
use crate::nuki::messages::KeyturnerStates;

use super::activity_log::{ActivityLog, LogLine};
use super::bridge_json::{
    self, bridge_time, resolve_device, ActionBody, BridgeDeviceType, BridgeIdentity, CallbackBody,
    DeviceSnapshot, InfoBody, ListItem, LockStateBody, SimpleAction,
};
use super::callbacks::Callbacks;
use super::query::{error_body, QueryError, QueryParams};
use super::token::{BridgeToken, TokenVerifier};

/// How long `/auth` waits for an installer to open the window, like the Bridge's 30 s LED.
pub const AUTH_WAIT: Duration = Duration::from_secs(30);
/// How often `/auth` looks at the window while it waits.
const AUTH_POLL: Duration = Duration::from_millis(250);

/// Everything the API needs; built by the app.
pub struct BridgeApi {
    gateway: Arc<Gateway>,
    verifier: Mutex<TokenVerifier>,
    identity: BridgeIdentity,
    started: tokio::time::Instant,
    callbacks: Arc<Callbacks>,
    log: Arc<ActivityLog>,
    auth_window: AuthWindow,
    auth_enabled: AtomicBool,
    list_cache: Mutex<Option<RenderedList>>,
    /// Bumped on every state change or new device; a rendered `/list` of an older generation
    /// is stale.
    generation: std::sync::atomic::AtomicU64,
}

/// `/list` rendered once and served to every client until something changes: the answer is
/// the same for all of them, and rendering 100 devices costs far more than the request.
struct RenderedList {
    generation: u64,
    rendered_at: tokio::time::Instant,
    body: axum::body::Bytes,
}

/// A rendered `/list` is re-rendered at least this often, for its time-dependent keys (an
/// Opener's `ringactionState` is true only for 30 s after a ring).
const LIST_MAX_AGE: Duration = Duration::from_secs(1);

/// The installer's permission for `/auth` to hand out the token: a file holding the Unix
/// time until which it is open, written by `nuki-edge bridge-auth --open`.
#[derive(Debug, Clone)]
pub struct AuthWindow {
    pub path: PathBuf,
}

impl AuthWindow {
    pub fn is_open(&self, now_unix: i64) -> bool {
        std::fs::read_to_string(&self.path)
            .ok()
            .and_then(|text| text.trim().parse::<i64>().ok())
            .is_some_and(|until| now_unix < until)
    }
}

impl BridgeApi {
    pub fn new(
        gateway: Arc<Gateway>,
        token: BridgeToken,
        identity: BridgeIdentity,
        callbacks: Arc<Callbacks>,
        auth_window: AuthWindow,
    ) -> Arc<Self> {
        let api = Arc::new(Self {
            verifier: Mutex::new(TokenVerifier::new(token)),
            identity,
            started: tokio::time::Instant::now(),
            callbacks,
            log: Arc::new(ActivityLog::default()),
            auth_window,
            auth_enabled: AtomicBool::new(true),
            list_cache: Mutex::new(None),
            generation: std::sync::atomic::AtomicU64::new(0),
            gateway,
        });
        tokio::spawn(follow_events(api.clone(), api.gateway.subscribe()));
        api
    }

    pub fn router(self: &Arc<Self>) -> Router {
        Router::new()
            .route("/info", get(info))
            .route("/list", get(list))
            .route("/lockState", get(lock_state))
            .route("/lockAction", get(lock_action))
            .route("/lock", get(simple_lock))
            .route("/unlock", get(simple_unlock))
            .route("/callback/add", get(callback_add))
            .route("/callback/list", get(callback_list))
            .route("/callback/remove", get(callback_remove))
            .route("/auth", get(auth))
            .route("/configAuth", get(config_auth))
            .route("/log", get(log))
            .route("/clearlog", get(clear_log))
            .route("/unpair", get(not_supported))
            .route("/fwupdate", get(not_supported))
            .route("/reboot", get(not_supported))
            .route("/factoryReset", get(not_supported))
            .fallback(not_found)
            .with_state(self.clone())
    }

    fn authorize(&self, params: &QueryParams) -> Result<(), Response> {
        let now = unix_now();
        let mut verifier = self.verifier.lock().unwrap_or_else(|p| p.into_inner());
        verifier.verify(params, now).map(drop).map_err(|error| {
            tracing::info!(%error, "Bridge API request refused");
            let status =
                StatusCode::from_u16(error.http_status()).unwrap_or(StatusCode::UNAUTHORIZED);
            (status, Json(error_body(&error.to_string()))).into_response()
        })
    }

    fn render_list(&self) -> Vec<ListItem> {
        self.gateway
            .devices()
            .iter()
            .map(|device| {
                let states = self.gateway.cached_state(&device.address);
                self.snapshot_json(device, states.as_ref(), ListItem::new)
            })
            .collect()
    }

    fn device_key(device: &DeviceInfo) -> (u32, BridgeDeviceType) {
        (device.nuki_id, device.product.bridge_device_type())
    }

    fn find_device(&self, params: &QueryParams) -> Result<DeviceInfo, Response> {
        let nuki_id = params.nuki_id().map_err(bad_request)?;
        let device_type = params.device_type().map_err(bad_request)?;
        let devices = self.gateway.devices();
        resolve_device(&devices, Self::device_key, nuki_id, device_type)
            .cloned()
            .ok_or_else(|| {
                (StatusCode::NOT_FOUND, Json(error_body("unknown device"))).into_response()
            })
    }

    fn snapshot_json<T>(
        &self,
        device: &DeviceInfo,
        states: Option<&KeyturnerStates>,
        build: impl Fn(&DeviceSnapshot<'_>, i64) -> T,
    ) -> T {
        let snapshot = DeviceSnapshot {
            nuki_id: device.nuki_id,
            device_type: Self::device_key(device).1,
            name: &device.name,
            firmware_version: None,
            states,
            states_received_unix: states
                .and_then(|s| s.current_time.to_offset())
                .map(|t| t.unix_timestamp()),
            last_ring_unix: None,
        };
        build(&snapshot, unix_now())
    }
}

type Api = State<Arc<BridgeApi>>;

/// A handler's answer; the error side is an early answer (400, 404, …), so handlers use `?`.
type Answer = Result<Response, Response>;

/// The request's query, after its token passed; every endpoint but `/auth` takes this.
struct Authorized(QueryParams);

impl axum::extract::FromRequestParts<Arc<BridgeApi>> for Authorized {
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        api: &Arc<BridgeApi>,
    ) -> Result<Self, Self::Rejection> {
        let params = QueryParams::parse(parts.uri.query().unwrap_or(""));
        api.authorize(&params)?;
        Ok(Self(params))
    }
}

fn bad_request(error: QueryError) -> Response {
    (StatusCode::BAD_REQUEST, Json(error.body())).into_response()
}

fn ok(value: impl serde::Serialize) -> Response {
    Json(value).into_response()
}

async fn info(State(api): Api, _: Authorized) -> Response {
    let uptime = api.started.elapsed().as_secs();
    ok(InfoBody::new(api.identity, uptime, unix_now(), Vec::new()))
}

async fn list(State(api): Api, _: Authorized) -> Response {
    let generation = api.generation.load(Ordering::SeqCst);
    let mut cache = api.list_cache.lock().unwrap_or_else(|p| p.into_inner());
    let fresh = cache.as_ref().filter(|cached| {
        cached.generation == generation && cached.rendered_at.elapsed() < LIST_MAX_AGE
    });
    let body = match fresh {
        Some(cached) => cached.body.clone(),
        None => {
            let body =
                axum::body::Bytes::from(serde_json::to_vec(&api.render_list()).unwrap_or_default());
            *cache = Some(RenderedList {
                generation,
                rendered_at: tokio::time::Instant::now(),
                body: body.clone(),
            });
            body
        }
    };
    drop(cache);
    (
        [(axum::http::header::CONTENT_TYPE, "application/json")],
        body,
    )
        .into_response()
}

async fn lock_state(State(api): Api, Authorized(params): Authorized) -> Answer {
    let device = api.find_device(&params)?;
    Ok(
        match api
            .gateway
            .read_state(&Principal::Owner, &device.address)
            .await
        {
            Ok(completed) => {
                let states = completed
                    .state
                    .or_else(|| api.gateway.cached_state(&device.address));
                ok(api.snapshot_json(&device, states.as_ref(), LockStateBody::new))
            }
            Err(failure) => failure_response(&failure),
        },
    )
}

async fn lock_action(State(api): Api, Authorized(params): Authorized) -> Answer {
    let device = api.find_device(&params)?;
    let code = params.action().map_err(bad_request)?;
    let action =
        bridge_json::lock_action(device.product.service_family(), code).map_err(|error| {
            (
                StatusCode::BAD_REQUEST,
                Json(error_body(&error.to_string())),
            )
                .into_response()
        })?;
    let no_wait = params.no_wait().map_err(bad_request)?;
    Ok(run_actions(&api, device.address, vec![action], no_wait).await)
}

async fn simple_lock(State(api): Api, Authorized(params): Authorized) -> Answer {
    simple(api, params, SimpleAction::Lock).await
}

async fn simple_unlock(State(api): Api, Authorized(params): Authorized) -> Answer {
    simple(api, params, SimpleAction::Unlock).await
}

async fn simple(api: Arc<BridgeApi>, params: QueryParams, simple: SimpleAction) -> Answer {
    let device = api.find_device(&params)?;
    let actions = simple.actions(device.product.service_family()).to_vec();
    Ok(run_actions(&api, device.address, actions, false).await)
}

/// Runs the actions in order; with `no_wait` answers at once and lets them run.
async fn run_actions(
    api: &Arc<BridgeApi>,
    device: DeviceAddress,
    actions: Vec<DeviceAction>,
    no_wait: bool,
) -> Response {
    let work = {
        let api = api.clone();
        let device = device.clone();
        async move {
            let mut last: Outcome = Err(Failure::UnknownDevice);
            for action in actions {
                last = api.gateway.act(&Principal::Owner, &device, action).await;
                if last.is_err() {
                    break;
                }
            }
            last
        }
    };
    if no_wait {
        tokio::spawn(work);
        let critical = api
            .gateway
            .cached_state(&device)
            .is_some_and(|s| s.battery_critical());
        return ok(ActionBody {
            success: true,
            battery_critical: critical,
        });
    }
    match work.await {
        Ok(completed) => ok(ActionBody {
            success: true,
            battery_critical: completed.state.is_some_and(|s| s.battery_critical()),
        }),
        Err(failure) => failure_response(&failure),
    }
}

/// The Bridge's conventions: busy → 503 (clients retry); unknown → 404; a device that could
/// not do it → 200 with success false (plus our reason, which clients ignore).
fn failure_response(failure: &Failure) -> Response {
    let status = match failure {
        Failure::Busy => StatusCode::SERVICE_UNAVAILABLE,
        Failure::UnknownDevice => StatusCode::NOT_FOUND,
        Failure::ShuttingDown => StatusCode::SERVICE_UNAVAILABLE,
        _ => StatusCode::OK,
    };
    (
        status,
        Json(json!({ "success": false, "error": failure.to_string() })),
    )
        .into_response()
}

async fn callback_add(State(api): Api, Authorized(params): Authorized) -> Answer {
    let url = params.callback_url().map_err(bad_request)?;
    Ok(match api.callbacks.add(url) {
        Ok(_) => ok(json!({ "success": true })),
        Err(error) => ok(bridge_json::callback_failure_body(&error.to_string())),
    })
}

async fn callback_list(State(api): Api, _: Authorized) -> Response {
    let callbacks: Vec<Value> = api
        .callbacks
        .list()
        .into_iter()
        .map(|(id, url)| json!({ "id": id, "url": url }))
        .collect();
    ok(json!({ "callbacks": callbacks }))
}

async fn callback_remove(State(api): Api, Authorized(params): Authorized) -> Answer {
    let id = params.callback_id().map_err(bad_request)?;
    Ok(match api.callbacks.remove(id) {
        Ok(()) => ok(json!({ "success": true })),
        Err(error) => ok(bridge_json::callback_failure_body(&error.to_string())),
    })
}

/// Hands out the token while an installer has opened the window (`nuki-edge bridge-auth
/// --open`), waiting up to 30 s for it like the Bridge waits for its button.
async fn auth(State(api): Api) -> Response {
    if !api.auth_enabled.load(Ordering::SeqCst) {
        return (
            StatusCode::FORBIDDEN,
            Json(error_body("authentication is disabled")),
        )
            .into_response();
    }
    let deadline = tokio::time::Instant::now() + AUTH_WAIT;
    loop {
        if api.auth_window.is_open(unix_now()) {
            let token = api
                .verifier
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .token()
                .reveal()
                .to_owned();
            tracing::info!("Bridge API token handed out through /auth");
            return ok(json!({ "token": token, "success": true }));
        }
        if tokio::time::Instant::now() >= deadline {
            return ok(json!({ "success": false }));
        }
        tokio::time::sleep(AUTH_POLL).await;
    }
}

async fn config_auth(State(api): Api, Authorized(params): Authorized) -> Answer {
    let enable = params.enable().map_err(bad_request)?;
    api.auth_enabled.store(enable, Ordering::SeqCst);
    Ok(ok(json!({ "success": true })))
}

async fn log(State(api): Api, Authorized(params): Authorized) -> Answer {
    let offset = params.u32_or("offset", 0).map_err(bad_request)?;
    let count = params.u32_or("count", 100).map_err(bad_request)?;
    Ok(ok(api.log.page(offset as usize, count as usize)))
}

async fn clear_log(State(api): Api, _: Authorized) -> Response {
    api.log.clear();
    ok(json!({ "success": true }))
}

/// Maintenance of the hardware Bridge (firmware, reboot, reset, unpair) is done with the
/// nuki-edge CLI and the system's package manager, not over this API.
async fn not_supported(_: Authorized) -> Response {
    ok(
        json!({ "success": false, "error": "not supported by nuki-edge; use the nuki-edge command line" }),
    )
}

async fn not_found() -> Response {
    (StatusCode::NOT_FOUND, Json(error_body("no such endpoint"))).into_response()
}

/// Sends callbacks on state changes and keeps the `/log` lines.
async fn follow_events(api: Arc<BridgeApi>, mut events: broadcast::Receiver<GatewayEvent>) {
    loop {
        let event = match events.recv().await {
            Ok(event) => event,
            Err(broadcast::error::RecvError::Lagged(missed)) => {
                tracing::warn!(missed, "Bridge API fell behind the event bus");
                continue;
            }
            Err(broadcast::error::RecvError::Closed) => break,
        };
        if matches!(event, GatewayEvent::StateChanged { .. }) {
            api.generation.fetch_add(1, Ordering::SeqCst);
        }
        let devices = api.gateway.devices();
        let hex_id = |address: &DeviceAddress| {
            devices
                .iter()
                .find(|d| &d.address == address)
                .map(|d| format!("{:X}", d.nuki_id))
        };
        match &event {
            GatewayEvent::StateChanged { device, state } => {
                if let Some(info) = devices.iter().find(|d| &d.address == device) {
                    let body = api.snapshot_json(info, Some(state), CallbackBody::new);
                    if let Ok(body) = serde_json::to_value(body) {
                        api.callbacks.publish(&body);
                    }
                }
            }
            GatewayEvent::ActionFinished {
                device,
                action,
                outcome,
                ..
            } => api.log.record(LogLine {
                timestamp: bridge_time(unix_now()),
                kind: "lock-action",
                nuki_id: hex_id(device),
                action: Some(action.name().to_owned()),
                result: Some(match outcome {
                    Ok(_) => "success".to_owned(),
                    Err(failure) => failure.to_string(),
                }),
            }),
            GatewayEvent::DeviceConnected { device } => api.log.record(LogLine {
                timestamp: bridge_time(unix_now()),
                kind: "ble-connect",
                nuki_id: hex_id(device),
                action: None,
                result: None,
            }),
            _ => {}
        }
    }
}
