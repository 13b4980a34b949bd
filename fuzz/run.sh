#!/usr/bin/env bash
# Build every fuzz target once, then run each for SECONDS (default 600), one after the
# other, and print what libFuzzer reports at the end of each (executions, crashes).
# The built binaries are run directly, not through `cargo fuzz run`: two `cargo fuzz run`
# at once rebuild the crates for each other. To use two cores, build once and start two
# runs with different TARGETS, with NO_BUILD=1.
set -uo pipefail
cd "$(dirname "$0")"
seconds=${1:-600}
targets=${TARGETS:-"framer okta entra cloudtrail cisco_asa openvpn globalprotect admin_audit mapping config sigma"}
if [ -z "${NO_BUILD:-}" ]; then
  cargo +nightly fuzz build || exit 1
fi
bin=target/x86_64-unknown-linux-gnu/release
for t in $targets; do
  mkdir -p "corpus/$t" "artifacts/$t"
  "$bin/$t" "corpus/$t" -max_total_time="$seconds" -rss_limit_mb=2048 \
    -artifact_prefix="artifacts/$t/" > "run-$t.log" 2>&1
  status=$?
  echo "$t: exit $status; $(grep -E '^#[0-9]+ *DONE|^Done [0-9]+ runs' "run-$t.log" | tail -n 1)"
  grep -E 'ERROR|panicked|Test unit written' "run-$t.log" | head -n 3
done
