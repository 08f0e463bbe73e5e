#!/usr/bin/env bash
# The deployment rehearsal: terraform apply -> curl -T -> dnf install, on one machine, with the real
# functions. Run by scripts/test.sh; runs alone too:
#
#   scripts/rehearse.sh
#
# 1. builds the two Lambda zips (scripts/build-lambdas.sh; cached in CARGO_TARGET_DIR) and the
#    rpmbucket CLI (for hashing a token), starts its own moto server on 127.0.0.1;
# 2. terraform apply of infra/terraform/examples/basic to moto with the real zips, lists and counts
#    the resources, checks their settings through the AWS APIs (tests/verify_moto.py), the applied
#    IAM documents (tests/policy_test.py) and that a second plan is empty;
# 3. runs each deployed function's own bootstrap (from the zip the Lambda API reports) under a Lambda
#    Runtime API emulator, configured from what was deployed (environment, timeout, function URL,
#    event source mapping, schedule), and feeds it what AWS would: function-URL requests for the
#    gateway, SQS batches for the indexer (batch size, window, partial batch failures; SQS applies
#    the visibility timeout and the redrive to the DLQ), the schedule's reconcile event;
# 4. scripts/smoke.sh through that wiring (upload with both curl forms, dnf install, delete); a
#    poison message must end in the DLQ; a package put while notifications are off must be
#    published by the scheduled reconcile;
# 5. terraform destroy, and nothing may be left in moto. Every step has a timeout.
#
# What only AWS can show (not proven here): IAM enforcement (moto allows everything; the policies
# are checked as documents), CloudFront (moto has no cache policies: public-read is used), real
# Lambda limits (memory, /tmp size, concurrency, the 6 MB payload limit is emulated), presigned URL
# signatures and expiry (moto does not check them; the LocalStack tests do), glibc of provided.al2023
# (checked on the binary's symbol versions instead), arm64.
#
# Environment: RPMBUCKET_CACHE, CARGO_TARGET_DIR (as scripts/test.sh), RPMBUCKET_LAMBDA_ZIP_DIR
# (use these zips: DIR/rpmbucket-{indexer,gateway}/bootstrap.zip), RPMBUCKET_BIN (the rpmbucket
# CLI), RPMBUCKET_TF_PLUGIN_DIR (provider plugin directory, default /opt/tf-plugins),
# RPMBUCKET_KEEP_WORKDIR=1 (keep logs and state), RPMBUCKET_REHEARSAL_TIMEOUT (seconds, default 1500).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=scripts/test.sh
source "$ROOT/scripts/test.sh" # functions only: install_moto, start_moto, on_cleanup, ...
trap run_cleanup EXIT
trap 'exit 130' INT TERM
cd "$ROOT"

say() { printf 'rehearse: %s\n' "$*"; }
die() {
  printf 'rehearse.sh: error: %s\n' "$*" >&2
  exit 1
}
T0=$(date +%s)

for cmd in terraform rpmbuild dnf curl readelf; do
  command -v "$cmd" >/dev/null || die "rehearse.sh needs $cmd (scripts/test.sh installs the Debian packages)"
done
PLUGIN_DIR=${RPMBUCKET_TF_PLUGIN_DIR:-/opt/tf-plugins}
[[ -d $PLUGIN_DIR ]] || die "no terraform provider plugin directory at $PLUGIN_DIR (set RPMBUCKET_TF_PLUGIN_DIR)"

if [[ -n ${RPMBUCKET_LAMBDA_ZIP_DIR:-} ]]; then
  ZIP_DIR=$RPMBUCKET_LAMBDA_ZIP_DIR
  say "using the zips in $ZIP_DIR"
else
  say "building the Lambda zips (scripts/build-lambdas.sh)"
  t=$(date +%s)
  bash "$ROOT/scripts/build-lambdas.sh"
  say "zips built in $(($(date +%s) - t)) s"
  ZIP_DIR=$CARGO_TARGET_DIR/lambda
fi
for b in rpmbucket-indexer rpmbucket-gateway; do
  [[ -f $ZIP_DIR/$b/bootstrap.zip ]] || die "missing $ZIP_DIR/$b/bootstrap.zip"
done
if [[ -z ${RPMBUCKET_BIN:-} || ! -x ${RPMBUCKET_BIN:-} ]]; then
  cargo build --quiet -p rpmbucket --bin rpmbucket
  RPMBUCKET_BIN=$CARGO_TARGET_DIR/debug/rpmbucket
fi

# A moto server of its own ("nothing left behind" is checked on all of it), with moto's own
# SQS-to-Lambda delivery off: the rehearsal is the event source mapping (see the launcher).
install_moto
PORT=$(free_port)
MOTO_LOG=$RPMBUCKET_CACHE/moto-rehearsal-$PORT.log
"$VENV/bin/python" "$ROOT/scripts/lib/moto-no-lambda-invoke.py" -H 127.0.0.1 -p "$PORT" >"$MOTO_LOG" 2>&1 </dev/null &
MOTO_PID=$!
on_cleanup "kill $MOTO_PID 2>/dev/null; wait $MOTO_PID 2>/dev/null
  if ((EXIT_STATUS == 0)); then rm -f '$MOTO_LOG'; else echo 'rehearse: moto log kept: $MOTO_LOG' >&2; fi"
for ((i = 0; i < 150; i++)); do
  curl -fs -o /dev/null "http://127.0.0.1:$PORT/" && break
  kill -0 "$MOTO_PID" 2>/dev/null || { cat "$MOTO_LOG" >&2; die "moto exited"; }
  sleep 0.2
done
((i < 150)) || die "moto did not answer on port $PORT"
export AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test AWS_REGION=us-east-1 AWS_DEFAULT_REGION=us-east-1
export AWS_EC2_METADATA_DISABLED=true
unset AWS_SESSION_TOKEN AWS_PROFILE AWS_ENDPOINT_URL
ENDPOINT=http://127.0.0.1:$PORT

WORK=$(mktemp -d "${TMPDIR:-/tmp}/rpmbucket-rehearsal.XXXXXX")
on_cleanup "if ((EXIT_STATUS == 0)) && [[ \${RPMBUCKET_KEEP_WORKDIR:-0} != 1 ]]; then rm -rf '$WORK'; else echo 'rehearse: logs and state kept in $WORK' >&2; fi"

say "moto at $ENDPOINT; logs in $WORK"
timeout --kill-after=30 "${RPMBUCKET_REHEARSAL_TIMEOUT:-1500}" \
  "$VENV/bin/python" "$ROOT/scripts/rehearse.py" --endpoint "$ENDPOINT" --repo "$ROOT" \
  --workdir "$WORK" --plugin-dir "$PLUGIN_DIR" --rpmbucket "$RPMBUCKET_BIN" \
  --indexer-zip "$ZIP_DIR/rpmbucket-indexer/bootstrap.zip" --gateway-zip "$ZIP_DIR/rpmbucket-gateway/bootstrap.zip" ||
  die "the rehearsal failed (status $?) after $(($(date +%s) - T0)) s"
say "passed in $(($(date +%s) - T0)) s (build included)"
