"""The AWS Lambda Runtime API (2018-06-01) for one execution environment, on 127.0.0.1.

Used by scripts/rehearse.py (the deployed functions under the events AWS would send) and by
indexer-lambda/bench/runtime_api.py (cold start and handler times). Standard library only.

    api = RuntimeAPI(function_arn)
    env["AWS_LAMBDA_RUNTIME_API"] = api.address     # then start the function's bootstrap
    result = api.submit(payload, deadline_epoch)    # queued until the function asks for it
    kind, body, at = result.get(timeout=...)        # kind: "response", "error" or "init-error"
    api.close()

Times (`first_next`, `delivered[request id]`, the `at` of a result) are time.monotonic() values.
"""

import queue
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

PREFIX = "/2018-06-01/runtime"


class RuntimeAPI:
    """One execution environment: invocations are handed out one at a time, in order, to the process
    that asks for `/invocation/next`; its response or error goes back to whoever submitted it."""

    def __init__(self, function_arn):
        self.function_arn = function_arn
        self.pending = queue.Queue()
        self.results = {}  # request id -> queue of (kind, body, monotonic time)
        self.delivered = {}  # request id -> monotonic time the function received the event
        self.first_next = None  # monotonic time of the first `GET /invocation/next` (end of init)
        self.init_error = None
        self.closed = False
        self.server = _Server(("127.0.0.1", 0), _handler(self))
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def address(self):
        return f"127.0.0.1:{self.server.server_address[1]}"

    def submit(self, payload, deadline_epoch):
        """Queue one invocation; returns the queue its (kind, body, time) result arrives on."""
        rid = str(uuid.uuid4())
        result = queue.Queue()
        self.results[rid] = result
        if self.init_error is not None:
            result.put(("init-error", self.init_error, time.monotonic()))
        else:
            self.pending.put((rid, payload, deadline_epoch))
        return result

    def close(self):
        self.closed = True
        self.server.shutdown()
        self.server.server_close()


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        pass  # a killed function leaves a broken connection behind


def _handler(api):
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
            if api.first_next is None:
                api.first_next = time.monotonic()
            while True:
                try:
                    rid, payload, deadline = api.pending.get(timeout=1)
                    break
                except queue.Empty:
                    if api.closed:
                        return  # this environment is gone (the process was killed or replaced)
            api.delivered[rid] = time.monotonic()
            self.reply(200, payload, [
                ("Content-Type", "application/json"),
                ("Lambda-Runtime-Aws-Request-Id", rid),
                ("Lambda-Runtime-Deadline-Ms", str(int(deadline * 1000))),
                ("Lambda-Runtime-Invoked-Function-Arn", api.function_arn),
                ("Lambda-Runtime-Trace-Id", "Root=1-00000000-000000000000000000000000;Sampled=0"),
            ])

        def do_POST(self):
            body = self.body()
            now = time.monotonic()
            parts = self.path[len(PREFIX):].strip("/").split("/")
            if parts[:2] == ["init", "error"]:
                api.init_error = body
                for q in list(api.results.values()):
                    q.put(("init-error", body, now))
                return self.reply(202, b'{"status":"OK"}')
            if len(parts) == 3 and parts[0] == "invocation" and parts[2] in ("response", "error"):
                q = api.results.pop(parts[1], None)
                if q is None:
                    return self.reply(400, b'{"errorMessage":"unknown request id"}')
                q.put((parts[2], body, now))
                return self.reply(202, b'{"status":"OK"}')
            self.reply(404)

    return H
