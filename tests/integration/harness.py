"""Test harness for the sluice integration and crash tests.

Starts build/sluice (or $SLUICE_BIN) on a free loopback port with a fresh
temporary data directory, waits for GET /health, hands out boto3 clients, and
can restart (SIGTERM), kill -9, and move the server's debug clock.

Set SLUICE_ENDPOINT=http://127.0.0.1:PORT to run the tests against a server
that is already running (for example kinesalite, to check the tests
themselves). In that mode nothing is started and every test that needs to
restart or kill the server, move its clock or pass it flags is skipped.

Set SLUICE_KEEP_TMP=1 to keep the temporary data directories and server logs.
"""

import atexit
import base64
import hashlib
import http.client
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import unittest
import urllib.parse
import uuid
from pathlib import Path

import boto3
import botocore.config
from botocore.exceptions import ClientError

REPO = Path(__file__).resolve().parents[2]
SLUICE_BIN = os.path.abspath(os.environ.get("SLUICE_BIN") or str(REPO / "build" / "sluice"))
EXTERNAL_ENDPOINT = os.environ.get("SLUICE_ENDPOINT") or None
REGION = "us-east-1"
ACCOUNT_ID = "000000000000"
ACCESS_KEY = "AKID"
SECRET_KEY = "secret"
HEALTH_TIMEOUT_S = 20.0
STOP_TIMEOUT_S = 15.0

HASH_MAX = 2**128 - 1

_live_servers = set()


def _cleanup_all():
    for srv in list(_live_servers):
        try:
            srv.stop(check=False)
        except Exception:
            pass


atexit.register(_cleanup_all)


def external():
    """True when the tests run against an already running endpoint."""
    return EXTERNAL_ENDPOINT is not None


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ServerError(RuntimeError):
    pass


