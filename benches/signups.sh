#!/usr/bin/env bash
# Signup throughput of Convene on SQLite and on PostgreSQL, and the disk's raw commit rate.
#
#   bash benches/signups.sh
#
# For each backend it starts a fresh `convene serve` (release build) on a temporary data folder
# (and a fresh PostgreSQL database), creates an organizer and an event with 1000 seats, and
# lets wrk (2 threads, 32 connections, 10 s) sign up a new address per request with
# benches/signup.lua. Then it checks the books: going_count is exactly min(capacity, signups),
# going + waitlisted matches the 202 answers, the waitlist is numbered 1..N without a gap, and
# no request failed. Each signup is one durable transaction (SQLite WAL with synchronous=FULL;
# PostgreSQL with synchronous_commit on) that also writes an outbox row, which the server's own
# email worker then turns into an .eml file.
#
# Environment (all optional):
#   BENCH_BACKENDS="sqlite postgres"   which backends to run
#   BENCH_DURATION=10s BENCH_THREADS=2 BENCH_CONNECTIONS=32
#   BENCH_CAPACITY=1000                 seats of the event; "none" for unlimited (no waitlist)
#   BENCH_QUIET_WAIT=600                seconds to wait for an idle machine before each measurement
#   BENCH_PG_URL=postgres://postgres@127.0.0.1:5432   the PostgreSQL server (trust auth)
#   BENCH_PG_COMMIT_DELAY=1000          µs each PostgreSQL commit waits before its flush (a slower disk)
#   BENCH_NO_BUILD=1                    use target/release/convene as it is
#   BENCH_BIN=/path/to/convene          measure this binary instead (no build)
#   BENCH_PG_SAMPLE=N                   sample pg_stat_activity N times (every 0.1 s) during the
#                                       PostgreSQL run and print what the connections wait for
#   BENCH_PERF=DIR                      record a CPU profile of the server for 6 s of each run
#                                       (perf record -e cpu-clock --call-graph dwarf) into DIR
#   BENCH_KEEP=1                        keep the temporary folder (its path is printed)
#
# Only loopback is used. Needs wrk (installed with apt-get if missing), curl, python3, psql.
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT=$PWD

