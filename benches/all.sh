#!/usr/bin/env bash
# Everything of the "group commit / performance" issue in one run: each figure beside its limit
# measured in the same run, the ratio of the two and the target, with the checks after each run.
#
#   bash benches/all.sh
#
# 1. signups: benches/signups.sh as it is (no build, BENCH_CAPACITY=2000 so that most signups go
#    to the waitlist). It first measures the disk's durable commit rate (raw_commit_rates in
#    benches/lib.sh: SQLite from one connection, PostgreSQL from 1 and from 32 connections) and
#    checks the books after each backend's run (going = min(capacity, signups), one outbox row
#    per signup, waitlist places 1..N). Every signup is one durable commit, so that commit rate
#    is its limit; this script reads both from signups.sh's output.
# 2. pages: one `convene serve` on SQLite with 500 upcoming events (those of benches/feeds.sh,
#    benches/feeds_setup.py, moved to 2030) and three projects on one of them. `/`, that event's
#    page and `/calendar.ics` (plain and with Accept-Encoding: gzip) are saved with curl and
#    served at the same paths by examples/from_memory.rs: actix-web handing out those bytes from
#    memory, the ceiling. wrk (get.lua) runs each path against Convene, then against the ceiling;
#    after each run: no non-2xx answer, no socket error, whole bodies.
# 3. memory: Convene's VmRSS idle before the page runs, its maximum during them (sampled every
#    0.1 s) and 5 s after the last one: max < 60 MB, after within 20 MB of before.
# 4. big: per backend, one event of 50,000 people (40,000 seats, so 10,000 wait) and 200
#    projects, built through the API by benches/big_event_setup.py. Its event page and board
#    beside from_memory serving the same bytes; the organizer's attendee list (first page, last
#    page, a search); the CSV export of everyone (its time, its row count, VmRSS while it
#    streams); a capacity raise to 50,000 that moves the whole waitlist up (its time, then
#    everyone going and one queued promotion mail each); VmRSS throughout.
# At the end a Markdown table: what | Convene | limit in the same run | ratio | target. It exits 1
# when a check failed (a missed target is printed as MISSED, not counted as a failure).
#
# Environment (all optional):
#   BENCH_PARTS="signups pages big"    which parts to run, in that order
#   BENCH_BACKENDS="sqlite postgres"   backends of the signup and big runs (the pages run on SQLite)
#   BENCH_BIG_PEOPLE=50000 BENCH_BIG_SEATS=40000   the size of the big event
#   BENCH_DURATION=10s BENCH_THREADS=2 BENCH_CONNECTIONS=32
#   BENCH_CAPACITY=2000                 seats of the signup event, then the waitlist
#   BENCH_QUIET_WAIT=600                seconds to wait for an idle machine before each measurement
#   BENCH_PG_URL=postgres://postgres@127.0.0.1:5432   the PostgreSQL server (trust auth)
#   BENCH_NO_BUILD=1                    use target/release/convene and
#                                       target/release/examples/from_memory as they are
#   BENCH_CEILING_BIN=/path/to/from_memory   the ceiling binary to use
#   BENCH_BIN=/path/to/convene          measure this binary instead (from_memory is still built
#                                       unless BENCH_NO_BUILD=1)
#   BENCH_KEEP=1                        keep the temporary folder (its path is printed)
#
# Only loopback is used. Needs wrk (installed with apt-get if missing), curl, python3, psql, gzip.
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT=$PWD

PARTS=${BENCH_PARTS:-signups pages big}
BIG_PEOPLE=${BENCH_BIG_PEOPLE:-50000}
BIG_SEATS=${BENCH_BIG_SEATS:-40000}
BIG_PROJECTS=200
BACKENDS=${BENCH_BACKENDS:-sqlite postgres}
DURATION=${BENCH_DURATION:-10s}
THREADS=${BENCH_THREADS:-2}
CONNECTIONS=${BENCH_CONNECTIONS:-32}
CAPACITY=${BENCH_CAPACITY:-2000}
PG_URL=${BENCH_PG_URL:-postgres://postgres@127.0.0.1:5432}
EVENTS=500
# The event page measured: feeds_setup.py's event 253 has a short description and set hours.
PAGE_EVENT=feed-0253
CEILING_BIN=${BENCH_CEILING_BIN:-$ROOT/target/release/examples/from_memory}

WORK=$(mktemp -d /tmp/convene-all.XXXXXX)
# shellcheck source=benches/lib.sh
source "$ROOT/benches/lib.sh"

CEILING_PID=""
SAMPLER_PID=""
ROWS=()

# Called by lib.sh's cleanup at exit, and after the page runs: the memory sampler and the ceiling.
stop_helpers() {
    local pid
    for pid in "$SAMPLER_PID" "$CEILING_PID"; do
        [ -n "$pid" ] || continue
        kill "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
    SAMPLER_PID=""
    CEILING_PID=""
}

build_all() {
    build
    case " $PARTS " in *" pages "* | *" big "*) ;; *) return 0 ;; esac
    if [ "${BENCH_NO_BUILD:-0}" = "1" ] && [ -x "$CEILING_BIN" ]; then
        return 0
    fi
    log "cargo build --release --example from_memory"
    (cd "$ROOT" && cargo build --release --quiet --example from_memory)
}

