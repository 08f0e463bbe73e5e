#!/usr/bin/env python3
"""The deployment rehearsal: `terraform apply` of infra/terraform/examples/basic to a moto server on
127.0.0.1, the deployed functions' own `bootstrap` binaries run under a Lambda Runtime API emulator,
the events AWS would send them, the smoke test, and `terraform destroy`. Run by scripts/rehearse.sh
(which starts moto and builds the zips); see the header there for what this proves and what not.

Everything a function gets is read back from what Terraform deployed: its code (the zip whose
SHA-256 the Lambda API reports), environment, timeout and memory (GetFunction), the function URL's
auth type (GetFunctionUrlConfig), the queue, batch size, batching window and response types of the
event source mapping (ListEventSourceMappings), the queue's visibility timeout and redrive policy
(SQS, which applies them itself), the schedule's target and input (EventBridge Scheduler), the
bucket notification (S3, which moto delivers to SQS). The only thing added is AWS_ENDPOINT_URL,
the moto server, in place of AWS's endpoints.

Standard library and boto3 only (boto3 comes with moto's venv).
"""

import argparse
import base64
import contextlib
import hashlib
import json
import os
import platform
import queue
import secrets
import shutil
import signal
import subprocess
import sys
import threading
import time
import urllib.parse
import urllib.request
import uuid
import zipfile
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import boto3
import botocore.config

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
from lambda_runtime_api import RuntimeAPI  # noqa: E402 - shared with indexer-lambda/bench/runtime_api.py

T0 = time.monotonic()
REGION = "us-east-1"
FUNCTION_URL_MAX_BODY = 6 * 1024 * 1024  # Lambda's synchronous payload limit
STEPS = []  # (name, seconds, ok)


def log(msg):
    print(f"[{time.monotonic() - T0:7.1f} s] {msg}", flush=True)


class Failure(Exception):
    """A check of the rehearsal failed; the message says which and why."""


@contextlib.contextmanager
def step(name):
    started = time.monotonic()
    log(f"==> {name}")
    try:
        yield
    except BaseException as e:
        STEPS.append((name, time.monotonic() - started, False))
        log(f"FAIL {name}: {e}")
        raise
    STEPS.append((name, time.monotonic() - started, True))
    log(f"ok   {name} ({time.monotonic() - started:.1f} s)")


TERMINATED = False
RUNNING = set()  # process groups of running commands, killed when the rehearsal is killed


def _on_term(signum, frame):
    global TERMINATED
    TERMINATED = True  # no destroy: the moto server goes with the rehearsal
    for pgid in list(RUNNING):
        with contextlib.suppress(OSError):
            os.killpg(pgid, signal.SIGKILL)
    sys.exit(128 + signum)


def run(cmd, *, cwd=None, timeout, logfile, env=None, what=None):
    """Run a command with a timeout (its process group is killed then); output to logfile."""
    what = what or " ".join(str(c) for c in cmd[:3])
    with open(logfile, "w") as out:
        p = subprocess.Popen(cmd, cwd=cwd, stdout=out, stderr=subprocess.STDOUT, env=env,
                             start_new_session=True)
        RUNNING.add(p.pid)
        try:
            rc = p.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(p.pid, signal.SIGKILL)
            p.wait()
            raise Failure(f"{what}: no result after {timeout} s (killed); log: {logfile}\n{tail(logfile)}")
        finally:
            RUNNING.discard(p.pid)
    if rc != 0:
        raise Failure(f"{what}: exit status {rc}; log: {logfile}\n{tail(logfile)}")


def tail(path, n=25):
    try:
        with open(path, errors="replace") as f:
            lines = f.read().splitlines()
    except OSError:
        return ""
    return "\n".join("    " + line for line in lines[-n:])


def wait_until(what, timeout, fn, interval=0.5):
    deadline = time.monotonic() + timeout
    while True:
        r = fn()
        if r:
            return r
        if time.monotonic() > deadline:
            raise Failure(f"{what}: not within {timeout} s")
        time.sleep(interval)


# ---------------------------------------------------------------------------------------------------
# The Lambda Runtime API, one execution environment per function
# ---------------------------------------------------------------------------------------------------