class Server:
    """One sluice process (or a handle on an external endpoint).

    server = Server(extra_args=[...]); server.start(); ...; server.stop()
    """

    def __init__(self, extra_args=(), needs_local=False, name="sluice"):
        self.extra_args = list(extra_args)
        self.needs_local = needs_local or bool(self.extra_args)
        self.name = name
        self.proc = None
        self.killed = False  # True after kill9(), until the next start()
        self.tmpdir = None
        self.data_dir = None
        self.log_path = None
        self.port = None
        self.host = "127.0.0.1"
        if external():
            u = urllib.parse.urlparse(EXTERNAL_ENDPOINT)
            self.host = u.hostname
            self.port = u.port or 80

    # ---- properties -------------------------------------------------------
    @property
    def local(self):
        return not external()

    @property
    def endpoint(self):
        if external():
            return EXTERNAL_ENDPOINT.rstrip("/")
        return "http://%s:%d" % (self.host, self.port)

    def require_local(self, what="this test"):
        """Skip the calling test when running against an external endpoint."""
        if external():
            raise unittest.SkipTest("%s needs a sluice started by the harness "
                                    "(SLUICE_ENDPOINT is set)" % what)

    # ---- lifecycle --------------------------------------------------------
    def start(self):
        if external():
            if self.needs_local:
                raise unittest.SkipTest("needs server flags %r; SLUICE_ENDPOINT is set"
                                        % (self.extra_args,))
            return self
        if self.proc is not None and self.proc.poll() is None:
            raise ServerError("server already running")
        if not os.path.exists(SLUICE_BIN):
            raise ServerError("sluice binary not found at %s (build it, or set SLUICE_BIN, "
                              "or SLUICE_ENDPOINT for an external server)" % SLUICE_BIN)
        if self.tmpdir is None:
            self.tmpdir = tempfile.mkdtemp(prefix="sluice-test-")
            self.data_dir = os.path.join(self.tmpdir, "data")
            os.makedirs(self.data_dir)
            self.log_path = os.path.join(self.tmpdir, "sluice.log")
        if self.port is None:
            self.port = free_port()
        args = [SLUICE_BIN, "--listen", "%s:%d" % (self.host, self.port),
                "--data-dir", self.data_dir, "--workers", "2", "--debug-clock"]
        args += self.extra_args
        with open(self.log_path, "ab") as log:
            log.write(("\n==== %s: %s\n" % (time.strftime("%H:%M:%S"), " ".join(args))).encode())
            log.flush()
            self.proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=log,
                                         stderr=subprocess.STDOUT, cwd=self.tmpdir)
        _live_servers.add(self)
        self.killed = False
        try:
            self._wait_healthy()
        except BaseException:
            self._kill()
            self.killed = True  # already reported; stop() need not report it again
            raise
        return self

    def _wait_healthy(self):
        deadline = time.monotonic() + HEALTH_TIMEOUT_S
        last = None
        while time.monotonic() < deadline:
            rc = self.proc.poll()
            if rc is not None:
                raise ServerError("sluice exited with status %s before becoming healthy\n%s"
                                  % (rc, self.log_tail()))
            try:
                conn = http.client.HTTPConnection(self.host, self.port, timeout=1)
                conn.request("GET", "/health")
                resp = conn.getresponse()
                resp.read()
                conn.close()
                if resp.status == 200:
                    return
                last = "GET /health answered %d" % resp.status
            except (OSError, http.client.HTTPException) as e:
                last = repr(e)
            time.sleep(0.05)
        raise ServerError("sluice did not become healthy within %.0f s (%s)\n%s"
                          % (HEALTH_TIMEOUT_S, last, self.log_tail()))

    def log_tail(self, nbytes=6000):
        if not self.log_path or not os.path.exists(self.log_path):
            return "(no server log)"
        with open(self.log_path, "rb") as f:
            f.seek(0, os.SEEK_END)
            size = f.tell()
            f.seek(max(0, size - nbytes))
            data = f.read().decode("utf-8", "replace")
        return "---- server log (%s, last %d bytes) ----\n%s\n---- end of server log ----" % (
            self.log_path, min(size, nbytes), data)

    def sanitizer_report(self):
        """A ServerError when the server log holds an ASan/UBSan report."""
        if not self.log_path or not os.path.exists(self.log_path):
            return None
        with open(self.log_path, "rb") as f:
            text = f.read().decode("utf-8", "replace")
        for marker in ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:"):
            if marker in text:
                return ServerError("sanitizer report in the server log (%s)\n%s"
                                   % (marker, self.log_tail(20000)))
        return None

    def _kill(self):
        if self.proc is not None and self.proc.poll() is None:
            try:
                self.proc.kill()
            except OSError:
                pass
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                pass

    def terminate(self):
        """SIGTERM and wait; raise ServerError unless the server exits 0 in time."""
        if external() or self.proc is None:
            return
        if self.proc.poll() is not None:
            rc = self.proc.returncode
            raise ServerError("sluice had already exited with status %s\n%s" % (rc, self.log_tail()))
        self.proc.send_signal(signal.SIGTERM)
        try:
            rc = self.proc.wait(STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            self._kill()
            raise ServerError("sluice did not exit within %.0f s of SIGTERM\n%s"
                              % (STOP_TIMEOUT_S, self.log_tail()))
        if rc != 0:
            raise ServerError("sluice exited with status %s after SIGTERM\n%s" % (rc, self.log_tail()))

    def restart(self):
        """SIGTERM, wait for a clean exit, start again on the same data dir and port."""
        self.require_local("restart")
        self.terminate()
        return self.start()

    def kill9(self):
        """SIGKILL the server and wait for it (no clean shutdown)."""
        self.require_local("kill -9")
        if self.proc is None or self.proc.poll() is not None:
            raise ServerError("kill9: server is not running\n%s" % self.log_tail())
        os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait(10)
        self.killed = True

    def running(self):
        if external():
            return True
        return self.proc is not None and self.proc.poll() is None

    def stop(self, check=True):
        """Stop the server (SIGTERM, then SIGKILL) and remove the temp dir.

        With check=True a server that does not exit 0 on SIGTERM raises."""
        if external():
            return
        err = None
        try:
            if self.proc is not None and self.proc.poll() is None:
                try:
                    self.terminate()
                except ServerError as e:
                    err = e
            elif self.proc is not None and not self.killed:
                err = ServerError("sluice died during the tests (exit status %s)\n%s"
                                  % (self.proc.returncode, self.log_tail()))
            if err is None:
                err = self.sanitizer_report()
        finally:
            self._kill()
            _live_servers.discard(self)
            if self.tmpdir and not os.environ.get("SLUICE_KEEP_TMP") and err is None:
                shutil.rmtree(self.tmpdir, ignore_errors=True)
                self.tmpdir = None
            elif self.tmpdir:
                print("sluice temp dir kept: %s" % self.tmpdir)
        if err is not None and check:
            raise err

    # ---- debug clock ------------------------------------------------------
    def advance_clock(self, ms):
        """Move the server clock forward by ms milliseconds; returns now_ms."""
        self.require_local("the debug clock")
        status, body = self.raw_request("POST", "/_sluice/clock",
                                        json.dumps({"advance_ms": int(ms)}).encode(),
                                        {"Content-Type": "application/json"})
        if status != 200:
            raise ServerError("POST /_sluice/clock answered %d: %r" % (status, body[:500]))
        return json.loads(body)["now_ms"]

    def raw_request(self, method, path, body=None, headers=None, timeout=10):
        conn = http.client.HTTPConnection(self.host, self.port, timeout=timeout)
        try:
            conn.request(method, path, body=body, headers=headers or {})
            resp = conn.getresponse()
            return resp.status, resp.read()
        finally:
            conn.close()

    # ---- clients ----------------------------------------------------------
    def client(self, service="kinesis", **config):
        """A boto3 client for this server; extra botocore Config options as kwargs.

        No retries: in botocore, retries={'max_attempts': 1} still means one retry
        (max_attempts counts retries, total_max_attempts counts attempts), which
        would hide throttling and dropped connections."""
        cfg = dict(retries={"total_max_attempts": 1}, connect_timeout=5, read_timeout=60)
        cfg.update(config)
        session = boto3.session.Session(aws_access_key_id=ACCESS_KEY,
                                        aws_secret_access_key=SECRET_KEY,
                                        region_name=REGION)
        return session.client(service, endpoint_url=self.endpoint,
                              config=botocore.config.Config(**cfg))

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop(check=exc[0] is None)


def server_for_class(cls, extra_args=(), needs_local=False):
    """setUpClass helper: start a server and register its cleanup on the class.

    The cleanup runs even when setUpClass fails later on."""
    srv = Server(extra_args=extra_args, needs_local=needs_local, name=cls.__name__)
    cls.addClassCleanup(srv.stop)
    srv.start()
    return srv


# ---- helpers used by several test files --------------------------------------

def kill9_under_load(srv, stop, threads, service="sqs"):
    """kill -9 the server while threads load it, then stop them (stop is
    their threading.Event), start the server again and return a new client."""
    srv.kill9()
    stop.set()
    for t in threads:
        t.join(10)
    srv.start()
    return srv.client(service)


def unique_name(prefix="s"):
    return "%s-%s" % (prefix, uuid.uuid4().hex[:10])


def stream_arn(name, region=REGION, account=ACCOUNT_ID):
    return "arn:aws:kinesis:%s:%s:stream/%s" % (region, account, name)


def md5_hash_key(partition_key):
    return int.from_bytes(hashlib.md5(partition_key.encode("utf-8")).digest(), "big")


def wait_active(client, name=None, arn=None, timeout=20.0):
    """Poll DescribeStreamSummary until the stream is ACTIVE; returns the summary."""
    deadline = time.monotonic() + timeout
    kw = {"StreamARN": arn} if arn else {"StreamName": name}
    last = None
    while time.monotonic() < deadline:
        last = client.describe_stream_summary(**kw)["StreamDescriptionSummary"]
        if last["StreamStatus"] == "ACTIVE":
            return last
        time.sleep(0.05)
    raise AssertionError("stream %s not ACTIVE after %.0f s (last status %s)"
                         % (name or arn, timeout, last and last["StreamStatus"]))


def create_stream(client, name, shards=1, **kw):
    client.create_stream(StreamName=name, ShardCount=shards, **kw)
    return wait_active(client, name)


def list_all_shards(client, name, **kw):
    shards, token = [], None
    for _ in range(1000):
        if token:
            out = client.list_shards(NextToken=token)
        else:
            out = client.list_shards(StreamName=name, **kw)
        shards += out["Shards"]
        token = out.get("NextToken")
        if not token:
            return shards
    raise AssertionError("ListShards did not finish paging")


def read_shard(client, shard_id, name=None, arn=None, iterator_type="TRIM_HORIZON",
               limit=10000, max_calls=500, timeout=60.0, **it_kw):
    """Read one shard from an iterator position to its current end.

    Stops when a GetRecords call returns no records and MillisBehindLatest is 0,
    or when the shard is closed and fully read (no NextShardIterator).
    Returns (records, last_response)."""
    kw = {"StreamARN": arn} if arn else {"StreamName": name}
    it = client.get_shard_iterator(ShardId=shard_id, ShardIteratorType=iterator_type,
                                   **kw, **it_kw)["ShardIterator"]
    records = []
    deadline = time.monotonic() + timeout
    out = None
    for _ in range(max_calls):
        if time.monotonic() > deadline:
            break
        out = client.get_records(ShardIterator=it, Limit=limit)
        records += out["Records"]
        it = out.get("NextShardIterator")
        if it is None:
            return records, out
        if not out["Records"] and out.get("MillisBehindLatest", 0) == 0:
            return records, out
    raise AssertionError("reading shard %s did not reach the end within %d calls / %.0f s"
                         % (shard_id, max_calls, timeout))


def error_of(exc):
    """(code, http status) of a botocore ClientError."""
    return exc.response["Error"]["Code"], exc.response["ResponseMetadata"]["HTTPStatusCode"]


class KinesisTestCase(unittest.TestCase):
    """unittest.TestCase with error assertions for AWS calls."""

    def assertAwsError(self, codes, fn, *args, status=400, **kw):
        """Call fn and check it raises a ClientError with one of codes and HTTP status."""
        if isinstance(codes, str):
            codes = (codes,)
        try:
            out = fn(*args, **kw)
        except ClientError as e:
            code, st = error_of(e)
            self.assertIn(code, codes, "wrong error code (message: %s)" % e.response["Error"].get("Message"))
            if status is not None:
                self.assertEqual(st, status, "wrong HTTP status for %s" % code)
            return e
        out = dict(out or {})
        out.pop("ResponseMetadata", None)
        self.fail("expected %s, but the call succeeded: %.300r" % ("/".join(codes), out))


def b64(data):
    return base64.b64encode(data).decode()


# ---- the older client generation (Debian's python3-boto3) ---------------------

DEBIAN_PYTHON = "/usr/bin/python3"


def debian_boto3():
    """Whether Debian's python3 with its boto3 (botocore 1.29, query
    protocol for SQS) is on this machine."""
    if not os.path.exists(DEBIAN_PYTHON):
        return False
    return subprocess.run([DEBIAN_PYTHON, "-c", "import boto3"], capture_output=True).returncode == 0


def run_debian_python(script, *args, timeout=120):
    """Run script with Debian's python3, outside this interpreter's
    environment; returns the CompletedProcess (text)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "PYENV"))}
    return subprocess.run([DEBIAN_PYTHON, "-c", script] + [str(a) for a in args],
                          capture_output=True, text=True, timeout=timeout, env=env)


def check_debian_script(test, script, marker, endpoint, prefix):
    """Run script with Debian's python3 against endpoint, with a fresh name
    made from prefix; the test fails unless it exits 0 and prints marker."""
    r = run_debian_python(script, endpoint, unique_name(prefix))
    test.assertEqual(r.returncode, 0, r.stdout + r.stderr)
    test.assertIn(marker, r.stdout)
