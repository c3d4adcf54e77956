"""Kinesis records over UDP (docs/ingest-protocol.md), socket driver: a
producer written here from the spec alone (struct, no sluice code) puts
records and reads its acknowledgements; GetRecords returns the same records
under the acknowledged shard and sequence numbers; a retransmission is
stored once and answered again; bad datagrams get the spec's statuses or no
answer; kill -9 loses no acknowledged record."""

import hashlib
import hmac
import os
import random
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
import unittest

import harness
from harness import unique_name

HDR = "<IBBHQQQHBB"
MAGIC = 0x49554C53
PUT, PUT_ACK, LOOKUP, LOOKUP_ACK = 1, 2, 3, 4
OK, UNKNOWN_STREAM, MALFORMED, STALE, INVALID, UNSUPPORTED = 0, 1, 3, 6, 8, 9
DUPLICATE = 2


def datagram(type_, producer, seq, name=b"", stream_id=0, records=(), version=1, count=None):
    body = b""
    for key, data in records:
        body += struct.pack("<BBHI", 0, 0, len(key), len(data)) + key + data
    n = len(records) if count is None else count
    return struct.pack(HDR, MAGIC, version, type_, 0, producer, seq, stream_id, n, 0,
                       len(name)) + name + body


def parse_ack(b):
    (magic, version, type_, flags, producer, seq, stream_id, count, status,
     name_len) = struct.unpack_from(HDR, b)
    assert magic == MAGIC
    runs = [struct.unpack_from("<BBHIQ", b, 36 + 16 * i) for i in range(count)
            if type_ == PUT_ACK]
    return {"type": type_, "flags": flags, "producer": producer, "seq": seq,
            "stream_id": stream_id, "count": count, "status": status,
            "runs": [(r[0], r[2], r[3], r[4]) for r in runs]}


def expand(runs):
    """(status, shard, n) for each record, in order."""
    out = []
    for status, run, shard, first in runs:
        for k in range(run):
            out.append((status, shard, first + k if status == OK else 0))
    return out


def seq_string(shard, n):
    return "49%010d%020d" % (shard, n)


