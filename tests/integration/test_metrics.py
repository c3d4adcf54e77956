"""GET /metrics: Prometheus text that counts what the clients did."""

import re

import harness
from harness import unique_name


def scrape(server):
    status, body = server.raw_request("GET", "/metrics")
    assert status == 200, status
    values = {}
    for line in body.decode().splitlines():
        if line.startswith("#") or not line.strip():
            continue
        m = re.fullmatch(r"([a-z_]+)(\{[^}]*\})? ([0-9.e+-]+)", line)
        assert m, "not Prometheus text: %r" % line
        values[m.group(1) + (m.group(2) or "")] = float(m.group(3))
    return values


class MetricsTest(harness.KinesisTestCase):
    @classmethod
    def setUpClass(cls):
        cls.server = harness.server_for_class(cls, needs_local=True)
        cls.c = cls.server.client()

    def test_counters_follow_the_traffic(self):
        before = scrape(self.server)
        name = unique_name("metrics")
        harness.create_stream(self.c, name, shards=2)
        recs = [{"Data": b"x" * 10, "PartitionKey": "k%d" % i} for i in range(120)]
        self.c.put_records(StreamName=name, Records=recs)
        got = 0
        for s in harness.list_all_shards(self.c, name):
            got += len(harness.read_shard(self.c, s["ShardId"], name=name)[0])
        self.assertEqual(got, 120)
        self.assertAwsError("ResourceNotFoundException", self.c.describe_stream_summary,
                            StreamName=name + "-missing")
        after = scrape(self.server)

        def delta(key):
            return after.get(key, 0) - before.get(key, 0)

        self.assertEqual(delta("sluice_records_in_total"), 120)
        self.assertEqual(delta("sluice_bytes_in_total"), 1200)
        self.assertEqual(delta("sluice_records_out_total"), 120)
        self.assertEqual(delta('sluice_requests_total{service="kinesis",op="PutRecords",code="2xx"}'), 1)
        self.assertEqual(delta('sluice_requests_total{service="kinesis",op="DescribeStreamSummary",code="4xx"}'), 1)
        self.assertGreaterEqual(delta("sluice_flushes_total"), 1)
        self.assertEqual(after["sluice_flush_errors_total"], 0)
        # Histogram buckets are cumulative and end in the count.
        buckets = [v for k, v in after.items() if k.startswith("sluice_flush_duration_seconds_bucket")]
        self.assertEqual(buckets, sorted(buckets))
        self.assertEqual(buckets[-1], after["sluice_flush_duration_seconds_count"])
        self.assertGreaterEqual(after["sluice_connections"], 1)

    def test_per_queue_sqs_series(self):
        c = self.server.client("sqs")
        name = unique_name("mq")
        url = c.create_queue(QueueName=name)["QueueUrl"]
        c.send_message_batch(QueueUrl=url, Entries=[
            {"Id": str(i), "MessageBody": "m%d" % i} for i in range(6)])
        c.send_message(QueueUrl=url, MessageBody="later", DelaySeconds=600)
        got = c.receive_message(QueueUrl=url, MaxNumberOfMessages=3)["Messages"]
        self.assertEqual(len(got), 3)
        c.delete_message(QueueUrl=url, ReceiptHandle=got[0]["ReceiptHandle"])
        empty = c.create_queue(QueueName=name + "-e")["QueueUrl"]
        c.receive_message(QueueUrl=empty)
        lab = '{region="us-east-1",queue="%s"}' % name
        want = {"sluice_sqs_sends_total": 7, "sluice_sqs_receives_total": 3,
                "sluice_sqs_deletes_total": 1, "sluice_sqs_empty_receives_total": 0,
                "sluice_sqs_messages_visible": 3, "sluice_sqs_messages_in_flight": 2,
                "sluice_sqs_messages_delayed": 1}
        # The gauges follow within a second (the owner's tick).
        import time
        deadline = time.monotonic() + 5
        while True:
            v = scrape(self.server)
            have = {k: v.get(k + lab) for k in want}
            if have == want or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        self.assertEqual(have, want)
        self.assertEqual(v.get('sluice_sqs_empty_receives_total{region="us-east-1",queue="%s-e"}'
                               % name), 1)
        c.delete_queue(QueueUrl=url)
        self.assertNotIn("sluice_sqs_sends_total" + lab, scrape(self.server),
                         "a deleted queue leaves /metrics")


class ConnectionChurnTest(harness.KinesisTestCase):
    """Hundreds of short connections, some dropped mid-request: each is freed
    (the gauge comes back down) and the server keeps answering."""

    @classmethod
    def setUpClass(cls):
        cls.server = harness.server_for_class(cls, needs_local=True)

    def test_short_and_dropped_connections_are_freed(self):
        import socket
        import time
        before = scrape(self.server)["sluice_connections_total"]
        req = (b"POST / HTTP/1.1\r\nHost: x\r\nX-Amz-Target: Kinesis_20131202.DescribeLimits\r\n"
               b"Content-Type: application/x-amz-json-1.1\r\nContent-Length: 2\r\n\r\n{}")
        for i in range(300):
            s = socket.create_connection((self.server.host, self.server.port), timeout=10)
            if i % 3 == 0:
                s.sendall(req[:40])  # dropped in the middle of a head
            elif i % 3 == 1:
                s.sendall(req)
                self.assertIn(b"200 OK", s.recv(4096))
            s.close()
        deadline = time.time() + 10
        while time.time() < deadline:
            m = scrape(self.server)
            if m["sluice_connections"] <= 1:  # the scrape's own connection
                break
            time.sleep(0.1)
        self.assertLessEqual(m["sluice_connections"], 1)
        self.assertGreaterEqual(m["sluice_connections_total"] - before, 300)


if __name__ == "__main__":
    import unittest
    unittest.main()
