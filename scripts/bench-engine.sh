#!/usr/bin/env bash
# Benchmark the engine's incremental publish: add 1 package to repositories of N packages,
# compared with `createrepo_c --update`, and write the results into BENCHMARKS.md (section
# between the bench-engine markers, replaced on each run).
#
# Usage: scripts/bench-engine.sh [SIZE...]            (default sizes: 1000 10000 100000)
# Environment:
#   RUNS        repetitions per measurement, the median wall time is reported (default: 3)
#   RUNS_LARGE  repetitions for sizes of 100,000 and more (default: 1; createrepo_c --update
#               takes minutes there)
#   BENCH_DIR   scratch directory (default: a new temporary directory, removed at the end)
#   GEN_RPMS    generator binary (default: `cargo run -p rpmbucket-tests --release --bin gen-rpms`)
#   OUT         report file (default: BENCHMARKS.md in the repository root)
#
# How: N synthetic packages are generated into a directory, which is used as a LocalStore. The
# engine's repository is built once with `reindex` (untimed; it reads every package), then one
# package is added and published with `apply` (timed). The engine's own counters give bytes read
# and requests by kind. createrepo_c works on a hard-linked copy of the same files: a full run
# (untimed), then the new package and `createrepo_c --update` (timed). Both write gzip XML;
# "db" rows add bz2 sqlite databases (createrepo_c 0.17's default).
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
sizes=("$@")
[ ${#sizes[@]} -gt 0 ] || sizes=(1000 10000 100000)
runs_small="${RUNS:-3}"
runs_large="${RUNS_LARGE:-1}"
out="${OUT:-$root/BENCHMARKS.md}"
workers=$(nproc)

command -v createrepo_c >/dev/null || { echo "createrepo_c not found" >&2; exit 1; }
[ -x /usr/bin/time ] || { echo "/usr/bin/time (GNU time) not found" >&2; exit 1; }
command -v jq >/dev/null || { echo "jq not found" >&2; exit 1; }

target="${CARGO_TARGET_DIR:-$root/target}"
(cd "$root" && cargo build --release -q -p rpmbucket-engine --example bench_engine)
engine="$target/release/examples/bench_engine"
. "$root/scripts/lib/bench-section.sh"
bench_workdir

# measure CMD... -> "seconds rss_kb" on stdout's last line; the command's stdout goes to $work/out.
measure() {
    /usr/bin/time -v -o "$work/time.log" "$@" >"$work/out" 2>"$work/cmd.err" || {
        echo "command failed: $*" >&2
        cat "$work/cmd.err" >&2
        exit 1
    }
    local wall rss
    wall=$(awk -F': ' '/Elapsed \(wall clock\)/ {print $2}' "$work/time.log")
    rss=$(awk -F': ' '/Maximum resident set size/ {print $2}' "$work/time.log")
    awk -v w="$wall" -v r="$rss" 'BEGIN {
        n = split(w, p, ":"); s = 0;
        for (i = 1; i <= n; i++) s = s * 60 + p[i];
        printf "%.2f %d\n", s, r }'
}
median() { sort -n | awk '{a[NR] = $1} END {print a[int((NR + 1) / 2)]}'; }

gen --count 1 --out "$work/newpkg" --seed 999 >/dev/null 2>&1
new_rpm="$(find "$work/newpkg" -name '*.rpm' | head -1)"
new_name="zz-new-package.rpm"

rows=()
for n in "${sizes[@]}"; do
    src="$work/src-$n"
    [ -d "$src" ] || gen --count "$n" --out "$src" >/dev/null 2>&1
    count=$(find "$src" -maxdepth 1 -name '*.rpm' | wc -l)
    runs=$runs_small
    [ "$n" -lt 100000 ] || runs=$runs_large

    for db in db nodb; do
        dbflag=(); crflag=(--database)
        if [ "$db" = nodb ]; then dbflag=(--no-database); crflag=(--no-database); fi

        # --- engine ---
        dir="$work/engine-$n-$db"
        rm -rf "$dir"; mkdir -p "$dir"; cp -al "$src"/. "$dir"/
        read -r rt rm_ < <(measure "$engine" "$dir" reindex "${dbflag[@]}")
        state=$(find "$dir/repodata" -name '*-rpmbucket-state.json.gz' -printf '%s\n' | sort -n | tail -1)
        times=()
        for _ in $(seq "$runs"); do
            rm -f "$dir/$new_name"
            "$engine" "$dir" apply "$new_name" "${dbflag[@]}" >/dev/null # removal, untimed
            cp --preserve=timestamps "$new_rpm" "$dir/$new_name"
            read -r t m < <(measure "$engine" "$dir" apply "$new_name" "${dbflag[@]}")
            times+=("$t")
        done
        et=$(printf '%s\n' "${times[@]}" | median)
        rep="$(tail -1 "$work/out")"
        bytes=$(jq '.bytes_read' <<<"$rep")
        reqs=$(jq -r '.requests | "HEAD \(.head), GET \(.get), range \(.get_range), stream \(.get_stream), PUT \(.put), DELETE \(.delete), LIST \(.list)"' <<<"$rep")
        rows+=("| $count | engine apply | $db | $et | $((m / 1024)) | $bytes | $reqs |")
        echo "$count $db engine: reindex ${rt}s ${rm_}KB; +1 ${et}s ${m}KB, read ${bytes} B; state file ${state} B; $reqs" >&2

        # --- createrepo_c ---
        dir="$work/cr-$n-$db"
        rm -rf "$dir"; mkdir -p "$dir"; cp -al "$src"/. "$dir"/
        createrepo_c --quiet "${crflag[@]}" --workers "$workers" "$dir" >/dev/null
        times=()
        for _ in $(seq "$runs"); do
            rm -f "$dir/$new_name"
            createrepo_c --quiet "${crflag[@]}" --update --workers "$workers" "$dir" >/dev/null
            cp --preserve=timestamps "$new_rpm" "$dir/$new_name"
            read -r t m < <(measure createrepo_c --quiet "${crflag[@]}" --update --workers "$workers" "$dir")
            times+=("$t")
        done
        ct=$(printf '%s\n' "${times[@]}" | median)
        rows+=("| $count | createrepo_c --update | $db | $ct | $((m / 1024)) | (local files) | stats every package, reads old XML |")
        echo "$count $db createrepo_c --update: ${ct}s ${m}KB" >&2
    done
done

cpu=$(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo)
section="$work/section.md"
{
    echo "## Engine: add 1 package to a repository (\`scripts/bench-engine.sh\`)"
    echo
    echo "Generated by \`scripts/bench-engine.sh ${sizes[*]}\` on $(date -u +%Y-%m-%d); $(nproc) CPUs ($cpu)."
    echo
    echo "* Store: a local directory (\`LocalStore\`), so request counts are what S3 would see, but"
    echo "  latency is local. The repository is first built by \`reindex\` (untimed); then one new"
    echo "  package is published by \`apply\` (timed, median of $runs_small runs; $runs_large at 100,000 and more). The local store has no stored"
    echo "  SHA-256, so the new package is streamed once (on S3 with a checksum: HEAD + 1 ranged GET)."
    echo "* createrepo_c 0.17.3 works on a hard-linked copy of the same files: full run (untimed), then"
    echo "  \`createrepo_c --update\` after adding the package (timed, same number of runs, \`--workers $workers\`)."
    echo "* XML is gzip for both; \`db\` = with bz2 sqlite databases, \`nodb\` = without."
    echo "* Bytes read = body bytes the engine fetched from the store: repomd.xml, the state index, the"
    echo "  chunk the new package goes into, the current XML (and databases), whose unchanged gzip"
    echo "  members (and bzip2 blocks) are copied; and the new package."
    echo
    echo "| packages | tool | sqlite | wall s | peak RSS MB | bytes read | requests |"
    echo "|---:|---|---|---:|---:|---:|---|"
    printf '%s\n' "${rows[@]}"
} >"$section"

replace_section "$out" "$section"
echo "wrote $out" >&2
