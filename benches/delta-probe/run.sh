#!/usr/bin/env bash
# Delta Lake next to midgame's manifest (see src/main.rs): build the probe (with
# cargo's --timings, to count what Delta adds to a build) and run it on a copy of a
# lake's auth folder.   benches/delta-probe/run.sh LAKE
set -euo pipefail
cd "$(dirname "$0")"
LAKE="${1:?usage: run.sh LAKE (a day-partitioned lake, as ingested)}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/midgame-target}"
cargo build --release --timings
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
cp -r "$LAKE/auth" "$WORK/auth"
"$CARGO_TARGET_DIR/release/delta-probe" "$WORK/auth"
