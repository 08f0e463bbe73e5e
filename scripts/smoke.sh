#!/usr/bin/env bash
# Smoke test of a deployed rpmbucket: upload, publish, install, delete, gone. Run it after
# `terraform apply` (the rehearsal, scripts/rehearse.sh, runs it against its own deployment).
#
#   scripts/smoke.sh GATEWAY_URL TOKEN BASEURL [REPO_PATH]
#
#   GATEWAY_URL  the gateway, ending in '/'           (terraform output -raw gateway_url)
#   TOKEN        USER:SECRET of a token with write and delete rights for REPO_PATH
#   BASEURL      baseurl= of one repository, ending in '/'  (terraform output -json baseurls)
#   REPO_PATH    the repository's path in the bucket, e.g. el9/x86_64/; default: the path of
#                BASEURL (right for CloudFront and public-read URLs; give it for path-style URLs
#                such as http://127.0.0.1:PORT/BUCKET/el9/x86_64/)
#
# What it does, each step timed:
#   1. builds two tiny noarch RPMs with rpmbuild (unique release, so runs never collide)
#   2. uploads one with the one-request form: curl -L -T FILE -u TOKEN GATEWAY/REPO/ (the gateway
#      answers 307 to a presigned S3 PUT; curl repeats the PUT there)
#   3. uploads the other with the two-step form: GET GATEWAY/presign/REPO/FILE, then curl -T to it
#   4. waits on GATEWAY/status/REPO/FILE until both are published
#   5. dnf installs both from BASEURL into a scratch install root (as root; otherwise
#      --downloadonly, which still fetches and checks them through the metadata)
#   6. deletes both through the gateway (DELETE), waits until /status says they are gone
#   7. checks with dnf repoquery (fresh cache) that the metadata no longer lists them
# Prints one line per step; exits non-zero at the first failure, after trying to delete what it
# uploaded. Needs curl, rpmbuild (rpm-build) and dnf.
#
# Environment: RPMBUCKET_SMOKE_WAIT (seconds to wait for a publish or removal, default 120),
# RPMBUCKET_SMOKE_NAME (package name prefix, default rpmbucket-smoke).
set -uo pipefail

