#!/usr/bin/env bash
# Checks the Terraform module (infra/terraform), its example and the LocalStack root module:
#
#   1. terraform fmt -check -recursive
#   2. terraform init, offline, from a provider plugin directory, and terraform validate
#   3. terraform test (infra/terraform/tests/*.tftest.hcl): input validation and what each setting
#      creates, planned against a mocked provider
#   4. least-privilege test of the IAM documents in three plans against a moto server (public-read,
#      CloudFront, all prefixes)
#
# The apply of examples/basic, with the real Lambda zips, the deployed functions running and the
# resources checked through the AWS APIs, is the rehearsal: scripts/rehearse.sh. moto cannot create
# CloudFront cache policies (and so the distribution that uses them): the CloudFront configuration is
# covered by validate, terraform test and the plan with repository_access = "cloudfront".
#
# Environment:
#   RPMBUCKET_TF_PLUGIN_DIR     provider plugin directory (default: /opt/tf-plugins when it exists)
#   RPMBUCKET_TEST_S3_ENDPOINT  use this running moto server instead of starting one
#   RPMBUCKET_CACHE             looks for $RPMBUCKET_CACHE/venv/bin/moto_server (default ~/.cache/rpmbucket)
#   RPMBUCKET_KEEP_WORKDIR=1    keep the scratch directory (state, plans, logs)
#
# Every terraform command is bounded by timeout(1). A checker that crashes (no SUMMARY line, or a
# non-zero exit status without a FAIL line) counts as a failure.
#
# Last line: "terraform: N passed, M failed"; exit status 1 when anything failed.

set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
START=$(date +%s)
PASS=0
FAIL=0
WORK=$(mktemp -d "${TMPDIR:-/tmp}/rpmbucket-tf.XXXXXX")
MOTO_PID=""

ok() { PASS=$((PASS + 1)); echo "ok   - $*"; }
bad() { FAIL=$((FAIL + 1)); echo "FAIL - $*"; }
note() { echo "# $*"; }

# Runs a command; its output goes to a log that is printed only when it fails.
run() { # run DESCRIPTION LOGNAME CMD...
    local what=$1 log="$WORK/$2.log"
    shift 2
    if "$@" >"$log" 2>&1; then
        ok "$what"
        return 0
    fi
    bad "$what (log follows)"
    sed 's/^/    /' "$log" | tail -40
    return 1
}

# Adds the counts of a python checker's SUMMARY line; RC is the checker's exit status.
tally() { # tally LOG RC
    local line rc=${2:-0}
    line=$(grep '^SUMMARY ' "$1" | tail -1)
    grep -E '^(ok  |FAIL) - ' "$1"
    if [[ -z $line || ($rc != 0 && -z $(grep -E '^FAIL - ' "$1")) ]]; then
        bad "checker did not finish (exit status $rc; log follows)"
        sed 's/^/    /' "$1" | tail -30
        return
    fi
    local p f
    p=$(sed -E 's/.*passed=([0-9]+).*/\1/' <<<"$line")
    f=$(sed -E 's/.*failed=([0-9]+).*/\1/' <<<"$line")
    PASS=$((PASS + p))
    FAIL=$((FAIL + f))
}

# Adds the ok/FAIL lines of a log that has no SUMMARY line (several checkers in a row).
count_lines() { # count_lines LOG
    grep -E '^(ok  |FAIL) - |^    ' "$1"
    PASS=$((PASS + $(grep -cE '^ok   - ' "$1")))
    FAIL=$((FAIL + $(grep -cE '^FAIL - ' "$1")))
}

