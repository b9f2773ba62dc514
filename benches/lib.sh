# shellcheck shell=bash
# Helpers shared by the benchmark scripts (sourced, not run).
#
# Expects: set -euo pipefail, ROOT (the repository), WORK (a temporary folder), PG_URL.

BIN=${BENCH_BIN:-$ROOT/target/release/convene}
SERVER_PID=${SERVER_PID:-}
PG_DB=""
FAILED=0

log() { echo "== $*"; }
fail() {
    echo "FAIL: $*" >&2
    FAILED=1
}

psql_admin() {
    psql "$PG_URL/postgres" -X -q -v ON_ERROR_STOP=1 "$@"
}

# A new, empty PostgreSQL database named $1 (dropped first if a killed run left it) in PG_DB;
# drop_pg_db removes it.
fresh_pg_db() {
    PG_DB=$1
    psql_admin -c "DROP DATABASE IF EXISTS \"$PG_DB\" WITH (FORCE)" >/dev/null 2>&1
    psql_admin -c "CREATE DATABASE \"$PG_DB\"" >/dev/null
}

drop_pg_db() {
    if [ -n "$PG_DB" ]; then
        psql_admin -c "DROP DATABASE IF EXISTS \"$PG_DB\" WITH (FORCE)" >/dev/null || true
        PG_DB=""
    fi
}

# One query against the backend's database (for SQLite the file in data folder $2), its rows
# printed one a line with the values separated by spaces.
db_query() {
    local backend=$1 data=$2 sql=$3
    if [ "$backend" = postgres ]; then
        psql "$PG_URL/$PG_DB" -X -A -t -q -F ' ' -c "$sql"
    else
        python3 -c '
import sqlite3, sys
for row in sqlite3.connect(sys.argv[1]).execute(sys.argv[2]):
    print(" ".join(str(v) for v in row))' "$data/convene.db" "$sql"
    fi
}

need_tools() {
    if ! command -v wrk >/dev/null; then
        log "installing wrk"
        apt-get update -qq && apt-get install -y -qq wrk >/dev/null
    fi
    local tool
    for tool in curl python3 psql "$@"; do
        command -v "$tool" >/dev/null || { echo "$tool is needed" >&2; exit 1; }
    done
}

build() {
    if { [ "${BENCH_NO_BUILD:-0}" = "1" ] || [ -n "${BENCH_BIN:-}" ]; } && [ -x "$BIN" ]; then
        return
    fi
    log "cargo build --release"
    (cd "$ROOT" && cargo build --release --quiet)
}

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

machine() {
    log "machine"
    echo "cores: $(nproc); cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')"
    echo "memory: $(free -g | awk '/^Mem:/ {print $2 " GiB"}')"
    echo "disk of $WORK: $(df -h "$WORK" | awk 'NR==2 {print $1 ", " $4 " free"}')"
    echo "convene: $("$BIN" --version), binary $BIN built $(date -u -r "$BIN" '+%Y-%m-%d %H:%M UTC')"
    if [ -z "${BENCH_BIN:-}" ]; then
        echo "source: commit $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo '?')" \
            "$( [ -z "$(git -C "$ROOT" status --porcelain -- src Cargo.toml Cargo.lock migrations web 2>/dev/null)" ] || echo 'plus uncommitted changes in the working tree')"
    fi
    echo "wrk: $(wrk --version 2>&1 | head -1 | cut -d' ' -f1-2)"
}

# CPU ticks (1/100 s) so far: the machine's busy and idle time over all cores.
machine_ticks() {
    awk '/^cpu / {print $2 + $3 + $4 + $7 + $8 + $9, $5 + $6}' /proc/stat
}

# CPU ticks used so far by the given processes (those still running).
process_ticks() {
    local total=0 pid t
    for pid in "$@"; do
        t=$(awk '{print $14 + $15}' "/proc/$pid/stat" 2>/dev/null || echo 0)
        total=$((total + t))
    done
    echo "$total"
}

postgres_pids() {
    pgrep -x postgres || true
}

# Resident memory of a process, in kB.
rss_kb() {
    awk '/^VmRSS:/ {print $2}' "/proc/$1/status" 2>/dev/null || echo 0
}

# Waits (up to BENCH_QUIET_WAIT seconds, default 600) until the machine is at least 90% idle
# over 3 s, so that a build or test run beside the benchmark does not disturb it.
wait_for_quiet() {
    local deadline=$((SECONDS + ${BENCH_QUIET_WAIT:-600})) b0 i0 b1 i1
    while true; do
        read -r b0 i0 <<<"$(machine_ticks)"
        sleep 3
        read -r b1 i1 <<<"$(machine_ticks)"
        if [ $(((i1 - i0) * 10)) -ge $(((b1 - b0 + i1 - i0) * 9)) ]; then
            return 0
        fi
        if [ "$SECONDS" -ge "$deadline" ]; then
            echo "WARNING: the machine is still busy ($(((b1 - b0) * 100 / (b1 - b0 + i1 - i0)))% over the last 3 s); measuring anyway"
            return 0
        fi
        echo "waiting for a quiet machine (busy $(((b1 - b0) * 100 / (b1 - b0 + i1 - i0)))%)"
    done
}

