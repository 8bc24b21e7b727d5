#!/usr/bin/env bash
# Builds a statically linked release binary of `openmidas` and prints its path (the last
# line of stdout; everything else goes to stderr).
#
#   scripts/release.sh                 # musl if it can be had, else static glibc
#   OPENMIDAS_STATIC=musl scripts/release.sh   # musl or fail
#   OPENMIDAS_STATIC=glibc scripts/release.sh  # static glibc (see docs/packaging.md for
#                                              # its DNS limitation)
#
# musl (x86_64-unknown-linux-musl) is preferred: its getaddrinfo reads /etc/hosts and
# /etc/resolv.conf itself, so the binary resolves hostnames anywhere, even in an empty
# image. It needs the Rust target (`rustup target add x86_64-unknown-linux-musl`, tried
# once here) and a musl C compiler for SQLite and mimalloc (Debian: musl-tools, installed
# here when missing and apt-get is there). When either cannot be had, the fallback is glibc
# with crt-static, whose getaddrinfo loads NSS modules at run time (docs/packaging.md).
#
# Environment:
#   CARGO_TARGET_DIR   where to build (default: target/ of the repository). The static
#                      builds land under target/<triple>/, apart from the dev builds, but
#                      share cargo's lock on the folder; use a folder of their own
#                      (e.g. CARGO_TARGET_DIR=/work/target-release) beside a dev build.
#   OPENMIDAS_STATIC   auto (default), musl or glibc.
#   OPENMIDAS_RELEASE_DEBUGINFO=1  keep the release profile's debug info (debug = 1 in
#                      Cargo.toml, for profiling); by default it is left out, and the
#                      symbol table kept, so backtraces still name functions.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)

want=${OPENMIDAS_STATIC:-auto}
case "$want" in auto | musl | glibc) ;; *) echo "release: OPENMIDAS_STATIC must be auto, musl or glibc" >&2; exit 2 ;; esac

log() { echo "release: $*" >&2; }

musl_target=x86_64-unknown-linux-musl
gnu_target=x86_64-unknown-linux-gnu

have_musl_target() {
  local installed
  installed=$(rustup target list --installed 2>/dev/null) || return 1
  grep -qx "$musl_target" <<<"$installed"
}

musl_ready() {
  if ! have_musl_target; then
    if command -v rustup >/dev/null 2>&1; then
      log "adding the Rust target $musl_target"
      timeout 600 rustup target add "$musl_target" >&2 || true
    fi
    have_musl_target || { log "the Rust target $musl_target cannot be had"; return 1; }
  fi
  if ! command -v musl-gcc >/dev/null 2>&1; then
    if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
      log "installing musl-tools (musl-gcc, for SQLite and mimalloc)"
      export DEBIAN_FRONTEND=noninteractive
      { apt-get update -qq && apt-get install -y -qq --no-install-recommends musl-tools; } >&2 || true
    fi
    command -v musl-gcc >/dev/null 2>&1 || { log "no musl-gcc (Debian: apt-get install musl-tools)"; return 1; }
  fi
}

kind=
case "$want" in
  musl) musl_ready || { log "musl was asked for and cannot be built here"; exit 1; }; kind=musl ;;
  glibc) kind=glibc ;;
  auto) if musl_ready; then kind=musl; else log "falling back to static glibc"; kind=glibc; fi ;;
esac

if [ "${OPENMIDAS_RELEASE_DEBUGINFO:-0}" != 1 ]; then
  export CARGO_PROFILE_RELEASE_DEBUG=0
  export CARGO_PROFILE_RELEASE_STRIP=debuginfo
fi

target_dir=${CARGO_TARGET_DIR:-$repo/target}
export CARGO_TARGET_DIR=$target_dir

start=$(date +%s)
if [ "$kind" = musl ]; then
  triple=$musl_target
  # rustc links musl targets statically (crt-static is their default); the C parts of
  # libsqlite3-sys and libmimalloc-sys are compiled by musl-gcc.
  export CC_x86_64_unknown_linux_musl=${CC_x86_64_unknown_linux_musl:-musl-gcc}
  export CARGO_TARGET_X86_64_UNKNOWN_LINUX_MUSL_RUSTFLAGS="${CARGO_TARGET_X86_64_UNKNOWN_LINUX_MUSL_RUSTFLAGS:-} -C target-feature=+crt-static"
else
  triple=$gnu_target
  # Only the target's RUSTFLAGS: build scripts and proc macros stay dynamic (with
  # --target, RUSTFLAGS from this variable do not reach them).
  export CARGO_TARGET_X86_64_UNKNOWN_LINUX_GNU_RUSTFLAGS="${CARGO_TARGET_X86_64_UNKNOWN_LINUX_GNU_RUSTFLAGS:-} -C target-feature=+crt-static"
fi
# RUSTFLAGS, when set, wins over the target's variable above: add crt-static to it too.
if [ -n "${RUSTFLAGS:-}" ]; then export RUSTFLAGS="$RUSTFLAGS -C target-feature=+crt-static"; fi
log "building openmidas for $triple (static, $kind) in $target_dir"
cargo build --release --locked --target "$triple" -p openmidas >&2

bin=$target_dir/$triple/release/openmidas
[ -x "$bin" ] || { log "no binary at $bin"; exit 1; }
if command -v readelf >/dev/null 2>&1; then
  # Read whole before grep: with pipefail, grep -q closing the pipe early would hide a match.
  needed=$(readelf -d "$bin" 2>/dev/null | grep '(NEEDED)' || true)
  if [ -n "$needed" ]; then
    log "$bin is not static:"
    echo "$needed" >&2
    exit 1
  fi
fi
log "built in $(( $(date +%s) - start )) s: $(du -h "$bin" | cut -f1) ($kind)"
echo "$bin"
