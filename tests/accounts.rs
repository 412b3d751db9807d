//! Accounts and roles through the real daemon: the owner and API tokens from the CLI with the
//! daemon stopped and running, sessions with their cookie, the lockout, two-factor login, API
//! tokens, the rights of sub-accounts, refusals of malformed input, and secrets kept out of
//! the log, the store and the CLI's output. The lockout's and sessions' expiry go by the
//! gateway's injected clock, in-process.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::accounts::{
    create_owner, issue_token, run_create_owner, run_issue_token, session_cookie, Answer,
    ApiClient, Auth, OWNER_EMAIL, OWNER_PASSWORD,
};
use common::cli::{run_guarded, stderr, stdout};
use common::config::{ConfigBuilder, SimDeviceEntry, TestConfig};
use common::daemon::Daemon;
use nuki_edge::nuki::product::ProductType;
use reqwest::Method;
use serde_json::{json, Value};

/// Hang guard for the control socket of a starting daemon.
const SOCKET_WAIT: Duration = Duration::from_secs(30);

/// A building of one Box, not paired: accounts need no device.
fn config() -> TestConfig {
    building().build()
}

/// The same, logging everything down to debug, for the tests that search the log for
/// secrets.
fn config_logging_all() -> TestConfig {
    building().log_level("debug").build()
}

fn building() -> ConfigBuilder {
    ConfigBuilder::new().device(
        SimDeviceEntry::new(ProductType::Box, "Entrance", "sim:acct-1", 0x5502_0001).pin(1234),
    )
}

