#!/usr/bin/env bash
# Invoke the function through cargo-lambda's Runtime API emulator (`cargo lambda watch`) with
# a fixture event and check the answer. Needs cargo-lambda (`pip install cargo-lambda`).
#
#   indexer-lambda/bench/watch-invoke.sh [EVENT.json]
#
# The default event is the S3 test event, which touches no bucket; the function still needs
# RPMBUCKET_BUCKET and an AWS configuration (dummy values are set when absent).
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
EVENT=${1:-$REPO/indexer-lambda/tests/fixtures/s3-test-event.json}
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
LOG=$(mktemp)

export RPMBUCKET_BUCKET=${RPMBUCKET_BUCKET:-example-repo-bucket}
export AWS_REGION=${AWS_REGION:-us-east-1} AWS_ACCESS_KEY_ID=${AWS_ACCESS_KEY_ID:-test}
export AWS_SECRET_ACCESS_KEY=${AWS_SECRET_ACCESS_KEY:-test} AWS_EC2_METADATA_DISABLED=true

cd "$REPO"
cargo lambda watch --invoke-address 127.0.0.1 --invoke-port "$PORT" --ignore-changes \
  -p rpmbucket-indexer-lambda >"$LOG" 2>&1 &
WATCH=$!
trap 'kill $WATCH 2>/dev/null; wait $WATCH 2>/dev/null; rm -f "$LOG"' EXIT
for _ in $(seq 600); do
  curl -s -o /dev/null "http://127.0.0.1:$PORT/" && break
  kill -0 $WATCH 2>/dev/null || { cat "$LOG" >&2; exit 1; }
  sleep 0.5
done

# The first invoke builds and starts the function; give it time.
OUT=$(timeout 900 cargo lambda invoke rpmbucket-indexer --invoke-address 127.0.0.1 \
  --invoke-port "$PORT" --data-file "$EVENT")
echo "$OUT"
python3 -c 'import json,sys; r=json.loads(sys.argv[1]); assert "repositories" in r or "batchItemFailures" in r, r' "$OUT"
