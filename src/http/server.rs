//! The Nuki-Bridge-compatible HTTP API (v1.13) on top of the gateway core.
//!
//! Unlike the official Bridge, requests are served concurrently: `/list` comes from the state
//! cache, and a slow device only delays requests for that device.

// Handlers return early with a ready response; boxing it would only add an allocation.
#![allow(clippy::result_large_err)]

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::{ConnectInfo, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{json, Value};
use tokio::sync::broadcast;

use crate::ble::DeviceAddress;
use crate::gateway::{DeviceView, Gateway, GatewayEvent, GatewayResult, Principal, Refusal};
use crate::nuki::enums::DeviceAction;
use crate::nuki::messages::KeyturnerStates;

use super::activity_log;
use super::bridge_json::{
    self, resolve_device, ActionBody, BridgeDeviceType, BridgeIdentity, CallbackBody,
    DeviceSnapshot, InfoBody, ListItem, LockStateBody, SimpleAction,
};
use super::callback_feed;
use super::callbacks::Callbacks;
use super::guard::{Admission, AuthGuard, AuthGuardPolicy};
use super::query::{error_body, QueryError, QueryParams};
use super::token::{BridgeToken, TokenVerifier};
use crate::events::{CursorWriter, EventLog, StoredEvent};

/// How long `/auth` waits for an installer to open the window, like the Bridge's 30 s LED.
pub const AUTH_WAIT: Duration = Duration::from_secs(30);
/// How often `/auth` looks at the window while it waits.
const AUTH_POLL: Duration = Duration::from_millis(250);

/// Everything the API needs; built by the app.
pub struct BridgeApi {
    gateway: Arc<Gateway>,
    verifier: Mutex<TokenVerifier>,
    auth_guard: Mutex<AuthGuard>,
    identity: BridgeIdentity,
    started: tokio::time::Instant,
    callbacks: Arc<Callbacks>,
    log: Arc<EventLog>,
    auth_window: AuthWindow,
    auth_enabled: AtomicBool,
    save_auth_enabled: std::sync::OnceLock<SaveAuthEnabled>,
    list_cache: Mutex<Option<RenderedList>>,
    /// Bumped on every state change or new device; a rendered `/list` of an older generation
    /// is stale.
    generation: std::sync::atomic::AtomicU64,
    /// Who a valid Bridge token stands for: an integration with `bridge.rights`.
    principal: std::sync::RwLock<Principal>,
}

/// Keeps `/configAuth`'s choice across restarts, as the official Bridge does.
pub type SaveAuthEnabled = Box<dyn Fn(bool) + Send + Sync>;

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
        log: Arc<EventLog>,
    ) -> Arc<Self> {
        let api = Arc::new(Self {
            verifier: Mutex::new(TokenVerifier::new(token)),
            auth_guard: Mutex::new(AuthGuard::default()),
            identity,
            started: tokio::time::Instant::now(),
            callbacks,
            log,
            auth_window,
            auth_enabled: AtomicBool::new(true),
            save_auth_enabled: std::sync::OnceLock::new(),
            list_cache: Mutex::new(None),
            generation: std::sync::atomic::AtomicU64::new(0),
            principal: std::sync::RwLock::new(Principal::bridge_api()),
            gateway,
        });
        tokio::spawn(follow_events(api.clone(), api.gateway.subscribe()));
        tokio::spawn(follow_log(api.clone()));
        api
    }

    /// Starts `/auth` enabled or disabled as last saved, and saves every later `/configAuth`.
    pub fn keep_auth_enabled(&self, enabled: bool, save: SaveAuthEnabled) {
        self.auth_enabled.store(enabled, Ordering::SeqCst);
        // Only the app calls this, once, before serving; a second hook would be ignored.
        let _ = self.save_auth_enabled.set(save);
    }

    pub fn router(self: &Arc<Self>) -> Router {
        Router::new()
            .route("/info", get(info))
            .route("/list", get(list))
            .route("/lockState", get(lock_state))
            .route("/lockAction", get(lock_action).head(head_refused))
            .route("/lock", get(simple_lock).head(head_refused))
            .route("/unlock", get(simple_unlock).head(head_refused))
            .route("/callback/add", get(callback_add).head(head_refused))
            .route("/callback/list", get(callback_list))
            .route("/callback/remove", get(callback_remove).head(head_refused))
            .route("/auth", get(auth).head(head_refused))
            .route("/configAuth", get(config_auth).head(head_refused))
            .route("/log", get(log))
            .route("/clearlog", get(clear_log).head(head_refused))
            .route("/unpair", get(not_supported))
            .route("/fwupdate", get(not_supported))
            .route("/reboot", get(not_supported))
            .route("/factoryReset", get(not_supported))
            .fallback(not_found)
            .with_state(self.clone())
    }

    /// What the Bridge API's clients may do (`bridge.rights`; operating doors by default).
    pub fn set_rights(&self, rights: crate::access::Rights) {
        *self.principal.write().unwrap_or_else(|p| p.into_inner()) = Principal::Integration {
            name: Principal::BRIDGE_API.to_owned(),
            rights,
        };
    }

    fn principal(&self) -> Principal {
        self.principal
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Replaces the limits on failed authentications (tests use a short window).
    pub fn set_auth_guard_policy(&self, policy: AuthGuardPolicy) {
        self.auth_guard
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .set_policy(policy);
    }

    /// Checks the token and answers with the principal it stands for; `client` is known when
    /// the server runs with connect info, and then a client that keeps failing is locked out
    /// for a while (see [`super::guard`]).
    fn authorize(
        &self,
        params: &QueryParams,
        client: Option<IpAddr>,
    ) -> Result<Principal, Response> {
        let now = std::time::Instant::now();
        if let Some(client) = client {
            let admission = self.lock_guard().admit(client, now);
            if let Admission::LockedOut { retry_after } = admission {
                return Err(too_many_failures(retry_after));
            }
        }
        let mut verifier = self.verifier.lock().unwrap_or_else(|p| p.into_inner());
        let error = match verifier.verify(params, self.gateway.now_unix()) {
            Ok(_) => return Ok(self.principal()),
            Err(error) => error,
        };
        drop(verifier);
        let status = StatusCode::from_u16(error.http_status()).unwrap_or(StatusCode::UNAUTHORIZED);
        match client {
            Some(client) if status == StatusCode::UNAUTHORIZED => {
                tracing::debug!(%client, %error, "Bridge API request refused");
                let report = self.lock_guard().record_failure(client, now);
                if let Some(report) = report {
                    tracing::warn!(
                        %client,
                        failures = report.failures,
                        locked_out = report.locked_out,
                        last_error = %error,
                        "Bridge API requests with a bad token"
                    );
                }
            }
            _ => tracing::info!(%error, "Bridge API request refused"),
        }
        Err((status, Json(error_body(&error.to_string()))).into_response())
    }

    fn lock_guard(&self) -> std::sync::MutexGuard<'_, AuthGuard> {
        self.auth_guard.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn render_list(&self, principal: &Principal) -> Vec<ListItem> {
        self.gateway
            .devices(principal)
            .iter()
            .map(|device| {
                let states = self.cached_state(principal, &device.address);
                self.snapshot_json(device, states.as_ref(), ListItem::new)
            })
            .collect()
    }

    fn cached_state(
        &self,
        principal: &Principal,
        device: &DeviceAddress,
    ) -> Option<KeyturnerStates> {
        self.gateway.cached_state(principal, device).ok().flatten()
    }

    fn device_key(device: &DeviceView) -> (u32, BridgeDeviceType) {
        (device.nuki_id, device.product.bridge_device_type())
    }

    fn find_device(
        &self,
        principal: &Principal,
        params: &QueryParams,
    ) -> Result<DeviceView, Response> {
        let nuki_id = params.nuki_id().map_err(bad_request)?;
        let device_type = params.device_type().map_err(bad_request)?;
        let devices = self.gateway.devices(principal);
        resolve_device(&devices, Self::device_key, nuki_id, device_type)
            .cloned()
            .ok_or_else(|| {
                (StatusCode::NOT_FOUND, Json(error_body("unknown device"))).into_response()
            })
    }

    /// The callback body of a logged state change of a device the principal sees.
    fn logged_state_body(
        &self,
        principal: &Principal,
        devices: &[DeviceView],
        stored: &StoredEvent,
    ) -> Option<Value> {
        let event = &stored.event;
        let device = event.device.as_ref()?;
        let info = devices
            .iter()
            .find(|view| view.address.to_string() == device.address)?;
        let cached = self.cached_state(principal, &info.address)?;
        let states = match &event.state {
            Some(logged) => {
                callback_feed::states_as_logged(cached, logged, info.product.service_family())
            }
            None => cached,
        };
        serde_json::to_value(self.snapshot_json(info, Some(&states), CallbackBody::new)).ok()
    }

    fn snapshot_json<T>(
        &self,
        device: &DeviceView,
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
        build(&snapshot, self.gateway.now_unix())
    }
}

