"""Kinesis over the CBOR protocol (Content-Type application/x-amz-cbor-1.1).

This is what the AWS SDK for Java and the KCL speak to Kinesis by default. The
requests carry the same X-Amz-Target as JSON 1.1; blobs are CBOR byte strings
and timestamps are CBOR tag 1 wrapping epoch *milliseconds* (the Java SDK's
AwsCborProtocolFactory uses UNIX_TIMESTAMP_MILLIS for payload timestamps).
"""

import http.client
import os
import struct
import time
import unittest

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

import harness
from harness import read_shard, unique_name, wait_active

CBOR_CT = "application/x-amz-cbor-1.1"


# ---- a small CBOR codec (RFC 8949) --------------------------------------------

class Tag:
    def __init__(self, tag, value):
        self.tag, self.value = tag, value

    def __eq__(self, other):
        return isinstance(other, Tag) and (self.tag, self.value) == (other.tag, other.value)

    def __repr__(self):
        return "Tag(%d, %r)" % (self.tag, self.value)


def _head(major, n):
    if n < 24:
        return bytes([(major << 5) | n])
    if n < 0x100:
        return bytes([(major << 5) | 24, n])
    if n < 0x10000:
        return bytes([(major << 5) | 25]) + struct.pack(">H", n)
    if n < 0x100000000:
        return bytes([(major << 5) | 26]) + struct.pack(">I", n)
    return bytes([(major << 5) | 27]) + struct.pack(">Q", n)


def cbor_encode(v):
    if v is None:
        return b"\xf6"
    if v is True:
        return b"\xf5"
    if v is False:
        return b"\xf4"
    if isinstance(v, int):
        return _head(0, v) if v >= 0 else _head(1, -1 - v)
    if isinstance(v, float):
        return b"\xfb" + struct.pack(">d", v)
    if isinstance(v, (bytes, bytearray)):
        return _head(2, len(v)) + bytes(v)
    if isinstance(v, str):
        b = v.encode("utf-8")
        return _head(3, len(b)) + b
    if isinstance(v, (list, tuple)):
        return _head(4, len(v)) + b"".join(cbor_encode(x) for x in v)
    if isinstance(v, dict):
        return _head(5, len(v)) + b"".join(cbor_encode(k) + cbor_encode(x) for k, x in v.items())
    if isinstance(v, Tag):
        return _head(6, v.tag) + cbor_encode(v.value)
    raise TypeError("cannot CBOR-encode %r" % type(v))


class _Decoder:
    BREAK = object()

    def __init__(self, data):
        self.d, self.i = data, 0

    def take(self, n):
        if self.i + n > len(self.d):
            raise ValueError("truncated CBOR")
        b = self.d[self.i:self.i + n]
        self.i += n
        return b

    def arg(self, info):
        if info < 24:
            return info
        if info == 24:
            return self.take(1)[0]
        if info == 25:
            return struct.unpack(">H", self.take(2))[0]
        if info == 26:
            return struct.unpack(">I", self.take(4))[0]
        if info == 27:
            return struct.unpack(">Q", self.take(8))[0]
        if info == 31:
            return None  # indefinite
        raise ValueError("bad additional info %d" % info)

    def item(self):
        ib = self.take(1)[0]
        major, info = ib >> 5, ib & 31
        if major == 7:
            if info == 20:
                return False
            if info == 21:
                return True
            if info in (22, 23):
                return None
            if info == 25:
                return _half(struct.unpack(">H", self.take(2))[0])
            if info == 26:
                return struct.unpack(">f", self.take(4))[0]
            if info == 27:
                return struct.unpack(">d", self.take(8))[0]
            if info == 31:
                return self.BREAK
            if info < 24:
                return ("simple", info)
            return ("simple", self.take(1)[0])
        n = self.arg(info)
        if major == 0:
            return n
        if major == 1:
            return -1 - n
        if major in (2, 3):
            if n is None:
                parts = []
                while True:
                    p = self.item()
                    if p is self.BREAK:
                        break
                    parts.append(p)
                return b"".join(parts) if major == 2 else "".join(parts)
            raw = self.take(n)
            return raw if major == 2 else raw.decode("utf-8")
        if major == 4:
            out = []
            while n is None or len(out) < n:
                x = self.item()
                if x is self.BREAK:
                    break
                out.append(x)
            return out
        if major == 5:
            out = {}
            count = 0
            while n is None or count < n:
                k = self.item()
                if k is self.BREAK:
                    break
                out[k] = self.item()
                count += 1
            return out
        if major == 6:
            return Tag(n, self.item())
        raise ValueError("bad major type")


def _half(h):
    s, e, f = h >> 15, (h >> 10) & 0x1f, h & 0x3ff
    if e == 0:
        v = f * 2.0 ** -24
    elif e == 31:
        v = float("inf") if f == 0 else float("nan")
    else:
        v = (1 + f / 1024.0) * 2.0 ** (e - 15)
    return -v if s else v


