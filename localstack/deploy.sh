#!/usr/bin/env bash
# Deploys infra/terraform into LocalStack with tflocal (localstack/terraform is the root module) and
# prints how to use it. Used by the `deploy` service of docker-compose.yml; also works on a host that
# has terraform, tflocal and awslocal, with LocalStack on localhost:4566 (then leave AWS_ENDPOINT_URL
# unset or point it there).
#
# Every step has a timeout (DEPLOY_TIMEOUT seconds for the apply, default 900): a LocalStack without
# Docker cannot create the Lambda functions, and the provider would otherwise wait on them (and, at
# the next apply, on destroying the failed ones) for a very long time. Exit status 1 with the reason.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
tf_dir=$here/terraform
endpoint=${AWS_ENDPOINT_URL:-http://localhost:4566}
health=${HEALTH_URL:-$endpoint/_localstack/health}

echo "waiting for LocalStack at $endpoint"
for _ in $(seq 60); do
    curl -fsS --max-time 5 "$health" >/dev/null 2>&1 && break
    sleep 2
done
curl -fsS --max-time 5 "$health" >/dev/null || { echo "LocalStack does not answer at $health" >&2; exit 1; }

indexer_zip=${INDEXER_ZIP:-$root/target/lambda/rpmbucket-indexer/bootstrap.zip}
gateway_zip=${GATEWAY_ZIP:-$root/target/lambda/rpmbucket-gateway/bootstrap.zip}
for z in "$indexer_zip" "$gateway_zip"; do
    [[ -f $z ]] || { echo "missing $z: build it first (docker compose run --rm build, or cargo lambda build --release --output-format zip)" >&2; exit 1; }
done

case "$(uname -m)" in
    aarch64 | arm64) arch=arm64 ;;
    *) arch=x86_64 ;;
esac
arch=${LAMBDA_ARCHITECTURE:-$arch}

cd "$tf_dir"
timeout 300 tflocal init -input=false || { echo "deploy.sh: tflocal init failed or took over 300 s" >&2; exit 1; }
if ! timeout --kill-after=30 "${DEPLOY_TIMEOUT:-900}" tflocal apply -input=false -auto-approve \
    -var "indexer_zip=$indexer_zip" -var "gateway_zip=$gateway_zip" -var "lambda_architecture=$arch"; then
    echo "deploy.sh: tflocal apply failed or took over ${DEPLOY_TIMEOUT:-900} s." >&2
    echo "  A function in state Failed (\"Docker not available\"): this LocalStack cannot run Lambda functions;" >&2
    echo "  see localstack/README.md, \"Without Docker\". Nothing after the apply (tokens, outputs) was done." >&2
    exit 1
fi

secret=$(terraform output -raw tokens_secret_arn)
if [[ -f $here/tokens.json ]]; then
    timeout 60 awslocal secretsmanager put-secret-value --secret-id "$secret" --secret-string "file://$here/tokens.json" >/dev/null
    echo "stored localstack/tokens.json in $secret"
else
    echo "no localstack/tokens.json: the gateway has no tokens yet. Create one (format: gateway/README.md) and run:"
    echo "  awslocal secretsmanager put-secret-value --secret-id '$secret' --secret-string file://localstack/tokens.json"
fi

echo
echo "gateway:        $(terraform output -raw gateway_url)"
echo "upload:"
terraform output -raw upload_command | sed 's/^/  /'
echo
echo "repository (.repo for this host):"
terraform output -raw repo_file | sed 's/^/  /'
