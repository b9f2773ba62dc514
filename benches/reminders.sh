#!/usr/bin/env bash
# Reminder delivery rate of one Convene instance into a local SMTP sink, and its memory
# meanwhile, on SQLite and on PostgreSQL.
#
#   bash benches/reminders.sh
#
# First it measures the disk's raw durable commit rate (raw_commit_rates in benches/lib.sh):
# each sent message is its own commit, so the rate follows the disk, which differs from day to
# day on this virtual machine. Then, for each backend: starts an SMTP sink on 127.0.0.1:2525
# that accepts, parses the header of, counts and discards every message (examples/smtp_sink.rs,
# built with cargo); starts a fresh `convene serve` (release build) with
# CONVENE_SMTP_URL=smtp://127.0.0.1:2525, CONVENE_WORKER_POLL_MS=200 (so reminders are looked
# for every 3 s) and CONVENE_REMINDER_OFFSETS=24h,1h; creates an event (no capacity) starting in
# two days; signs up 10,000 people and waits for their 10,000 confirmations at the sink; then
# moves the event (PATCH starts_at/ends_at) to start just under an hour from now, so that the
# 1-hour reminder is due at once for everyone. That sends 10,000 "Changed:" mails, then 10,000
# reminders. It reports the reminders' delivery rate at the sink (messages/s from the first to
# the last "Reminder:"), the other mails' rates, the CPU used by convene, PostgreSQL and the
# sink, and the resident memory (VmRSS) of convene sampled every second. Then it checks the
# books: one reminder per person, no duplicate Message-ID, and every outbox row sent (none
# failed or skipped).
#
# Why 10,000 people and not 5,000 with two reminders each: Convene sends only the nearest
# reminder whose moment has come (since commit 93c8eca), so an event moved to start within the
# hour gets the 1-hour reminder, not also the 24-hour one. And why "just under an hour" and not
# "50 minutes": a reminder goes only to registrations made before its moment (starts_at -
# offset); for a start 50 minutes ahead that moment is 10 minutes ago, before signups made a
# minute ago, and nobody gets a reminder. BENCH_START_IN=50m shows that.
#
# Environment (all optional):
#   BENCH_BACKENDS="sqlite postgres"   BENCH_PEOPLE=10000
#   BENCH_REMINDER_OFFSETS=24h,1h      BENCH_START_IN=  (seconds or 50m; default: the smallest
#                                      offset minus 10 s, so that reminder is due at once)
#   BENCH_SMTP_PORT=2525
#   BENCH_TIMEOUT=600  (seconds to wait for each phase's mail)   BENCH_QUIET_WAIT=600
#   BENCH_PG_URL=postgres://postgres@127.0.0.1:5432   BENCH_NO_BUILD=1   BENCH_KEEP=1
#   BENCH_PG_COMMIT_DELAY=1000  (µs each PostgreSQL commit waits before its flush: a slower disk)
#   BENCH_BIN=/path/to/convene  (measure this binary; no build)
#
# Only loopback is used. Needs python3, curl, psql.
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT=$PWD

