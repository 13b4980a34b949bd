#!/usr/bin/env bash
# midgame next to DuckDB on the same files, the same threads, the same columns and the
# same compression; prints each step's medians and the ratios (DuckDB time / midgame
# time: above 1, midgame is faster).
#
#   benches/peer/run.sh                       # 1M events, 2 threads, 3 runs per step
#   EVENTS=10000000 RUNS=5 benches/peer/run.sh
#   SKIP_INGEST=1 benches/peer/run.sh         # only the detections
#
# Needs python3 (with venv) and cargo; installs DuckDB with pip into a virtualenv in the
# work folder (WORK, default /tmp/midgame-peer), where the generated logs are kept too.
set -euo pipefail
cd "$(dirname "$0")/../.."
EVENTS="${EVENTS:-1000000}"
THREADS="${THREADS:-2}"
RUNS="${RUNS:-3}"
WORK="${WORK:-${TMPDIR:-/tmp}/midgame-peer}"
DUCKDB_VERSION="${DUCKDB_VERSION:-2.0.0}"
mkdir -p "$WORK"

if [ ! -x "$WORK/venv/bin/python" ]; then
  python3 -m venv "$WORK/venv"
fi
if ! "$WORK/venv/bin/python" -c "import duckdb, sys; sys.exit(duckdb.__version__ != '$DUCKDB_VERSION')" 2>/dev/null; then
  "$WORK/venv/bin/pip" install --quiet --disable-pip-version-check "duckdb==$DUCKDB_VERSION"
fi

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/midgame-target}"
cargo build --release --quiet -p midgame
exec "$WORK/venv/bin/python" benches/peer/peer.py \
  --midgame "$CARGO_TARGET_DIR/release/midgame" \
  --queries queries --work "$WORK" --events "$EVENTS" --threads "$THREADS" --runs "$RUNS" \
  ${SKIP_INGEST:+--skip-ingest}