usage() {
  sed -n '4,12p' "$0" | sed 's/^# \{0,1\}//' >&2
  exit 2
}
(($# == 3 || $# == 4)) || usage
GATEWAY=$1 TOKEN=$2 BASEURL=$3
[[ $GATEWAY == */ ]] || GATEWAY=$GATEWAY/
[[ $BASEURL == */ ]] || BASEURL=$BASEURL/
if (($# == 4)); then
  REPO=$4
else
  REPO=$(printf '%s' "$BASEURL" | sed -E 's#^[a-z]+://[^/]+/##')
fi
[[ $REPO == */ && $REPO != /* ]] || { echo "smoke: REPO_PATH must be relative and end in '/': '$REPO'" >&2; exit 2; }
[[ $TOKEN == *:* ]] || { echo "smoke: TOKEN must be USER:SECRET" >&2; exit 2; }
WAIT=${RPMBUCKET_SMOKE_WAIT:-120}
NAME=${RPMBUCKET_SMOKE_NAME:-rpmbucket-smoke}
for cmd in curl rpmbuild dnf; do
  command -v "$cmd" >/dev/null || { echo "smoke: FAIL: $cmd is not installed" >&2; exit 1; }
done

WORK=$(mktemp -d "${TMPDIR:-/tmp}/rpmbucket-smoke.XXXXXX")
UPLOADED=()
T0=$(date +%s.%N)
STEP_T0=$T0
unset http_proxy https_proxy all_proxy HTTP_PROXY HTTPS_PROXY ALL_PROXY

elapsed() { awk -v a="$1" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }'; }
ok() {
  printf 'smoke: ok   %-58s %6s s\n' "$*" "$(elapsed "$STEP_T0")"
  STEP_T0=$(date +%s.%N)
}
fail() {
  printf 'smoke: FAIL %s\n' "$*" >&2
  exit 1
}
cleanup() {
  local rc=$? f
  for f in "${UPLOADED[@]}"; do
    curl -s -o /dev/null -X DELETE -u "$TOKEN" "$GATEWAY$REPO$f" || true
  done
  if ((rc == 0)); then rm -rf "$WORK"; else echo "smoke: scratch directory kept: $WORK" >&2; fi
  printf 'smoke: %s after %s s\n' "$( ((rc == 0)) && echo passed || echo FAILED)" "$(elapsed "$T0")"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# curl with the token; -sS: errors on stderr, no progress meter.
gw() { curl -sS --max-time 60 -u "$TOKEN" "$@"; }

# --- 1. packages --------------------------------------------------------------------------------
RELEASE=$(date +%s)$((RANDOM % 1000))
build_rpm() { # build_rpm NAME -> prints the file path
  local name=$1 top=$WORK/rpmbuild
  mkdir -p "$top/SPECS"
  cat >"$top/SPECS/$name.spec" <<SPEC
Name:           $name
Version:        1.0
Release:        $RELEASE
Summary:        rpmbucket smoke test package
License:        MIT
BuildArch:      noarch
%description
Uploaded, installed and deleted by rpmbucket's scripts/smoke.sh.
%install
mkdir -p %{buildroot}/usr/share/$name
echo "$name $RELEASE" > %{buildroot}/usr/share/$name/release.txt
%files
/usr/share/$name/release.txt
SPEC
  rpmbuild --quiet --define "_topdir $top" --define '_source_payload w6.gzdio' --define '_binary_payload w6.gzdio' \
    -bb "$top/SPECS/$name.spec" >"$WORK/rpmbuild-$name.log" 2>&1 || { cat "$WORK/rpmbuild-$name.log" >&2; return 1; }
  printf '%s\n' "$top/RPMS/noarch/$name-1.0-$RELEASE.noarch.rpm"
}
A=$(build_rpm "$NAME-redirect") || fail "rpmbuild of $NAME-redirect"
B=$(build_rpm "$NAME-presign") || fail "rpmbuild of $NAME-presign"
FA=$(basename "$A") FB=$(basename "$B")
ok "built $FA and $FB"

# --- 2. one request: PUT to the gateway, 307, PUT to S3 ------------------------------------------
sha_b64=$(openssl dgst -sha256 -binary "$A" 2>/dev/null | base64) ||
  sha_b64=$(python3 -c 'import base64,hashlib,sys; print(base64.b64encode(hashlib.sha256(open(sys.argv[1],"rb").read()).digest()).decode())' "$A")
UPLOADED+=("$FA")
out=$(gw -L -T "$A" -H "x-amz-checksum-sha256: $sha_b64" -o "$WORK/put.out" \
  -w '%{http_code} %{num_redirects} %{url_effective}' "$GATEWAY$REPO") || fail "curl -L -T $FA ${GATEWAY}$REPO: $(cat "$WORK/put.out" 2>/dev/null)"
read -r code redirects effective <<<"$out"
[[ $code == 200 && $redirects == 1 ]] ||
  fail "curl -L -T $FA: final status $code after $redirects redirects (want 200 after the gateway's 307): $(head -c 300 "$WORK/put.out")"
ok "curl -L -T: 307 to ${effective%%\?*} then 200"

# --- 3. two steps: presign, then PUT -----------------------------------------------------------------
UPLOADED+=("$FB")
url=$(gw -f "${GATEWAY}presign/$REPO$FB?size=$(stat -c %s "$B")" 2>"$WORK/presign.err") || fail "GET ${GATEWAY}presign/$REPO$FB: $(cat "$WORK/presign.err")"
[[ $url == http* ]] || fail "presign answered no URL: ${url:0:200}"
code=$(curl -sS --max-time 60 -o "$WORK/put2.out" -w '%{http_code}' -T "$B" "$url") || fail "curl -T $FB to the presigned URL"
[[ $code == 200 ]] || fail "PUT $FB to the presigned URL: status $code: $(head -c 300 "$WORK/put2.out")"
ok "GET /presign then curl -T: 200"

# --- 4. published ------------------------------------------------------------------------------------
wait_status() { # wait_status FILE WANT(200|404) -> last answer in $WORK/status.out
  local f=$1 want=$2 deadline=$(($(date +%s) + WAIT)) code q=""
  # ?wait=N makes the gateway wait until the package is published; a removal is polled.
  [[ $want == 200 ]] && q="?wait=10"
  while :; do
    code=$(gw -o "$WORK/status.out" -w '%{http_code}' "${GATEWAY}status/$REPO$f$q") || code=000
    [[ $code == "$want" ]] && return 0
    [[ $code == 200 || $code == 404 ]] || { echo "status $code: $(head -c 300 "$WORK/status.out")" >"$WORK/status.err"; }
    (($(date +%s) < deadline)) || return 1
    sleep 1
  done
}
for f in "$FA" "$FB"; do
  wait_status "$f" 200 || fail "$f not published within $WAIT s: /status says $(head -c 200 "$WORK/status.out") $(cat "$WORK/status.err" 2>/dev/null)"
done
ok "/status: both published ($(head -c 80 "$WORK/status.out" | tr -d '\n'))"

# --- 5. dnf install ------------------------------------------------------------------------------------
dnf_repo() { # dnf_repo INSTALLROOT ARGS...
  local root=$1
  shift
  mkdir -p "$root"
  LC_ALL=C.UTF-8 dnf -q --setopt=reposdir=/dev/null --repofrompath="smoke,$BASEURL" --repo smoke \
    --noplugins --releasever 9 --installroot "$root" --setopt=cachedir="$root/cache" \
    --setopt=smoke.gpgcheck=0 --setopt=smoke.repo_gpgcheck=0 --setopt=smoke.metadata_expire=0 \
    --setopt=smoke.skip_if_unavailable=0 --setopt=install_weak_deps=0 "$@"
}
NA=${FA%.noarch.rpm} NB=${FB%.noarch.rpm}
if [[ $(id -u) == 0 ]]; then
  dnf_repo "$WORK/root" -y install "$NA" "$NB" >"$WORK/dnf.log" 2>&1 || fail "dnf install $NA $NB from $BASEURL: $(tail -5 "$WORK/dnf.log")"
  for n in "$NAME-redirect" "$NAME-presign"; do
    grep -qx "$n $RELEASE" "$WORK/root/usr/share/$n/release.txt" 2>/dev/null || fail "dnf install: /usr/share/$n/release.txt is not in the install root"
  done
  ok "dnf install $NAME-redirect $NAME-presign from the baseurl"
else
  dnf_repo "$WORK/root" -y install --downloadonly --destdir "$WORK/dl" "$NA" "$NB" >"$WORK/dnf.log" 2>&1 ||
    fail "dnf install --downloadonly $NA $NB from $BASEURL: $(tail -5 "$WORK/dnf.log")"
  cmp -s "$A" "$WORK/dl/$FA" && cmp -s "$B" "$WORK/dl/$FB" || fail "dnf downloaded other bytes than were uploaded"
  ok "dnf install --downloadonly (not root) from the baseurl"
fi

# --- 6. delete ---------------------------------------------------------------------------------------
for f in "$FA" "$FB"; do
  code=$(gw -o "$WORK/del.out" -w '%{http_code}' -X DELETE "$GATEWAY$REPO$f") || fail "DELETE $f"
  [[ $code == 204 ]] || fail "DELETE $GATEWAY$REPO$f: status $code: $(head -c 300 "$WORK/del.out")"
done
UPLOADED=()
for f in "$FA" "$FB"; do
  wait_status "$f" 404 || fail "$f still published $WAIT s after DELETE: $(head -c 200 "$WORK/status.out")"
done
ok "DELETE both: 204, then /status 404"

# --- 7. gone from the metadata -----------------------------------------------------------------------
left=$(dnf_repo "$WORK/root2" repoquery --qf '%{name}' "$NAME-redirect" "$NAME-presign" 2>"$WORK/rq.err") ||
  fail "dnf repoquery from $BASEURL: $(tail -5 "$WORK/rq.err")"
[[ -z $left ]] || fail "the metadata still lists: $left"
ok "dnf repoquery (fresh cache): neither package is listed"
