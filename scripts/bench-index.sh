#!/usr/bin/env bash
# Benchmark `rpmbucket index` against `createrepo_c` on synthetic repositories and write the
# results into BENCHMARKS.md.
#
# Usage: scripts/bench-index.sh [SIZE...]            (default sizes: 1000 10000)
# Environment:
#   WORKERS       --workers for both tools (default: nproc)
#   RUNS          repetitions per measurement, the median is reported (default: 3)
#   BENCH_DIR     scratch directory (default: a new temporary directory, removed at the end)
#   RPMBUCKET_BIN rpmbucket binary (default: built with `cargo build --release -p rpmbucket`)
#   GEN_RPMS      generator binary (default: `cargo run -p rpmbucket-tests --release --bin gen-rpms`)
#   OUT           report file (default: BENCHMARKS.md in the repository root)
#
# Both tools write gzip XML plus bz2 sqlite databases (createrepo_c 0.17's defaults, and
# rpmbucket's). The page cache is warm for both: every measurement is preceded by an identical
# untimed run over the same files.
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
sizes=("$@")
[ ${#sizes[@]} -gt 0 ] || sizes=(1000 10000)
workers="${WORKERS:-$(nproc)}"
runs="${RUNS:-3}"
out="${OUT:-$root/BENCHMARKS.md}"

command -v createrepo_c >/dev/null || { echo "createrepo_c not found" >&2; exit 1; }
[ -x /usr/bin/time ] || { echo "/usr/bin/time (GNU time) not found" >&2; exit 1; }

if [ -z "${RPMBUCKET_BIN:-}" ]; then
    (cd "$root" && cargo build --release -q -p rpmbucket)
    RPMBUCKET_BIN="${CARGO_TARGET_DIR:-$root/target}/release/rpmbucket"
fi
. "$root/scripts/lib/bench-section.sh"
bench_workdir

# measure CMD... -> prints "seconds kilobytes" (GNU time, wall clock and peak RSS)
measure() {
    local log="$work/time.log"
    /usr/bin/time -v -o "$log" "$@" >/dev/null 2>"$work/cmd.err" || {
        echo "command failed: $*" >&2
        cat "$work/cmd.err" >&2
        exit 1
    }
    local wall rss
    wall=$(awk -F': ' '/Elapsed \(wall clock\)/ {print $2}' "$log")
    rss=$(awk -F': ' '/Maximum resident set size/ {print $2}' "$log")
    # wall is [h:]m:ss.ss
    awk -v w="$wall" -v r="$rss" 'BEGIN {
        n = split(w, p, ":"); s = 0;
        for (i = 1; i <= n; i++) s = s * 60 + p[i];
        printf "%.2f %d\n", s, r }'
}

median() { sort -n | awk '{a[NR] = $1} END {print a[int((NR + 1) / 2)]}'; }

# command TOOL MODE DIR: sets CMD to the command line of one measurement.
command_for() {
    case "$1:$2" in
    rpmbucket:full) CMD=("$RPMBUCKET_BIN" index --quiet --workers "$workers" "$3") ;;
    rpmbucket:update) CMD=("$RPMBUCKET_BIN" index --quiet --update --workers "$workers" "$3") ;;
    createrepo:full) CMD=(createrepo_c --quiet --database --workers "$workers" "$3") ;;
    createrepo:update) CMD=(createrepo_c --quiet --database --update --workers "$workers" "$3") ;;
    esac
}

# bench_case SETUP_FN TOOL MODE DIR -> "median_seconds median_rss_mb"
bench_case() {
    local setup="$1" tool="$2" mode="$3" dir="$4" t m
    local times=() rsss=()
    command_for "$tool" "$mode" "$dir"
    "$setup" "$dir"
    "${CMD[@]}" >/dev/null # warm-up, untimed
    for _ in $(seq "$runs"); do
        "$setup" "$dir"
        read -r t m < <(measure "${CMD[@]}")
        times+=("$t")
        rsss+=("$m")
    done
    printf '%s %s\n' \
        "$(printf '%s\n' "${times[@]}" | median)" \
        "$(printf '%s\n' "${rsss[@]}" | median | awk '{printf "%.0f", $1 / 1024}')"
}

