#!/usr/bin/env python3
"""Cold-start benchmark of the Lambda binaries against a local Lambda Runtime API.

Run by scripts/bench-cold-start.sh (which builds the release binaries and starts the
local AWS emulator). For every function of template.yaml, and for the
`hello-cold-start` baseline, it starts the binary RUNS times as Lambda would: a fresh
process with the Lambda environment variables, the function's own variables (the
template's, pointed at the emulator) and AWS_LAMBDA_RUNTIME_API naming a small
Runtime API server written here. It measures

  init:   process start -> the first `GET /runtime/invocation/next`
  invoke: that request answered with a realistic event -> the response posted

and prints the medians and init / hello-world init per function.

Usage: bench_cold_start.py BIN_DIR ENDPOINT [RUNS]
(ONLY=name,name limits the functions, the baseline always runs; SECRETS=env passes the
secrets' values instead of their Secrets Manager names, which shows what the one
BatchGetSecretValue of a cold start costs.)
"""

import json
import os
import statistics
import subprocess
import sys
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import boto3

ROOT = Path(__file__).resolve().parent.parent
PREFIX = "/2018-06-01/runtime"
PASSWORD = "bench-cold-start-password"
JWT = "bench-cold-start-jwt-secret-0123456789abcdef"
GATEWAY_SECRET = "bench-gateway-secret-0001"


class Invocation:
    """One process's exchange with the Runtime API (times in perf_counter seconds)."""

    def __init__(self, event):
        self.event = json.dumps(event).encode()
        self.request_id = str(uuid.uuid4())
        self.first_next = None
        self.served = None
        self.done = None
        self.response = None
        self.error = None
        self.finished = threading.Event()
        self.stop = threading.Event()


class RuntimeApi(BaseHTTPRequestHandler):
    """The four Runtime API routes the Rust runtime calls."""

    protocol_version = "HTTP/1.1"
    current = None  # the Invocation being served

    def log_message(self, *args):
        pass

    def _reply(self, status, body=b"", headers=None):
        self.send_response(status)
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _body(self):
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n else b""

    def do_GET(self):
        now = time.perf_counter()
        inv = self.current
        if self.path != f"{PREFIX}/invocation/next" or inv is None:
            return self._reply(404)
        if inv.first_next is None:
            inv.first_next = now
            inv.served = time.perf_counter()
            deadline = int(time.time() * 1000) + 29_000
            return self._reply(
                200,
                inv.event,
                {
                    "Content-Type": "application/json",
                    "Lambda-Runtime-Aws-Request-Id": inv.request_id,
                    "Lambda-Runtime-Deadline-Ms": str(deadline),
                    "Lambda-Runtime-Invoked-Function-Arn": "arn:aws:lambda:us-east-1:123456789012:function:bench",
                    "Lambda-Runtime-Trace-Id": "Root=1-00000000-000000000000000000000000;Sampled=0",
                },
            )
        # The next invocation never comes: hold the long poll until the process is stopped.
        inv.stop.wait(60)
        self.close_connection = True
        try:
            self._reply(410)
        except OSError:
            pass

    def do_POST(self):
        now = time.perf_counter()
        body = self._body()
        inv = self.current
        if inv is None:
            return self._reply(404)
        if self.path.endswith("/response"):
            inv.done, inv.response = now, body
        elif self.path.endswith("/error"):
            inv.done, inv.error = now, body
        else:
            return self._reply(404)
        inv.finished.set()
        return self._reply(202, b'{"status":"OK"}', {"Content-Type": "application/json"})


class Server(ThreadingHTTPServer):
    """One Runtime API per process start (a killed process's late request cannot reach
    the next one's), quiet about connections the killed process dropped."""

    daemon_threads = True

    def handle_error(self, request, client_address):
        if not isinstance(sys.exc_info()[1], (ConnectionError, BrokenPipeError)):
            super().handle_error(request, client_address)


