//! The real daemon over simulated devices, driven over real HTTP like Home Assistant, openHAB,
//! ioBroker and scripts drive the official Bridge: every endpoint, every token form, actions
//! per device kind, callbacks received by a real HTTP server, and a burst of parallel requests.

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::Value;
use sha2::{Digest, Sha256};

const BINARY: &str = env!("CARGO_BIN_EXE_nuki-edge");
const TOKEN: &str = "abcdef123456";
const STARTUP_WAIT: Duration = Duration::from_secs(90);

struct Daemon {
    child: Child,
    base: String,
    config: String,
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|address| address.port())
        .expect("a free port")
}

/// `locks` Smart Locks 4 plus a Box, a Smart Lock 2 and an Opener.
fn start(dir: &Path, locks: usize, link_slots: usize) -> Daemon {
    let port = free_port();
    let mut text = format!(
        r#"
[store]
path = "{store}"
[log]
format = "json"
[ble]
backend = "sim"
[pairing]
id_type = "bridge"
auto_pair = true
[fleet]
link_slots = {link_slots}
[http]
listen = "127.0.0.1:{port}"
[bridge]
token = "{TOKEN}"
callback_retry_ms = 50
action_deadline_ms = 60000
[sim]
connection_interval_ms = 5
connect_time_ms = 20
[[sim.devices]]
address = "54:D2:72:00:00:01"
name = "Entrance"
nuki_id = 0x54000001
kind = "box"
security_pin = 1701
[[sim.devices]]
address = "54:D2:72:00:00:02"
name = "Flat Old"
nuki_id = 0x54000002
kind = "smart_lock_2"
security_pin = 1702
[[sim.devices]]
address = "54:D2:72:00:00:03"
name = "Intercom"
nuki_id = 0x54000003
kind = "opener"
security_pin = 1703
"#,
        store = dir.join("store.redb").display()
    );
    for index in 0..locks {
        text.push_str(&format!(
            "[[sim.devices]]\naddress = \"54:D2:72:00:01:{index:02X}\"\nname = \"Lock {index}\"\nnuki_id = {}\nkind = \"smart_lock_4\"\nsecurity_pin = 1234\nmotor_time_ms = 200\n",
            0x5401_0000 + index
        ));
    }
    let config = dir.join("bridge.toml");
    std::fs::write(&config, text).expect("write config");
    let config = config.to_string_lossy().into_owned();
    let mut child = Command::new(BINARY)
        .args(["run", "--config", &config])
        .env_remove("RUST_LOG")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("daemon starts");
    let stderr = child.stderr.take().expect("stderr");
    let expected = 3 + locks;
    let (sender, receiver) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut states = 0;
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if line.contains("\"message\":\"state changed\"") {
                states += 1;
                if states == expected {
                    let _ = sender.send(());
                }
            }
        }
    });
    receiver
        .recv_timeout(STARTUP_WAIT)
        .expect("every device paired and read");
    Daemon {
        child,
        base: format!("http://127.0.0.1:{port}"),
        config,
    }
}

async fn get(daemon: &Daemon, path_and_query: &str) -> (u16, Value) {
    let response = reqwest::get(format!("{}{path_and_query}", daemon.base))
        .await
        .expect("HTTP request");
    let status = response.status().as_u16();
    let body = response.json().await.unwrap_or(Value::Null);
    (status, body)
}

fn hashed_token(ts: &str, rnr: u16) -> String {
    let hash = hex::encode(Sha256::digest(format!("{ts},{rnr},{TOKEN}")));
    format!("ts={ts}&rnr={rnr}&hash={hash}")
}

fn encrypted_token(ts: &str, rnr: u16, nonce: [u8; 24]) -> String {
    let key: [u8; 32] = Sha256::digest(TOKEN).into();
    let sealed = nuki_edge::nuki::crypto::seal(
        &nuki_edge::nuki::crypto::SharedKey::from_bytes(key),
        &nonce,
        format!("{ts},{rnr}").as_bytes(),
    );
    format!(
        "ctoken={}&nonce={}",
        hex::encode(sealed),
        hex::encode(nonce)
    )
}

