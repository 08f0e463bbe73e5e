#!/usr/bin/env bash
# The two-object window of signed metadata: `repomd.xml` and `repomd.xml.asc` are two objects, so
# a reader can fetch a pair that does not verify while a publish is under way. This runs N
# publishes (default 100) back to back while a reader fetches `repomd.xml` and then
# `repomd.xml.asc` over HTTP in a loop (one keep-alive connection, as librepo does), and counts
# the pairs whose signature does not verify (`gpgv` with the published key, each distinct pair
# checked once). Two setups:
#
#   local server  `rpmbucket serve --root DIR --signing-key KEY`; each publish is one
#                 `curl -T PKG URL/el9/` followed by `/status/el9/PKG?wait=60` (200 = published)
#   moto (S3)     a public-read moto bucket; each publish is one upload (boto3) followed by
#                 `rpmbucket reconcile --signing-key KEY s3://BUCKET/el9/`; the reader GETs the
#                 objects from moto anonymously
#
# and writes the `## Signed metadata: the repomd.xml / repomd.xml.asc window` section of
# BENCHMARKS.md (machine, command, date, load average).
#
# Usage: scripts/bench-window.sh [N]
# Environment:
#   RPMBUCKET_BIN  rpmbucket binary (default: `cargo build --release -p rpmbucket`)
#   GEN_RPMS       generator binary (default: `cargo run -p rpmbucket-tests --release --bin gen-rpms`)
#   MOTO_SERVER    moto_server to start (default: $RPMBUCKET_CACHE/venv/bin/moto_server, as
#                  scripts/test.sh installs it); its venv's python (with boto3) drives the uploads
#   OUT            report file (default: BENCHMARKS.md in the repository root; "-" = stdout only)
# Only 127.0.0.1 is used; the servers are stopped at the end.
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
n="${1:-100}"
out="${OUT:-$root/BENCHMARKS.md}"
cache="${RPMBUCKET_CACHE:-$HOME/.cache/rpmbucket}"
moto_server="${MOTO_SERVER:-$cache/venv/bin/moto_server}"
py="$(dirname "$moto_server")/python"
# shellcheck source=scripts/lib/bench-section.sh
. "$root/scripts/lib/bench-section.sh"

[ -x "$moto_server" ] || { echo "no moto_server at $moto_server (run scripts/test.sh once, or set MOTO_SERVER)" >&2; exit 1; }
for tool in gpg gpgv curl; do
    command -v "$tool" >/dev/null || { echo "$tool is needed" >&2; exit 1; }
done
bench_rpmbucket_bin