def run_once(binary, env, event):
    """Starts `binary` once and serves it `event`; returns the Invocation."""
    inv = Invocation(event)
    handler = type("Api", (RuntimeApi,), {"current": inv})
    server = Server(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    full = dict(env, AWS_LAMBDA_RUNTIME_API=f"127.0.0.1:{server.server_address[1]}")
    started = time.perf_counter()
    proc = subprocess.Popen([str(binary)], env=full, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        if not inv.finished.wait(60):
            raise RuntimeError(f"{binary.name}: no response within 60 s")
    finally:
        inv.stop.set()
        proc.kill()
        _, err = proc.communicate()
        server.shutdown()
        server.server_close()
    if inv.error is not None or inv.first_next is None:
        raise RuntimeError(f"{binary.name} failed: {inv.error!r}\n{err.decode(errors='replace')[-2000:]}")
    inv.init_ms = (inv.first_next - started) * 1000
    inv.invoke_ms = (inv.done - inv.served) * 1000
    return inv


def http_event(method, path, query="", body=None, token=None):
    """An API Gateway HTTP API (payload 2.0) request."""
    headers = {"content-type": "application/json", "host": "bench.execute-api.us-east-1.amazonaws.com"}
    if token:
        headers["authorization"] = f"Bearer {token}"
    return {
        "version": "2.0",
        "routeKey": f"{method} {path}",
        "rawPath": path,
        "rawQueryString": query,
        "headers": headers,
        "queryStringParameters": dict(p.split("=", 1) for p in query.split("&")) if query else None,
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "bench",
            "domainName": "bench.execute-api.us-east-1.amazonaws.com",
            "domainPrefix": "bench",
            "http": {
                "method": method,
                "path": path,
                "protocol": "HTTP/1.1",
                "sourceIp": "203.0.113.7",
                "userAgent": "bench",
            },
            "requestId": str(uuid.uuid4()),
            "routeKey": f"{method} {path}",
            "stage": "$default",
            "time": "01/Dec/2026:12:00:00 +0000",
            "timeEpoch": int(time.time() * 1000),
        },
        "body": json.dumps(body) if body is not None else None,
        "isBase64Encoded": False,
    }


def sqs_event(queue_arn, body, fifo=True):
    attrs = {
        "ApproximateReceiveCount": "1",
        "SentTimestamp": str(int(time.time() * 1000)),
        "SenderId": "123456789012",
        "ApproximateFirstReceiveTimestamp": str(int(time.time() * 1000)),
    }
    if fifo:
        attrs.update({"MessageGroupId": "bench", "MessageDeduplicationId": str(uuid.uuid4()), "SequenceNumber": "1"})
    return {
        "Records": [
            {
                "messageId": str(uuid.uuid4()),
                "receiptHandle": "bench-receipt-handle",
                "body": json.dumps(body),
                "attributes": attrs,
                "messageAttributes": {},
                "md5OfBody": "",
                "eventSource": "aws:sqs",
                "eventSourceARN": queue_arn,
                "awsRegion": "us-east-1",
            }
        ]
    }


def scheduled_event():
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "Scheduled Event",
        "source": "aws.scheduler",
        "account": "123456789012",
        "time": "2026-12-01T12:00:00Z",
        "region": "us-east-1",
        "resources": ["arn:aws:scheduler:us-east-1:123456789012:schedule/default/bench"],
        "detail": {},
    }


def setup(endpoint, run):
    """The table, bucket, queues and secrets, created as the local stack does."""
    kw = dict(endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="test", aws_secret_access_key="test")
    ddb, s3, sqs, sm = (boto3.client(s, **kw) for s in ("dynamodb", "s3", "sqs", "secretsmanager"))
    spec = json.loads((ROOT / "infra/table.json").read_text())
    table = f"bench-cold-{run}"
    ddb.create_table(
        TableName=table,
        AttributeDefinitions=spec["AttributeDefinitions"],
        KeySchema=spec["KeySchema"],
        GlobalSecondaryIndexes=spec.get("GlobalSecondaryIndexes", []),
        BillingMode=spec.get("BillingMode", "PAY_PER_REQUEST"),
    )
    bucket = f"bench-cold-{run}"
    s3.create_bucket(Bucket=bucket)

    def queue(name, fifo):
        attrs = {"FifoQueue": "true"} if fifo else {}
        suffix = ".fifo" if fifo else ""
        dlq = sqs.create_queue(QueueName=f"{name}-dlq{suffix}", Attributes=attrs)["QueueUrl"]
        dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        redrive = json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": "4"})
        url = sqs.create_queue(
            QueueName=f"{name}{suffix}", Attributes=dict(attrs, VisibilityTimeout="180", RedrivePolicy=redrive)
        )["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        return url, arn

    imports = queue(f"bench-cold-{run}", True)
    bulk = queue(f"bench-cold-{run}-bulk", True)
    events = queue(f"bench-cold-{run}-import-events", False)
    names = {}
    for key, value in (("jwt-secret", JWT), ("gateway-app-secret", GATEWAY_SECRET), ("super-admin-password", PASSWORD)):
        names[key] = f"bench-{run}/{key}"
        sm.create_secret(Name=names[key], SecretString=value)
    env = {
        "CMP_TABLE": table,
        "CMP_BUCKET": bucket,
        "CMP_IMPORT_QUEUE_URL": imports[0],
        "CMP_BULK_QUEUE_URL": bulk[0],
        "CMP_IMPORT_EVENTS_QUEUE_URL": events[0],
        "CMP_JWT_SECRET_ID": names["jwt-secret"],
        "CMP_GATEWAY_SECRET_ID": names["gateway-app-secret"],
        "CMP_GATEWAY_URL": "",
        "CMP_GATEWAY_APP_ID": "",
        "CMP_GATEWAY_TIMEOUT_MS": "6000",
        "CMP_SUPER_ADMIN_USERNAME": "admin",
        "CMP_SUPER_ADMIN_SECRET_ID": names["super-admin-password"],
        "CMP_AWS_ENDPOINT": endpoint,
    }
    if os.environ.get("SECRETS") == "env":
        # The values themselves, as the dev server takes them: no Secrets Manager read.
        for var in ("CMP_JWT_SECRET_ID", "CMP_GATEWAY_SECRET_ID", "CMP_SUPER_ADMIN_SECRET_ID"):
            del env[var]
        env.update(CMP_JWT_SECRET=JWT, CMP_GATEWAY_APP_SECRET=GATEWAY_SECRET, CMP_SUPER_ADMIN_PASSWORD=PASSWORD)
    return env, {"import": imports[1], "bulk": bulk[1], "events": events[1]}


def lambda_env(name, memory):
    """What the Lambda service sets in a provided.al2023 function's environment."""
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "AWS_ACCESS_KEY_ID": "test",
        "AWS_SECRET_ACCESS_KEY": "test",
        "AWS_SESSION_TOKEN": "test",
        "AWS_REGION": "us-east-1",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_EC2_METADATA_DISABLED": "true",
        "AWS_LAMBDA_FUNCTION_NAME": name,
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(memory),
        "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{name}",
        "AWS_LAMBDA_LOG_STREAM_NAME": "2026/12/01/[$LATEST]bench",
        "AWS_LAMBDA_LOG_FORMAT": "JSON",
        "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
        "_HANDLER": "bootstrap",
        "LAMBDA_TASK_ROOT": "/var/task",
        "RUST_LOG": "info",
    }