class Function:
    """One deployed function: its bootstrap, run under a Runtime API server, one invocation at a time
    (one execution environment). A crashed or timed-out process is replaced at the next invocation,
    as Lambda does."""

    def __init__(self, name, config, bootstrap, endpoint, workdir):
        self.name = name
        self.config = config
        self.bootstrap = bootstrap
        self.endpoint = endpoint
        self.workdir = workdir
        self.timeout = config["Timeout"]
        self.lock = threading.Lock()
        self.proc = None
        self.api = None
        self.logfile = os.path.join(workdir, f"{name}.log")
        self.cold_starts = []  # (init seconds, first invocation seconds)
        self.invocations = 0

    def environment(self):
        """Lambda's reserved variables, the function's own (from GetFunction), and the endpoint."""
        tmp = os.path.join(self.workdir, f"{self.name}-tmp")
        os.makedirs(tmp, exist_ok=True)
        env = {
            "PATH": "/usr/local/bin:/usr/bin:/bin",
            "LANG": "C.UTF-8",
            "TZ": ":UTC",
            "TMPDIR": tmp,
            "LAMBDA_TASK_ROOT": os.path.dirname(self.bootstrap),
            "_HANDLER": self.config.get("Handler", ""),
            "AWS_EXECUTION_ENV": "AWS_Lambda_" + self.config["Runtime"],
            "AWS_LAMBDA_FUNCTION_NAME": self.name,
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(self.config["MemorySize"]),
            "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
            "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{self.name}",
            "AWS_LAMBDA_LOG_STREAM_NAME": "rehearsal",
            "AWS_REGION": REGION,
            "AWS_DEFAULT_REGION": REGION,
            # Lambda hands the execution role's temporary credentials; moto takes any.
            "AWS_ACCESS_KEY_ID": "test",
            "AWS_SECRET_ACCESS_KEY": "test",
        }
        env.update(self.config.get("Environment", {}).get("Variables", {}))
        env["AWS_ENDPOINT_URL"] = self.endpoint  # the one addition: AWS's endpoints are moto here
        env["AWS_LAMBDA_RUNTIME_API"] = self.api.address
        return env

    def _start(self):
        self.api = RuntimeAPI(self.config["FunctionArn"])
        log_out = open(self.logfile, "a")
        self.spawned = time.monotonic()
        self.proc = subprocess.Popen([self.bootstrap], env=self.environment(), cwd=os.path.dirname(self.bootstrap),
                                     stdout=log_out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        log_out.close()

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.proc = None
        if self.api is not None:
            self.api.close()
            self.api = None

    def invoke(self, payload):
        """Returns ("ok", bytes) or ("error", text)."""
        with self.lock:
            cold = self.proc is None or self.proc.poll() is not None
            if cold:
                self.stop()
                self._start()
            started = time.monotonic()
            result = self.api.submit(payload, time.time() + self.timeout)
            self.invocations += 1
            deadline = started + self.timeout
            while True:
                try:
                    kind, body, _ = result.get(timeout=0.1)
                    break
                except queue.Empty:
                    pass
                if self.proc.poll() is not None:
                    rc = self.proc.returncode
                    self.stop()
                    return "error", f"{self.name}: the process exited with status {rc} before answering\n{tail(self.logfile, 15)}"
                if time.monotonic() > deadline:
                    self.stop()
                    return "error", f"{self.name}: Task timed out after {self.timeout} seconds (process killed)\n{tail(self.logfile, 15)}"
            if cold and self.api.first_next is not None:
                self.cold_starts.append((self.api.first_next - self.spawned, time.monotonic() - started))
            if kind == "init-error":
                self.stop()
                return "error", f"{self.name}: init error: {body.decode(errors='replace')}\n{tail(self.logfile, 15)}"
            return ("ok", body) if kind == "response" else ("error", body.decode(errors="replace"))


# ---------------------------------------------------------------------------------------------------
# Function URL: HTTP requests in, payload-2.0 events to the function, its answers back out
# ---------------------------------------------------------------------------------------------------

class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        pass  # a client that went away


TEXT_TYPES = ("text/", "application/json", "application/xml", "application/x-www-form-urlencoded")


def start_function_url(fn, url_config):
    if url_config.get("AuthType") != "NONE":
        raise Failure(f"function URL of {fn.name}: AuthType {url_config.get('AuthType')} is not emulated (the module sets NONE)")
    if url_config.get("InvokeMode", "BUFFERED") != "BUFFERED":
        raise Failure(f"function URL of {fn.name}: InvokeMode {url_config.get('InvokeMode')} is not emulated")
    url_id = urllib.parse.urlparse(url_config["FunctionUrl"]).hostname.split(".")[0]

    class H(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args):
            pass

        def answer(self, code, body, headers=()):
            self.send_response(code)
            for k, v in headers:
                self.send_header(k, v)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)

        def handle_any(self):
            n = int(self.headers.get("Content-Length") or 0)
            if n > FUNCTION_URL_MAX_BODY:
                self.close_connection = True
                return self.answer(413, b'{"Message":"Request must be smaller than 6291456 bytes for the InvokeFunction operation"}',
                                   [("Content-Type", "application/json")])
            body = self.rfile.read(n) if n else b""
            path, _, query = self.path.partition("?")
            headers = {}
            for k, v in self.headers.items():
                k = k.lower()
                headers[k] = f"{headers[k]},{v}" if k in headers else v
            ctype = headers.get("content-type", "")
            is_text = bool(body) and ctype.startswith(TEXT_TYPES)
            now = time.time()
            event = {
                "version": "2.0",
                "routeKey": "$default",
                "rawPath": path,
                "rawQueryString": query,
                "headers": headers,
                "requestContext": {
                    "accountId": "anonymous",
                    "apiId": url_id,
                    "domainName": headers.get("host", ""),
                    "domainPrefix": url_id,
                    "http": {
                        "method": self.command,
                        "path": path,
                        "protocol": "HTTP/1.1",
                        "sourceIp": self.client_address[0],
                        "userAgent": headers.get("user-agent", ""),
                    },
                    "requestId": str(uuid.uuid4()),
                    "routeKey": "$default",
                    "stage": "$default",
                    "time": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(now)),
                    "timeEpoch": int(now * 1000),
                },
                "isBase64Encoded": bool(body) and not is_text,
            }
            if query:
                qs = {}
                for k, v in urllib.parse.parse_qsl(query, keep_blank_values=True):
                    qs[k] = f"{qs[k]},{v}" if k in qs else v
                event["queryStringParameters"] = qs
            if "cookie" in headers:
                event["cookies"] = [c.strip() for c in headers.pop("cookie").split(";")]
            if body:
                event["body"] = body.decode() if is_text else base64.b64encode(body).decode()
            kind, out = fn.invoke(json.dumps(event).encode())
            if kind != "ok":
                log(f"{fn.name} (function URL {self.command} {path}): {out}")
                return self.answer(502, b'{"Message":"Internal Server Error"}', [("Content-Type", "application/json")])
            try:
                r = json.loads(out)
                code = int(r.get("statusCode", 200))
            except (ValueError, AttributeError) as e:
                log(f"{fn.name}: answer is not a function URL response ({e}): {out[:200]!r}")
                return self.answer(502, b'{"Message":"Internal Server Error"}', [("Content-Type", "application/json")])
            data = r.get("body") or ""
            data = base64.b64decode(data) if r.get("isBase64Encoded") else data.encode()
            hdrs = [(k, v) for k, v in (r.get("headers") or {}).items() if k.lower() != "content-length"]
            for k, vs in (r.get("multiValueHeaders") or {}).items():
                hdrs += [(k, v) for v in vs if k.lower() != "content-length"]
            hdrs += [("Set-Cookie", c) for c in r.get("cookies") or []]
            self.answer(code, data, hdrs)

        do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = do_PATCH = do_OPTIONS = handle_any

    server = _QuietServer(("127.0.0.1", 0), H)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}/"


