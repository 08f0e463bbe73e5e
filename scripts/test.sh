#!/usr/bin/env bash
# The one test command (CI runs it through .ci/run).
#
#   scripts/test.sh [ARGS...]     ARGS go to `cargo test` (e.g. -p rpmbucket-tests)
#
# 1. installs what the tests need when it is missing (Debian packages, a Python
#    venv with moto), 2. starts moto on a free 127.0.0.1 port (stopped on exit),
# 3. builds the RPM fixtures and every workspace target (while cargo-deny and the
# Lambda zips build in the background), 4. runs cargo fmt --check, clippy -D
# warnings, rustdoc -D warnings, the Terraform checks, cargo test, cargo deny
# (licences, bans, sources; deny.toml) and the deployment rehearsal.
#
# Environment (all optional):
#   RPMBUCKET_CACHE     cache dir outside the clone (default ~/.cache/rpmbucket)
#   CARGO_TARGET_DIR    default $RPMBUCKET_CACHE/target
#   RPMBUCKET_CORPUS    corpus of real RPMs (default ../shared/corpus from the repo)
#   RPMBUCKET_FIXTURES  use these fixtures instead of building them
#   RPMBUCKET_QUICK=1   skip fmt, clippy and rustdoc (local iteration only; .ci/run unsets it)
#   CI=true             a missing corpus, tool or service fails the tests instead of skipping
#                       them (.ci/run sets it)
#
# Exported to the tests: RPMBUCKET_TEST_S3_ENDPOINT, AWS_ACCESS_KEY_ID,
# AWS_SECRET_ACCESS_KEY, AWS_REGION, AWS_DEFAULT_REGION, RPMBUCKET_FIXTURES,
# RPMBUCKET_CORPUS, RPMBUCKET_BIN, RPMBUCKET_CACHE, CARGO_TARGET_DIR.
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$REPO"

export RPMBUCKET_CACHE=${RPMBUCKET_CACHE:-${HOME:-$(echo ~)}/.cache/rpmbucket}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$RPMBUCKET_CACHE/target}
export CARGO_TERM_COLOR=${CARGO_TERM_COLOR:-never}
# Incremental compilation only costs time and disk in a run that builds each crate once.
export CARGO_INCREMENTAL=${CARGO_INCREMENTAL:-0}
mkdir -p "$RPMBUCKET_CACHE"

MOTO_VERSION=5.2.5
CARGO_DENY_VERSION=0.20.2
VENV=$RPMBUCKET_CACHE/venv

# Each step prints the seconds since the test command started (where the time goes).
step() { printf '==> [%5d s] %s\n' "$SECONDS" "$*"; }
die() {
  printf 'test.sh: error: %s\n' "$*" >&2
  exit 1
}