def cbor_decode(data):
    dec = _Decoder(data)
    v = dec.item()
    if dec.i != len(data):
        raise ValueError("%d trailing bytes after the CBOR item" % (len(data) - dec.i))
    return v


class CodecSelfTest(unittest.TestCase):
    """The test's own codec against RFC 8949 appendix A vectors."""

    def test_vectors(self):
        vectors = [(0, "00"), (23, "17"), (24, "1818"), (1000, "1903e8"), (1000000, "1a000f4240"),
                   (-1, "20"), (-1000, "3903e7"), (b"\x01\x02\x03\x04", "4401020304"), ("IETF", "6449455446"),
                   ([1, [2, 3]], "8201820203"), ({"a": 1, "b": [2, 3]}, "a26161016162820203"),
                   (Tag(1, 1363896240), "c11a514b67b0"), (True, "f5"), (None, "f6")]
        for v, hexs in vectors:
            self.assertEqual(cbor_encode(v).hex(), hexs)
            self.assertEqual(cbor_decode(bytes.fromhex(hexs)), v)
        self.assertEqual(cbor_decode(bytes.fromhex("f93c00")), 1.0)
        self.assertEqual(cbor_decode(bytes.fromhex("fa47c35000")), 100000.0)
        self.assertEqual(cbor_decode(bytes.fromhex("5f42010243030405ff")), b"\x01\x02\x03\x04\x05")
        self.assertEqual(cbor_decode(bytes.fromhex("7f657374726561646d696e67ff")), "streaming")
        self.assertEqual(cbor_decode(bytes.fromhex("bf61610161629f0203ffff")), {"a": 1, "b": [2, 3]})


# ---- the tests ------------------------------------------------------------------