class UdpIngestTest(harness.KinesisTestCase):
    @classmethod
    def setUpClass(cls):
        cls.udp_port = harness.free_port()
        cls.server = harness.server_for_class(cls, extra_args=[
            "--ingest-port", str(cls.udp_port)])
        cls.kin = cls.server.client("kinesis")

    def setUp(self):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.settimeout(5)
        self.producer = random.getrandbits(63)

    def tearDown(self):
        self.sock.close()

    def ask(self, dg, expect_answer=True):
        self.sock.sendto(dg, ("127.0.0.1", self.udp_port))
        if not expect_answer:
            self.sock.settimeout(0.5)
            with self.assertRaises(socket.timeout):
                self.sock.recv(70000)
            self.sock.settimeout(5)
            return None
        return parse_ack(self.sock.recv(70000))

    def stream(self, shards=2):
        name = unique_name("udp")
        harness.create_stream(self.kin, name, shards=shards)
        return name

    def records_of(self, name):
        got = {}
        for sh in harness.list_all_shards(self.kin, name):
            recs, _ = harness.read_shard(self.kin, sh["ShardId"], name=name)
            for r in recs:
                got[r["SequenceNumber"]] = (sh["ShardId"], r["PartitionKey"], r["Data"])
        return got

    def test_records_are_acknowledged_with_what_getrecords_returns(self):
        name = self.stream(shards=4)
        recs = [(b"key-%d" % i, b"data %d" % i) for i in range(50)]
        recs.insert(7, (b"", b"no key"))  # refused alone: INVALID
        a = self.ask(datagram(PUT, self.producer, 1, name=name.encode(), records=recs))
        self.assertEqual((a["type"], a["status"], a["producer"], a["seq"]),
                         (PUT_ACK, OK, self.producer, 1))
        self.assertEqual(a["flags"], 0)
        per = expand(a["runs"])
        self.assertEqual(len(per), len(recs))
        self.assertEqual(per[7][0], INVALID)
        stored = self.records_of(name)
        self.assertEqual(len(stored), 50)
        for (key, data), (status, shard, n) in zip(recs, per):
            if not key:
                continue
            self.assertEqual(status, OK)
            seq = seq_string(shard, n)
            self.assertIn(seq, stored)
            self.assertEqual(stored[seq], ("shardId-%012d" % shard, key.decode(), data))
        # The shard is Kinesis's: the MD5 of the key picks it.
        shards = {s["ShardId"]: s for s in harness.list_all_shards(self.kin, name)}
        for (key, _), (status, shard, _) in zip(recs, per):
            if status == OK:
                r = shards["shardId-%012d" % shard]["HashKeyRange"]
                h = harness.md5_hash_key(key.decode())
                self.assertTrue(int(r["StartingHashKey"]) <= h <= int(r["EndingHashKey"]))
        # By id, as the lookup and the acknowledgement give it.
        lk = self.ask(datagram(LOOKUP, self.producer, 2, name=name.encode()))
        self.assertEqual((lk["type"], lk["status"], lk["count"]), (LOOKUP_ACK, OK, 4))
        self.assertEqual(lk["stream_id"], a["stream_id"])
        b = self.ask(datagram(PUT, self.producer, 3, stream_id=lk["stream_id"],
                              records=[(b"by-id", b"x")]))
        self.assertEqual(b["status"], OK)
        (status, shard, n), = expand(b["runs"])
        self.assertEqual(self.records_of(name)[seq_string(shard, n)][1:], ("by-id", b"x"))

    def test_a_retransmission_is_stored_once_and_answered_again(self):
        name = self.stream()
        dg = datagram(PUT, self.producer, 41, name=name.encode(),
                      records=[(b"k%d" % i, b"v%d" % i) for i in range(5)])
        first = self.ask(dg)
        for _ in range(3):
            again = self.ask(dg)
            self.assertEqual(again["flags"] & DUPLICATE, DUPLICATE)
            self.assertEqual(again["runs"], first["runs"])
        self.assertEqual(len(self.records_of(name)), 5)
        # Numbers far behind the newest are stale: nothing is stored.
        self.ask(datagram(PUT, self.producer, 5000, name=name.encode(), records=[(b"a", b"")]))
        st = self.ask(datagram(PUT, self.producer, 42, name=name.encode(),
                               records=[(b"old", b"")]))
        self.assertEqual((st["status"], st["runs"]), (STALE, []))
        self.assertEqual(len(self.records_of(name)), 6)

    def test_bad_datagrams_get_the_specs_answers(self):
        name = self.stream()
        p = self.producer
        a = self.ask(datagram(PUT, p, 1, name=b"no-such-stream", records=[(b"k", b"")]))
        self.assertEqual((a["status"], a["runs"]), (UNKNOWN_STREAM, []))
        a = self.ask(datagram(PUT, p, 2, stream_id=999999, records=[(b"k", b"")]))
        self.assertEqual(a["status"], UNKNOWN_STREAM)
        a = self.ask(datagram(LOOKUP, p, 3, name=b"no-such-stream"))
        self.assertEqual((a["type"], a["status"]), (LOOKUP_ACK, UNKNOWN_STREAM))
        a = self.ask(datagram(PUT, p, 4, name=name.encode(), records=[(b"k", b"v")], count=2))
        self.assertEqual((a["status"], a["producer"], a["seq"]), (MALFORMED, p, 4))
        a = self.ask(datagram(PUT, p, 5, name=name.encode(), records=[(b"k", b"v")],
                              version=2))
        self.assertEqual(a["status"], UNSUPPORTED)
        # Not the protocol, or an answer: no reply at all.
        self.ask(b"hello", expect_answer=False)
        self.ask(b"\x00" * 64, expect_answer=False)
        self.ask(struct.pack(HDR, MAGIC, 1, PUT_ACK, 0, p, 6, 0, 0, 0, 0), expect_answer=False)
        self.assertEqual(self.records_of(name), {})
        m = self.server.raw_request("GET", "/metrics")[1].decode()
        vals = {l.split(" ")[0]: float(l.split(" ")[1]) for l in m.splitlines()
                if l.startswith("sluice_udp_")}
        self.assertGreaterEqual(vals["sluice_udp_malformed_total"], 4)
        self.assertGreaterEqual(vals["sluice_udp_unknown_stream_total"], 3)


