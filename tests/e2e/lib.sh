# Start-up shared by the end-to-end scripts (run.sh, review.sh, quality.sh); sourced, never run.
# The caller sets `root` and `out` (logs and screenshots), and `work` (a temporary folder, removed
# on exit) or lets `e2e_physionet_workspace` make it, before starting the display and driver.
# Nothing here touches the network.

need() { command -v "$1" >/dev/null 2>&1 || { echo "e2e: '$1' not found ($2)"; exit 2; }; }

# The tools every script drives the app with.
e2e_need_tools() {
  need Xvfb "apt-get install xvfb"
  need WebKitWebDriver "apt-get install webkit2gtk-driver"
  need tauri-driver "cargo install tauri-driver --locked"
  need import "apt-get install imagemagick (screenshots of the X display)"
}

# Background processes, stopped (and `work` removed) when the script exits.
e2e_pids=()
e2e_cleanup() {
  for pid in "${e2e_pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${e2e_pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  if [ -n "${work:-}" ]; then rm -rf "$work"; fi
}
trap e2e_cleanup EXIT

# e2e_start_display NAME: a private X display (the first free number from 90 up) logging to
# $out/xvfb-NAME.log, and what the app needs under it (software rendering, no accessibility bus).
e2e_start_display() {
  local display=90 log="$out/xvfb-$1.log"
  while [ -e "/tmp/.X11-unix/X$display" ] || [ -e "/tmp/.X$display-lock" ]; do display=$((display + 1)); done
  Xvfb ":$display" -screen 0 1440x960x24 -nolisten tcp >"$log" 2>&1 &
  e2e_pids+=($!)
  for _ in $(seq 50); do [ -e "/tmp/.X11-unix/X$display" ] && break; sleep 0.1; done
  [ -e "/tmp/.X11-unix/X$display" ] || { echo "e2e: Xvfb did not start (see $log)"; exit 2; }
  export DISPLAY=":$display"
  unset WAYLAND_DISPLAY
  export WEBKIT_DISABLE_DMABUF_RENDERER=1 LIBGL_ALWAYS_SOFTWARE=1 NO_AT_BRIDGE=1
}

e2e_free_port() { node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'; }

# e2e_start_driver NAME: a tauri-driver (backed by WebKitWebDriver) logging to
# $out/tauri-driver-NAME.log; sets E2E_DRIVER_PORT and E2E_DRIVER_PID once it listens. The app it
# starts sees the caller's environment (LOCALDX_DB ...).
e2e_start_driver() {
  local native_port
  E2E_DRIVER_PORT=$(e2e_free_port)
  native_port=$(e2e_free_port)
  tauri-driver --port "$E2E_DRIVER_PORT" --native-port "$native_port" --native-driver "$(command -v WebKitWebDriver)" \
    >"$out/tauri-driver-$1.log" 2>&1 &
  E2E_DRIVER_PID=$!
  e2e_pids+=("$E2E_DRIVER_PID")
  for _ in $(seq 100); do (echo >"/dev/tcp/127.0.0.1/$E2E_DRIVER_PORT") 2>/dev/null && break; sleep 0.1; done
}

# For review.sh and quality.sh: checks the PhysioNet dev set is there, builds the UI, the app and the
# CLI (unless E2E_SKIP_BUILD is set), makes `work` (named after $1) and imports the notes as dataset
# 1 into a fresh plain database there (LOCALDX_DB). Sets `data` and `bins`.
e2e_physionet_workspace() {
  bins=${E2E_BIN_DIR:-${CARGO_TARGET_DIR:-$root/target}/debug}
  data=$root/../shared/data/physionet_deid/deid_gold_dev.jsonl
  [ -f "$data" ] || { echo "e2e: $data is absent"; exit 2; }
  if [ -z "${E2E_SKIP_BUILD:-}" ]; then
    npm run --silent ui:build
    cargo build -p localdx-app -p localdx-cli
  fi
  mkdir -p "$out"
  work=$(mktemp -d "${TMPDIR:-/tmp}/localdx-$1.XXXXXX")
  export LOCALDX_DB="$work/review.sqlite"
  "$bins/localdx" --json import "$data" --text-column text --id-column note_id --patient-column patient_id >/dev/null
}
