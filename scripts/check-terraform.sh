#!/usr/bin/env bash
# Checks the Terraform module (infra/terraform), its example and the LocalStack root module:
#
#   1. terraform fmt -check -recursive
#   2. terraform init, offline, from a provider plugin directory, and terraform validate
#   3. variable validation rejects bad input (overlapping prefixes, a repodata/ prefix, bad architecture)
#   4. least-privilege test of the IAM documents in three plans (CloudFront, public-read, all prefixes)
#   5. terraform apply of examples/basic against a moto server on 127.0.0.1, then the AWS APIs are asked
#      whether every resource exists with the intended settings, a second plan must be empty, the applied
#      IAM documents pass the policy test again, and terraform destroy (also on failure, via trap).
#
# moto cannot create CloudFront cache policies (and so the distribution that uses them): the apply runs
# with repository_access = "public-read"; the CloudFront configuration is covered by validate and by a
# plan with repository_access = "cloudfront". moto also ignores SQS RedriveAllowPolicy, which is why
# the module does not set one. moto never runs the functions.
#
# Environment:
#   RPMBUCKET_TF_PLUGIN_DIR     provider plugin directory (default: /opt/tf-plugins when it exists)
#   RPMBUCKET_TEST_S3_ENDPOINT  use this running moto server instead of starting one
#   RPMBUCKET_CACHE             looks for $RPMBUCKET_CACHE/venv/bin/moto_server (default ~/.cache/rpmbucket)
#   RPMBUCKET_LAMBDA_ZIP_DIR    directory with rpmbucket-indexer/bootstrap.zip and rpmbucket-gateway/bootstrap.zip
#                               (cargo lambda's target/lambda); without it, placeholder zips are used
#   RPMBUCKET_KEEP_WORKDIR=1    keep the scratch directory (state, plans, logs)
#
# Provider waits that moto never satisfies would hang for many minutes; apply and destroy are bounded
# by timeout(1).
#
# Last line: "terraform: N passed, M failed"; exit status 1 when anything failed.

set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
START=$(date +%s)
PASS=0
FAIL=0
WORK=$(mktemp -d "${TMPDIR:-/tmp}/rpmbucket-tf.XXXXXX")
MOTO_PID=""
APPLY_DIR=""
APPLIED=0

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

