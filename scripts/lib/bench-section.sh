# Shared by the bench scripts (sourced): BENCHMARKS.md section writer, generator, the rpmbucket
# binary, work dir, timing.
#   replace_section FILE SECTION_FILE
# The section is identified by its first line (a `## ` heading); it runs until the next `## `
# heading or the end of the file. A missing file gets a `# Benchmarks` title; a missing section is
# appended.
replace_section() {
    python3 - "$1" "$2" <<'PY'
import os, sys
path, section_path = sys.argv[1], sys.argv[2]
section = open(section_path, encoding="utf-8").read().strip("\n") + "\n"
heading = section.splitlines()[0]
assert heading.startswith("## "), "a section starts with a '## ' heading"
text = open(path, encoding="utf-8").read() if os.path.exists(path) else "# Benchmarks\n"
lines, out, i, done = text.splitlines(), [], 0, False
while i < len(lines):
    if lines[i] == heading and not done:
        i += 1
        while i < len(lines) and not lines[i].startswith("## "):
            i += 1
        out.extend(section.rstrip("\n").splitlines() + [""])
        done = True
        continue
    out.append(lines[i])
    i += 1
if not done:
    while out and out[-1] == "":
        out.pop()
    out.extend([""] + section.rstrip("\n").splitlines())
open(path + ".tmp", "w", encoding="utf-8").write("\n".join(out).rstrip("\n") + "\n")
os.replace(path + ".tmp", path)
PY
}

# The synthetic-package generator: $GEN_RPMS if set, else the tests crate's gen-rpms (release).
# Needs $root (the repository root).
gen() {
    if [ -n "${GEN_RPMS:-}" ]; then
        "$GEN_RPMS" "$@"
    else
        (cd "$root" && cargo run -q -p rpmbucket-tests --release --bin gen-rpms -- "$@")
    fi
}

# Sets $RPMBUCKET_BIN: as given, else the release `rpmbucket` built here (`cargo build --release
# -p rpmbucket`, in $CARGO_TARGET_DIR). Needs $root (the repository root).
bench_rpmbucket_bin() {
    if [ -z "${RPMBUCKET_BIN:-}" ]; then
        (cd "$root" && cargo build --release -q -p rpmbucket)
        RPMBUCKET_BIN="${CARGO_TARGET_DIR:-$root/target}/release/rpmbucket"
    fi
}

# build_of BIN: what built BIN, for the report: "release build" or "debug build" (from the
# cargo profile directory it lies in), else "prebuilt binary".
build_of() {
    case "$(basename "$(dirname "$1")")" in
        release | debug) echo "$(basename "$(dirname "$1")") build" ;;
        *) echo "prebuilt binary" ;;
    esac
}

# createrepo_c_version: "createrepo_c X.Y.Z" of the installed createrepo_c.
createrepo_c_version() {
    echo "createrepo_c $(createrepo_c --version | head -1 | sed 's/^Version: //; s/ (.*//')"
}

# Sets $work: $BENCH_DIR if set (kept), else a temporary directory removed on exit.
bench_workdir() {
    if [ -n "${BENCH_DIR:-}" ]; then
        work="$BENCH_DIR"
        mkdir -p "$work"
    else
        work="$(mktemp -d)"
        trap 'rm -rf "$work"' EXIT
    fi
}

# measure CMD... -> "seconds rss_kb" (GNU time: wall clock and peak RSS) on stdout. The command's
# stdout goes to $work/out, its stderr to $work/cmd.err (shown if it fails, which stops the run).
measure() {
    /usr/bin/time -v -o "$work/time.log" "$@" >"$work/out" 2>"$work/cmd.err" || {
        echo "command failed: $*" >&2
        cat "$work/cmd.err" >&2
        exit 1
    }
    local wall rss
    wall=$(awk -F': ' '/Elapsed \(wall clock\)/ {print $2}' "$work/time.log")
    rss=$(awk -F': ' '/Maximum resident set size/ {print $2}' "$work/time.log")
    # wall is [h:]m:ss.ss
    awk -v w="$wall" -v r="$rss" 'BEGIN {
        n = split(w, p, ":"); s = 0;
        for (i = 1; i <= n; i++) s = s * 60 + p[i];
        printf "%.2f %d\n", s, r }'
}

# cpu_of_last: user + system CPU seconds of the last `measure` (from GNU time's report).
cpu_of_last() {
    awk -F': ' '/User time \(seconds\)/ {u = $2} /System time \(seconds\)/ {s = $2}
        END {printf "%.2f\n", u + s}' "$work/time.log"
}

# load1: the 1-minute load average now.
load1() { cut -d' ' -f1 /proc/loadavg; }

# median: the median of the numbers on stdin, one per line.
median() { sort -n | awk '{a[NR] = $1} END {print a[int((NR + 1) / 2)]}'; }

# median_run: the run whose wall time is the median: reads "seconds run" lines (one per run)
# and prints that run's number, so that its other figures (peak RSS, bytes, requests) are
# reported with the median time instead of the last run's.
median_run() { sort -n -k1,1 | awk '{a[NR] = $2} END {print a[int((NR + 1) / 2)]}'; }

# The server under test: `start_serve LEVEL BIN LOG ARGS...` runs `BIN serve ARGS...` on a free
# 127.0.0.1 port with RPMBUCKET_LOG=LEVEL and its stderr in LOG, sets $serve_pid and
# $base (http://127.0.0.1:PORT), and waits until it answers (at most 30 s); if it exits or never
# answers, its log is shown and the script stops. `stop_serve` (for the EXIT trap) stops it.
serve_pid=
start_serve() {
    local level=$1 bin=$2 log=$3 port
    shift 3
    port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
    base="http://127.0.0.1:$port"
    RPMBUCKET_LOG=$level "$bin" serve --listen "127.0.0.1:$port" "$@" 2>"$log" &
    serve_pid=$!
    for _ in $(seq 300); do
        curl -s --noproxy '*' -o /dev/null --max-time 2 "$base/" && return 0
        kill -0 "$serve_pid" 2>/dev/null || { cat "$log" >&2; echo "rpmbucket serve exited" >&2; exit 1; }
        sleep 0.1
    done
    echo "rpmbucket serve did not answer within 30 s" >&2
    exit 1
}
stop_serve() {
    if [ -n "$serve_pid" ]; then
        kill "$serve_pid" 2>/dev/null || true
        wait "$serve_pid" 2>/dev/null || true
    fi
}
