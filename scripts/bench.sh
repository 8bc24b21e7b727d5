#!/usr/bin/env bash
# Reproduces BENCHMARKS.md in one command:
#   scripts/bench.sh
# Builds the release binaries, then on this machine:
#   1. openmidas-bench against OpenMidas on SQLite in ledger mode, as production runs it
#      (ceiling, getbalance, pay, mixed; each also at half its maximum rate;
#      restart-to-healthz time; peak memory), then in emulator mode (getbalance, pay: what
#      the request log costs), then the SQLite store alone (no HTTP) running pays on one
#      core, durable and relaxed;
#   2. the same against OpenMidas on a throwaway PostgreSQL 15 cluster (fsync on);
#   3. pgbench on that same cluster running a single-debit transaction (read the balance,
#      conditional update, insert the order) at the same client count.
# The server side (OpenMidas, PostgreSQL) is pinned to CPU 0, the load generators to CPU 1.
# Settings: DURATION (s, default 10), CONNECTIONS (default 64), ACCOUNTS (default 10000),
# BIG_ACCOUNTS (default 1000000: the memory run), SKIP_BIG=1 to skip it.
set -euo pipefail
cd "$(dirname "$0")/.."

DURATION=${DURATION:-10}
CONNECTIONS=${CONNECTIONS:-64}
ACCOUNTS=${ACCOUNTS:-10000}
BIG_ACCOUNTS=${BIG_ACCOUNTS:-1000000}
OUT=target/bench
mkdir -p "$OUT"

cargo build --release -p openmidas -p openmidas-bench
cargo build --release -p openmidas-store-sqlite --example pay_rate
BENCH="$PWD/target/release/openmidas-bench"
COMMON=(--duration-secs "$DURATION" --connections "$CONNECTIONS" --server-cpus 0 --client-cpu 1)
LEDGER=(--server-arg=--mode --server-arg=ledger)

echo "== machine"
{ nproc; grep -m1 'model name' /proc/cpuinfo || true; free -g | sed -n 2p; uname -r; } | tee "$OUT/machine.txt"

echo "== OpenMidas on SQLite ($ACCOUNTS accounts)"
"$BENCH" "${COMMON[@]}" "${LEDGER[@]}" --accounts "$ACCOUNTS" --half-rate --measure-startup --json "$OUT/sqlite.json" | tee "$OUT/sqlite.md"

echo "== OpenMidas on SQLite in emulator mode (request log, fault draws)"
"$BENCH" "${COMMON[@]}" --accounts "$ACCOUNTS" --workloads ceiling,getbalance,pay --json "$OUT/sqlite-emulator.json" \
  | tee "$OUT/sqlite-emulator.md"

echo "== the SQLite store alone, no HTTP: durable and relaxed pays/s on one core"
for durability in durable relaxed; do
  taskset -c 0 target/release/examples/pay_rate "$durability" "$ACCOUNTS" "$DURATION" "$CONNECTIONS"
done | tee "$OUT/sqlite-store.txt"

if [ "${SKIP_BIG:-0}" != 1 ]; then
  echo "== OpenMidas on SQLite, $BIG_ACCOUNTS accounts (memory under load, startup)"
  "$BENCH" "${COMMON[@]}" "${LEDGER[@]}" --accounts "$BIG_ACCOUNTS" --workloads ceiling,getbalance,pay,mixed --measure-startup \
    --json "$OUT/sqlite-big.json" | tee "$OUT/sqlite-big.md"
fi

echo "== throwaway PostgreSQL"
PGBIN=${PGBIN:-/usr/lib/postgresql/15/bin}
PGROOT=$(mktemp -d /tmp/openmidas-bench-pg.XXXXXX)
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
if [ "$(id -u)" = 0 ]; then chown postgres "$PGROOT"; fi
cleanup() { as_pg "$PGBIN/pg_ctl" -D "$PGROOT/data" -m immediate stop >/dev/null 2>&1 || true; rm -rf "$PGROOT"; }
trap cleanup EXIT
as_pg "$PGBIN/initdb" -D "$PGROOT/data" -U openmidas --auth=trust >/dev/null
# Durable settings (fsync and synchronous_commit on, the defaults); room for the clients.
as_pg taskset -c 0 "$PGBIN/pg_ctl" -D "$PGROOT/data" -l "$PGROOT/log" -w \
  -o "-p $PORT -k $PGROOT -c listen_addresses=127.0.0.1 -c max_connections=300 -c shared_buffers=256MB" start >/dev/null
PSQL=(psql -h 127.0.0.1 -p "$PORT" -U openmidas -X -q)
"${PSQL[@]}" -d postgres -c "CREATE DATABASE openmidas_bench" -c "CREATE DATABASE pgbench_debit"

echo "== OpenMidas on PostgreSQL ($ACCOUNTS accounts)"
"$BENCH" "${COMMON[@]}" "${LEDGER[@]}" --accounts "$ACCOUNTS" --half-rate \
  --database "postgres://openmidas@127.0.0.1:$PORT/openmidas_bench" --json "$OUT/postgres.json" | tee "$OUT/postgres.md"

echo "== pgbench: single-debit transaction, $CONNECTIONS clients"
"${PSQL[@]}" -d pgbench_debit <<SQL
CREATE TABLE accounts (id BIGINT PRIMARY KEY, balance BIGINT NOT NULL CHECK (balance >= 0));
CREATE TABLE orders (bill_no TEXT PRIMARY KEY, account_id BIGINT NOT NULL, amount BIGINT NOT NULL,
                     balance_after BIGINT NOT NULL, created_at TIMESTAMPTZ NOT NULL DEFAULT now());
INSERT INTO accounts SELECT g, 1000000000 FROM generate_series(1, $ACCOUNTS) g;
VACUUM ANALYZE;
SQL
cat > "$PGROOT/debit.sql" <<SQL
\\set aid random(1, $ACCOUNTS)
BEGIN;
SELECT balance FROM accounts WHERE id = :aid FOR UPDATE;
UPDATE accounts SET balance = balance - 1 WHERE id = :aid AND balance >= 1 RETURNING balance;
INSERT INTO orders (bill_no, account_id, amount, balance_after)
  VALUES (gen_random_uuid()::text, :aid, 1, (SELECT balance FROM accounts WHERE id = :aid));
COMMIT;
SQL
taskset -c 1 pgbench -h 127.0.0.1 -p "$PORT" -U openmidas -n -M prepared -c "$CONNECTIONS" -j 1 -T "$DURATION" \
  -f "$PGROOT/debit.sql" pgbench_debit | tee "$OUT/pgbench.txt"

echo "== results in $OUT/"
