"""HTTP/1.1 framing as clients and proxies exercise it: pipelining, chunked
bodies, bodies trickled byte by byte, HTTP/1.0, bad heads and oversized
bodies. Raw sockets, so nothing hides what went over the wire."""

import json
import socket
import unittest

import harness
from harness import unique_name

TARGET = "Kinesis_20131202."


def request(op, body, extra=b"", version=b"HTTP/1.1"):
    data = json.dumps(body).encode()
    return (b"POST / " + version + b"\r\nHost: localhost\r\nX-Amz-Target: " + (TARGET + op).encode() +
            b"\r\nContent-Type: application/x-amz-json-1.1\r\nContent-Length: " +
            str(len(data)).encode() + b"\r\n" + extra + b"\r\n" + data)


class Reader:
    """Reads HTTP/1.1 responses off a socket, one at a time."""

    def __init__(self, sock):
        self.sock = sock
        self.buf = b""

    def _fill(self):
        chunk = self.sock.recv(65536)
        if not chunk:
            raise EOFError("connection closed")
        self.buf += chunk

    def response(self):
        while b"\r\n\r\n" not in self.buf:
            self._fill()
        head, self.buf = self.buf.split(b"\r\n\r\n", 1)
        lines = head.split(b"\r\n")
        status = int(lines[0].split()[1])
        headers = {}
        for l in lines[1:]:
            k, v = l.split(b":", 1)
            headers[k.strip().lower().decode()] = v.strip().decode()
        n = int(headers.get("content-length", "0"))
        while len(self.buf) < n:
            self._fill()
        body, self.buf = self.buf[:n], self.buf[n:]
        return status, headers, body

    def closed(self):
        try:
            self.sock.settimeout(5)
            return self.sock.recv(1) == b""
        except (ConnectionResetError, socket.timeout):
            return False