class UdpIngestAuthTest(harness.KinesisTestCase):
    """--ingest-keys: only datagrams signed with their producer's key are
    answered (and stored), and the answers are signed with it."""

    KEY = bytes(range(32))

    @classmethod
    def setUpClass(cls):
        cls.udp_port = harness.free_port()
        tmp = tempfile.mkdtemp(prefix="sluice-keys-")
        cls.addClassCleanup(shutil.rmtree, tmp)
        path = os.path.join(tmp, "ingest-keys")
        with open(path, "w") as f:
            f.write("# producer secret\n11 %s\n12 %s  # another\n"
                    % (cls.KEY.hex(), b"other key".hex()))
        cls.server = harness.server_for_class(cls, extra_args=[
            "--ingest-port", str(cls.udp_port), "--ingest-keys", path])
        cls.kin = cls.server.client("kinesis")

    def signed(self, dg, key):
        flags = struct.unpack_from("<H", dg, 6)[0] | 1
        dg = dg[:6] + struct.pack("<H", flags) + dg[8:]
        return dg + hmac.new(key, dg, hashlib.sha256).digest()

    def setUp(self):
        # One socket, as the spec asks of a producer: its window lives on
        # the worker its flow (source port) hashes to.
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.settimeout(0.7)

    def tearDown(self):
        self.sock.close()

    def exchange(self, dg):
        try:
            self.sock.sendto(dg, ("127.0.0.1", self.udp_port))
            return self.sock.recv(70000)
        except socket.timeout:
            return None

    def test_only_signed_datagrams_are_answered_and_answers_are_signed(self):
        name = unique_name("udpa")
        harness.create_stream(self.kin, name, shards=1)
        put = datagram(PUT, 11, 1, name=name.encode(), records=[(b"k", b"signed")])
        self.assertIsNone(self.exchange(put), "unsigned: no answer")
        self.assertIsNone(self.exchange(self.signed(put, b"wrong")), "wrong key: no answer")
        other = datagram(PUT, 13, 1, name=name.encode(), records=[(b"k", b"x")])
        self.assertIsNone(self.exchange(self.signed(other, self.KEY)), "no key for 13")
        tampered = bytearray(self.signed(put, self.KEY))
        tampered[-40] ^= 1  # a byte of the data
        self.assertIsNone(self.exchange(bytes(tampered)))
        self.assertEqual(harness.read_shard(self.kin, "shardId-000000000000", name=name)[0], [])
        good = self.signed(put, self.KEY)
        for dup in (False, True):
            ack = self.exchange(good)
            self.assertIsNotNone(ack)
            body, tag = ack[:-32], ack[-32:]
            self.assertEqual(tag, hmac.new(self.KEY, body, hashlib.sha256).digest())
            a = parse_ack(body)
            self.assertEqual((a["status"], a["flags"] & 1, bool(a["flags"] & DUPLICATE)),
                             (OK, 1, dup))
        recs, _ = harness.read_shard(self.kin, "shardId-000000000000", name=name)
        self.assertEqual([r["Data"] for r in recs], [b"signed"])
        m = self.server.raw_request("GET", "/metrics")[1].decode()
        self.assertIn("sluice_udp_unauthenticated_total 4", m)


# Run inside a network namespace whose loopback has Ethernet's MTU, so that
# a datagram over 1,472 bytes travels as IP fragments: the server must
# refuse it (and count it), and take one that fits.
FRAGMENT_SCRIPT = r"""
import json, os, socket, struct, subprocess, sys, tempfile, time, urllib.request
sys.path.insert(0, sys.argv[1])
from test_udp_ingest import datagram, parse_ack, PUT, OK
d = tempfile.mkdtemp()
srv = subprocess.Popen([os.environ["SLUICE_BIN"], "--listen", "127.0.0.1:14566", "--data-dir", d,
                        "--workers", "2", "--ingest-port", "14569"],
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
try:
    for _ in range(100):
        try:
            urllib.request.urlopen("http://127.0.0.1:14566/metrics", timeout=1).read()
            break
        except OSError:
            time.sleep(0.1)
    req = urllib.request.Request("http://127.0.0.1:14566/", method="POST", headers={
        "X-Amz-Target": "Kinesis_20131202.CreateStream",
        "Content-Type": "application/x-amz-json-1.1"},
        data=json.dumps({"StreamName": "frag", "ShardCount": 1}).encode())
    urllib.request.urlopen(req, timeout=5).read()
    time.sleep(0.3)
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.settimeout(1)
    sock.setsockopt(socket.IPPROTO_IP, 10, 0)  # IP_MTU_DISCOVER: IP_PMTUDISC_DONT, fragment
    sock.sendto(datagram(PUT, 5, 1, name=b"frag", records=[(b"k", b"x" * 3000)]),
                ("127.0.0.1", 14569))
    try:
        sock.recv(70000)
        sys.exit("a fragmented datagram was answered")
    except socket.timeout:
        pass
    sock.sendto(datagram(PUT, 5, 2, name=b"frag", records=[(b"k", b"x" * 1000)]),
                ("127.0.0.1", 14569))
    a = parse_ack(sock.recv(70000))
    if a["status"] != OK or a["runs"][0][0] != OK:
        sys.exit("the datagram that fits was not stored: %r" % a)
    m = urllib.request.urlopen("http://127.0.0.1:14566/metrics", timeout=5).read().decode()
    if "sluice_udp_fragments_total 1" not in m:
        sys.exit("fragments not counted: %s" % [l for l in m.splitlines() if "udp" in l])
finally:
    srv.terminate()
    srv.wait()
"""


