#!/usr/bin/env bash
# Benchmark the engine's incremental publish: add 1 package to repositories of N packages, in
# both profiles, compared with `createrepo_c --update`, and write the results into BENCHMARKS.md:
# two sections, replaced on each run: the measured rows, and what they show against the issue's
# targets and createrepo_c (scripts/lib/bench-engine-summary.py computes every figure of it from
# the rows; nothing in either section is typed by hand).
#
# Usage: scripts/bench-engine.sh [SIZE...]            (default sizes: 10000 100000)
# Environment:
#   STEPS       "prepare timed" (default), or one of them: `prepare` does the slow untimed work
#               (generating packages, `reindex`, createrepo_c's full run, filling the metadata
#               cache) and keeps it in BENCH_DIR; `timed` runs only the timed adds on what is
#               prepared there (preparing first what is missing), so they can be re-run alone in
#               a quiet minute: `BENCH_DIR=DIR STEPS=timed scripts/bench-engine.sh 10000 100000`;
#               `report` only writes the sections from the rows kept in BENCH_DIR (it builds
#               and measures nothing)
#   PROFILES    profiles to measure (default: "compat modern")
#   PARTS       what to measure (default: "engine createrepo"); rows are kept in BENCH_DIR, so
#               the two can run at different times and the section shows both
#   POSITIONS   where the engine's new package goes (default: "end middle": a name that sorts
#               after every package, and one that sorts among them, in the middle)
#   CR_VARIANTS createrepo_c runs (default: "update skip-stat": `--update`, and `--update
#               --skip-stat`, which does not stat the packages the old metadata lists)
#   RUNS        repetitions per measurement, the median wall time is reported (default: 3)
#   RUNS_LARGE  repetitions for sizes of 100,000 and more (default: 1; createrepo_c --update
#               takes minutes there)
#   BENCH_DIR   scratch directory (default: a new temporary directory, removed at the end); what
#               is prepared in it is reused: src-N (the N packages), engine-N-PROFILE and
#               cache-N-PROFILE (the engine's repository and its metadata cache), cr-N-PROFILE
#               (createrepo_c's), newpkgs (the packages added by the timed steps)
#   BENCH_ENGINE  an already built `bench_engine` example (default: built here, release)
#   GEN_RPMS    generator binary (default: `cargo run -p rpmbucket-tests --release --bin gen-rpms`)
#   OUT         report file (default: BENCHMARKS.md in the repository root)
#
# Priorities: the untimed steps run at `nice -n 19` (the machine is shared); the timed steps at
# the priority the script was started with. Every timed step records its wall time, its CPU
# time (user + system: what the machine's other work does not inflate) and the 1-minute load
# average when it started.
#
# How: N synthetic packages are generated into a directory, which is used as a LocalStore. The
# engine's repository is built once with `reindex` (untimed; it reads every package), then each
# timed step adds one more package (a new one each time, from `newpkgs`) and publishes it with
# `apply`. The engine's own counters give bytes read and written and requests by kind; the files
# the publish replaced are deleted by a later publish, once the grace period has passed: they
# are counted ("deletes deferred") from the state's garbage list. createrepo_c works on a
# hard-linked copy of the same files: a full run (untimed), then each timed step adds one new
# package and runs `createrepo_c --update`.
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
read -r -a positions <<<"${POSITIONS:-end middle}"
read -r -a cr_variants <<<"${CR_VARIANTS:-update skip-stat}"
steps=" ${STEPS:-prepare timed} "
parts=" ${PARTS:-engine createrepo} "
runs_small="${RUNS:-3}"
runs_large="${RUNS_LARGE:-1}"
out="${OUT:-$root/BENCHMARKS.md}"
workers=$(nproc)
timed=false
[[ "$steps" == *" timed "* ]] && timed=true
report_only=false
[ "$steps" = " report " ] && report_only=true

command -v createrepo_c >/dev/null || { echo "createrepo_c not found" >&2; exit 1; }
[ -x /usr/bin/time ] || { echo "/usr/bin/time (GNU time) not found" >&2; exit 1; }
command -v jq >/dev/null || { echo "jq not found" >&2; exit 1; }

if [ -n "${BENCH_ENGINE:-}" ]; then
    engine="$BENCH_ENGINE"
elif [[ "$parts" == *" engine "* ]] && ! $report_only; then
    target="${CARGO_TARGET_DIR:-$root/target}"
    (cd "$root" && nice -n 19 cargo build --release -q -p rpmbucket-engine --example bench_engine)
    engine="$target/release/examples/bench_engine"
fi
. "$root/scripts/lib/bench-section.sh"
bench_workdir

# The packages the timed steps add: each step adds one that is not in the repository yet.
if $report_only && [ ! -d "$work/newpkgs" ]; then
    echo "$work has no newpkgs: nothing was measured there" >&2
    exit 1
