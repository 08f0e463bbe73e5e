#!/usr/bin/env bash
# Benchmark `rpmbucket reconcile` of a moto bucket with many keys: peak RSS and wall time at
# several bucket sizes (peak RSS must not grow with the bucket: the listing is read a page at a
# time and repositories are done one at a time), and a run killed with SIGKILL halfway, then
# resumed from its cursor. Then ONE repository of many keys: its first reconcile publishes a
# checkpoint every --checkpoint packages, is killed once half of them are published, and the
# next run reads only the rest. Writes its section into BENCHMARKS.md. Not part of
# scripts/test.sh.
#
# Usage: scripts/bench-reconcile.sh [KEYS...]          (default: 20000 100000)
# Environment:
#   PER_REPO      package keys per repository (default 1000): KEYS/PER_REPO repositories
#   ONE_REPO      sizes (keys) of the one-repository case (default: 100000; "" skips it)
#   CHECKPOINT    its `--checkpoint` (default: 10000, the engine's default)
#   RPMBUCKET_BIN rpmbucket binary (default: built with `cargo build --release -p rpmbucket`)
#   GEN_RPMS      generator binary (default: the tests crate's gen-rpms, release)
#   BENCH_DIR     scratch directory (default: a new temporary directory, removed at the end)
#   OUT           report file (default: BENCHMARKS.md in the repository root)
#   RPMBUCKET_CACHE  where moto's venv is (scripts/test.sh installs it there)
#
# The packages are PER_REPO distinct small synthetic RPMs; every repository holds the same
# files under its own prefix (bucket/r00000/ ...), uploaded with 32 parallel PUTs.
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
sizes=("$@")
[ ${#sizes[@]} -gt 0 ] || sizes=(20000 100000)
per_repo="${PER_REPO:-1000}"
read -r -a one_sizes <<<"${ONE_REPO-100000}"
checkpoint="${CHECKPOINT:-10000}"
out="${OUT:-$root/BENCHMARKS.md}"
cache="${RPMBUCKET_CACHE:-$HOME/.cache/rpmbucket}"
venv="$cache/venv"
[ -x "$venv/bin/moto_server" ] || { echo "moto not installed in $venv (run scripts/test.sh once)" >&2; exit 1; }
[ -x /usr/bin/time ] || { echo "/usr/bin/time (GNU time) not found" >&2; exit 1; }

. "$root/scripts/lib/bench-section.sh"
bench_rpmbucket_bin
bench_workdir

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"$venv/bin/moto_server" -H 127.0.0.1 -p "$port" >"$work/moto.log" 2>&1 &
moto_pid=$!
trap 'kill $moto_pid 2>/dev/null; wait $moto_pid 2>/dev/null; [ -n "${BENCH_DIR:-}" ] || rm -rf "$work"' EXIT
export AWS_ENDPOINT_URL="http://127.0.0.1:$port" AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test
export AWS_REGION=us-east-1 AWS_DEFAULT_REGION=us-east-1 AWS_S3_FORCE_PATH_STYLE=1 AWS_EC2_METADATA_DISABLED=true
for _ in $(seq 100); do curl -fs -o /dev/null "$AWS_ENDPOINT_URL/" && break; sleep 0.1; done

gen --count "$per_repo" --out "$work/rpms" >/dev/null

# upload BUCKET REPOS DIR: every repository gets the packages of DIR (32 PUTs in flight).
upload() {
    "$venv/bin/python" - "$1" "$2" "$3" <<'PY'
import os, sys, boto3, concurrent.futures as cf
bucket, repos, d = sys.argv[1], int(sys.argv[2]), sys.argv[3]
s3 = boto3.client("s3", endpoint_url=os.environ["AWS_ENDPOINT_URL"])
s3.create_bucket(Bucket=bucket)
files = sorted(f for f in os.listdir(d) if f.endswith(".rpm"))
def put(job):
    r, f = job
    with open(os.path.join(d, f), "rb") as body:
        s3.put_object(Bucket=bucket, Key=f"r{r:05d}/{f}", Body=body.read())
with cf.ThreadPoolExecutor(32) as ex:
    for _ in ex.map(put, ((r, f) for r in range(repos) for f in files)):
        pass
PY
}

# cursor_done BUCKET: repositories the cursor says are done (0 when there is none).
cursor_done() {
    "$venv/bin/python" - "$1" <<'PY'
import json, os, sys, boto3
s3 = boto3.client("s3", endpoint_url=os.environ["AWS_ENDPOINT_URL"])
try:
    body = s3.get_object(Bucket=sys.argv[1], Key="rpmbucket-state/reconcile/cursor.json")["Body"].read()
    print(json.loads(body)["done"])
except s3.exceptions.NoSuchKey:
    print(0)
PY
}

# start NAME CMD...: runs CMD under GNU time in the background (stdout, stderr, time report in
# $work/NAME.*); sets time_pid (GNU time) and run_pid (CMD itself).
start() {
    local name=$1
    shift
    : >"$work/$name.trace"
    /usr/bin/time -v -o "$work/$name.time" "$@" >"$work/$name.out" 2>"$work/$name.err" &
    time_pid=$!
    run_pid=
    while [ -z "$run_pid" ] && kill -0 $time_pid 2>/dev/null; do
        run_pid=$(pgrep -P $time_pid || true)
    done
}
# progress NAME: how far the run is: repositories reported (the --json output has one line per
# repository), or with progress_unit=packages the packages its last checkpoint published (from
# the engine's log line "reconcile checkpoint published ... packages=N").
progress_unit=repositories
progress() {
    if [ "$progress_unit" = packages ]; then
        { sed 's/\x1b\[[0-9;]*m//g' "$work/$1.err" | grep -o 'reconcile checkpoint published.*packages=[0-9]*' || true; } |
            tail -1 | sed -E 's/.*packages=([0-9]+).*/\1/; s/^$/0/' | { read -r n || n=0; echo "${n:-0}"; }
    else
        wc -l <"$work/$1.out"
    fi
}
# sample NAME: appends "progress so far, peak RSS so far (KiB)" to $work/NAME.trace (VmHWM is
# the process's peak RSS until now).
sample() {
    local n hwm
    n=$(progress "$1")
    hwm=$(awk '/^VmHWM:/ {print $2}' "/proc/$run_pid/status" 2>/dev/null) || return 0
    [ -z "$hwm" ] || echo "$n $hwm" >>"$work/$1.trace"
}
# timed NAME CMD...: runs under GNU time, sampling its peak RSS as repositories are done; sets
# T (seconds) and M (peak RSS, MiB).
timed() {
    local name=$1
    shift
    start "$name" "$@"
    while kill -0 $time_pid 2>/dev/null; do
        sample "$name"
        sleep 0.2
    done
    wait $time_pid || { echo "$name failed" >&2; tail -20 "$work/$name.err" >&2; exit 1; }
    read_time "$work/$name.time"
}
# rss_curve NAME TOTAL: the peak RSS (MiB) the run had reached when its progress was 10 % and
# 50 % of TOTAL ("?" where no sample was taken after that point).
rss_curve() {
    local out=() n r
    for n in $(( ($2 + 9) / 10 )) $(( ($2 + 1) / 2 )); do
        r=$(awk -v n="$n" '$1 >= n {printf "%.0f", $2 / 1024; exit}' "$work/$1.trace")
        out+=("${r:-?}")
    done
    echo "10 %: ${out[0]}, 50 %: ${out[1]}"
}
read_time() {
    T=$(awk -F': ' '/Elapsed \(wall clock\)/ {n = split($2, p, ":"); s = 0;
        for (i = 1; i <= n; i++) s = s * 60 + p[i]; printf "%.1f", s}' "$1")
    M=$(awk -F': ' '/Maximum resident set size/ {printf "%.0f", $2 / 1024}' "$1")
}

write_section() {
    {
        echo "## reconcile: bounded memory and resume (scripts/bench-reconcile.sh)"
        echo
        echo "$(date -u +%Y-%m-%d), $(nproc) cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')), $(free -g | awk '/Mem:/ {print $2}') GiB RAM,"
        echo "shared machine (load average 1/5/15 min before → after each size in the table)."
        echo "moto $("$venv/bin/python" -c 'import importlib.metadata as m; print(m.version("moto"))') on 127.0.0.1; binary: \`$(basename "$(dirname "$RPMBUCKET_BIN")")\` build."
        echo "Command: \`scripts/bench-reconcile.sh ${sizes[*]}\` (PER_REPO=$per_repo), which runs"
        echo "\`rpmbucket reconcile s3://BUCKET --json\` three times per size under \`/usr/bin/time -v\`:"
        echo "the first reconcile (every package read, its payload checked) killed with SIGKILL once the cursor"
        echo "says half the repositories are done; the next run, which resumes after the cursor; then a full"
        echo "run over every repository with nothing to change. Peak RSS is GNU time's maximum resident set size;"
        echo "in brackets, the peak the process had reached (its VmHWM, sampled every 0.2 s) when 10 % and 50 %"
        echo "of that run's repositories were done: memory that grew with the bucket would keep rising along a"
        echo "run, memory bounded by the largest repository levels off after the first ones."
        echo
        echo "Many repositories (the cursor's unit is the repository):"
        echo
        echo "| keys | repositories × packages | upload (32 PUTs at once) | first run, killed: wall, peak RSS | resumed run: wall, peak RSS | full run: wall, peak RSS | load |"
        echo "|---|---|---|---|---|---|---|"
        printf '%s\n' "${rows[@]}"
        echo
        echo "Checked by the script: each resumed run reconciled exactly the repositories after the cursor"
        echo "(done at the kill + resumed = all), and the full run after it found every repository unchanged."
        if [ ${#one_rows[@]} -gt 0 ]; then
            echo
            echo "One repository (\`rpmbucket reconcile s3://BUCKET --checkpoint $checkpoint --json\` with"
            echo "\`RPMBUCKET_LOG=rpmbucket_engine=info\`): the first reconcile publishes a checkpoint every $checkpoint"
            echo "packages it read and is killed with SIGKILL once a checkpoint has published half of them; the"
            echo "next run reads only the packages no checkpoint published (its JSON report's hashed packages),"
            echo "then a full run with nothing to change. In brackets, the peak RSS the first run had reached when"
            echo "checkpoints had published 10 % and 50 % of the repository's packages."
            echo
            echo "| keys | upload (32 PUTs at once) | first run, killed: wall, peak RSS | resumed run: wall, packages read, peak RSS | full run: wall, peak RSS | load |"
            echo "|---|---|---|---|---|---|"
            printf '%s\n' "${one_rows[@]}"
            echo
            echo "Checked by the script: the killed run had published whole checkpoints; the resumed run read"
            echo "exactly the packages not published at the kill and its report lists every package; the full run"
            echo "changed nothing."
        fi
    } >"$work/section.md"
    replace_section "$out" "$work/section.md"
}

# drop_bucket BUCKET: delete it and its objects (frees moto's memory before the next size).
drop_bucket() {
    "$venv/bin/python" - "$1" <<'PY'
import os, sys, boto3
s3 = boto3.resource("s3", endpoint_url=os.environ["AWS_ENDPOINT_URL"])
b = s3.Bucket(sys.argv[1]); b.objects.all().delete(); b.delete()
PY
}

# kill_when NAME DONE_FN THRESHOLD CMD...: runs CMD as NAME (see `start`), sampling its RSS, and
# SIGKILLs it once `DONE_FN` prints a number >= THRESHOLD; sets kwall (seconds until the kill)
# and kill_rss (its peak RSS, MiB). Stops the script if CMD ends first.
kill_when() {
    local name=$1 done_fn=$2 threshold=$3 kstart
    shift 3
    kstart=$(date +%s.%N)
    start "$name" "$@"
    while [ "$("$done_fn")" -lt "$threshold" ]; do
        kill -0 $time_pid 2>/dev/null || { echo "$name ended before the kill point" >&2; tail -20 "$work/$name.err" >&2; exit 1; }
        sample "$name"
        sleep 0.2
    done
    sample "$name"
    kill -KILL "$run_pid"
    wait $time_pid || true
    kwall=$(python3 -c "import time; print(f'{time.time() - $kstart:.1f}')")
    read_time "$work/$name.time"
    kill_rss=$M
}

rows=() one_rows=()
for keys in "${sizes[@]}"; do
    repos=$((keys / per_repo))
    bucket="bench-reconcile-$keys"
    start=$SECONDS
    upload "$bucket" "$repos" "$work/rpms"
    up=$((SECONDS - start))
    load_before=$(cut -d' ' -f1-3 /proc/loadavg)
    cmd=("$RPMBUCKET_BIN" reconcile "s3://$bucket" --json)

    # 1. The first reconcile (every package read), killed with SIGKILL halfway.
    done_now() { cursor_done "$bucket"; }
    kill_when killed done_now $((repos / 2)) "${cmd[@]}"
    done_at_kill=$(cursor_done "$bucket")

    # 2. Resumed: only the repositories after the cursor.
    timed resumed "${cmd[@]}"
    res_t=$T res_m=$M
    resumed_repos=$(wc -l <"$work/resumed.out")
    grep -q "resuming an interrupted reconcile" "$work/resumed.err" ||
        { echo "the second run did not resume" >&2; cat "$work/resumed.err" >&2; exit 1; }
    [ $((done_at_kill + resumed_repos)) -eq "$repos" ] ||
        { echo "done $done_at_kill + resumed $resumed_repos != $repos repositories" >&2; exit 1; }

    # 3. A full reconcile of the whole bucket with nothing to change (the scheduled case).
    timed full "${cmd[@]}"
    full_t=$T full_m=$M
    changed=$(python3 -c 'import json,sys; print(sum(not json.loads(l)["unchanged"] for l in open(sys.argv[1])))' "$work/full.out")
    [ "$changed" -eq 0 ] || { echo "$changed repositories changed in the full run after the resume" >&2; exit 1; }
    full_repos=$(wc -l <"$work/full.out")
    load_after=$(cut -d' ' -f1-3 /proc/loadavg)

    rows+=("| $keys | $repos × $per_repo | ${up} s | killed after ${kwall} s at $done_at_kill/$repos done: ${kill_rss} MiB ($(rss_curve killed "$done_at_kill")) | $resumed_repos repositories: ${res_t} s, **${res_m} MiB** ($(rss_curve resumed "$resumed_repos")) | $full_repos repositories unchanged: ${full_t} s, **${full_m} MiB** ($(rss_curve full "$full_repos")) | $load_before → $load_after |")
    echo "${rows[-1]}"
    drop_bucket "$bucket" # frees moto's memory before the next size
    write_section # after each size, so a long run leaves the sizes it finished
done

progress_unit=packages
for keys in "${one_sizes[@]}"; do
    bucket="bench-reconcile-one-$keys"
    [ -d "$work/rpms-$keys" ] || gen --count "$keys" --out "$work/rpms-$keys" >/dev/null
    start=$SECONDS
    upload "$bucket" 1 "$work/rpms-$keys"
    up=$((SECONDS - start))
    load_before=$(cut -d' ' -f1-3 /proc/loadavg)
    cmd=("$RPMBUCKET_BIN" reconcile "s3://$bucket" --checkpoint "$checkpoint" --json)
    export RPMBUCKET_LOG=rpmbucket_engine=info

    # 1. The first reconcile, killed once its checkpoints have published half the packages.
    published_now() { progress killed; }
    kill_when killed published_now $((keys / 2)) "${cmd[@]}"
    kept=$(progress killed)
    [ $((kept % checkpoint)) -eq 0 ] || { echo "$kept packages published at the kill: not whole checkpoints" >&2; exit 1; }

    # 2. Resumed: reads only what no checkpoint published.
    timed resumed "${cmd[@]}"
    res_t=$T res_m=$M
    read -r read_pkgs total cps < <(python3 -c 'import json,sys
r = json.loads(open(sys.argv[1]).readline())
print(r["hashed_by_checksum"] + r["hashed_by_stream"], r["packages"], r["checkpoints"])' "$work/resumed.out")
    [ "$read_pkgs" -eq $((keys - kept)) ] ||
        { echo "the resumed run read $read_pkgs packages; $((keys - kept)) were not published" >&2; exit 1; }
    [ "$total" -eq "$keys" ] || { echo "the resumed run publishes $total packages, not $keys" >&2; exit 1; }

    # 3. A full reconcile with nothing to change.
    timed full "${cmd[@]}"
    full_t=$T full_m=$M
    python3 -c 'import json,sys; r = json.loads(open(sys.argv[1]).readline()); sys.exit(0 if r["unchanged"] else 1)' "$work/full.out" ||
        { echo "the full run after the resume changed the repository" >&2; exit 1; }
    load_after=$(cut -d' ' -f1-3 /proc/loadavg)
    unset RPMBUCKET_LOG

    one_rows+=("| $keys | ${up} s | killed after ${kwall} s with $kept/$keys published: ${kill_rss} MiB ($(rss_curve killed "$keys")) | ${res_t} s, read $read_pkgs in $cps checkpoints + the final publish, **${res_m} MiB** | ${full_t} s, **${full_m} MiB** | $load_before → $load_after |")
    echo "${one_rows[-1]}"
    drop_bucket "$bucket"
    write_section
done

echo "wrote the section into $out"
