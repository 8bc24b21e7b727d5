#!/usr/bin/env bash
# Checks the static release binary end to end, and the container image where a container
# tool works:
#
#   scripts/check-release.sh             # builds it first with scripts/release.sh
#   scripts/check-release.sh BINARY      # checks a binary already built
#
# The binary: static (file, ldd, no NEEDED entry and no interpreter in readelf), `--version`,
# then `serve` in an empty temporary folder: /healthz, an access_token by curl and by the
# binary's own CLI through `localhost` and through a name from /etc/hosts (the static
# binary's resolver), SIGTERM, exit 0 and "stopped cleanly".
#
# The image (Dockerfile): built and run with podman, or docker with a running daemon, when
# one is installed; otherwise skipped, saying why. Where the base images cannot be pulled
# (no registry), a local stand-in is built for each (OPENMIDAS_IMAGE_STANDINS=0 skips
# instead): for the Rust image, Debian bookworm from debootstrap with this machine's Rust
# toolchain in the official image's layout; for distroless, `scratch`. The container then
# runs with a named volume: health check, /healthz and a token through the published port,
# the files on the volume belong to 65532, `stop` exits 0 cleanly, a restart keeps the
# admin token.
#
# Environment: OPENMIDAS_SKIP_IMAGE=1 skips the image; OPENMIDAS_CONTAINER_ENGINE=podman|
# docker picks the tool; OPENMIDAS_RUST_IMAGE / OPENMIDAS_RUNTIME_IMAGE replace the base
# images (e.g. a mirror); CARGO_TARGET_DIR and OPENMIDAS_STATIC reach scripts/release.sh.
#
# Ends with "check-release: N passed, N failed, N skipped"; exits 1 when anything failed.
set -uo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)

passed=0 failed=0 skipped=0
ok() { passed=$((passed + 1)); echo "check-release: ok: $*"; }
bad() { failed=$((failed + 1)); echo "check-release: FAILED: $*"; }
skip() { skipped=$((skipped + 1)); echo "check-release: skipped: $*"; }
note() { echo "check-release: $*"; }
finish() {
  echo "check-release: $passed passed, $failed failed, $skipped skipped"
  [ "$failed" -eq 0 ]
  exit
}

work=$(mktemp -d "${TMPDIR:-/tmp}/openmidas-check.XXXXXX")
server_pid=
engine=
E=()
container=
volume=
image_tag=
cleanup() {
  if [ -n "$server_pid" ] && kill -0 "$server_pid" 2>/dev/null; then
    kill -KILL "$server_pid" 2>/dev/null
    wait "$server_pid" 2>/dev/null
  fi
  if [ -n "$engine" ]; then
    [ -n "$container" ] && "${E[@]}" rm -f "$container" >/dev/null 2>&1
    [ -n "$volume" ] && "${E[@]}" volume rm -f "$volume" >/dev/null 2>&1
    [ -n "$image_tag" ] && "${E[@]}" rmi "$image_tag" >/dev/null 2>&1
  fi
  rm -rf "$work"
}
trap cleanup EXIT

for tool in curl readelf; do
  command -v "$tool" >/dev/null 2>&1 || { bad "$tool is missing (Debian: curl, binutils)"; finish; }
done