# 12345.6 -> 12,346 ("?" for no figure).
commas() {
    case ${1:-} in '' | *[!0-9.]*) echo "?"; return ;; esac
    local n out=""
    n=$(LC_ALL=C printf '%.0f' "$1")
    while [ ${#n} -gt 3 ]; do
        out=,${n: -3}$out
        n=${n:0:${#n}-3}
    done
    echo "$n$out"
}

# A / B with two decimals ("-" without both).
ratio() {
    awk -v a="${1:-}" -v b="${2:-}" 'BEGIN { if (a == "" || b == "" || b + 0 == 0) print "-"; else printf "%.2f\n", a / b }'
}

# "met" when VALUE >= GOAL, else "MISSED".
verdict() {
    awk -v v="${1:-}" -v g="$2" 'BEGIN { if (v != "" && v + 0 >= g + 0) print "met"; else print "MISSED" }'
}

mb() {
    awk -v k="$1" 'BEGIN { printf "%.1f MB\n", k / 1024 }'
}

# One line of the summary table.
row() {
    ROWS+=("| $1 | $2 | $3 | $4 | $5 |")
}

# --- 1. signups, and the disk's commit rate measured just before them --------------------------

signups() {
    log "signups: benches/signups.sh, capacity $CAPACITY, backends $BACKENDS (its output follows)"
    local out=$WORK/signups.txt rc=0
    BENCH_NO_BUILD=1 BENCH_BACKENDS="$BACKENDS" BENCH_CAPACITY="$CAPACITY" BENCH_DURATION="$DURATION" \
        BENCH_THREADS="$THREADS" BENCH_CONNECTIONS="$CONNECTIONS" BENCH_PG_URL="$PG_URL" \
        bash "$ROOT/benches/signups.sh" 2>&1 | tee "$out" || rc=$?
    [ "$rc" = 0 ] || fail "benches/signups.sh exited $rc"

    # The lines of raw_commit_rates (benches/lib.sh).
    local sqlite_raw pg_raw1 pg_raw_many
    sqlite_raw=$(sed -n 's/^sqlite WAL synchronous=FULL: \([0-9,.]*\) commits\/s$/\1/p' "$out" | head -1 | tr -d ,)
    pg_raw1=$(sed -n 's/^postgresql synchronous_commit=on, 1 connection: \([0-9,.]*\) commits\/s$/\1/p' "$out" | head -1 | tr -d ,)
    pg_raw_many=$(sed -n 's/^postgresql synchronous_commit=on, [0-9]* connections (pgbench): \([0-9,.]*\) commits\/s$/\1/p' "$out" | head -1 | tr -d ,)

    local backend line accepted rps p99 going waiting books name limit limit_text goal seats
    seats="$(commas "$CAPACITY") seats then waitlist"
    [ "$CAPACITY" != none ] || seats="no seat limit"
    for backend in $BACKENDS; do
        # "<backend>: signups accepted (202): N in 10s = R requests/s; latency p50 X ms, p99 Y ms, max Z ms"
        line=$(grep "^$backend: signups accepted (202): " "$out" | head -1 || true)
        read -r accepted rps p99 <<<"$(sed -n 's/^.*: signups accepted (202): \([0-9]*\) in .* = \([0-9.]*\) requests\/s; latency p50 [0-9.]* ms, p99 \([0-9.]*\) ms.*/\1 \2 \3/p' <<<"$line")"
        # "<backend>: going N, waitlisted M; ..."
        read -r going waiting <<<"$(sed -n "s/^$backend: going \([0-9]*\), waitlisted \([0-9]*\);.*/\1 \2/p" "$out" | head -1)"
        if grep -q "^$backend: books OK" "$out"; then
            books="books OK"
        else
            books="books FAILED"
            fail "signups $backend: no 'books OK' from signups.sh: $(grep "^FAIL: $backend" "$out" | head -3 | tr '\n' ' ' || true)"
        fi
        [ -n "${rps:-}" ] || fail "signups $backend: no 'signups accepted' line in signups.sh's output"
        if [ "${waiting:-0}" = 0 ]; then
            echo "NOTE: $backend: nobody reached the waitlist (fewer than $CAPACITY signups)"
        fi
        case $backend in
            sqlite)
                name=SQLite goal=$sqlite_raw limit=$sqlite_raw
                limit_text="$(commas "$sqlite_raw") durable commits/s (WAL, synchronous=FULL, 1 connection)"
                ;;
            postgres)
                name=PostgreSQL goal=4000 limit=$pg_raw_many
                limit_text="$(commas "$pg_raw_many") commits/s from $CONNECTIONS connections (pgbench); 1 connection: $(commas "$pg_raw1")"
                ;;
            *) continue ;;
        esac
        row "signups/s, $name, $seats, $CONNECTIONS connections ($books; $(commas "${going:-}") going, $(commas "${waiting:-}") waitlisted)" \
            "$(commas "${rps:-}")/s, p99 ${p99:-?} ms ($(commas "${accepted:-}") in $DURATION)" \
            "$limit_text" "$(ratio "${rps:-}" "$limit")" "$(commas "$goal")/s: $(verdict "${rps:-}" "$goal")"
    done
}