class CborTest(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.server = harness.server_for_class(cls)
        cls.c = cls.server.client()

    def setUp(self):
        self.conn = http.client.HTTPConnection(self.server.host, self.server.port, timeout=30)
        self.addCleanup(self.conn.close)

    def call(self, op, payload):
        body = cbor_encode(payload)
        req = AWSRequest(method="POST", url=self.server.endpoint + "/", data=body,
                         headers={"Content-Type": CBOR_CT, "X-Amz-Target": "Kinesis_20131202." + op})
        SigV4Auth(Credentials(harness.ACCESS_KEY, harness.SECRET_KEY), "kinesis", harness.REGION).add_auth(req)
        self.conn.request("POST", "/", body=body, headers=dict(req.headers.items()))
        resp = self.conn.getresponse()
        data = resp.read()
        if data:
            self.assertTrue(resp.getheader("Content-Type", "").startswith(CBOR_CT),
                            "%s answered Content-Type %r" % (op, resp.getheader("Content-Type")))
            decoded = cbor_decode(data)
        else:
            decoded = {}
        return resp.status, decoded

    def ok(self, op, payload):
        status, out = self.call(op, payload)
        self.assertEqual(status, 200, "%s failed: %r" % (op, out))
        self.assertIsInstance(out, dict)
        return out

    def assertArrivalTimestamp(self, ts):
        self.assertTrue(isinstance(ts, Tag), "ApproximateArrivalTimestamp must be CBOR tag 1, got %.200r" % (ts,))
        self.assertEqual(ts.tag, 1)
        self.assertIsInstance(ts.value, (int, float))
        now_ms = time.time() * 1000
        # Epoch milliseconds, as the AWS SDKs' CBOR codecs expect.
        self.assertLess(abs(ts.value - now_ms), 10 * 60 * 1000,
                        "timestamp %r is not epoch milliseconds near now (%d)" % (ts.value, now_ms))
        return ts.value

    def test_put_and_get_records_cbor(self):
        name = unique_name("cbor")
        self.ok("CreateStream", {"StreamName": name, "ShardCount": 1})
        wait_active(self.c, name)
        summ = self.ok("DescribeStreamSummary", {"StreamName": name})["StreamDescriptionSummary"]
        self.assertEqual(summ["StreamName"], name)
        self.assertEqual(summ["OpenShardCount"], 1)
        self.assertTrue(isinstance(summ["StreamCreationTimestamp"], Tag),
                        "StreamCreationTimestamp must be CBOR tag 1, got %.200r" % (summ["StreamCreationTimestamp"],))
        self.assertIsInstance(summ["RetentionPeriodHours"], int)

        payload = bytes(range(256)) * 4 + os.urandom(5000)
        put = self.ok("PutRecord", {"StreamName": name, "Data": payload, "PartitionKey": "pk\u00e9"})
        self.assertIsInstance(put["ShardId"], str)
        self.assertIsInstance(put["SequenceNumber"], str)
        self.assertRegex(put["SequenceNumber"], r"^\d+$")
        batch = self.ok("PutRecords", {"StreamName": name, "Records": [
            {"Data": b"\x00batch%d" % i, "PartitionKey": "b%d" % i} for i in range(3)]})
        self.assertEqual(batch["FailedRecordCount"], 0)
        self.assertEqual(len(batch["Records"]), 3)

        it = self.ok("GetShardIterator", {"StreamName": name, "ShardId": put["ShardId"],
                                          "ShardIteratorType": "TRIM_HORIZON"})["ShardIterator"]
        self.assertIsInstance(it, str)
        out = self.ok("GetRecords", {"ShardIterator": it, "Limit": 100})
        recs = out["Records"]
        self.assertEqual(len(recs), 4)
        first = recs[0]
        self.assertTrue(isinstance(first["Data"], bytes),
                        "Data must be a CBOR byte string, got %.200r" % (first["Data"],))
        self.assertEqual(first["Data"], payload)
        self.assertEqual(first["PartitionKey"], "pk\u00e9")
        self.assertEqual(first["SequenceNumber"], put["SequenceNumber"])
        ts_ms = self.assertArrivalTimestamp(first["ApproximateArrivalTimestamp"])
        self.assertEqual([r["Data"] for r in recs[1:]], [b"\x00batch%d" % i for i in range(3)])
        self.assertEqual([r["SequenceNumber"] for r in recs[1:]], [r["SequenceNumber"] for r in batch["Records"]])
        for r in recs[1:]:
            self.assertArrivalTimestamp(r["ApproximateArrivalTimestamp"])
        self.assertIsInstance(out["NextShardIterator"], str)
        self.assertIsInstance(out["MillisBehindLatest"], int)

        # A timestamp in a request is tag 1 with epoch milliseconds too.
        it = self.ok("GetShardIterator", {"StreamName": name, "ShardId": put["ShardId"],
                                          "ShardIteratorType": "AT_TIMESTAMP",
                                          "Timestamp": Tag(1, int(ts_ms))})["ShardIterator"]
        out = self.ok("GetRecords", {"ShardIterator": it})
        self.assertEqual(out["Records"][0]["Data"], payload)

        # What was written in CBOR reads back the same through JSON, and the other way round.
        jrecs, _ = read_shard(self.c, put["ShardId"], name=name)
        self.assertEqual(jrecs[0]["Data"], payload)
        self.assertEqual(jrecs[0]["PartitionKey"], "pk\u00e9")
        jput = self.c.put_record(StreamName=name, Data=b"\xffjson\x00", PartitionKey="j")
        it = self.ok("GetShardIterator", {"StreamName": name, "ShardId": jput["ShardId"],
                                          "ShardIteratorType": "AT_SEQUENCE_NUMBER",
                                          "StartingSequenceNumber": jput["SequenceNumber"]})["ShardIterator"]
        out = self.ok("GetRecords", {"ShardIterator": it})
        self.assertEqual(out["Records"][0]["Data"], b"\xffjson\x00")

    def test_cbor_errors(self):
        status, out = self.call("DescribeStreamSummary", {"StreamName": unique_name("missing")})
        self.assertEqual(status, 400)
        self.assertIsInstance(out, dict)
        self.assertEqual(out["__type"].split("#")[-1], "ResourceNotFoundException", out)
        self.assertTrue(out.get("message") or out.get("Message"), out)
        sock = self.conn.sock
        # The connection stays usable after an error.
        self.ok("ListStreams", {})
        self.assertIs(self.conn.sock, sock)

        status, out = self.call("FrobnicateStream", {})
        self.assertEqual(status, 400)
        self.assertEqual(out["__type"].split("#")[-1], "UnknownOperationException", out)

        name = unique_name("cbor-err")
        self.ok("CreateStream", {"StreamName": name, "ShardCount": 1})
        wait_active(self.c, name)
        # A text string where a blob belongs, or a number for a string, is a serialization error.
        status, out = self.call("DescribeStreamSummary", {"StreamName": 5})
        self.assertEqual(status, 400)
        self.assertEqual(out["__type"].split("#")[-1], "SerializationException", out)
        # Bytes that are not CBOR at all.
        body = b"\xff\xfe\x1f"
        req = AWSRequest(method="POST", url=self.server.endpoint + "/", data=body,
                         headers={"Content-Type": CBOR_CT, "X-Amz-Target": "Kinesis_20131202.ListStreams"})
        SigV4Auth(Credentials(harness.ACCESS_KEY, harness.SECRET_KEY), "kinesis", harness.REGION).add_auth(req)
        self.conn.request("POST", "/", body=body, headers=dict(req.headers.items()))
        resp = self.conn.getresponse()
        data = resp.read()
        self.assertEqual(resp.status, 400)
        self.assertEqual(cbor_decode(data)["__type"].split("#")[-1], "SerializationException")
        self.ok("ListStreams", {})


if __name__ == "__main__":
    unittest.main()
