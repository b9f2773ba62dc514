#!/usr/bin/env bash
# The fault suite at full length (tests/api/faults/: every test there, each with all its
# rounds), and a table of the figures each printed (its `FAULT name: key=value ...` line).
#
#   bash benches/faults.sh
#
# Environment (all optional):
#   FAULTS_FILTER=faults::       which tests (a cargo test filter), e.g. faults::smtp_outage
#   FAULTS_ROUNDS=N              rounds per test (CONVENE_FAULT_ROUNDS); unset: full length
#   FAULTS_PG_URL=postgres://postgres@127.0.0.1:5432/test   the PostgreSQL server the tests
#                                make their databases on (none is restarted: the restart test
#                                starts a server of its own); empty: SQLite only
#   FAULTS_LOG=FILE              keep the whole test output there (default: a temporary file)
#
# Only loopback is used. The tests run one at a time; the whole suite takes about 10 minutes.
set -euo pipefail

cd "$(dirname "$0")/.."

FILTER=${FAULTS_FILTER:-faults::}
PG_URL=${FAULTS_PG_URL-postgres://postgres@127.0.0.1:5432/test}
LOG=${FAULTS_LOG:-$(mktemp)}

echo "== machine"
echo "cores: $(nproc); commit $(git rev-parse --short HEAD 2>/dev/null || echo '?')$( [ -z "$(git status --porcelain -- src tests 2>/dev/null)" ] || echo ' plus uncommitted changes')"
echo "== cargo test --test api $FILTER -- --ignored (rounds: ${FAULTS_ROUNDS:-full}; log: $LOG)"

rounds=()
if [ -n "${FAULTS_ROUNDS:-}" ]; then
    rounds=(CONVENE_FAULT_ROUNDS="$FAULTS_ROUNDS")
fi
status=0
env "${rounds[@]}" CONVENE_TEST_POSTGRES_URL="$PG_URL" \
    cargo test --test api "$FILTER" -- --ignored --nocapture --test-threads 1 >"$LOG" 2>&1 ||
    status=$?

# Each FAULT line becomes a row; the rows of one test share a table whose header is the keys
# of its first line, in their order.
declare -A header=() separator=() rows=()
names=()
while IFS= read -r line; do
    line=${line#*FAULT }
    name=${line%%: *}
    read -r -a pairs <<<"${line#*: }"
    keys="|" line_separator="|" values="|"
    for pair in "${pairs[@]}"; do
        keys+=" ${pair%%=*} |"
        line_separator+=" --- |"
        values+=" ${pair#*=} |"
    done
    if [ -z "${header[$name]+set}" ]; then
        names+=("$name")
        header[$name]=$keys
        separator[$name]=$line_separator
    fi
    rows[$name]+="$values"$'\n'
done < <(grep -o 'FAULT [^ ]*: .*' "$LOG" || true)

echo
for name in "${names[@]}"; do
    echo "### $name"
    echo
    echo "${header[$name]}"
    echo "${separator[$name]}"
    printf '%s\n' "${rows[$name]}"
done
[ "${#names[@]}" -gt 0 ] || echo "(no FAULT lines)"

echo "== results"
# cargo's summary, and the name of each test that failed (listed under "failures:").
grep -E '^test result:|^    faults::' "$LOG" || true
if [ "$status" -ne 0 ]; then
    echo "the fault suite failed (exit $status); its output is in $LOG" >&2
    exit "$status"
fi
