#!/usr/bin/env bash
# Runs the cargo-fuzz targets in fuzz/ (libFuzzer with AddressSanitizer) for SECONDS each, and
# prints, per target: executions, executions per second, code edges covered, inputs found that
# reach new code, peak memory, seconds run (a crash stops a target early) and crashes.
#   scripts/fuzz.sh [SECONDS] [TARGET...]      default: 600 s, every target; FUZZ_JOBS=2 runs two at once
# The committed corpus (fuzz/corpus/<target>/, seeds from fuzz/seeds.rs) is read, never written:
# what a run finds goes to a scratch copy under fuzz/target/corpus/. A crash is saved under
# fuzz/artifacts/<target>/ and fails the script; commit it to the corpus once it is fixed.
# cargo-fuzz drives the sanitizer through unstable compiler flags: on a stable toolchain this
# script sets RUSTC_BOOTSTRAP=1 for its own builds (fuzz/ is its own workspace and target folder,
# so nothing here reaches the product's build).
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-600}"
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(gguf tokenizer import phi sealed keyfile)
jobs="${FUZZ_JOBS:-1}"

if ! cargo fuzz --version >/dev/null 2>&1; then
  echo "fuzz: installing cargo-fuzz"
  cargo install cargo-fuzz --locked
fi
if ! rustc --version | grep -q nightly; then
  export RUSTC_BOOTSTRAP=1
fi

if [ ! -d fuzz/corpus ] || [ -z "$(ls -A fuzz/corpus)" ]; then
  cargo run -p localdx-api --example fuzz_seeds
fi
echo "fuzz: building ${targets[*]}"
nice cargo fuzz build --fuzz-dir fuzz

logs=fuzz/target/logs
mkdir -p "$logs"
run_one() {
  local t="$1" scratch="fuzz/target/corpus/$1"
  rm -rf "$scratch" && mkdir -p "$scratch" "fuzz/artifacts/$t"
  local started=$SECONDS rc=0
  nice cargo fuzz run --fuzz-dir fuzz "$t" "$scratch" "fuzz/corpus/$t" -- \
    -max_total_time="$seconds" -timeout=300 -rss_limit_mb=3072 -print_final_stats=1 \
    -artifact_prefix="fuzz/artifacts/$t/" >"$logs/$t.log" 2>&1 || rc=$?
  echo "$(( SECONDS - started ))" >"$logs/$t.seconds"
  return $rc
}
status=0
pids=()
for t in "${targets[@]}"; do
  run_one "$t" &
  pids+=("$!")
  if [ ${#pids[@]} -ge "$jobs" ]; then
    wait "${pids[0]}" || status=1
    pids=("${pids[@]:1}")
  fi
done
for p in "${pids[@]}"; do wait "$p" || status=1; done

printf '%-8s %12s %9s %9s %9s %9s %8s  %s\n' target executions exec/s edges new-units peak-MB seconds crashes
for t in "${targets[@]}"; do
  log="$logs/$t.log"
  stat() { grep -o "stat::$1: *[0-9]*" "$log" | tail -1 | grep -o '[0-9]*$' || echo "?"; }
  crashes=$(find "fuzz/artifacts/$t" -type f \( -name 'crash-*' -o -name 'oom-*' -o -name 'timeout-*' -o -name 'leak-*' \) | wc -l)
  edges=$(grep -o "cov: [0-9]*" "$log" | tail -1 | grep -o '[0-9]*$' || echo "?")
  printf '%-8s %12s %9s %9s %9s %9s %8s  %s\n' "$t" "$(stat number_of_executed_units)" "$(stat average_exec_per_sec)" \
    "$edges" "$(stat new_units_added)" "$(stat peak_rss_mb)" "$(cat "$logs/$t.seconds")" "$crashes"
  if [ "$crashes" -gt 0 ]; then
    status=1
    grep -m3 -E "ERROR: |panicked at|SUMMARY" "$log" | sed "s/^/  $t: /"
  fi
done
exit $status