# ---- the binary -------------------------------------------------------------------------
if [ $# -ge 1 ]; then
  bin=$1
else
  note "building with scripts/release.sh"
  start=$(date +%s)
  bin=$(scripts/release.sh | tail -n 1) || { bad "scripts/release.sh failed"; finish; }
  note "release build: $(($(date +%s) - start)) s"
fi
case "$bin" in /*) ;; *) bin=$repo/$bin ;; esac
[ -x "$bin" ] || { bad "no executable at $bin"; finish; }
note "binary: $bin ($(du -h "$bin" | cut -f1))"

if command -v file >/dev/null 2>&1; then
  what=$(file -b "$bin")
  case "$what" in
    *"statically linked"* | *"static-pie linked"*) ok "file: $what" ;;
    *) bad "file does not call it static: $what" ;;
  esac
else
  skip "file is not installed (Debian: file)"
fi
# Each output is read whole before grep: with pipefail, grep -q closing the pipe early
# could make a match look like none.
dynamic=$(readelf -d "$bin" 2>&1)
program_headers=$(readelf -lW "$bin" 2>&1)
if grep -q '(NEEDED)' <<<"$dynamic"; then
  bad "readelf -d lists shared libraries: $(grep '(NEEDED)' <<<"$dynamic" | tr -s ' ' | tr '\n' ';')"
else
  ok "readelf -d: no NEEDED entry"
fi
if grep -q 'INTERP' <<<"$program_headers"; then
  bad "readelf -l: the binary asks for a program interpreter"
else
  ok "readelf -l: no program interpreter"
fi
if command -v ldd >/dev/null 2>&1; then
  lddout=$(ldd "$bin" 2>&1)
  case "$lddout" in
    *"not a dynamic executable"* | *"statically linked"*) ok "ldd: $(echo "$lddout" | tr -s ' \t' ' ' | sed 's/^ //')" ;;
    *) bad "ldd lists libraries: $(echo "$lddout" | tr '\n' ';')" ;;
  esac
fi

want_version=$(sed -n '/^\[workspace.package\]/,/^\[/s/^version *= *"\(.*\)"/\1/p' Cargo.toml | head -n 1)
got_version=$("$bin" --version 2>&1)
if [ "$got_version" = "openmidas $want_version" ]; then
  ok "--version: $got_version"
else
  bad "--version printed '$got_version', expected 'openmidas $want_version'"
fi

# The server in an empty folder, on a port of its choosing; nothing from the caller's
# environment may move its database or listen address.
mkdir "$work/serve"
(
  cd "$work/serve" &&
    exec env -u OPENMIDAS_DATABASE_URL -u OPENMIDAS_LISTEN -u OPENMIDAS_CONFIG -u OPENMIDAS_ADMIN_TOKEN \
      -u OPENMIDAS_MODE "$bin" serve --listen 127.0.0.1:0 >"$work/serve.out" 2>"$work/serve.err"
) &
server_pid=$!
addr=
for _ in $(seq 150); do
  addr=$(sed -n 's|^OpenMidas .* listening on http://\([0-9.]*:[0-9]*\)$|\1|p' "$work/serve.out" 2>/dev/null)
  [ -n "$addr" ] && break
  kill -0 "$server_pid" 2>/dev/null || break
  sleep 0.2
done
if [ -z "$addr" ]; then
  if kill -0 "$server_pid" 2>/dev/null; then
    bad "serve did not print its address within 30 s; its log:"
  else
    bad "serve exited before listening; its log:"
    server_pid=
  fi
  sed 's/^/  /' "$work/serve.err"
  finish
fi
port=${addr##*:}
ok "serve started in an empty folder, on $addr"

health=$(curl -sS --max-time 5 "http://$addr/healthz" 2>&1)
case "$health" in
  *'"status":"ok"'*) ok "GET /healthz: $health" ;;
  *) bad "GET /healthz answered: $health" ;;
esac
# The image's health probe is the binary itself.
if "$bin" healthcheck --addr "$addr" >/dev/null 2>"$work/healthcheck.err"; then
  ok "openmidas healthcheck --addr $addr: exit 0"
else
  bad "openmidas healthcheck --addr $addr failed: $(cat "$work/healthcheck.err")"
fi

# The demo app's credentials, from the banner's export line.
appid=$(sed -n 's/^export OPENMIDAS_APPID=\([^ ]*\) .*/\1/p' "$work/serve.out")
secret=$(sed -n 's/^export .* OPENMIDAS_SECRET=\([^ ]*\) .*/\1/p' "$work/serve.out")
if [ -z "$appid" ] || [ -z "$secret" ]; then
  bad "the banner has no demo app credentials"
else
  answer=$(curl -sS --max-time 5 "http://$addr/cgi-bin/token?grant_type=client_credential&appid=$appid&secret=$secret" 2>&1)
  case "$answer" in
    *'"access_token":"'*'"expires_in":'*) ok "GET /cgi-bin/token (curl): an access_token" ;;
    *) bad "GET /cgi-bin/token answered: $answer" ;;
  esac
  # The static binary's own resolver: `localhost`, then another name from /etc/hosts.
  cli_token() {
    OPENMIDAS_URL="http://$1:$port" OPENMIDAS_APPID=$appid OPENMIDAS_SECRET=$secret \
      timeout 20 "$bin" token 2>&1
  }
  out=$(cli_token localhost)
  case "$out" in
    *access_token:*) ok "openmidas token via http://localhost:$port" ;;
    *) bad "openmidas token via localhost: $out" ;;
  esac
  hosts_name=$(awk '$1 == "127.0.0.1" { for (i = 2; i <= NF; i++) if ($i != "localhost" && $i !~ /^#/) { print $i; exit } }' /etc/hosts 2>/dev/null)
  if [ -n "$hosts_name" ]; then
    out=$(cli_token "$hosts_name")
    case "$out" in
      *access_token:*) ok "openmidas token via http://$hosts_name:$port (a name from /etc/hosts)" ;;
      *) bad "openmidas token via $hosts_name (from /etc/hosts): $out" ;;
    esac
  else
    skip "/etc/hosts names no host on 127.0.0.1 but localhost"
  fi
