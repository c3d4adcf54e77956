#!/usr/bin/env python3
"""catalog_creates.py - metadata creates per second as the catalog grows.

Starts a sluice on a loopback port with a fresh data directory, creates N
streams (CreateStream, 1 shard, on-demand shards never touched) over one
keep-alive HTTP/1.1 connection, and prints creates/s for each block of
--block creates. A catalog whose every change costs O(size) shows falling
rates; the runtime v2 target is creates/s at 1M within 2x of creates/s at 0.

  benches/catalog_creates.py [--sluice build/sluice] [--count 20000] [--block 2000]
                             [--out benches/results/catalog-creates.md]

Only 127.0.0.1 is used; the server is stopped on exit.
"""

import argparse
import http.client
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_healthy(port, deadline_s=30):
    end = time.time() + deadline_s
    while time.time() < end:
        try:
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
            c.request("GET", "/health")
            if c.getresponse().status == 200:
                return
        except OSError:
            pass
        time.sleep(0.1)
    raise SystemExit("catalog_creates: sluice did not become healthy")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sluice", default=os.path.join(os.path.dirname(__file__), "..", "build", "sluice"))
    ap.add_argument("--count", type=int, default=20000)
    ap.add_argument("--block", type=int, default=2000)
    ap.add_argument("--out", default=None)
    args = ap.parse_args()

    tmp = tempfile.mkdtemp(prefix="sluice-catalog-bench-")
    port = free_port()
    proc = subprocess.Popen([args.sluice, "--listen", "127.0.0.1:%d" % port, "--data-dir",
                             os.path.join(tmp, "data"), "--workers", "1"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    rows = []
    try:
        wait_healthy(port)
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        headers = {"X-Amz-Target": "Kinesis_20131202.CreateStream",
                   "Content-Type": "application/x-amz-json-1.1"}
        t0 = time.perf_counter()
        for i in range(args.count):
            body = json.dumps({"StreamName": "s%08d" % i, "ShardCount": 1})
            conn.request("POST", "/", body, headers)
            resp = conn.getresponse()
            data = resp.read()
            if resp.status != 200:
                raise SystemExit("catalog_creates: create %d answered %d %s" % (i, resp.status, data[:200]))
            if (i + 1) % args.block == 0:
                t1 = time.perf_counter()
                rows.append((i + 1 - args.block, i + 1, args.block / (t1 - t0)))
                print("streams %7d..%7d: %8.1f creates/s" % rows[-1], flush=True)
                t0 = t1
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        shutil.rmtree(tmp, ignore_errors=True)
    if args.out and rows:
        with open(args.out, "w") as f:
            f.write("# Catalog: CreateStream per second as the catalog grows\n\n")
            f.write("- Date: %s UTC\n" % time.strftime("%Y-%m-%d %H:%M", time.gmtime()))
            f.write("- One keep-alive connection, one worker, `--durability sync`, 1 shard per stream.\n")
            f.write("- Each create is one round trip; the catalog is persisted before the reply.\n\n")
            f.write("| streams before | streams after | creates/s |\n|---:|---:|---:|\n")
            for a, b, r in rows:
                f.write("| %d | %d | %.1f |\n" % (a, b, r))
            f.write("\nRatio last/first block: %.2f\n" % (rows[-1][2] / rows[0][2]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
