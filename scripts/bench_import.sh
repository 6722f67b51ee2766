#!/usr/bin/env bash
# Import throughput of `localdx import` against sqlite3's own `.import` of the same CSV.
#
# Builds a ~100 MB CSV in /tmp by repeating the MTSamples rows (never in the repository), then
# times, on the same warm file:
#   - sqlite3 FILE ".import --csv" into a plain table (parse + insert, nothing else);
#   - localdx import (hash + encoding check, parse, validation, duplicate detection, split
#     assignment, insert in one transaction, WAL);
# and prints MB/s and rows/s for both and the ratio. Each is run RUNS times (default 3) on a fresh
# database; the best run counts.
#
# Usage: scripts/bench_import.sh            (builds the release binary first)
#        LOCALDX_BIN=path/to/localdx RUNS=5 scripts/bench_import.sh
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
src="${MTSAMPLES:-$root/../shared/data/mtsamples/mtsamples.csv}"
work="${BENCH_DIR:-/tmp/localdx-bench}"
target_mb="${TARGET_MB:-100}"
runs="${RUNS:-3}"

if [[ ! -f "$src" ]]; then
    echo "missing $src (the shared MTSamples CSV)" >&2
    exit 1
fi
command -v sqlite3 >/dev/null || { echo "sqlite3 CLI not installed" >&2; exit 1; }

if [[ -z "${LOCALDX_BIN:-}" ]]; then
    (cd "$root" && cargo build --release -p localdx-cli >&2)
    LOCALDX_BIN="${CARGO_TARGET_DIR:-$root/target}/release/localdx"
fi

mkdir -p "$work"
csv="$work/mtsamples_${target_mb}mb.csv"
if [[ ! -f "$csv" ]]; then
    body="$work/body.csv"
    tail -n +2 "$src" > "$body"
    head -n 1 "$src" > "$csv"
    body_bytes=$(stat -c %s "$body")
    copies=$(( (target_mb * 1000 * 1000 + body_bytes - 1) / body_bytes ))
    for _ in $(seq "$copies"); do cat "$body" >> "$csv"; done
    rm -f "$body"
fi
bytes=$(stat -c %s "$csv")
cat "$csv" > /dev/null   # warm the page cache for both tools

now() { date +%s.%N; }
best() { printf '%s\n' "$@" | sort -g | head -n 1; }

sqlite_times=()
for _ in $(seq "$runs"); do
    db="$work/plain.sqlite"; rm -f "$db" "$db"-wal "$db"-shm
    t0=$(now); sqlite3 "$db" ".import --csv $csv notes"; t1=$(now)
    sqlite_times+=("$(echo "$t1 - $t0" | bc -l)")
done
sqlite_rows=$(sqlite3 "$db" "SELECT count(*) FROM notes")

localdx_times=()
for _ in $(seq "$runs"); do
    db="$work/localdx.sqlite"; rm -f "$db" "$db"-wal "$db"-shm
    t0=$(now)
    "$LOCALDX_BIN" --db "$db" --json import "$csv" --text-column transcription --label-column medical_specialty \
        --skip-bad-rows --max-errors 0 > "$work/report.json"
    t1=$(now)
    localdx_times+=("$(echo "$t1 - $t0" | bc -l)")
done
read -r records rejected duplicates < <(python3 -c '
import json, sys
r = json.load(open(sys.argv[1]))
print(r["records"], r["rejected"], r["duplicates"])' "$work/report.json")
localdx_rows=$((records + rejected))

ts=$(best "${sqlite_times[@]}")
tl=$(best "${localdx_times[@]}")
mb=$(echo "$bytes / 1000000" | bc -l)
printf 'file: %s (%.1f MB, %d data rows)\n' "$csv" "$mb" "$sqlite_rows"
printf 'sqlite3 .import : %6.2f s  %7.1f MB/s  %9.0f rows/s   (best of %d)\n' "$ts" "$(echo "$mb / $ts" | bc -l)" "$(echo "$sqlite_rows / $ts" | bc -l)" "$runs"
printf 'localdx import  : %6.2f s  %7.1f MB/s  %9.0f rows/s   (best of %d; %d stored, %d rejected, %d duplicates)\n' \
    "$tl" "$(echo "$mb / $tl" | bc -l)" "$(echo "$localdx_rows / $tl" | bc -l)" "$runs" "$records" "$rejected" "$duplicates"
printf 'ratio localdx/sqlite3 time: %.2fx (goal: within 2x)\n' "$(echo "$tl / $ts" | bc -l)"