class UdpIngestFragmentTest(harness.KinesisTestCase):
    def test_fragmented_datagrams_are_refused_and_counted(self):
        harness.Server().require_local("a namespaced server")
        if os.geteuid() != 0 or not shutil.which("ip"):
            self.skipTest("needs root and iproute2 for a network namespace")
        ns = "sluice-frag-%d" % os.getpid()
        if subprocess.run(["ip", "netns", "add", ns], capture_output=True).returncode:
            self.skipTest("cannot create a network namespace here")
        self.addCleanup(subprocess.run, ["ip", "netns", "del", ns], capture_output=True)
        subprocess.run(["ip", "netns", "exec", ns, "ip", "link", "set", "lo", "mtu", "1500",
                        "up"], check=True)
        out = subprocess.run(["ip", "netns", "exec", ns, sys.executable, "-c", FRAGMENT_SCRIPT,
                              os.path.dirname(os.path.abspath(__file__))],
                             env=dict(os.environ, SLUICE_BIN=harness.SLUICE_BIN),
                             capture_output=True, text=True, timeout=60)
        self.assertEqual(out.returncode, 0, out.stderr[-2000:])


class UdpIngestCrashTest(harness.KinesisTestCase):
    def test_kill9_under_load_loses_no_acknowledged_record(self):
        port = harness.free_port()
        with harness.Server(extra_args=["--ingest-port", str(port)], needs_local=True,
                            name="UdpIngestCrashTest") as srv:
            kin = srv.client("kinesis")
            name = unique_name("udpk")
            harness.create_stream(kin, name, shards=4)
            acked = {}
            lock = threading.Lock()
            stop = threading.Event()

            def producer_loop(k):
                # Four producers with up to 8 datagrams in flight each.
                sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                sock.settimeout(0.2)
                producer = random.getrandbits(63)
                sent = {}
                seq = 0
                while not stop.is_set():
                    while len(sent) < 8:
                        seq += 1
                        recs = [(b"p%d-%d-%d" % (k, seq, i), b"payload %d/%d" % (seq, i))
                                for i in range(10)]
                        sent[seq] = recs
                        sock.sendto(datagram(PUT, producer, seq, name=name.encode(),
                                             records=recs), ("127.0.0.1", port))
                    try:
                        a = parse_ack(sock.recv(70000))
                    except OSError:
                        sent.clear()  # after the kill, or a lost answer
                        continue
                    recs = sent.pop(a["seq"], None)
                    if recs is None or a["status"] != OK:
                        continue
                    with lock:
                        for (key, data), (status, shard, n) in zip(recs, expand(a["runs"])):
                            if status == OK:
                                acked[seq_string(shard, n)] = (key.decode(), data)
                sock.close()

            threads = [threading.Thread(target=producer_loop, args=(k,)) for k in range(4)]
            for t in threads:
                t.start()
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline:
                with lock:
                    if len(acked) >= 3000:
                        break
                time.sleep(0.05)
            srv.kill9()  # the producers are still sending
            stop.set()
            for t in threads:
                t.join()
            with lock:
                acked = dict(acked)
            self.assertGreaterEqual(len(acked), 3000)
            srv.start()
            kin = srv.client("kinesis")
            got = {}
            for sh in harness.list_all_shards(kin, name):
                recs, _ = harness.read_shard(kin, sh["ShardId"], name=name)
                got.update({r["SequenceNumber"]: (r["PartitionKey"], r["Data"]) for r in recs})
            missing = [s for s in acked if got.get(s) != acked[s]]
            self.assertEqual(missing, [], "%d of %d acknowledged records missing or changed"
                             % (len(missing), len(acked)))


if __name__ == "__main__":
    unittest.main()
