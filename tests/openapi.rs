//! The OpenAPI document tells the truth about the management API: every route it lists is
//! served (and only with the methods it lists), every route the server has is in it, every
//! schema it refers to is defined, and it is OpenAPI 3.1.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use nuki_edge::ble::sim::{RadioModel, SimTransport};
use nuki_edge::devices::fleet::{Fleet, FleetConfig};
use nuki_edge::http::api::{NO_ROUTE, OPENAPI_PATH};
use serde_json::Value;

const METHODS: [&str; 5] = ["get", "post", "put", "patch", "delete"];
const DEADLINE: Duration = Duration::from_secs(5);

/// The management API as the daemon serves it, over an empty fleet.
async fn served() -> String {
    let (transport, _control) = SimTransport::new(Vec::new(), RadioModel::default());
    let fleet = Fleet::start(Arc::new(transport), FleetConfig::default(), Vec::new());
    let gateway = common::core::gateway_over(fleet, DEADLINE);
    let address = common::core::serve_like_the_daemon(nuki_edge::http::api::router(gateway)).await;
    format!("http://{address}")
}

/// Every `(method, path)` the document lists.
fn operations(document: &Value) -> BTreeMap<String, BTreeSet<String>> {
    document["paths"]
        .as_object()
        .expect("paths")
        .iter()
        .map(|(path, item)| {
            let methods = METHODS
                .iter()
                .filter(|method| item.get(**method).is_some())
                .map(|method| method.to_string())
                .collect();
            (path.clone(), methods)
        })
        .collect()
}

/// A concrete path for a templated one (each parameter filled with a well-formed id).
fn concrete(path: &str) -> String {
    path.split('/')
        .map(|segment| {
            if segment.starts_with('{') {
                "1"
            } else {
                segment
            }
        })
        .collect::<Vec<_>>()
        .join("/")
}

async fn send(client: &reqwest::Client, base: &str, method: &str, path: &str) -> (u16, Value) {
    let method = reqwest::Method::from_bytes(method.to_uppercase().as_bytes()).expect("method");
    let response = client
        .request(method, format!("{base}{path}"))
        .send()
        .await
        .expect("request");
    let status = response.status().as_u16();
    let body = response.json::<Value>().await.unwrap_or(Value::Null);
    (status, body)
}

async fn document(base: &str) -> Value {
    let (status, document) = send(&reqwest::Client::new(), base, "get", OPENAPI_PATH).await;
    assert_eq!(status, 200);
    document
}

#[tokio::test]
async fn the_served_document_is_the_generated_one_and_is_openapi_3_1() {
    let base = served().await;
    let document = document(&base).await;
    let generated = serde_json::to_value(nuki_edge::http::api::openapi()).expect("JSON");
    assert_eq!(document, generated);
    assert!(
        document["openapi"]
            .as_str()
            .is_some_and(|v| v.starts_with("3.1.")),
        "{}",
        document["openapi"]
    );
    assert!(document["info"]["title"].is_string());
    assert!(document["info"]["version"].is_string());
    let schemes = &document["components"]["securitySchemes"];
    assert!(schemes["bearer"].is_object() && schemes["session"].is_object());
}

/// Every `$ref` in the document, with where it was found.
fn references(value: &Value, at: &str, found: &mut Vec<(String, String)>) {
    match value {
        Value::Object(map) => {
            for (key, inner) in map {
                if key == "$ref" {
                    if let Some(target) = inner.as_str() {
                        found.push((target.to_owned(), at.to_owned()));
                    }
                } else {
                    references(inner, &format!("{at}/{key}"), found);
                }
            }
        }
        Value::Array(items) => {
            for (index, inner) in items.iter().enumerate() {
                references(inner, &format!("{at}/{index}"), found);
            }
        }
        _ => {}
    }
}