cleanup() {
    local rc=$?
    if [[ -n $MOTO_PID ]]; then
        kill "$MOTO_PID" 2>/dev/null
        wait "$MOTO_PID" 2>/dev/null
    fi
    if [[ ${RPMBUCKET_KEEP_WORKDIR:-0} == 1 || $FAIL -gt 0 ]]; then
        echo "# scratch directory kept: $WORK"
    else
        rm -rf "$WORK"
    fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

finish() {
    note "took $(($(date +%s) - START)) s"
    echo "terraform: $PASS passed, $FAIL failed"
    [[ $FAIL -eq 0 ]]
    exit $?
}

command -v terraform >/dev/null || { bad "terraform is not installed"; finish; }
command -v python3 >/dev/null || { bad "python3 is not installed"; finish; }

# Terraform must not read a user's CLI configuration or reach a registry.
: >"$WORK/terraformrc"
export TF_CLI_CONFIG_FILE="$WORK/terraformrc"
export TF_IN_AUTOMATION=1 TF_INPUT=0 CHECKPOINT_DISABLE=1
unset TF_PLUGIN_CACHE_DIR

PLUGIN_DIR=${RPMBUCKET_TF_PLUGIN_DIR:-}
if [[ -z $PLUGIN_DIR && -d /opt/tf-plugins ]]; then PLUGIN_DIR=/opt/tf-plugins; fi
if [[ -z $PLUGIN_DIR || ! -d $PLUGIN_DIR ]]; then
    bad "no provider plugin directory: set RPMBUCKET_TF_PLUGIN_DIR to a directory holding registry.terraform.io/hashicorp/aws/<version>/<os_arch>/"
    finish
fi
note "terraform $(terraform version | head -1 | awk '{print $2}'), plugins from $PLUGIN_DIR"

# --- 1. fmt --------------------------------------------------------------------------------------------
run "terraform fmt -check -recursive (infra/terraform, localstack)" fmt \
    terraform fmt -check -recursive -diff "$ROOT/infra/terraform" "$ROOT/localstack"

# --- 2. init + validate, in a copy so the repository gets no .terraform/ or lock files -----------------
mkdir -p "$WORK/src/infra"
cp -r "$ROOT/infra/terraform" "$WORK/src/infra/terraform"
cp -r "$ROOT/localstack" "$WORK/src/localstack"
rm -rf "$WORK"/src/infra/terraform/{.terraform,examples/basic/.terraform} "$WORK/src/localstack/terraform/.terraform"

init() { (cd "$1" && terraform init -input=false -no-color -plugin-dir="$PLUGIN_DIR" "${@:2}"); }

# The three validations run side by side (each spends most of its time loading the provider schema).
init_validate() { # init_validate DIR -> writes $WORK/iv-<name>.log, first line "init" or "validate" on failure
    local dir=$1 name=${1//\//-}
    if ! init "$WORK/src/$dir" -backend=false >"$WORK/init-$name.log" 2>&1; then
        echo init >"$WORK/iv-$name.status"
    elif ! terraform -chdir="$WORK/src/$dir" validate -no-color >"$WORK/validate-$name.log" 2>&1; then
        echo validate >"$WORK/iv-$name.status"
    else
        echo ok >"$WORK/iv-$name.status"
    fi
}
VALIDATE_DIRS=(infra/terraform infra/terraform/examples/basic localstack/terraform)
for dir in "${VALIDATE_DIRS[@]}"; do init_validate "$dir" & done
wait
for dir in "${VALIDATE_DIRS[@]}"; do
    name=${dir//\//-}
    case $(cat "$WORK/iv-$name.status") in
        ok)
            ok "terraform init (offline) $dir"
            ok "terraform validate $dir"
            ;;
        init)
            bad "terraform init (offline) $dir (log follows)"
            tail -30 "$WORK/init-$name.log" | sed 's/^/    /'
            ;;
        validate)
            ok "terraform init (offline) $dir"
            bad "terraform validate $dir (log follows)"
            tail -30 "$WORK/validate-$name.log" | sed 's/^/    /'
            ;;
    esac
done