work=$(mktemp -d)
pids=()
cleanup() {
    for p in "${pids[@]}"; do
        kill "$p" 2>/dev/null || true
        wait "$p" 2>/dev/null || true
    done
    rm -rf "$work"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

# A throwaway Ed25519 signing key.
export GNUPGHOME="$work/gnupg"
mkdir -m 700 "$GNUPGHOME"
gpg -q --batch --passphrase '' --quick-gen-key "Window Bench <bench@example.invalid>" ed25519 sign never 2>/dev/null
gpg -q --batch --armor --export-secret-keys >"$work/key.asc"
gpg -q --batch --export >"$work/pub.gpg"

gen --count "$n" --out "$work/rpms" >/dev/null
ls "$work/rpms"/*.rpm >"$work/files"
[ "$(wc -l <"$work/files")" -eq "$n" ] || { echo "expected $n generated RPMs" >&2; exit 1; }

# The reader: GET repomd.xml, then repomd.xml.asc, on one connection, until the stop file
# exists; every distinct body is saved once, and each pair is counted by the bodies' hashes.
cat >"$work/reader.py" <<'PY'
import hashlib, http.client, json, os, sys, time
host, port, prefix, outdir, stop = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5]
os.makedirs(outdir, exist_ok=True)
conn = http.client.HTTPConnection(host, port, timeout=30)
def get(path):
    global conn
    for _ in range(3):
        try:
            conn.request("GET", path)
            r = conn.getresponse()
            body = r.read()
            return r.status, body
        except (http.client.HTTPException, OSError):
            conn.close()
            conn = http.client.HTTPConnection(host, port, timeout=30)
    return 0, b""
def save(body):
    h = hashlib.sha256(body).hexdigest()
    p = os.path.join(outdir, h)
    if not os.path.exists(p):
        with open(p, "wb") as f:
            f.write(body)
    return h
pairs, missing, t0 = {}, 0, time.time()
while not os.path.exists(stop):
    s1, r = get(prefix + "repomd.xml")
    s2, a = get(prefix + "repomd.xml.asc")
    if s1 != 200 or s2 != 200:
        missing += 1
        continue
    k = save(r) + " " + save(a)
    pairs[k] = pairs.get(k, 0) + 1
json.dump({"pairs": pairs, "missing": missing, "seconds": time.time() - t0}, open(os.path.join(outdir, "pairs.json"), "w"))
PY

# Verify each distinct pair once with gpgv and the published key; print "pairs mismatched".
count_mismatches() {
    local dir=$1 ring=$2
    python3 - "$dir" "$ring" <<'PY'
import json, os, subprocess, sys
d, ring = sys.argv[1], sys.argv[2]
res = json.load(open(os.path.join(d, "pairs.json")))
total = bad = 0
for k, c in res["pairs"].items():
    r, a = k.split()
    ok = subprocess.run(["gpgv", "--keyring", ring, os.path.join(d, a), os.path.join(d, r)],
                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode == 0
    total += c
    bad += 0 if ok else c
print(total, bad, res["missing"])
PY
}

loads=()
note_load() { loads+=("$(cut -d' ' -f1 /proc/loadavg)"); }

# --- local server ---------------------------------------------------------------------------
port=$(free_port)
base="http://127.0.0.1:$port"
"$RPMBUCKET_BIN" serve --root "$work/srv" --listen "127.0.0.1:$port" --signing-key "$work/key.asc" \
    2>"$work/server.log" &
pids+=($!)
for _ in $(seq 100); do
    curl -fs --noproxy '*' -o /dev/null "$base/x.repo" && break
    sleep 0.1
done
# The first publish creates the repository (and its signature) before the reader starts.
first=$(head -1 "$work/files")
curl -fsS --noproxy '*' -o /dev/null -T "$first" "$base/el9/"
curl -fsS --noproxy '*' -o /dev/null "$base/status/el9/$(basename "$first")?wait=60"
note_load
python3 "$work/reader.py" 127.0.0.1 "$port" /el9/repodata/ "$work/local" "$work/local.stop" &
reader=$!
t0=$(date +%s.%N)
tail -n +2 "$work/files" | head -n "$n" | while read -r f; do
    curl -fsS --noproxy '*' -o /dev/null -T "$f" "$base/el9/"
    curl -fsS --noproxy '*' -o /dev/null "$base/status/el9/$(basename "$f")?wait=60"
done
# One more publish, so that there are N after the reader started: the first file again, renamed.
cp "$first" "$work/again.rpm"
curl -fsS --noproxy '*' -o /dev/null -T "$work/again.rpm" "$base/el9/"
curl -fsS --noproxy '*' -o /dev/null "$base/status/el9/again.rpm?wait=60"
t1=$(date +%s.%N)
touch "$work/local.stop"
wait "$reader"
note_load
curl -fsS --noproxy '*' -o "$work/local.key" "$base/el9/repodata/repomd.xml.key"
gpg -q --batch --dearmor <"$work/local.key" >"$work/local.gpg"
read -r l_pairs l_bad l_missing < <(count_mismatches "$work/local" "$work/local.gpg")
l_secs=$(python3 -c "print(f'{$t1 - $t0:.1f}')")
l_publishes=$(grep -c "published" "$work/server.log" || true)

# --- moto -----------------------------------------------------------------------------------
mport=$(free_port)
"$moto_server" -H 127.0.0.1 -p "$mport" >"$work/moto.log" 2>&1 </dev/null &
pids+=($!)
for _ in $(seq 100); do
    curl -fs -o /dev/null "http://127.0.0.1:$mport/" && break
    sleep 0.2
done
export AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test AWS_REGION=us-east-1 AWS_DEFAULT_REGION=us-east-1
export AWS_EC2_METADATA_DISABLED=true AWS_ENDPOINT_URL="http://127.0.0.1:$mport" AWS_S3_FORCE_PATH_STYLE=1
unset AWS_SESSION_TOKEN AWS_PROFILE
bucket=bench-window
cat >"$work/s3.py" <<'PY'
import json, sys, boto3
endpoint, bucket, cmd = sys.argv[1], sys.argv[2], sys.argv[3]
s3 = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1")
if cmd == "create":
    s3.create_bucket(Bucket=bucket)
    s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{bucket}/*"}]}))
else:
    path, key = sys.argv[4], sys.argv[5]
    s3.upload_file(path, bucket, key, ExtraArgs={"ChecksumAlgorithm": "SHA256"})
PY
"$py" "$work/s3.py" "$AWS_ENDPOINT_URL" "$bucket" create
publish_moto() {
    "$py" "$work/s3.py" "$AWS_ENDPOINT_URL" "$bucket" put "$1" "el9/$(basename "$1")"
    "$RPMBUCKET_BIN" reconcile --quiet --signing-key "$work/key.asc" "s3://$bucket/el9/" >/dev/null
}
publish_moto "$first"
note_load
python3 "$work/reader.py" 127.0.0.1 "$mport" "/$bucket/el9/repodata/" "$work/moto" "$work/moto.stop" &
reader=$!
t0=$(date +%s.%N)
tail -n +2 "$work/files" | head -n "$n" | while read -r f; do publish_moto "$f"; done
publish_moto "$work/again.rpm"
t1=$(date +%s.%N)
touch "$work/moto.stop"
wait "$reader"
note_load
curl -fsS -o "$work/moto.key" "$AWS_ENDPOINT_URL/$bucket/el9/repodata/repomd.xml.key"
gpg -q --batch --dearmor <"$work/moto.key" >"$work/moto.gpg"
read -r m_pairs m_bad m_missing < <(count_mismatches "$work/moto" "$work/moto.gpg")
m_secs=$(python3 -c "print(f'{$t1 - $t0:.1f}')")

pct() { python3 -c "print(f'{100 * $1 / max($2, 1):.2f}')"; }
cpu=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //')
mem=$(awk '/MemTotal/ {printf "%.1f GiB", $2/1048576}' /proc/meminfo)
section="$work/section.md"
cat >"$section" <<MD
## Signed metadata: the repomd.xml / repomd.xml.asc window

Generated by \`scripts/bench-window.sh $n\` on $(date -u +%Y-%m-%d).

* Machine: $(nproc) CPUs ($cpu), $mem RAM, $(uname -sr); load average (1 min) at the start and end
  of each run: ${loads[*]} (the machine was shared with other jobs)
* rpmbucket: $("$RPMBUCKET_BIN" --version); throwaway Ed25519 key (\`gpg --quick-gen-key\`)
* $n publishes back to back (each adds one synthetic package) while one reader fetches
  \`repomd.xml\` and then \`repomd.xml.asc\` over HTTP in a loop on one keep-alive connection
  (the order dnf/librepo and zypper use). A pair is mismatched when \`gpgv\` with the published
  key rejects it. At the end \`repomd.xml.asc\` matches \`repomd.xml\` in both runs.
* Local server: \`rpmbucket serve --signing-key KEY\`, each publish = \`curl -T\` upload +
  \`/status?wait=60\` (the server logged $l_publishes publishes). moto: a public-read bucket,
  each publish = one upload + \`rpmbucket reconcile --signing-key KEY s3://BUCKET/el9/\`.

| store | publishes | seconds | pairs read | mismatched pairs | mismatched % | reads without both objects |
|---|---:|---:|---:|---:|---:|---:|
| local directory (\`serve\`) | $n | $l_secs | $l_pairs | $l_bad | $(pct "$l_bad" "$l_pairs") | $l_missing |
| moto (S3 API) | $n | $m_secs | $m_pairs | $m_bad | $(pct "$m_bad" "$m_pairs") | $m_missing |

A reader gets a mismatched pair exactly when one of the two writes falls between its two GETs;
the order of the two writes does not change that. So rpmbucket makes the two writes as close as
the store allows: the signature is made before the swap and written with it (\`put_pair\`). On the
local store both files are written and \`fsync\`ed first and then renamed one right after the other
(microseconds apart; before this, each write was fsync'd on its own and the gap was most of a
publish: in the engine test on a loaded disk most pairs mismatched). On S3 the \`.asc\` PUT
follows the swap's, so the gap is one PUT. A librepo client that meets the gap fails that refresh
with "GPG signature verification error" and succeeds on the next one; it never keeps the pair.
A cache keeps a mismatched pair for at most the \`Cache-Control: max-age=10\` both objects carry.
Behind a CDN, do not cache \`repodata/repomd.xml\` and \`repodata/repomd.xml.asc\` at the edge
(forward them to the origin, TTL 0), so that the edge never holds a pair the origin no longer
serves; see the README ("The two-object window").
MD
cat "$section"
if [ "$out" != "-" ]; then
    replace_section "$out" "$section"
fi