fi

kill -TERM "$server_pid"
rc=
for _ in $(seq 100); do
  if ! kill -0 "$server_pid" 2>/dev/null; then
    wait "$server_pid"
    rc=$?
    break
  fi
  sleep 0.2
done
server_pid_was=$server_pid
server_pid=
if [ -z "$rc" ]; then
  kill -KILL "$server_pid_was" 2>/dev/null
  bad "serve still running 20 s after SIGTERM"
elif [ "$rc" -ne 0 ]; then
  bad "serve exited $rc after SIGTERM"
elif ! grep -q 'stopped cleanly' "$work/serve.err"; then
  bad "serve exited 0 but did not log 'stopped cleanly'"
else
  ok "SIGTERM: exit 0, stopped cleanly"
fi
[ -f "$work/serve/openmidas.db" ] && ok "the database is openmidas.db in the working folder" \
  || bad "no openmidas.db in the working folder"

# ---- the image ---------------------------------------------------------------------------
image_checks() {
  if [ "${OPENMIDAS_SKIP_IMAGE:-0}" = 1 ]; then
    skip "the image (OPENMIDAS_SKIP_IMAGE=1)"
    return
  fi
  local candidates=(podman docker)
  [ -n "${OPENMIDAS_CONTAINER_ENGINE:-}" ] && candidates=("$OPENMIDAS_CONTAINER_ENGINE")
  local why=() e
  for e in "${candidates[@]}"; do
    if ! command -v "$e" >/dev/null 2>&1; then
      why+=("$e is not installed")
    elif ! timeout 60 "$e" info >/dev/null 2>&1; then
      why+=("'$e info' fails (no daemon or no permission)")
    else
      engine=$e
      break
    fi
  done
  if [ -z "$engine" ]; then
    skip "the image: no container tool works here ($(IFS=';'; echo "${why[*]}"))"
    return
  fi
  note "container tool: $engine ($("$engine" --version 2>&1 | head -n 1))"

  local rust_image runtime_image
  rust_image=${OPENMIDAS_RUST_IMAGE:-$(sed -n 's/^ARG RUST_IMAGE=//p' Dockerfile)}
  runtime_image=${OPENMIDAS_RUNTIME_IMAGE:-$(sed -n 's/^ARG RUNTIME_IMAGE=//p' Dockerfile)}
  have_image() {
    [ "$1" = scratch ] && return 0
    "$engine" image inspect "$1" >/dev/null 2>&1 && return 0
    timeout 180 "$engine" pull -q "$1" >"$work/pull.log" 2>&1
  }
  if ! have_image "$runtime_image"; then
    if [ "${OPENMIDAS_IMAGE_STANDINS:-1}" = 0 ]; then
      skip "the image: cannot pull $runtime_image ($(tail -n 1 "$work/pull.log"))"
      return
    fi
    note "cannot pull $runtime_image ($(tail -n 1 "$work/pull.log")); standing in: scratch"
    runtime_image=scratch
  fi
  if ! have_image "$rust_image"; then
    if [ "${OPENMIDAS_IMAGE_STANDINS:-1}" = 0 ]; then
      skip "the image: cannot pull $rust_image ($(tail -n 1 "$work/pull.log"))"
      return
    fi
    local standin=localhost/openmidas-standin-rust:bookworm reason
    note "cannot pull $rust_image ($(tail -n 1 "$work/pull.log")); standing in: $standin"
    if ! "$engine" image inspect "$standin" >/dev/null 2>&1; then
      if ! reason=$(make_rust_standin "$standin"); then
        skip "the image: no Rust image and no stand-in for it ($reason)"
        return
      fi
    fi
    rust_image=$standin
  fi

  # Some sandboxes refuse what an OCI runtime does by default. The machine this was written
  # on: crun rejects its cgroups ("cgroups in hybrid mode not supported") and raising an
  # rlimit is not permitted (no CAP_SYS_RESOURCE), so podman's defaults (nofile 1048576)
  # fail. There, runc with rlimits below the current ones runs containers, and builds use
  # chroot isolation (no OCI runtime at all).
  E=("$engine")
  local build_extra=() run_extra=()
  if ! "${E[@]}" run --rm "$rust_image" true >"$work/probe.log" 2>&1; then
    local why_run nofile nproc
    why_run=$(grep -v '^$' "$work/probe.log" | tail -n 1)
    nofile=$(ulimit -Hn) nproc=$(ulimit -Hu)
    [ "$nofile" = unlimited ] && nofile=131072
    [ "$nproc" = unlimited ] && nproc=131072
    # Half the hard limit of processes was still refused here; 4096 is plenty for one server.
    [ "$((nproc / 2))" -gt 4096 ] && nproc=8192
    run_extra=(--ulimit "nofile=$((nofile / 2)):$((nofile / 2))" --ulimit "nproc=$((nproc / 2)):$((nproc / 2))")
    if [ "$engine" = podman ] && command -v runc >/dev/null 2>&1 &&
      podman --runtime runc run --rm "${run_extra[@]}" "$rust_image" true >"$work/probe.log" 2>&1; then
      note "podman run fails here with its defaults ($why_run); using runc with ${run_extra[*]}, and --isolation chroot to build"
      E=(podman --runtime runc)
      build_extra=(--isolation chroot)
    else
      [ "$engine" = podman ] && ! command -v runc >/dev/null 2>&1 && why_run="$why_run; runc is not installed to try instead"
      skip "the image: '$engine run' does not work here ($why_run)"
      return
    fi
  fi

  image_tag=localhost/openmidas:check-$$
  local build=("${E[@]}" build "${build_extra[@]}" -t "$image_tag" --build-arg "RUST_IMAGE=$rust_image" --build-arg "RUNTIME_IMAGE=$runtime_image")
  # podman's default OCI format drops HEALTHCHECK.
  [ "$engine" = podman ] && build+=(--format docker)
  note "building the image from $rust_image and $runtime_image"
  local start
  start=$(date +%s)
  if ! DOCKER_BUILDKIT=1 nice -n 10 "${build[@]}" . >"$work/build.log" 2>&1; then
    bad "$engine build failed; the end of its log:"
    tail -n 30 "$work/build.log" | sed 's/^/  /'
    image_tag=
    return
  fi
  ok "$engine build ($(($(date +%s) - start)) s)"
  local size
  size=$("${E[@]}" image inspect -f '{{.Size}}' "$image_tag" 2>/dev/null)
  note "image size: $((size / 1000000)) MB ($size bytes)"
  local user
  user=$("${E[@]}" image inspect -f '{{.Config.User}}' "$image_tag")
  [ "$user" = 65532:65532 ] && ok "the image runs as $user" || bad "the image runs as '$user'"
  local hc
  hc=$("${E[@]}" image inspect -f '{{if .Config.Healthcheck}}{{.Config.Healthcheck.Test}}{{end}}' "$image_tag" 2>/dev/null)
  case "$hc" in *healthcheck*) ok "HEALTHCHECK: $hc" ;; *) bad "no HEALTHCHECK in the image: '$hc'" ;; esac

  volume=openmidas-check-$$
  container=openmidas-check-$$
  "${E[@]}" volume create "$volume" >/dev/null || { bad "$engine volume create"; return; }
  if ! "${E[@]}" run -d "${run_extra[@]}" --name "$container" -p 127.0.0.1::8080 -v "$volume:/data" "$image_tag" >"$work/run.log" 2>&1; then
    bad "$engine run: $(tail -n 3 "$work/run.log")"
    return
  fi
  local hostport url=
  hostport=$("${E[@]}" port "$container" 8080 2>/dev/null | head -n 1)
  url="http://${hostport/0.0.0.0/127.0.0.1}"
  local health=
  for _ in $(seq 150); do
    health=$(curl -sS --max-time 2 "$url/healthz" 2>/dev/null) && break
    sleep 0.2
  done
  case "$health" in
    *'"status":"ok"'*) ok "container: GET /healthz through $hostport: $health" ;;
    *)
      bad "container: no /healthz answer through '$hostport'; its log:"
      "${E[@]}" logs "$container" 2>&1 | tail -n 20 | sed 's/^/  /'
      return
      ;;
  esac
  if [ "$engine" = podman ]; then
    "${E[@]}" healthcheck run "$container" >/dev/null 2>&1 && ok "container: podman healthcheck run: healthy" \
      || bad "container: podman healthcheck run: unhealthy"
  else
    local status=
    for _ in $(seq 40); do
      status=$(docker inspect -f '{{.State.Health.Status}}' "$container" 2>/dev/null)
      [ "$status" = healthy ] && break
      sleep 1
    done
    [ "$status" = healthy ] && ok "container: docker health status healthy" || bad "container: health status '$status'"
  fi
  local logs appid secret answer
  logs=$("${E[@]}" logs "$container" 2>&1)
  appid=$(sed -n 's/^export OPENMIDAS_APPID=\([^ ]*\) .*/\1/p' <<<"$logs")
  secret=$(sed -n 's/^export .* OPENMIDAS_SECRET=\([^ ]*\) .*/\1/p' <<<"$logs")
  answer=$(curl -sS --max-time 5 "$url/cgi-bin/token?grant_type=client_credential&appid=$appid&secret=$secret" 2>&1)
  case "$answer" in
    *'"access_token":"'*) ok "container: GET /cgi-bin/token: an access_token" ;;
    *) bad "container: GET /cgi-bin/token answered: $answer" ;;
  esac
  local listing
  listing=$("${E[@]}" exec "$container" /usr/local/bin/busybox ls -lna /data 2>&1)
  local others
  others=$(awk 'NR > 1 && $NF != ".." && ($3 != 65532 || $4 != 65532)' <<<"$listing")
  if grep -q 'openmidas.db$' <<<"$listing" && [ -z "$others" ]; then
    ok "container: /data and every file in it belong to 65532:65532, openmidas.db among them"
  else
    bad "container: /data is not as expected:"
    sed 's/^/  /' <<<"$listing"
  fi
  local token_before token_after code
  token_before=$(sed -n 's/^export OPENMIDAS_ADMIN_TOKEN=//p' <<<"$logs")
  "${E[@]}" stop -t 30 "$container" >/dev/null 2>&1
  code=$("${E[@]}" inspect -f '{{.State.ExitCode}}' "$container" 2>/dev/null)
  logs=$("${E[@]}" logs "$container" 2>&1)
  if [ "$code" = 0 ] && grep -q 'stopped cleanly' <<<"$logs"; then
    ok "container: stop (SIGTERM): exit 0, stopped cleanly"
  else
    bad "container: stop: exit code '$code'"
    "${E[@]}" logs "$container" 2>&1 | tail -n 5 | sed 's/^/  /'
  fi
  # A new container on the same volume (an upgrade is the same with a new image).
  "${E[@]}" rm "$container" >/dev/null 2>&1
  if "${E[@]}" run -d "${run_extra[@]}" --name "$container" -v "$volume:/data" "$image_tag" >"$work/run.log" 2>&1; then
    for _ in $(seq 100); do
      token_after=$("${E[@]}" logs "$container" 2>&1 | sed -n 's/^export OPENMIDAS_ADMIN_TOKEN=//p')
      [ -n "$token_after" ] && break
      sleep 0.2
    done
    if [ -n "$token_before" ] && [ "$token_before" = "$token_after" ]; then
      ok "container: a new container on the same volume keeps the database and admin token"
    else
      bad "container: a new container on the same volume has another admin token"
    fi
  else
    bad "container: second run: $(tail -n 3 "$work/run.log")"
  fi
}