# --- terraform test: validation and what each setting creates, against a mocked provider ---------------
# Every run block of the test files must report "pass": a run that terraform skipped, or that
# never started, is a failure, not a smaller count.
TFTEST_RUNS=$(cat "$ROOT"/infra/terraform/tests/*.tftest.hcl | grep -cE '^run "')
if (cd "$WORK/src/infra/terraform" && timeout 600 terraform test -no-color) >"$WORK/tftest.log" 2>&1; then
    grep -E '^  run ".*"\.\.\. pass' "$WORK/tftest.log" | sed -E 's/^  run "(.*)"\.\.\. pass/ok   - terraform test: \1/'
    n=$(grep -cE '^  run ".*"\.\.\. pass' "$WORK/tftest.log")
    PASS=$((PASS + n))
    if [[ $TFTEST_RUNS -eq 0 || $n -ne $TFTEST_RUNS ]]; then
        bad "terraform test: $n of the $TFTEST_RUNS run blocks passed, the others did not run (log follows)"
        sed 's/^/    /' "$WORK/tftest.log" | grep -vE '\.\.\. pass$' | tail -40
    fi
else
    grep -E '^  run ".*"\.\.\. pass' "$WORK/tftest.log" | sed -E 's/^  run "(.*)"\.\.\. pass/ok   - terraform test: \1/'
    PASS=$((PASS + $(grep -cE '^  run ".*"\.\.\. pass' "$WORK/tftest.log")))
    bad "terraform test (log follows)"
    sed 's/^/    /' "$WORK/tftest.log" | grep -vE '\.\.\. pass$' | tail -40
fi

# --- localstack/: no Docker engine here, so check what can be checked without one ----------------------
for f in "$ROOT"/localstack/*.sh; do
    if bash -n "$f" 2>"$WORK/bash-n.log"; then ok "bash -n localstack/$(basename "$f")"; else bad "bash -n localstack/$(basename "$f"): $(cat "$WORK/bash-n.log")"; fi
done
# moto's venv has PyYAML (a moto dependency); without it the check is not run, and says so.
CACHE=${RPMBUCKET_CACHE:-$HOME/.cache/rpmbucket}
PY=python3
if [[ -x $CACHE/venv/bin/python ]] && "$CACHE/venv/bin/python" -c 'import boto3, yaml' 2>/dev/null; then
    PY=$CACHE/venv/bin/python
fi
if ! "$PY" -c 'import yaml' 2>/dev/null; then
    bad "localstack/docker-compose.yml: NOT RUN, PyYAML is not importable by $PY (install moto's venv: scripts/test.sh)"
elif problems=$("$PY" - "$ROOT/localstack" <<'PYEOF'
import os, sys
import yaml
base = sys.argv[1]
doc = yaml.safe_load(open(os.path.join(base, "docker-compose.yml")))
problems = []
services = doc.get("services", {})
for name in ("localstack", "build", "deploy", "client"):
    if name not in services:
        problems.append(f"service {name} missing")
for name, svc in services.items():
    for v in svc.get("volumes", []):
        src = v.split(":")[0]
        if src.startswith(".") and not os.path.exists(os.path.join(base, src)):
            problems.append(f"{name}: volume source {src} does not exist")
    build = svc.get("build")
    if build and not os.path.exists(os.path.join(base, build, "Dockerfile")):
        problems.append(f"{name}: no Dockerfile in {build}")
    for dep in svc.get("depends_on", {}):
        if dep not in services:
            problems.append(f"{name}: depends on unknown service {dep}")
    cmd = svc.get("command") or []
    for part in cmd:
        if part.startswith("/src/localstack/") and not os.path.exists(os.path.join(base, part[len("/src/localstack/"):])):
            problems.append(f"{name}: command names missing {part}")
net = services.get("localstack", {}).get("environment", {}).get("LAMBDA_DOCKER_NETWORK")
if net != f"{doc.get('name')}_default":
    problems.append(f"LAMBDA_DOCKER_NETWORK {net} is not the compose project's default network")
print("\n".join(problems))
sys.exit(1 if problems else 0)
PYEOF
); then
    ok "localstack/docker-compose.yml is consistent (services, volumes, Dockerfile, scripts, Lambda network)"
else
    bad "localstack/docker-compose.yml: $problems"
fi

# --- moto ---------------------------------------------------------------------------------------------
ENDPOINT=${RPMBUCKET_TEST_S3_ENDPOINT:-}
"$PY" -c 'import boto3' 2>/dev/null || { bad "boto3 is not importable by $PY"; finish; }

if [[ -z $ENDPOINT ]]; then
    MOTO=$CACHE/venv/bin/moto_server
    [[ -x $MOTO ]] || MOTO=$(command -v moto_server || true)
    if [[ -z $MOTO ]]; then
        bad "no moto_server (pip install 'moto[server]') and RPMBUCKET_TEST_S3_ENDPOINT is not set"
        finish
    fi
    PORT=$("$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    "$MOTO" -H 127.0.0.1 -p "$PORT" >"$WORK/moto.log" 2>&1 &
    MOTO_PID=$!
    ENDPOINT="http://127.0.0.1:$PORT"
    for _ in $(seq 50); do
        curl -fsS "$ENDPOINT/moto-api/" >/dev/null 2>&1 && break
        sleep 0.2
    done
    note "moto_server $MOTO on $ENDPOINT (pid $MOTO_PID)"
else
    note "using the moto server at $ENDPOINT"
fi
if ! curl -fsS "$ENDPOINT/moto-api/" >/dev/null 2>&1; then
    bad "moto server at $ENDPOINT does not answer"
    finish
fi
export AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test AWS_DEFAULT_REGION=us-east-1
unset AWS_PROFILE AWS_SESSION_TOKEN AWS_ENDPOINT_URL

# --- the plan directory: a copy of examples/basic with provider endpoints pointed at moto -------------
# Plans need the provider's data sources (account, region), hence moto. The zips are never deployed
# here (plans only hash them): the rehearsal applies the real ones.
ZIPS="$WORK/zips"
mkdir -p "$ZIPS"
printf 'plan only\n' >"$ZIPS/indexer.zip"
printf 'plan only\n' >"$ZIPS/gateway.zip"
PLAN_DIR="$WORK/src/infra/terraform/examples/basic"
cat >"$PLAN_DIR/moto_override.tf" <<EOF
# Written by scripts/check-terraform.sh: every AWS API this module calls goes to moto.
provider "aws" {
  region                      = "us-east-1"
  access_key                  = "test"
  secret_key                  = "test"
  skip_credentials_validation = true
  skip_metadata_api_check     = true
  skip_region_validation      = true
  s3_use_path_style           = true
  endpoints {
    iam = "$ENDPOINT"
    s3  = "$ENDPOINT"
    sqs = "$ENDPOINT"
    sts = "$ENDPOINT"
  }
}
EOF
BUCKET="rpmbucket-tf-$(date +%s)-$$"
"$PY" - "$PLAN_DIR/test.tfvars.json" "$BUCKET" "$ZIPS/indexer.zip" "$ZIPS/gateway.zip" "$ENDPOINT" <<'PYEOF'
import json, sys
path, bucket, indexer, gateway, endpoint = sys.argv[1:]
json.dump({
    "bucket_name": bucket,
    "repository_prefixes": ["el9/x86_64/", "el9/aarch64/"],
    "repository_access": "public-read",
    "force_destroy": True,
    "indexer_zip": indexer,
    "gateway_zip": gateway,
    "lambda_architecture": "arm64",
    "tokens_secret_recovery_days": 0,
    "deny_insecure_transport": False,
    "public_base_url": f"{endpoint}/{bucket}/",
}, open(path, "w"), indent=2)
PYEOF

if ! run "terraform init (offline) examples/basic for the plans" init-plan init "$PLAN_DIR"; then finish; fi

# --- least privilege in the plans ---------------------------------------------------------------------------
policy_plan() { # policy_plan DIR NAME -var ...   (prints ok/FAIL lines; run in the background for extra plans)
    local dir=$1 name=$2 rc
    shift 2
    if timeout 300 terraform -chdir="$dir" plan -no-color -input=false -var-file=test.tfvars.json -out="$WORK/$name.tfplan" "$@" >"$WORK/plan-$name.log" 2>&1; then
        echo "ok   - terraform plan ($name)"
        terraform -chdir="$dir" show -json "$WORK/$name.tfplan" >"$WORK/$name.plan.json"
        "$PY" "$ROOT/infra/terraform/tests/policy_test.py" plan "$WORK/$name.plan.json" >"$WORK/policy-$name.log" 2>&1
        rc=$?
        grep -E '^(ok  |FAIL) - |^    ' "$WORK/policy-$name.log"
        if ! grep -q '^SUMMARY ' "$WORK/policy-$name.log" || { [[ $rc != 0 ]] && ! grep -q '^FAIL - ' "$WORK/policy-$name.log"; }; then
            echo "FAIL - policy_test.py plan ($name) did not finish (exit status $rc; log follows)"
            tail -20 "$WORK/policy-$name.log" | sed 's/^/    /'
        fi
    else
        echo "FAIL - terraform plan ($name) (log follows)"
        tail -30 "$WORK/plan-$name.log" | sed 's/^/    /'
    fi
}
"$PY" "$ROOT/infra/terraform/tests/policy_test.py" self-test >"$WORK/policy-self.log" 2>&1
tally "$WORK/policy-self.log" $?

# The plans with CloudFront and with all prefixes run in a second copy of the example, in the
# background, while the public-read plan goes on here.
EXTRA_DIR="$WORK/src/infra/terraform/examples/extra-plans"
cp -r "$PLAN_DIR" "$EXTRA_DIR"
(
    policy_plan "$EXTRA_DIR" cloudfront -var repository_access=cloudfront
    policy_plan "$EXTRA_DIR" all-prefixes -var 'repository_prefixes=[]'
) >"$WORK/extra-plans.log" 2>&1 &
EXTRA_PID=$!

policy_plan "$PLAN_DIR" public-read >"$WORK/plans-public-read.out" 2>&1
count_lines "$WORK/plans-public-read.out"

wait "$EXTRA_PID"
count_lines "$WORK/extra-plans.log"
# A plan whose job died before it printed its verdict must not count as nothing at all.
for name in public-read cloudfront all-prefixes; do
    grep -qE "^(ok  |FAIL) - terraform plan \($name\)" "$WORK/plans-public-read.out" "$WORK/extra-plans.log" ||
        bad "terraform plan ($name) did not run (its job ended without a verdict)"
done

note "the apply of examples/basic with the real zips is scripts/rehearse.sh (not run by this script)"
finish
