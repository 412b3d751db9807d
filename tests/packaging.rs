//! The Debian package: `packaging/check-deb.sh` builds it from the binary under test, runs
//! lintian and installs, removes and purges it in a throw-away root. It needs root, cargo-deb,
//! dpkg, lintian and unshare (`.ci/test` installs what is missing); without them the test
//! says what is missing and passes. The manual page and the maintainer scripts are checked
//! everywhere.

mod common;

use std::process::Command;

use common::cli::{run_guarded, stdout};

const MANIFEST_DIR: &str = env!("CARGO_MANIFEST_DIR");
/// check-deb.sh's exit code when a tool or a permission it needs is missing.
const SKIPPED: i32 = 77;

#[test]
fn the_package_passes_lintian_and_installs_removes_and_purges_in_a_throwaway_root() {
    let output = Command::new(format!("{MANIFEST_DIR}/packaging/check-deb.sh"))
        .current_dir(MANIFEST_DIR)
        // The binary this test run built; `cargo test` holds the build lock meanwhile.
        .env("PROFILE", "dev")
        .env("NO_BUILD", "1")
        .output()
        .expect("check-deb.sh runs");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    match output.status.code() {
        Some(0) => {
            for step in [
                "ok: state directory",
                "ok: conffile",
                "ok: removal keeps the store",
                "ok: purge deletes the store",
            ] {
                assert!(text.contains(step), "{step} in:\n{text}");
            }
        }
        Some(SKIPPED) => println!("{}", text.trim()),
        code => panic!("check-deb.sh exited {code:?}:\n{text}"),
    }
}

#[test]
fn the_manual_page_is_generated_from_the_command_line() {
    let output = run_guarded(&["man"]);
    assert_eq!(output.status.code(), Some(0));
    let page = stdout(&output);
    assert!(page.contains(".TH nuki-edge 1"), "{page}");
    for command in ["run", "doctor", "pair", "store"] {
        assert!(page.contains(command), "{command} in the manual page");
    }
    let help = stdout(&run_guarded(&["--help"]));
    assert!(
        !help.contains(" man "),
        "`man` is a hidden command:\n{help}"
    );
}

#[test]
fn the_maintainer_scripts_are_valid_shell() {
    for (shell, script) in [
        ("sh", "postinst"),
        ("sh", "postrm"),
        ("bash", "check-deb.sh"),
        ("bash", "build-deb.sh"),
    ] {
        let path = format!("{MANIFEST_DIR}/packaging/{script}");
        let status = Command::new(shell)
            .args(["-n", &path])
            .status()
            .expect(shell);
        assert!(status.success(), "{script}");
    }
}
