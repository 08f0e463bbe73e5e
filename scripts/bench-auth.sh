#!/usr/bin/env bash
# Authentication cost and peak RSS of `rpmbucket serve` under a storm of random credentials;
# writes the "## Authentication cost and the credential storm" section of BENCHMARKS.md.
#
#   scripts/bench-auth.sh [REQUESTS] [CONCURRENCY]      (default 600 150)
#
# 1. Builds `rpmbucket` and the `auth_cost` example (profile: $PROFILE, default release), then
#    runs the example: median µs per refused request for a fast-scheme token and an argon2id
#    (default parameters) token, the "after" and "before" verification cost.
# 2. `rpmbucket serve --tokens FILE` with one argon2id and one fast token, the per-address
#    failure limit lifted so every request reaches verification (the worst case); REQUESTS PUTs
#    with random Basic credentials for the argon2 user, CONCURRENCY at once (curl via xargs -P),
#    and one valid upload with the fast token during the storm. Peak RSS is VmHWM from
#    /proc/PID/status.
#
# Every step has a time limit, so the script ends (with a message saying which step) instead of
# hanging: BENCH_BUILD_TIMEOUT (default 3600 s: a cold release build on 2 shared cores),
# BENCH_STEP_TIMEOUT (default 600 s: the example, the storm).
#
# Environment: PROFILE (release|debug), BENCH_BUILD (0: no build step), RPMBUCKET_FIXTURES or BENCH_RPM (the package of the
# valid upload; required), OUT (report file, default BENCHMARKS.md; "-" = stdout only).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
# shellcheck source=scripts/lib/bench-section.sh
. "$root/scripts/lib/bench-section.sh"
requests=${1:-600}
concurrency=${2:-150}
profile=${PROFILE:-release}
out="${OUT:-$root/BENCHMARKS.md}"
build_timeout=${BENCH_BUILD_TIMEOUT:-3600}
step_timeout=${BENCH_STEP_TIMEOUT:-600}
target=${CARGO_TARGET_DIR:-$root/target}
case $profile in
release) flag=--release dir=release ;;
debug) flag="" dir=debug ;;
*) echo "bench-auth.sh: PROFILE must be release or debug" >&2; exit 2 ;;
esac
die() {
    echo "bench-auth.sh: $*" >&2
    exit 1
}
fixture=${BENCH_RPM:-$(ls "${RPMBUCKET_FIXTURES:-/nonexistent}"/*.rpm 2>/dev/null | head -1 || true)}
[ -f "$fixture" ] || die "no package for the valid upload: set RPMBUCKET_FIXTURES or BENCH_RPM"
for tool in curl python3 timeout xargs; do
    command -v "$tool" >/dev/null || die "$tool is needed"
done

work=$(mktemp -d)
cleanup() {
    stop_serve
    rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# 1. Build (a cargo waiting for another build's lock, or a stuck build, ends at the limit).
# BENCH_BUILD=0 skips it and measures the binaries already in the target directory (on a
# shared machine a release build can take longer than the time there is); the section says so.
if [ "${BENCH_BUILD:-1}" = 0 ]; then
    echo "bench-auth.sh: BENCH_BUILD=0: measuring the $profile binaries already built" >&2
else
    echo "bench-auth.sh: building ($profile; at most $build_timeout s)" >&2
    # The workspace's binaries and examples: the feature set of `scripts/test.sh`'s build (dev
    # dependencies included), so a debug run reuses the tests' artifacts instead of building
    # the dependencies again with other features.
    # shellcheck disable=SC2086
    timeout --kill-after=10 "$build_timeout" cargo build -q $flag --workspace --bins --examples ||
        die "cargo build failed or took longer than $build_timeout s"
fi
bin="$target/$dir/rpmbucket"
example="$target/$dir/examples/auth_cost"
[ -x "$bin" ] && [ -x "$example" ] || die "no $bin or $example after the build"

machine="$(nproc) CPUs ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')), $(free -g | awk '/Mem:/{print $2}') GiB RAM, Linux $(uname -r)"
load_before=$(cut -d' ' -f1-3 /proc/loadavg)

echo "bench-auth.sh: verification cost (at most $step_timeout s)" >&2
cost=$(timeout --kill-after=5 "$step_timeout" "$example") || die "auth_cost failed or timed out"

# 2. The storm.
echo legacy-secret | "$bin" token hash --user old --scheme argon2 >"$work/tokens"
"$bin" token hash --user ci --generate 2>"$work/secret" >>"$work/tokens"
secret=$(sed -n 's/.*: //p' "$work/secret")
[ -n "$secret" ] || die "rpmbucket token hash --generate printed no secret"
start_serve error "$bin" "$work/serve.log" --root "$work/root" --tokens "$work/tokens" \
    --max-connections-per-client $((concurrency * 2)) --auth-failures-per-minute 1000000
pid=$serve_pid
rss_before=$(awk '/VmRSS/{print $2}' "/proc/$pid/status")

echo "bench-auth.sh: storm of $requests requests, $concurrency at once (at most $step_timeout s)" >&2
start=$(date +%s.%N)
# Each curl gives up after 60 s (answer code 000), the whole storm after the step limit.
seq "$requests" | timeout --kill-after=5 "$step_timeout" xargs -P "$concurrency" -I{} \
    curl -s -o /dev/null --max-time 60 -w '%{http_code}\n' -u "old:guess{}-$$" -T /etc/hostname \
    "$base/el9/s{}.rpm" >"$work/answers" &
storm=$!
sleep 0.5
valid=$(curl -s -o "$work/valid.body" -w '%{http_code}' --max-time 60 -u "ci:$secret" -T "$fixture" "$base/el9/" || true)
storm_status=0
wait "$storm" || storm_status=$?
end=$(date +%s.%N)
((storm_status == 0)) || die "the storm did not finish (xargs/timeout status $storm_status)"
kill -0 "$pid" 2>/dev/null || die "rpmbucket serve died during the storm"
load_after=$(cut -d' ' -f1-3 /proc/loadavg)
peak=$(awk '/VmHWM/{print $2}' "/proc/$pid/status")
answered=$(wc -l <"$work/answers")
((answered == requests)) || die "$answered answers for $requests requests"
answers=$(sort "$work/answers" | uniq -c | awk '{printf "%s%s × %s", (NR>1?", ":""), $1, $2}')
wall=$(python3 -c "print(f'{$end - $start:.1f}')")
slow_us=$(sed -n 's/^ *slow: median \([0-9.]*\) µs.*/\1/p' <<<"$cost")
fast_us=$(sed -n 's/^ *fast: median \([0-9.]*\) µs.*/\1/p' <<<"$cost")

if [ "$profile" = debug ]; then
    build_note="Debug build: argon2, blake2 and sha2 (the hashing) run optimised, opt-level 3 as in release (\`[profile.dev.package]\` in Cargo.toml); the rest of the server is unoptimised."
else
    build_note="Release build."
fi
if [ "${BENCH_BUILD:-1}" = 0 ]; then
    build_note="$build_note Binaries built before the run (\`BENCH_BUILD=0\`; \`rpmbucket\` built $(date -u -r "$bin" '+%Y-%m-%d %H:%M UTC')), not by it."
fi
cat >"$work/section.md" <<END
## Authentication cost and the credential storm (\`scripts/bench-auth.sh\`)

Generated by \`PROFILE=$profile scripts/bench-auth.sh $requests $concurrency\` on $(date -u +%Y-%m-%d) ($profile build).

* Machine: $machine; shared with other jobs: load average $load_before before, $load_after after the run.
* $build_note
* Verification cost per request (\`gateway/examples/auth_cost.rs\`: \`Tokens::authenticate\` on never-seen presentations, median):
\`\`\`
$cost
\`\`\`
* Storm: \`rpmbucket serve --tokens\` with one argon2id (default parameters) and one \`\$rpmbucket-sha256\$\` token, per-address failure limit lifted (every request reaches verification); $requests PUTs with random Basic credentials for the argon2 user, $concurrency at once; one valid upload with the sha256 token during the storm.

| | before (issue 12) | after |
|---|---|---|
| verification cost per request | ${slow_us:-?} µs (argon2id, every token; no user name: × every token) | ${fast_us:-?} µs (generated sha256 tokens); ${slow_us:-?} µs for a legacy argon2id token, at most \`--auth-concurrency\` (2) at once |
| answers to the storm | – | $answers |
| valid upload during the storm | failed (process killed) | HTTP $valid |
| storm wall time | – | $wall s |
| RSS before the storm | – | $((rss_before / 1024)) MiB |
| peak RSS (VmHWM) | 21.7 GiB, then killed by the kernel | $((peak / 1024)) MiB |

"Before" is the issue's measurement (release build, same machine type), not re-run: it would
exhaust the memory of this shared machine. Before the hardening every token was argon2id and
every request that reached verification paid the argon2 line above (19 MiB each, unbounded in
number); 401 answers the credentials, 429 the per-address failure limit (lifted here, so it
does not occur), 503 the argon2 queue (\`--auth-queue-timeout-ms\`, 2 s).
END
cat "$work/section.md"
if [ "$out" != "-" ]; then
    replace_section "$out" "$work/section.md"
    echo "bench-auth.sh: wrote the section to $out" >&2
fi
