//! Management API and start-up benchmarks over a building of 10 000 permissions.
//!
//! * `serve-permissions PORT_API PORT_HELLO TOKEN_FILE [COUNT]`: a gateway with a real redb
//!   store holding COUNT permissions (10 000 by default) and an owner with an API token
//!   (written to TOKEN_FILE, mode 0600), serving the management API as the daemon serves it,
//!   plus an axum hello-world, until killed; for `bench/permissions_page.sh` to load with wrk.
//! * `seed-building STORE COUNT`: adds an address, a person and COUNT permissions spread over
//!   the devices paired in STORE (the daemon stopped); for `bench/startup.sh`.
//!
//! The address and the person are created through the gateway's building methods. The
//! permissions are written in one store transaction instead: created one by one, each
//! would wait for its own commit and rebuild the rules of all the permissions before it.
//!
//! Without a mode (as `cargo test --all-targets` runs it) it does a short smoke run.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use nuki_edge::access::{
    AddressId, DailyWindow, DeviceId, Limits, Permission, PermissionId, PermissionKind, PersonId,
    Principal, Scope, Weekdays,
};
use nuki_edge::ble::sim::{RadioModel, SimTransport};
use nuki_edge::clock::SystemClock;
use nuki_edge::devices::fleet::{Fleet, FleetConfig};
use nuki_edge::gateway::{credentials_of, AddressDraft, Gateway, GatewaySettings, PersonDraft};
use nuki_edge::store::{Store, Table};

const OWNER_EMAIL: &str = "owner@bench.example";
const OWNER_PASSWORD: &str = "bench-owner-password-1";
/// The store counter `gateway::building` numbers permission ids from; bumped here so that
/// permissions created later through the API get fresh ids.
const PERMISSION_COUNTER: &str = "permission";
const DEFAULT_PERMISSIONS: usize = 10_000;

/// A gateway over the pairings in `store`, with a radio where none of them answers: the
/// building methods need the paired devices, not their states.
fn gateway_over_store(store: Arc<Store>) -> Arc<Gateway> {
    let known = store
        .pairings()
        .expect("pairings")
        .iter()
        .map(credentials_of)
        .collect();
    let (transport, _control) = SimTransport::new(Vec::new(), RadioModel::instant());
    let fleet = Fleet::start(Arc::new(transport), FleetConfig::default(), known);
    Gateway::new(
        fleet,
        store,
        SystemClock::shared(),
        GatewaySettings::with_action_deadline(Duration::from_secs(15)),
    )
}

/// Limits as a building has them: most unlimited, every third one a resident's weekday
/// daytime window.
fn limits_of(index: usize) -> Limits {
    if index.is_multiple_of(3) {
        Limits {
            weekdays: Weekdays(0b111_1100),
            daily: Some(DailyWindow {
                from_minute: 7 * 60,
                until_minute: 20 * 60,
            }),
            ..Limits::default()
        }
    } else {
        Limits::default()
    }
}

/// Adds an address, a person and `count` gateway-access permissions, each on one of the
/// paired devices in turn (on the address's Boxes when nothing is paired).
fn seed_building(gateway: &Gateway, store: &Store, count: usize) {
    let devices: Vec<DeviceId> = gateway
        .devices(&Principal::Local)
        .iter()
        .map(|d| d.id)
        .collect();
    let address = gateway
        .create_address(
            &Principal::Local,
            AddressDraft {
                name: "Bench Court 1".into(),
                time_zone: Some("Europe/Berlin".into()),
                boxes: Vec::new(),
            },
        )
        .expect("address")
        .address
        .id;
    let person = gateway
        .create_person(
            &Principal::Local,
            PersonDraft {
                name: "Bench Holder".into(),
                unit: None,
            },
        )
        .expect("person")
        .id;
    write_permissions(store, address, person, &devices, count);
    gateway.reload_rules();
}

fn write_permissions(
    store: &Store,
    address: AddressId,
    person: PersonId,
    devices: &[DeviceId],
    count: usize,
) {
    store
        .write(|tx| {
            for index in 0..count {
                let id = PermissionId(format!("{:024x}", tx.next_number(PERMISSION_COUNTER)?));
                let scope = match devices {
                    [] => Scope::AddressBoxes { address },
                    devices => Scope::Device {
                        device: devices[index % devices.len()],
                    },
                };
                let permission = Permission {
                    id,
                    person,
                    name: format!("Access {index}"),
                    scope,
                    kind: PermissionKind::GatewayAccess,
                    limits: limits_of(index),
                };
                tx.put(Table::Permissions, &permission.id.0, &permission)?;
            }
            Ok(())
        })
        .expect("permissions written");
}