#[tokio::test]
async fn every_referenced_schema_is_defined_and_every_operation_is_described() {
    let document = serde_json::to_value(nuki_edge::http::api::openapi()).expect("JSON");
    let mut found = Vec::new();
    references(&document, "#", &mut found);
    assert!(!found.is_empty());
    let schemas = document["components"]["schemas"]
        .as_object()
        .expect("schemas");
    for (target, at) in &found {
        let name = target
            .strip_prefix("#/components/schemas/")
            .unwrap_or_else(|| panic!("{at}: reference outside the components: {target}"));
        assert!(schemas.contains_key(name), "{at}: {target} is not defined");
    }
    for (path, item) in document["paths"].as_object().expect("paths") {
        assert!(path.starts_with("/api/v1/"), "{path}");
        for method in METHODS {
            let Some(operation) = item.get(method) else {
                continue;
            };
            let responses = operation["responses"].as_object().expect("responses");
            assert!(
                responses.keys().any(|status| status.starts_with('2')),
                "{method} {path} documents no success"
            );
            let secured = operation["security"]
                .as_array()
                .is_some_and(|s| !s.is_empty());
            if secured {
                assert!(responses.contains_key("401"), "{method} {path} lacks 401");
                for status in responses.keys().filter(|s| s.starts_with('4')) {
                    let schema = &responses[status]["content"]["application/json"]["schema"];
                    assert_eq!(
                        schema["$ref"], "#/components/schemas/ErrorBody",
                        "{method} {path} {status} is not the error shape"
                    );
                }
            }
            // Every `{param}` of the path is declared as a path parameter.
            let declared: BTreeSet<&str> = operation["parameters"]
                .as_array()
                .map(|parameters| {
                    parameters
                        .iter()
                        .filter(|p| p["in"] == "path")
                        .filter_map(|p| p["name"].as_str())
                        .collect()
                })
                .unwrap_or_default();
            let in_path: BTreeSet<&str> = path
                .split('/')
                .filter_map(|s| s.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
                .collect();
            assert_eq!(declared, in_path, "{method} {path}: path parameters");
            if let Some(body) = operation.get("requestBody") {
                assert!(
                    body["content"]["application/json"]["schema"].is_object(),
                    "{method} {path}: request body without a JSON schema"
                );
                assert!(responses.contains_key("422"), "{method} {path} lacks 422");
                assert!(responses.contains_key("413"), "{method} {path} lacks 413");
            }
        }
    }
}

#[tokio::test]
async fn the_document_lists_exactly_the_routes_the_server_has() {
    let base = served().await;
    let document = document(&base).await;
    let client = reqwest::Client::new();
    let listed = operations(&document);
    assert!(listed.len() > 10, "{listed:?}");
    for (path, methods) in &listed {
        let url_path = concrete(path);
        for method in METHODS {
            let (status, body) = send(&client, &base, method, &url_path).await;
            if methods.contains(method) {
                assert!(
                    !(status == 404 && body["error"]["code"] == NO_ROUTE),
                    "{method} {path} is documented but not routed"
                );
                assert_ne!(status, 405, "{method} {path} is documented but not routed");
            } else {
                assert_eq!(
                    status, 405,
                    "{method} {path} is routed but not documented ({body})"
                );
                assert_eq!(body["error"]["code"], "method_not_allowed", "{body}");
            }
        }
        // Every shorter path on the way there is either documented or not routed at all.
        let segments: Vec<&str> = url_path.split('/').collect();
        for end in 4..segments.len() {
            let prefix = segments[..end].join("/");
            if listed.keys().any(|p| concrete(p) == prefix) {
                continue;
            }
            for method in METHODS {
                let (status, body) = send(&client, &base, method, &prefix).await;
                assert_eq!(
                    (status, body["error"]["code"].as_str()),
                    (404, Some(NO_ROUTE)),
                    "{method} {prefix} answers but is not documented"
                );
            }
        }
    }
}

/// Routes outside `routes!` would be in the router but not in the document: the management
/// API's sources add none but the catch-all for unknown paths, and merge only parts that are
/// themselves `OpenApiRouter`s (a `routes()` function of their own).
#[test]
fn every_route_is_registered_with_its_description() {
    let folder = concat!(env!("CARGO_MANIFEST_DIR"), "/src/http/api");
    let mut sources = Vec::new();
    let mut folders = vec![std::path::PathBuf::from(folder)];
    while let Some(folder) = folders.pop() {
        for entry in std::fs::read_dir(&folder).expect("api sources") {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                folders.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                sources.push(path);
            }
        }
    }
    let mut handlers = 0;
    for source in sources {
        let text = std::fs::read_to_string(&source).expect("source");
        for (number, line) in text.lines().enumerate() {
            let line = line.trim();
            let at = format!("{}:{}", source.display(), number + 1);
            let adds_route = [".route(", ".nest(", ".route_service(", ".nest_service("]
                .iter()
                .any(|call| line.contains(call));
            let catch_all = line.contains(r#".route("/api/v1/{*rest}""#);
            assert!(
                !adds_route || catch_all,
                "{at}: a route added outside `routes!` is missing from the document: {line}"
            );
            if line.contains(".merge(") {
                assert!(
                    line.contains("::routes())"),
                    "{at}: only parts built with `routes!` may be merged: {line}"
                );
            }
            if line.contains("fn routes()") {
                assert!(
                    line.contains("-> OpenApiRouter<"),
                    "{at}: a part's routes must be an OpenApiRouter: {line}"
                );
            }
        }
        handlers += text.matches("#[utoipa::path(").count();
    }
    let document = serde_json::to_value(nuki_edge::http::api::openapi()).expect("JSON");
    let documented: usize = operations(&document).values().map(BTreeSet::len).sum();
    assert_eq!(
        handlers, documented,
        "every described handler is registered, and only those"
    );
}