class HttpFramingTest(harness.KinesisTestCase):
    @classmethod
    def setUpClass(cls):
        cls.server = harness.server_for_class(cls)
        cls.c = cls.server.client()
        cls.stream = unique_name("http")
        harness.create_stream(cls.c, cls.stream, shards=1)

    def connect(self):
        s = socket.create_connection((self.server.host, self.server.port), timeout=10)
        self.addCleanup(s.close)
        return s, Reader(s)

    def test_pipelined_requests_are_answered_in_order(self):
        s, r = self.connect()
        names = ["%s-missing-%d" % (self.stream, i) for i in range(3)]
        s.sendall(request("DescribeStreamSummary", {"StreamName": self.stream}) +
                  b"".join(request("DescribeStreamSummary", {"StreamName": n}) for n in names) +
                  request("DescribeLimits", {}))
        status, _, body = r.response()
        self.assertEqual(status, 200)
        self.assertEqual(json.loads(body)["StreamDescriptionSummary"]["StreamName"], self.stream)
        for n in names:
            status, headers, body = r.response()
            self.assertEqual(status, 400)
            self.assertEqual(json.loads(body)["__type"], "ResourceNotFoundException")
            self.assertIn(n, json.loads(body)["message"])
            self.assertIn("x-amzn-requestid", headers)
        status, _, body = r.response()
        self.assertEqual(status, 200)
        self.assertIn("ShardLimit", json.loads(body))

    def test_pipelined_writes_run_together_and_answer_in_order(self):
        s, r = self.connect()
        wire = b"".join(request("PutRecord", {"StreamName": self.stream, "PartitionKey": "pipe",
                                              "Data": "cGlwZQ==", "ExplicitHashKey": "0"})
                        if i % 2 == 0 else request("DescribeLimits", {}) for i in range(20))
        s.sendall(wire + b"NOT HTTP AT ALL\r\n\r\n")
        seqs = []
        for i in range(20):
            status, _, body = r.response()
            self.assertEqual(status, 200, body)
            body = json.loads(body)
            if i % 2 == 0:
                seqs.append(int(body["SequenceNumber"]))
            else:
                self.assertIn("ShardLimit", body)
        # One shard, one connection: the order of the replies is the order of
        # the sequence numbers, which is the order of the requests.
        self.assertEqual(seqs, sorted(seqs))
        self.assertEqual(len(set(seqs)), 10)
        # The malformed request after them is answered last, then closed.
        status, _, _ = r.response()
        self.assertEqual(status, 400)
        self.assertTrue(r.closed())

    def test_many_pipelined_requests_all_answered(self):
        # More requests in one write than the pipeline holds at once, most of
        # them answered synchronously: none may wait for bytes that never come.
        s, r = self.connect()
        s.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n" * 150 + request("DescribeLimits", {}))
        for _ in range(150):
            status, _, body = r.response()
            self.assertEqual(status, 200)
            self.assertEqual(json.loads(body)["status"], "ok")
        status, _, body = r.response()
        self.assertEqual(status, 200)
        self.assertIn("ShardLimit", json.loads(body))

    def test_chunked_body(self):
        s, r = self.connect()
        body = json.dumps({"StreamName": self.stream, "PartitionKey": "chunky",
                           "Data": "Y2h1bmtlZCBib2R5"}).encode()
        chunks = [body[:7], body[7:30], body[30:]]
        wire = b"".join(b"%x;ext=1\r\n%s\r\n" % (len(c), c) for c in chunks) + b"0\r\n\r\n"
        s.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nX-Amz-Target: " + (TARGET + "PutRecord").encode() +
                  b"\r\nContent-Type: application/x-amz-json-1.1\r\nTransfer-Encoding: chunked\r\n\r\n" +
                  wire + request("DescribeLimits", {}))
        status, _, out = r.response()
        self.assertEqual(status, 200, out)
        seq = json.loads(out)["SequenceNumber"]
        status, _, _ = r.response()
        self.assertEqual(status, 200)
        recs, _ = harness.read_shard(self.c, "shardId-000000000000", name=self.stream)
        got = [x for x in recs if x["SequenceNumber"] == seq]
        self.assertEqual(got[0]["Data"], b"chunked body")

    def test_body_trickled_byte_by_byte(self):
        s, r = self.connect()
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        for b in request("DescribeStreamSummary", {"StreamName": self.stream}):
            s.send(bytes([b]))
        status, _, body = r.response()
        self.assertEqual(status, 200)
        self.assertEqual(json.loads(body)["StreamDescriptionSummary"]["OpenShardCount"], 1)

    def test_http10_closes_after_the_reply(self):
        s, r = self.connect()
        s.sendall(request("DescribeLimits", {}, version=b"HTTP/1.0"))
        status, _, _ = r.response()
        self.assertEqual(status, 200)
        self.assertTrue(r.closed())

    def test_connection_close_is_honoured(self):
        s, r = self.connect()
        s.sendall(request("DescribeLimits", {}, extra=b"Connection: close\r\n"))
        status, headers, _ = r.response()
        self.assertEqual(status, 200)
        self.assertEqual(headers.get("connection"), "close")
        self.assertTrue(r.closed())

    def test_malformed_head_gets_400_and_close(self):
        s, r = self.connect()
        s.sendall(b"POST / HTTP/1.1\r\nBad Header Name: x\r\n\r\n")
        status, _, _ = r.response()
        self.assertEqual(status, 400)
        self.assertTrue(r.closed())

    def test_oversized_body_is_refused(self):
        s, r = self.connect()
        s.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nX-Amz-Target: " + (TARGET + "PutRecord").encode() +
                  b"\r\nContent-Type: application/x-amz-json-1.1\r\nContent-Length: 999999999\r\n\r\n{")
        status, _, _ = r.response()
        self.assertEqual(status, 413)
        self.assertTrue(r.closed())

    def test_health_and_unknown_path(self):
        s, r = self.connect()
        s.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\nGET /nowhere HTTP/1.1\r\nHost: x\r\n\r\n")
        status, headers, body = r.response()
        self.assertEqual(status, 200)
        self.assertEqual(json.loads(body)["status"], "ok")
        # What AWS's front end answers a request that names no operation.
        status, _, body = r.response()
        self.assertEqual(status, 403)
        self.assertIn(b"<AccessDeniedException>", body)
        self.assertIn(b"Unable to determine service/operation name to be authorized", body)


if __name__ == "__main__":
    unittest.main()