# CPU accounting around one measurement: cpu_start, run it, then cpu_report LABEL.
cpu_start() {
    CPU_PG_PIDS=$(postgres_pids)
    read -r CPU_B0 CPU_I0 <<<"$(machine_ticks)"
    CPU_S0=$(process_ticks "$SERVER_PID")
    # shellcheck disable=SC2086
    CPU_P0=$(process_ticks $CPU_PG_PIDS)
    CPU_X0=$(process_ticks ${CPU_EXTRA_PIDS:-})
}

cpu_report() {
    local label=$1 b1 i1 s1 p1 x1 cores
    read -r b1 i1 <<<"$(machine_ticks)"
    s1=$(process_ticks "$SERVER_PID")
    # shellcheck disable=SC2086
    p1=$(process_ticks $CPU_PG_PIDS)
    x1=$(process_ticks ${CPU_EXTRA_PIDS:-})
    cores=$(nproc)
    local all=$((b1 - CPU_B0 + i1 - CPU_I0)) busy=$((b1 - CPU_B0))
    local s=$((s1 - CPU_S0)) p=$((p1 - CPU_P0)) x=$((x1 - CPU_X0))
    [ "$all" -gt 0 ] || all=1
    # WRK_TICKS (optional): the CPU the load generator used, measured by the caller.
    local w=${WRK_TICKS:-0}
    local other=$(((busy - s - p - x - w) * 100 * cores / all))
    local rest=${CPU_REST_LABEL:-everything else (wrk included)}
    [ -z "${WRK_TICKS:-}" ] || rest="wrk $((w * 100 * cores / all)), everything else"
    echo "$label: CPU in % of one core (of $cores): convene $((s * 100 * cores / all)), postgres $((p * 100 * cores / all)),${CPU_EXTRA_LABEL:+ $CPU_EXTRA_LABEL $((x * 100 * cores / all)),}" \
        "$rest $other, idle $(((i1 - CPU_I0) * 100 * cores / all))"
    CPU_OTHER=$other
    unset WRK_TICKS
}

wait_until_up() {
    local url=$1 log_file=$2 _
    for _ in $(seq 1 100); do
        if curl -fsS -o /dev/null "$url/healthz" 2>/dev/null; then
            return 0
        fi
        if ! kill -0 "$SERVER_PID" 2>/dev/null; then
            echo "the server exited; its log:" >&2
            cat "$log_file" >&2
            return 1
        fi
        sleep 0.1
    done
    echo "the server did not answer within 10 s" >&2
    return 1
}

# Exports the settings of one benchmark server: backend $1 (sqlite or postgres, then on a
# fresh database named $4), data folder $2, port $3; mail goes to .eml files, and the signup
# limit per address is off (all load comes from one loopback address).
server_env() {
    export CONVENE_DATA_DIR=$2 CONVENE_BIND=127.0.0.1:$3 CONVENE_BASE_URL=http://127.0.0.1:$3 CONVENE_LOG=warn
    export CONVENE_SIGNUPS_PER_MINUTE=0
    unset CONVENE_DATABASE_URL CONVENE_SMTP_URL
    if [ "$1" = postgres ]; then
        fresh_pg_db "$4"
        export CONVENE_DATABASE_URL=$PG_URL/$PG_DB
    fi
}

# Prints the first errors or panics in server log $2, under label $1, if it has any.
server_errors() {
    if grep -qiE ' (ERROR|panicked)' "$2"; then
        echo "$1: the server logged errors:"
        grep -iE ' (ERROR|panicked)' "$2" | head -5 | sed 's/^/    /'
    fi
}

# Samples the server's VmRSS (kB) every 0.1 s into file $1 until stop_sampler.
start_sampler() {
    (
        while kill -0 "$SERVER_PID" 2>/dev/null; do
            rss_kb "$SERVER_PID"
            sleep 0.1
        done
    ) >"$1" &
    SAMPLER_PID=$!
}

stop_sampler() {
    if [ -n "${SAMPLER_PID:-}" ]; then
        kill "$SAMPLER_PID" 2>/dev/null || true
        wait "$SAMPLER_PID" 2>/dev/null || true
        SAMPLER_PID=""
    fi
}

stop_server() {
    if [ -n "$SERVER_PID" ]; then
        kill "$SERVER_PID" 2>/dev/null || true
        wait "$SERVER_PID" 2>/dev/null || true
        SERVER_PID=""
    fi
}

