//! Records when this binary was built (or `SOURCE_DATE_EPOCH` for reproducible builds), so
//! `nuki-edge doctor` can tell a system clock that is obviously wrong: one before the build.
//! Runs again only when this file or `SOURCE_DATE_EPOCH` changes, so the recorded time is a
//! lower bound of the build time and incremental builds stay byte-identical.

use std::time::{SystemTime, UNIX_EPOCH};

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-env-changed=SOURCE_DATE_EPOCH");
    let built = std::env::var("SOURCE_DATE_EPOCH")
        .ok()
        .and_then(|text| text.trim().parse::<u64>().ok())
        .unwrap_or_else(|| {
            SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |elapsed| elapsed.as_secs())
        });
    println!("cargo:rustc-env=NUKI_EDGE_BUILD_UNIX={built}");
}
