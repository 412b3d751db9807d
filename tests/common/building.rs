//! A small simulated building behind the management API, in-process: one Box and two Smart
//! Locks paired with a gateway that goes by a manual clock, over a real store, served exactly
//! as the daemon serves it.

use std::sync::Arc;
use std::time::Duration;

use nuki_edge::access::{DeviceId, Rights};
use nuki_edge::ble::sim::{RadioModel, SimControl, SimDeviceSpec, SimKind, SimTransport};
use nuki_edge::ble::DeviceAddress;
use nuki_edge::clock::ManualClock;
use nuki_edge::devices::fleet::{Fleet, FleetConfig};
use nuki_edge::gateway::{Gateway, GatewaySettings};
use nuki_edge::store::Store;
use serde_json::{json, Value};

/// Actions on the simulated devices take this long at most.
pub const DEADLINE: Duration = Duration::from_secs(15);
/// Monday 2026-11-30, 12:00 UTC (13:00 in Zurich).
pub const MONDAY_NOON_UTC: i64 = 1_796_040_000;

pub struct ApiBuilding {
    pub base: String,
    pub gateway: Arc<Gateway>,
    pub clock: Arc<ManualClock>,
    pub store: Arc<Store>,
    pub control: SimControl,
    pub entrance: DeviceId,
    pub flat_a: DeviceId,
    pub flat_b: DeviceId,
    pub addresses: Vec<DeviceAddress>,
    /// A factory-new Smart Lock, not paired, for set-ups.
    pub new_lock: SimDeviceSpec,
    pub client: reqwest::Client,
    _store_dir: tempfile::TempDir,
}

fn spec(address: &str, name: &str, nuki_id: u32, kind: SimKind) -> SimDeviceSpec {
    let mut spec = SimDeviceSpec::new(address, name, nuki_id, kind);
    spec.motor_time = Duration::from_millis(20);
    spec
}

/// The building, its clock at [`MONDAY_NOON_UTC`].
pub async fn api_building() -> ApiBuilding {
    let specs = vec![
        spec("sim:entrance", "Entrance", 0x7100_0001, SimKind::Box),
        spec("sim:flat-a", "Flat A", 0x7200_0001, SimKind::SmartLock4),
        spec("sim:flat-b", "Flat B", 0x7200_0002, SimKind::SmartLock4),
    ];
    let radio = RadioModel {
        connection_interval: Duration::from_millis(5),
        connect_time: Duration::from_millis(10),
        ..RadioModel::default()
    };
    let new_lock = spec("sim:new-lock", "New lock", 0x7200_0099, SimKind::SmartLock4);
    let mut all = specs.clone();
    all.push(new_lock.clone());
    let (transport, control) = SimTransport::new(all, radio);
    let mut credentials = Vec::new();
    for spec in &specs {
        credentials.push(super::core::pair_sim_device(&transport, &control, spec).await);
    }
    let transport = Arc::new(transport);
    let fleet = Fleet::start(transport.clone(), FleetConfig::default(), credentials);
    let store_dir = tempfile::tempdir().expect("store directory");
    let store = Arc::new(Store::open(&store_dir.path().join("building.redb")).expect("store"));
    let clock = ManualClock::at(MONDAY_NOON_UTC);
    let gateway = Gateway::new(
        fleet,
        store.clone(),
        clock.clone(),
        GatewaySettings::with_action_deadline(DEADLINE),
    );
    super::core::follow_advertisements(&transport, gateway.clone()).await;
    let address =
        super::core::serve_like_the_daemon(nuki_edge::http::api::router(gateway.clone())).await;
    let id = |spec: &SimDeviceSpec| DeviceId::from_parts(spec.kind.web_api_type(), spec.nuki_id);
    ApiBuilding {
        base: format!("http://{address}"),
        entrance: id(&specs[0]),
        flat_a: id(&specs[1]),
        flat_b: id(&specs[2]),
        addresses: specs.iter().map(|s| s.address.clone()).collect(),
        new_lock,
        gateway,
        clock,
        store,
        control,
        client: reqwest::Client::new(),
        _store_dir: store_dir,
    }
}

/// An answer: status and JSON body (`Value::Null` when there is none).
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub body: Value,
}

impl Answer {
    /// The error code of an error answer.
    pub fn code(&self) -> &str {
        self.body["error"]["code"].as_str().unwrap_or("")
    }

    pub fn message(&self) -> &str {
        self.body["error"]["message"].as_str().unwrap_or("")
    }
}

impl ApiBuilding {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Sends `method path` with `token` (if any) and a JSON `body` (if any).
    pub async fn call(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> Answer {
        let method = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
        let mut request = self.client.request(method, self.url(path));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        answer(request.send().await.expect("request")).await
    }

    /// Sends raw bytes as the body, with `content_type`.
    pub async fn call_raw(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        content_type: &str,
        body: Vec<u8>,
    ) -> Answer {
        let method = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
        let mut request = self
            .client
            .request(method, self.url(path))
            .header("content-type", content_type)
            .body(body);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        answer(request.send().await.expect("request")).await
    }

    /// Every stored record of the building, for before/after comparisons.
    pub fn stored(&self) -> Value {
        use nuki_edge::store::Table;
        let tables = [
            Table::Addresses,
            Table::Units,
            Table::People,
            Table::Permissions,
            Table::PermissionSecrets,
            Table::DeviceProfiles,
        ];
        let dump = self
            .store
            .read(|tx| {
                let mut dump = serde_json::Map::new();
                for table in tables {
                    let records: Vec<(String, Value)> = tx.page(table, None, usize::MAX)?;
                    dump.insert(table.name().to_owned(), json!(records));
                }
                Ok(dump)
            })
            .expect("store readable");
        Value::Object(dump)
    }
}

async fn answer(response: reqwest::Response) -> Answer {
    let status = response.status().as_u16();
    let text = response.text().await.expect("body");
    let body = if text.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&text).unwrap_or_else(|_| panic!("not JSON ({status}): {text}"))
    };
    Answer { status, body }
}

/// A password the accounts' policy takes.
const PASSWORD: &str = "correct horse battery staple";

/// A sub-account with `rights` (the owner, with all, when `owner`), created as the
/// installer would, and an API token for it.
pub async fn account_token(gateway: &Gateway, owner: bool, rights: Rights) -> String {
    use nuki_edge::gateway::accounts::NewAccount;
    use nuki_edge::gateway::Principal;
    let number = NEXT_ACCOUNT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let email = format!("account{number}@example.org");
    if owner {
        gateway
            .create_owner(
                &Principal::Local,
                email.clone(),
                "Owner".into(),
                PASSWORD.into(),
            )
            .await
            .expect("owner created");
    } else {
        gateway
            .create_account(
                &Principal::Local,
                NewAccount {
                    email: email.clone(),
                    name: format!("Account {number}"),
                    password: PASSWORD.into(),
                    rights,
                },
            )
            .await
            .expect("account created");
    }
    gateway
        .issue_api_token_for(&Principal::Local, &email, "tests")
        .expect("token issued")
        .token
}

static NEXT_ACCOUNT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);

/// The owner's API token.
pub async fn owner_token(gateway: &Gateway) -> String {
    account_token(gateway, true, Rights::ADMIN).await
}