type Api = State<Arc<BridgeApi>>;

/// A handler's answer; the error side is an early answer (400, 404, …), so handlers use `?`.
type Answer = Result<Response, Response>;

/// The request's query and the principal its token stands for, after the token passed;
/// every endpoint but `/auth` takes this.
struct Authorized(QueryParams, Principal);

impl axum::extract::FromRequestParts<Arc<BridgeApi>> for Authorized {
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        api: &Arc<BridgeApi>,
    ) -> Result<Self, Self::Rejection> {
        let params = QueryParams::parse(parts.uri.query().unwrap_or(""));
        // Absent when the router is served without connect info (some tests do).
        let client = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|ConnectInfo(address)| address.ip());
        let principal = api.authorize(&params, client)?;
        Ok(Self(params, principal))
    }
}

const TOO_MANY_FAILURES: &str = "too many failed authentications; retry later";

fn too_many_failures(retry_after: Duration) -> Response {
    // Whole seconds, rounded up: a client retrying on time must not arrive early.
    let seconds = retry_after.as_secs() + u64::from(retry_after.subsec_nanos() > 0);
    (
        StatusCode::TOO_MANY_REQUESTS,
        [(axum::http::header::RETRY_AFTER, seconds.max(1).to_string())],
        Json(error_body(TOO_MANY_FAILURES)),
    )
        .into_response()
}

