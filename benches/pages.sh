#!/usr/bin/env bash
# Requests per second and latency of the two busiest pages, `/` and `/events/{slug}`, with 200
# events in the database, on SQLite and on PostgreSQL: wrk, 2 threads, 32 connections, 10 s.
# Usage: bash benches/pages.sh   (BENCH_NO_BUILD=1 skips `cargo build --release`;
#        BENCH_BACKENDS="sqlite" runs one backend). Traffic goes to 127.0.0.1 only.
set -euo pipefail
cd "$(dirname "$0")/.."

BIN=target/release/convene
BACKENDS=${BENCH_BACKENDS:-"sqlite postgres"}
PG=postgres://postgres@127.0.0.1:5432
[ "${BENCH_NO_BUILD:-0}" = 1 ] || cargo build --release -q
command -v wrk >/dev/null || apt-get install -y -qq wrk >/dev/null

run_backend() {
    local backend=$1 dir port url pid token db=""
    dir=$(mktemp -d)
    port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    export CONVENE_DATA_DIR=$dir CONVENE_LOG=warn CONVENE_BIND=127.0.0.1:$port
    unset CONVENE_DATABASE_URL
    if [ "$backend" = postgres ]; then
        db=convene_bench_pages_$$
        psql -q -h 127.0.0.1 -U postgres -d test -c "CREATE DATABASE $db"
        export CONVENE_DATABASE_URL=$PG/$db
    fi
    token=$("$BIN" organizer add --email bench@example.org --name Bench | sed -n 's/^API token: //p')
    "$BIN" serve >"$dir/serve.log" 2>&1 &
    pid=$!
    url=http://127.0.0.1:$port
    for _ in $(seq 50); do curl -sf "$url/healthz" >/dev/null && break; sleep 0.2; done
    for i in $(seq -w 1 200); do
        local zone=Europe/Berlin
        case $((10#$i % 4)) in 1) zone=America/New_York ;; 2) zone=Asia/Tokyo ;; 3) zone=UTC ;; esac
        curl -sf -o /dev/null -X POST "$url/api/v1/events" -H "Authorization: Bearer $token" -H 'Content-Type: application/json' \
            -d "{\"slug\":\"event-$i\",\"kind\":\"sprint\",\"title\":\"Sprint $i\",\"summary\":\"A day of contributing\",\"description\":\"Bring a **laptop**. Tables for docs, core and tests.\",\"timezone\":\"$zone\",\"starts_at\":\"2031-0$((10#$i % 9 + 1))-1${i: -1}T09:00\",\"ends_at\":\"2031-0$((10#$i % 9 + 1))-1${i: -1}T17:00\",\"venue\":\"Hall $i\",\"address\":\"Main Street $i\",\"capacity\":40}"
    done
    for p in docs core tests; do
        curl -sf -o /dev/null -X POST "$url/api/v1/events/event-100/projects" -H "Authorization: Bearer $token" -H 'Content-Type: application/json' \
            -d "{\"slug\":\"$p\",\"name\":\"Project $p\",\"location\":\"Table $p\",\"leads\":[{\"name\":\"Lead of $p\"}]}"
    done
    echo "== $backend: $(curl -s "$url/" | grep -c 'class="card"') event cards on /, event page $(curl -s -o /dev/null -w '%{http_code} %{size_download}B' "$url/events/event-100")"
    for path in / /events/event-100; do
        echo "-- $backend GET $path"
        wrk -t2 -c32 -d10s --latency "$url$path" | grep -E 'Requests/sec|Latency  |  50%|  99%|Non-2xx|Socket errors'
    done
    echo "-- $backend RSS: $(grep VmRSS /proc/$pid/status)"
    kill "$pid"; wait "$pid" 2>/dev/null || true
    [ -z "$db" ] || psql -q -h 127.0.0.1 -U postgres -d test -c "DROP DATABASE $db WITH (FORCE)"
    rm -rf "$dir"
}

for backend in $BACKENDS; do run_backend "$backend"; done