fi
[ -d "$work/newpkgs" ] || (renice -n 19 -p $BASHPID >/dev/null; gen --count 200 --out "$work/newpkgs" --seed 999 >/dev/null 2>&1)
mapfile -t new_pkgs < <(find "$work/newpkgs" -name '*.rpm' | sort)
new_size=$(stat -c %s "${new_pkgs[0]}")

# next_new DIR POSITION: copy the next unused new package into DIR under a name that sorts at
# POSITION (end: after every `synth-*` package; middle: among them), print that name.
next_new() {
    local dir=$1 pos=$2 i name
    for i in "${!new_pkgs[@]}"; do
        local end mid
        end=$(printf 'zz-new-%03d.rpm' "$i")
        mid=$(printf 'synth-magma-0-new-%03d.rpm' "$i")
        if [ ! -e "$dir/$end" ] && [ ! -e "$dir/$mid" ]; then
            name=$end
            [ "$pos" = end ] || name=$mid
            cp --preserve=timestamps "${new_pkgs[$i]}" "$dir/$name"
            echo "$name"
            return
        fi
    done
    echo "every package of $work/newpkgs is in $dir already (remove its zz-new-* and synth-magma-0-new-* files)" >&2
    exit 1
}

cr_version=$(createrepo_c_version)
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

# The files the engine's state lists as garbage (replaced, to be deleted after the grace period).
garbage() {
    python3 - "$1" <<'PY'
import gzip, json, os, re, sys
d = sys.argv[1]
md = open(os.path.join(d, "repodata", "repomd.xml"), encoding="utf-8").read()
m = re.search(r'<data type="rpmbucket-state">.*?<location href="([^"]+)"', md, re.S)
for g in json.load(gzip.open(os.path.join(d, m.group(1)))).get("garbage", []):
    print(g["href"])
PY
}

