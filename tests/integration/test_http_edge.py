"""The HTTP edge as AWS's own front end answers it (the answers kinesalite
recorded against real AWS), and the framing bugs of the first server: a
Content-Length too long to hold, more headers than the cap, a chunked body
that arrives in thousands of pieces, a client that half-closes, and CORS
preflight. Raw sockets, so nothing hides what went over the wire."""

import json
import socket
import time
import unittest

import harness
from harness import unique_name
from test_http import Reader, request

TARGET = "Kinesis_20131202."


def raw(method, path=b"/", headers=(), body=b""):
    head = method + b" " + path + b" HTTP/1.1\r\nHost: localhost\r\n"
    for h in headers:
        head += h + b"\r\n"
    if body or method == b"POST":
        head += b"Content-Length: " + str(len(body)).encode() + b"\r\n"
    return head + b"\r\n" + body


class HttpEdgeTest(harness.KinesisTestCase):
    @classmethod
    def setUpClass(cls):
        cls.server = harness.server_for_class(cls)
        cls.c = cls.server.client()
        cls.stream = unique_name("edge")
        harness.create_stream(cls.c, cls.stream, shards=1)

    def connect(self):
        s = socket.create_connection((self.server.host, self.server.port), timeout=10)
        self.addCleanup(s.close)
        return s, Reader(s)

    def exchange(self, data):
        s, r = self.connect()
        s.sendall(data)
        return r.response()

    def assertStillServes(self):
        status, _, body = self.exchange(request("DescribeLimits", {}))
        self.assertEqual(status, 200, body)

    # ---- AWS's answers to requests that name no operation, or name it wrongly

    def test_get_root_is_access_denied(self):
        status, headers, body = self.exchange(raw(b"GET"))
        self.assertEqual(status, 403)
        self.assertIn(b"<Message>Unable to determine service/operation name to be authorized</Message>",
                      body)
        self.assertIn("x-amzn-requestid", headers)

    def test_no_content_type(self):
        # A named operation: AWS answers 404 with a bare XML element.
        status, _, body = self.exchange(raw(b"POST", headers=[b"X-Amz-Target: " + TARGET.encode() +
                                                               b"ListStreams"], body=b"{}"))
        self.assertEqual(status, 404)
        self.assertEqual(body.strip(), b"<UnknownOperationException/>")
        # No operation at all: access denied.
        status, _, body = self.exchange(raw(b"POST", headers=[b"X-Amz-Target: Nothing"], body=b"{}"))
        self.assertEqual(status, 403)
        self.assertIn(b"<AccessDeniedException>", body)

    def test_empty_body(self):
        status, headers, body = self.exchange(
            raw(b"POST", headers=[b"X-Amz-Target: " + TARGET.encode() + b"ListStreams",
                                  b"Content-Type: application/x-amz-json-1.1"]))
        self.assertEqual(status, 400)
        self.assertEqual(json.loads(body), {"__type": "SerializationException"})
        self.assertTrue(headers["content-type"].startswith("application/x-amz-json-1.1"))
        status, _, body = self.exchange(
            raw(b"POST", headers=[b"X-Amz-Target: " + TARGET.encode() + b"Frobnicate",
                                  b"Content-Type: application/x-amz-json-1.1"]))
        self.assertEqual(status, 400)
        self.assertEqual(json.loads(body), {"__type": "UnknownOperationException"})

    def test_plain_json_content_type(self):
        status, _, body = self.exchange(
            raw(b"POST", headers=[b"X-Amz-Target: " + TARGET.encode() + b"ListStreams",
                                  b"Content-Type: application/json"], body=b"{}"))
        self.assertEqual(status, 404)
        self.assertEqual(json.loads(body), {"Output": {"__type": "com.amazon.coral.service#UnknownOperationException"},
                                            "Version": "1.0"})

    def test_unknown_service_prefix(self):
        status, _, body = self.exchange(
            raw(b"POST", headers=[b"X-Amz-Target: Nobody_20200101.Something",
                                  b"Content-Type: application/x-amz-json-1.1"], body=b"{}"))
        self.assertEqual(status, 400)
        self.assertEqual(json.loads(body), {"__type": "UnknownOperationException"})

    def test_body_not_a_document(self):
        status, _, body = self.exchange(
            raw(b"POST", headers=[b"X-Amz-Target: " + TARGET.encode() + b"ListStreams",
                                  b"Content-Type: application/x-amz-json-1.1"], body=b"{not json"))
        self.assertEqual(status, 400)
        self.assertEqual(json.loads(body), {"__type": "SerializationException"})

    def test_cors_preflight_and_exposed_headers(self):
        status, headers, _ = self.exchange(
            raw(b"OPTIONS", headers=[b"Origin: http://localhost:3000",
                                     b"Access-Control-Request-Method: POST",
                                     b"Access-Control-Request-Headers: content-type,x-amz-target,x-amz-date"]))
        self.assertEqual(status, 200)
        self.assertEqual(headers["access-control-allow-origin"], "*")
        self.assertEqual(headers["access-control-allow-headers"], "content-type,x-amz-target,x-amz-date")
        self.assertIn("POST", headers["access-control-allow-methods"])
        status, headers, _ = self.exchange(request("DescribeLimits", {}, extra=b"Origin: http://x\r\n"))
        self.assertEqual(status, 200)
        self.assertEqual(headers["access-control-allow-origin"], "*")
        self.assertIn("x-amzn-RequestId", headers["access-control-expose-headers"])

    # ---- Validation driven by the botocore model, in AWS's order and words

    def call(self, op, body):
        data = json.dumps(body).encode()
        return self.exchange(raw(b"POST", headers=[b"X-Amz-Target: " + (TARGET + op).encode(),
                                                   b"Content-Type: application/x-amz-json-1.1"], body=data))

    def test_a_wrong_type_anywhere_wins_over_a_missing_member(self):
        status, _, body = self.call("CreateStream", {"ShardCount": "two"})
        self.assertEqual(status, 400)
        out = json.loads(body)
        self.assertEqual(out["__type"], "SerializationException")
        self.assertIn("STRING_VALUE can not be converted to an Integer", out.get("Message", ""))

    def test_every_violation_is_reported_at_once_with_its_value(self):
        status, _, body = self.call("CreateStream", {"StreamName": "a b", "ShardCount": 0})
        self.assertEqual(status, 400)
        out = json.loads(body)
        self.assertEqual(out["__type"], "ValidationException")
        msg = out["message"]
        self.assertTrue(msg.startswith("2 validation errors detected: "), msg)
        self.assertIn("Value 'a b' at 'streamName' failed to satisfy constraint: Member must satisfy "
                      "regular expression pattern: [a-zA-Z0-9_.-]+", msg)
        self.assertIn("Value '0' at 'shardCount' failed to satisfy constraint: Member must have value "
                      "greater than or equal to 1", msg)

    def test_put_records_violations_name_their_record(self):
        recs = [{"Data": harness.b64(b"x"), "PartitionKey": "k"} for _ in range(3)]
        del recs[1]["PartitionKey"]
        status, _, body = self.call("PutRecords", {"StreamName": self.stream, "Records": recs})
        self.assertEqual(status, 400)
        out = json.loads(body)
        self.assertEqual(out["__type"], "ValidationException")
        self.assertIn("Value null at 'records.2.member.partitionKey' failed to satisfy constraint: "
                      "Member must not be null", out["message"])

    # ---- Framing bugs of the first server

    def test_content_length_too_long_to_hold_is_refused(self):
        # 25 digits used to be cut to 24 and read as 0: the body then ran
        # as the next request.
        s, r = self.connect()
        body = request("DescribeLimits", {})
        s.sendall(raw(b"POST", headers=[b"X-Amz-Target: " + TARGET.encode() + b"DescribeLimits",
                                        b"Content-Type: application/x-amz-json-1.1",
                                        b"Content-Length: 0000000000000000000000042"]) + body)
        status, _, _ = r.response()
        self.assertEqual(status, 400)
        self.assertTrue(r.closed(), "the body after a refused head must not run as a request")

    def test_more_headers_than_the_cap_is_431(self):
        extra = b"".join(b"X-Pad-%d: v\r\n" % i for i in range(100))
        s, r = self.connect()
        s.sendall(request("DescribeLimits", {}, extra=extra))
        status, _, _ = r.response()
        self.assertEqual(status, 431)
        self.assertStillServes()

    def test_transfer_encoding_with_content_length_is_refused(self):
        status, _, _ = self.exchange(
            raw(b"POST", headers=[b"X-Amz-Target: " + TARGET.encode() + b"DescribeLimits",
                                  b"Content-Type: application/x-amz-json-1.1",
                                  b"Transfer-Encoding: chunked", b"Content-Length: 5"]) + b"0\r\n\r\n")
        self.assertEqual(status, 400)

    def test_a_chunked_body_in_thousands_of_pieces(self):
        # 4,000 records of 1 KiB as one PutRecords body (~5.5 MiB of JSON)
        # sent as 1 KiB chunks in many small writes: the server decodes
        # incrementally and gets every byte.
        recs = [{"Data": harness.b64(bytes([i % 251]) * 1000), "PartitionKey": "k%d" % i} for i in range(400)]
        data = json.dumps({"StreamName": self.stream, "Records": recs}).encode()
        head = (b"POST / HTTP/1.1\r\nHost: x\r\nX-Amz-Target: " + TARGET.encode() + b"PutRecords\r\n"
                b"Content-Type: application/x-amz-json-1.1\r\nTransfer-Encoding: chunked\r\n\r\n")
        s, r = self.connect()
        s.sendall(head)
        for i in range(0, len(data), 1024):
            piece = data[i:i + 1024]
            s.sendall(b"%x\r\n" % len(piece) + piece + b"\r\n")
        s.sendall(b"0\r\n\r\n")
        status, _, body = r.response()
        self.assertEqual(status, 200, body[:300])
        out = json.loads(body)
        self.assertEqual(out["FailedRecordCount"], 0)
        self.assertEqual(len(out["Records"]), 400)

    def test_half_closed_client_still_gets_its_reply(self):
        s, r = self.connect()
        s.sendall(request("DescribeStreamSummary", {"StreamName": self.stream}))
        s.shutdown(socket.SHUT_WR)
        status, _, body = r.response()
        self.assertEqual(status, 200, body)
        self.assertTrue(r.closed())


if __name__ == "__main__":
    unittest.main()