# --- cleanup: later steps register commands that run on exit, newest first --
CLEANUP=()
on_cleanup() { CLEANUP+=("$1"); }
run_cleanup() {
  EXIT_STATUS=$? # visible to the cleanup commands
  local i
  for ((i = ${#CLEANUP[@]} - 1; i >= 0; i--)); do
    eval "${CLEANUP[$i]}" || true
  done
}
if [[ ${BASH_SOURCE[0]} == "$0" ]]; then
  trap run_cleanup EXIT
  trap 'exit 130' INT TERM
fi

# --- 1. system packages -----------------------------------------------------
# command -> Debian package. zypper and dnf coexist on Debian 12 (only
# dnf-plugins-core conflicts with zypper; it is not needed).
declare -A NEED_CMD=(
  [rpm]=rpm [rpmbuild]=rpm [createrepo_c]=createrepo-c [dnf]=dnf [zypper]=zypper
  [sqlite3]=sqlite3 [zstd]=zstd [xz]=xz-utils [bzip2]=bzip2 [curl]=curl [cc]=gcc
  [readelf]=binutils [chromium]=chromium [gpg]=gnupg [rpmsign]=rpm [script]=bsdutils
)

system_python() {
  if [[ -x /usr/bin/python3 ]]; then echo /usr/bin/python3; else command -v python3; fi
}

install_system_packages() {
  local missing=() cmd
  for cmd in "${!NEED_CMD[@]}"; do
    command -v "$cmd" >/dev/null 2>&1 || missing+=("${NEED_CMD[$cmd]}")
  done
  local py
  py=$(system_python || true)
  if [[ -z $py ]] || ! "$py" -c 'import ensurepip, venv' >/dev/null 2>&1; then
    missing+=(python3 python3-venv)
  fi
  # HOOK(system packages): append more, e.g. missing+=(unzip) for terraform.
  if ((${#missing[@]} == 0)); then
    step "system packages: all present"
    return
  fi
  mapfile -t missing < <(printf '%s\n' "${missing[@]}" | sort -u)
  step "system packages: installing ${missing[*]}"
  [[ $(id -u) == 0 ]] || die "missing packages (${missing[*]}) and not root; install them first"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends ca-certificates libc6-dev "${missing[@]}" >/dev/null
}

# The MSRV: the workspace's rust-version (the README states the same).
msrv() { sed -n 's/^rust-version = "\(.*\)"$/\1/p' "$REPO/Cargo.toml"; }

check_rust() {
  local want have
  want=$(msrv)
  command -v cargo >/dev/null 2>&1 || die "cargo not found (install Rust >= $want with rustup)"
  have=$(rustc --version | awk '{print $2}')
  [[ $(printf '%s\n%s\n' "$want" "$have" | sort -V | head -1) == "$want" ]] ||
    die "rustc $have is older than the MSRV $want (Cargo.toml rust-version)"
  if ! cargo fmt --version >/dev/null 2>&1 || ! cargo clippy --version >/dev/null 2>&1; then
    command -v rustup >/dev/null 2>&1 || die "cargo fmt/clippy missing and no rustup"
    step "rust: adding rustfmt and clippy"
    rustup component add rustfmt clippy
  fi
  step "rust: $(cargo --version)"
}

# --- 2. python venv with moto ----------------------------------------------
install_moto() {
  if [[ -x $VENV/bin/moto_server ]] &&
    "$VENV/bin/python" -c "import importlib.metadata as m, sys; sys.exit(m.version('moto') != '$MOTO_VERSION')" 2>/dev/null; then
    step "moto $MOTO_VERSION: present in $VENV"
    return
  fi
  step "moto $MOTO_VERSION: installing into $VENV"
  [[ -x $VENV/bin/pip ]] || "$(system_python)" -m venv "$VENV"
  "$VENV/bin/pip" install --quiet --disable-pip-version-check "moto[server]==$MOTO_VERSION"
}

free_port() {
  "$(system_python)" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

start_moto() {
  local port log pid i
  port=$(free_port)
  log=$RPMBUCKET_CACHE/moto-$port.log
  # The request recorder (tests that count requests turn it on) writes here, not into the cwd.
  MOTO_RECORDER_FILEPATH=$RPMBUCKET_CACHE/moto-$port.recording \
    "$VENV/bin/moto_server" -H 127.0.0.1 -p "$port" >"$log" 2>&1 </dev/null &
  pid=$!
  on_cleanup "kill $pid 2>/dev/null; wait $pid 2>/dev/null
    rm -f '$RPMBUCKET_CACHE/moto-$port.recording'
    if ((EXIT_STATUS == 0)); then rm -f '$log'; else echo 'moto log kept: $log' >&2; fi"
  for ((i = 0; i < 150; i++)); do
    if curl -fs -o /dev/null "http://127.0.0.1:$port/"; then
      break
    fi
    kill -0 "$pid" 2>/dev/null || { cat "$log" >&2; die "moto_server exited"; }
    sleep 0.2
  done
  ((i < 150)) || { cat "$log" >&2; die "moto_server did not answer on port $port"; }
  export RPMBUCKET_TEST_S3_ENDPOINT=http://127.0.0.1:$port
  export AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test
  export AWS_REGION=us-east-1 AWS_DEFAULT_REGION=us-east-1 AWS_EC2_METADATA_DISABLED=true
  unset AWS_SESSION_TOKEN AWS_PROFILE
  step "moto: $RPMBUCKET_TEST_S3_ENDPOINT (pid $pid)"
}

# cargo-deny, built once into the cache (CI keeps the cache). Its own release profile is fat LTO
# with one codegen unit, which costs minutes of CPU for a tool that runs for a second: it is built
# at opt-level 1 without LTO instead (the profile does not change what it checks).
CARGO_DENY_ROOT=$RPMBUCKET_CACHE/cargo-deny-$CARGO_DENY_VERSION
CARGO_DENY=$CARGO_DENY_ROOT/bin/cargo-deny
install_cargo_deny() {
  if [[ -x $CARGO_DENY ]]; then
    echo "cargo-deny $CARGO_DENY_VERSION: present in $CARGO_DENY_ROOT"
    return
  fi
  echo "cargo-deny $CARGO_DENY_VERSION: building into $CARGO_DENY_ROOT"
  # Its own temporary build directory: the workspace's target stays untouched.
  env -u CARGO_TARGET_DIR CARGO_PROFILE_RELEASE_LTO=false CARGO_PROFILE_RELEASE_CODEGEN_UNITS=16 \
    CARGO_PROFILE_RELEASE_OPT_LEVEL=1 \
    cargo install --locked --quiet "cargo-deny@$CARGO_DENY_VERSION" --root "$CARGO_DENY_ROOT"
}

# Licences, banned crates and sources of every dependency (deny.toml); offline checks only.
check_deny() {
  wait_bg cargo-deny
  step "check: cargo deny --offline check licenses bans sources"
  "$CARGO_DENY" --offline --log-level error check licenses bans sources
}

# --- background builds ----------------------------------------------------------
# cargo-deny and the Lambda zips are needed only by late steps, so they build in the background
# from the start, at a lower priority (nice 10) than the foreground: they use the CPU whenever the
# foreground leaves a core idle (package installs, services, serial compile and link phases, tests
# that wait on dnf or a server). Each has its own cargo lock (a temporary target for cargo-deny,
# target/aws-lambda/ for the zips), so neither blocks the debug builds. Output goes to a log that
# is printed when the job is waited for.
declare -A BG_PID=() BG_LOG=() BG_START=()
start_bg() {
  local name=$1
  shift
  BG_LOG[$name]=$(mktemp "$RPMBUCKET_CACHE/bg-$name-XXXXXX.log")
  BG_START[$name]=$SECONDS
  # A process group of its own (job control on for the spawn only), so that cleanup stops cargo
  # and rustc with it (kill -- -PID). Not a session of its own (setsid): with the kernel's
  # autogroup scheduling a new session gets an equal share of the CPU and nice 10 would not yield.
  set -m
  nice -n 10 "$@" >"${BG_LOG[$name]}" 2>&1 </dev/null &
  BG_PID[$name]=$!
  set +m
  on_cleanup "kill -- -${BG_PID[$name]} 2>/dev/null; kill ${BG_PID[$name]} 2>/dev/null; wait ${BG_PID[$name]} 2>/dev/null
    if ((EXIT_STATUS == 0)); then rm -f '${BG_LOG[$name]}'
    elif [[ -f '${BG_LOG[$name]}' ]]; then echo 'log of $name kept: ${BG_LOG[$name]}' >&2; fi"
  step "background: $name started (pid ${BG_PID[$name]})"
}
wait_bg() {
  local name=$1 status=0
  wait "${BG_PID[$name]}" || status=$?
  sed "s/^/  [$name] /" "${BG_LOG[$name]}"
  ((status == 0)) || die "background job $name failed (status $status)"
  rm -f "${BG_LOG[$name]}"
  step "background: $name done, $((SECONDS - ${BG_START[$name]})) s after its start"
}
start_background_builds() {
  # shellcheck disable=SC2016 # expanded by the child bash
  start_bg cargo-deny bash -c 'source "$1"; install_cargo_deny' cargo-deny "$REPO/scripts/test.sh"
  start_bg lambda-zips bash "$REPO/scripts/build-lambdas.sh"
}

# --- 3. fixtures, corpus, binaries -------------------------------------------
# Same key as rpmbucket_tests::fixtures_key(): SHA-256 over build.sh and
# specs/* (byte order), each as "path NUL content"; first 16 hex digits.
fixtures_key() {
  (
    cd tests/fixtures
    export LC_ALL=C
    for f in build.sh specs/*; do
      printf '%s\0' "$f"
      cat "$f"
    done
  ) | sha256sum | cut -c1-16
}

build_fixtures() {
  if [[ -n ${RPMBUCKET_FIXTURES:-} ]]; then
    step "fixtures: using RPMBUCKET_FIXTURES=$RPMBUCKET_FIXTURES"
    return
  fi
  local dir tmp
  dir=$RPMBUCKET_CACHE/fixtures/$(fixtures_key)
  if [[ ! -d $dir ]]; then
    step "fixtures: building into $dir"
    mkdir -p "$RPMBUCKET_CACHE/fixtures"
    tmp=$(mktemp -d "$RPMBUCKET_CACHE/fixtures/.build-XXXXXX")
    bash tests/fixtures/build.sh "$tmp"
    mv -T "$tmp" "$dir" 2>/dev/null || rm -rf "$tmp"
  else
    step "fixtures: cached in $dir"
  fi
  export RPMBUCKET_FIXTURES=$dir
}

set_corpus() {
  export RPMBUCKET_CORPUS=${RPMBUCKET_CORPUS:-$REPO/../shared/corpus}
  if [[ -d $RPMBUCKET_CORPUS ]]; then
    step "corpus: $RPMBUCKET_CORPUS"
  elif [[ ${CI:-} == true ]]; then
    die "corpus: $RPMBUCKET_CORPUS not present, and CI runs every test"
  else
    step "corpus: $RPMBUCKET_CORPUS not present (corpus tests skip, loudly)"
  fi
}

# Every target at once: `cargo build --bins` alone resolves features without the dev-dependencies
# (the engine's `testkit`), so `cargo test` would then compile the engine and every crate above it
# a second time. Built this way, the test step reuses all of it.
build_binaries() {
  step "build: cargo build --workspace --all-targets"
  cargo build --workspace --all-targets --quiet
  export RPMBUCKET_BIN=$CARGO_TARGET_DIR/debug/rpmbucket
  [[ -x $RPMBUCKET_BIN ]] || die "no rpmbucket binary at $RPMBUCKET_BIN"
  step "build: RPMBUCKET_BIN=$RPMBUCKET_BIN"
}

# --- hooks -------------------------------------------------------------------
# HOOK(services): start more servers here (e.g. LocalStack in host mode, see
# TESTBED), export their endpoints and register a stop command with
# on_cleanup.
start_extra_services() {
  # LocalStack (host mode) is closer to AWS than moto: presigned-URL refusals (gateway), stored
  # checksums, conditional writes and every publish scenario (engine) run on it too.
  local dir
  dir=$(mktemp -d "$RPMBUCKET_CACHE/localstack-run-XXXXXX")
  on_cleanup "bash '$REPO/scripts/localstack.sh' stop '$dir'; rm -rf '$dir'"
  export RPMBUCKET_TEST_LOCALSTACK_ENDPOINT
  RPMBUCKET_TEST_LOCALSTACK_ENDPOINT=$(bash "$REPO/scripts/localstack.sh" start "$dir")
  step "localstack: $RPMBUCKET_TEST_LOCALSTACK_ENDPOINT"
}

# repodata is the pure library: no async runtime, AWS SDK, Lambda or HTTP
# stack in its normal dependency tree.
check_pure_repodata() {
  step "check: rpmbucket-repodata has no tokio/aws/lambda/http dependencies"
  local bad
  bad=$(cargo tree -p rpmbucket-repodata -e normal --prefix none --quiet |
    awk '{print $1}' | sort -u |
    grep -E '^(tokio|aws-.*|lambda_runtime|lambda_http|hyper|reqwest|axum)$' || true)
  [[ -z $bad ]] || die "rpmbucket-repodata depends on: $(echo $bad)"
}

# Terraform: fmt, offline init + validate, input validation, least-privilege policy tests, and an
# apply/verify/destroy of the example against the moto server started above.
extra_checks() {
  step "check: scripts/check-terraform.sh"
  bash "$REPO/scripts/check-terraform.sh"
}

# The deployment rehearsal: terraform apply of examples/basic to a moto server of its own with the
# real Lambda zips, the deployed functions run under a Runtime API emulator, the smoke test, the DLQ,
# the scheduled reconcile, terraform destroy (scripts/rehearse.sh says what it proves).
rehearsal() {
  wait_bg lambda-zips
  step "check: scripts/rehearse.sh"
  RPMBUCKET_BIN=$RPMBUCKET_BIN RPMBUCKET_LAMBDA_ZIP_DIR=$CARGO_TARGET_DIR/lambda bash "$REPO/scripts/rehearse.sh"
}

# --- 4. checks -----------------------------------------------------------------
main() {
  install_system_packages
  check_rust
  local full=0
  [[ ${RPMBUCKET_QUICK:-0} == 1 ]] || full=1
  ((full == 0)) || start_background_builds
  install_moto
  start_moto
  start_extra_services
  build_fixtures
  set_corpus
  build_binaries
  if ((full)); then
    step "check: cargo fmt --all -- --check"
    cargo fmt --all -- --check
    step "check: cargo clippy --workspace --all-targets -- -D warnings"
    cargo clippy --workspace --all-targets --quiet -- -D warnings
    step "check: cargo doc --workspace --no-deps (warnings denied)"
    RUSTDOCFLAGS="-D warnings" cargo doc --workspace --no-deps --quiet
    check_pure_repodata
    extra_checks
  fi
  if (($# == 0)); then
    step "test: cargo test --workspace"
    cargo test --workspace
  else
    step "test: cargo test $*"
    cargo test "$@"
  fi
  # Last, so that the background builds they wait for had the whole run to finish.
  if ((full)); then
    check_deny
    rehearsal
  fi
  step "passed"
}

# Sourcing the script (tests do, to call fixtures_key) defines the functions
# without running anything.
if [[ ${BASH_SOURCE[0]} == "$0" ]]; then
  main "$@"
fi
