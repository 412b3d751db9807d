#!/usr/bin/env bash
# Proves the Debian package: builds it (packaging/build-deb.sh), runs lintian (no errors
# allowed), then installs, removes and purges it in a throw-away root and checks what each
# step leaves: the service user, the private state directory, the conffile and its mode, a
# store that survives removal and goes with the purge.
#
# The throw-away root is a chroot whose /usr is an overlay over the host's /usr (the
# maintainer scripts need sh, adduser, dpkg-statoverride), built in a private mount
# namespace (`unshare --mount`), so nothing of it is visible outside or outlives the script.
# Needs root, cargo-deb, dpkg, lintian and unshare; exits 77 (skipped) naming what is missing.
#
#   PROFILE=dev packaging/check-deb.sh     check the debug build (quick)
#   packaging/check-deb.sh                 check the release build
set -euo pipefail
cd "$(dirname "$0")/.."

SKIP=77
skip() {
    echo "check-deb.sh: skipped: $*"
    exit "$SKIP"
}
fail() {
    echo "check-deb.sh: FAILED: $*" >&2
    exit 1
}

if [ "${1:-}" != "--in-namespace" ]; then
    cargo deb --version >/dev/null 2>&1 || skip "cargo-deb not installed (cargo install cargo-deb --locked)"
    for tool in dpkg dpkg-deb lintian unshare; do
        command -v "$tool" >/dev/null 2>&1 || skip "$tool not installed"
    done
    [ "$(id -u)" -eq 0 ] || skip "installing into a throw-away root needs root"

    echo "== building the package"
    rm -f target/debian/nuki-edge_*.deb
    packaging/build-deb.sh >/dev/null
    deb=$(ls target/debian/nuki-edge_*.deb)

    echo "== lintian $deb"
    # Errors fail the check; warnings and notes are shown.
    lintian --fail-on error "$deb" || fail "lintian reports errors"

    echo "== install, remove, purge in a throw-away root"
    unshare --mount --propagation private "$0" --in-namespace "$deb" \
        || fail "the throw-away root check failed (see above)"
    echo "check-deb.sh: OK"
    exit 0
fi

# From here on: inside the private mount namespace.
deb=$(realpath "$2")
work=$(mktemp -d)
root="$work/root"
trap 'umount -R "$root/usr" "$root/dev" 2>/dev/null || true; rm -rf "$work"' EXIT

mkdir -p "$root"/{usr,etc,dev,tmp,run,var/lib/dpkg/info,var/lib/dpkg/updates} "$work"/{upper,overlay-work}
chmod 1777 "$root/tmp"
mount -t overlay overlay -o "lowerdir=/usr,upperdir=$work/upper,workdir=$work/overlay-work" "$root/usr" \
    || { echo "check-deb.sh: skipped: cannot mount an overlay here"; exit "$SKIP"; }
mount --bind /dev "$root/dev"
# Debian's merged /usr: the top-level directories are links into it.
for link in bin sbin lib lib64; do
    if [ -L "/$link" ]; then
        ln -s "$(readlink "/$link")" "$root/$link"
    fi
done
for file in passwd group shadow gshadow adduser.conf deluser.conf nsswitch.conf login.defs \
    ld.so.cache ld.so.conf pam.conf shells; do
    if [ -e "/etc/$file" ]; then
        cp -a "/etc/$file" "$root/etc/"
    fi
done
for dir in alternatives ld.so.conf.d pam.d security; do
    if [ -d "/etc/$dir" ]; then
        cp -a "/etc/$dir" "$root/etc/"
    fi
done
touch "$root/var/lib/dpkg/status" "$root/var/lib/dpkg/available"

in_root() { chroot "$root" "$@"; }
mode_owner() { stat -c '%a %u:%g' "$root$1"; }
id_of() { awk -F: -v name="$2" '$1 == name { print $3 }' "$root/etc/$1"; }
check() {
    local what=$1 expected=$2 actual=$3
    if [ "$expected" != "$actual" ]; then
        fail "$what: expected '$expected', found '$actual'"
    fi
    echo "ok: $what ($actual)"
}

# The host's Depends (libc6, adduser) are there through /usr, not in this root's database.
dpkg --root="$root" --force-depends -i "$deb" >/dev/null

uid=$(id_of passwd nuki-edge)
gid=$(id_of group nuki-edge)
[ -n "$uid" ] || fail "install: no nuki-edge user"
check "service user is a system user" yes "$( [ "$uid" -lt 1000 ] && echo yes || echo no)"
grep -q "^bluetooth:.*nuki-edge" "$root/etc/group" || fail "install: nuki-edge is not in group bluetooth"
echo "ok: nuki-edge is in group bluetooth"
check "state directory" "700 $uid:$gid" "$(mode_owner /var/lib/nuki-edge)"
check "configuration directory" "750 0:$gid" "$(mode_owner /etc/nuki-edge)"
check "conffile" "640 0:$gid" "$(mode_owner /etc/nuki-edge/nuki-edge.toml)"
dpkg-query --admindir="$root/var/lib/dpkg" -W -f='${Conffiles}\n' nuki-edge \
    | grep -q "/etc/nuki-edge/nuki-edge.toml" || fail "install: the configuration is no conffile"
echo "ok: /etc/nuki-edge/nuki-edge.toml is a conffile"
for file in usr/bin/nuki-edge usr/share/man/man1/nuki-edge.1.gz \
    usr/share/doc/nuki-edge/changelog.Debian.gz usr/lib/systemd/system/nuki-edge.service; do
    [ -e "$root/$file" ] || fail "install: /$file missing"
done
echo "ok: binary, manual page, changelog and unit installed"
in_root /usr/bin/nuki-edge check-config /etc/nuki-edge/nuki-edge.toml >/dev/null \
    || fail "install: the installed binary rejects the installed configuration"
echo "ok: the installed binary accepts the installed configuration"

# A store with pairings, as the daemon would have written it.
echo "pairing keys" > "$root/var/lib/nuki-edge/nuki-edge.redb"
chmod 600 "$root/var/lib/nuki-edge/nuki-edge.redb"

dpkg --root="$root" -r nuki-edge >/dev/null
[ ! -e "$root/usr/bin/nuki-edge" ] || fail "remove: the binary is still there"
[ -f "$root/var/lib/nuki-edge/nuki-edge.redb" ] || fail "remove: the store was deleted"
echo "ok: removal keeps the store"
[ -f "$root/etc/nuki-edge/nuki-edge.toml" ] || fail "remove: the configuration was deleted"
echo "ok: removal keeps the configuration"

dpkg --root="$root" -P nuki-edge >/dev/null
[ ! -e "$root/var/lib/nuki-edge" ] || fail "purge: the state directory is still there"
[ ! -e "$root/etc/nuki-edge" ] || fail "purge: /etc/nuki-edge is still there"
[ ! -s "$root/var/lib/dpkg/statoverride" ] || fail "purge: permission overrides left: $(cat "$root/var/lib/dpkg/statoverride")"
echo "ok: purge deletes the store, the configuration and the overrides"