# --- 2. pages and the gzip feed, against the same bytes from memory ----------------------------

# GET URL into FILE (headers into FILE.headers in another folder), extra curl arguments after;
# prints "STATUS CONTENT-TYPE".
save() {
    local url=$1 file=$2
    shift 2
    curl -sS -o "$file" -D "$WORK/headers/$(basename "$file")" -w '%{http_code} %{content_type}' "$@" "$url" || true
}

size_of() {
    stat -c %s "$1" 2>/dev/null || echo 0
}

# The content type of a "STATUS CONTENT-TYPE" from save.
type_of() {
    local t=${1#* }
    echo "${t:-application/octet-stream}"
}

wait_for_ceiling() {
    local url=$1 _
    for _ in $(seq 1 100); do
        if curl -fsS -o /dev/null "$url" 2>/dev/null; then
            return 0
        fi
        if ! kill -0 "$CEILING_PID" 2>/dev/null; then
            echo "from_memory exited; its log:" >&2
            cat "$WORK/ceiling.log" >&2
            return 1
        fi
        sleep 0.1
    done
    echo "from_memory did not answer within 10 s" >&2
    return 1
}

# One wrk run with benches/get.lua: LABEL URL MIN_BYTES MAX_BYTES [wrk arguments]. Sets RPS and
# P99; checks that no answer was an error or a socket failure and that the bytes per answer
# (headers included) are at least MIN_BYTES and, when MAX_BYTES is not empty, below it.
wrk_run() {
    local label=$1 url=$2 min_bytes=$3 max_bytes=$4
    shift 4
    local out=$WORK/wrk-$label.txt line bytes
    RPS="" P99=""
    wait_for_quiet
    log "$label: wrk -t$THREADS -c$CONNECTIONS -d$DURATION $* $url"
    cpu_start
    wrk -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" --latency -s "$ROOT/benches/get.lua" "$@" "$url" \
        >"$out" 2>&1 || fail "$label: wrk failed"
    cpu_report "$label"
    grep -E 'Requests/sec|Latency  |  50%|  99%|Non-2xx|Socket errors' "$out" | sed 's/^/    /' || true
    if [ "${CPU_OTHER:-0}" -gt 25 ]; then
        echo "WARNING: other processes used the CPU during the run; these figures are disturbed"
    fi
    line=$(grep '^BENCH ' "$out" || true)
    if [ -z "$line" ]; then
        fail "$label: no BENCH line from wrk"
        sed 's/^/    /' "$out"
        return 0
    fi
    RPS=$(bench_field rps "$line")
    P99=$(bench_field p99_ms "$line")
    bytes=$(bench_field bytes_per_request "$line")
    if grep -qE 'Non-2xx or 3xx responses|Socket errors' "$out" ||
        [ "$(bench_field errors "$line")" != 0 ] || [ "$(bench_field status_errors "$line")" != 0 ]; then
        fail "$label: errors under load: $(bench_field errors "$line") socket errors, $(bench_field status_errors "$line") error statuses"
    fi
    if [ "$bytes" -lt "$min_bytes" ] || { [ -n "$max_bytes" ] && [ "$bytes" -ge "$max_bytes" ]; }; then
        fail "$label: $bytes bytes per answer, expected at least $min_bytes${max_bytes:+ and less than $max_bytes}"
    fi
    echo "$label: $(commas "$RPS") req/s, p99 $P99 ms, $bytes bytes per answer (headers included)"
}

# The same path against Convene and against the ceiling: sets C_RPS C_P99 L_RPS L_P99.
side_by_side() {
    local name=$1 path=$2 min_bytes=$3 max_bytes=$4
    shift 4
    wrk_run "convene-$name" "$CONVENE_URL$path" "$min_bytes" "$max_bytes" "$@"
    C_RPS=$RPS C_P99=$P99
    wrk_run "ceiling-$name" "$CEILING_URL$path" "$min_bytes" "$max_bytes" "$@"
    L_RPS=$RPS L_P99=$P99
    echo "$name: convene / ceiling = $(ratio "$C_RPS" "$L_RPS")"
}

pages() {
    local data=$WORK/pages saved=$WORK/saved port token
    mkdir -p "$data" "$saved" "$WORK/headers"
    port=$(free_port)
    CONVENE_URL=http://127.0.0.1:$port
    server_env sqlite "$data" "$port"

    log "pages: convene serve on SQLite, $EVENTS upcoming events; wrk $DURATION, $THREADS threads, $CONNECTIONS connections"
    token=$("$BIN" organizer add --email bench@example.org --name Bench | sed -n 's/^API token: *//p')
    [ -n "$token" ] || { fail "pages: no API token from 'convene organizer add'"; return 0; }
    "$BIN" serve --bind "127.0.0.1:$port" >"$WORK/server-pages.log" 2>&1 &
    SERVER_PID=$!
    wait_until_up "$CONVENE_URL" "$WORK/server-pages.log" || { fail "pages: the server did not start"; SERVER_PID=""; return 0; }

    local started=$SECONDS
    python3 - "$CONVENE_URL" "$token" "$EVENTS" "$PAGE_EVENT" "$ROOT/benches" <<'EOF' || { fail "pages: setting up the events failed"; stop_server; return 0; }
import http.client, sys, urllib.parse
base, token, count, page_event, benches = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4], sys.argv[5]
sys.path.insert(0, benches)
import feeds_setup  # the events of benches/feeds.sh, so that the feed is the one measured there

url = urllib.parse.urlsplit(base)
conn = http.client.HTTPConnection(url.hostname, url.port, timeout=30)
auth = {"Authorization": f"Bearer {token}"}
for i in range(count):
    body = feeds_setup.event_body(i)
    # feeds.sh spreads them over 2027; in 2030 they stay upcoming (days are the 28th at most).
    for key in ("starts_at", "ends_at"):
        body[key] = "2030" + body[key][4:]
    status, raw = feeds_setup.request(conn, "POST", "/api/v1/events", body, auth)
    if status not in (200, 201):
        sys.exit(f"creating event {i} answered {status}: {raw[:500]!r}")
for p in ("docs", "core", "tests"):
    project = {"slug": p, "name": f"Project {p}", "location": f"Table {p}", "leads": [{"name": f"Lead of {p}"}]}
    status, raw = feeds_setup.request(conn, "POST", f"/api/v1/events/{page_event}/projects", project, auth)
    if status not in (200, 201):
        sys.exit(f"creating project {p} answered {status}: {raw[:500]!r}")
EOF
    echo "pages: created $EVENTS events and 3 projects on $PAGE_EVENT in $((SECONDS - started)) s"

    # Convene's answers, saved as sent: the bytes the ceiling serves. The gzip form is saved
    # compressed (no --compressed) as calendar.ics.gz, which from_memory serves to gzip clients.
    local home=$saved/home.html event=$saved/event.html feed=$saved/calendar.ics
    local got_home got_event got_feed got_gzip
    got_home=$(save "$CONVENE_URL/" "$home")
    got_event=$(save "$CONVENE_URL/events/$PAGE_EVENT" "$event")
    got_feed=$(save "$CONVENE_URL/calendar.ics" "$feed")
    got_gzip=$(save "$CONVENE_URL/calendar.ics" "$feed.gz" -H 'Accept-Encoding: gzip')
    local what got
    for what in "/ $got_home" "/events/$PAGE_EVENT $got_event" "/calendar.ics $got_feed" "/calendar.ics(gzip) $got_gzip"; do
        got=${what#* }
        [ "${got%% *}" = 200 ] || fail "pages: GET ${what%% *} answered ${got%% *}"
    done
    local file
    for file in "$home" "$event" "$feed" "$feed.gz"; do
        [ -s "$file" ] || fail "pages: the saved $(basename "$file") is empty"
    done
    local cards
    cards=$(grep -c '<li class="card">' "$home" || true)
    grep -q 'href="/events/' "$home" || fail "pages: / has no link to /events/"
    local p
    for p in docs core tests; do
        grep -q "Project $p" "$event" || fail "pages: the page of $PAGE_EVENT does not show Project $p"
    done
    local vevents
    vevents=$(grep -c $'^BEGIN:VEVENT\r$' "$feed" || true)
    [ "$vevents" = "$EVENTS" ] || fail "pages: /calendar.ics has $vevents VEVENTs, not $EVENTS"
    grep -qi '^content-encoding: *gzip' "$WORK/headers/calendar.ics.gz" ||
        fail "pages: /calendar.ics with Accept-Encoding: gzip came without Content-Encoding: gzip"
    gzip -dc "$feed.gz" 2>/dev/null | cmp -s - "$feed" ||
        fail "pages: the gzip feed does not decompress to the plain feed"
    local home_bytes event_bytes feed_bytes gzip_bytes
    home_bytes=$(size_of "$home") event_bytes=$(size_of "$event")
    feed_bytes=$(size_of "$feed") gzip_bytes=$(size_of "$feed.gz")
    echo "pages: / $home_bytes bytes ($cards event cards), /events/$PAGE_EVENT $event_bytes bytes," \
        "/calendar.ics $feed_bytes bytes ($vevents VEVENTs), gzip $gzip_bytes bytes"

    # The ceiling: the same bytes at the same paths, with the same Content-Type.
    local cport
    cport=$(free_port)
    CEILING_URL=http://127.0.0.1:$cport
    "$CEILING_BIN" --bind "127.0.0.1:$cport" \
        --file "/=$home=$(type_of "$got_home")" \
        --file "/events/$PAGE_EVENT=$event=$(type_of "$got_event")" \
        --file "/calendar.ics=$feed=$(type_of "$got_feed")" >"$WORK/ceiling.log" 2>&1 &
    CEILING_PID=$!
    wait_for_ceiling "$CEILING_URL/" || { fail "pages: from_memory did not start"; stop_helpers; stop_server; return 0; }
    CPU_EXTRA_PIDS=$CEILING_PID CPU_EXTRA_LABEL=from_memory
    local check=$WORK/check
    curl -fsS -o "$check" "$CEILING_URL/" && cmp -s "$check" "$home" || fail "pages: from_memory's / differs"
    curl -fsS -o "$check" "$CEILING_URL/events/$PAGE_EVENT" && cmp -s "$check" "$event" || fail "pages: from_memory's event page differs"
    curl -fsS -o "$check" -H 'Accept-Encoding: gzip' "$CEILING_URL/calendar.ics" && cmp -s "$check" "$feed.gz" ||
        fail "pages: from_memory's gzip feed differs"

    # Convene's memory: idle now, every 0.1 s during the runs, 5 s after the last one.
    local rss_idle rss_max rss_after
    rss_idle=$(rss_kb "$SERVER_PID")
    start_sampler "$WORK/rss.txt"

    side_by_side home / "$home_bytes" ""
    row "\`/\`, $EVENTS upcoming events ($cards on the page, $(commas "$home_bytes") bytes)" \
        "$(commas "$C_RPS") req/s, p99 $C_P99 ms" "$(commas "$L_RPS") req/s, p99 $L_P99 ms (from_memory, same bytes)" \
        "$(ratio "$C_RPS" "$L_RPS")" "≥ 20,000 req/s: $(verdict "$C_RPS" 20000)"

    side_by_side event "/events/$PAGE_EVENT" "$event_bytes" ""
    local event_ratio
    event_ratio=$(ratio "$C_RPS" "$L_RPS")
    row "\`/events/$PAGE_EVENT\`, 3 projects ($(commas "$event_bytes") bytes)" \
        "$(commas "$C_RPS") req/s, p99 $C_P99 ms" "$(commas "$L_RPS") req/s, p99 $L_P99 ms (from_memory, same bytes)" \
        "$event_ratio" "≥ 50% of the limit: $(verdict "${event_ratio/-/}" 0.5)"

    side_by_side feed-gzip /calendar.ics "$gzip_bytes" "$feed_bytes" -H 'Accept-Encoding: gzip'
    row "\`/calendar.ics\`, $EVENTS events, \`Accept-Encoding: gzip\` ($(commas "$gzip_bytes") bytes; plain $(commas "$feed_bytes"))" \
        "$(commas "$C_RPS") req/s, p99 $C_P99 ms" "$(commas "$L_RPS") req/s, p99 $L_P99 ms (from_memory, same bytes)" \
        "$(ratio "$C_RPS" "$L_RPS")" "≥ 40,000 req/s: $(verdict "$C_RPS" 40000)"

    stop_sampler
    sleep 5
    rss_after=$(rss_kb "$SERVER_PID")
    rss_max=$(sort -n "$WORK/rss.txt" | tail -1)
    rss_max=${rss_max:-0}
    [ "$rss_max" -ge "$rss_after" ] || rss_max=$rss_after
    log "memory: convene VmRSS idle before $(mb "$rss_idle"), max during the runs $(mb "$rss_max")" \
        "($(wc -l <"$WORK/rss.txt") samples), 5 s after $(mb "$rss_after")"
    local max_ok=PASS after_ok=PASS diff=$((rss_after - rss_idle))
    if [ "$rss_max" -ge $((60 * 1024)) ]; then
        max_ok=FAIL
        fail "memory: convene's VmRSS reached $(mb "$rss_max"), not below 60 MB"
    fi
    if [ "${diff#-}" -gt $((20 * 1024)) ]; then
        after_ok=FAIL
        fail "memory: 5 s after the runs convene's VmRSS is $(mb "$rss_after"), more than 20 MB from $(mb "$rss_idle") before"
    fi
    echo "$max_ok: max VmRSS $(mb "$rss_max") < 60 MB"
    echo "$after_ok: VmRSS 5 s after ($(mb "$rss_after")) within 20 MB of idle before ($(mb "$rss_idle"))"
    row "Convene VmRSS, max during the page runs" "$(mb "$rss_max")" "idle before: $(mb "$rss_idle")" "-" "< 60 MB: $max_ok"
    row "Convene VmRSS, 5 s after the last run" "$(mb "$rss_after")" "idle before: $(mb "$rss_idle")" \
        "$(awk -v d="$diff" 'BEGIN { printf "%+.1f MB\n", d / 1024 }')" "within 20 MB: $after_ok"

    server_errors "pages" "$WORK/server-pages.log"
    stop_helpers
    unset CPU_EXTRA_PIDS CPU_EXTRA_LABEL
    stop_server
}

# --- 3. one event of 50,000 people and 200 projects ------------------------------------------

max_of() {
    sort -n "$1" | tail -1
}

# GET with the organizer's session: PATH FILE; prints "STATUS SECONDS".
as_organizer() {
    curl -sS -o "$2" -H "Cookie: $COOKIE" -w '%{http_code} %{time_total}' "$CONVENE_URL$1" || true
}

big_backend() {
    local backend=$1 data=$WORK/big-$backend port created password token
    mkdir -p "$data" "$WORK/headers"
    port=$(free_port)
    CONVENE_URL=http://127.0.0.1:$port
    server_env "$backend" "$data" "$port" "convene_bench_big_$$"
    log "big event, $backend: $(commas "$BIG_PEOPLE") people, $BIG_PROJECTS projects, $(commas "$BIG_SEATS") seats"
    created=$("$BIN" organizer add --email bench@example.org --name Bench)
    password=$(sed -n 's/^Password: *//p' <<<"$created")
    token=$(sed -n 's/^API token: *//p' <<<"$created")
    [ -n "$token" ] && [ -n "$password" ] || { fail "big: no password or token from 'convene organizer add'"; return 0; }
    "$BIN" serve --bind "127.0.0.1:$port" >"$WORK/server-big-$backend.log" 2>&1 &
    SERVER_PID=$!
    wait_until_up "$CONVENE_URL" "$WORK/server-big-$backend.log" || { fail "big: the server did not start"; SERVER_PID=""; return 0; }
    local rss_idle
    rss_idle=$(rss_kb "$SERVER_PID")

    local status
    status=$(curl -sS -o /dev/null -w '%{http_code}' -X POST "$CONVENE_URL/api/v1/events" \
        -H "Authorization: Bearer $token" -H 'Content-Type: application/json' \
        -d "{\"slug\":\"big\",\"kind\":\"sprint\",\"title\":\"The big sprint\",\"timezone\":\"UTC\",\"starts_at\":\"2030-06-01T09:00\",\"ends_at\":\"2030-06-02T17:00\",\"capacity\":$BIG_SEATS}")
    [ "$status" = 201 ] || { fail "big: creating the event answered $status"; stop_server; drop_pg_db; return 0; }
    local setup
    setup=$(python3 "$ROOT/benches/big_event_setup.py" "$CONVENE_URL" "$token" big "$BIG_PROJECTS" "$BIG_PEOPLE" 16) ||
        { fail "big: building the event failed"; stop_server; drop_pg_db; return 0; }
    echo "big: built through the API: $setup"
    local going waiting
    going=$(db_query "$backend" "$data" "SELECT count(*) FROM registrations WHERE status = 'going'")
    waiting=$(db_query "$backend" "$data" "SELECT count(*) FROM registrations WHERE status = 'waitlisted'")
    echo "big: $going going, $waiting on the waitlist"
    [ "$going" = "$BIG_SEATS" ] || fail "big: $going going, not $BIG_SEATS"
    COOKIE=$(python3 "$ROOT/benches/big_event_setup.py" --login "$CONVENE_URL" bench@example.org "$password") ||
        { fail "big: signing in failed"; stop_server; drop_pg_db; return 0; }

    # The mail of 50,000 signups goes out first (it would disturb what follows).
    wait_for_quiet

    # The event page and the board against the same bytes from memory.
    local saved=$WORK/saved-big-$backend page=$WORK/saved-big-$backend/page.html board=$WORK/saved-big-$backend/board.html
    mkdir -p "$saved"
    local got_page got_board
    got_page=$(save "$CONVENE_URL/events/big" "$page")
    got_board=$(save "$CONVENE_URL/events/big/board" "$board")
    [ "${got_page%% *}" = 200 ] || fail "big: the event page answered ${got_page%% *}"
    [ "${got_board%% *}" = 200 ] || fail "big: the board answered ${got_board%% *}"
    grep -q "Project 199" "$page" || fail "big: the event page does not show Project 199"
    grep -q "Project 199" "$board" || fail "big: the board does not show Project 199"
    local cport
    cport=$(free_port)
    CEILING_URL=http://127.0.0.1:$cport
    "$CEILING_BIN" --bind "127.0.0.1:$cport" \
        --file "/events/big=$page=$(type_of "$got_page")" \
        --file "/events/big/board=$board=$(type_of "$got_board")" >"$WORK/ceiling.log" 2>&1 &
    CEILING_PID=$!
    wait_for_ceiling "$CEILING_URL/events/big" || { fail "big: from_memory did not start"; stop_helpers; stop_server; drop_pg_db; return 0; }
    CPU_EXTRA_PIDS=$CEILING_PID CPU_EXTRA_LABEL=from_memory
    start_sampler "$WORK/rss-big-pages.txt"
    local page_bytes board_bytes name=SQLite
    [ "$backend" = sqlite ] || name=PostgreSQL
    page_bytes=$(size_of "$page") board_bytes=$(size_of "$board")
    side_by_side "big-page-$backend" /events/big "$page_bytes" ""
    local r
    r=$(ratio "$C_RPS" "$L_RPS")
    row "$name: event page of $(commas "$BIG_PEOPLE") people, $BIG_PROJECTS projects ($(commas "$page_bytes") bytes)" \
        "$(commas "$C_RPS") req/s, p99 $C_P99 ms" "$(commas "$L_RPS") req/s (from_memory, same bytes)" "$r" \
        "≥ 50% of the limit: $(verdict "${r/-/}" 0.5)"
    side_by_side "big-board-$backend" /events/big/board "$board_bytes" ""
    r=$(ratio "$C_RPS" "$L_RPS")
    row "$name: board of that event ($(commas "$board_bytes") bytes)" \
        "$(commas "$C_RPS") req/s, p99 $C_P99 ms" "$(commas "$L_RPS") req/s (from_memory, same bytes)" "$r" \
        "≥ 50% of the limit: $(verdict "${r/-/}" 0.5)"
    stop_sampler
    stop_helpers
    unset CPU_EXTRA_PIDS CPU_EXTRA_LABEL

    # The organizer's list: the first page, the last, a search.
    local list=$WORK/list.html got last_page=$(((BIG_PEOPLE + 99) / 100)) what sought
    sought=$(printf '%05d' $((BIG_PEOPLE - 1)))
    for what in "/admin/events/big/attendees" "/admin/events/big/attendees?page=$last_page" \
        "/admin/events/big/attendees?q=person-$sought"; do
        got=$(as_organizer "$what" "$list")
        [ "${got%% *}" = 200 ] || fail "big: GET $what answered ${got%% *}"
        echo "big: GET $what: ${got#* } s, $(grep -c '<td data-label="Name">Person ' "$list" || true) people listed"
    done
    grep -q "<td data-label=\"Name\">Person $sought</td>" "$list" || fail "big: the search did not find Person $sought"

    # The CSV export, streamed: its time, its rows, the memory while it runs.
    local csv=$WORK/big.csv csv_seconds rows rss_before_csv rss_csv
    rss_before_csv=$(rss_kb "$SERVER_PID")
    start_sampler "$WORK/rss-big-csv.txt"
    got=$(as_organizer /admin/events/big/attendees.csv "$csv")
    stop_sampler
    csv_seconds=${got#* }
    rows=$(($(wc -l <"$csv") - 1))
    rss_csv=$(max_of "$WORK/rss-big-csv.txt")
    echo "big: attendees.csv: $rows rows, $(commas "$(size_of "$csv")") bytes in $csv_seconds s;" \
        "VmRSS $(mb "$rss_before_csv") before, at most $(mb "${rss_csv:-0}") while it streamed"
    [ "${got%% *}" = 200 ] || fail "big: the CSV export answered ${got%% *}"
    [ "$rows" = "$BIG_PEOPLE" ] || fail "big: the CSV has $rows rows, not $BIG_PEOPLE"
    row "$name: attendees.csv of $(commas "$BIG_PEOPLE") people ($(commas "$(size_of "$csv")") bytes)" "$csv_seconds s" \
        "VmRSS $(mb "$rss_before_csv") before, at most $(mb "${rss_csv:-0}") during" "-" \
        "< 2 s: $(awk -v s="$csv_seconds" 'BEGIN { print (s < 2 ? "met" : "MISSED") }')"

    # A capacity raise that moves the whole waitlist up and queues a mail for each.
    local raise_seconds promoted queued
    wait_for_quiet
    got=$(curl -sS -o "$WORK/raise.json" -w '%{http_code} %{time_total}' -X PATCH "$CONVENE_URL/api/v1/events/big" \
        -H "Authorization: Bearer $token" -H 'Content-Type: application/json' -d "{\"capacity\":$BIG_PEOPLE}")
    raise_seconds=${got#* }
    [ "${got%% *}" = 200 ] || fail "big: the capacity raise answered ${got%% *}: $(head -c 300 "$WORK/raise.json")"
    promoted=$(db_query "$backend" "$data" "SELECT count(*) FROM registrations WHERE status = 'going'")
    queued=$(db_query "$backend" "$data" "SELECT count(*) FROM outbox WHERE kind = 'promoted'")
    echo "big: capacity $BIG_SEATS -> $BIG_PEOPLE in $raise_seconds s: $promoted going, $queued promotion mails queued"
    [ "$promoted" = "$BIG_PEOPLE" ] || fail "big: $promoted going after the raise, not $BIG_PEOPLE"
    [ "$queued" = "$waiting" ] || fail "big: $queued promotion mails queued, not $waiting"
    row "$name: capacity raise promoting $(commas "$waiting") people, their mail queued" "$raise_seconds s" "-" "-" \
        "< 5 s: $(awk -v s="$raise_seconds" 'BEGIN { print (s < 5 ? "met" : "MISSED") }')"

    local rss_pages rss_after
    rss_pages=$(max_of "$WORK/rss-big-pages.txt")
    wait_for_quiet
    rss_after=$(rss_kb "$SERVER_PID")
    local rss_max=${rss_pages:-0}
    [ "${rss_csv:-0}" -le "$rss_max" ] || rss_max=$rss_csv
    echo "big: VmRSS idle $(mb "$rss_idle"), max during the runs $(mb "$rss_max"), after the mail went out $(mb "$rss_after")"
    row "$name: Convene VmRSS with the big event, max during its runs / after" "$(mb "$rss_max") / $(mb "$rss_after")" \
        "idle before: $(mb "$rss_idle")" "-" \
        "< 60 MB: $(awk -v k="$rss_max" 'BEGIN { print (k < 60 * 1024 ? "met" : "MISSED") }')"
    server_errors "big" "$WORK/server-big-$backend.log"
    stop_server
    drop_pg_db
}

big() {
    local backend
    for backend in $BACKENDS; do
        big_backend "$backend"
    done
}

summary() {
    log "summary (ratio = Convene / limit in the same run)"
    echo "| what | Convene | limit in the same run | ratio | target |"
    echo "| --- | --- | --- | --- | --- |"
    [ "${#ROWS[@]}" = 0 ] || printf '%s\n' "${ROWS[@]}"
}

main() {
    need_tools gzip
    build_all
    machine
    case " $PARTS " in
        *" pages "* | *" big "*) echo "ceiling: $CEILING_BIN built $(date -u -r "$CEILING_BIN" '+%Y-%m-%d %H:%M UTC')" ;;
    esac
    wait_for_quiet
    local part
    for part in $PARTS; do
        case $part in
            signups) signups ;;
            pages) pages ;;
            big) big ;;
            *) fail "unknown part $part (BENCH_PARTS takes signups, pages and big)" ;;
        esac
    done
    summary
    if [ "$FAILED" != 0 ]; then
        echo "some checks FAILED" >&2
        exit 1
    fi
    log "done: every check passed"
}

main "$@"
