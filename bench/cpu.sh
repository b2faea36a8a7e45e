#!/usr/bin/env bash
# One nidan-bench run against one release `nidan serve`, with the CPU time
# the server (and, on PostgreSQL, every postgres process) spent per request
# during the measured run, read from /proc/PID/stat before and after.
# Usage: bench/cpu.sh DATABASE_URL SCENARIO CONNECTIONS ACCOUNTS ATTEMPTS [SECONDS]
#   e.g. bench/cpu.sh sqlite:///tmp/b.db code 64 800 10 10
#        bench/cpu.sh "postgres://postgres@127.0.0.1:5432/test?options=-c%20search_path%3Db1" right 64 1000 2
# NIDAN_BIN=path runs another build (to compare two commits side by side);
# CFG=file passes --config (the authz scenario needs a forward_auth rule).
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --quiet -p nidan-server -p nidan-bench
export NIDAN_DELIVERY__OUTBOX_PAGE=true NIDAN_LOG=warn NIDAN_POLICY__BACKUP_RULE=any_other_method NIDAN_POLICY__MAX_CODE_ATTEMPTS=64 \
       NIDAN_POLICY__SLOWDOWN_AFTER_FAILURES=100 NIDAN_POLICY__LOCKOUT_AFTER_FAILURES=100
NIDAN_MASTER_KEY=$(head -c 32 /dev/urandom | base64)
export NIDAN_MASTER_KEY
D=$(mktemp -d)
NIDAN_DATABASE_URL=$1 "${NIDAN_BIN:-target/release/nidan}" serve ${CFG:+--config "$CFG"} --listen 127.0.0.1:18181 --data-dir "$D" >"$D/log" 2>&1 &
P=$!
trap 'kill $P 2>/dev/null || true; rm -rf "$D"' EXIT
for _ in $(seq 100); do curl -sf http://127.0.0.1:18181/readyz >/dev/null && break; sleep 0.1; done
ticks() { local t=0 p; for p in "$@"; do [[ -r /proc/$p/stat ]] && t=$((t + $(awk '{print $14+$15}' "/proc/$p/stat"))); done; echo "$t"; }
target/release/nidan-bench --target http://127.0.0.1:18181 --scenario "$2" --connections "$3" --accounts "$4" \
    --attempts-per-account "$5" --duration "${6:-20}" >"$D/out" 2>"$D/err" &
B=$!
while kill -0 $B 2>/dev/null && ! grep -q '^setup' "$D/err"; do sleep 0.05; done
# shellcheck disable=SC2046
PG=$(pgrep -f 'postgres:' | tr '\n' ' ' || true)
n0=$(ticks $P); g0=$(ticks $PG)
wait $B
n1=$(ticks $P); g1=$(ticks $PG)
grep -v '^{' "$D/out"
req=$(awk '$1 == "all" {print $2}' "$D/out")
hz=$(getconf CLK_TCK)
awk -v n=$((n1 - n0)) -v g=$((g1 - g0)) -v r="$req" -v hz="$hz" \
    'BEGIN { printf "CPU per request: nidan %.3f ms, postgres %.3f ms\n", n * 1000 / hz / r, g * 1000 / hz / r }'
