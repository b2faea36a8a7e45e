#!/usr/bin/env bash
# Measures the code-check request (POST /api/v1/signin/code) of a release
# `nidan serve` on the embedded SQLite, with wrk on loopback:
# 16 connections, 20 seconds. Usage: bench/code_check.sh [challenges]
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-20000}
PORT=18181
DATA=$(mktemp -d)
cargo build --release --quiet -p nidan-server
# Two authenticator apps (the app-code path); the default rule wants a phone backup.
NIDAN_POLICY__BACKUP_RULE=any_other_method target/release/nidan serve --listen 127.0.0.1:$PORT --data-dir "$DATA" >"$DATA/log" 2>&1 &
PID=$!
trap 'kill $PID 2>/dev/null; rm -rf "$DATA"' EXIT
for _ in $(seq 50); do curl -sf http://127.0.0.1:$PORT/readyz >/dev/null && break; sleep 0.1; done
python3 bench/setup_challenges.py http://127.0.0.1:$PORT "$N" "$DATA/challenges"
# 4 tries per attempt at most: keep the run within N*4 requests.
CHALLENGES="$DATA/challenges" wrk -t2 -c16 -d20s --latency -s bench/code_check.lua http://127.0.0.1:$PORT
echo "server RSS after the run: $(ps -o rss= -p $PID) KiB"
