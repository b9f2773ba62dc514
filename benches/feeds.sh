#!/usr/bin/env bash
# Calendar feed throughput of Convene: the site feed /calendar.ics with 500 events, its 304
# answer, and one attendee's personal feed, on SQLite and on PostgreSQL.
#
#   bash benches/feeds.sh
#
# For each backend it starts a fresh `convene serve` (release build) on a temporary data folder
# (for PostgreSQL: a fresh database convene_bench_feeds, dropped at the end), creates an
# organizer and 500 events (four time zones, five kinds, every sixth all-day, every tenth with a
# long Markdown description; benches/feeds_setup.py), signs one attendee up to 5 of them and
# finds their personal feed through the manage link of the confirmation mail. It checks that
# /calendar.ics is a valid calendar with 500 VEVENTs (with the strict Python `ical` parser when
# target/parsers-venv has it, see tests/parsers/README.md) and that If-None-Match with its ETag
# really answers 304, then measures with wrk (2 threads, 32 connections, 10 s):
#   site-full      GET /calendar.ics, answered 200 with the whole feed every time
#   site-304       the same with If-None-Match: <its ETag>
#   site-gzip      the same with Accept-Encoding: gzip, answered 200 with the compressed feed
#   personal-full  GET /feeds/{token}.ics (5 events)
#   personal-304   the same with If-None-Match
#   event-full     GET /events/{slug}.ics (one event)
# and reports requests/s, p50/p99 latency, bytes per answer, the CPU used by convene, PostgreSQL
# and the rest, and the server's resident memory (VmRSS) before and after each run.
#
# Environment (all optional):
#   BENCH_BACKENDS="sqlite postgres"   BENCH_EVENTS=500   BENCH_PERSONAL=5
#   BENCH_DURATION=10s BENCH_THREADS=2 BENCH_CONNECTIONS=32
#   BENCH_RUNS="site-full site-304 site-gzip personal-full personal-304 event-full"
#   BENCH_QUIET_WAIT=600   BENCH_PG_URL=postgres://postgres@127.0.0.1:5432
#   BENCH_NO_BUILD=1       BENCH_KEEP=1       BENCH_BIN=/path/to/convene (no build)
#
# Only loopback is used. Needs wrk (installed with apt-get if missing), curl, python3, psql.
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT=$PWD

