#!/usr/bin/env bash
# Cold start, handler time and size of the indexer Lambda, printed as a BENCHMARKS.md section.
#
#   indexer-lambda/bench/bench.sh [BOOTSTRAP_BINARY]
#
# BOOTSTRAP_BINARY defaults to the binary `cargo lambda build --release` leaves in
# $CARGO_TARGET_DIR/lambda/rpmbucket-indexer/bootstrap (or the x86_64 release binary).
# Needs: moto_server and boto3 (the test venv, $RPMBUCKET_CACHE/venv), the RPM fixtures
# (RPMBUCKET_FIXTURES or the tests crate's cache), python3.
#
# Measures, with the Runtime API emulator next to this script:
#   * init: process start -> first `GET /runtime/invocation/next` (median of 20 cold starts);
#   * handler: event delivered -> response posted, for S3 events adding one package to a
#     repository on moto (first event: empty repository, cold S3 connection; then warm, a
#     repository that already has packages).
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
CACHE=${RPMBUCKET_CACHE:-$HOME/.cache/rpmbucket}
TARGET=${CARGO_TARGET_DIR:-$CACHE/target}
VENV=$CACHE/venv
BIN=${1:-}
if [[ -z $BIN ]]; then
  for c in "$TARGET/lambda/rpmbucket-indexer/bootstrap" \
    "$TARGET/x86_64-unknown-linux-gnu/release/rpmbucket-indexer" \
    "$TARGET/release/rpmbucket-indexer"; do
    [[ -x $c ]] && BIN=$c && break
  done
fi
[[ -x ${BIN:-} ]] || { echo "no binary; build with cargo lambda build --release" >&2; exit 1; }
FIXTURES=${RPMBUCKET_FIXTURES:-$(ls -d "$CACHE"/fixtures/*/ 2>/dev/null | head -1)}
[[ -f $FIXTURES/fx-basic-1.0-1.noarch.rpm ]] || { echo "no fixtures in $FIXTURES" >&2; exit 1; }

WORK=$(mktemp -d)
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"$VENV/bin/moto_server" -H 127.0.0.1 -p "$PORT" >"$WORK/moto.log" 2>&1 &
MOTO=$!
trap 'kill $MOTO 2>/dev/null; rm -rf "$WORK"' EXIT
for _ in $(seq 50); do curl -s "http://127.0.0.1:$PORT/" >/dev/null && break; sleep 0.1; done

export AWS_ENDPOINT_URL=http://127.0.0.1:$PORT AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test
export AWS_REGION=us-east-1 AWS_DEFAULT_REGION=us-east-1 AWS_S3_FORCE_PATH_STYLE=1
export AWS_EC2_METADATA_DISABLED=true RPMBUCKET_BUCKET=bench RUST_LOG=warn

# Bucket with two packages uploaded; one S3 event each.
"$VENV/bin/python" - "$FIXTURES" "$WORK" <<'EOF'
import boto3, json, sys, os
fixtures, work = sys.argv[1:3]
s3 = boto3.client("s3", endpoint_url=os.environ["AWS_ENDPOINT_URL"])
s3.create_bucket(Bucket="bench")
for i, name in enumerate(["fx-lib-1.2-1.noarch.rpm", "fx-basic-1.0-1.noarch.rpm", "fx-utf8-1.0-1.noarch.rpm"]):
    key = f"el9/x86_64/{name}"
    etag = s3.put_object(Bucket="bench", Key=key, Body=open(f"{fixtures}/{name}", "rb").read())["ETag"].strip('"')
    event = {"Records": [{"eventVersion": "2.1", "eventSource": "aws:s3", "awsRegion": "us-east-1",
        "eventTime": "2026-11-27T12:00:00.000Z", "eventName": "ObjectCreated:Put",
        "s3": {"s3SchemaVersion": "1.0", "bucket": {"name": "bench", "arn": "arn:aws:s3:::bench"},
               "object": {"key": key, "eTag": etag, "size": 1}}}]}
    json.dump(event, open(f"{work}/event-{i}.json", "w"))
EOF

INIT=$(python3 "$HERE/runtime_api.py" --runs 20 "$BIN")
RUN=$(python3 "$HERE/runtime_api.py" "$BIN" "$WORK"/event-0.json "$WORK"/event-1.json "$WORK"/event-2.json)

size() { stat -c %s "$1"; }
ZIP=${ZIP:-$TARGET/lambda/rpmbucket-indexer/bootstrap.zip}
strip -o "$WORK/stripped" "$BIN"
python3 - "$INIT" "$RUN" "$BIN" "$(size "$BIN")" "$( [[ -f $ZIP ]] && size "$ZIP" || echo 0)" "$(size "$WORK/stripped")" <<'EOF'
import json, sys, platform, os, subprocess
init, run = json.loads(sys.argv[1]), json.loads(sys.argv[2])
binary, bsize, zsize, ssize = sys.argv[3], int(sys.argv[4]), int(sys.argv[5]), int(sys.argv[6])
inv = run["last_run"]["invocations"]
for i in inv:
    assert i["status"] == "response", i
cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
mem = int(next(l.split()[1] for l in open("/proc/meminfo") if l.startswith("MemTotal"))) / 1024 / 1024
load = open("/proc/loadavg").read().split()[0]
print(f"* Machine: {os.cpu_count()} CPUs ({cpu}), {mem:.1f} GiB RAM, Linux {platform.release()}; load average {load} while measuring (shared machine)")
print(f"* Binary: `cargo lambda build --release --output-format zip -p rpmbucket-indexer-lambda` (x86_64)")
print(f"* bootstrap: {bsize/1e6:.1f} MB (release profile keeps line tables; {ssize/1e6:.1f} MB stripped); bootstrap.zip: {zsize/1e6:.1f} MB")
print(f"* Cold start (spawn -> first `next`), 20 runs: median {init['init_ms_median']:.1f} ms, min {init['init_ms_min']} ms, max {init['init_ms_max']} ms")
print(f"* Handler, one new package per S3 event against moto on 127.0.0.1 (event -> response):")
for i, label in zip(inv, ["first event (empty repository, cold S3 connection)", "second event (repository of 1)", "third event (repository of 2)"]):
    print(f"  * {label}: {i['ms']} ms")
EOF
