#!/usr/bin/env bash
# midgame next to DuckDB on the same files, the same threads, the same columns and the
# same compression; prints each step's medians and the ratios (DuckDB time / midgame
# time: above 1, midgame is faster).
#
#   benches/peer/run.sh                       # 1M events, 2 threads, 3 runs per step
#   EVENTS=10000000 RUNS=5 benches/peer/run.sh
#   SKIP_INGEST=1 benches/peer/run.sh         # only the detections
#   LAYOUT=daily benches/peer/run.sh          # the lake as ingested, not clustered
#
# Needs python3 with pip, and cargo; installs DuckDB with pip into a virtualenv (or a
# PYTHONPATH folder) in the work folder (WORK, default /tmp/midgame-peer), where the
# generated logs are kept too.
set -euo pipefail
cd "$(dirname "$0")/../.."
EVENTS="${EVENTS:-1000000}"
THREADS="${THREADS:-2}"
RUNS="${RUNS:-3}"
WORK="${WORK:-${TMPDIR:-/tmp}/midgame-peer}"
DUCKDB_VERSION="${DUCKDB_VERSION:-2.0.0}"
mkdir -p "$WORK"

# DuckDB from PyPI: into a virtualenv, or (where python3 has no venv module, as on a bare
# Debian) into a folder on PYTHONPATH.
PY="$WORK/venv/bin/python"
if [ ! -x "$PY" ] && ! python3 -m venv "$WORK/venv" >/dev/null 2>&1; then
  rm -rf "$WORK/venv"
  PY=python3
  export PYTHONPATH="$WORK/pylib${PYTHONPATH:+:$PYTHONPATH}"
fi
if ! "$PY" -c "import duckdb, sys; sys.exit(duckdb.__version__ != '$DUCKDB_VERSION')" 2>/dev/null; then
  if [ "$PY" = python3 ]; then
    python3 -m pip install --quiet --disable-pip-version-check --upgrade --target "$WORK/pylib" "duckdb==$DUCKDB_VERSION"
  else
    "$PY" -m pip install --quiet --disable-pip-version-check "duckdb==$DUCKDB_VERSION"
  fi
fi

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/midgame-target}"
cargo build --release --quiet -p midgame
exec "$PY" benches/peer/peer.py \
  --midgame "$CARGO_TARGET_DIR/release/midgame" \
  --queries queries --work "$WORK" --events "$EVENTS" --threads "$THREADS" --runs "$RUNS" \
  --layout "${LAYOUT:-clustered}" ${SKIP_INGEST:+--skip-ingest}