# A stand-in for the official Rust image (docker.io/library/rust:*-slim-bookworm) where no
# registry can be reached: Debian bookworm (debootstrap, from Debian's mirror) with gcc and
# this machine's Rust toolchain in the same layout (RUSTUP_HOME=/usr/local/rustup,
# CARGO_HOME=/usr/local/cargo). Prints why on stdout when it cannot.
make_rust_standin() {
  local tag=$1 sysroot toolchain rustup_bin root
  if [ "$(id -u)" != 0 ]; then echo "needs root for debootstrap"; return 1; fi
  if ! command -v debootstrap >/dev/null 2>&1; then
    if command -v apt-get >/dev/null 2>&1; then
      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >"$work/apt.log" 2>&1 \
        || { echo "apt-get install debootstrap failed"; return 1; }
    else
      echo "no debootstrap"
      return 1
    fi
  fi
  sysroot=$(rustc --print sysroot 2>/dev/null) || { echo "no rustc"; return 1; }
  rustup_bin=$(command -v rustup) || { echo "no rustup"; return 1; }
  toolchain=$(basename "$(readlink -f "$sysroot")")
  root=$work/rootfs
  note "stand-in: debootstrap bookworm (a few minutes)" >&2
  if ! nice debootstrap --variant=minbase --include=ca-certificates,gcc,libc6-dev \
    bookworm "$root" http://deb.debian.org/debian >"$work/debootstrap.log" 2>&1; then
    echo "debootstrap failed: $(tail -n 1 "$work/debootstrap.log")"
    return 1
  fi
  mkdir -p "$root/usr/local/rustup/toolchains" "$root/usr/local/cargo/bin"
  # The toolchain without its documentation (half its size).
  tar -C "$(readlink -f "$sysroot")/.." --exclude="$toolchain/share/doc" -cf - "$toolchain" \
    | tar -C "$root/usr/local/rustup/toolchains" -xf -
  cp "$rustup_bin" "$root/usr/local/cargo/bin/rustup"
  local proxy
  for proxy in cargo rustc rustdoc rust-gdb rust-lldb cargo-clippy clippy-driver rustfmt cargo-fmt; do
    ln -sf rustup "$root/usr/local/cargo/bin/$proxy"
  done
  printf 'version = "12"\ndefault_toolchain = "%s"\nprofile = "minimal"\nauto_self_update = "disable"\n' \
    "$toolchain" >"$root/usr/local/rustup/settings.toml"
  # Trust what this machine trusts: where a TLS-inspecting proxy stands between it and
  # crates.io, its CA is among this machine's, and cargo in the build needs it too.
  if [ -d /usr/local/share/ca-certificates ]; then
    cp -R /usr/local/share/ca-certificates/. "$root/usr/local/share/ca-certificates/" 2>/dev/null
  fi
  [ -f /etc/ssl/certs/ca-certificates.crt ] && cp /etc/ssl/certs/ca-certificates.crt "$root/etc/ssl/certs/ca-certificates.crt"
  rm -rf "$root/var/cache/apt/archives/"*.deb "$root/var/lib/apt/lists/"*
  if ! tar -C "$root" -cf - . | "$engine" import \
    --change 'ENV RUSTUP_HOME=/usr/local/rustup' \
    --change 'ENV CARGO_HOME=/usr/local/cargo' \
    --change 'ENV PATH=/usr/local/cargo/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    - "$tag" >"$work/import.log" 2>&1; then
    echo "$engine import failed: $(tail -n 1 "$work/import.log")"
    return 1
  fi
  rm -rf "$root"
  note "stand-in: $tag (Debian bookworm, Rust $toolchain)" >&2
}

image_checks
finish