/// The owner and an API token of theirs, created as `nuki-edge account` does.
async fn owner_token(gateway: &Gateway) -> String {
    gateway
        .create_owner(
            &Principal::Local,
            OWNER_EMAIL.into(),
            "Bench Owner".into(),
            OWNER_PASSWORD.into(),
        )
        .await
        .expect("owner");
    gateway
        .issue_api_token_for(&Principal::Local, OWNER_EMAIL, "bench")
        .expect("token")
        .token
}

fn write_secret(path: &Path, secret: &str) {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .expect("token file");
    file.write_all(secret.as_bytes()).expect("token written");
}

/// The management API served as the daemon serves it: composed with the shared middleware,
/// on the limited listener.
async fn serve_api(gateway: Arc<Gateway>, listener: tokio::net::TcpListener) {
    let _ = nuki_edge::http::listener::serve(
        listener,
        nuki_edge::http::router::compose(
            [nuki_edge::http::api::router(gateway)],
            nuki_edge::http::router::REQUEST_TIMEOUT,
        ),
        nuki_edge::http::listener::ListenerLimits::default(),
        tokio_util::sync::CancellationToken::new(),
        Duration::from_secs(1),
    )
    .await;
}

async fn serve_hello(listener: tokio::net::TcpListener) {
    let router = axum::Router::new().route("/", axum::routing::get(|| async { "Hello, World!" }));
    let _ = axum::serve(listener, router).await;
}

/// A gateway with `count` permissions and the owner's token, in a store under `directory`.
async fn seeded_gateway(directory: &Path, count: usize) -> (Arc<Gateway>, String) {
    let store = Arc::new(Store::open(&directory.join("bench.redb")).expect("store"));
    let gateway = gateway_over_store(store.clone());
    seed_building(&gateway, &store, count);
    let token = owner_token(&gateway).await;
    (gateway, token)
}

async fn serve_permissions(api_port: u16, hello_port: u16, token_file: &Path, count: usize) {
    let directory = tempfile::tempdir().expect("store directory");
    let (gateway, token) = seeded_gateway(directory.path(), count).await;
    write_secret(token_file, &token);
    let api = tokio::net::TcpListener::bind(("127.0.0.1", api_port))
        .await
        .expect("bind");
    let hello = tokio::net::TcpListener::bind(("127.0.0.1", hello_port))
        .await
        .expect("bind");
    println!("ready");
    tokio::join!(serve_api(gateway, api), serve_hello(hello));
}

async fn seed_stored_building(store_path: &Path, count: usize) {
    let store = Arc::new(Store::open(store_path).expect("store"));
    let gateway = gateway_over_store(store.clone());
    seed_building(&gateway, &store, count);
    let stored = store
        .read(|tx| tx.count(Table::Permissions))
        .expect("count");
    println!(
        "{stored} permissions over {} paired devices in {}",
        gateway.devices(&Principal::Local).len(),
        store_path.display()
    );
}

/// One page through the real listener, to show the modes work.
async fn smoke() {
    let directory = tempfile::tempdir().expect("store directory");
    let (gateway, token) = seeded_gateway(directory.path(), 300).await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let address = listener.local_addr().expect("address");
    tokio::spawn(serve_api(gateway, listener));
    let page: serde_json::Value = reqwest::Client::new()
        .get(format!("http://{address}/api/v1/permissions?limit=100"))
        .bearer_auth(token)
        .send()
        .await
        .expect("request")
        .json()
        .await
        .expect("page");
    let items = page["items"].as_array().map_or(0, Vec::len);
    assert_eq!(items, 100, "a full page");
    println!("smoke: a page of {items} of 300 permissions");
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    match args
        .iter()
        .map(String::as_str)
        .collect::<Vec<_>>()
        .as_slice()
    {
        ["serve-permissions", api, hello, token_file, rest @ ..] => {
            let (api, hello) = (api.parse().expect("port"), hello.parse().expect("port"));
            let count = rest
                .first()
                .map_or(DEFAULT_PERMISSIONS, |n| n.parse().expect("count"));
            runtime.block_on(serve_permissions(api, hello, Path::new(token_file), count));
        }
        ["seed-building", store, count, ..] => {
            let count = count.parse().expect("count");
            runtime.block_on(seed_stored_building(Path::new(store), count));
        }
        // `cargo bench` without a mode, and `cargo test --all-targets`: a quick smoke run.
        _ => runtime.block_on(smoke()),
    }
}
