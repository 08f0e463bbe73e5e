#!/usr/bin/env bash
# Builds the two Lambda functions (provided.al2023, x86_64) with plain cargo and zips them:
#
#   scripts/build-lambdas.sh            -> $CARGO_TARGET_DIR/lambda/rpmbucket-{indexer,gateway}/bootstrap.zip
#
# Profile `aws-lambda` (Cargo.toml): release, no debug info, stripped, opt-level "s" (the hot
# compression and hashing crates at 3), fat LTO, one codegen unit. The build shares CARGO_TARGET_DIR
# with every other build (target/aws-lambda/), so a second run rebuilds only what changed
# (cargo-lambda builds with its own target and flags and so cannot reuse anything). Build times,
# cold and warm, are in BENCHMARKS.md (scripts/bench-lambda.sh). The zips land where
# `cargo lambda build --output-format zip` puts them, which is what infra/terraform/examples/basic
# expects by default.
#
# glibc: provided.al2023 has glibc 2.34. The binaries are linked against the build machine's glibc,
# so this script reads the symbol versions they need and refuses a binary that needs more than
# 2.34 (a Debian 12 / Ubuntu 22.04 host gives 2.34 at most for these two). On a newer host use
# `cargo lambda build --release --output-format zip` (zig links against an older glibc) or build in
# an Amazon Linux 2023 container. arm64 (Graviton) needs a cross build: cargo-lambda `--arm64`.
#
# Environment: CARGO_TARGET_DIR (default: the workspace's target/), RPMBUCKET_LAMBDA_MAX_GLIBC
# (default 2.34), RPMBUCKET_LAMBDA_ZIP_MAX_BYTES (default 10 MB = 10000000: a bigger zip fails the
# build; the sizes are in BENCHMARKS.md).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
TARGET=${CARGO_TARGET_DIR:-$ROOT/target}
MAX_GLIBC=${RPMBUCKET_LAMBDA_MAX_GLIBC:-2.34}
MAX_ZIP=${RPMBUCKET_LAMBDA_ZIP_MAX_BYTES:-10000000}
BINS=(rpmbucket-indexer rpmbucket-gateway)

die() {
  printf 'build-lambdas.sh: error: %s\n' "$*" >&2
  exit 1
}

case $(uname -m) in
  x86_64) ;;
  *) die "this builds x86_64 functions on an x86_64 host; on $(uname -m) use cargo lambda build --release --output-format zip" ;;
esac
command -v readelf >/dev/null || die "readelf (binutils) is needed to check the glibc symbol versions"
PY=$(command -v python3) || die "python3 is needed to write the zips"

start=$(date +%s)
cargo build --profile aws-lambda --locked --quiet \
  -p rpmbucket-indexer-lambda --bin rpmbucket-indexer \
  -p rpmbucket-gateway --bin rpmbucket-gateway
build_s=$(($(date +%s) - start))

for bin in "${BINS[@]}"; do
  exe=$TARGET/aws-lambda/$bin
  [[ -x $exe ]] || die "cargo built no $exe"
  # Highest GLIBC_x.y version the binary needs.
  need=$(readelf --version-info --wide "$exe" | grep -oE 'GLIBC_[0-9]+\.[0-9]+' | sed 's/GLIBC_//' | sort -uV | tail -1)
  if [[ -n $need && $(printf '%s\n%s\n' "$need" "$MAX_GLIBC" | sort -V | tail -1) != "$MAX_GLIBC" ]]; then
    die "$bin needs glibc $need, provided.al2023 has $MAX_GLIBC: build it with cargo lambda (see the header of this script)"
  fi
  out=$TARGET/lambda/$bin
  mkdir -p "$out"
  # A fixed timestamp and mode: the same binary gives the same zip, so Terraform's
  # source_code_hash changes only when the code does.
  "$PY" - "$exe" "$out/bootstrap.zip" <<'PYEOF'
import os, sys, zipfile
exe, dest = sys.argv[1:]
tmp = dest + ".tmp"
info = zipfile.ZipInfo("bootstrap", date_time=(1980, 1, 1, 0, 0, 0))
info.external_attr = (0o100755 << 16)
info.create_system = 3  # unix, so the mode bits count
info.compress_type = zipfile.ZIP_DEFLATED
with open(exe, "rb") as f, zipfile.ZipFile(tmp, "w") as z:
    z.writestr(info, f.read(), compresslevel=9)
os.replace(tmp, dest)
PYEOF
  size=$(stat -c %s "$out/bootstrap.zip")
  ((size <= MAX_ZIP)) || die "$out/bootstrap.zip is $size bytes, over the limit of $MAX_ZIP (RPMBUCKET_LAMBDA_ZIP_MAX_BYTES)"
  printf 'build-lambdas.sh: %s: binary %s bytes, zip %s bytes, glibc >= %s\n' \
    "$bin" "$(stat -c %s "$exe")" "$size" "${need:-none}"
done
printf 'build-lambdas.sh: cargo build --profile aws-lambda took %d s; zips in %s/lambda/\n' "$build_s" "$TARGET"
