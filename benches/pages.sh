#!/usr/bin/env bash
# Requests per second and latency of the two busiest pages, `/` and `/events/{slug}`, with 200
# events in the database, on SQLite and on PostgreSQL.
#
#   bash benches/pages.sh
#
# For each backend: a fresh `convene serve` (release build) on a temporary data folder (for
# PostgreSQL a fresh database convene_bench_pages, dropped at the end), the organizer, 200 events
# (four time zones) and three projects with leads on event-100 created through the API; then it
# checks that `/` shows all 200 and the event page answers 200, and runs wrk (2 threads, 32
# connections, 10 s) against each page. It reports wrk's figures and convene's resident memory.
#
# Environment (all optional): BENCH_BACKENDS="sqlite postgres" BENCH_DURATION=10s
# BENCH_THREADS=2 BENCH_CONNECTIONS=32 BENCH_QUIET_WAIT=600
# BENCH_PG_URL=postgres://postgres@127.0.0.1:5432 BENCH_NO_BUILD=1 BENCH_BIN=/path/to/convene
#
# Only loopback is used. Needs wrk (installed with apt-get if missing), curl, python3, psql.
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT=$PWD
BACKENDS=${BENCH_BACKENDS:-sqlite postgres}
DURATION=${BENCH_DURATION:-10s}
THREADS=${BENCH_THREADS:-2}
CONNECTIONS=${BENCH_CONNECTIONS:-32}
PG_URL=${BENCH_PG_URL:-postgres://postgres@127.0.0.1:5432}
WORK=$(mktemp -d /tmp/convene-pages.XXXXXX)
# shellcheck source=benches/lib.sh
source "$ROOT/benches/lib.sh"

run_backend() {
    local backend=$1 data=$WORK/$1 port url token
    mkdir -p "$data"
    port=$(free_port)
    url=http://127.0.0.1:$port
    export CONVENE_DATA_DIR=$data CONVENE_LOG=warn CONVENE_BIND=127.0.0.1:$port CONVENE_BASE_URL=$url
    unset CONVENE_DATABASE_URL CONVENE_SMTP_URL
    if [ "$backend" = postgres ]; then
        fresh_pg_db convene_bench_pages
        export CONVENE_DATABASE_URL=$PG_URL/$PG_DB
    fi
    token=$("$BIN" organizer add --email bench@example.org --name Bench | sed -n 's/^API token: *//p')
    "$BIN" serve >"$WORK/server-$backend.log" 2>&1 &
    SERVER_PID=$!
    wait_until_up "$url" "$WORK/server-$backend.log" || { fail "$backend: the server did not start"; return; }
    local auth=(-H "Authorization: Bearer $token" -H 'Content-Type: application/json') i zone month day
    for i in $(seq -w 1 200); do
        zone=Europe/Berlin
        case $((10#$i % 4)) in 1) zone=America/New_York ;; 2) zone=Asia/Tokyo ;; 3) zone=UTC ;; esac
        month=0$((10#$i % 9 + 1)) day=1${i: -1}
        curl -fsS -o /dev/null -X POST "$url/api/v1/events" "${auth[@]}" \
            -d "{\"slug\":\"event-$i\",\"kind\":\"sprint\",\"title\":\"Sprint $i\",\"summary\":\"A day of contributing\",\"description\":\"Bring a **laptop**. Tables for docs, core and tests.\",\"timezone\":\"$zone\",\"starts_at\":\"2031-$month-${day}T09:00\",\"ends_at\":\"2031-$month-${day}T17:00\",\"venue\":\"Hall $i\",\"address\":\"Main Street $i\",\"capacity\":40}"
    done
    local p
    for p in docs core tests; do
        curl -fsS -o /dev/null -X POST "$url/api/v1/events/event-100/projects" "${auth[@]}" \
            -d "{\"slug\":\"$p\",\"name\":\"Project $p\",\"location\":\"Table $p\",\"leads\":[{\"name\":\"Lead of $p\"}]}"
    done
    local cards page
    cards=$(curl -fsS "$url/" | grep -c '<li class="card">' || true)
    page=$(curl -sS -o /dev/null -w '%{http_code} %{size_download}B' "$url/events/event-100")
    echo "$backend: $cards event cards on /, event page $page"
    [ "$cards" = 200 ] || fail "$backend: / shows $cards events, not 200"
    [ "${page%% *}" = 200 ] || fail "$backend: the event page answered ${page%% *}"
    local path out
    for path in / /events/event-100; do
        wait_for_quiet
        out=$WORK/wrk-$backend.txt
        log "$backend GET $path"
        wrk -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" --latency "$url$path" >"$out" 2>&1 || fail "$backend $path: wrk failed"
        grep -E 'Requests/sec|Latency  |  50%|  99%|Non-2xx|Socket errors' "$out"
        if grep -qE 'Non-2xx|Socket errors' "$out"; then fail "$backend $path: errors under load"; fi
    done
    echo "$backend: convene RSS $(rss_kb "$SERVER_PID") kB"
    stop_server
    drop_pg_db
}

need_tools
build
machine
for backend in $BACKENDS; do
    run_backend "$backend"
done
exit "$FAILED"
