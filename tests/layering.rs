//! The layers of `src/` depend downward only: the interfaces reach devices through the
//! gateway and never import the fleet's types, the protocol is pure, and no lower layer
//! reaches up. A `use` (or path) that breaks a rule fails this test with the file and line.

use std::path::{Path, PathBuf};

/// Interfaces: they talk to `gateway` with the principal who asks, never to `devices`.
const INTERFACES: &[&str] = &["http", "mqtt", "cloud", "web"];

struct Rule {
    layer: &'static str,
    forbidden: &'static [&'static str],
    why: &'static str,
}

const RULES: &[Rule] = &[
    Rule {
        layer: "nuki",
        forbidden: &[
            "tokio",
            "std::fs",
            "std::net",
            "crate::ble",
            "crate::devices",
            "crate::store",
            "crate::gateway",
            "crate::http",
            "crate::app",
        ],
        why: "the protocol is pure: no I/O, no tokio, nothing above it",
    },
    Rule {
        layer: "ble",
        forbidden: &[
            "crate::devices",
            "crate::store",
            "crate::gateway",
            "crate::http",
            "crate::app",
        ],
        why: "the radios know nothing of the fleet or above",
    },
    Rule {
        layer: "devices",
        forbidden: &[
            "crate::store",
            "crate::gateway",
            "crate::http",
            "crate::app",
        ],
        why: "the fleet knows nothing of storage, rules or interfaces",
    },
    Rule {
        layer: "store",
        forbidden: &[
            "crate::devices",
            "crate::gateway",
            "crate::http",
            "crate::app",
        ],
        why: "storage keeps typed records, not fleet or interface types",
    },
    Rule {
        layer: "gateway",
        forbidden: &["crate::http", "crate::app", "crate::events"],
        why: "the core does not know which interface asked",
    },
    Rule {
        layer: "events",
        forbidden: &["crate::devices", "crate::http", "crate::mqtt", "crate::app"],
        why: "the activity log hears the gateway's bus and serves the interfaces above it",
    },
    Rule {
        layer: "mqtt",
        forbidden: &["crate::http", "crate::app"],
        why: "interfaces stand side by side: what two of them share lives below both",
    },
    Rule {
        layer: "http",
        forbidden: &["crate::mqtt", "crate::app"],
        why: "interfaces stand side by side: what two of them share lives below both",
    },
];

fn source_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

fn rust_files(directory: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let Ok(entries) = std::fs::read_dir(directory) else {
        return files;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            files.extend(rust_files(&path));
        } else if path.extension().is_some_and(|e| e == "rs") {
            files.push(path);
        }
    }
    files
}

/// The files of a layer: its folder and its `layer.rs` module file, if any.
fn layer_files(layer: &str) -> Vec<PathBuf> {
    let root = source_root();
    let mut files = rust_files(&root.join(layer));
    let module_file = root.join(format!("{layer}.rs"));
    if module_file.is_file() {
        files.push(module_file);
    }
    files
}

/// Every code line (comments skipped) of `files` that mentions one of `forbidden`.
fn violations(files: &[PathBuf], forbidden: &[&str]) -> Vec<String> {
    let mut found = Vec::new();
    for file in files {
        let text = std::fs::read_to_string(file).expect("source file readable");
        for (number, line) in text.lines().enumerate() {
            let code = line.split("//").next().unwrap_or_default();
            for path in forbidden {
                let mentions = code.match_indices(path).any(|(at, _)| {
                    !code[..at].ends_with(|c: char| c.is_alphanumeric() || c == '_')
                });
                if mentions {
                    found.push(format!(
                        "{}:{}: {}",
                        file.strip_prefix(source_root()).unwrap_or(file).display(),
                        number + 1,
                        line.trim()
                    ));
                }
            }
        }
    }
    found
}

#[test]
fn interfaces_never_import_the_fleet() {
    let files: Vec<PathBuf> = INTERFACES
        .iter()
        .flat_map(|layer| layer_files(layer))
        .collect();
    assert!(!files.is_empty(), "the HTTP interface exists");
    let found = violations(
        &files,
        &["crate::devices", "nuki_edge::devices", "super::devices"],
    );
    assert!(
        found.is_empty(),
        "interfaces reach devices only through the gateway, with the principal who asks:\n{}",
        found.join("\n")
    );
}

#[test]
fn lower_layers_never_reach_up() {
    let mut report = Vec::new();
    for rule in RULES {
        let files = layer_files(rule.layer);
        assert!(!files.is_empty(), "layer {} exists", rule.layer);
        let found = violations(&files, rule.forbidden);
        if !found.is_empty() {
            report.push(format!(
                "{} ({}):\n{}",
                rule.layer,
                rule.why,
                found.join("\n")
            ));
        }
    }
    assert!(report.is_empty(), "{}", report.join("\n\n"));
}

#[test]
fn the_checker_finds_a_forbidden_import() {
    let directory = tempfile::tempdir().expect("tempdir");
    let file = directory.path().join("bad.rs");
    std::fs::write(
        &file,
        "// crate::devices in a comment is fine\nuse crate::devices::fleet::Fleet;\nuse my_crate::devices_extra;\n",
    )
    .expect("write");
    let found = violations(&[file], &["crate::devices"]);
    assert_eq!(found.len(), 1, "{found:?}");
    assert!(
        found[0].ends_with("use crate::devices::fleet::Fleet;"),
        "{found:?}"
    );
}
