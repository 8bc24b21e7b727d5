#!/usr/bin/env bash
# What the PostgreSQL tests need on a machine: the server binaries (initdb, pg_ctl,
# postgres) and, when the tests run as root, the `postgres` user to run them as. The test
# harness (crates/openmidas-testkit/src/postgres.rs) starts and stops its own throwaway
# cluster; nothing needs to be running and no service is started here.
#
# Idempotent: installs only what is missing (Debian/Ubuntu, apt). Set
# OPENMIDAS_TEST_DATABASE_URL instead to run the tests against an existing server.
set -euo pipefail

have_binaries() {
  if [ -n "${OPENMIDAS_PG_BIN:-}" ]; then
    [ -x "$OPENMIDAS_PG_BIN/initdb" ] && [ -x "$OPENMIDAS_PG_BIN/pg_ctl" ]
  else
    compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null
  fi
}

if [ -n "${OPENMIDAS_TEST_DATABASE_URL:-}" ]; then
  echo "ci-postgres-setup: using OPENMIDAS_TEST_DATABASE_URL; nothing to install"
  exit 0
fi

if ! have_binaries; then
  echo "ci-postgres-setup: installing postgresql-15 (initdb, pg_ctl, postgres)"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends postgresql-15
fi

if [ "$(id -u)" = 0 ]; then
  # PostgreSQL refuses to run as root; the harness runs it as `postgres` via runuser
  # (util-linux). The package creates the user; make sure of both.
  command -v runuser >/dev/null || { echo "ci-postgres-setup: runuser (util-linux) is missing" >&2; exit 1; }
  id postgres >/dev/null 2>&1 || useradd --system --home-dir /var/lib/postgresql --shell /bin/bash postgres
fi

echo "ci-postgres-setup: PostgreSQL binaries in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | tail -1)${OPENMIDAS_PG_BIN:+ (OPENMIDAS_PG_BIN=$OPENMIDAS_PG_BIN)}"
