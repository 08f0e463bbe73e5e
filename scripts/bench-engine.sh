#!/usr/bin/env bash
# Benchmark the engine's incremental publish: add 1 package to repositories of N packages, in
# both profiles, compared with `createrepo_c --update`, and write the results into BENCHMARKS.md
# (its own section, replaced on each run).
#
# Usage: scripts/bench-engine.sh [SIZE...]            (default sizes: 10000 100000)
# Environment:
#   PROFILES    profiles to measure (default: "compat modern")
#   PARTS       what to measure (default: "engine createrepo"); rows are kept in BENCH_DIR, so
#               the two can run at different times and the section shows both
#   RUNS        repetitions per measurement, the median wall time is reported (default: 3)
#   RUNS_LARGE  repetitions for sizes of 100,000 and more (default: 1; createrepo_c --update
#               takes minutes there)
#   BENCH_DIR   scratch directory (default: a new temporary directory, removed at the end); a
#               BENCH_DIR/src-N directory that exists is used as the N packages (generated once)
#   BENCH_ENGINE  an already built `bench_engine` example (default: built here, release)
#   GEN_RPMS    generator binary (default: `cargo run -p rpmbucket-tests --release --bin gen-rpms`)
#   OUT         report file (default: BENCHMARKS.md in the repository root)
#
# Priorities: the untimed steps (generating, `reindex`, createrepo_c's full run, the removals
# between runs) run at `nice -n 19` (the machine is shared); the timed steps at the priority the
# script was started with.
#
# How: N synthetic packages are generated into a directory, which is used as a LocalStore. The
# engine's repository is built once with `reindex` (untimed; it reads every package), then one
# package is added and published with `apply` (timed). The engine's own counters give bytes read
# and written and requests by kind. createrepo_c works on a hard-linked copy of the same files: a
# full run (untimed), then the new package and `createrepo_c --update` (timed).
#
# Profiles: `compat` is gzip XML + bz2 sqlite databases (createrepo_c 0.x's default and
# `--database`); `modern` is zstd XML without databases (createrepo_c 1.x's default). The
# createrepo_c here is 0.x: if it cannot write zstd (`--general-compress-type zstd` is refused),
# its `modern` row is `--no-database` with gzip XML, and the section says so.
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
sizes=("$@")
[ ${#sizes[@]} -gt 0 ] || sizes=(10000 100000)
read -r -a profiles <<<"${PROFILES:-compat modern}"
parts=" ${PARTS:-engine createrepo} "
runs_small="${RUNS:-3}"
runs_large="${RUNS_LARGE:-1}"
out="${OUT:-$root/BENCHMARKS.md}"
workers=$(nproc)

command -v createrepo_c >/dev/null || { echo "createrepo_c not found" >&2; exit 1; }
[ -x /usr/bin/time ] || { echo "/usr/bin/time (GNU time) not found" >&2; exit 1; }
command -v jq >/dev/null || { echo "jq not found" >&2; exit 1; }

if [ -n "${BENCH_ENGINE:-}" ]; then
    engine="$BENCH_ENGINE"
elif [[ " $parts " == *" engine "* ]]; then
    target="${CARGO_TARGET_DIR:-$root/target}"
    (cd "$root" && cargo build --release -q -p rpmbucket-engine --example bench_engine)
    engine="$target/release/examples/bench_engine"
fi
. "$root/scripts/lib/bench-section.sh"
bench_workdir

[ -d "$work/newpkg" ] || gen --count 1 --out "$work/newpkg" --seed 999 >/dev/null 2>&1
new_rpm="$(find "$work/newpkg" -name '*.rpm' | head -1)"
new_name="zz-new-package.rpm"

cr_version="createrepo_c $(createrepo_c --version | head -1 | sed 's/^Version: //; s/ (.*//')"
# Can this createrepo_c write zstd? (0.x builds without it refuse the type.)
probe="$work/cr-zstd-probe"
rm -rf "$probe"; mkdir -p "$probe"
if createrepo_c --quiet --no-database --general-compress-type zstd "$probe" >/dev/null 2>&1; then
    cr_modern=(--no-database --general-compress-type zstd)
    cr_modern_note="\`createrepo_c --update --no-database --general-compress-type zstd\`"
else
    cr_modern=(--no-database)
    cr_modern_note="\`createrepo_c --update --no-database\` with gzip XML: this createrepo_c refuses \`--general-compress-type zstd\` (\"Unknown/Unsupported compression type\"), so its closest equivalent of the modern profile only drops the databases"
fi
rm -rf "$probe"

# Sum of the sizes of the files repomd.xml lists (the published metadata of a repository).
metadata_bytes() {
    python3 - "$1" <<'PY'
import os, re, sys
d = sys.argv[1]
md = open(os.path.join(d, "repodata", "repomd.xml"), encoding="utf-8").read()
total = 0
for t, href in re.findall(r'<data type="([^"]+)">.*?<location href="([^"]+)"', md, re.S):
    total += os.path.getsize(os.path.join(d, href))
print(total)
PY
}

for n in "${sizes[@]}"; do
    src="$work/src-$n"
    [ -d "$src" ] || (renice -n 19 -p $BASHPID >/dev/null; gen --count "$n" --out "$src" >/dev/null 2>&1)
    count=$(find "$src" -maxdepth 1 -name '*.rpm' | wc -l)
    runs=$runs_small
    [ "$n" -lt 100000 ] || runs=$runs_large

    for profile in "${profiles[@]}"; do
        case "$profile" in
            compat) eflag=(); crflag=(--database) ;;
            modern) eflag=(--no-database --compression zstd); crflag=("${cr_modern[@]}") ;;
            *) echo "unknown profile $profile" >&2; exit 2 ;;
        esac

        # --- engine ---
        if [[ " $parts " == *" engine "* ]]; then
            dir="$work/engine-$n-$profile"
            rm -rf "$dir"; mkdir -p "$dir"; cp -al "$src"/. "$dir"/
            read -r rt rm_ < <(measure nice -n 19 "$engine" "$dir" reindex "${eflag[@]}")
            state=$(find "$dir/repodata" -name '*-rpmbucket-state.json.gz' -printf '%s\n' | sort -n | tail -1)
            md=$(metadata_bytes "$dir")
            echo "| $count | $profile | $md | $state | ${rt} | $((rm_ / 1024)) |" >"$work/size-$n-$profile"
            # cold: a new process with nothing at hand (reads the current files back);
            # warm: the same with the local cache of what the previous publish wrote
            # (`--cache`, as a long-lived server or a warm Lambda has).
            for mode in cold warm; do
                cache="$work/cache-$n-$profile"
                rm -rf "$cache"
                cflag=()
                [ "$mode" = cold ] || cflag=(--cache "$cache")
                times=()
                for _ in $(seq "$runs"); do
                    rm -f "$dir/$new_name"
                    nice -n 19 "$engine" "$dir" apply "$new_name" "${eflag[@]}" "${cflag[@]}" >/dev/null # removal, untimed
                    cp --preserve=timestamps "$new_rpm" "$dir/$new_name"
                    read -r t m < <(measure "$engine" "$dir" apply "$new_name" "${eflag[@]}" "${cflag[@]}")
                    times+=("$t")
                done
                et=$(printf '%s\n' "${times[@]}" | median)
                rep="$(tail -1 "$work/out")"
                bytes=$(jq '.bytes_read' <<<"$rep")
                written=$(jq '.bytes_written' <<<"$rep")
                reqs=$(jq -r '.requests | "HEAD \(.head), GET \(.get), range \(.get_range), stream \(.get_stream), PUT \(.put), DELETE \(.delete), LIST \(.list)"' <<<"$rep")
                label="engine apply, $mode"
                [ "$mode" = cold ] || label="engine apply, warm cache ($(du -sm "$cache" | cut -f1) MiB)"
                echo "| $count | $label | $profile | $et | $((m / 1024)) | $bytes | $written | $reqs |" >"$work/row-$n-$profile-1-engine-$mode"
                echo "$count $profile engine $mode: reindex ${rt}s ${rm_}KB; +1 ${et}s ${m}KB, read ${bytes} B, written ${written} B; metadata ${md} B; state index ${state} B; $reqs" >&2
                rm -rf "$cache"
            done
        fi

        # --- createrepo_c ---
        if [[ " $parts " == *" createrepo "* ]]; then
            dir="$work/cr-$n-$profile"
            rm -rf "$dir"; mkdir -p "$dir"; cp -al "$src"/. "$dir"/
            nice -n 19 createrepo_c --quiet "${crflag[@]}" --workers "$workers" "$dir" >/dev/null
            times=()
            for _ in $(seq "$runs"); do
                rm -f "$dir/$new_name"
                nice -n 19 createrepo_c --quiet "${crflag[@]}" --update --workers "$workers" "$dir" >/dev/null
                cp --preserve=timestamps "$new_rpm" "$dir/$new_name"
                read -r t m < <(measure createrepo_c --quiet "${crflag[@]}" --update --workers "$workers" "$dir")
                times+=("$t")
            done
            ct=$(printf '%s\n' "${times[@]}" | median)
            crmd=$(metadata_bytes "$dir")
            echo "| $count | createrepo_c --update | $profile | $ct | $((m / 1024)) | (local files) | $crmd (rewrites all) | stats every package, reads old XML |" >"$work/row-$n-$profile-2-createrepo"
            echo "$count $profile createrepo_c --update: ${ct}s ${m}KB; metadata ${crmd} B" >&2
            rm -rf "$dir"
        fi
    done
