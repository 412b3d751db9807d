//! A real HTTP server that receives the Bridge API's callback POSTs, as a home-automation
//! system does.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;

pub struct CallbackReceiver {
    url: String,
    received: Arc<Mutex<Vec<Value>>>,
}

impl CallbackReceiver {
    /// Listens on any free port at `/hook`; serves until the test's runtime ends.
    pub async fn start() -> Self {
        let received: Arc<Mutex<Vec<Value>>> = Arc::default();
        let router = {
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
        let url = format!("http://{}/hook", listener.local_addr().expect("address"));
        tokio::spawn(async move { axum::serve(listener, router).await });
        Self { url, received }
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    /// Every body received so far, in arrival order.
    pub fn received(&self) -> Vec<Value> {
        self.received.lock().expect("lock").clone()
    }

    /// The first body `matches` accepts; panics when none arrives within `within` (a hang
    /// guard, not a timing check).
    pub async fn wait_for(&self, within: Duration, matches: impl Fn(&Value) -> bool) -> Value {
        let deadline = Instant::now() + within;
        loop {
            if let Some(body) = self.received().into_iter().find(|body| matches(body)) {
                return body;
            }
            assert!(
                Instant::now() < deadline,
                "no matching callback; received: {:?}",
                self.received()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}