# ---------------------------------------------------------------------------------------------------
# SQS event source mapping
# ---------------------------------------------------------------------------------------------------

class QueueMapping(threading.Thread):
    """Lambda's SQS poller for one event source mapping: batches of up to BatchSize messages
    gathered for at most MaximumBatchingWindowInSeconds, one invocation per batch, the messages not
    named in batchItemFailures deleted (ReportBatchItemFailures), nothing deleted when the
    invocation fails or answers an invalid failure list. Failed messages come back after the
    queue's visibility timeout; SQS moves them to the dead-letter queue after maxReceiveCount
    receives (moto implements the redrive policy)."""

    def __init__(self, mapping, fn, sqs):
        super().__init__(daemon=True)
        self.fn = fn
        self.sqs = sqs
        self.arn = mapping["EventSourceArn"]
        self.batch_size = mapping["BatchSize"]
        self.window = mapping.get("MaximumBatchingWindowInSeconds", 0)
        self.report_failures = "ReportBatchItemFailures" in (mapping.get("FunctionResponseTypes") or [])
        self.url = sqs.get_queue_url(QueueName=self.arn.split(":")[-1])["QueueUrl"]
        self.stop_event = threading.Event()
        self.events_seen = set()  # (ObjectCreated|ObjectRemoved, key)
        self.failed_ids = {}  # messageId -> times reported failed
        self.batches = 0
        self.errors = []

    def receive(self, n, wait):
        return self.sqs.receive_message(QueueUrl=self.url, MaxNumberOfMessages=min(10, n), WaitTimeSeconds=wait,
                                        AttributeNames=["All"], MessageAttributeNames=["All"]).get("Messages", [])

    def run(self):
        while not self.stop_event.is_set():
            try:
                self.one_batch()
            except Exception as e:  # noqa: BLE001 - keep polling, report at the end
                self.errors.append(f"{type(e).__name__}: {e}")
                log(f"event source mapping {self.arn}: {type(e).__name__}: {e}")
                time.sleep(1)

    def one_batch(self):
        batch = self.receive(self.batch_size, 1)
        if not batch:
            return
        deadline = time.monotonic() + self.window
        while len(batch) < self.batch_size and time.monotonic() < deadline:
            more = self.receive(self.batch_size - len(batch), 0)
            if not more:
                time.sleep(0.2)
            batch += more
        records = []
        for m in batch:
            self.note_keys(m["Body"])
            records.append({
                "messageId": m["MessageId"],
                "receiptHandle": m["ReceiptHandle"],
                "body": m["Body"],
                "attributes": m.get("Attributes", {}),
                "messageAttributes": m.get("MessageAttributes", {}),
                "md5OfBody": m.get("MD5OfBody", ""),
                "eventSource": "aws:sqs",
                "eventSourceARN": self.arn,
                "awsRegion": REGION,
            })
        self.batches += 1
        kind, out = self.fn.invoke(json.dumps({"Records": records}).encode())
        ids = {m["MessageId"] for m in batch}
        counts = ",".join(m.get("Attributes", {}).get("ApproximateReceiveCount", "?") for m in batch)
        if kind != "ok":
            log(f"indexer: batch of {len(batch)} (receive counts {counts}) failed as a whole; nothing deleted: {out.splitlines()[0] if out else ''}")
            return
        failed = set()
        if self.report_failures:
            try:
                r = json.loads(out) if out else {}
                failed = {f["itemIdentifier"] for f in (r.get("batchItemFailures") or [])}
            except (ValueError, TypeError, KeyError, AttributeError):
                failed = None
            if failed is None or not failed <= ids:
                log(f"indexer: invalid batchItemFailures {out[:200]!r}: the whole batch counts as failed")
                return
        for mid in failed:
            self.failed_ids[mid] = self.failed_ids.get(mid, 0) + 1
        done = [m for m in batch if m["MessageId"] not in failed]
        for i in range(0, len(done), 10):
            entries = [{"Id": str(j), "ReceiptHandle": m["ReceiptHandle"]} for j, m in enumerate(done[i:i + 10])]
            self.sqs.delete_message_batch(QueueUrl=self.url, Entries=entries)
        log(f"indexer: batch of {len(batch)} (receive counts {counts}): {len(done)} handled and deleted, {len(failed)} reported failed")

    def note_keys(self, body):
        try:
            doc = json.loads(body)
        except ValueError:
            return
        for r in doc.get("Records", []) if isinstance(doc, dict) else []:
            key = ((r.get("s3") or {}).get("object") or {}).get("key")
            if key:
                kind = str(r.get("eventName", "")).split(":")[0]
                self.events_seen.add((kind, urllib.parse.unquote_plus(key)))

    def stop(self):
        self.stop_event.set()
        self.join(timeout=5)


# ---------------------------------------------------------------------------------------------------
# The rehearsal
# ---------------------------------------------------------------------------------------------------