BACKENDS=${BENCH_BACKENDS:-sqlite postgres}
PEOPLE=${BENCH_PEOPLE:-10000}
OFFSETS=${BENCH_REMINDER_OFFSETS:-24h,1h}
START_IN=${BENCH_START_IN:-}
SMTP_PORT=${BENCH_SMTP_PORT:-2525}
SINK_BIN=$ROOT/target/release/examples/smtp_sink
TIMEOUT=${BENCH_TIMEOUT:-600}
PG_URL=${BENCH_PG_URL:-postgres://postgres@127.0.0.1:5432}
PG_NAME=convene_bench_reminders

WORK=$(mktemp -d /tmp/convene-reminders.XXXXXX)
SINK_PID=""
SAMPLER_PID=""
# shellcheck source=benches/lib.sh
source "$ROOT/benches/lib.sh"
CPU_REST_LABEL="everything else (the signup client included)"

stop_pid() {
    local pid=$1
    if [ -n "$pid" ]; then
        kill "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    fi
}

# Called by cleanup (benches/lib.sh) at exit.
stop_helpers() {
    stop_pid "$SAMPLER_PID"
    SAMPLER_PID=""
    stop_pid "$SINK_PID"
    SINK_PID=""
}

# Builds the SMTP sink (BENCH_NO_BUILD=1 keeps one already built).
build_sink() {
    if [ "${BENCH_NO_BUILD:-0}" = "1" ] && [ -x "$SINK_BIN" ]; then
        return
    fi
    log "cargo build --release --example smtp_sink"
    (cd "$ROOT" && cargo build --release --quiet --example smtp_sink)
}

# Seconds in a duration such as 90, 6m, 24h or 2d.
seconds_of() {
    python3 -c '
import sys
raw = sys.argv[1].strip()
unit = {"s": 1, "m": 60, "h": 3600, "d": 86400}.get(raw[-1:], None)
print(int(raw[:-1]) * unit if unit else int(raw))' "$1"
}

# A stat from the sink's JSON file: total, duplicates, or KIND.count / KIND.first / KIND.last.
sink_stat() {
    python3 - "$WORK/sink.json" "$1" <<'EOF'
import json, sys
data = json.load(open(sys.argv[1]))
what = sys.argv[2]
if "." in what:
    kind, field = what.split(".")
    print(data["by_kind"].get(kind, {}).get(field, 0))
else:
    print(data[what])
EOF
}

# Waits until the sink has counted $2 messages of kind $1; gives up after TIMEOUT seconds, or
# after $3 seconds (default 60) without a new one.
wait_for_mail() {
    local kind=$1 want=$2 stall=${3:-60} deadline=$((SECONDS + TIMEOUT)) have last=-1 last_change=$SECONDS
    while true; do
        have=$(sink_stat "$kind.count")
        [ "$have" -ge "$want" ] && return 0
        if [ "$have" != "$last" ]; then
            last=$have
            last_change=$SECONDS
        fi
        if [ "$SECONDS" -ge "$deadline" ] || [ $((SECONDS - last_change)) -ge "$stall" ]; then
            echo "gave up waiting: $have of $want $kind messages at the sink"
            return 1
        fi
        sleep 0.5
    done
}

# Rate of one kind at the sink: "COUNT messages in SECONDS s = RATE/s".
kind_rate() {
    python3 - "$WORK/sink.json" "$1" <<'EOF'
import json, sys
k = json.load(open(sys.argv[1]))["by_kind"].get(sys.argv[2])
if not k:
    print("none")
else:
    span = k["last"] - k["first"]
    rate = (k["count"] - 1) / span if span > 0 else float("nan")
    print(f"{k['count']} messages in {span:.2f} s = {rate:,.0f}/s")
EOF
}

# Samples convene's VmRSS (kB) every second into a file: "unix-time rss".
start_sampler() {
    local out=$1
    (
        while kill -0 "$SERVER_PID" 2>/dev/null; do
            echo "$(date +%s.%N | cut -c1-14) $(rss_kb "$SERVER_PID")"
            sleep 1
        done
    ) >"$out" &
    SAMPLER_PID=$!
}

run_backend() {
    local backend=$1
    local data=$WORK/$backend port base token
    mkdir -p "$data"
    port=$(free_port)
    base=http://127.0.0.1:$port
    export CONVENE_DATA_DIR=$data CONVENE_BIND=127.0.0.1:$port CONVENE_BASE_URL=$base CONVENE_LOG=warn
    export CONVENE_SIGNUPS_PER_MINUTE=0  # load from one loopback address
    export CONVENE_SMTP_URL=smtp://127.0.0.1:$SMTP_PORT CONVENE_WORKER_POLL_MS=200
    export CONVENE_REMINDER_OFFSETS=$OFFSETS
    unset CONVENE_DATABASE_URL
    if [ "$backend" = postgres ]; then
        fresh_pg_db "$PG_NAME"
        slow_commits "$PG_DB"
        export CONVENE_DATABASE_URL=$PG_URL/$PG_DB
    fi
    log "$backend: $PEOPLE people, reminders $OFFSETS, SMTP sink on 127.0.0.1:$SMTP_PORT"

    "$SINK_BIN" --port "$SMTP_PORT" --stats "$WORK/sink.json" >"$WORK/sink-$backend.log" 2>&1 &
    SINK_PID=$!
    local _
    for _ in $(seq 1 50); do
        [ -s "$WORK/sink.json" ] && grep -q listening "$WORK/sink-$backend.log" && break
        sleep 0.1
    done
    grep -q listening "$WORK/sink-$backend.log" || { fail "$backend: the SMTP sink did not start: $(cat "$WORK/sink-$backend.log")"; return; }

    token=$("$BIN" organizer add --email bench@example.org --name Bench | sed -n 's/^API token: *//p')
    [ -n "$token" ] || { fail "$backend: no API token from 'convene organizer add'"; return; }
    "$BIN" serve --bind "127.0.0.1:$port" >"$WORK/server-$backend.log" 2>&1 &
    SERVER_PID=$!
    wait_until_up "$base" "$WORK/server-$backend.log" || { fail "$backend: the server did not start"; SERVER_PID=""; return; }
    start_sampler "$WORK/rss-$backend.txt"

    local auth=(-H "Authorization: Bearer $token" -H 'Content-Type: application/json')
    local in_two_days end_two_days status
    in_two_days=$(date -u -d '+2 days' +%Y-%m-%dT%H:%M:00)
    end_two_days=$(date -u -d '+2 days 3 hours' +%Y-%m-%dT%H:%M:00)
    status=$(curl -sS -o "$WORK/event.json" -w '%{http_code}' -X POST "$base/api/v1/events" "${auth[@]}" \
        -d "{\"slug\":\"reminders\",\"kind\":\"meetup\",\"title\":\"Reminder bench\",\"timezone\":\"UTC\",\"starts_at\":\"$in_two_days\",\"ends_at\":\"$end_two_days\",\"venue\":\"Hall\",\"address\":\"Street 1\"}")
    [ "$status" = 201 ] || [ "$status" = 200 ] || { fail "$backend: creating the event answered $status: $(cat "$WORK/event.json")"; return; }

    # Phase 1: the signups, and their confirmations.
    wait_for_quiet
    local signup t_signups
    CPU_EXTRA_PIDS=$SINK_PID
    CPU_EXTRA_LABEL=sink
    cpu_start
    signup=$(python3 "$ROOT/benches/reminders_setup.py" "$base" reminders "$PEOPLE" 8) ||
        { fail "$backend: the signups failed"; return; }
    t_signups=$(date +%s)
    echo "$backend: signed up $PEOPLE people in $(json_field seconds <<<"$signup") s (8 connections)"
    wait_for_mail confirmation "$PEOPLE" || fail "$backend: not all confirmations arrived"
    cpu_report "$backend signups+confirmations"
    echo "$backend: confirmations at the sink: $(kind_rate confirmation)"

    # Phase 2: move the event so that its nearest reminder is due now: the start is the smallest
    # offset minus 10 s from now, so that reminder's moment (10 s ago) follows every signup.
    local small start_at
    small=$(python3 -c 'import sys; print(min(int(x[:-1]) * {"m": 60, "h": 3600, "d": 86400}[x[-1]] for x in sys.argv[1].split(",")))' "$OFFSETS")
    if [ -n "$START_IN" ]; then
        start_at=$(($(date +%s) + $(seconds_of "$START_IN")))
    else
        while [ "$(date +%s)" -lt $((t_signups + 12)) ]; do sleep 1; done
        start_at=$(($(date +%s) + small - 10))
    fi
    local starts ends
    starts=$(date -u -d "@$start_at" +%Y-%m-%dT%H:%M:%S)
    ends=$(date -u -d "@$((start_at + 7200))" +%Y-%m-%dT%H:%M:%S)
    wait_for_quiet
    local rss_before t_patch
    rss_before=$(rss_kb "$SERVER_PID")
    cpu_start
    t_patch=$(date +%s.%N)
    status=$(curl -sS -o "$WORK/patch.json" -w '%{http_code}' -X PATCH "$base/api/v1/events/reminders" "${auth[@]}" \
        -d "{\"starts_at\":\"$starts\",\"ends_at\":\"$ends\"}")
    [ "$status" = 200 ] || { fail "$backend: PATCH answered $status: $(cat "$WORK/patch.json")"; return; }
    echo "$backend: moved the event to start at $starts UTC ($((start_at - $(date +%s))) s from now); PATCH took" \
        "$(python3 -c "import time; print(f'{time.time() - $t_patch:.2f}')") s"
    wait_for_mail changed "$PEOPLE" || fail "$backend: not all 'Changed:' mails arrived"
    if [ -z "$START_IN" ]; then
        wait_for_mail reminder "$PEOPLE" 30 || fail "$backend: not all reminders arrived"
    else
        wait_for_mail reminder "$PEOPLE" 30 || true
    fi
    cpu_report "$backend change mails+reminders"
    local t_end
    t_end=$(date +%s)
    sleep 2
    local rss_after
    rss_after=$(rss_kb "$SERVER_PID")
    echo "$backend: 'Changed:' at the sink: $(kind_rate changed)"
    echo "$backend: reminders at the sink: $(kind_rate reminder)"
    echo "RESULT backend=$backend reminders=\"$(kind_rate reminder)\" changed=\"$(kind_rate changed)\" confirmations=\"$(kind_rate confirmation)\"" >>"$WORK/results.txt"
    python3 - "$WORK/sink.json" <<'EOF'
import json, sys
data = json.load(open(sys.argv[1]))
per = data["per_second"].get("reminder", {})
if per:
    seconds = sorted(per)
    print("    reminders per second at the sink:", " ".join(str(per[s]) for s in seconds))
print("    subjects at the sink:")
for subject, n in sorted(data.get("subjects", {}).items(), key=lambda kv: -kv[1])[:8]:
    print(f"      {n:6d}  {subject}")
EOF

    # Memory: every second from the start of the server; the reminder phase marked.
    python3 - "$WORK/rss-$backend.txt" "$t_patch" "$t_end" "$backend" <<'EOF'
import sys
rows = [l.split() for l in open(sys.argv[1]) if len(l.split()) == 2]
rows = [(float(t), int(kb)) for t, kb in rows]
t0, t1 = float(sys.argv[2]), float(sys.argv[3])
before = [kb for t, kb in rows if t < t0]
during = [kb for t, kb in rows if t0 <= t <= t1]
mb = lambda kb: f"{kb / 1024:.1f} MB"
if before:
    print(f"{sys.argv[4]}: RSS before the PATCH: {mb(before[0])} at start, {mb(max(before))} at most, {mb(before[-1])} just before")
if during:
    print(f"{sys.argv[4]}: RSS during the change mails and reminders ({len(during)} samples): "
          f"min {mb(min(during))}, max {mb(max(during))}, first {mb(during[0])}, last {mb(during[-1])}")
    print("    samples (MB):", " ".join(f"{kb / 1024:.0f}" for kb in during))
EOF
    echo "$backend: RSS just before the PATCH $rss_before kB, 2 s after the last reminder $rss_after kB"

    # The books, straight from the database once the server has stopped.
    stop_pid "$SAMPLER_PID"
    SAMPLER_PID=""
    stop_server
    local dups
    dups=$(sink_stat duplicates)
    echo "$backend: outbox rows by kind and state:"
    db_query "$backend" "$data" "SELECT kind, CASE WHEN sent_at IS NOT NULL THEN 'sent' WHEN failed_at IS NOT NULL THEN 'failed'
                WHEN skipped_at IS NOT NULL THEN 'skipped' ELSE 'pending' END AS state, count(*)
            FROM outbox GROUP BY 1, 2 ORDER BY 1, 2" | sed 's/^/    /'
    local reminders not_sent
    reminders=$(sink_stat reminder.count)
    not_sent=$(db_query "$backend" "$data" "SELECT count(*) FROM outbox WHERE sent_at IS NULL")
    [ "$dups" = 0 ] || fail "$backend: $dups duplicate Message-IDs at the sink"
    [ "$not_sent" = 0 ] || fail "$backend: $not_sent outbox rows not sent"
    if [ -z "$START_IN" ]; then
        [ "$reminders" = "$PEOPLE" ] || fail "$backend: $reminders reminders at the sink, expected $PEOPLE"
        [ "$(sink_stat changed.count)" = "$PEOPLE" ] || fail "$backend: $(sink_stat changed.count) 'Changed:' mails, expected $PEOPLE"
    else
        echo "$backend: BENCH_START_IN=$START_IN with offsets $OFFSETS: $reminders reminders at the sink"
    fi
    [ "$FAILED" != 0 ] || echo "$backend: books OK: $(sink_stat total) messages, no duplicate, every outbox row sent"
    if grep -qiE ' (ERROR|WARN|panicked)' "$WORK/server-$backend.log"; then
        echo "$backend: the server logged:"
        grep -iE ' (ERROR|WARN|panicked)' "$WORK/server-$backend.log" | head -5 | sed 's/^/    /'
    fi
    stop_pid "$SINK_PID"
    SINK_PID=""
    unset CPU_EXTRA_PIDS CPU_EXTRA_LABEL
    rm -f "$WORK/sink.json"
    drop_pg_db
}

main() {
    need_tools
    build_sink
    build
    machine
    # Every sent message is its own durable commit: the disk's rate today is the context of
    # the figures below.
    wait_for_quiet
    raw_commit_rates
    if (echo >"/dev/tcp/127.0.0.1/$SMTP_PORT") 2>/dev/null; then
        echo "127.0.0.1:$SMTP_PORT is taken; set BENCH_SMTP_PORT" >&2
        exit 1
    fi
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