fn bad_request(error: QueryError) -> Response {
    (StatusCode::BAD_REQUEST, Json(error.body())).into_response()
}

fn ok(value: impl serde::Serialize) -> Response {
    Json(value).into_response()
}

async fn info(State(api): Api, _: Authorized) -> Response {
    let uptime = api.started.elapsed().as_secs();
    let (now, trust) = api.gateway.time();
    let mut body = InfoBody::new(api.identity, uptime, now, Vec::new());
    body.clock_trusted = trust.is_trusted();
    ok(body)
}

async fn list(State(api): Api, Authorized(_, principal): Authorized) -> Response {
    let generation = api.generation.load(Ordering::SeqCst);
    let mut cache = api.list_cache.lock().unwrap_or_else(|p| p.into_inner());
    let fresh = cache.as_ref().filter(|cached| {
        cached.generation == generation && cached.rendered_at.elapsed() < LIST_MAX_AGE
    });
    let body = match fresh {
        Some(cached) => cached.body.clone(),
        None => {
            let body = axum::body::Bytes::from(
                serde_json::to_vec(&api.render_list(&principal)).unwrap_or_default(),
            );
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

async fn lock_state(State(api): Api, Authorized(params, principal): Authorized) -> Answer {
    let device = api.find_device(&principal, &params)?;
    Ok(
        match api.gateway.read_state(&principal, &device.address).await {
            Ok(report) => {
                let states = report
                    .state
                    .or_else(|| api.cached_state(&principal, &device.address));
                ok(api.snapshot_json(&device, states.as_ref(), LockStateBody::new))
            }
            Err(refusal) => refusal_response(&refusal),
        },
    )
}

async fn lock_action(State(api): Api, Authorized(params, principal): Authorized) -> Answer {
    let device = api.find_device(&principal, &params)?;
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
    if no_wait {
        // Only what the device's queue took is answered as a success; how it ends is
        // reported through callbacks and `/log`.
        return Ok(
            match api
                .gateway
                .start_action(&principal, &device.address, action)
            {
                Ok(()) => ok(ActionBody {
                    success: true,
                    battery_critical: api
                        .cached_state(&principal, &device.address)
                        .is_some_and(|s| s.battery_critical()),
                }),
                Err(refusal) => refusal_response(&refusal),
            },
        );
    }
    Ok(run_actions(&api, &principal, device.address, vec![action]).await)
}

async fn simple_lock(State(api): Api, Authorized(params, principal): Authorized) -> Answer {
    simple(api, principal, params, SimpleAction::Lock).await
}

async fn simple_unlock(State(api): Api, Authorized(params, principal): Authorized) -> Answer {
    simple(api, principal, params, SimpleAction::Unlock).await
}

async fn simple(
    api: Arc<BridgeApi>,
    principal: Principal,
    params: QueryParams,
    simple: SimpleAction,
) -> Answer {
    let device = api.find_device(&principal, &params)?;
    let actions = simple.actions(device.product.service_family()).to_vec();
    Ok(run_actions(&api, &principal, device.address, actions).await)
}

/// Runs the actions in order, stopping at the first that fails.
async fn run_actions(
    api: &Arc<BridgeApi>,
    principal: &Principal,
    device: DeviceAddress,
    actions: Vec<DeviceAction>,
) -> Response {
    let mut last: GatewayResult<_> = Err(Refusal::UnknownDevice);
    for action in actions {
        last = api.gateway.act(principal, &device, action).await;
        if last.is_err() {
            break;
        }
    }
    match last {
        Ok(report) => ok(ActionBody {
            success: true,
            battery_critical: report.state.is_some_and(|s| s.battery_critical()),
        }),
        Err(refusal) => refusal_response(&refusal),
    }
}

/// The Bridge's conventions: busy → 503 (clients retry); unknown → 404; denied → 403; a
/// device that could not do it → 200 with success false (plus our reason, which clients
/// ignore).
fn refusal_response(refusal: &Refusal) -> Response {
    let status = match refusal {
        Refusal::Busy | Refusal::ShuttingDown => StatusCode::SERVICE_UNAVAILABLE,
        Refusal::UnknownDevice => StatusCode::NOT_FOUND,
        Refusal::Denied { .. } => StatusCode::FORBIDDEN,
        _ => StatusCode::OK,
    };
    (
        status,
        Json(json!({ "success": false, "error": refusal.to_string() })),
    )
        .into_response()
}

async fn callback_add(State(api): Api, Authorized(params, _): Authorized) -> Answer {
    let url = params.callback_url().map_err(|error| {
        let body = bridge_json::callback_invalid_url_body(&error.to_string());
        (StatusCode::BAD_REQUEST, Json(body)).into_response()
    })?;
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

async fn callback_remove(State(api): Api, Authorized(params, _): Authorized) -> Answer {
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
        if api.auth_window.is_open(api.gateway.now_unix()) {
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

async fn config_auth(State(api): Api, Authorized(params, _): Authorized) -> Answer {
    let enable = params.enable().map_err(bad_request)?;
    api.auth_enabled.store(enable, Ordering::SeqCst);
    if let Some(save) = api.save_auth_enabled.get() {
        save(enable);
    }
    Ok(ok(json!({ "success": true })))
}

async fn log(State(api): Api, Authorized(params, _): Authorized) -> Answer {
    let offset = params.u32_or("offset", 0).map_err(bad_request)?;
    let count = params.u32_or("count", 100).map_err(bad_request)?;
    let log = api.log.clone();
    let lines = tokio::task::spawn_blocking(move || {
        activity_log::page(&log, offset as usize, count as usize)
    })
    .await;
    Ok(match lines {
        Ok(Ok(lines)) => ok(lines),
        Ok(Err(error)) => {
            tracing::error!(%error, "activity log read failed");
            log_unavailable()
        }
        Err(_) => log_unavailable(),
    })
}

fn log_unavailable() -> Response {
    (
        StatusCode::INTERNAL_SERVER_ERROR,
        Json(error_body("the activity log could not be read")),
    )
        .into_response()
}

async fn clear_log(State(api): Api, _: Authorized) -> Response {
    let log = api.log.clone();
    match tokio::task::spawn_blocking(move || activity_log::clear(&log)).await {
        Ok(Ok(())) => ok(json!({ "success": true })),
        Ok(Err(error)) => {
            tracing::error!(%error, "activity log could not be cleared");
            ok(json!({ "success": false }))
        }
        Err(_) => ok(json!({ "success": false })),
    }
}

/// Maintenance of the hardware Bridge (firmware, reboot, reset, unpair) is done with the
/// nuki-edge CLI and the system's package manager, not over this API.
async fn not_supported(_: Authorized) -> Response {
    ok(
        json!({ "success": false, "error": "not supported by nuki-edge; use the nuki-edge command line" }),
    )
}

/// HEAD would run the GET handler without its body; on an endpoint that changes something
/// that would act without the client reading the answer.
async fn head_refused() -> Response {
    let mut response = crate::http::router::error_response(
        StatusCode::METHOD_NOT_ALLOWED,
        "HEAD is not allowed on an endpoint that acts; use GET",
    );
    response.headers_mut().insert(
        axum::http::header::ALLOW,
        axum::http::HeaderValue::from_static("GET"),
    );
    response
}

async fn not_found() -> Response {
    (StatusCode::NOT_FOUND, Json(error_body("no such endpoint"))).into_response()
}

/// Posts every state change of the activity log to the callbacks, in order, from the
/// callbacks' persisted cursor (see `callback_feed`).
async fn follow_log(api: Arc<BridgeApi>) {
    let stopping = api.gateway.stopping();
    let mut subscription = tokio::select! {
        () = stopping.cancelled() => return,
        subscription = callback_feed::open(&api.log) => subscription,
    };
    let cursor = CursorWriter::start(
        api.log.clone(),
        callback_feed::CALLBACK_CONSUMER,
        subscription.position(),
    );
    loop {
        let changes = tokio::select! {
            () = stopping.cancelled() => break,
            changes = callback_feed::next_state_changes(&mut subscription, &cursor) => changes,
        };
        let Some(changes) = changes else { break };
        let principal = api.principal();
        let devices = api.gateway.devices(&principal);
        for stored in &changes {
            if let Some(body) = api.logged_state_body(&principal, &devices, stored) {
                api.callbacks.publish(&body);
            }
        }
        if let Some(last) = changes.last() {
            cursor.note(last.id);
        }
    }
    cursor.finish().await;
}

/// Keeps `/list`'s cache fresh and tells callbacks of failed actions whose clients did not
/// wait (neither is an entry of the activity log).
async fn follow_events(api: Arc<BridgeApi>, mut events: broadcast::Receiver<GatewayEvent>) {
    let stopping = api.gateway.stopping();
    loop {
        let received = tokio::select! {
            () = stopping.cancelled() => break,
            received = events.recv() => received,
        };
        let event = match received {
            Ok(event) => event,
            Err(broadcast::error::RecvError::Lagged(missed)) => {
                // What was missed may have changed a device: the cached `/list` is stale.
                api.generation.fetch_add(1, Ordering::SeqCst);
                tracing::warn!(missed, "Bridge API fell behind the event bus");
                continue;
            }
            Err(broadcast::error::RecvError::Closed) => break,
        };
        match &event {
            GatewayEvent::StateChanged { .. }
            | GatewayEvent::DeviceAdded { .. }
            | GatewayEvent::DeviceRemoved { .. } => {
                api.generation.fetch_add(1, Ordering::SeqCst);
            }
            // A client that did not wait learns of a failure only this way: the device's
            // unchanged state, marked as the failed outcome of its action.
            GatewayEvent::ActionFinished {
                device,
                outcome: Err(refusal),
                answered_early: true,
                ..
            } => {
                let principal = api.principal();
                let devices = api.gateway.devices(&principal);
                if let Some(info) = devices.iter().find(|d| &d.address == device) {
                    let states = api.cached_state(&principal, device);
                    let body = api.snapshot_json(info, states.as_ref(), CallbackBody::new);
                    if let Ok(serde_json::Value::Object(mut body)) = serde_json::to_value(body) {
                        body.insert("success".into(), json!(false));
                        body.insert("error".into(), json!(refusal.to_string()));
                        api.callbacks.publish(&Value::Object(body));
                    }
                }
            }
            _ => {}
        }
    }
}
