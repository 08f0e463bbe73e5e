#!/usr/bin/env python3
"""Cold start and handler times of a function binary under the Lambda Runtime API emulator
(scripts/lib/lambda_runtime_api.py, the one scripts/rehearse.py uses).

Starts the binary with AWS_LAMBDA_RUNTIME_API pointing at a loopback server, measures the cold
start (process spawn -> first `GET /runtime/invocation/next`), then hands it each event file in
turn and measures the handler time (event delivered -> response or error posted). Prints one
JSON document. Standard library only.

usage: runtime_api.py [--runs N] BINARY EVENT.json [EVENT.json ...]
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "scripts", "lib"))
from lambda_runtime_api import RuntimeAPI  # noqa: E402 - the emulator scripts/rehearse.py uses too

FUNCTION_ARN = "arn:aws:lambda:us-east-1:123456789012:function:rpmbucket-indexer"


def one_run(binary, events):
    api = RuntimeAPI(FUNCTION_ARN)
    env = dict(os.environ)
    env.update({
        "AWS_LAMBDA_RUNTIME_API": api.address,
        "AWS_LAMBDA_FUNCTION_NAME": os.environ.get("AWS_LAMBDA_FUNCTION_NAME", "rpmbucket-indexer"),
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "512",
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_LOG_STREAM_NAME": "bench",
        "AWS_LAMBDA_LOG_GROUP_NAME": "/aws/lambda/rpmbucket-indexer",
    })
    started = time.monotonic()
    proc = subprocess.Popen([binary], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    invocations = []
    try:
        for name, payload in events:
            # One at a time, as one execution environment gets them.
            before = set(api.delivered)
            kind, body, at = api.submit(payload, time.time() + 900).get(timeout=120)
            if kind == "init-error":
                break
            rid = (set(api.delivered) - before).pop()
            invocations.append({
                "event": name,
                "status": kind,
                "ms": round((at - api.delivered[rid]) * 1000, 2),
                "body": json.loads(body) if body else None,
            })
        if not events:
            deadline = time.time() + 30
            while api.first_next is None and time.time() < deadline and proc.poll() is None:
                time.sleep(0.001)
    finally:
        proc.kill()
        stderr = proc.communicate()[1].decode(errors="replace")
        api.close()
    if api.first_next is None:
        sys.exit(f"the function never asked for an event; stderr:\n{stderr}")
    return {
        "init_ms": round((api.first_next - started) * 1000, 2),
        "init_error": api.init_error.decode(errors="replace") if api.init_error is not None else None,
        "invocations": invocations,
        "stderr_tail": stderr.splitlines()[-5:],
    }


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=1)
    ap.add_argument("binary")
    ap.add_argument("events", nargs="*")
    a = ap.parse_args()
    events = []
    for path in a.events:
        with open(path, "rb") as f:
            events.append((os.path.basename(path), f.read()))
    runs = [one_run(a.binary, events) for _ in range(a.runs)]
    inits = [r["init_ms"] for r in runs]
    # Cold start through the first event: spawn -> first `next` plus that event's handler time.
    firsts = [r["invocations"][0]["ms"] for r in runs if r["invocations"]]
    colds = [r["init_ms"] + r["invocations"][0]["ms"] for r in runs if r["invocations"]]
    print(json.dumps({
        "first_invocation_ms_median": statistics.median(firsts) if firsts else None,
        "cold_through_first_event_ms_median": statistics.median(colds) if colds else None,
        "cold_through_first_event_ms_max": max(colds) if colds else None,
        "binary": a.binary,
        "runs": len(runs),
        "init_ms_median": statistics.median(inits),
        "init_ms_min": min(inits),
        "init_ms_max": max(inits),
        "last_run": runs[-1],
    }, indent=2))


if __name__ == "__main__":
    main()
