#!/usr/bin/env bash
# LocalStack in host mode (no Docker) for the tests that need an S3 that validates presigned
# URLs like AWS does (moto accepts any signature, expiry and body).
#
#   scripts/localstack.sh install        install into $RPMBUCKET_CACHE/localstack-venv if absent
#   scripts/localstack.sh start DIR      install if needed, start on a free 127.0.0.1 port;
#                                        writes DIR/endpoint and DIR/pid, waits until S3 answers
#   scripts/localstack.sh stop DIR       stop the server started with DIR
#
# Needs Python 3.13 (python3.13 on PATH, or RPMBUCKET_PYTHON313). Pinned versions: see
# localstack/README.md ("Without Docker").
#
# Settings, chosen so the aws Terraform provider and the AWS SDKs work against it too:
#   GATEWAY_SERVER=hypercorn          the default server ignores GATEWAY_LISTEN's host (binds all)
#   SQS_ENDPOINT_STRATEGY=off         queue URLs http://127.0.0.1:PORT/ACCOUNT/NAME; "path" gives
#                                     URLs the aws provider rejects ("in the incorrect format")
#   S3_HOSTNAME=127.0.0.1             *.localhost.localstack.cloud does not resolve offline
#   S3_SKIP_SIGNATURE_VALIDATION=0    presigned URLs are checked like on AWS
# Environment: RPMBUCKET_LOCALSTACK_SERVICES (default s3; e.g. s3,sqs,iam,sts,secretsmanager,logs,
# cloudwatch,scheduler,lambda to apply the Terraform module, which then fails at the functions:
# LocalStack runs Lambda functions only in Docker).
set -euo pipefail

RPMBUCKET_CACHE=${RPMBUCKET_CACHE:-${HOME:-/root}/.cache/rpmbucket}
VENV=$RPMBUCKET_CACHE/localstack-venv
LOCALSTACK_VERSION=2026.3.0

die() {
  printf 'localstack.sh: error: %s\n' "$*" >&2
  exit 1
}

install() {
  if [[ -x $VENV/bin/python ]] &&
    "$VENV/bin/python" -c "import importlib.metadata as m, sys; sys.exit(m.version('localstack-core') != '$LOCALSTACK_VERSION')" 2>/dev/null; then
    return
  fi
  local py=${RPMBUCKET_PYTHON313:-} cand
  if [[ -z $py ]]; then
    # A pyenv shim exists even where 3.13 is not the selected version: ask the versions directly.
    for cand in "$(command -v python3.13 || true)" "${PYENV_ROOT:-$HOME/.pyenv}"/versions/3.13*/bin/python3.13; do
      if [[ -n $cand && -x $cand ]] && "$cand" -c 'import venv' >/dev/null 2>&1; then
        py=$cand
        break
      fi
    done
  fi
  [[ -n $py ]] || die "python3.13 not found (set RPMBUCKET_PYTHON313)"
  echo "localstack.sh: installing localstack-core $LOCALSTACK_VERSION into $VENV" >&2
  "$py" -m venv "$VENV"
  "$VENV/bin/pip" install --quiet --disable-pip-version-check \
    "localstack-core[runtime]==$LOCALSTACK_VERSION" 'cbor2<6' 'cryptography<45' 'pyopenssl<25' 'service_identity<25'
}

free_port() {
  "$VENV/bin/python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

start() {
  local dir=$1 port pid i
  install
  mkdir -p "$dir/tmp" "$dir/volume"
  port=$(free_port)
  # hypercorn honours the listen address (the default server binds every interface).
  GATEWAY_SERVER=hypercorn GATEWAY_LISTEN=127.0.0.1:$port DNS_ADDRESS=0 DISABLE_EVENTS=1 \
    SKIP_SSL_CERT_DOWNLOAD=1 S3_SKIP_SIGNATURE_VALIDATION=0 SQS_ENDPOINT_STRATEGY=off \
    S3_HOSTNAME=127.0.0.1 LOCALSTACK_HOST=127.0.0.1:$port \
    TMPDIR=$dir/tmp LOCALSTACK_VOLUME_DIR=$dir/volume SERVICES=${RPMBUCKET_LOCALSTACK_SERVICES:-s3} \
    "$VENV/bin/python" -m localstack.runtime.main >"$dir/log" 2>&1 </dev/null &
  pid=$!
  echo "$pid" >"$dir/pid"
  for ((i = 0; i < 300; i++)); do
    if curl -fs --noproxy '*' -o /dev/null "http://127.0.0.1:$port/_localstack/health"; then
      echo "http://127.0.0.1:$port" >"$dir/endpoint"
      echo "http://127.0.0.1:$port"
      return
    fi
    kill -0 "$pid" 2>/dev/null || { tail -30 "$dir/log" >&2; die "localstack exited"; }
    sleep 0.2
  done
  kill "$pid" 2>/dev/null || true
  tail -30 "$dir/log" >&2
  die "localstack did not answer on port $port"
}

stop() {
  local dir=$1 pid
  [[ -f $dir/pid ]] || return 0
  pid=$(cat "$dir/pid")
  kill "$pid" 2>/dev/null || true
  for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -9 "$pid" 2>/dev/null || true
  rm -f "$dir/pid" "$dir/endpoint"
}

case ${1:-} in
  install) install ;;
  start) start "${2:?usage: localstack.sh start DIR}" ;;
  stop) stop "${2:?usage: localstack.sh stop DIR}" ;;
  *) die "usage: localstack.sh install | start DIR | stop DIR" ;;
esac
