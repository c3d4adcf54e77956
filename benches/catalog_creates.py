#!/usr/bin/env python3
"""catalog_creates.py - CreateStream per second as the catalog grows to a million streams.

Starts a sluice on a loopback port with a fresh data directory and creates
--count streams (1 shard each; shards are never touched, so no shard file is
made) from --connections concurrent keep-alive HTTP/1.1 connections, each
sending its next CreateStream when the last one is answered. Every answer
comes after the catalog batch holding the create is durable (group commit:
one fdatasync per batch of concurrent creates). The streams are spread over
regions (via the SigV4 credential scope), --per-region in each, to stay
under the account's open-shard limit per region.

Prints creates/s over each block of --block creates and writes the rows at
0, 100k, 500k and the last block to --out. The runtime v2 target: creates/s
at 1M within 2x of creates/s at 0.

  benches/catalog_creates.py [--sluice build/sluice] [--count 1000000] [--connections 64]
                             [--block 20000] [--per-region 16000]
                             [--out benches/results/catalog-creates.md]

Only 127.0.0.1 is used; the server is stopped on exit.
"""

import argparse
import asyncio
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


def wait_healthy(port, deadline_s=60):
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


def request(i, per_region):
    region = "bench-%03d" % (i // per_region)
    body = json.dumps({"StreamName": "s%08d" % i, "ShardCount": 1}).encode()
    head = ("POST / HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            "X-Amz-Target: Kinesis_20131202.CreateStream\r\n"
            "Content-Type: application/x-amz-json-1.1\r\n"
            "Authorization: AWS4-HMAC-SHA256 Credential=AKIDBENCH/20261202/%s/kinesis/aws4_request, "
            "SignedHeaders=host, Signature=00\r\n"
            "Content-Length: %d\r\n\r\n" % (region, len(body)))
    return head.encode() + body


async def client(port, state, args):
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    while True:
        i = state["next"]
        if i >= args.count:
            break
        state["next"] = i + 1
        writer.write(request(i, args.per_region))
        head = await reader.readuntil(b"\r\n\r\n")
        status = int(head.split(b" ", 2)[1])
        length = 0
        for line in head.split(b"\r\n"):
            if line.lower().startswith(b"content-length:"):
                length = int(line.split(b":", 1)[1])
        body = await reader.readexactly(length) if length else b""
        if status != 200:
            raise SystemExit("catalog_creates: create %d answered %d %s" % (i, status, body[:200]))
        state["done"] += 1
        if state["done"] % args.block == 0:
            t = time.perf_counter()
            rate = args.block / (t - state["t0"])
            state["t0"] = t
            state["rows"].append((state["done"] - args.block, state["done"], rate))
            print("streams %8d..%8d: %8.0f creates/s" % state["rows"][-1], flush=True)
    writer.close()


async def run(port, args):
    state = {"next": 0, "done": 0, "t0": time.perf_counter(), "rows": []}
    await asyncio.gather(*(client(port, state, args) for _ in range(args.connections)))
    return state["rows"]


def rss_mib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) // 1024
    return -1


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sluice", default=os.path.join(os.path.dirname(__file__), "..", "build", "sluice"))
    ap.add_argument("--count", type=int, default=1000000)
    ap.add_argument("--connections", type=int, default=64)
    ap.add_argument("--block", type=int, default=20000)
    ap.add_argument("--per-region", type=int, default=16000)
    ap.add_argument("--out", default=None)
    args = ap.parse_args()

    tmp = tempfile.mkdtemp(prefix="sluice-catalog-bench-", dir="/var/tmp")
    port = free_port()
    cmd = [args.sluice, "--listen", "127.0.0.1:%d" % port, "--data-dir", os.path.join(tmp, "data"),
           "--workers", "1"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_healthy(port)
        t0 = time.perf_counter()
        rows = asyncio.run(run(port, args))
        total = time.perf_counter() - t0
        rss = rss_mib(proc.pid)
        proc.terminate()
        proc.wait(timeout=60)
        # Recovery: start again on the same directory, time until /health.
        r0 = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_healthy(port, deadline_s=600)
        recovery = time.perf_counter() - r0
    finally:
        proc.terminate()
        proc.wait(timeout=60)
        shutil.rmtree(tmp, ignore_errors=True)
    print("total %.1f s; server RSS %d MiB; restart to healthy %.2f s" % (total, rss, recovery))
    if args.out and rows:
        pick = [r for r in rows if r[0] in (0, 100000, 500000)] + [rows[-1]]
        with open(args.out, "w") as f:
            f.write("# Catalog: CreateStream per second as the catalog grows\n\n")
            f.write("- Date: %s UTC, `benches/catalog_creates.py --count %d --connections %d`\n"
                    % (time.strftime("%Y-%m-%d %H:%M", time.gmtime()), args.count, args.connections))
            f.write("- One worker, `--durability sync`, 1 shard per stream, %d streams per region.\n"
                    % args.per_region)
            f.write("- Each create is answered once the catalog batch holding it is durable.\n\n")
            f.write("| streams before | streams after | creates/s |\n|---:|---:|---:|\n")
            for a, b, r in pick:
                f.write("| %d | %d | %.0f |\n" % (a, b, r))
            f.write("\nRatio last block / first block: %.2f (target: at least 0.5)\n"
                    % (rows[-1][2] / rows[0][2]))
            f.write("\nServer RSS with %d streams: %d MiB. Restart to healthy: %.2f s.\n"
                    % (args.count, rss, recovery))
    return 0


if __name__ == "__main__":
    sys.exit(main())