BACKENDS=${BENCH_BACKENDS:-sqlite postgres}
DURATION=${BENCH_DURATION:-10s}
THREADS=${BENCH_THREADS:-2}
CONNECTIONS=${BENCH_CONNECTIONS:-32}
CAPACITY=${BENCH_CAPACITY:-1000}
PG_URL=${BENCH_PG_URL:-postgres://postgres@127.0.0.1:5432}

WORK=$(mktemp -d /tmp/convene-bench.XXXXXX)
# shellcheck source=benches/lib.sh
source "$ROOT/benches/lib.sh"

run_backend() {
    local backend=$1
    local data=$WORK/$backend port base token
    mkdir -p "$data"
    port=$(free_port)
    base=http://127.0.0.1:$port
    export CONVENE_DATA_DIR=$data CONVENE_BIND=127.0.0.1:$port CONVENE_BASE_URL=$base CONVENE_LOG=warn
    export CONVENE_SIGNUPS_PER_MINUTE=0  # load from one loopback address
    unset CONVENE_DATABASE_URL
    if [ "$backend" = postgres ]; then
        fresh_pg_db "convene_bench_$$"
        slow_commits "$PG_DB"
        export CONVENE_DATABASE_URL=$PG_URL/$PG_DB
    fi

    log "$backend: $DURATION, $THREADS threads, $CONNECTIONS connections, capacity $CAPACITY"
    token=$("$BIN" organizer add --email bench@example.org --name Bench | sed -n 's/^API token: *//p')
    [ -n "$token" ] || { fail "$backend: no API token from 'convene organizer add'"; return; }

    "$BIN" serve --bind "127.0.0.1:$port" >"$WORK/server.log" 2>&1 &
    SERVER_PID=$!
    wait_until_up "$base" "$WORK/server.log" || { fail "$backend: the server did not start"; SERVER_PID=""; return; }

    local created capacity_json=$CAPACITY
    [ "$CAPACITY" = none ] && capacity_json=null
    created=$(curl -sS -o /dev/null -w '%{http_code}' -X POST "$base/api/v1/events" \
        -H "Authorization: Bearer $token" -H 'Content-Type: application/json' \
        -d "{\"slug\":\"bench\",\"kind\":\"sprint\",\"title\":\"Bench\",\"timezone\":\"UTC\",\"starts_at\":\"2030-01-01T09:00\",\"ends_at\":\"2030-01-01T17:00\",\"capacity\":$capacity_json}")
    [ "$created" = 201 ] || [ "$created" = 200 ] || { fail "$backend: creating the event answered $created"; stop_server; drop_pg_db; return; }

    wait_for_quiet
    cpu_start
    local perf_pid=""
    if [ -n "${BENCH_PERF:-}" ]; then
        # A CPU profile of the server during the run (disturbs the figures a little).
        mkdir -p "$BENCH_PERF"
        perf record -q -e cpu-clock -F 499 --call-graph dwarf,32768 -p "$SERVER_PID" \
            -o "$BENCH_PERF/signups-$backend.perf.data" -- sleep 6 >/dev/null 2>&1 &
        perf_pid=$!
    fi
    local sampler_pid=""
    if [ "$backend" = postgres ] && [ -n "${BENCH_PG_SAMPLE:-}" ]; then
        # What the server's connections are doing: pg_stat_activity, every 0.1 s, from 2 s in.
        (
            sleep 2
            for _ in $(seq 1 "$BENCH_PG_SAMPLE"); do
                psql "$PG_URL/$PG_DB" -X -A -t -q -F '|' -c "SELECT state, coalesce(wait_event_type, '-'),
                        coalesce(wait_event, '-'), left(regexp_replace(query, '\s+', ' ', 'g'), 60)
                    FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
                sleep 0.1
            done
        ) >"$WORK/pg-activity.txt" 2>&1 &
        sampler_pid=$!
    fi
    BENCH_EVENT=bench BENCH_RUN="$backend-$$" wrk -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" --latency \
        -s "$ROOT/benches/signup.lua" "$base" >"$WORK/wrk-$backend.txt" 2>&1 || fail "$backend: wrk failed"
    sed 's/^/    /' "$WORK/wrk-$backend.txt"
    cpu_report "$backend signups"
    if [ "$CPU_OTHER" -gt 25 ]; then
        echo "WARNING: other processes used the CPU during the run; these figures are disturbed"
    fi
    if [ -n "$sampler_pid" ]; then
        wait "$sampler_pid" || true
        echo "$backend: pg_stat_activity, $BENCH_PG_SAMPLE samples of the server's connections (state | wait | query):"
        awk -F'|' '{print $1 " | " $2 ":" $3}' "$WORK/pg-activity.txt" | sort | uniq -c | sort -rn | sed 's/^/    /'
        echo "  by statement (state | wait | query):"
        sort "$WORK/pg-activity.txt" | uniq -c | sort -rn | head -15 | sed 's/^/    /'
    fi
    if [ -n "$perf_pid" ]; then
        wait "$perf_pid" || true
        echo "$backend: CPU profile in $BENCH_PERF/signups-$backend.perf.data (perf report -i ...)"
    fi

    local line sent responses accepted other going waiting event in_flight
    line=$(grep '^BENCH ' "$WORK/wrk-$backend.txt" || true)
    [ -n "$line" ] || { fail "$backend: no BENCH line from the wrk script"; stop_server; drop_pg_db; return; }
    sent=$(bench_field sent "$line")
    responses=$(bench_field responses "$line")
    accepted=$(bench_field accepted "$line")
    other=$(bench_field other "$line")
    in_flight=$((sent - responses))

    # Let the last signups wrk gave up on (in flight when it stopped) finish before counting.
    sleep 1
    event=$(curl -fsS "$base/api/v1/events/bench")
    going=$(json_field going_count <<<"$event")
    waiting=$(json_field waitlist_count <<<"$event")
    local mails
    mails=$(find "$data/mail" -name '*.eml' 2>/dev/null | wc -l)

    echo "$backend: signups accepted (202): $accepted in $DURATION = $(bench_field rps "$line") requests/s;" \
        "latency p50 $(bench_field p50_ms "$line") ms, p99 $(bench_field p99_ms "$line") ms, max $(bench_field max_ms "$line") ms"
    echo "$backend: going $going, waitlisted $waiting; unanswered at the end (in flight): $in_flight;" \
        ".eml files written by the worker so far: $mails"

    stop_server
    # The rows themselves, read straight from the database once the server has stopped.
    local rows
    rows=$(db_query "$backend" "$data" \
        "SELECT (SELECT count(*) FROM registrations WHERE status = 'going') || ' ' ||
                (SELECT count(*) FROM registrations WHERE status = 'waitlisted') || ' ' ||
                (SELECT count(*) FROM outbox)")
    local rows_going rows_waiting rows_outbox
    read -r rows_going rows_waiting rows_outbox <<<"$rows"
    echo "$backend: rows: $rows_going going, $rows_waiting waitlisted, $rows_outbox outbox messages"
    # The waitlist's numbers (a place is the count of waitlisted numbers up to one's own): with
    # no cancellation they must be exactly 1..N, so the places are 1..N without a gap.
    local wl_count wl_distinct wl_min wl_max
    read -r wl_count wl_distinct wl_min wl_max <<<"$(db_query "$backend" "$data" \
        "SELECT count(*), count(DISTINCT waitlist_seq), coalesce(min(waitlist_seq), 0),
                coalesce(max(waitlist_seq), 0) FROM registrations WHERE status = 'waitlisted'")"

    # The books.
    local stored=$((going + waiting))
    local expect_going=$stored
    if [ "$CAPACITY" != none ] && [ "$stored" -gt "$CAPACITY" ]; then
        expect_going=$CAPACITY
    fi
    local ok=1
    if grep -q 'Non-2xx or 3xx responses' "$WORK/wrk-$backend.txt" || [ "$other" != 0 ]; then
        fail "$backend: some answers were not 202: $(bench_field statuses "$line")"; ok=0
    fi
    if grep -q 'Socket errors' "$WORK/wrk-$backend.txt"; then
        fail "$backend: socket errors (see the wrk output above)"; ok=0
    fi
    # Signups still in flight when wrk stopped may have been committed without anyone seeing
    # the answer: the stored total may exceed the 202 count by at most that many.
    if [ "$stored" -lt "$accepted" ] || [ "$stored" -gt $((accepted + in_flight)) ]; then
        fail "$backend: going + waitlisted = $stored, but $accepted signups were answered 202 (and $in_flight were in flight)"; ok=0
    fi
    if [ "$going" -ne "$expect_going" ]; then
        fail "$backend: going_count is $going, expected min($CAPACITY, $stored) = $expect_going"; ok=0
    fi
    if [ "$rows_going" != "$going" ] || [ "$rows_waiting" != "$waiting" ] || [ "$rows_outbox" != "$stored" ]; then
        fail "$backend: the API's counts ($going going, $waiting waitlisted) do not match the rows ($rows_going, $rows_waiting, $rows_outbox outbox)"; ok=0
    fi
    if [ "$wl_distinct" != "$wl_count" ] || [ "$wl_min" != $((wl_count > 0 ? 1 : 0)) ] || [ "$wl_max" != "$wl_count" ]; then
        fail "$backend: the $wl_count waitlisted have $wl_distinct distinct numbers from $wl_min to $wl_max, not 1..$wl_count"; ok=0
    fi
    if [ "$ok" = 1 ]; then
        echo "$backend: books OK: going = min(capacity, signups) = $going; going + waitlisted = $stored" \
            "= 202 answers ($accepted) + signups committed while wrk was stopping ($((stored - accepted)));" \
            "one outbox row per signup; waitlist places 1..$wl_count without a gap"
    fi

    drop_pg_db
}

main() {
    need_tools
    build
    machine
    wait_for_quiet
    raw_commit_rates
    local backend
    for backend in $BACKENDS; do
        run_backend "$backend"
    done
    if [ "$FAILED" != 0 ]; then
        echo "some checks FAILED" >&2
        exit 1
    fi
    log "done"
}

main "$@"
