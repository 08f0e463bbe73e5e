#!/usr/bin/env bash
# Builds the two Lambda zips for the architecture of the machine running Docker (LocalStack runs
# functions natively). Used by the `build` service of docker-compose.yml; runs in rust:1-bookworm.
set -euo pipefail
cd "$(dirname "$0")/.."

apt-get update -qq && apt-get install -y -qq --no-install-recommends python3-pip >/dev/null
pip3 install --quiet --break-system-packages 'cargo-lambda==1.9.2'

arch_flag=()
case "$(uname -m)" in
    aarch64 | arm64) arch_flag=(--arm64) ;;
    *) arch_flag=(--x86-64) ;;
esac
cargo lambda build --release "${arch_flag[@]}" --output-format zip --bin rpmbucket-indexer --bin rpmbucket-gateway
ls -l target/lambda/rpmbucket-indexer/bootstrap.zip target/lambda/rpmbucket-gateway/bootstrap.zip