# At exit: stops what the script started (its stop_helpers, when it has one, then the server),
# drops the PostgreSQL database and removes WORK (BENCH_KEEP=1 keeps it).
cleanup() {
    if declare -F stop_helpers >/dev/null; then
        stop_helpers
    fi
    stop_server
    drop_pg_db
    if [ "${BENCH_KEEP:-0}" = "1" ]; then
        echo "kept $WORK"
    else
        rm -rf "$WORK"
    fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

json_field() {
    python3 -c 'import json, sys; print(json.load(sys.stdin)[sys.argv[1]])' "$1"
}

bench_field() {
    sed -n "s/.* $1=\([^ ]*\).*/\1/p" <<<"$2"
}

# The disk's durable commit rate: one single-row INSERT per transaction, from one connection
# (and, for PostgreSQL, from CONNECTIONS at once with pgbench; PostgreSQL only when BACKENDS
# names it). Every signup and every sent message is such a commit, so their rates follow this
# one.
raw_commit_rates() {
    log "raw commit rate of the disk (2000 single-row transactions, one connection)"
    python3 - "$WORK" <<'EOF'
import os, sqlite3, sys, time
folder = sys.argv[1]
for sync in ("FULL", "NORMAL"):
    path = os.path.join(folder, f"raw-{sync.lower()}.db")
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute(f"PRAGMA synchronous={sync}")
    db.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, email TEXT NOT NULL, at TEXT NOT NULL)")
    n = 2000
    start = time.perf_counter()
    for i in range(n):
        db.execute("BEGIN IMMEDIATE")
        db.execute("INSERT INTO t (email, at) VALUES (?, datetime('now'))", (f"raw-{i}@example.org",))
        db.execute("COMMIT")
    seconds = time.perf_counter() - start
    db.close()
    print(f"sqlite WAL synchronous={sync}: {n / seconds:,.0f} commits/s")
EOF
    case " ${BACKENDS:-postgres} " in
        *" postgres "*) ;;
        *) return 0 ;;
    esac
    local db=convene_bench_raw_$$
    fresh_pg_db "$db"
    slow_commits "$db"
    psql "$PG_URL/$db" -X -q -c "CREATE TABLE t (id bigserial PRIMARY KEY, email text NOT NULL, at timestamptz NOT NULL DEFAULT now())"
    local start end
    start=$(date +%s.%N)
    python3 -c 'for i in range(2000): print(f"INSERT INTO t (email) VALUES (\x27raw-{i}@example.org\x27);")' |
        psql "$PG_URL/$db" -X -q -v ON_ERROR_STOP=1 >/dev/null
    end=$(date +%s.%N)
    python3 -c "print(f'postgresql synchronous_commit=on, 1 connection: {2000 / ($end - $start):,.0f} commits/s')"
    local pgbench
    pgbench=$(command -v pgbench || true)
    local candidate
    for candidate in /usr/lib/postgresql/*/bin/pgbench; do
        [ -n "$pgbench" ] || [ ! -x "$candidate" ] || pgbench=$candidate
    done
    if [ -n "$pgbench" ]; then
        echo "INSERT INTO t (email) VALUES ('pgbench@example.org');" >"$WORK/insert.sql"
        if "$pgbench" -n -f "$WORK/insert.sql" -c "${CONNECTIONS:-32}" -j "${THREADS:-2}" -T 5 "$PG_URL/$db" \
            >"$WORK/pgbench.txt" 2>&1; then
            awk -v c="${CONNECTIONS:-32}" '/^tps/ {printf "postgresql synchronous_commit=on, %d connections (pgbench): %.0f commits/s\n", c, $3}' \
                "$WORK/pgbench.txt"
        else
            echo "pgbench failed (no figure at ${CONNECTIONS:-32} connections):"
            sed 's/^/    /' "$WORK/pgbench.txt"
        fi
    fi
    drop_pg_db
}

# With BENCH_PG_COMMIT_DELAY=MICROSECONDS, every commit in database $1 waits that long before
# its WAL flush (PostgreSQL's commit_delay, with commit_siblings 0 so it always applies): a
# slower disk, to see how a figure depends on the commit latency. Off by default.
slow_commits() {
    local delay=${BENCH_PG_COMMIT_DELAY:-0}
    case "$delay" in
        '' | *[!0-9]*) echo "BENCH_PG_COMMIT_DELAY must be a number of microseconds, not $delay" >&2; exit 1 ;;
    esac
    [ "$delay" != 0 ] || return 0
    psql_admin -c "ALTER DATABASE \"$1\" SET commit_delay = $delay" \
        -c "ALTER DATABASE \"$1\" SET commit_siblings = 0" >/dev/null
    echo "PostgreSQL database $1: commit_delay ${delay} µs (BENCH_PG_COMMIT_DELAY)"
}