# Adds the counts of a python checker's SUMMARY line.
tally() { # tally LOG
    local line
    line=$(grep '^SUMMARY ' "$1" | tail -1)
    grep -E '^(ok  |FAIL) - ' "$1"
    if [[ -z $line ]]; then
        bad "checker did not finish (log follows)"
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
    if [[ $APPLIED == 1 && -n $APPLY_DIR ]]; then
        note "destroying what the apply created (trap)"
        (cd "$APPLY_DIR" && timeout 240 terraform destroy -refresh=false -auto-approve -input=false -no-color -var-file=test.tfvars.json >"$WORK/destroy-trap.log" 2>&1) ||
            echo "# destroy in trap failed; see $WORK/destroy-trap.log"
    fi
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

# --- variable validation must reject bad input ------------------------------------------------------------
# A root module made of the module's variables.tf alone: its validations refer only to their own
# variable, so it plans in a second without any provider.
VARCHECK="$WORK/varcheck"
mkdir -p "$VARCHECK"
cp "$ROOT/infra/terraform/variables.tf" "$VARCHECK/"
terraform -chdir="$VARCHECK" init -input=false -no-color >"$WORK/varcheck-init.log" 2>&1
reject() { # reject DESCRIPTION EXPECTED-MESSAGE-FRAGMENT -var ...
    local what=$1 expect=$2
    shift 2
    local log="$WORK/reject-$PASS-$FAIL.log"
    if terraform -chdir="$VARCHECK" plan -no-color -input=false -var bucket_name=example-bucket -var indexer_zip=x.zip "$@" >"$log" 2>&1; then
        bad "$what: plan succeeded"
    elif grep -qF "$expect" "$log"; then
        ok "$what"
    else
        bad "$what: failed for another reason (log follows)"
        sed 's/^/    /' "$log" | tail -20
    fi
}
if terraform -chdir="$VARCHECK" plan -no-color -input=false -var bucket_name=example-bucket -var indexer_zip=x.zip \
    -var 'repository_prefixes=["el9/x86_64/","el9/aarch64/","el8/x86_64/"]' >"$WORK/varcheck-good.log" 2>&1; then
    ok "validation accepts good input"
else
    bad "validation rejects good input (log follows)"
    sed 's/^/    /' "$WORK/varcheck-good.log" | tail -20
fi
reject "validation rejects overlapping repository prefixes" "none may be a prefix of another" \
    -var 'repository_prefixes=["el9/","el9/x86_64/"]'
reject "validation rejects a prefix with a repodata/ segment" "no '.', '..' or 'repodata' segment" \
    -var 'repository_prefixes=["el9/repodata/"]'
reject "validation rejects a prefix with a .. segment" "no '.', '..' or 'repodata' segment" \
    -var 'repository_prefixes=["el9/../x/"]'
reject "validation rejects a prefix without the trailing slash" "must be relative, end with '/'" \
    -var 'repository_prefixes=["el9/x86_64"]'
reject "validation rejects an absolute prefix" "must be relative, end with '/'" \
    -var 'repository_prefixes=["/el9/x86_64/"]'
reject "validation rejects an unknown architecture" 'must be "arm64" or "x86_64"' \
    -var 'lambda_architecture=i686'
reject "validation rejects an unknown repository_access" "must be one of" \
    -var 'repository_access=website'
reject "validation rejects a maximum concurrency below AWS's minimum" "must be between 2 and 1000" \
    -var 'sqs_maximum_concurrency=1'
reject "validation rejects an invalid bucket name" "valid S3 bucket name" \
    -var 'bucket_name=Bad_Bucket'
reject "validation rejects /tmp below Lambda's minimum" "must be between 512 and 10240" \
    -var 'indexer_ephemeral_storage_mb=256'

# --- localstack/: no Docker engine here, so check what can be checked without one ----------------------
for f in "$ROOT"/localstack/*.sh; do
    if bash -n "$f" 2>"$WORK/bash-n.log"; then ok "bash -n localstack/$(basename "$f")"; else bad "bash -n localstack/$(basename "$f"): $(cat "$WORK/bash-n.log")"; fi
done
if problems=$(python3 - "$ROOT/localstack" <<'PYEOF'
import os, sys
try:
    import yaml
except ImportError:
    print("SKIP: PyYAML is not installed")
    sys.exit(0)
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
    ok "localstack/docker-compose.yml is consistent (services, volumes, Dockerfile, scripts, Lambda network)${problems:+ ($problems)}"
else
    bad "localstack/docker-compose.yml: $problems"
fi

# --- moto ---------------------------------------------------------------------------------------------
ENDPOINT=${RPMBUCKET_TEST_S3_ENDPOINT:-}
PY=python3
CACHE=${RPMBUCKET_CACHE:-$HOME/.cache/rpmbucket}
if [[ -x $CACHE/venv/bin/python ]] && "$CACHE/venv/bin/python" -c 'import boto3' 2>/dev/null; then
    PY=$CACHE/venv/bin/python
fi
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

# --- Lambda zips ----------------------------------------------------------------------------------------
ZIPS="$WORK/zips"
mkdir -p "$ZIPS"
if [[ -n ${RPMBUCKET_LAMBDA_ZIP_DIR:-} ]]; then
    INDEXER_ZIP=$RPMBUCKET_LAMBDA_ZIP_DIR/rpmbucket-indexer/bootstrap.zip
    GATEWAY_ZIP=$RPMBUCKET_LAMBDA_ZIP_DIR/rpmbucket-gateway/bootstrap.zip
    for z in "$INDEXER_ZIP" "$GATEWAY_ZIP"; do [[ -f $z ]] || { bad "missing $z"; finish; }; done
    note "deploying the real zips from $RPMBUCKET_LAMBDA_ZIP_DIR"
else
    INDEXER_ZIP=$ZIPS/indexer.zip
    GATEWAY_ZIP=$ZIPS/gateway.zip
    "$PY" - "$INDEXER_ZIP" "$GATEWAY_ZIP" <<'PYEOF'
import sys, zipfile
for path in sys.argv[1:]:
    with zipfile.ZipFile(path, "w") as z:
        info = zipfile.ZipInfo("bootstrap")
        info.external_attr = 0o755 << 16
        z.writestr(info, "#!/bin/sh\necho 'rpmbucket placeholder: not a real function' >&2\nexit 1\n")
PYEOF
    note "NOTE: RPMBUCKET_LAMBDA_ZIP_DIR is not set, so both functions are deployed from PLACEHOLDER zips"
    note "      (a 'bootstrap' shell script). moto stores them and never runs them; nothing here tests the code."
fi

note "moto has no CloudFront cache policies: the apply uses repository_access = public-read; CloudFront"
note "is covered by validate and by the full plan with repository_access = cloudfront (checked below)."

# --- the apply directory: a copy of examples/basic with provider endpoints pointed at moto -------------
APPLY_DIR="$WORK/src/infra/terraform/examples/basic"
cat >"$APPLY_DIR/moto_override.tf" <<EOF
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
    cloudfront     = "$ENDPOINT"
    cloudwatch     = "$ENDPOINT"
    iam            = "$ENDPOINT"
    kms            = "$ENDPOINT"
    lambda         = "$ENDPOINT"
    logs           = "$ENDPOINT"
    s3             = "$ENDPOINT"
    scheduler      = "$ENDPOINT"
    secretsmanager = "$ENDPOINT"
    sqs            = "$ENDPOINT"
    ssm            = "$ENDPOINT"
    sts            = "$ENDPOINT"
  }
}
EOF
BUCKET="rpmbucket-tf-$(date +%s)-$$"
"$PY" - "$APPLY_DIR/test.tfvars.json" "$BUCKET" "$INDEXER_ZIP" "$GATEWAY_ZIP" "$ENDPOINT" <<'PYEOF'
import json, sys
path, bucket, indexer, gateway, endpoint = sys.argv[1:]
json.dump({
    "bucket_name": bucket,
    "repository_prefixes": ["el9/x86_64/", "el9/aarch64/"],
    "repository_access": "public-read",   # moto has no CloudFront cache policies
    "force_destroy": True,
    "indexer_zip": indexer,
    "gateway_zip": gateway,
    "lambda_architecture": "arm64",
    "tokens_secret_recovery_days": 0,
    "deny_insecure_transport": False,     # moto is reached over plain HTTP
    "public_base_url": f"{endpoint}/{bucket}/",
}, open(path, "w"), indent=2)
PYEOF

if ! run "terraform init (offline) examples/basic for moto" init-apply init "$APPLY_DIR"; then finish; fi
tf() { terraform -chdir="$APPLY_DIR" "$@"; }

# --- least privilege in the plans ---------------------------------------------------------------------------

policy_plan() { # policy_plan DIR NAME -var ...   (prints the checks; run in the background for extra plans)
    local dir=$1 name=$2
    shift 2
    if terraform -chdir="$dir" plan -no-color -input=false -var-file=test.tfvars.json -out="$WORK/$name.tfplan" "$@" >"$WORK/plan-$name.log" 2>&1; then
        echo "ok   - terraform plan ($name)"
        terraform -chdir="$dir" show -json "$WORK/$name.tfplan" >"$WORK/$name.plan.json"
        "$PY" "$ROOT/infra/terraform/tests/policy_test.py" plan "$WORK/$name.plan.json"
    else
        echo "FAIL - terraform plan ($name) (log follows)"
        tail -30 "$WORK/plan-$name.log" | sed 's/^/    /'
    fi
}
"$PY" "$ROOT/infra/terraform/tests/policy_test.py" self-test >"$WORK/policy-self.log" 2>&1
tally "$WORK/policy-self.log"

# The plans with CloudFront and with all prefixes run in a second copy of the example, in the
# background, while the moto plan and apply go on here.
EXTRA_DIR="$WORK/src/infra/terraform/examples/extra-plans"
cp -r "$APPLY_DIR" "$EXTRA_DIR"
(
    policy_plan "$EXTRA_DIR" cloudfront -var repository_access=cloudfront
    policy_plan "$EXTRA_DIR" all-prefixes -var 'repository_prefixes=[]'
    if [[ -f $WORK/cloudfront.plan.json ]]; then
        # What moto cannot apply is at least planned completely: distribution, OAC, two cache policies.
        n=$("$PY" -c 'import json,sys; p=json.load(open(sys.argv[1])); print(" ".join(sorted(r["type"] for r in p["resource_changes"] if r["type"].startswith("aws_cloudfront"))))' "$WORK/cloudfront.plan.json")
        if [[ $n == "aws_cloudfront_cache_policy aws_cloudfront_cache_policy aws_cloudfront_distribution aws_cloudfront_origin_access_control" ]]; then
            echo "ok   - cloudfront plan creates the distribution, its origin access control and both cache policies"
        else
            echo "FAIL - cloudfront plan: unexpected CloudFront resources: $n"
        fi
    fi
) >"$WORK/extra-plans.log" 2>&1 &
EXTRA_PID=$!

policy_plan "$APPLY_DIR" moto >"$WORK/policy-moto.log" 2>&1
count_lines "$WORK/policy-moto.log"

# --- apply against moto, verify, plan again, destroy --------------------------------------------------
role_of() { "$PY" -c 'import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]]["value"].split("/")[-1])' "$WORK/outputs.json" "$1"; }

if [[ -f $WORK/moto.tfplan ]]; then
    APPLIED=1 # from here on the trap destroys, whatever happens
    t0=$(date +%s)
    if run "terraform apply of examples/basic against moto" apply timeout 300 terraform -chdir="$APPLY_DIR" apply -no-color -input=false -auto-approve "$WORK/moto.tfplan"; then
        note "apply took $(($(date +%s) - t0)) s"
        tf output -json >"$WORK/outputs.json"
        "$PY" "$ROOT/infra/terraform/tests/verify_moto.py" --endpoint "$ENDPOINT" \
            --outputs "$WORK/outputs.json" --vars "$APPLY_DIR/test.tfvars.json" >"$WORK/verify.log" 2>&1
        tally "$WORK/verify.log"

        "$PY" "$ROOT/infra/terraform/tests/policy_test.py" iam --endpoint "$ENDPOINT" --bucket "$BUCKET" \
            --prefixes "el9/x86_64/,el9/aarch64/" --public-read \
            --indexer-role "$(role_of indexer_role_arn)" --gateway-role "$(role_of gateway_role_arn)" \
            >"$WORK/policy-applied.log" 2>&1
        tally "$WORK/policy-applied.log"

        # moto returns some JSON attributes reformatted; plan_changes.py ignores changes that are
        # JSON-equal and reports the rest.
        if tf plan -no-color -input=false -var-file=test.tfvars.json -out="$WORK/replan.tfplan" >"$WORK/replan.log" 2>&1; then
            tf show -json "$WORK/replan.tfplan" >"$WORK/replan.json"
            if changes=$("$PY" "$ROOT/infra/terraform/tests/plan_changes.py" "$WORK/replan.json" 2>"$WORK/replan-ignored.log"); then
                ok "a second plan after apply has no changes$( [[ -s $WORK/replan-ignored.log ]] && echo " (moto reformats JSON: $(tr '\n' ' ' <"$WORK/replan-ignored.log"))")"
            else
                bad "a second plan after apply wants changes: $changes"
            fi
        else
            bad "second plan failed (log follows)"
            tail -20 "$WORK/replan.log" | sed 's/^/    /'
        fi
    fi
    t0=$(date +%s)
    if run "terraform destroy" destroy timeout 240 terraform -chdir="$APPLY_DIR" destroy -refresh=false -no-color -input=false -auto-approve -var-file=test.tfvars.json; then
        APPLIED=0
        note "destroy took $(($(date +%s) - t0)) s"
        left=$(tf state list 2>/dev/null | grep -cv 'data\.')
        if [[ $left -eq 0 ]] && ! "$PY" -c 'import boto3,sys; boto3.client("s3",endpoint_url=sys.argv[1]).head_bucket(Bucket=sys.argv[2])' "$ENDPOINT" "$BUCKET" 2>/dev/null; then
            ok "destroy removed every resource (state empty, bucket gone)"
        else
            bad "destroy left $left resources in state or the bucket behind"
        fi
    fi
fi

if [[ -n ${EXTRA_PID:-} ]]; then
    wait "$EXTRA_PID"
    count_lines "$WORK/extra-plans.log"
fi

finish
