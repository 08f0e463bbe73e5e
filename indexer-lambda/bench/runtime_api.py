#!/usr/bin/env python3
"""A tiny AWS Lambda Runtime API emulator for measuring a function binary.

Starts the binary with AWS_LAMBDA_RUNTIME_API pointing at a loopback server, measures the cold
start (process spawn -> first `GET /runtime/invocation/next`), then hands it each event file in
turn and measures the handler time (event delivered -> response or error posted). Prints one
JSON document. Standard library only.

usage: runtime_api.py [--runs N] BINARY EVENT.json [EVENT.json ...]
"""

import argparse
import json
import os
import queue
import statistics
import subprocess
import sys
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

PREFIX = "/2018-06-01/runtime"


class Emulator:
    def __init__(self, events):
        self.events = list(events)
        self.first_next = None
        self.delivered = {}
        self.results = queue.Queue()
        self.init_error = None

    def handler(self):
        emu = self

        class H(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def reply(self, code, body=b"", headers=()):
                self.send_response(code)
                for k, v in headers:
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def body(self):
                n = int(self.headers.get("Content-Length") or 0)
                if n:
                    return self.rfile.read(n)
                if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                    out = b""
                    while True:
                        size = int(self.rfile.readline().strip(), 16)
                        if size == 0:
                            self.rfile.readline()
                            return out
                        out += self.rfile.read(size)
                        self.rfile.readline()
                return b""

            def do_GET(self):
                if self.path != PREFIX + "/invocation/next":
                    return self.reply(404)
                now = time.perf_counter()
                if emu.first_next is None:
                    emu.first_next = now
                if not emu.events:
                    # No more work: park the function until the test kills it.
                    time.sleep(3600)
                    return
                name, payload = emu.events.pop(0)
                rid = str(uuid.uuid4())
                emu.delivered[rid] = (name, time.perf_counter())
                self.reply(
                    200,
                    payload,
                    [
                        ("Content-Type", "application/json"),
                        ("Lambda-Runtime-Aws-Request-Id", rid),
                        ("Lambda-Runtime-Deadline-Ms", str(int(time.time() * 1000) + 900_000)),
                        ("Lambda-Runtime-Invoked-Function-Arn",
                         "arn:aws:lambda:us-east-1:123456789012:function:rpmbucket-indexer"),
                        ("Lambda-Runtime-Trace-Id", "Root=1-00000000-000000000000000000000000"),
                    ],
                )

            def do_POST(self):
                body = self.body()
                parts = self.path[len(PREFIX):].strip("/").split("/")
                if parts[:2] == ["init", "error"]:
                    emu.init_error = body.decode(errors="replace")
                    emu.results.put(None)
                    return self.reply(202)
                if len(parts) == 3 and parts[0] == "invocation" and parts[2] in ("response", "error"):
                    name, started = emu.delivered.pop(parts[1])
                    emu.results.put({
                        "event": name,
                        "status": parts[2],
                        "ms": round((time.perf_counter() - started) * 1000, 2),
                        "body": json.loads(body) if body else None,
                    })
                    return self.reply(202)
                self.reply(404)

        return H


class Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        pass  # the function is killed mid-request at the end of a run


def one_run(binary, events):
    emu = Emulator(events)
    server = Server(("127.0.0.1", 0), emu.handler())
    threading.Thread(target=server.serve_forever, daemon=True).start()
    env = dict(os.environ)
    env.update({
        "AWS_LAMBDA_RUNTIME_API": f"127.0.0.1:{server.server_address[1]}",
        "AWS_LAMBDA_FUNCTION_NAME": os.environ.get("AWS_LAMBDA_FUNCTION_NAME", "rpmbucket-indexer"),
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "512",
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_LOG_STREAM_NAME": "bench",
        "AWS_LAMBDA_LOG_GROUP_NAME": "/aws/lambda/rpmbucket-indexer",
    })
    started = time.perf_counter()
    proc = subprocess.Popen([binary], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    invocations = []
    try:
        for _ in range(len(events)):
            r = emu.results.get(timeout=120)
            if r is None:
                break
            invocations.append(r)
        if not events:
            deadline = time.time() + 30
            while emu.first_next is None and time.time() < deadline and proc.poll() is None:
                time.sleep(0.001)
    finally:
        proc.kill()
        stderr = proc.communicate()[1].decode(errors="replace")
        server.shutdown()
    if emu.first_next is None:
        sys.exit(f"the function never asked for an event; stderr:\n{stderr}")
    return {
        "init_ms": round((emu.first_next - started) * 1000, 2),
        "init_error": emu.init_error,
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