class Rehearsal:
    def __init__(self, a):
        self.a = a
        self.root = os.path.abspath(a.repo)
        self.work = a.workdir
        self.endpoint = a.endpoint
        cfg = botocore.config.Config(retries={"max_attempts": 3}, connect_timeout=5, read_timeout=60)
        self.client = lambda svc: boto3.client(svc, endpoint_url=self.endpoint, region_name=REGION, config=cfg)
        self.s3, self.sqs, self.lam = self.client("s3"), self.client("sqs"), self.client("lambda")
        self.functions = {}
        self.fronts = []
        self.mappings = []
        self.applied = False
        self.tf_env = dict(os.environ, TF_IN_AUTOMATION="1", TF_INPUT="0", CHECKPOINT_DISABLE="1",
                           TF_CLI_CONFIG_FILE=os.path.join(self.work, "terraformrc"))
        self.tf_env.pop("TF_PLUGIN_CACHE_DIR", None)
        self.bucket = f"rpmbucket-rehearsal-{int(time.time())}-{os.getpid()}"
        self.apply_dir = os.path.join(self.work, "src", "infra", "terraform", "examples", "basic")

    def tf(self, args, timeout, name):
        run(["terraform", *args], cwd=self.apply_dir, timeout=timeout, env=self.tf_env,
            logfile=os.path.join(self.work, f"tf-{name}.log"), what=f"terraform {args[0]}")

    def tf_out(self, args, timeout=120):
        return subprocess.run(["terraform", *args], cwd=self.apply_dir, env=self.tf_env, check=True,
                              capture_output=True, text=True, timeout=timeout).stdout

    # --- 1. apply ----------------------------------------------------------------------------------
    def apply(self):
        open(os.path.join(self.work, "terraformrc"), "w").close()
        src = os.path.join(self.work, "src", "infra", "terraform")
        shutil.copytree(os.path.join(self.root, "infra", "terraform"), src,
                        ignore=shutil.ignore_patterns(".terraform", "*.tfstate*", ".terraform.lock.hcl"))
        endpoints = "\n".join(f'    {s} = "{self.endpoint}"' for s in (
            "cloudfront", "cloudwatch", "iam", "kms", "lambda", "logs", "s3", "scheduler", "secretsmanager", "sqs", "ssm", "sts"))
        with open(os.path.join(self.apply_dir, "rehearsal_override.tf"), "w") as f:
            f.write(f"""# Written by scripts/rehearse.py: every AWS API the module calls goes to moto.
provider "aws" {{
  region                      = "{REGION}"
  access_key                  = "test"
  secret_key                  = "test"
  skip_credentials_validation = true
  skip_metadata_api_check     = true
  skip_region_validation      = true
  s3_use_path_style           = true
  endpoints {{
{endpoints}
  }}
}}
""")
        self.tfvars = {
            "region": REGION,
            "bucket_name": self.bucket,
            "repository_prefixes": ["el9/x86_64/", "el9/aarch64/"],
            # moto has no CloudFront cache policies: the bucket is read through a public-read policy.
            "repository_access": "public-read",
            "force_destroy": True,
            "indexer_zip": self.a.indexer_zip,
            "gateway_zip": self.a.gateway_zip,
            "lambda_architecture": "x86_64",
            "tokens_secret_recovery_days": 0,
            "deny_insecure_transport": False,  # moto is plain HTTP
            "public_base_url": f"{self.endpoint}/{self.bucket}/",
            # Shorter than production so a poison message reaches the DLQ within the rehearsal:
            # visibility timeout = 6 x 10 s, DLQ after 2 receives.
            "indexer_timeout_seconds": 10,
            "sqs_max_receive_count": 2,
        }
        self.tfvars_path = os.path.join(self.apply_dir, "rehearsal.tfvars.json")
        with open(self.tfvars_path, "w") as f:
            json.dump(self.tfvars, f, indent=2)
        with step("terraform init (offline provider) of examples/basic"):
            self.tf(["init", "-input=false", "-no-color", f"-plugin-dir={self.a.plugin_dir}"], 180, "init")
        with step("terraform plan"):
            self.tf(["plan", "-input=false", "-no-color", "-var-file=rehearsal.tfvars.json", "-out=rehearsal.tfplan"], 300, "plan")
            plan = json.loads(self.tf_out(["show", "-json", "rehearsal.tfplan"]))
            self.planned = sorted(r["address"] for r in plan["resource_changes"]
                                  if r["mode"] == "managed" and "create" in r["change"]["actions"])
            log(f"the plan creates {len(self.planned)} resources")
        with step("terraform apply"):
            self.applied = True  # from here on, destroy runs whatever happens
            self.tf(["apply", "-input=false", "-no-color", "-auto-approve", "rehearsal.tfplan"], 600, "apply")
        with step("every planned resource exists in the state"):
            state = sorted(a for a in self.tf_out(["state", "list"]).split() if ".data." not in a and not a.startswith("data."))
            for a in state:
                log(f"  {a}")
            missing = sorted(set(self.planned) - set(state))
            if missing:
                raise Failure(f"planned but not created: {', '.join(missing)}")
            log(f"{len(state)} resources created, {len(self.planned)} planned")
            self.outputs = {k: v["value"] for k, v in json.loads(self.tf_out(["output", "-json"])).items()}
            with open(os.path.join(self.work, "outputs.json"), "w") as f:
                json.dump(json.loads(self.tf_out(["output", "-json"])), f)

    def verify_deployment(self):
        py = sys.executable
        checks = os.path.join(self.root, "infra", "terraform", "tests")
        with step("resources have the intended settings (tests/verify_moto.py)"):
            self.checker([py, os.path.join(checks, "verify_moto.py"), "--endpoint", self.endpoint,
                          "--outputs", os.path.join(self.work, "outputs.json"), "--vars", self.tfvars_path], "verify")
        with step("the applied IAM documents are least-privilege (tests/policy_test.py iam)"):
            role = lambda k: self.outputs[k].split("/")[-1]  # noqa: E731
            self.checker([py, os.path.join(checks, "policy_test.py"), "iam", "--endpoint", self.endpoint,
                          "--bucket", self.bucket, "--prefixes", ",".join(self.tfvars["repository_prefixes"]),
                          "--public-read", "--indexer-role", role("indexer_role_arn"),
                          "--gateway-role", role("gateway_role_arn")], "policy-iam")
        with step("a second plan has no changes"):
            self.tf(["plan", "-input=false", "-no-color", "-var-file=rehearsal.tfvars.json", "-out=replan.tfplan"], 300, "replan")
            with open(os.path.join(self.work, "replan.json"), "w") as f:
                f.write(self.tf_out(["show", "-json", "replan.tfplan"]))
            r = subprocess.run([py, os.path.join(checks, "plan_changes.py"), os.path.join(self.work, "replan.json")],
                               capture_output=True, text=True, timeout=60)
            if r.returncode != 0:
                raise Failure(f"the second plan wants changes: {r.stdout.strip()} {r.stderr.strip()}")
            if r.stderr.strip():
                log(f"ignored (moto reformats JSON): {' '.join(r.stderr.split())}")

    def checker(self, cmd, name):
        """Run a checker that prints ok/FAIL lines and `SUMMARY passed=N failed=M`; a crash fails."""
        logfile = os.path.join(self.work, f"{name}.log")
        with open(logfile, "w") as out:
            rc = subprocess.run(cmd, stdout=out, stderr=subprocess.STDOUT, timeout=300).returncode
        text = open(logfile).read()
        summary = [line for line in text.splitlines() if line.startswith("SUMMARY ")]
        fails = [line for line in text.splitlines() if line.startswith("FAIL")]
        if rc != 0 or not summary or fails:
            raise Failure(f"{os.path.basename(cmd[1])} exit status {rc}, {summary[-1] if summary else 'no SUMMARY line (crashed?)'}\n{tail(logfile, 30)}")
        log(f"{os.path.basename(cmd[1])}: {summary[-1]}")

    # --- 2. the functions, from what was deployed ------------------------------------------------------
    def start_functions(self):
        zips = {}
        for path in (self.a.indexer_zip, self.a.gateway_zip):
            with open(path, "rb") as f:
                zips[base64.b64encode(hashlib.sha256(f.read()).digest()).decode()] = path
        with step("read back both functions (GetFunction) and extract their deployed code"):
            for out_name in ("indexer_function_name", "gateway_function_name"):
                name = self.outputs[out_name]
                got = self.lam.get_function(FunctionName=name)
                conf = got["Configuration"]
                if conf.get("Runtime") != "provided.al2023":
                    raise Failure(f"{name}: runtime {conf.get('Runtime')}, the zips are built for provided.al2023")
                arch = (conf.get("Architectures") or ["x86_64"])[0]
                if arch != platform.machine().replace("aarch64", "arm64"):
                    raise Failure(f"{name}: deployed for {arch}, this machine runs {platform.machine()}")
                code = self.fetch_code(got, zips, name)
                task = os.path.join(self.work, "task", name)
                os.makedirs(task, exist_ok=True)
                with zipfile.ZipFile(code) as z:
                    z.extractall(task)
                    for info in z.infolist():
                        mode = (info.external_attr >> 16) & 0o777
                        if mode:
                            os.chmod(os.path.join(task, info.filename), mode)
                bootstrap = os.path.join(task, "bootstrap")
                if not os.access(bootstrap, os.X_OK):
                    raise Failure(f"{name}: the zip has no executable bootstrap")
                env = conf.get("Environment", {}).get("Variables", {})
                log(f"{name}: {conf['CodeSha256']} from {os.path.basename(code)}, timeout {conf['Timeout']} s, "
                    f"memory {conf['MemorySize']} MB, environment {json.dumps(env, sort_keys=True)}")
                self.functions[out_name.split("_")[0]] = Function(name, conf, bootstrap, self.endpoint, self.work)
        self.indexer, self.gateway = self.functions["indexer"], self.functions["gateway"]

    def fetch_code(self, got, zips, name):
        """The zip the Lambda API says it runs: Code.Location when it can be downloaded (AWS), else the
        local zip whose SHA-256 equals the reported CodeSha256 (moto's Location is not a URL it serves)."""
        loc = got.get("Code", {}).get("Location", "")
        if loc.startswith("http"):
            try:
                dest = os.path.join(self.work, f"{name}.zip")
                with urllib.request.urlopen(loc, timeout=30) as r, open(dest, "wb") as f:
                    f.write(r.read())
                return dest
            except OSError:
                pass
        sha = got["Configuration"]["CodeSha256"]
        if sha not in zips:
            raise Failure(f"{name}: the Lambda API reports code {sha}, which is neither built zip")
        return zips[sha]

    def store_token(self):
        with step("store a token in the tokens secret the gateway is configured with"):
            secret = secrets.token_urlsafe(24)
            line = subprocess.run([self.a.rpmbucket, "token", "hash", "--user", "ci", "--permissions", "rwd"],
                                  input=secret + "\n", capture_output=True, text=True, check=True, timeout=60).stdout.strip()
            arn = self.gateway.config["Environment"]["Variables"].get("RPMBUCKET_TOKENS_SECRET_ARN")
            if arn != self.outputs["tokens_secret_arn"]:
                raise Failure(f"the gateway's RPMBUCKET_TOKENS_SECRET_ARN is {arn!r}, the module's secret is {self.outputs['tokens_secret_arn']}")
            self.client("secretsmanager").put_secret_value(SecretId=arn, SecretString=line + "\n")
            self.token = f"ci:{secret}"

    def start_events(self):
        with step("function URL front for the gateway (GetFunctionUrlConfig)"):
            url_config = self.lam.get_function_url_config(FunctionName=self.gateway.name)
            server, self.gateway_url = start_function_url(self.gateway, url_config)
            self.fronts.append(server)
            log(f"{url_config['FunctionUrl']} (AuthType {url_config['AuthType']}) is served at {self.gateway_url}")
        with step("event source mappings of the indexer (ListEventSourceMappings)"):
            arn = self.indexer.config["FunctionArn"]
            maps = [m for m in self.lam.list_event_source_mappings()["EventSourceMappings"]
                    if m.get("FunctionArn") == arn or m.get("FunctionArn", "").endswith(f":function:{self.indexer.name}")]
            if not maps:
                raise Failure(f"no event source mapping invokes {self.indexer.name}")
            for m in maps:
                if m.get("State", "Enabled") not in ("Enabled", "Creating", "Updating"):
                    raise Failure(f"event source mapping {m['UUID']} is {m.get('State')}")
                qm = QueueMapping(m, self.indexer, self.sqs)
                attrs = self.sqs.get_queue_attributes(QueueUrl=qm.url, AttributeNames=["All"])["Attributes"]
                log(f"{m['EventSourceArn']}: batch size {qm.batch_size}, window {qm.window} s, "
                    f"ReportBatchItemFailures {qm.report_failures}; queue visibility timeout "
                    f"{attrs.get('VisibilityTimeout')} s, redrive {attrs.get('RedrivePolicy')}")
                self.mappings.append(qm)
                qm.start()
            self.events = self.mappings[0]

    # --- 3. what a user does, and what can go wrong ---------------------------------------------------
    def status(self, key_path):
        req = urllib.request.Request(f"{self.gateway_url}status/{key_path}",
                                     headers={"Authorization": "Basic " + base64.b64encode(self.token.encode()).decode()})
        try:
            with urllib.request.urlopen(req, timeout=60) as r:
                return r.status, r.read().decode(errors="replace")
        except urllib.error.HTTPError as e:
            return e.code, e.read().decode(errors="replace")

    def diagnose(self, key, kind):
        """Why a package was not published (kind ObjectCreated) or not removed (ObjectRemoved):
        name the piece of the deployment that broke."""
        if (kind, key) not in self.events.events_seen:
            conf = self.s3.get_bucket_notification_configuration(Bucket=self.bucket)
            filters = [(q.get("Id"), q.get("QueueArn"), q.get("Events"),
                        {r["Name"]: r["Value"] for r in q.get("Filter", {}).get("Key", {}).get("FilterRules", [])})
                       for q in conf.get("QueueConfigurations", [])]
            return (f"no {kind} notification for {key} reached {self.events.arn}: the bucket notification "
                    f"configuration is {filters} (does a filter's events, prefix and suffix match {key}?)")
        env = self.indexer.config["Environment"]["Variables"]
        return (f"the {kind} notification for {key} reached the indexer, which did not publish the change: its "
                f"environment is {json.dumps(env, sort_keys=True)}; log tail:\n{tail(self.indexer.logfile, 15)}")

    def smoke(self):
        repo = self.tfvars["repository_prefixes"][0]
        baseurl = self.outputs["baseurls"][repo]
        with step(f"scripts/smoke.sh {self.gateway_url} ci:*** {baseurl} {repo}"):
            logfile = os.path.join(self.work, "smoke.log")
            p = subprocess.Popen(["bash", os.path.join(self.root, "scripts", "smoke.sh"), self.gateway_url, self.token, baseurl, repo],
                                 stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)
            RUNNING.add(p.pid)
            lines = []
            timer = threading.Timer(600, lambda: os.killpg(p.pid, signal.SIGKILL))
            timer.start()
            for line in p.stdout:
                lines.append(line)
                log("  " + line.rstrip())
            p.wait()
            RUNNING.discard(p.pid)
            timer.cancel()
            open(logfile, "w").writelines(lines)
            if p.returncode != 0:
                why = ""
                for line in lines:
                    for marker, kind in (("not published within", "ObjectCreated"), ("still published", "ObjectRemoved")):
                        if marker in line:
                            f = next((w for w in line.split() if w.endswith(".rpm")), None)
                            if f and not why:
                                why = "\n" + self.diagnose(repo + f, kind)
                raise Failure(f"smoke.sh exit status {p.returncode}{why}")

    def poison(self):
        body = f"rehearsal poison {uuid.uuid4()}: not a bucket notification"
        mid = self.sqs.send_message(QueueUrl=self.events.url, MessageBody=body)["MessageId"]
        log(f"sent a poison message {mid} to {self.events.url}")
        return mid, body

    def check_dlq(self, mid, body):
        attrs = self.sqs.get_queue_attributes(QueueUrl=self.events.url, AttributeNames=["All"])["Attributes"]
        redrive = json.loads(attrs["RedrivePolicy"])
        dlq_url = self.sqs.get_queue_url(QueueName=redrive["deadLetterTargetArn"].split(":")[-1])["QueueUrl"]
        if dlq_url.rstrip("/").split("/")[-1] != self.outputs["dlq_url"].rstrip("/").split("/")[-1]:
            raise Failure(f"the queue's redrive target {dlq_url} is not the module's DLQ {self.outputs['dlq_url']}")
        budget = int(attrs["VisibilityTimeout"]) * (int(redrive["maxReceiveCount"]) + 1) + 60
        with step(f"the poison message ends in the DLQ after {redrive['maxReceiveCount']} receives (at most {budget} s)"):
            found = []

            def in_dlq():
                for m in self.sqs.receive_message(QueueUrl=dlq_url, MaxNumberOfMessages=10, WaitTimeSeconds=1,
                                                  VisibilityTimeout=0, AttributeNames=["All"]).get("Messages", []):
                    if m["Body"] == body:
                        found.append(m)
                        return True
                return False
            wait_until("poison message in the DLQ", budget, in_dlq, interval=2)
            reported = self.events.failed_ids.get(mid, 0)
            if reported < int(redrive["maxReceiveCount"]):
                raise Failure(f"the indexer reported the poison message failed {reported} times, want {redrive['maxReceiveCount']}")
            log(f"in the DLQ, receive count {found[0]['Attributes'].get('ApproximateReceiveCount')}; "
                f"the indexer named it in batchItemFailures {reported} times")

    def reconcile(self):
        sch = self.client("scheduler")
        schedules = [sch.get_schedule(Name=s["Name"]) for s in sch.list_schedules()["Schedules"]]
        mine = [s for s in schedules if s["Target"]["Arn"] == self.indexer.config["FunctionArn"]]
        if not mine:
            raise Failure(f"no schedule targets {self.indexer.config['FunctionArn']} (schedules: {[s['Name'] for s in schedules]})")
        schedule = mine[0]
        repo = self.tfvars["repository_prefixes"][0]
        rpm = build_rpm(self.work, "rpmbucket-rehearsal-reconcile")
        key = repo + os.path.basename(rpm)
        with step(f"a package put while notifications are off is not published ({key})"):
            saved = self.s3.get_bucket_notification_configuration(Bucket=self.bucket)
            saved.pop("ResponseMetadata", None)
            self.s3.put_bucket_notification_configuration(Bucket=self.bucket, NotificationConfiguration={})
            try:
                with open(rpm, "rb") as f:
                    self.s3.put_object(Bucket=self.bucket, Key=key, Body=f.read())
                time.sleep(3 + self.events.window)
                code, text = self.status(f"{key}?wait=2")
                if code != 404 or ("ObjectCreated", key) in self.events.events_seen:
                    raise Failure(f"want 404 and no notification while notifications are off, got {code} {text.strip()}")
            finally:
                self.s3.put_bucket_notification_configuration(Bucket=self.bucket, NotificationConfiguration=saved)
        self.schedule = schedule
        with step(f"the scheduled reconcile ({schedule['Name']}, {schedule['ScheduleExpression']}) publishes it"):
            payload = schedule["Target"]["Input"]
            log(f"invoking {self.indexer.name} asynchronously with the schedule's input {payload}")
            kind, out = self.invoke_async(self.indexer, payload)
            if kind != "ok":
                raise Failure(f"the reconcile invocation failed: {out}")
            code, text = self.status(f"{key}?wait=5")
            if code != 200:
                raise Failure(f"after the reconcile, /status says {code} {text.strip()}")
            log(f"/status: {text.strip()}")
            self.s3.delete_object(Bucket=self.bucket, Key=key)

    def invoke_async(self, fn, payload):
        """An asynchronous invocation, as the Scheduler makes it: Lambda retries a failed run
        MaximumRetryAttempts times (GetFunctionEventInvokeConfig), then sends an invocation record
        to the on-failure destination. Returns the last ("ok"|"error", output)."""
        try:
            conf = self.lam.get_function_event_invoke_config(FunctionName=fn.name)
        except self.lam.exceptions.ResourceNotFoundException:
            conf = {}
        retries = conf.get("MaximumRetryAttempts", 2)
        destination = conf.get("DestinationConfig", {}).get("OnFailure", {}).get("Destination")
        rid = str(uuid.uuid4())
        for attempt in range(1, retries + 2):
            kind, out = fn.invoke(payload.encode())
            if kind == "ok":
                return kind, out
            log(f"{fn.name}: asynchronous attempt {attempt} of {retries + 1} failed: {str(out).splitlines()[0][:300]}")
        if destination:
            if not destination.startswith("arn:aws:sqs:"):
                raise Failure(f"{fn.name}: on-failure destination {destination} is not emulated (the module uses an SQS queue)")
            url = self.sqs.get_queue_url(QueueName=destination.split(":")[-1])["QueueUrl"]
            record = {
                "version": "1.0",
                "timestamp": time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime()),
                "requestContext": {"requestId": rid, "functionArn": fn.config["FunctionArn"] + ":$LATEST",
                                   "condition": "RetriesExhausted", "approximateInvokeCount": retries + 1},
                "requestPayload": json.loads(payload),
                "responseContext": {"statusCode": 200, "executedVersion": "$LATEST", "functionError": "Unhandled"},
                "responsePayload": str(out)[:10000],
            }
            self.sqs.send_message(QueueUrl=url, MessageBody=json.dumps(record))
            log(f"{fn.name}: retries exhausted; invocation record sent to the on-failure destination {destination}")
        else:
            log(f"{fn.name}: retries exhausted and no on-failure destination: the failure is only in the log")
        return kind, out

    def failed_reconcile(self):
        """A reconcile that fails (the published repomd.xml overwritten with garbage) must end, after
        Lambda's retries, in the reconcile dead-letter queue the alarm watches, naming the error."""
        repo = self.tfvars["repository_prefixes"][0]
        key = f"{repo}repodata/repomd.xml"
        rq_url = self.outputs.get("reconcile_dlq_url")
        if not rq_url:
            raise Failure("the deployment has no reconcile_dlq_url output (the schedule's dead-letter queue)")
        dl = self.schedule["Target"].get("DeadLetterConfig", {}).get("Arn", "")
        if dl.split(":")[-1] != rq_url.rstrip("/").split("/")[-1]:
            raise Failure(f"the schedule's DeadLetterConfig is {dl or 'missing'}, the module's reconcile DLQ is {rq_url}")
        with step(f"a failing scheduled reconcile ends in the reconcile dead-letter queue ({key} made garbage)"):
            saved = self.s3.get_object(Bucket=self.bucket, Key=key)
            body = saved["Body"].read()
            self.s3.put_object(Bucket=self.bucket, Key=key, Body=b"<not-a-repomd", ContentType=saved.get("ContentType", "application/xml"))
            try:
                kind, out = self.invoke_async(self.indexer, self.schedule["Target"]["Input"])
            finally:
                self.s3.put_object(Bucket=self.bucket, Key=key, Body=body, ContentType=saved.get("ContentType", "application/xml"))
            if kind == "ok":
                raise Failure(f"the reconcile of a repository whose repomd.xml is garbage succeeded: {out[:300]!r}")
            msgs = self.sqs.receive_message(QueueUrl=rq_url, MaxNumberOfMessages=10, WaitTimeSeconds=2).get("Messages", [])
            records = [json.loads(m["Body"]) for m in msgs]
            if len(records) != 1 or records[0]["requestContext"]["condition"] != "RetriesExhausted":
                raise Failure(f"want one RetriesExhausted record in {rq_url}, found {records}")
            log(f"in {rq_url.rstrip('/').split('/')[-1]} after {records[0]['requestContext']['approximateInvokeCount']} attempts: "
                f"{records[0]['responsePayload'][:200]}")
            for m in msgs:
                self.sqs.delete_message(QueueUrl=rq_url, ReceiptHandle=m["ReceiptHandle"])

    # --- 4. destroy -------------------------------------------------------------------------------------
    def stop_functions(self):
        for m in self.mappings:
            m.stop()
        for s in self.fronts:
            s.shutdown()
            s.server_close()
        for fn in self.functions.values():
            fn.stop()

    def destroy(self):
        with step("terraform destroy"):
            self.tf(["destroy", "-refresh=false", "-input=false", "-no-color", "-auto-approve", "-var-file=rehearsal.tfvars.json"], 600, "destroy")
            self.applied = False
        with step("nothing is left behind (state and every service moto emulates)"):
            left = [a for a in self.tf_out(["state", "list"]).split() if a]
            if left:
                raise Failure(f"still in the state: {left}")
            found = {
                "buckets": [b["Name"] for b in self.s3.list_buckets().get("Buckets", [])],
                "queues": self.sqs.list_queues().get("QueueUrls", []),
                "functions": [f["FunctionName"] for f in self.lam.list_functions().get("Functions", [])],
                "event source mappings": [m["UUID"] for m in self.lam.list_event_source_mappings().get("EventSourceMappings", [])],
                "roles": [r["RoleName"] for r in self.client("iam").list_roles().get("Roles", [])],
                "secrets": [s["Name"] for s in self.client("secretsmanager").list_secrets().get("SecretList", [])],
                "schedules": [s["Name"] for s in self.client("scheduler").list_schedules().get("Schedules", [])],
                "log groups": [g["logGroupName"] for g in self.client("logs").describe_log_groups().get("logGroups", [])],
                "alarms": [m["AlarmName"] for m in self.client("cloudwatch").describe_alarms().get("MetricAlarms", [])],
            }
            left = {k: v for k, v in found.items() if v}
            if left:
                raise Failure(f"left behind: {left}")
            log("no bucket, queue, function, mapping, role, secret, schedule, log group or alarm is left")