reset_full() { rm -rf "$1/repodata"; }
# For --update: a published repo of the tool's own making, plus one new package.
declare -A base_repodata
reset_update() {
    local dir="$1"
    rm -rf "$dir/repodata" "$dir/zz-new-package.rpm"
    cp -a "${base_repodata[$dir]}" "$dir/repodata"
    cp --preserve=timestamps "$work/new.rpm" "$dir/zz-new-package.rpm"
}

load_before=$(cut -d' ' -f1-3 /proc/loadavg)
gen --count 1 --out "$work/newpkg" --seed 999 >/dev/null 2>&1
cp "$(find "$work/newpkg" -name '*.rpm' | head -1)" "$work/new.rpm"

rows=()
for n in "${sizes[@]}"; do
    src="$work/src-$n"
    [ -d "$src" ] || gen --count "$n" --out "$src" >/dev/null 2>&1
    count=$(find "$src" -name '*.rpm' | wc -l)
    for tool in rpmbucket createrepo; do
        dir="$work/$tool-$n"
        rm -rf "$dir"
        cp -a "$src" "$dir"
        read -r ft fm < <(bench_case reset_full "$tool" full "$dir")
        # base repodata for the update case, made by the same tool
        rm -rf "$dir/repodata"
        command_for "$tool" full "$dir"
        "${CMD[@]}" >/dev/null
        base_repodata[$dir]="$work/$tool-$n.repodata"
        rm -rf "${base_repodata[$dir]}"
        cp -a "$dir/repodata" "${base_repodata[$dir]}"
        read -r ut um < <(bench_case reset_update "$tool" update "$dir")
        name=$([ "$tool" = rpmbucket ] && echo "rpmbucket index" || echo "createrepo_c")
        rows+=("| $count | $name | $ft | $fm | $ut | $um |")
        echo "$count packages, $name: full ${ft}s ${fm}MB, update ${ut}s ${um}MB" >&2
    done
done

load_after=$(cut -d' ' -f1-3 /proc/loadavg)
cpu=$(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo)
ram=$(awk '/MemTotal/ {printf "%.1f GiB", $2 / 1048576}' /proc/meminfo)
crver=$(createrepo_c --version | head -1)
rbver=$("$RPMBUCKET_BIN" --version)
section="$work/section.md"
{
    echo "## \`rpmbucket index\` vs \`createrepo_c\`"
    echo
    echo "Generated by \`scripts/bench-index.sh ${sizes[*]}\` on $(date -u +%Y-%m-%d)."
    echo
    echo "* Machine: $(nproc) CPUs ($cpu), $ram RAM, $(uname -sr)"
    echo "* Tools: $rbver (release build); $crver"
    echo "* Packages: synthetic, from \`cargo run -p rpmbucket-tests --release --bin gen-rpms -- --count N --out DIR\`"
    echo "* Commands (both with \`--workers $workers\`, gzip XML + bz2 sqlite databases):"
    echo "  * full: \`rpmbucket index --workers $workers DIR\` / \`createrepo_c --database --workers $workers DIR\` (no repodata/ before)"
    echo "  * update: \`rpmbucket index --update --workers $workers DIR\` / \`createrepo_c --database --update --workers $workers DIR\`,"
    echo "    with DIR/repodata from the same tool's full run and one new package added"
    echo "* Wall time and peak RSS from \`/usr/bin/time -v\`, median of $runs runs after one untimed warm-up run (warm page cache)."
    echo "* The machine may be shared with other jobs: load average $load_before before, $load_after after the run; treat small differences as noise."
    echo
    echo "| packages | tool | full: wall s | full: peak RSS MB | update (+1 package): wall s | update: peak RSS MB |"
    echo "|---:|---|---:|---:|---:|---:|"
    printf '%s\n' "${rows[@]}"
} >"$section"
replace_section "$out" "$section"
echo "wrote $out" >&2
