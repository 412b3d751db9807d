#!/usr/bin/env bash
# Builds target/debian/nuki-edge_<version>-1_<arch>.deb: the binary, the manual page
# generated from the command-line definition (`nuki-edge man`), the unit, the conffile.
#
#   packaging/build-deb.sh              release build (what to ship)
#   PROFILE=dev packaging/build-deb.sh  the debug build (quick; what the tests check)
#   NO_BUILD=1 …                        package the binary as built already
#
# Needs cargo-deb (`cargo install cargo-deb --locked`).
set -euo pipefail
cd "$(dirname "$0")/.."

PROFILE="${PROFILE:-release}"
case "$PROFILE" in
    release) out=release ;;
    dev) out=debug ;;
    *) echo "build-deb.sh: PROFILE must be release or dev" >&2; exit 2 ;;
esac

# NO_BUILD=1: package the binary already built (the tests run this inside `cargo test`,
# which holds cargo's build lock).
if [ "${NO_BUILD:-0}" != 1 ]; then
    cargo build --quiet --profile "$PROFILE" --bin nuki-edge
fi
mkdir -p target/man
"target/$out/nuki-edge" man | gzip -9n > target/man/nuki-edge.1.gz
cargo deb --no-build --profile "$PROFILE" --output target/debian/ "$@"
