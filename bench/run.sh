#!/usr/bin/env bash
# The sign-in benchmark on loopback: release `nidan serve` on the embedded
# SQLite (one node) and on PostgreSQL (one and two nodes), driven by
# `nidan-bench` (crates/bench). Two scenarios each:
#   code   - the code step alone, 64 connections, wrong and right codes over
#            many accounts (each attempt: 63 wrong codes, then a right one
#            when the account has an unused TOTP step): as fast as answers
#            come back, and paced at 6,000 requests/s (latency counted from
#            when each request was due, as wrk2 does)
#   right  - right codes only, 16 and 64 connections: every attempt prepared
#            in setup (each costs a password step, Argon2id) is finished with
#            a right code at once; the run lasts until they are spent
#   wrong  - the code scenario's wrong codes at 16 connections too
#   healthz - GET /healthz, 64 connections: the HTTP floor; every other
#            figure is printed with its ratio to it
#   signin - password step then code step, 16 connections: the split shows
#            the sign-in is bounded by the password hash
#   authz  - forward authentication: the question nginx/Traefik/Caddy ask on
#            every request of a protected app, 64 connections, sessions that
#            passed the code (one request in ten without a cookie)
# Each run is bounded (DURATION seconds, default 20); servers are stopped on exit.
# Usage: bench/run.sh [sqlite|postgres|all] (ONLY=code|signin|authz runs one scenario)   (PostgreSQL: 127.0.0.1:5432, database test)
set -euo pipefail
cd "$(dirname "$0")/.."
WHICH=${1:-all}
DURATION=${DURATION:-20}
PG=${NIDAN_BENCH_POSTGRES:-postgres://postgres@127.0.0.1:5432/test}
cargo build --release --quiet -p nidan-server -p nidan-bench
WORK=$(mktemp -d)
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$WORK"; }
trap cleanup EXIT

# The policy the benchmark runs under: two apps per account, up to 64 codes
# per attempt, and no slow-down before the (maximal) lockout at 100, so the
# same code check is measured on every request instead of a 429.
# /dev/outbox: accounts are created through the emailed sign-up link.
export NIDAN_DELIVERY__OUTBOX_PAGE=true
export NIDAN_LOG=warn NIDAN_POLICY__BACKUP_RULE=any_other_method NIDAN_POLICY__MAX_CODE_ATTEMPTS=64 \
       NIDAN_POLICY__SLOWDOWN_AFTER_FAILURES=100 NIDAN_POLICY__LOCKOUT_AFTER_FAILURES=100
NIDAN_MASTER_KEY=$(head -c 32 /dev/urandom | base64)
export NIDAN_MASTER_KEY

start_nodes() { # $1 = database URL, $2 = how many nodes; sets TARGETS
    local url=$1 n=$2
    TARGETS=()
    for i in $(seq 1 "$n"); do
        local port=$((18180 + i)) dir="$WORK/node$i"
        mkdir -p "$dir"
        NIDAN_DATABASE_URL=$url target/release/nidan serve ${CONFIG:+--config "$CONFIG"} --listen "127.0.0.1:$port" --data-dir "$dir" >"$dir/log" 2>&1 &
        PIDS+=($!)
        for _ in $(seq 100); do curl -sf "http://127.0.0.1:$port/readyz" >/dev/null && break; sleep 0.1; done
        TARGETS+=(--target "http://127.0.0.1:$port")
    done
}

stop_nodes() {
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
    PIDS=()
}

# Largest resident set of the nodes, sampled every second while $1 runs.
watch_rss() {
    local max=0 r
    while kill -0 "$1" 2>/dev/null; do
        for p in "${PIDS[@]}"; do
            r=$(ps -o rss= -p "$p" 2>/dev/null || echo 0)
            ((r > max)) && max=$r
        done
        sleep 1
    done
    echo "$max"
}

FLOOR=
run() { # $1 = label, $2 = database URL, $3 = nodes, $4 = scenario, $5 = connections, $6 = accounts, [$7 = --rate R]
    [[ -n ${ONLY:-} && $4 != "$ONLY" && $4 != healthz ]] && return 0
    start_nodes "$2" "$3"
    # Right codes: two per account are free at once (one unused step per
    # app), so two attempts each.
    local attempts=$((8000 / $6 > 0 ? 8000 / $6 : 1))
    [[ $4 == right ]] && attempts=2
    target/release/nidan-bench "${TARGETS[@]}" --scenario "$4" --connections "$5" --accounts "$6" --attempts-per-account $attempts \
        --duration "$DURATION" --label "$1" ${7:+--rate "$7"} ${FLOOR:+--floor "$FLOOR"} >"$WORK/out" 2>"$WORK/err" &
    local bench=$!
    # Sample memory from the measured run on (setup hashes passwords with
    # Argon2 work areas of 19 MiB each, freed 5 s after the last hash).
    while kill -0 $bench 2>/dev/null && ! grep -q '^setup' "$WORK/err"; do sleep 0.5; done
    cat "$WORK/err"
    sleep 6
    local rss
    rss=$(watch_rss $bench)
    wait $bench || { cat "$WORK/err"; exit 1; }
    grep -v '^{' "$WORK/out"
    [[ $4 == healthz ]] && FLOOR=$(awk '$1 == "all" {print $4}' "$WORK/out")
    echo "server RSS during the run, max over nodes sampled each second from 6 s in: $((rss / 1024)) MiB"
    echo
    stop_nodes
}

fresh_schema() {
    local schema="bench_$RANDOM$RANDOM"
    psql "$PG" -qc "CREATE SCHEMA $schema" >/dev/null
    SCHEMA_URL="$PG?options=-c%20search_path%3D$schema"
}

# Forward authentication needs a protected host; a loopback one keeps
# /dev/outbox (where account setup reads sign-up links) available.
CONFIG="$WORK/authz.toml"
cat >"$CONFIG" <<'TOML'
public_url = "http://localhost"
[[forward_auth.rules]]
host = "localhost"
TOML

run "the HTTP floor" "sqlite://$WORK/floor.db" 1 healthz 64 1
if [[ $WHICH == sqlite || $WHICH == all ]]; then
    run "sqlite, 1 node" "sqlite://$WORK/right16.db" 1 right 16 1500
    run "sqlite, 1 node" "sqlite://$WORK/right64.db" 1 right 64 1500
    run "sqlite, 1 node" "sqlite://$WORK/wrong16.db" 1 code 16 800
    run "sqlite, 1 node" "sqlite://$WORK/code.db" 1 code 64 800
    run "sqlite, 1 node" "sqlite://$WORK/paced.db" 1 code 64 800 6000
    run "sqlite, 1 node" "sqlite://$WORK/signin.db" 1 signin 16 1500
    run "sqlite, 1 node" "sqlite://$WORK/authz.db" 1 authz 64 200
fi
if [[ $WHICH == postgres || $WHICH == all ]]; then
    fresh_schema; run "postgres, 1 node" "$SCHEMA_URL" 1 right 16 1000
    fresh_schema; run "postgres, 1 node" "$SCHEMA_URL" 1 right 64 1000
    fresh_schema; run "postgres, 2 nodes" "$SCHEMA_URL" 2 right 64 1000
    fresh_schema; run "postgres, 1 node" "$SCHEMA_URL" 1 code 16 800
    fresh_schema; run "postgres, 1 node" "$SCHEMA_URL" 1 code 64 800
    fresh_schema; run "postgres, 2 nodes" "$SCHEMA_URL" 2 code 64 800
    fresh_schema; run "postgres, 1 node" "$SCHEMA_URL" 1 signin 16 1500
    fresh_schema; run "postgres, 2 nodes" "$SCHEMA_URL" 2 signin 16 1500
    fresh_schema; run "postgres, 1 node" "$SCHEMA_URL" 1 authz 64 200
fi