/// Starts the daemon and waits until its control socket listens (it binds it just after the
/// HTTP listener).
fn start(config: &TestConfig) -> Daemon {
    let daemon = Daemon::start(config);
    let mut socket = config.store_path().as_os_str().to_owned();
    socket.push(".control.sock");
    let deadline = std::time::Instant::now() + SOCKET_WAIT;
    while !std::path::Path::new(&socket).exists() {
        assert!(
            std::time::Instant::now() < deadline,
            "no control socket; log:\n{}",
            daemon.log_text()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    daemon
}

fn api(daemon: &Daemon, auth: Auth) -> ApiClient {
    ApiClient::new(&daemon.base_url(), auth)
}

/// A code of the authenticator app for `secret` at `at`, computed independently of the
/// gateway's own TOTP code.
fn totp_code(secret: &str, at: i64) -> String {
    let secret = totp_rs::Secret::try_from_base32(secret).expect("base32 secret");
    let totp = totp_rs::Builder::new()
        .with_secret(secret)
        .build()
        .expect("SHA1, 6 digits, 30 s");
    totp.generate(u64::try_from(at).expect("after 1970"))
        .to_string()
}

fn machine_now() -> i64 {
    nuki_edge::clock::Clock::now_unix(&nuki_edge::clock::SystemClock)
}

fn assert_error(answer: &Answer, status: u16, code: &str) {
    assert_eq!(answer.status, status, "{answer:?}");
    assert_eq!(answer.body["error"]["code"], code, "{answer:?}");
    assert!(
        answer.body["error"]["message"]
            .as_str()
            .is_some_and(|m| !m.is_empty()),
        "{answer:?}"
    );
}

/// One line on stderr, exit code 2.
fn assert_refused(output: &std::process::Output, says: &str) {
    assert_eq!(output.status.code(), Some(2), "{output:?}");
    let message = stderr(output);
    assert_eq!(message.trim_end().lines().count(), 1, "{message}");
    assert!(message.starts_with("error: "), "{message}");
    assert!(message.contains(says), "{says:?} in {message}");
    assert!(stdout(output).is_empty(), "{output:?}");
}

fn assert_absent(haystack: &[u8], secret: &str, place: &str) {
    let found = haystack
        .windows(secret.len())
        .any(|window| window == secret.as_bytes());
    assert!(!found, "a secret is in {place}");
}

fn no_secrets_in(body: &Value) {
    let text = body.to_string();
    for field in ["password", "password_hash", "argon2", "secret", "token\""] {
        assert!(!text.contains(field), "{field} in {text}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn owner_created_with_the_daemon_stopped_gets_its_token_through_the_running_daemon() {
    let config = config();
    let created = run_create_owner(&config, OWNER_EMAIL, OWNER_PASSWORD);
    assert_eq!(created.status.code(), Some(0), "{}", stderr(&created));
    let line = stdout(&created);
    assert_eq!(line.lines().count(), 1, "{line}");
    assert!(line.contains(OWNER_EMAIL), "{line}");
    assert_absent(&created.stdout, OWNER_PASSWORD, "create-owner's stdout");
    assert_absent(&created.stderr, OWNER_PASSWORD, "create-owner's stderr");

    let daemon = start(&config);
    let token = issue_token(&config, OWNER_EMAIL, "script");
    let me = api(&daemon, Auth::Bearer(token.clone()))
        .get("/api/v1/account")
        .await;
    assert_eq!(me.status, 200, "{me:?}");
    assert_eq!(me.body["email"], OWNER_EMAIL);
    assert_eq!(me.body["owner"], true);
    assert_eq!(me.body["rights"], json!(["admin"]));
    no_secrets_in(&me.body);

    // Exactly one owner, also through the running daemon.
    let second = run_create_owner(&config, "other@building.example", OWNER_PASSWORD);
    assert_refused(&second, "owner");
    assert_absent(&second.stderr, OWNER_PASSWORD, "the refusal");

    let (code, _) = tokio::task::spawn_blocking(move || daemon.stop())
        .await
        .expect("stopped");
    assert_eq!(code, Some(0));
    let store = std::fs::read(config.store_path()).expect("store file");
    assert_absent(&store, OWNER_PASSWORD, "the store");
    assert_absent(&store, &token, "the store");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn owner_created_through_the_running_daemon_gets_its_token_with_the_daemon_stopped() {
    let config = config();
    let daemon = start(&config);
    let created = run_create_owner(&config, OWNER_EMAIL, OWNER_PASSWORD);
    assert_eq!(created.status.code(), Some(0), "{}", stderr(&created));
    let (login, session) = api(&daemon, Auth::Nobody)
        .login(OWNER_EMAIL, OWNER_PASSWORD, None)
        .await;
    assert_eq!(login.status, 200, "{login:?}");
    assert!(session.is_some());
    let (code, log) = tokio::task::spawn_blocking(move || daemon.stop())
        .await
        .expect("stopped");
    assert_eq!(code, Some(0));
    let log = serde_json::to_string(&log).expect("log as text");
    assert_absent(log.as_bytes(), OWNER_PASSWORD, "the daemon's log");

    let output = run_issue_token(&config, OWNER_EMAIL, "backup");
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let printed = stdout(&output);
    assert_eq!(
        printed.lines().count(),
        1,
        "only the token on stdout: {printed}"
    );
    let token = printed.trim().to_owned();
    assert!(
        token.starts_with("nea_") && token.len() >= 4 + 43,
        "{token}"
    );
    assert_refused(
        &run_create_owner(&config, OWNER_EMAIL, OWNER_PASSWORD),
        "owner",
    );

    let daemon = start(&config);
    let me = api(&daemon, Auth::Bearer(token.clone()))
        .get("/api/v1/account")
        .await;
    assert_eq!(me.status, 200, "{me:?}");
    let tokens = api(&daemon, Auth::Bearer(token.clone()))
        .get("/api/v1/account/tokens")
        .await;
    assert_eq!(tokens.status, 200, "{tokens:?}");
    assert_eq!(tokens.body["items"][0]["name"], "backup");
    assert!(!tokens.body.to_string().contains(&token));
    let (log_code, log) = tokio::task::spawn_blocking(move || daemon.stop())
        .await
        .expect("stopped");
    assert_eq!(log_code, Some(0));
    let log = serde_json::to_string(&log).expect("log as text");
    assert_absent(log.as_bytes(), &token, "the daemon's log");
}

#[test]
fn the_account_commands_refuse_bad_input_in_one_line() {
    let config = config();
    assert_refused(
        &run_create_owner(&config, "not-an-address", OWNER_PASSWORD),
        "e-mail address",
    );
    let short = run_create_owner(&config, OWNER_EMAIL, "short pw");
    assert_refused(&short, "at least 10 characters");
    assert_absent(&short.stderr, "short pw", "the refusal");
    let missing = run_guarded(&[
        "account",
        "create-owner",
        "--config",
        config.arg(),
        "--email",
        OWNER_EMAIL,
        "--password-file",
        "/nonexistent/password.txt",
    ]);
    assert_refused(&missing, "cannot read the password file");
    assert_refused(
        &run_issue_token(&config, "nobody@building.example", "x"),
        "no account",
    );
    // A refused command changed nothing: there is still no owner, so one can be created.
    let created = run_create_owner(&config, OWNER_EMAIL, OWNER_PASSWORD);
    assert_eq!(created.status.code(), Some(0), "{}", stderr(&created));
    assert_refused(&run_issue_token(&config, OWNER_EMAIL, "  "), "token name");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_login_sets_a_strict_http_only_cookie_that_opens_the_account() {
    let config = config();
    let daemon = start(&config);
    create_owner(&config);
    let client = api(&daemon, Auth::Nobody);

    let (login, token) = client.login(OWNER_EMAIL, OWNER_PASSWORD, None).await;
    assert_eq!(login.status, 200, "{login:?}");
    let cookie = session_cookie(&login.headers).expect("a session cookie");
    assert!(cookie.value.starts_with("nes_"), "{cookie:?}");
    assert!(cookie.has("HttpOnly"), "{cookie:?}");
    assert_eq!(cookie.attribute("SameSite"), Some("Strict"), "{cookie:?}");
    assert_eq!(cookie.attribute("Path"), Some("/"), "{cookie:?}");
    assert_eq!(cookie.attribute("Max-Age"), Some("604800"), "{cookie:?}");
    assert_eq!(login.body["account"]["email"], OWNER_EMAIL);
    no_secrets_in(&login.body);

    let token = token.expect("session token");
    let session = client.with_auth(Auth::Session(token.clone()));
    let me = session.get("/api/v1/account").await;
    assert_eq!(me.status, 200, "{me:?}");
    assert_eq!(me.body["email"], OWNER_EMAIL);

    // E-mail addresses are compared without case.
    let (upper, _) = client
        .login(&OWNER_EMAIL.to_uppercase(), OWNER_PASSWORD, None)
        .await;
    assert_eq!(upper.status, 200, "{upper:?}");
    let (wrong, none) = client.login(OWNER_EMAIL, "not the password", None).await;
    assert_error(&wrong, 401, "login_failed");
    assert!(none.is_none());
    let (unknown, _) = client
        .login("nobody@building.example", OWNER_PASSWORD, None)
        .await;
    assert_error(&unknown, 401, "login_failed");
    assert_eq!(
        wrong.body["error"]["message"], unknown.body["error"]["message"],
        "a failed login does not say which part was wrong"
    );

    let logout = session.delete("/api/v1/session").await;
    assert_eq!(logout.status, 204, "{logout:?}");
    let cleared = session_cookie(&logout.headers).expect("the cookie is cleared");
    assert_eq!(cleared.attribute("Max-Age"), Some("0"));
    assert_error(&session.get("/api/v1/account").await, 401, "unauthorized");
    assert_error(&client.get("/api/v1/account").await, 401, "unauthorized");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_password_change_ends_the_other_sessions() {
    let config = config_logging_all();
    let daemon = start(&config);
    create_owner(&config);
    let client = api(&daemon, Auth::Nobody);
    let (_, first) = client.login(OWNER_EMAIL, OWNER_PASSWORD, None).await;
    let (_, second) = client.login(OWNER_EMAIL, OWNER_PASSWORD, None).await;
    let sessions = [first.expect("session"), second.expect("session")];
    let first = client.with_auth(Auth::Session(sessions[0].clone()));
    let second = client.with_auth(Auth::Session(sessions[1].clone()));
    const NEW_PASSWORD: &str = "A much better passphrase 2";

    let wrong = first
        .post(
            "/api/v1/account/password",
            json!({ "current_password": "not the password", "new_password": NEW_PASSWORD }),
        )
        .await;
    assert_error(&wrong, 403, "wrong_password");
    let short = first
        .post(
            "/api/v1/account/password",
            json!({ "current_password": OWNER_PASSWORD, "new_password": "short" }),
        )
        .await;
    assert_error(&short, 422, "invalid");
    let changed = first
        .post(
            "/api/v1/account/password",
            json!({ "current_password": OWNER_PASSWORD, "new_password": NEW_PASSWORD }),
        )
        .await;
    assert_eq!(changed.status, 200, "{changed:?}");
    no_secrets_in(&changed.body);
    assert_eq!(first.get("/api/v1/account").await.status, 200);
    assert_error(&second.get("/api/v1/account").await, 401, "unauthorized");
    let (old, _) = client.login(OWNER_EMAIL, OWNER_PASSWORD, None).await;
    assert_error(&old, 401, "login_failed");
    let (new, third) = client.login(OWNER_EMAIL, NEW_PASSWORD, None).await;
    assert_eq!(new.status, 200, "{new:?}");
    let third = client.with_auth(Auth::Session(third.expect("session")));

    const NEW_EMAIL: &str = "Manager@Building.example";
    let moved = first
        .post(
            "/api/v1/account/email",
            json!({ "password": NEW_PASSWORD, "new_email": NEW_EMAIL }),
        )
        .await;
    assert_eq!(moved.status, 200, "{moved:?}");
    assert_eq!(moved.body["email"], NEW_EMAIL.to_lowercase());
    assert_eq!(first.get("/api/v1/account").await.status, 200);
    assert_error(&third.get("/api/v1/account").await, 401, "unauthorized");
    let (by_new_email, _) = client.login(NEW_EMAIL, NEW_PASSWORD, None).await;
    assert_eq!(by_new_email.status, 200, "{by_new_email:?}");

    let (_, log) = tokio::task::spawn_blocking(move || daemon.stop())
        .await
        .expect("stopped");
    let log = serde_json::to_string(&log).expect("log as text");
    let secrets = [OWNER_PASSWORD, NEW_PASSWORD, &sessions[0], &sessions[1]];
    assert!(
        log.contains("logged in"),
        "the log is searched at debug level"
    );
    for secret in secrets {
        assert_absent(log.as_bytes(), secret, "the daemon's log");
    }
    let store = std::fs::read(config.store_path()).expect("store file");
    for secret in secrets {
        assert_absent(&store, secret, "the store");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn repeated_failures_lock_the_account_even_against_the_right_password() {
    let config = config();
    let daemon = start(&config);
    let token = create_owner(&config);
    let owner = api(&daemon, Auth::Bearer(token));
    let created = owner
        .post(
            "/api/v1/accounts",
            json!({
                "email": "caretaker@building.example",
                "name": "Caretaker",
                "password": "caretaker password 1",
                "rights": ["operate_doors"],
            }),
        )
        .await;
    assert_eq!(created.status, 201, "{created:?}");
    let client = api(&daemon, Auth::Nobody);
    let max = nuki_edge::gateway::accounts::MAX_ACCOUNT_FAILURES;

    for attempt in 1..max {
        let (answer, _) = client.login(OWNER_EMAIL, "wrong password!", None).await;
        assert_error(&answer, 401, "login_failed");
        assert!(
            answer.headers.get("retry-after").is_none(),
            "attempt {attempt}"
        );
    }
    let (locking, _) = client.login(OWNER_EMAIL, "wrong password!", None).await;
    assert_error(&locking, 429, "locked_out");
    let retry_after: u64 = locking.headers["retry-after"]
        .to_str()
        .expect("text")
        .parse()
        .expect("seconds");
    assert!(retry_after > 0);
    let (right, session) = client.login(OWNER_EMAIL, OWNER_PASSWORD, None).await;
    assert_error(&right, 429, "locked_out");
    assert!(right.headers.contains_key("retry-after"));
    assert!(session.is_none(), "no session while locked");

    // Only the account is locked: the other account logs in from the same client, and the
    // owner's API token keeps working.
    let (other, _) = client
        .login("caretaker@building.example", "caretaker password 1", None)
        .await;
    assert_eq!(other.status, 200, "{other:?}");
    let me = owner.get("/api/v1/account").await;
    assert_eq!(me.status, 200);
    assert!(me.body["locked_until"].as_i64().is_some(), "{me:?}");
    drop(daemon);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_factor_login_needs_a_fresh_code() {
    let config = config_logging_all();
    let daemon = start(&config);
    create_owner(&config);
    let client = api(&daemon, Auth::Nobody);
    let (_, session) = client.login(OWNER_EMAIL, OWNER_PASSWORD, None).await;
    let me = client.with_auth(Auth::Session(session.expect("session")));

    assert_error(
        &me.post("/api/v1/account/totp/confirm", json!({ "code": "123456" }))
            .await,
        409,
        "conflict",
    );
    let enrolled = me.send(Method::POST, "/api/v1/account/totp", None).await;
    assert_eq!(enrolled.status, 201, "{enrolled:?}");
    assert_eq!(enrolled.headers["cache-control"], "no-store");
    let secret = enrolled.body["secret"].as_str().expect("secret").to_owned();
    let url = enrolled.body["otpauth_url"].as_str().expect("url");
    assert!(
        url.starts_with("otpauth://totp/") && url.contains(&secret),
        "{url}"
    );
    // Not on before it is confirmed.
    let (unconfirmed, _) = client.login(OWNER_EMAIL, OWNER_PASSWORD, None).await;
    assert_eq!(unconfirmed.status, 200, "{unconfirmed:?}");

    let now = machine_now();
    let wrong = format!(
        "{:06}",
        (totp_code(&secret, now).parse::<u32>().unwrap() + 1) % 1_000_000
    );
    assert_error(
        &me.post("/api/v1/account/totp/confirm", json!({ "code": wrong }))
            .await,
        403,
        "wrong_code",
    );
    let confirmed = me
        .post(
            "/api/v1/account/totp/confirm",
            json!({ "code": totp_code(&secret, now) }),
        )
        .await;
    assert_eq!(confirmed.status, 200, "{confirmed:?}");
    assert_eq!(confirmed.body["totp_enabled"], true);
    no_secrets_in(&confirmed.body);
    assert_error(
        &me.send(Method::POST, "/api/v1/account/totp", None).await,
        409,
        "conflict",
    );

    let (without, none) = client.login(OWNER_EMAIL, OWNER_PASSWORD, None).await;
    assert_error(&without, 401, "totp_required");
    assert!(none.is_none());
    // The next step's code (one step of skew is accepted); the confirmation used this one.
    let next = totp_code(&secret, now + 30);
    let (with, session) = client.login(OWNER_EMAIL, OWNER_PASSWORD, Some(&next)).await;
    assert_eq!(with.status, 200, "{with:?}");
    assert!(session.is_some());
    let (reused, none) = client.login(OWNER_EMAIL, OWNER_PASSWORD, Some(&next)).await;
    assert_error(&reused, 401, "login_failed");
    assert!(none.is_none(), "a code works once");
    let (wrong_password, _) = client
        .login(
            OWNER_EMAIL,
            "wrong password!",
            Some(&totp_code(&secret, now + 60)),
        )
        .await;
    assert_error(&wrong_password, 401, "login_failed");

    assert_error(
        &me.delete_with("/api/v1/account/totp", json!({})).await,
        422,
        "invalid",
    );
    assert_error(
        &me.delete_with(
            "/api/v1/account/totp",
            json!({ "password": "wrong password!" }),
        )
        .await,
        403,
        "wrong_password",
    );
    let off = me
        .delete_with(
            "/api/v1/account/totp",
            json!({ "password": OWNER_PASSWORD }),
        )
        .await;
    assert_eq!(off.status, 200, "{off:?}");
    assert_eq!(off.body["totp_enabled"], false);
    let (plain, _) = client.login(OWNER_EMAIL, OWNER_PASSWORD, None).await;
    assert_eq!(plain.status, 200, "{plain:?}");

    let (_, log) = tokio::task::spawn_blocking(move || daemon.stop())
        .await
        .expect("stopped");
    let log = serde_json::to_string(&log).expect("log as text");
    assert_absent(log.as_bytes(), &secret, "the daemon's log");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_tokens_are_shown_once_listed_without_secret_and_revocable() {
    let config = config();
    let daemon = start(&config);
    let owner = api(&daemon, Auth::Bearer(create_owner(&config)));

    let issued = owner
        .post(
            "/api/v1/account/tokens",
            json!({ "name": "home assistant" }),
        )
        .await;
    assert_eq!(issued.status, 201, "{issued:?}");
    assert_eq!(issued.headers["cache-control"], "no-store");
    let token = issued.body["token"].as_str().expect("token").to_owned();
    assert!(token.starts_with("nea_"));
    // 256 bits in hex.
    assert_eq!(token.len(), 4 + 64, "{token}");
    let id = issued.body["id"].as_u64().expect("id");

    let script = owner.with_auth(Auth::Bearer(token.clone()));
    let me = script.get("/api/v1/account").await;
    assert_eq!(me.status, 200, "{me:?}");
    assert_eq!(me.body["email"], OWNER_EMAIL, "a token acts as its account");
    let listed = script.get("/api/v1/account/tokens").await;
    assert_eq!(listed.status, 200, "{listed:?}");
    let items = listed.body["items"].as_array().expect("items");
    assert_eq!(items.len(), 2, "{listed:?}");
    assert!(items.iter().all(|item| item.get("token").is_none()));
    assert!(!listed.body.to_string().contains(&token[4..]));
    assert!(
        items
            .iter()
            .any(|item| item["id"] == id && item["last_used"].is_i64()),
        "the use was noted: {listed:?}"
    );

    assert_error(
        &owner.delete("/api/v1/account/tokens/abc").await,
        400,
        "bad_request",
    );
    assert_error(
        &owner.delete("/api/v1/account/tokens/999").await,
        404,
        "not_found",
    );
    assert_eq!(
        owner
            .delete(&format!("/api/v1/account/tokens/{id}"))
            .await
            .status,
        204
    );
    assert_error(&script.get("/api/v1/account").await, 401, "unauthorized");
    assert_error(
        &owner.delete(&format!("/api/v1/account/tokens/{id}")).await,
        404,
        "not_found",
    );
    assert_error(
        &owner
            .post("/api/v1/account/tokens", json!({ "name": "" }))
            .await,
        422,
        "invalid",
    );
    drop(daemon);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sub_accounts_can_do_what_their_rights_name() {
    let config = config();
    let daemon = start(&config);
    let owner = api(&daemon, Auth::Bearer(create_owner(&config)));
    let me = owner.get("/api/v1/account").await;
    let owner_id = me.body["id"].as_i64().expect("owner id");

    let create = |email: &str, rights: Value| json!({ "email": email, "name": "Sub", "password": "sub-account password", "rights": rights });
    let doors = owner
        .post(
            "/api/v1/accounts",
            create("doors@building.example", json!(["operate_doors"])),
        )
        .await;
    assert_eq!(doors.status, 201, "{doors:?}");
    assert_eq!(doors.body["owner"], false);
    assert_eq!(doors.body["rights"], json!(["operate_doors"]));
    no_secrets_in(&doors.body);
    let doors_id = doors.body["id"].as_i64().expect("id");
    let manager = owner
        .post(
            "/api/v1/accounts",
            create("manager@building.example", json!(["manage_accounts"])),
        )
        .await;
    assert_eq!(manager.status, 201, "{manager:?}");
    assert_error(
        &owner
            .post(
                "/api/v1/accounts",
                create("DOORS@building.example", json!([])),
            )
            .await,
        409,
        "conflict",
    );

    let client = api(&daemon, Auth::Nobody);
    let (_, session) = client
        .login("doors@building.example", "sub-account password", None)
        .await;
    let doors_session = client.with_auth(Auth::Session(session.expect("session")));
    assert_error(&doors_session.get("/api/v1/accounts").await, 403, "denied");
    assert_error(
        &doors_session
            .post("/api/v1/accounts", create("x@building.example", json!([])))
            .await,
        403,
        "denied",
    );
    assert_eq!(doors_session.get("/api/v1/account").await.status, 200);
    let doors_token = doors_session
        .post("/api/v1/account/tokens", json!({ "name": "doors script" }))
        .await;
    let doors_token = doors_token.body["token"]
        .as_str()
        .expect("token")
        .to_owned();
    let doors_script = client.with_auth(Auth::Bearer(doors_token));
    assert_error(&doors_script.get("/api/v1/accounts").await, 403, "denied");

    let (_, session) = client
        .login("manager@building.example", "sub-account password", None)
        .await;
    let manager = client.with_auth(Auth::Session(session.expect("session")));
    let listed = manager.get("/api/v1/accounts").await;
    assert_eq!(listed.status, 200, "{listed:?}");
    assert_eq!(listed.body["items"].as_array().map(Vec::len), Some(3));
    no_secrets_in(&listed.body);
    assert_eq!(
        manager
            .get(&format!("/api/v1/accounts/{owner_id}"))
            .await
            .status,
        200
    );
    // Rights it lacks cannot be granted, nor taken from an account that has them.
    assert_error(
        &manager
            .post(
                "/api/v1/accounts",
                create("x@building.example", json!(["admin"])),
            )
            .await,
        403,
        "denied",
    );
    assert_error(
        &manager
            .patch(
                &format!("/api/v1/accounts/{doors_id}"),
                json!({ "rights": ["operate_doors", "manage_users"] }),
            )
            .await,
        403,
        "denied",
    );
    assert_error(
        &manager
            .patch(
                &format!("/api/v1/accounts/{owner_id}"),
                json!({ "name": "Me" }),
            )
            .await,
        403,
        "owner_only",
    );
    assert_error(
        &manager
            .delete(&format!("/api/v1/accounts/{owner_id}"))
            .await,
        403,
        "owner_only",
    );

    // The owner can be neither deleted nor demoted.
    assert_error(
        &owner.delete(&format!("/api/v1/accounts/{owner_id}")).await,
        409,
        "conflict",
    );
    assert_error(
        &owner
            .patch(
                &format!("/api/v1/accounts/{owner_id}"),
                json!({ "rights": ["operate_doors"] }),
            )
            .await,
        409,
        "conflict",
    );
    assert_eq!(
        owner.get("/api/v1/account").await.body["rights"],
        json!(["admin"])
    );

    // A change of rights applies to the next request; a deleted account's session and
    // tokens stop working at once.
    let raised = owner
        .patch(
            &format!("/api/v1/accounts/{doors_id}"),
            json!({ "rights": ["operate_doors", "manage_accounts"] }),
        )
        .await;
    assert_eq!(raised.status, 200, "{raised:?}");
    assert_eq!(doors_session.get("/api/v1/accounts").await.status, 200);
    assert_eq!(
        owner
            .delete(&format!("/api/v1/accounts/{doors_id}"))
            .await
            .status,
        204
    );
    assert_error(
        &doors_session.get("/api/v1/account").await,
        401,
        "unauthorized",
    );
    assert_error(
        &doors_script.get("/api/v1/account").await,
        401,
        "unauthorized",
    );
    assert_error(
        &owner.get(&format!("/api/v1/accounts/{doors_id}")).await,
        404,
        "not_found",
    );

    // Pages follow their cursor.
    let first = owner.get("/api/v1/accounts?limit=1").await;
    assert_eq!(first.status, 200, "{first:?}");
    assert_eq!(first.body["items"][0]["id"], owner_id);
    let cursor = first.body["next_cursor"].as_str().expect("a next page");
    let second = owner
        .get(&format!("/api/v1/accounts?limit=1&cursor={cursor}"))
        .await;
    assert_eq!(second.body["items"][0]["email"], "manager@building.example");
    assert!(second.body.get("next_cursor").is_none(), "{second:?}");
    drop(daemon);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_input_is_refused_and_changes_nothing() {
    let config = config();
    let daemon = start(&config);
    let owner = api(&daemon, Auth::Bearer(create_owner(&config)));
    let valid = json!({
        "email": "new@building.example",
        "name": "New",
        "password": "a good password",
        "rights": ["operate_doors"],
    });
    let with = |field: &str, value: Value| {
        let mut body = valid.clone();
        body[field] = value;
        body
    };
    let cases: Vec<(&str, Value, u16)> = vec![
        ("email of the wrong type", with("email", json!(5)), 422),
        ("rights not a list", with("rights", json!("admin")), 422),
        ("unknown right", with("rights", json!(["fly"])), 422),
        ("unknown field", with("owner", json!(true)), 422),
        ("bad email", with("email", json!("new@")), 422),
        ("short password", with("password", json!("123456789")), 422),
        ("long name", with("name", json!("n".repeat(101))), 422),
        (
            "missing field",
            json!({ "email": "new@building.example" }),
            422,
        ),
    ];
    for (what, body, status) in cases {
        let answer = owner.post("/api/v1/accounts", body).await;
        assert_eq!(answer.status, status, "{what}: {answer:?}");
        assert!(
            answer.body["error"]["code"].is_string(),
            "{what}: {answer:?}"
        );
    }
    let syntax = owner
        .send_raw(
            Method::POST,
            "/api/v1/accounts",
            Some(b"{\"email\":".to_vec()),
            "application/json",
        )
        .await;
    assert_error(&syntax, 400, "bad_request");
    let not_json = owner
        .send_raw(
            Method::POST,
            "/api/v1/accounts",
            Some(valid.to_string().into_bytes()),
            "text/plain",
        )
        .await;
    assert_error(&not_json, 415, "unsupported_media_type");
    let mut huge = valid.clone();
    huge["name"] = json!("n".repeat(100 * 1024));
    let oversized = owner.post("/api/v1/accounts", huge).await;
    assert_eq!(oversized.status, 413, "{oversized:?}");
    assert!(
        oversized.body.is_object(),
        "a JSON error body: {oversized:?}"
    );

    for (path, status) in [
        ("/api/v1/accounts/abc", 400),
        ("/api/v1/accounts/0", 400),
        ("/api/v1/accounts/-1", 400),
        ("/api/v1/accounts/99999999999999999999999", 400),
        ("/api/v1/accounts/999", 404),
        ("/api/v1/accounts?limit=0", 400),
        ("/api/v1/accounts?limit=x", 400),
        ("/api/v1/accounts?bogus=1", 400),
        ("/api/v1/accounts?cursor=zz", 400),
    ] {
        let answer = owner.get(path).await;
        assert_eq!(answer.status, status, "{path}: {answer:?}");
        assert!(
            answer.body["error"]["code"].is_string(),
            "{path}: {answer:?}"
        );
    }
    let client = api(&daemon, Auth::Nobody);
    for body in [
        json!({ "email": OWNER_EMAIL, "password": OWNER_PASSWORD, "remember": true }),
        json!({ "email": OWNER_EMAIL, "password": 1234567890 }),
        json!({ "email": OWNER_EMAIL }),
    ] {
        let answer = client.post("/api/v1/session", body).await;
        assert_error(&answer, 422, "invalid");
        assert!(session_cookie(&answer.headers).is_none());
    }
    for (path, body) in [
        (
            "/api/v1/account/password",
            json!({ "current_password": OWNER_PASSWORD }),
        ),
        (
            "/api/v1/account/email",
            json!({ "password": OWNER_PASSWORD, "new_email": 7 }),
        ),
        ("/api/v1/account/totp/confirm", json!({ "code": 123456 })),
        (
            "/api/v1/account/tokens",
            json!({ "name": "x", "rights": ["admin"] }),
        ),
    ] {
        assert_error(&owner.post(path, body).await, 422, "invalid");
    }
    assert_error(
        &owner
            .patch("/api/v1/accounts/1", json!({ "owner": false }))
            .await,
        422,
        "invalid",
    );

    // Nothing was stored: one account, one token, the owner's password unchanged.
    let listed = owner.get("/api/v1/accounts").await;
    assert_eq!(
        listed.body["items"].as_array().map(Vec::len),
        Some(1),
        "{listed:?}"
    );
    let tokens = owner.get("/api/v1/account/tokens").await;
    assert_eq!(
        tokens.body["items"].as_array().map(Vec::len),
        Some(1),
        "{tokens:?}"
    );
    let (login, _) = client.login(OWNER_EMAIL, OWNER_PASSWORD, None).await;
    assert_eq!(login.status, 200, "{login:?}");
    drop(daemon);
}

#[test]
fn the_openapi_document_describes_the_account_routes() {
    let document = serde_json::to_value(nuki_edge::http::api::openapi()).expect("JSON");
    let paths = document["paths"].as_object().expect("paths");
    for (path, methods) in [
        ("/api/v1/session", &["post", "delete"][..]),
        ("/api/v1/accounts", &["get", "post"]),
        ("/api/v1/accounts/{id}", &["get", "patch", "delete"]),
        ("/api/v1/account", &["get"]),
        ("/api/v1/account/email", &["post"]),
        ("/api/v1/account/password", &["post"]),
        ("/api/v1/account/totp", &["post", "delete"]),
        ("/api/v1/account/totp/confirm", &["post"]),
        ("/api/v1/account/tokens", &["get", "post"]),
        ("/api/v1/account/tokens/{id}", &["delete"]),
    ] {
        for method in methods {
            let operation = &paths[path][method];
            assert!(operation.is_object(), "{method} {path} is documented");
            let responses = operation["responses"].as_object().expect("responses");
            assert!(
                responses.keys().any(|status| status.starts_with('4')),
                "{method} {path} documents its errors"
            );
        }
    }
    let schemas = &document["components"]["schemas"];
    for schema in [
        "Account",
        "NewAccountBody",
        "Login",
        "IssuedApiToken",
        "RightName",
    ] {
        assert!(schemas[schema].is_object(), "schema {schema}");
    }
    let account = schemas["Account"].to_string();
    assert!(!account.contains("password"), "{account}");
}

/// 2031-01-01T00:00:00Z, far from the machine's clock.
const GATEWAY_TIME: i64 = 1_924_992_000;

/// The management API in-process over a gateway going by `clock`, with the owner created;
/// served as the daemon serves it (with the client's address).
async fn api_with_clock(
    clock: Arc<nuki_edge::clock::ManualClock>,
) -> (Arc<nuki_edge::gateway::Gateway>, ApiClient) {
    use nuki_edge::ble::sim::{RadioModel, SimTransport};
    use nuki_edge::devices::fleet::{Fleet, FleetConfig};
    use nuki_edge::gateway::Principal;

    let (transport, _control) = SimTransport::new(Vec::new(), RadioModel::default());
    let fleet = Fleet::start(Arc::new(transport), FleetConfig::default(), Vec::new());
    let gateway = common::core::gateway_with_clock(fleet, Duration::from_secs(4), clock);
    gateway
        .create_owner(
            &Principal::Local,
            OWNER_EMAIL.into(),
            "Owner".into(),
            OWNER_PASSWORD.into(),
        )
        .await
        .expect("owner created");
    let address =
        common::core::serve_like_the_daemon(nuki_edge::http::api::router(gateway.clone())).await;
    let client = ApiClient::new(&format!("http://{address}"), Auth::Nobody);
    (gateway, client)
}

/// A client guessing at many accounts is locked as a whole, by the gateway's clock.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_guessing_many_accounts_is_locked() {
    use nuki_edge::gateway::accounts::{LOCKOUT_SECONDS, MAX_CLIENT_FAILURES};

    let clock = nuki_edge::clock::ManualClock::at(GATEWAY_TIME);
    let (_gateway, client) = api_with_clock(clock.clone()).await;
    for n in 1..MAX_CLIENT_FAILURES {
        let (answer, _) = client
            .login(&format!("guess{n}@building.example"), "any password", None)
            .await;
        assert_error(&answer, 401, "login_failed");
    }
    let (locking, _) = client
        .login("guess@building.example", "any password", None)
        .await;
    assert_error(&locking, 429, "locked_out");
    let (owner, _) = client.login(OWNER_EMAIL, OWNER_PASSWORD, None).await;
    assert_error(&owner, 429, "locked_out");
    clock.advance(LOCKOUT_SECONDS);
    let (owner, _) = client.login(OWNER_EMAIL, OWNER_PASSWORD, None).await;
    assert_eq!(owner.status, 200, "{owner:?}");
}

/// The lockout ends and sessions expire by the gateway's clock, not the machine's.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lockouts_end_and_sessions_expire_by_the_gateway_clock() {
    use nuki_edge::gateway::accounts::{
        LOCKOUT_SECONDS, MAX_ACCOUNT_FAILURES, SESSION_ABSOLUTE_SECONDS, SESSION_IDLE_SECONDS,
    };

    let clock = nuki_edge::clock::ManualClock::at(GATEWAY_TIME);
    let (gateway, client) = api_with_clock(clock.clone()).await;

    for _ in 0..MAX_ACCOUNT_FAILURES {
        client.login(OWNER_EMAIL, "wrong password!", None).await;
    }
    let (locked, _) = client.login(OWNER_EMAIL, OWNER_PASSWORD, None).await;
    assert_error(&locked, 429, "locked_out");
    assert_eq!(
        locked.headers["retry-after"],
        LOCKOUT_SECONDS.to_string().as_str(),
        "by the gateway's clock"
    );
    clock.advance(LOCKOUT_SECONDS - 1);
    let (still, _) = client.login(OWNER_EMAIL, OWNER_PASSWORD, None).await;
    assert_error(&still, 429, "locked_out");
    assert_eq!(still.headers["retry-after"], "1");
    clock.advance(1);
    let (open, session) = client.login(OWNER_EMAIL, OWNER_PASSWORD, None).await;
    assert_eq!(open.status, 200, "{open:?}");
    let session = client.with_auth(Auth::Session(session.expect("session")));

    // Idle: each use keeps it alive, a pause of the idle limit ends it.
    clock.advance(SESSION_IDLE_SECONDS - 1);
    assert_eq!(session.get("/api/v1/account").await.status, 200);
    clock.advance(SESSION_IDLE_SECONDS - 1);
    assert_eq!(session.get("/api/v1/account").await.status, 200);
    clock.advance(SESSION_IDLE_SECONDS);
    assert_error(&session.get("/api/v1/account").await, 401, "unauthorized");

    // Absolute: however busy, a session ends after its lifetime.
    let (_, token) = client.login(OWNER_EMAIL, OWNER_PASSWORD, None).await;
    let busy = client.with_auth(Auth::Session(token.expect("session")));
    let mut elapsed = 0;
    while elapsed + SESSION_IDLE_SECONDS / 2 < SESSION_ABSOLUTE_SECONDS {
        clock.advance(SESSION_IDLE_SECONDS / 2);
        elapsed += SESSION_IDLE_SECONDS / 2;
        assert_eq!(
            busy.get("/api/v1/account").await.status,
            200,
            "after {elapsed} s"
        );
    }
    clock.advance(SESSION_ABSOLUTE_SECONDS - elapsed);
    assert_error(&busy.get("/api/v1/account").await, 401, "unauthorized");

    // Two-factor codes go by the gateway's clock too.
    let (_, token) = client.login(OWNER_EMAIL, OWNER_PASSWORD, None).await;
    let me = client.with_auth(Auth::Session(token.expect("session")));
    let enrolled = me.send(Method::POST, "/api/v1/account/totp", None).await;
    let secret = enrolled.body["secret"].as_str().expect("secret").to_owned();
    let now = gateway.now_unix();
    assert_error(
        &me.post(
            "/api/v1/account/totp/confirm",
            json!({ "code": totp_code(&secret, machine_now()) }),
        )
        .await,
        403,
        "wrong_code",
    );
    let confirmed = me
        .post(
            "/api/v1/account/totp/confirm",
            json!({ "code": totp_code(&secret, now) }),
        )
        .await;
    assert_eq!(confirmed.status, 200, "{confirmed:?}");
    let code = totp_code(&secret, now + 30);
    let (with, _) = client.login(OWNER_EMAIL, OWNER_PASSWORD, Some(&code)).await;
    assert_eq!(with.status, 200, "{with:?}");
    let (reused, _) = client.login(OWNER_EMAIL, OWNER_PASSWORD, Some(&code)).await;
    assert_error(&reused, 401, "login_failed");
    clock.advance(120);
    let (late, _) = client
        .login(
            OWNER_EMAIL,
            OWNER_PASSWORD,
            Some(&totp_code(&secret, now + 60)),
        )
        .await;
    assert_error(&late, 401, "login_failed");
}