BACKENDS=${BENCH_BACKENDS:-sqlite postgres}
EVENTS=${BENCH_EVENTS:-500}
PERSONAL=${BENCH_PERSONAL:-5}
DURATION=${BENCH_DURATION:-10s}
THREADS=${BENCH_THREADS:-2}
CONNECTIONS=${BENCH_CONNECTIONS:-32}
RUNS=${BENCH_RUNS:-site-full site-304 site-gzip personal-full personal-304 event-full}
PG_URL=${BENCH_PG_URL:-postgres://postgres@127.0.0.1:5432}
PG_NAME=convene_bench_feeds
PARSER_PY=$ROOT/target/parsers-venv/bin/python

WORK=$(mktemp -d /tmp/convene-feeds.XXXXXX)
# shellcheck source=benches/lib.sh
source "$ROOT/benches/lib.sh"

# Checks a saved feed: a VCALENDAR with exactly $2 VEVENTs, CRLF line ends, lines of at most
# 75 octets, and (when the parser is installed) read back by the strict `ical` package.
check_calendar() {
    local file=$1 expect=$2 label=$3
    python3 - "$file" "$expect" <<'EOF' || { fail "$label: not the calendar expected"; return; }
import sys
raw = open(sys.argv[1], "rb").read()
expect = int(sys.argv[2])
assert raw.startswith(b"BEGIN:VCALENDAR\r\n"), "does not begin with BEGIN:VCALENDAR"
assert raw.endswith(b"END:VCALENDAR\r\n"), "does not end with END:VCALENDAR"
lines = raw.split(b"\r\n")[:-1]
assert all(b"\n" not in l and b"\r" not in l for l in lines), "bare CR or LF"
long = [l for l in lines if len(l) > 75]
assert not long, f"{len(long)} lines longer than 75 octets"
n = sum(1 for l in lines if l == b"BEGIN:VEVENT")
assert n == expect, f"{n} VEVENTs, expected {expect}"
tz = sum(1 for l in lines if l == b"BEGIN:VTIMEZONE")
print(f"    {len(raw):,} bytes, {len(lines):,} lines, {n} VEVENTs, {tz} VTIMEZONEs; structure OK")
EOF
    if [ -x "$PARSER_PY" ] && "$PARSER_PY" -c 'import ical' 2>/dev/null; then
        local parsed
        if parsed=$("$PARSER_PY" "$ROOT/tests/parsers/read_ical.py" "$file" 2>"$WORK/parser.err"); then
            local n
            n=$(python3 -c 'import json,sys; print(len(json.load(sys.stdin)["events"]))' <<<"$parsed")
            if [ "$n" = "$expect" ]; then
                echo "    the strict Python ical parser reads $n events"
            else
                fail "$label: the strict ical parser read $n events, expected $expect"
            fi
        else
            fail "$label: the strict ical parser rejected the feed: $(tail -3 "$WORK/parser.err")"
        fi
    else
        echo "    (strict ical parser not installed in target/parsers-venv; structural check only)"
    fi
}

# GET with curl: prints "STATUS ETAG" and saves the body.
fetch() {
    local url=$1 out=$2
    shift 2
    : >"$out"
    curl -sS -o "$out" -D "$out.headers" -w '%{http_code}' "$@" "$url" >"$out.status"
    local etag
    etag=$(tr -d '\r' <"$out.headers" | sed -n 's/^[Ee][Tt][Aa][Gg]: *//p' | head -1)
    echo "$(cat "$out.status") $etag"
}

# One wrk run: label, URL, and optional extra wrk arguments (headers).
measure() {
    local backend=$1 label=$2 url=$3 expect_status=$4
    shift 4
    wait_for_quiet
    local rss0 rss1 out=$WORK/wrk-$backend-$label.txt
    rss0=$(rss_kb "$SERVER_PID")
    cpu_start
    local TIMEFORMAT='%U %S' wrk_user wrk_sys
    { time wrk -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" --latency -s "$ROOT/benches/get.lua" "$@" "$url" \
        >"$out" 2>&1 || fail "$backend $label: wrk failed"; } 2>"$out.time"
    read -r wrk_user wrk_sys <"$out.time"
    WRK_TICKS=$(python3 -c "print(round(($wrk_user + $wrk_sys) * 100))")
    cpu_report "$backend $label"
    rss1=$(rss_kb "$SERVER_PID")
    local line
    line=$(grep '^BENCH ' "$out" || true)
    if [ -z "$line" ]; then
        fail "$backend $label: no BENCH line from wrk"
        sed 's/^/    /' "$out"
        return
    fi
    local bytes errors status_errors
    bytes=$(bench_field bytes_per_request "$line")
    errors=$(bench_field errors "$line")
    status_errors=$(bench_field status_errors "$line")
    printf '%s %-13s %9s req/s  p50 %7s ms  p99 %7s ms  max %7s ms  %9s bytes/answer  RSS %s -> %s kB\n' \
        "$backend" "$label" "$(bench_field rps "$line")" "$(bench_field p50_ms "$line")" \
        "$(bench_field p99_ms "$line")" "$(bench_field max_ms "$line")" "$bytes" "$rss0" "$rss1"
    echo "RESULT backend=$backend run=$label $line rss_before_kb=$rss0 rss_after_kb=$rss1 cpu_other=$CPU_OTHER" >>"$WORK/results.txt"
    if [ "$errors" != 0 ] || [ "$status_errors" != 0 ]; then
        fail "$backend $label: $errors socket errors, $status_errors error statuses"
        sed 's/^/    /' "$out"
    fi
    # Every answer of a 304 run must be a bare 304 (no body); of a full run, the whole feed.
    if [ "$expect_status" = 304 ] && [ "$bytes" -gt 1000 ]; then
        fail "$backend $label: $bytes bytes per answer; these are not all 304s"
    fi
    if [ "$expect_status" = 200 ] && [ "$bytes" -lt "${EXPECT_BYTES:-0}" ]; then
        fail "$backend $label: $bytes bytes per answer, less than the feed's ${EXPECT_BYTES:-0}"
    fi
    if [ "${CPU_OTHER:-0}" -gt 25 ]; then
        echo "WARNING: other processes used the CPU during the run; these figures are disturbed"
    fi
}

run_backend() {
    local backend=$1
    local data=$WORK/$backend port base token
    mkdir -p "$data"
    port=$(free_port)
    base=http://127.0.0.1:$port
    server_env "$backend" "$data" "$port" "$PG_NAME"

    log "$backend: $EVENTS events; wrk $DURATION, $THREADS threads, $CONNECTIONS connections"
    token=$("$BIN" organizer add --email bench@example.org --name Bench | sed -n 's/^API token: *//p')
    [ -n "$token" ] || { fail "$backend: no API token from 'convene organizer add'"; return; }

    "$BIN" serve --bind "127.0.0.1:$port" >"$WORK/server-$backend.log" 2>&1 &
    SERVER_PID=$!
    wait_until_up "$base" "$WORK/server-$backend.log" || { fail "$backend: the server did not start"; SERVER_PID=""; return; }
    local rss_start
    rss_start=$(rss_kb "$SERVER_PID")

    local setup started=$SECONDS
    setup=$(python3 "$ROOT/benches/feeds_setup.py" "$base" "$token" "$data" "$EVENTS" "$PERSONAL") ||
        { fail "$backend: setting up the events failed"; stop_server; drop_pg_db; return; }
    local personal_path event_path
    personal_path=$(json_field personal_feed <<<"$setup")
    event_path=/events/$(python3 -c 'import json,sys; print(json.load(sys.stdin)["attendee_events"][0])' <<<"$setup").ics
    echo "$backend: created $EVENTS events and $PERSONAL signups in $((SECONDS - started)) s; RSS at start $rss_start kB, now $(rss_kb "$SERVER_PID") kB"

    # (a) the site feed is a valid calendar of $EVENTS events, with a strong ETag.
    local got status etag site_bytes
    got=$(fetch "$base/calendar.ics" "$WORK/site-$backend.ics")
    read -r status etag <<<"$got"
    [ "$status" = 200 ] || fail "$backend: /calendar.ics answered $status"
    case $etag in \"*\") ;; *) fail "$backend: /calendar.ics has no strong ETag (got '$etag')" ;; esac
    site_bytes=$(stat -c %s "$WORK/site-$backend.ics")
    echo "$backend: /calendar.ics: ETag $etag; headers:"
    grep -iE '^(content-type|cache-control|last-modified|content-length):' "$WORK/site-$backend.ics.headers" | tr -d '\r' | sed 's/^/    /'
    check_calendar "$WORK/site-$backend.ics" "$EVENTS" "$backend /calendar.ics"
    # gzip would shrink it this much (Convene does not compress; a proxy in front may).
    echo "    gzip -6 of it: $(gzip -6c "$WORK/site-$backend.ics" | wc -c) bytes"

    # (b) If-None-Match with that ETag answers 304, with no body.
    local again
    again=$(fetch "$base/calendar.ics" "$WORK/site-304-$backend" -H "If-None-Match: $etag")
    read -r status _ <<<"$again"
    [ "$status" = 304 ] || fail "$backend: If-None-Match answered $status, not 304"
    [ ! -s "$WORK/site-304-$backend" ] || fail "$backend: the 304 answer has a body"
    echo "$backend: If-None-Match: $etag -> $status, $(stat -c %s "$WORK/site-304-$backend") bytes of body"
    local wrong
    wrong=$(fetch "$base/calendar.ics" "$WORK/site-wrong-$backend" -H 'If-None-Match: "not-the-tag"')
    [ "${wrong%% *}" = 200 ] || fail "$backend: a wrong ETag answered ${wrong%% *}, not 200"

    # (c) the personal feed: the attendee's $PERSONAL events.
    local p_etag p_bytes
    got=$(fetch "$base$personal_path" "$WORK/personal-$backend.ics")
    read -r status p_etag <<<"$got"
    [ "$status" = 200 ] || fail "$backend: the personal feed answered $status"
    p_bytes=$(stat -c %s "$WORK/personal-$backend.ics")
    echo "$backend: personal feed ${personal_path:0:16}...: $p_bytes bytes, ETag $p_etag"
    check_calendar "$WORK/personal-$backend.ics" "$PERSONAL" "$backend personal feed"
    again=$(fetch "$base$personal_path" "$WORK/personal-304-$backend" -H "If-None-Match: $p_etag")
    [ "${again%% *}" = 304 ] || fail "$backend: the personal feed with If-None-Match answered ${again%% *}"

    local e_bytes
    got=$(fetch "$base$event_path" "$WORK/event-$backend.ics")
    read -r status _ <<<"$got"
    [ "$status" = 200 ] || fail "$backend: $event_path answered $status"
    e_bytes=$(stat -c %s "$WORK/event-$backend.ics")
    check_calendar "$WORK/event-$backend.ics" 1 "$backend $event_path"

    local run
    for run in $RUNS; do
        case $run in
            site-full) EXPECT_BYTES=$site_bytes measure "$backend" "$run" "$base/calendar.ics" 200 ;;
            site-304) measure "$backend" "$run" "$base/calendar.ics" 304 -H "If-None-Match: $etag" ;;
            site-gzip) measure "$backend" "$run" "$base/calendar.ics" 200 -H "Accept-Encoding: gzip" ;;
            personal-full) EXPECT_BYTES=$p_bytes measure "$backend" "$run" "$base$personal_path" 200 ;;
            personal-304) measure "$backend" "$run" "$base$personal_path" 304 -H "If-None-Match: $p_etag" ;;
            event-full) EXPECT_BYTES=$e_bytes measure "$backend" "$run" "$base$event_path" 200 ;;
            *) fail "unknown run $run" ;;
        esac
    done

    # The feed did not change under load (nothing wrote), so its ETag is the same.
    got=$(fetch "$base/calendar.ics" "$WORK/site-after-$backend.ics")
    [ "${got#* }" = "$etag" ] || fail "$backend: the ETag changed without a change of events"
    cmp -s "$WORK/site-$backend.ics" "$WORK/site-after-$backend.ics" || fail "$backend: the feed's body changed"
    server_errors "$backend" "$WORK/server-$backend.log"
    stop_server
    drop_pg_db
}

main() {
    need_tools
    build
    machine
    local backend
    for backend in $BACKENDS; do
        run_backend "$backend"
    done
    log "summary"
    cat "$WORK/results.txt" 2>/dev/null || true
    if [ "$FAILED" != 0 ]; then
        echo "some checks FAILED" >&2
        exit 1
    fi
    log "done"
}

main "$@"