def build_rpm(work, name):
    top = os.path.join(work, "rpmbuild")
    os.makedirs(os.path.join(top, "SPECS"), exist_ok=True)
    spec = os.path.join(top, "SPECS", f"{name}.spec")
    with open(spec, "w") as f:
        f.write(f"""Name: {name}
Version: 1.0
Release: 1
Summary: rpmbucket rehearsal package
License: MIT
BuildArch: noarch
%description
Put into the bucket by scripts/rehearse.py while notifications are off.
%install
mkdir -p %{{buildroot}}/usr/share/{name}
echo {name} > %{{buildroot}}/usr/share/{name}/file.txt
%files
/usr/share/{name}/file.txt
""")
    subprocess.run(["rpmbuild", "--quiet", "--define", f"_topdir {top}", "-bb", spec], check=True,
                   capture_output=True, timeout=120)
    return os.path.join(top, "RPMS", "noarch", f"{name}-1.0-1.noarch.rpm")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--endpoint", required=True, help="moto server, http://127.0.0.1:PORT")
    ap.add_argument("--repo", required=True, help="the repository checkout")
    ap.add_argument("--workdir", required=True)
    ap.add_argument("--plugin-dir", required=True, help="terraform provider plugin directory")
    ap.add_argument("--indexer-zip", required=True)
    ap.add_argument("--gateway-zip", required=True)
    ap.add_argument("--rpmbucket", required=True, help="the rpmbucket CLI (token hashing)")
    a = ap.parse_args()
    signal.signal(signal.SIGTERM, _on_term)
    signal.signal(signal.SIGINT, _on_term)
    r = Rehearsal(a)
    ok = False
    try:
        r.apply()
        r.verify_deployment()
        r.start_functions()
        r.store_token()
        r.start_events()
        mid, body = r.poison()
        r.smoke()
        r.reconcile()
        r.failed_reconcile()
        r.check_dlq(mid, body)
        for fn in r.functions.values():
            for init_s, first_s in fn.cold_starts:
                log(f"{fn.name}: cold start: process start to first /next {init_s * 1000:.0f} ms, "
                    f"first invocation {first_s * 1000:.0f} ms; {fn.invocations} invocations")
        errors = [e for m in r.mappings for e in m.errors]
        if errors:
            raise Failure(f"the event source mapping poller hit errors: {errors[:3]}")
        ok = True
    except Failure as e:
        log(f"REHEARSAL FAILED: {e}")
    except Exception as e:  # noqa: BLE001 - report, then still destroy
        log(f"REHEARSAL FAILED: {type(e).__name__}: {e}")
    finally:
        r.stop_functions()
        if r.applied and not TERMINATED:
            try:
                r.destroy()
            except Exception as e:  # noqa: BLE001
                ok = False
                log(f"REHEARSAL FAILED in destroy: {e}")
    print("\nstep                                                                      seconds  result")
    for name, secs, passed in STEPS:
        print(f"{name[:72]:<72} {secs:8.1f}  {'ok' if passed else 'FAIL'}")
    print(f"rehearsal: {'passed' if ok else 'FAILED'} in {time.monotonic() - T0:.0f} s")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