$report_only && sizes_to_run=() || sizes_to_run=("${sizes[@]}")
for n in "${sizes_to_run[@]}"; do
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
        if [[ "$parts" == *" engine "* ]]; then
            dir="$work/engine-$n-$profile"
            cache="$work/cache-$n-$profile"
            # An untimed add with the cache, so that it holds what is published.
            fill_cache() {
                nice -n 19 "$engine" "$dir" apply "$(next_new "$dir" end)" "${eflag[@]}" --cache "$cache" >/dev/null
                echo warm >"$dir/.last-mode"
            }
            if [ ! -f "$dir/.prepared" ]; then
                rm -rf "$dir" "$cache"; mkdir -p "$dir"; cp -al "$src"/. "$dir"/
                read -r rt rm_ < <(measure nice -n 19 "$engine" "$dir" reindex "${eflag[@]}")
                state=$(find "$dir/repodata" -name '*-rpmbucket-state.json.gz' -printf '%s\n' | sort -n | tail -1)
                md=$(metadata_bytes "$dir")
                echo "| $count | $profile | $md | $state | ${rt} | $((rm_ / 1024)) |" >"$work/size-$n-$profile"
                fill_cache
                touch "$dir/.prepared"
                echo "prepared $dir: reindex ${rt}s ${rm_}KB; metadata ${md} B" >&2
            fi
            # warm: with the local cache of what the previous publish wrote (`--cache`, as a
            # long-lived server or a warm Lambda has); cold: a new process without it, which
            # reads the current files back from the store.
            for mode in warm cold; do
                $timed || break
                for pos in "${positions[@]}"; do
                    cflag=()
                    [ "$mode" = cold ] || cflag=(--cache "$cache")
                    times=(); cpus=(); loads=(); rss=(); reports=(); deferreds=()
                    for i in $(seq "$runs"); do
                        # The previous publish did not fill the cache: fill it, untimed.
                        if [ "$mode" = warm ] && [ "$(cat "$dir/.last-mode" 2>/dev/null)" != warm ]; then
                            fill_cache
                        fi
                        key=$(next_new "$dir" "$pos")
                        garbage "$dir" | sort >"$work/garbage-before"
                        loads+=("$(load1)")
                        read -r t m < <(measure "$engine" "$dir" apply "$key" "${eflag[@]}" "${cflag[@]}")
                        cpus+=("$(cpu_of_last)")
                        times+=("$t $i")
                        rss[i]=$m
                        reports[i]="$(tail -1 "$work/out")"
                        echo "$mode" >"$dir/.last-mode"
                        deferreds[i]=$(garbage "$dir" | sort | comm -13 "$work/garbage-before" - | wc -l)
                    done
                    # Wall time, peak RSS, bytes, requests and deferred deletes: of the median run.
                    mi=$(printf '%s\n' "${times[@]}" | median_run)
                    et=$(printf '%s\n' "${times[@]}" | median)
                    ec=$(printf '%s\n' "${cpus[@]}" | median)
                    el=$(printf '%s\n' "${loads[@]}" | sort -n | sed -n '1p;$p' | uniq | paste -sd '-' | sed 's/-/–/')
                    m=${rss[mi]} rep=${reports[mi]} deferred=${deferreds[mi]}
                    pkgs=$(jq '.packages' <<<"$rep")
                    bytes=$(jq '.bytes_read' <<<"$rep")
                    written=$(jq '.bytes_written' <<<"$rep")
                    reqs=$(jq -r '.requests | "HEAD \(.head), GET \(.get), stream \(.get_stream), PUT \(.put), DELETE \(.delete), LIST \(.list)"' <<<"$rep")
                    label="engine apply, no local cache, at the $pos"
                    [ "$mode" = cold ] || label="engine apply, metadata cache ($(du -sm "$cache" | cut -f1) MiB), at the $pos"
                    echo "| $pkgs | $label | $profile | $et | $ec | $el | $((m / 1024)) | $bytes | $written | $reqs; $deferred deferred |" >"$work/r-$n-$profile-1-engine-$mode-$pos"
                    echo "$pkgs $profile engine $mode $pos: ${et}s wall, ${ec}s CPU, load $el, ${m}KB, read ${bytes} B, written ${written} B; $reqs; $deferred deferred" >&2
                done
            done
        fi

        # --- createrepo_c ---
        if [[ "$parts" == *" createrepo "* ]]; then
            dir="$work/cr-$n-$profile"
            if [ ! -f "$dir/.prepared" ]; then
                rm -rf "$dir"; mkdir -p "$dir"; cp -al "$src"/. "$dir"/
                nice -n 19 createrepo_c --quiet "${crflag[@]}" --workers "$workers" "$dir" >/dev/null
                touch "$dir/.prepared"
                echo "prepared $dir" >&2
            fi
            for variant in "${cr_variants[@]}"; do
                $timed || break
                case "$variant" in
                    update) vflag=(--update) ;;
                    skip-stat) vflag=(--update --skip-stat) ;;
                    *) echo "unknown createrepo_c variant $variant" >&2; exit 2 ;;
                esac
                times=(); cpus=(); loads=(); rss=()
                for i in $(seq "$runs"); do
                    next_new "$dir" end >/dev/null
                    loads+=("$(load1)")
                    read -r t m < <(measure createrepo_c --quiet "${crflag[@]}" "${vflag[@]}" --workers "$workers" "$dir")
                    cpus+=("$(cpu_of_last)")
                    times+=("$t $i")
                    rss[i]=$m
                done
                # Peak RSS of the median run.
                m=${rss[$(printf '%s\n' "${times[@]}" | median_run)]}
                ct=$(printf '%s\n' "${times[@]}" | median)
                cc=$(printf '%s\n' "${cpus[@]}" | median)
                cl=$(printf '%s\n' "${loads[@]}" | sort -n | sed -n '1p;$p' | uniq | paste -sd '-' | sed 's/-/–/')
                crmd=$(metadata_bytes "$dir")
                pkgs=$(find "$dir" -maxdepth 1 -name '*.rpm' | wc -l)
                what="stats every package, reads old XML"
                [ "$variant" = update ] || what="lists the directory, reads old XML, stats only new files"
                echo "| $pkgs | createrepo_c ${vflag[*]} | $profile | $ct | $cc | $cl | $((m / 1024)) | (local files) | $crmd (rewrites all) | $what |" >"$work/r-$n-$profile-2-cr-$variant"
                echo "$pkgs $profile createrepo_c ${vflag[*]}: ${ct}s wall, ${cc}s CPU, load $cl, ${m}KB; metadata ${crmd} B" >&2
            done
        fi
    done
done
$timed || $report_only || { echo "prepared in $work (STEPS=timed runs the timed steps)" >&2; exit 0; }
# When the timed steps ended (date, load average), for the report, which may run later.
$timed && echo "$(date -u +%Y-%m-%d) $(cut -d' ' -f1-3 /proc/loadavg)" >"$work/timed-end"

# Rows of both parts, from this run or an earlier one in the same BENCH_DIR.
rows=()
sizes_rows=()
missing=()
for n in "${sizes[@]}"; do
    for profile in "${profiles[@]}"; do
        files=()
        for mode in warm cold; do
            for pos in "${positions[@]}"; do files+=("$work/r-$n-$profile-1-engine-$mode-$pos"); done
        done
        for variant in "${cr_variants[@]}"; do files+=("$work/r-$n-$profile-2-cr-$variant"); done
        for f in "${files[@]}"; do
            if [ -f "$f" ]; then
                rows+=("$(cat "$f")")
            else
                missing+=("$(basename "$f" | sed -E 's/^r-([0-9]+)-([a-z]+)-[0-9]-(.*)$/\3 at \1, \2/')")
            fi
        done
        [ -f "$work/size-$n-$profile" ] && sizes_rows+=("$(cat "$work/size-$n-$profile")")
    done
