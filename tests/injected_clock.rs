//! The gateway and its rules go by the injected clock, not the machine's: a Bridge token is
//! fresh or stale by the gateway's time (a Pi without RTC can be far off).

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::bridge_client::BridgeClient;
use nuki_edge::ble::sim::{RadioModel, SimTransport};
use nuki_edge::clock::ManualClock;
use nuki_edge::devices::fleet::{Fleet, FleetConfig};
use nuki_edge::http::bridge_json::bridge_time;

const TOKEN: &str = "clocktoken7";
/// 2031-01-01T00:00:00Z, years away from any machine's clock in this test.
const GATEWAY_TIME: i64 = 1_924_992_000;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_are_fresh_or_stale_by_the_gateway_clock() {
    let clock = ManualClock::at(GATEWAY_TIME);
    let (transport, _control) = SimTransport::new(Vec::new(), RadioModel::default());
    let fleet = Fleet::start(Arc::new(transport), FleetConfig::default(), Vec::new());
    let gateway = common::core::gateway_with_clock(fleet, Duration::from_secs(4), clock.clone());
    let api = common::core::bridge_api(
        gateway,
        TOKEN,
        std::env::temp_dir().join("nuki-edge-clock-auth-window"),
    );
    let address = common::core::serve_like_the_daemon(api.router()).await;
    let client = BridgeClient::new(address, TOKEN);

    let at_gateway_time = client.hashed_token(&bridge_time(GATEWAY_TIME), 4711);
    let (status, info) = client.get(&format!("/info?{at_gateway_time}")).await;
    assert_eq!(status, 200, "{info}");
    assert_eq!(info["currentTime"], bridge_time(GATEWAY_TIME), "{info}");

    let machine_now = nuki_edge::clock::Clock::now_unix(&nuki_edge::clock::SystemClock);
    let at_machine_time = client.hashed_token(&bridge_time(machine_now), 4712);
    let (status, _) = client.get(&format!("/info?{at_machine_time}")).await;
    assert_eq!(status, 401, "the machine's time is not the gateway's");

    clock.advance(61);
    let now_stale = client.hashed_token(&bridge_time(GATEWAY_TIME), 4713);
    let (status, _) = client.get(&format!("/info?{now_stale}")).await;
    assert_eq!(
        status, 401,
        "61 s later by the gateway's clock the token is stale"
    );
}