done

# Rows of both parts, from this run or an earlier one in the same BENCH_DIR.
rows=()
sizes_rows=()
missing=()
for n in "${sizes[@]}"; do
    for profile in "${profiles[@]}"; do
        for f in "$work/row-$n-$profile-1-engine-cold" "$work/row-$n-$profile-1-engine-warm" "$work/row-$n-$profile-2-createrepo"; do
            if [ -f "$f" ]; then
                rows+=("$(cat "$f")")
            else
                missing+=("$(basename "$f" | sed -E 's/^row-([0-9]+)-([a-z]+)-[0-9]-(.*)$/\3 at \1, \2/')")
            fi
        done
        [ -f "$work/size-$n-$profile" ] && sizes_rows+=("$(cat "$work/size-$n-$profile")")
    done
done

cpu=$(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo)
mem=$(awk '/MemTotal/ {printf "%.1f GiB", $2 / 1048576}' /proc/meminfo)
section="$work/section.md"
{
    echo "## Engine: add 1 package to a repository, both profiles (\`scripts/bench-engine.sh\`)"
    echo
    echo "Generated by \`scripts/bench-engine.sh ${sizes[*]}\` on $(date -u +%Y-%m-%d)."
    echo
    echo "* Machine: $(nproc) CPUs ($cpu), $mem RAM, Linux $(uname -r); load average $(cut -d' ' -f1-3 /proc/loadavg) at the end (shared machine)."
    echo "* Engine: \`bench_engine DIR apply zz-new-package.rpm [OPTIONS]\` (\`cargo build --release -p rpmbucket-engine --example bench_engine\`),"
    echo "  \`compat\` = gzip XML + bz2 sqlite databases (no options), \`modern\` = zstd XML, no databases"
    echo "  (\`--no-database --compression zstd\`). Store: a local directory (\`LocalStore\`), so request"
    echo "  counts and bytes are what S3 would see, but latency is local. The repository is first built"
    echo "  by \`reindex\` (untimed); then one new package is published by \`apply\` (timed, median of"
    echo "  $runs_small runs; $runs_large at 100,000 and more). The local store has no stored SHA-256, so the new package"
    echo "  (about $(stat -c %s "$new_rpm") bytes) is streamed once (on S3 with a checksum: HEAD + 1 ranged GET)."
    echo "* $cr_version on a hard-linked copy of the same files: full run (untimed), then"
    echo "  \`createrepo_c --update --workers $workers\` after adding the package (timed, same number of runs);"
    echo "  compat: \`--database\`; modern: $cr_modern_note."
    echo "* \`cold\`: a new process with nothing at hand, which reads the current metadata files back from the"
    echo "  store; \`warm cache\`: the same process with \`--cache DIR\` (\`IndexerOptions::cache\`), the local"
    echo "  cache of the files the previous publish wrote (filled by the untimed publish before), as a"
    echo "  long-lived \`serve\` or a warm Lambda keeps it; its size is given."
    echo "* Wall time and peak RSS from \`/usr/bin/time -v\`. Bytes read / written = body bytes the engine"
    echo "  fetched from / sent to the store. Untimed steps ran at \`nice -n 19\`, timed ones at normal priority."
    echo
    echo "| packages | tool | profile | wall s | peak RSS MiB | bytes read | bytes written | requests |"
    echo "|---:|---|---|---:|---:|---:|---:|---|"
    printf '%s\n' "${rows[@]}"
    if [ ${#missing[@]} -gt 0 ]; then
        echo
        echo "Not measured in this run (PARTS): $(IFS=';'; echo "${missing[*]}" | sed 's/;/; /g')."
    fi
    echo
    echo "Size of what the engine published (the files \`repomd.xml\` lists), its state index, and the untimed \`reindex\`:"
    echo
    echo "| packages | profile | metadata bytes | state index bytes | reindex s | reindex peak RSS MiB |"
    echo "|---:|---|---:|---:|---:|---:|"
    printf '%s\n' "${sizes_rows[@]}"
} >"$section"

replace_section "$out" "$section"
echo "wrote $out" >&2
