#!/usr/bin/env bash
# Seed each target's corpus from the public samples in ../shared/corpus/ (and the sample
# logs, decompressed), so fuzzing starts from real records.
set -euo pipefail
cd "$(dirname "$0")"
corpus=../../shared/corpus
[ -d "$corpus" ] || { echo "no $corpus: clone shared beside the repository" >&2; exit 1; }
seed() { # target, files...
  local t=$1; shift
  mkdir -p "corpus/$t"
  for f in "$@"; do
    [ -f "$f" ] || continue
    # Large files are cut: libFuzzer works best on small inputs.
    head -c 65536 "$f" > "corpus/$t/$(echo "$f" | md5sum | cut -c1-16)"
  done
}
mapfile -t all < <(find "$corpus" -type f -size -2M ! -path '*/sigma/*')
seed framer "${all[@]}"
mapfile -t okta < <(find "$corpus/okta" "$corpus/panther-tests" -type f -name '*okta*' -o -type f -path '*okta*')
seed okta "${okta[@]}"
mapfile -t entra < <(find "$corpus/entra" -type f)
seed entra "${entra[@]}"
mapfile -t ct < <(find "$corpus/cloudtrail" -type f)
seed cloudtrail "${ct[@]}"
mapfile -t asa < <(find "$corpus/vpn-cisco-asa" -type f)
seed cisco_asa "${asa[@]}"
mapfile -t ovpn < <(find "$corpus/vpn-openvpn" -type f)
seed openvpn "${ovpn[@]}"
mapfile -t gp < <(find "$corpus/vpn-globalprotect" -type f)
seed globalprotect "${gp[@]}"
mkdir -p corpus/admin_audit
for f in ../sample-logs/admin/*.gz; do (zcat "$f" || true) | head -c 65536 > "corpus/admin_audit/$(basename "$f" .gz)"; done
mkdir -p corpus/mapping corpus/config
printf 'time = "/ts"\ntime_format = "%%d/%%m/%%Y %%H:%%M:%%S"\nactor = "/who/email"\naction = "/what"\n[constants]\ntool = "billing"\n\0{"ts":"04/08/2022 10:12:33","who":{"email":"a@b.c"},"what":"export"}\n' > corpus/mapping/example
cp ../sample-logs/midgame.toml corpus/config/sample
awk '/^```toml/{f=1; n++; next} /^```/{f=0} f{print > ("corpus/config/readme-" n)}' ../README.md
mapfile -t sigma < <(find "$corpus/sigma" -type f \( -name '*.yml' -o -name '*.yaml' \))
seed sigma "${sigma[@]}"
echo "seeded: $(ls corpus | wc -l) targets"