def main():
    bin_dir = Path(sys.argv[1])
    endpoint = sys.argv[2]
    runs = int(sys.argv[3]) if len(sys.argv) > 3 else 5
    run = str(int(time.time()))
    own, arns = setup(endpoint, run)

    def env_for(name):
        return dict(lambda_env(name, 256), **own)

    # The first admin-auth start seeds the super admin; its login gives the token
    # every other HTTP function's request carries.
    login = http_event("POST", "/api/admin/login", body={"username": "admin", "password": PASSWORD})
    first = run_once(bin_dir / "admin-auth", env_for("admin-auth"), login)
    reply = json.loads(json.loads(first.response)["body"])
    if reply.get("code") != 0:
        raise SystemExit(f"login failed: {reply}")
    token = reply["data"]["access_token"]

    def get(path, query="page=1&page_size=20"):
        return http_event("GET", path, query, token=token)

    cases = [
        ("hello-cold-start", {"bench": True}),
        ("health", http_event("GET", "/health")),
        ("admin-auth", login),
        ("admin-accounts", get("/api/admin/accounts")),
        ("admin-roles", get("/api/admin/roles")),
        ("admin-shops", get("/api/admin/shops")),
        ("admin-enterprises", get("/api/admin/enterprises")),
        ("admin-carriers", get("/api/admin/carriers")),
        ("admin-package-series", get("/api/admin/package-series")),
        ("admin-packages", get("/api/admin/packages")),
        ("admin-shop-series-grants", get("/api/admin/shop-series-grants")),
        ("admin-agent-recharges", get("/api/admin/agent-recharges")),
        ("admin-iot-cards", get("/api/admin/iot-cards")),
        ("admin-devices", get("/api/admin/devices")),
        ("admin-asset-allocations", get("/api/admin/asset-allocation-records")),
        ("admin-storage", get("/api/admin/storage/download-url", "file_key=uploads/iot_card_import/1/a.csv")),
        ("admin-assets", get("/api/admin/assets/resolve/89860012345678901234", "")),
        ("grant-sweeper", scheduled_event()),
        ("import-worker", sqs_event(arns["import"], {"task_id": 999999, "offset": 0})),
        ("bulk-worker", sqs_event(arns["bulk"], {"task_id": 999999, "slice": 0})),
    ]
    only = [n for n in os.environ.get("ONLY", "").split(",") if n]
    if only:
        cases = [c for c in cases if c[0] in only or c[0] == "hello-cold-start"]
    rows = []
    for name, event in cases:
        binary = bin_dir / name
        env = env_for(name)
        run_once(binary, env, event)  # warms the page cache; not counted
        samples = [run_once(binary, env, event) for _ in range(runs)]
        out = json.loads(samples[-1].response or b"{}")
        status = "ok"
        if isinstance(out, dict) and "statusCode" in out:
            status = f"HTTP {out['statusCode']}, code {json.loads(out['body']).get('code')}"
        elif isinstance(out, dict) and "batchItemFailures" in out:
            status = f"{len(out['batchItemFailures'])} of 1 message failed"
        rows.append(
            (
                name,
                statistics.median(s.init_ms for s in samples),
                statistics.median(s.invoke_ms for s in samples),
                status,
            )
        )
        print(f"  {name}: init {rows[-1][1]:.1f} ms, first invocation {rows[-1][2]:.1f} ms", file=sys.stderr)

    hello = rows[0][1]
    print(f"\nmedian of {runs} cold starts per function (x86_64 release build, this machine)\n")
    print(f"| function | init (ms) | init / hello | first invocation (ms) | init + invocation (ms) | answer |")
    print("|---|---:|---:|---:|---:|---|")
    for name, init, invoke, status in rows:
        print(f"| {name} | {init:.1f} | {init / hello:.2f}x | {invoke:.1f} | {init + invoke:.1f} | {status} |")


if __name__ == "__main__":
    main()