fn now_ts(offset_seconds: i64) -> String {
    let now = time::OffsetDateTime::now_utc() + time::Duration::seconds(offset_seconds);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
        now.year(),
        u8::from(now.month()),
        now.day(),
        now.hour(),
        now.minute(),
        now.second()
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bridge_api_end_to_end() {
    let dir = tempfile::tempdir().expect("tempdir");
    let daemon = start(dir.path(), 1, 3);
    let plain = format!("token={TOKEN}");

    // --- tokens ------------------------------------------------------------------------
    let (status, info) = get(&daemon, &format!("/info?{plain}")).await;
    assert_eq!(status, 200);
    assert!(info["ids"]["hardwareId"].as_i64().is_some(), "{info}");
    assert!(info["versions"]["firmwareVersion"].is_string(), "{info}");
    assert_eq!(info["bridgeType"], 1);
    assert_eq!(get(&daemon, "/info?token=wrongtoken1").await.0, 401);
    assert_eq!(get(&daemon, "/info").await.0, 401);
    let hashed = hashed_token(&now_ts(0), 4711);
    assert_eq!(get(&daemon, &format!("/info?{hashed}")).await.0, 200);
    assert_eq!(
        get(&daemon, &format!("/info?{hashed}")).await.0,
        401,
        "replayed hash"
    );
    assert_eq!(
        get(
            &daemon,
            &format!("/info?{}", hashed_token(&now_ts(-300), 1))
        )
        .await
        .0,
        401,
        "stale"
    );
    let encrypted = encrypted_token(&now_ts(0), 815, [7; 24]);
    assert_eq!(get(&daemon, &format!("/info?{encrypted}")).await.0, 200);
    assert_eq!(
        get(&daemon, &format!("/info?{encrypted}")).await.0,
        401,
        "replayed ctoken"
    );
    let nounce = encrypted_token(&now_ts(0), 816, [8; 24]).replace("nonce=", "nounce=");
    assert_eq!(
        get(&daemon, &format!("/info?{nounce}")).await.0,
        200,
        "the PDF's spelling"
    );

    // --- list ----------------------------------------------------------------------------
    let (status, list) = get(&daemon, &format!("/list?{plain}")).await;
    assert_eq!(status, 200);
    let list = list.as_array().expect("array").clone();
    assert_eq!(list.len(), 4);
    let find = |id: i64| {
        list.iter()
            .find(|d| d["nukiId"].as_i64() == Some(id))
            .cloned()
            .expect("device listed")
    };
    let entrance = find(0x5400_0001);
    assert_eq!(
        entrance["deviceType"], 0,
        "the Box shows as a lock clients operate"
    );
    assert_eq!(entrance["lastKnownState"]["stateName"], "locked");
    assert_eq!(find(0x5400_0003)["deviceType"], 2);
    assert_eq!(find(0x5400_0002)["deviceType"], 0, "Smart Lock 2.0");
    assert_eq!(
        find(0x5401_0000)["deviceType"],
        4,
        "Smart Lock 4th gen, from its Config"
    );
    assert_eq!(find(0x5400_0003)["lastKnownState"]["stateName"], "online");

    // --- actions per kind ----------------------------------------------------------------
    let act = |id: i64, device_type: u8, action: u8| {
        format!("/lockAction?nukiId={id}&deviceType={device_type}&action={action}&{plain}")
    };
    let (status, body) = get(&daemon, &act(0x5400_0001, 0, 1)).await;
    assert_eq!(
        (status, body["success"].clone()),
        (200, Value::Bool(true)),
        "{body}"
    );
    let (_, state) = get(
        &daemon,
        &format!("/lockState?nukiId={}&{plain}", 0x5400_0001),
    )
    .await;
    assert_eq!(state["stateName"], "unlocked", "{state}");
    assert_eq!(state["success"], true);
    let (_, body) = get(&daemon, &act(0x5400_0002, 0, 3)).await;
    assert_eq!(body["success"], true, "unlatch an old lock: {body}");
    let (_, body) = get(&daemon, &act(0x5400_0003, 2, 1)).await;
    assert_eq!(body["success"], true, "opener ring to open: {body}");
    let (_, state) = get(
        &daemon,
        &format!("/lockState?nukiId={}&deviceType=2&{plain}", 0x5400_0003),
    )
    .await;
    assert_eq!(state["stateName"], "rto active", "{state}");
    let (_, body) = get(&daemon, &act(0x5400_0003, 2, 3)).await;
    assert_eq!(body["success"], true, "opener electric strike: {body}");
    let (_, body) = get(&daemon, &format!("/lock?nukiId={}&{plain}", 0x5400_0001)).await;
    assert_eq!(body["success"], true, "{body}");
    let (_, body) = get(
        &daemon,
        &format!("/unlock?nukiId={}&deviceType=0&{plain}", 0x5401_0000),
    )
    .await;
    assert_eq!(
        body["success"], true,
        "pynuki's wrong deviceType still finds the lock: {body}"
    );
    // Opener continuous mode on and off (actions 4 and 5), lock 'n' go (4) and lock 'n' go
    // with unlatch (5) on a Smart Lock, without waiting for the lock 'n' go timer.
    for code in [4, 5] {
        let (_, body) = get(&daemon, &act(0x5400_0003, 2, code)).await;
        assert_eq!(body["success"], true, "opener action {code}: {body}");
    }
    for code in [4, 5] {
        let (_, body) = get(&daemon, &format!("{}&nowait=1", act(0x5400_0002, 0, code))).await;
        assert_eq!(body["success"], true, "lock action {code}: {body}");
    }
    // noWait answers while the motor still runs (the Box's bolt takes 1.5 s); the action
    // then finishes in the background.
    let entrance_state = |list: &Value| {
        list.as_array()
            .and_then(|devices| {
                devices
                    .iter()
                    .find(|d| d["nukiId"].as_i64() == Some(0x5400_0001))
            })
            .map(|d| d["lastKnownState"]["stateName"].clone())
            .unwrap_or(Value::Null)
    };
    let (_, body) = get(&daemon, &format!("{}&noWait=1", act(0x5400_0001, 0, 1))).await;
    assert_eq!(body["success"], true);
    let (_, list) = get(&daemon, &format!("/list?{plain}")).await;
    assert_ne!(
        entrance_state(&list),
        "unlocked",
        "answered before the bolt moved: {list}"
    );
    let mut finished = false;
    for _ in 0..100 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let (_, list) = get(&daemon, &format!("/list?{plain}")).await;
        if entrance_state(&list) == "unlocked" {
            finished = true;
            break;
        }
    }
    assert!(finished, "the noWait action finished in the background");
    get(&daemon, &act(0x5400_0001, 0, 2)).await;

    // --- bad input -----------------------------------------------------------------------
    let (status, body) = get(&daemon, &act(0x5400_0001, 0, 9)).await;
    assert_eq!(status, 400);
    assert_eq!(body["success"], false);
    assert!(body["error"].is_string());
    assert_eq!(get(&daemon, &act(0x1234, 0, 1)).await.0, 404);
    assert_eq!(
        get(&daemon, &format!("/lockAction?nukiId=x&action=1&{plain}"))
            .await
            .0,
        400
    );
    assert_eq!(get(&daemon, &format!("/nothing?{plain}")).await.0, 404);

    // --- callbacks -----------------------------------------------------------------------
    let received: Arc<Mutex<Vec<Value>>> = Arc::default();
    let receiver = {
        let received = received.clone();
        axum::Router::new().route(
            "/hook",
            axum::routing::post(move |axum::Json(body): axum::Json<Value>| {
                let received = received.clone();
                async move {
                    received.lock().expect("lock").push(body);
                    "ok"
                }
            }),
        )
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let hook = format!("http://{}/hook", listener.local_addr().expect("address"));
    tokio::spawn(async move { axum::serve(listener, receiver).await });
    let (_, body) = get(&daemon, &format!("/callback/add?url={hook}&{plain}")).await;
    assert_eq!(body["success"], true, "{body}");
    let (_, body) = get(&daemon, &format!("/callback/add?url={hook}&{plain}")).await;
    assert_eq!(body["success"], false, "duplicate refused: {body}");
    let (_, listed) = get(&daemon, &format!("/callback/list?{plain}")).await;
    assert_eq!(listed["callbacks"][0]["id"], 0);
    assert_eq!(listed["callbacks"][0]["url"], hook.as_str());
    // The Entrance is locked (by /lock above): unlock, then lock again.
    get(&daemon, &act(0x5400_0001, 0, 1)).await;
    get(&daemon, &act(0x5400_0001, 0, 2)).await;
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let names: Vec<String> = received
            .lock()
            .expect("lock")
            .iter()
            .filter(|b| b["nukiId"].as_i64() == Some(0x5400_0001))
            .filter_map(|b| b["stateName"].as_str().map(str::to_owned))
            .collect();
        let unlocked = names.iter().position(|n| n == "unlocked");
        let locked = names.iter().rposition(|n| n == "locked");
        if let (Some(unlocked), Some(locked)) = (unlocked, locked) {
            assert!(unlocked < locked, "callbacks arrive in order: {names:?}");
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "callbacks received: {names:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let first = received.lock().expect("lock")[0].clone();
    assert!(
        first["nukiId"].is_i64() && first["deviceType"].is_i64(),
        "{first}"
    );
    assert!(
        first.get("success").is_none() && first.get("timestamp").is_none(),
        "{first}"
    );
    let (_, body) = get(&daemon, &format!("/callback/remove?id=0&{plain}")).await;
    assert_eq!(body["success"], true);
    let (_, listed) = get(&daemon, &format!("/callback/list?{plain}")).await;
    assert_eq!(listed["callbacks"], Value::Array(Vec::new()));
    for index in 0..3 {
        get(
            &daemon,
            &format!("/callback/add?url=http://127.0.0.1:9/{index}&{plain}"),
        )
        .await;
    }
    let (_, body) = get(
        &daemon,
        &format!("/callback/add?url=http://127.0.0.1:9/x&{plain}"),
    )
    .await;
    assert_eq!(body["success"], false, "three slots only: {body}");

    // --- /auth, /log and maintenance -----------------------------------------------------
    let opened = Command::new(BINARY)
        .args([
            "bridge-auth",
            "--config",
            &daemon.config,
            "--open",
            "--seconds",
            "30",
        ])
        .output()
        .expect("bridge-auth runs");
    assert_eq!(opened.status.code(), Some(0), "{opened:?}");
    let (status, auth) = get(&daemon, "/auth").await;
    assert_eq!(status, 200);
    assert_eq!(auth["success"], true);
    assert_eq!(auth["token"], TOKEN);
    let (_, body) = get(&daemon, &format!("/configAuth?enable=0&{plain}")).await;
    assert_eq!(body["success"], true);
    assert_eq!(
        get(&daemon, "/auth").await.0,
        403,
        "authentication disabled"
    );
    assert_eq!(
        get(&daemon, &format!("/configAuth?enable=7&{plain}"))
            .await
            .0,
        400
    );
    get(&daemon, &format!("/configAuth?enable=1&{plain}")).await;
    assert_eq!(get(&daemon, "/auth").await.1["success"], true);
    let (_, log) = get(&daemon, &format!("/log?count=5&{plain}")).await;
    assert!(
        log.as_array()
            .is_some_and(|lines| !lines.is_empty() && lines.len() <= 5),
        "{log}"
    );
    let (status, body) = get(&daemon, &format!("/reboot?{plain}")).await;
    assert_eq!((status, body["success"].clone()), (200, Value::Bool(false)));
    assert_eq!(
        get(&daemon, &format!("/clearlog?{plain}")).await.1["success"],
        true
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hundred_parallel_requests_across_twenty_devices_all_complete() {
    let dir = tempfile::tempdir().expect("tempdir");
    let daemon = start(dir.path(), 17, 3);
    let ids: Vec<i64> = (0..17)
        .map(|i| 0x5401_0000 + i)
        .chain([0x5400_0001, 0x5400_0002])
        .collect();
    let client = reqwest::Client::new();
    let requests: Vec<_> = (0..100)
        .map(|i| {
            let id = ids[i % ids.len()];
            let action = if (i / ids.len()) % 2 == 0 { 1 } else { 2 };
            let url = format!(
                "{}/lockAction?nukiId={id}&action={action}&token={TOKEN}",
                daemon.base
            );
            let client = client.clone();
            tokio::spawn(async move {
                let response = client.get(url).send().await.expect("request");
                (
                    response.status().as_u16(),
                    response.json::<Value>().await.unwrap_or(Value::Null),
                )
            })
        })
        .collect();
    for request in requests {
        let (status, body) = request.await.expect("task");
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["success"], true, "{body}");
    }
    let (_, list) = get(&daemon, &format!("/list?token={TOKEN}")).await;
    assert_eq!(list.as_array().map(Vec::len), Some(20));
}
