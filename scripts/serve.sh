#!/usr/bin/env bash
# The README's main command: build rpmbucket and serve a local directory as a YUM/DNF repository
# (uploads by HTTP PUT, re-indexed within a second, static GET for dnf/yum/zypper).
#   scripts/serve.sh [--root DIR] [--listen ADDR:PORT] [other `rpmbucket serve` options]
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
export RPMBUCKET_CACHE=${RPMBUCKET_CACHE:-$HOME/.cache/rpmbucket}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$RPMBUCKET_CACHE/target}
echo "==> building rpmbucket (release; target dir $CARGO_TARGET_DIR)" >&2
cargo build --release --locked --manifest-path "$repo/Cargo.toml" -p rpmbucket >&2
args=("$@")
have_root=0
for a in "${args[@]}"; do [ "$a" = "--root" ] && have_root=1; done
[ $have_root = 1 ] || args=(--root "$repo/repo" "${args[@]}")
exec "$CARGO_TARGET_DIR/release/rpmbucket" serve "${args[@]}"
