#!/usr/bin/env bash
# Peak memory of `midgame ingest` on hostile inputs (issue 18): a gzip bomb of zeros, a
# zstd bomb of `{`, one 600 MB line without a newline. Each is ingested into a fresh lake
# under /usr/bin/time -v; the script prints the exit status, what midgame said, and the
# peak RSS. Inputs are made once and kept in $WORK.
#
#   benches/hostile/run.sh                       # the release binary (builds it)
#   MIDGAME=target/debug/midgame benches/hostile/run.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
WORK="${WORK:-/tmp/midgame-hostile}"
mkdir -p "$WORK"
if [ -z "${MIDGAME:-}" ]; then
  cargo build --release -p midgame >&2
  MIDGAME="${CARGO_TARGET_DIR:-target}/release/midgame"
fi
command -v zstd >/dev/null || { echo "needs zstd (apt-get install zstd)" >&2; exit 1; }

[ -f "$WORK/zeros.ndjson.gz" ] || head -c 4G /dev/zero | gzip > "$WORK/zeros.ndjson.gz"
[ -f "$WORK/braces.ndjson.zst" ] || head -c 3G /dev/zero | tr '\0' '{' | zstd -q -o "$WORK/braces.ndjson.zst"
[ -f "$WORK/line.log" ] || head -c 600M /dev/zero | tr '\0' 'a' > "$WORK/line.log"

# With the default limits, and with the ratio check off (the framing alone bounds memory).
printf '[limits]\nmax_ratio = 1000000000\n' > "$WORK/no-ratio.toml"
printf '%-22s %-9s %5s %12s  %s\n' input limits exit "peak RSS" "what midgame said (last line)"
for input in zeros.ndjson.gz braces.ndjson.zst line.log; do
  for limits in default no-ratio; do
    [ "$limits" = no-ratio ] && cfg=(--config "$WORK/no-ratio.toml") || cfg=()
    rm -rf "$WORK/lake"
    set +e
    /usr/bin/time -v "$MIDGAME" ingest -q --lake "$WORK/lake" "${cfg[@]}" "$WORK/$input" \
      > "$WORK/out.txt" 2> "$WORK/err.txt"
    status=$?
    set -e
    rss_kb=$(grep 'Maximum resident set size' "$WORK/err.txt" | awk '{print $NF}')
    said=$(grep -e "^error" -e "^warning" "$WORK/err.txt" | head -n 1 | cut -c1-110)
    quarantined=$( (cat "$WORK"/lake/_quarantine/*.ndjson 2>/dev/null || true) | wc -l)
    printf '%-22s %-9s %5s %9d MiB  %s (quarantined %s)\n' "$input" "$limits" "$status" \
      $((rss_kb / 1024)) "$said" "$quarantined"
  done
done
