#!/usr/bin/env bash
# Run every fuzz target for SECONDS (default 600) each, one after the other, and print
# what libFuzzer reports at the end of each (executions, coverage, crashes).
set -uo pipefail
cd "$(dirname "$0")"
seconds=${1:-600}
targets=${TARGETS:-"framer okta entra cloudtrail cisco_asa openvpn globalprotect admin_audit mapping config sigma"}
for t in $targets; do
  mkdir -p "corpus/$t"
  cargo +nightly fuzz run "$t" "corpus/$t" -- -max_total_time="$seconds" -rss_limit_mb=2048 \
    > "run-$t.log" 2>&1
  status=$?
  echo "$t: exit $status; $(grep -E '^#[0-9]+ *DONE' "run-$t.log" | tail -n 1)"
  grep -E 'ERROR|panicked|Test unit written' "run-$t.log" | head -n 3
done
