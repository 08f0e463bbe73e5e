#!/usr/bin/env bash
# Authentication cost and peak RSS of `rpmbucket serve` under a storm of random credentials.
#
#   scripts/bench-auth.sh [REQUESTS] [CONCURRENCY]      (default 600 150)
#
# 1. `cargo run -p rpmbucket-gateway --example auth_cost` (profile: $PROFILE, default release):
#    median µs per refused request for a fast-scheme token and an argon2id (default parameters)
#    token.
# 2. `rpmbucket serve --tokens FILE` (binary: $RPMBUCKET_BIN, default target/$PROFILE/rpmbucket)
#    with one argon2id and one fast token; REQUESTS PUTs with random Basic credentials,
#    CONCURRENCY at once (curl via xargs -P); peak RSS is VmHWM from /proc/PID/status.
set -euo pipefail
requests=${1:-600}
concurrency=${2:-150}
profile=${PROFILE:-release}
target=${CARGO_TARGET_DIR:-target}
flag=$([ "$profile" = release ] && echo --release || true)
bin=${RPMBUCKET_BIN:-$target/$([ "$profile" = release ] && echo release || echo debug)/rpmbucket}

echo "machine: $(nproc) CPUs ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')), $(free -g | awk '/Mem:/{print $2}') GiB RAM, load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "profile: $profile"
cargo run -q $flag -p rpmbucket-gateway --example auth_cost

dir=$(mktemp -d)
trap 'kill "${pid:-0}" 2>/dev/null || true; rm -rf "$dir"' EXIT
echo legacy-secret | "$bin" token hash --user old --scheme argon2 >"$dir/tokens"
"$bin" token hash --user ci --generate 2>/dev/null >>"$dir/tokens"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
RPMBUCKET_LOG=error "$bin" serve --root "$dir/root" --listen "127.0.0.1:$port" --tokens "$dir/tokens" \
  --max-connections-per-client $((concurrency * 2)) 2>/dev/null &
pid=$!
until curl -s -o /dev/null "http://127.0.0.1:$port/"; do sleep 0.1; done
echo "before storm: VmRSS $(awk '/VmRSS/{print $2}' /proc/$pid/status) kB"
start=$(date +%s.%N)
seq "$requests" | xargs -P "$concurrency" -I{} sh -c \
  "curl -s -o /dev/null -w '%{http_code}\n' -u 'old:guess{}-\$\$' -T /etc/hostname http://127.0.0.1:$port/el9/s{}.rpm" \
  | sort | uniq -c | sed 's/^/answers: /'
end=$(date +%s.%N)
echo "storm: $requests requests, $concurrency at once, $(echo "$end - $start" | bc) s"
echo "peak RSS (VmHWM): $(awk '/VmHWM/{print $2}' /proc/$pid/status) kB"
