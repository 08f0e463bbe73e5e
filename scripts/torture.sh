#!/usr/bin/env bash
# The long run of the multi-process torture test (tests/tests/torture_cli.rs): both backends
# (moto behind the fault proxy, a local directory) at the same time, niced, for MINUTES each,
# then RELIABILITY.md is written from the figures the test prints.
#
#   scripts/torture.sh [MINUTES] [WRITERS]     defaults: 30 minutes, 6 writers
#
# The binaries are copied out of the target directory first, so a build started meanwhile
# (the target directory may be shared) cannot swap them under the run. TORTURE_BINARIES=DIR
# uses DIR/rpmbucket and DIR/torture_cli instead of building.
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
MINUTES=${1:-30}
WRITERS=${2:-6}
# shellcheck source=scripts/test.sh
source "$REPO/scripts/test.sh"
trap run_cleanup EXIT
trap 'exit 130' INT TERM
cd "$REPO"

install_moto
start_moto

WORK=$(mktemp -d "${TMPDIR:-/tmp}/rpmbucket-torture-XXXXXX")
on_cleanup "rm -rf '$WORK'"
if [[ -n ${TORTURE_BINARIES:-} ]]; then
  # Already built (a directory holding rpmbucket and torture_cli).
  cp "$TORTURE_BINARIES/rpmbucket" "$TORTURE_BINARIES/torture_cli" "$WORK/"
else
step "build: rpmbucket and the torture test"
cargo build -p rpmbucket --bin rpmbucket --quiet
cp "$CARGO_TARGET_DIR/debug/rpmbucket" "$WORK/rpmbucket"
TEST_BIN=$(cargo test -p rpmbucket-tests --test torture_cli --no-run --message-format=json 2>/dev/null |
  sed -n 's/.*"executable":"\([^"]*torture_cli[^"]*\)".*/\1/p' | tail -1)
[[ -x $TEST_BIN ]] || die "no torture_cli test binary"
cp "$TEST_BIN" "$WORK/torture_cli"
fi
COMMIT=$(git rev-parse --short HEAD)

REPORT=$WORK/report.jsonl
LOADS=$WORK/loads
(while sleep 30; do cut -d' ' -f1 /proc/loadavg >>"$LOADS"; done) &
SAMPLER=$!
on_cleanup "kill $SAMPLER 2>/dev/null"

step "torture: $MINUTES min per backend, $WRITERS writers, both backends at once (nice 10)"
START=$(date -u +%Y-%m-%dT%H:%MZ)
T0=$(date +%s)
pids=()
for t in s3_through_the_fault_proxy local_directory; do
  RPMBUCKET_BIN=$WORK/rpmbucket RPMBUCKET_TORTURE_SECS=$((MINUTES * 60)) \
    RPMBUCKET_TORTURE_WRITERS=$WRITERS RPMBUCKET_TORTURE_REPORT=$REPORT \
    RPMBUCKET_TORTURE_LOG_FAILURES=20 \
    nice -n 10 "$WORK/torture_cli" --exact "$t" --nocapture >"$WORK/$t.log" 2>&1 &
  pids+=($!)
done
status=0
for p in "${pids[@]}"; do wait "$p" || status=1; done
ELAPSED=$(($(date +%s) - T0))
kill "$SAMPLER" 2>/dev/null || true
for t in s3_through_the_fault_proxy local_directory; do
  step "log tail of $t"
  tail -5 "$WORK/$t.log"
done
[[ -s $REPORT ]] || die "the test wrote no figures (see the logs above)"

LOAD=$(awk '{s+=$1; if(min==""||$1<min)min=$1; if($1>max)max=$1; n++} END {if(n) printf "min %.2f, mean %.2f, max %.2f (%d samples)", min, s/n, max, n}' "$LOADS")
CPU=$(sed -n 's/^model name\s*: //p' /proc/cpuinfo | head -1)
MEM=$(awk '/MemTotal/ {printf "%.1f GiB", $2/1048576}' /proc/meminfo)

"$(system_python)" - "$REPORT" "$REPO/RELIABILITY.md" <<EOF
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
out = open(sys.argv[2], "w")
w = out.write
w("# Reliability\n\n")
w("Written by \`scripts/torture.sh\` (do not edit the figures by hand).\n\n")
w("## Multi-process torture of the publish protocol\n\n")
w("What it does and what it counts as a violation: the header of \`tests/tests/torture_cli.rs\`.\n")
w("Writers are \`rpmbucket add\` / \`rpmbucket rm\` processes on one repository; about a quarter of\n")
w("the commands are killed with SIGKILL at a random moment; on S3 every request goes through the\n")
w("fault-injecting proxy (\`tests/src/s3proxy.rs\`). CI runs the same test for 40 s per backend.\n\n")
w("- command: \`scripts/torture.sh $MINUTES $WRITERS\` (both backends at the same time, nice 10)\n")
w("- commit: $COMMIT, debug build\n")
w("- started: $START, wall time $((ELAPSED / 60)) min $((ELAPSED % 60)) s\n")
w("- machine: $(nproc) cores ($CPU), $MEM, $(uname -sr); shared with other builds and tests\n")
w("- load average (1 min, sampled every 30 s): $LOAD\n\n")
keys = [("seconds", "duration (s)"), ("writers", "writers"), ("commands", "commands run"),
        ("acknowledged_adds", "acknowledged adds"), ("acknowledged_removals", "acknowledged removals"),
        ("failed_commands", "commands that failed (exit != 0)"), ("kills", "SIGKILLs"),
        ("publishes_observed", "publishes observed by the checker"),
        ("requests_through_proxy", "S3 requests through the proxy"), ("faults", "faults injected"),
        ("delayed", "requests delayed 40 ms"), ("drift_before_reconcile", "drift at the end (explained by killed/failed commands)"),
        ("final_packages", "packages at the end"), ("violations", "**violations**")]
w("| | " + " | ".join(r["backend"] for r in rows) + " |\n")
w("|---|" + "---|" * len(rows) + "\n")
for k, label in keys:
    w(f"| {label} | " + " | ".join("-" if r.get(k) is None else str(r[k]) for r in rows) + " |\n")
for r in rows:
    if r.get("faults_by_kind"):
        w("\nFaults injected on " + r["backend"] + ": " +
          ", ".join(f"{k} {v}" for k, v in r["faults_by_kind"].items()) + ".\n")
EOF
step "RELIABILITY.md written"
exit $status
