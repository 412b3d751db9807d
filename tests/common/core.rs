//! The gateway core in-process, for tests that inject faults into the simulator directly.

use std::sync::Arc;
use std::time::Duration;

use nuki_edge::clock::SystemClock;
use nuki_edge::devices::fleet::Fleet;
use nuki_edge::gateway::{Gateway, GatewaySettings};
use nuki_edge::store::Store;

/// A gateway over `fleet` with a real store in a temporary directory that lives as long as
/// the test process.
pub fn gateway_over(fleet: Arc<Fleet>, action_deadline: Duration) -> Arc<Gateway> {
    let directory = tempfile::tempdir().expect("store directory");
    let store = Arc::new(Store::open(&directory.path().join("gateway.redb")).expect("store"));
    std::mem::forget(directory);
    Gateway::new(
        fleet,
        store,
        SystemClock::shared(),
        GatewaySettings::with_action_deadline(action_deadline),
    )
}

/// Serves `router` exactly as the daemon does (composed with the shared middleware, on the
/// limited listener, with the client's address) on a free loopback port.
pub async fn serve_like_the_daemon(router: axum::Router) -> std::net::SocketAddr {
    use nuki_edge::http::listener::{serve, ListenerLimits};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let address = listener.local_addr().expect("address");
    let router = nuki_edge::http::router::compose([router]);
    tokio::spawn(serve(
        listener,
        router,
        ListenerLimits::default(),
        tokio_util::sync::CancellationToken::new(),
        Duration::from_secs(1),
    ));
    address
}