done

# The date and load at the end of the timed steps; rows kept from before that was recorded:
# the date of the newest row, and no load.
if [ -f "$work/timed-end" ]; then
    read -r run_date end_load <"$work/timed-end"
    end_load="; load average $end_load at the end"
else
    run_date=$(find "$work" -maxdepth 1 -name 'r-*' -printf '%TY-%Tm-%Td\n' | sort | tail -1)
    end_load=
fi
cpu=$(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo)
mem=$(awk '/MemTotal/ {printf "%.1f GiB", $2 / 1048576}' /proc/meminfo)
section="$work/section.md"
{
    echo "## Engine: add 1 package to a repository, both profiles (\`scripts/bench-engine.sh\`)"
    echo
    echo "Generated by \`scripts/bench-engine.sh ${sizes[*]}\` on $run_date (rows kept from earlier runs in the same \`BENCH_DIR\` keep their figures)."
    echo
    echo "* Machine: $(nproc) CPUs ($cpu), $mem RAM, Linux $(uname -r)$end_load. The machine is shared: **wall** times"
    echo "  grow with the load of other work; **CPU s** (user + system of the timed process) does not, and"
    echo "  **load** is the 1-minute load average when each timed step started (a range over the runs)."
    echo "* Engine: \`bench_engine DIR apply KEY [OPTIONS]\` (\`cargo build --release -p rpmbucket-engine --example bench_engine\`),"
    echo "  \`compat\` = gzip XML + bz2 sqlite databases (no options), \`modern\` = zstd XML, no databases"
    echo "  (\`--no-database --compression zstd\`); its render and compression threads: one per CPU ($(nproc)). Store: a local directory"
    echo "  (\`LocalStore\`), so request counts and bytes are what S3 would see, but latency is local. The"
    echo "  repository is built by \`reindex\` (untimed); then each timed step adds one new package (about $new_size bytes)"
    echo "  and publishes it with \`apply\`; median of $runs_small runs ($runs_large at 100,000 and more); peak RSS, bytes,"
    echo "  requests and deferred deletes are those of the run with the median wall time. **at the end**:"
    echo "  the new file name sorts after every package; **at the middle**: among them (its chunk is in the middle of"
    echo "  the XML). The local store has no stored SHA-256, so the new package is streamed once (on S3 with a"
    echo "  checksum: HEAD + 1 ranged GET)."
    echo "* **metadata cache**: the engine with \`--cache DIR\` (\`IndexerOptions::cache\`, \`RPMBUCKET_METADATA_CACHE\`):"
    echo "  the local copy of the files the previous publish wrote (filled by an untimed publish before), as a"
    echo "  long-lived \`serve\` or a warm Lambda keeps it; its size is given. **no local cache**: a new process"
    echo "  without it, which reads the current metadata files back from the store. Neither is a cold machine:"
    echo "  the store's files are in the OS page cache in both."
    echo "* **deferred**: the files the publish replaced (the previous generation's changed metadata files and"
    echo "  chunks): a publish does not delete them, a later one does once the grace period has passed (one"
    echo "  DELETE each then), from the state's garbage list."
    echo "* $cr_version on a hard-linked copy of the same files: full run (untimed), then each timed step adds"
    echo "  one new package and runs \`createrepo_c --update --workers $workers\` (\`--workers\`: threads reading"
    echo "  packages, besides its main thread; the CPU column is the total), and \`--update --skip-stat\`"
    echo "  (packages the old metadata lists are not stat'ed); compat: \`--database\`; modern: $cr_modern_note."
    echo "  createrepo_c rewrites every file whatever the new package's name, so it is measured at the end only."
    echo "  \`--pkglist\` does not apply: it restricts which of the directory's files go in, and \`--update\` still"
    echo "  reads the old metadata and writes every file."
    echo "* Wall time, CPU time and peak RSS from \`/usr/bin/time -v\`. Bytes read / written = body bytes the engine"
    echo "  fetched from / sent to the store. Untimed steps ran at \`nice -n 19\`, timed ones at normal priority."
    echo
    echo "| packages | tool | profile | wall s | CPU s | load | peak RSS MiB | bytes read | bytes written | requests |"
    echo "|---:|---|---|---:|---:|---:|---:|---:|---:|---|"
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
# What the figures show, computed from the same rows.
python3 "$root/scripts/lib/bench-engine-summary.py" "$work" "${sizes[*]}" "${profiles[*]}" \
    "${positions[*]}" "${cr_variants[*]}" "$(nproc)" >"$work/summary.md"
replace_section "$out" "$work/summary.md"
echo "wrote $out" >&2
