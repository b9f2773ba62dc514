#!/usr/bin/env bash
# Live sprint board: one Convene instance holding many open board streams (Server-Sent
# Events), and how long one update takes to reach all of them; with the memory it takes.
#
#   bash benches/board.sh
#
# For each backend: a fresh `convene serve` (release build), an event with one project, then
# benches/board_streams.py opens BENCH_STREAMS (default 2,000) streams of the board, waits for
# each stream's first state, reads convene's resident memory (VmRSS) before and with the
# streams open, sends one "now" line through the API, and reports how many streams received it,
# how many within one second, and the latency percentiles.
#
# Environment (optional): BENCH_BACKENDS="sqlite postgres" BENCH_STREAMS=2000
# BENCH_PG_URL=postgres://postgres@127.0.0.1:5432 BENCH_NO_BUILD=1 BENCH_BIN=path
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT=$PWD
BACKENDS=${BENCH_BACKENDS:-sqlite postgres}
STREAMS=${BENCH_STREAMS:-2000}
PG_URL=${BENCH_PG_URL:-postgres://postgres@127.0.0.1:5432}
PG_NAME=convene_bench_board
WORK=$(mktemp -d /tmp/convene-board.XXXXXX)
# shellcheck source=benches/lib.sh
source "$ROOT/benches/lib.sh"

# Each stream is a socket on both sides.
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"

run_backend() {
    local backend=$1 port base data token
    port=$(free_port)
    base=http://127.0.0.1:$port
    data=$WORK/$backend
    mkdir -p "$data"
    export CONVENE_DATA_DIR=$data CONVENE_BIND=127.0.0.1:$port CONVENE_BASE_URL=$base CONVENE_LOG=warn
    # Every stream is a request under way from the one loopback address.
    export CONVENE_MAX_REQUESTS_PER_CLIENT=$((STREAMS + 64))
    unset CONVENE_DATABASE_URL CONVENE_SMTP_URL
    if [ "$backend" = postgres ]; then
        fresh_pg_db "$PG_NAME"
        export CONVENE_DATABASE_URL=$PG_URL/$PG_DB
    fi
    token=$("$BIN" organizer add --email bench@example.org --name Bench | sed -n 's/^API token: *//p')
    "$BIN" serve >"$WORK/server-$backend.log" 2>&1 &
    SERVER_PID=$!
    wait_until_up "$base" "$WORK/server-$backend.log" || { fail "$backend: the server did not start"; return; }
    local day
    day=$(date -u -d '+10 days' +%Y-%m-%d)
    curl -fsS -o /dev/null -H "Authorization: Bearer $token" -H 'Content-Type: application/json' \
        -d "{\"slug\":\"board\",\"kind\":\"sprint\",\"title\":\"Board bench\",\"timezone\":\"UTC\",\"starts_at\":\"${day}T09:00\",\"ends_at\":\"${day}T17:00\"}" \
        "$base/api/v1/events"
    curl -fsS -o /dev/null -H "Authorization: Bearer $token" -H 'Content-Type: application/json' \
        -d '{"slug":"docs","name":"Docs","location":"Table 1"}' "$base/api/v1/events/board/projects"
    wait_for_quiet
    local before with result fifo
    before=$(rss_kb "$SERVER_PID")
    fifo=$WORK/go-$backend
    mkfifo "$fifo"
    python3 "$ROOT/benches/board_streams.py" "$base" board docs "$token" "$STREAMS" <"$fifo" >"$WORK/client-$backend.out" &
    local client=$!
    exec 7>"$fifo"
    local waited=0
    until grep -q '^opened=' "$WORK/client-$backend.out" 2>/dev/null; do
        sleep 0.5
        waited=$((waited + 1))
        if ! kill -0 "$client" 2>/dev/null || [ "$waited" -gt 240 ]; then
            fail "$backend: the streams did not open"
            exec 7>&-
            return
        fi
    done
    sleep 1
    with=$(rss_kb "$SERVER_PID")
    echo go >&7
    exec 7>&-
    wait "$client" || fail "$backend: the client failed"
    result=$(tail -1 "$WORK/client-$backend.out")
    echo "$backend: $(head -1 "$WORK/client-$backend.out"); $result"
    echo "$backend: convene RSS ${before} kB idle -> ${with} kB with the streams open ($(((with - before) / (STREAMS > 0 ? STREAMS : 1))) kB per stream)"
    [ "$(bench_field received " $result")" = "$STREAMS" ] || fail "$backend: not every stream received the update"
    stop_server
    drop_pg_db
}

need_tools
build
machine
for backend in $BACKENDS; do
    log "$backend: $STREAMS board streams"
    run_backend "$backend"
done
exit "$FAILED"
