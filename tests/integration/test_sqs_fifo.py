"""SQS FIFO queues against a live sluice: order per message group, a group
blocked while one of its messages is in flight, deduplication within and
after the 5-minute window (moved with the debug clock), content-based
deduplication, deduplication scope, sequence numbers, receive attempt
retries, FIFO dead-letter queues, bad input, and kill -9 under load with
the window and the order checked after restart. JSON with the image's
boto3, query with Debian's."""

import glob
import hashlib
import json
import os
import textwrap
import threading
import time
import unittest

import harness
from harness import unique_name

WINDOW_MS = 5 * 60 * 1000


def fifo_queue(c, **attrs):
    a = {"FifoQueue": "true"}
    a.update({k: str(v) for k, v in attrs.items()})
    return c.create_queue(QueueName=unique_name("f") + ".fifo", Attributes=a)["QueueUrl"]


def drain(c, url, **kw):
    """Receive and delete until empty; the bodies in the order received."""
    out = []
    for _ in range(10000):
        ms = c.receive_message(QueueUrl=url, MaxNumberOfMessages=10, **kw).get("Messages", [])
        if not ms:
            return out
        for m in ms:
            out.append(m)
            c.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
    raise AssertionError("the queue never ran empty")


class SqsFifoTest(harness.KinesisTestCase):
    @classmethod
    def setUpClass(cls):
        cls.server = harness.server_for_class(cls, needs_local=True)
        cls.c = cls.server.client("sqs")

    def send(self, url, body, group, dedup=None, c=None):
        kw = {"QueueUrl": url, "MessageBody": body, "MessageGroupId": group}
        if dedup is not None:
            kw["MessageDeduplicationId"] = dedup
        return (c or self.c).send_message(**kw)

    def test_groups_keep_order_and_block_while_in_flight(self):
        url = fifo_queue(self.c)
        seqs = []
        for i in range(4):
            seqs.append(int(self.send(url, "a%d" % i, "a", "a%d" % i)["SequenceNumber"]))
        for i in range(2):
            self.send(url, "b%d" % i, "b", "b%d" % i)
        self.assertEqual(seqs, sorted(seqs), "sequence numbers grow within a group")
        self.assertEqual(len(set(seqs)), 4)
        for s in seqs:
            self.assertEqual(len(str(s)), 20)
        first = self.c.receive_message(QueueUrl=url, MaxNumberOfMessages=2,
                                       AttributeNames=["All"])["Messages"]
        self.assertEqual([m["Body"] for m in first], ["a0", "a1"])
        a = first[0]["Attributes"]
        self.assertEqual((a["MessageGroupId"], a["MessageDeduplicationId"]), ("a", "a0"))
        self.assertEqual(int(a["SequenceNumber"]), seqs[0])
        # Group a is blocked while a0 and a1 are in flight: only b comes.
        second = self.c.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]
        self.assertEqual([m["Body"] for m in second], ["b0", "b1"])
        self.assertNotIn("Messages", self.c.receive_message(QueueUrl=url, MaxNumberOfMessages=10))
        # Deleting a1 first is not enough: a0 is still in flight.
        self.c.delete_message(QueueUrl=url, ReceiptHandle=first[1]["ReceiptHandle"])
        self.assertNotIn("Messages", self.c.receive_message(QueueUrl=url, MaxNumberOfMessages=10))
        self.c.delete_message(QueueUrl=url, ReceiptHandle=first[0]["ReceiptHandle"])
        rest = self.c.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]
        self.assertEqual([m["Body"] for m in rest], ["a2", "a3"])
        # A visibility timeout that ends brings the group back in order.
        self.c.change_message_visibility(QueueUrl=url, ReceiptHandle=rest[0]["ReceiptHandle"],
                                         VisibilityTimeout=0)
        self.assertNotIn("Messages", self.c.receive_message(QueueUrl=url, MaxNumberOfMessages=10),
                         "a3 is still in flight, so a2 waits")
        self.server.advance_clock(31000)
        again = self.c.receive_message(QueueUrl=url, MaxNumberOfMessages=10,
                                       AttributeNames=["ApproximateReceiveCount"])["Messages"]
        got = [(m["Body"], m["Attributes"]["ApproximateReceiveCount"]) for m in again]
        # Between groups AWS promises no order; within each, send order.
        self.assertEqual([x for x in got if x[0][0] == "a"], [("a2", "2"), ("a3", "2")])
        self.assertEqual([x for x in got if x[0][0] == "b"], [("b0", "2"), ("b1", "2")])

    def test_order_under_concurrent_consumers(self):
        url = fifo_queue(self.c, VisibilityTimeout=60)
        groups, per_group = 6, 60
        for g in range(groups):
            for start in range(0, per_group, 10):
                self.c.send_message_batch(QueueUrl=url, Entries=[
                    {"Id": "e%d" % i, "MessageBody": "%d:%d" % (g, i), "MessageGroupId": "g%d" % g,
                     "MessageDeduplicationId": "%d-%d" % (g, i)}
                    for i in range(start, start + 10)])
        lock = threading.Lock()
        held, seen, errors = {}, {g: [] for g in range(groups)}, []

        def consumer(k):
            c = self.server.client("sqs")
            idle = 0
            while idle < 3:
                ms = c.receive_message(QueueUrl=url, MaxNumberOfMessages=1 + k % 4,
                                       WaitTimeSeconds=1).get("Messages", [])
                if not ms:
                    idle += 1
                    continue
                idle = 0
                gs = {int(m["Body"].split(":")[0]) for m in ms}
                with lock:
                    for g in gs:
                        if held.get(g) is not None:
                            errors.append("group %d given to consumer %d while %d holds it"
                                          % (g, k, held[g]))
                        held[g] = k
                    for m in ms:
                        g, i = map(int, m["Body"].split(":"))
                        seen[g].append(i)
                time.sleep(0.002)
                # Release the group before the delete lands: from then on
                # another consumer may rightly get it.
                with lock:
                    for g in gs:
                        held[g] = None
                c.delete_message_batch(QueueUrl=url, Entries=[
                    {"Id": str(j), "ReceiptHandle": m["ReceiptHandle"]} for j, m in enumerate(ms)])

        threads = [threading.Thread(target=consumer, args=(k,)) for k in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
        self.assertEqual(errors, [])
        for g in range(groups):
            self.assertEqual(seen[g], list(range(per_group)), "group %d out of order" % g)

    def test_deduplication_window_explicit_and_after_delete(self):
        url = fifo_queue(self.c)
        one = self.send(url, "first", "g", "d1")
        dup = self.send(url, "another body", "g", "d1")
        self.assertEqual(dup["MessageId"], one["MessageId"])
        self.assertEqual(dup["SequenceNumber"], one["SequenceNumber"])
        self.assertEqual(dup["MD5OfMessageBody"], hashlib.md5(b"another body").hexdigest(),
                         "the digest is of what this request sent: clients check it")
        got = drain(self.c, url)
        self.assertEqual([m["Body"] for m in got], ["first"])
        # AWS keeps tracking the id after the message is deleted.
        self.assertEqual(self.send(url, "after delete", "g", "d1")["MessageId"], one["MessageId"])
        self.assertEqual(drain(self.c, url), [])
        self.server.advance_clock(WINDOW_MS + 1000)
        later = self.send(url, "after the window", "g", "d1")
        self.assertNotEqual(later["MessageId"], one["MessageId"])
        self.assertEqual([m["Body"] for m in drain(self.c, url)], ["after the window"])

    def test_content_based_deduplication_and_scope(self):
        url = fifo_queue(self.c, ContentBasedDeduplication="true")
        a = self.send(url, "same body", "g1")
        self.assertEqual(self.send(url, "same body", "g2")["MessageId"], a["MessageId"],
                         "queue scope: the group does not matter")
        # An explicit id equal to the body's SHA-256 is the same message.
        sha = hashlib.sha256(b"same body").hexdigest()
        self.assertEqual(self.send(url, "other", "g1", sha)["MessageId"], a["MessageId"])
        got = drain(self.c, url, AttributeNames=["MessageDeduplicationId"])
        self.assertEqual([(m["Body"], m["Attributes"]["MessageDeduplicationId"]) for m in got],
                         [("same body", sha)])
        per_group = fifo_queue(self.c, DeduplicationScope="messageGroup",
                               FifoThroughputLimit="perMessageGroupId")
        x = self.send(per_group, "x", "g1", "same-id")
        y = self.send(per_group, "y", "g2", "same-id")
        self.assertNotEqual(x["MessageId"], y["MessageId"], "messageGroup scope")
        self.assertEqual(self.send(per_group, "z", "g1", "same-id")["MessageId"], x["MessageId"])
        self.assertEqual(sorted(m["Body"] for m in drain(self.c, per_group)), ["x", "y"])

    def test_receive_request_attempt_id_returns_the_same_messages(self):
        url = fifo_queue(self.c)
        for i in range(3):
            self.send(url, "m%d" % i, "g", str(i))
        first = self.c.receive_message(QueueUrl=url, MaxNumberOfMessages=2,
                                       ReceiveRequestAttemptId="try-1")["Messages"]
        retry = self.c.receive_message(QueueUrl=url, MaxNumberOfMessages=2,
                                       ReceiveRequestAttemptId="try-1")["Messages"]
        self.assertEqual([(m["MessageId"], m["ReceiptHandle"]) for m in retry],
                         [(m["MessageId"], m["ReceiptHandle"]) for m in first])
        # A retry restarts the visibility timeout.
        self.server.advance_clock(20000)
        self.c.receive_message(QueueUrl=url, MaxNumberOfMessages=2,
                               ReceiveRequestAttemptId="try-1")
        self.server.advance_clock(20000)
        self.assertNotIn("Messages", self.c.receive_message(QueueUrl=url),
                         "40 s after the first receive, the retry's 30 s still run")
        # Once one of them is deleted, the same attempt id receives anew.
        self.c.delete_message(QueueUrl=url, ReceiptHandle=first[0]["ReceiptHandle"])
        self.server.advance_clock(31000)
        anew = self.c.receive_message(QueueUrl=url, MaxNumberOfMessages=10,
                                      ReceiveRequestAttemptId="try-1")["Messages"]
        self.assertEqual([m["Body"] for m in anew], ["m1", "m2"])
        self.assertNotEqual(anew[0]["ReceiptHandle"], first[1]["ReceiptHandle"])

    def test_fifo_dead_letter_queue_keeps_the_group(self):
        dlq = fifo_queue(self.c)
        arn = self.c.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])[
            "Attributes"]["QueueArn"]
        src = fifo_queue(self.c, VisibilityTimeout=5, RedrivePolicy=json.dumps(
            {"deadLetterTargetArn": arn, "maxReceiveCount": 1}))
        self.send(src, "poison", "g", "p")
        self.send(src, "next", "g", "n")
        m = self.c.receive_message(QueueUrl=src)["Messages"]
        self.assertEqual(m[0]["Body"], "poison")
        self.server.advance_clock(6000)
        # Its second receive moves it; "next" waits until the move is done.
        got = []
        for _ in range(100):
            got += [x["Body"] for x in
                    self.c.receive_message(QueueUrl=src, MaxNumberOfMessages=10).get("Messages", [])]
            if got:
                break
            time.sleep(0.05)
        self.assertEqual(got, ["next"])
        moved = self.c.receive_message(QueueUrl=dlq, AttributeNames=["MessageGroupId"])["Messages"]
        self.assertEqual((moved[0]["Body"], moved[0]["Attributes"]["MessageGroupId"]),
                         ("poison", "g"))

    def test_bad_input_is_refused_and_nothing_is_stored(self):
        url = fifo_queue(self.c)
        c = self.c
        self.assertAwsError("MissingParameter", c.send_message, QueueUrl=url, MessageBody="x")
        self.assertAwsError("InvalidParameterValue", c.send_message, QueueUrl=url,
                            MessageBody="x", MessageGroupId="g")
        self.assertAwsError("InvalidParameterValue", c.send_message, QueueUrl=url,
                            MessageBody="x", MessageGroupId="g", MessageDeduplicationId="d",
                            DelaySeconds=5)
        for bad in ("has space", "x" * 129, "caf\u00e9"):
            self.assertAwsError("InvalidParameterValue", c.send_message, QueueUrl=url,
                                MessageBody="x", MessageGroupId=bad, MessageDeduplicationId="d")
            self.assertAwsError("InvalidParameterValue", c.send_message, QueueUrl=url,
                                MessageBody="x", MessageGroupId="g", MessageDeduplicationId=bad)
        self.assertAwsError("InvalidParameterValue", c.receive_message, QueueUrl=url,
                            ReceiveRequestAttemptId="has space")
        out = c.send_message_batch(QueueUrl=url, Entries=[
            {"Id": "ok", "MessageBody": "fine", "MessageGroupId": "g", "MessageDeduplicationId": "1"},
            {"Id": "bad", "MessageBody": "no group", "MessageDeduplicationId": "2"}])
        self.assertEqual([e["Id"] for e in out["Successful"]], ["ok"])
        self.assertIn("SequenceNumber", out["Successful"][0])
        self.assertEqual([(e["Id"], e["Code"]) for e in out["Failed"]], [("bad", "MissingParameter")])
        self.assertEqual([m["Body"] for m in drain(c, url)], ["fine"])
        # Standard queues: no deduplication id, but a group id (fair queues).
        std = c.create_queue(QueueName=unique_name("std"))["QueueUrl"]
        self.assertAwsError("InvalidParameterValue", c.send_message, QueueUrl=std,
                            MessageBody="x", MessageDeduplicationId="d")
        sent = c.send_message(QueueUrl=std, MessageBody="tenant", MessageGroupId="tenant-7")
        self.assertNotIn("SequenceNumber", sent)
        got = c.receive_message(QueueUrl=std, AttributeNames=["All"])["Messages"][0]
        self.assertEqual(got["Attributes"]["MessageGroupId"], "tenant-7")
        self.assertNotIn("SequenceNumber", got["Attributes"])


class SqsFifoCrashTest(harness.KinesisTestCase):
    def test_kill9_under_load_keeps_order_sends_deletes_and_the_window(self):
        with harness.Server(needs_local=True, name="SqsFifoCrashTest") as srv:
            c = srv.client("sqs")
            url = fifo_queue(c, VisibilityTimeout=3600)
            acked, lock, stop = {}, threading.Lock(), threading.Event()

            def producer(k):
                cl = srv.client("sqs")
                i = 0
                while not stop.is_set():
                    try:
                        out = cl.send_message(QueueUrl=url, MessageBody="%d:%d" % (k, i),
                                              MessageGroupId="g%d" % k,
                                              MessageDeduplicationId="%d-%d" % (k, i))
                    except Exception:
                        break  # the server died under it: not acknowledged
                    with lock:
                        acked["%d-%d" % (k, i)] = out["MessageId"]
                    i += 1

            threads = [threading.Thread(target=producer, args=(k,)) for k in range(4)]
            for t in threads:
                t.start()
            time.sleep(0.5)
            deleted, inflight = set(), {}
            for _ in range(6):
                for m in c.receive_message(QueueUrl=url, MaxNumberOfMessages=3).get("Messages", []):
                    g, i = m["Body"].split(":")
                    if len(deleted) <= len(inflight):
                        c.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
                        deleted.add("%s-%s" % (g, i))
                    else:
                        inflight["%s-%s" % (g, i)] = m["MessageId"]
            # Load enough to mean something before the kill, however slow
            # the machine (four boto3 clients take a while to start).
            deadline = time.monotonic() + 20
            time.sleep(0.3)
            while len(acked) <= 40 and time.monotonic() < deadline:
                time.sleep(0.1)
            c = harness.kill9_under_load(srv, stop, threads)
            self.assertGreater(len(acked), 40)
            # Every acknowledged send again, inside the window: all duplicates.
            for key, mid in sorted(acked.items()):
                k, i = key.split("-")
                again = c.send_message(QueueUrl=url, MessageBody="dup", MessageGroupId="g" + k,
                                       MessageDeduplicationId=key)
                self.assertEqual(again["MessageId"], mid, "the window survived the crash")
            # The in-flight messages still block their groups until their
            # visibility timeout ends; then every group comes out in order.
            srv.advance_clock(3601 * 1000)
            got = drain(c, url)
            bodies = [m["Body"] for m in got]
            self.assertNotIn("dup", bodies, "a duplicate was stored")
            per = {}
            for b in bodies:
                k, i = map(int, b.split(":"))
                per.setdefault(k, []).append(i)
            for k, seq in per.items():
                self.assertEqual(seq, sorted(seq), "group %d out of order after restart" % k)
            keys = {"%d-%d" % (k, i) for k, seq in per.items() for i in seq}
            want = set(acked) - deleted
            self.assertEqual(want - keys, set(), "acknowledged sends lost")
            self.assertEqual(keys & deleted, set(), "a deleted message came back")


class SqsFifoSegmentTest(harness.KinesisTestCase):
    def test_deleted_sends_keep_their_segment_until_the_window_ends(self):
        """A deleted FIFO message's record outlives it for the window (so a
        restart still knows its deduplication id), and no longer."""
        with harness.Server(extra_args=["--segment-bytes", str(4 << 20)], needs_local=True,
                            name="SqsFifoSegmentTest") as srv:
            c = srv.client("sqs")
            url = fifo_queue(c)
            body = "x" * 200000
            for i in range(0, 30, 5):
                out = c.send_message_batch(QueueUrl=url, Entries=[
                    {"Id": str(k), "MessageBody": body, "MessageGroupId": "g%d" % k,
                     "MessageDeduplicationId": "d%d" % (i + k)} for k in range(5)])
                self.assertEqual(out["Failed"], [])
            pattern = os.path.join(srv.data_dir, "logs", "*", "*", "*.seg")
            before = len(glob.glob(pattern))
            self.assertGreaterEqual(before, 2)
            self.assertEqual(len(drain(c, url)), 30)
            time.sleep(2.5)  # two ticks of the owner
            self.assertEqual(len(glob.glob(pattern)), before,
                             "a segment went while its sends' window lasts")
            srv.restart()
            c = srv.client("sqs")
            self.assertEqual(c.send_message(QueueUrl=url, MessageBody="again", MessageGroupId="g0",
                                            MessageDeduplicationId="d0")["MD5OfMessageBody"],
                             hashlib.md5(b"again").hexdigest())
            self.assertEqual(drain(c, url), [], "d0 was deleted, and still a duplicate")
            srv.advance_clock(WINDOW_MS + 1000)
            deadline = time.monotonic() + 10
            while len(glob.glob(pattern)) >= before and time.monotonic() < deadline:
                time.sleep(0.2)
            self.assertLess(len(glob.glob(pattern)), before, "no segment was deleted")


QUERY_SCRIPT = textwrap.dedent("""
    import sys, boto3
    endpoint, name = sys.argv[1], sys.argv[2]
    c = boto3.client("sqs", endpoint_url=endpoint, region_name="us-east-1",
                     aws_access_key_id="k", aws_secret_access_key="s")
    url = c.create_queue(QueueName=name + ".fifo",
                         Attributes={"FifoQueue": "true",
                                     "ContentBasedDeduplication": "true"})["QueueUrl"]
    a = c.send_message(QueueUrl=url, MessageBody="one", MessageGroupId="g")
    b = c.send_message(QueueUrl=url, MessageBody="one", MessageGroupId="g")
    assert a["MessageId"] == b["MessageId"], (a, b)
    assert len(a["SequenceNumber"]) == 20, a
    c.send_message(QueueUrl=url, MessageBody="two", MessageGroupId="g")
    out = c.send_message_batch(QueueUrl=url, Entries=[
        {"Id": "x", "MessageBody": "three", "MessageGroupId": "g"}])
    assert out["Successful"][0]["SequenceNumber"], out
    ms = c.receive_message(QueueUrl=url, MaxNumberOfMessages=10,
                           AttributeNames=["All"])["Messages"]
    assert [m["Body"] for m in ms] == ["one", "two", "three"], ms
    assert ms[0]["Attributes"]["SequenceNumber"] == a["SequenceNumber"], ms[0]
    assert ms[0]["Attributes"]["MessageGroupId"] == "g"
    print("sqs-query-fifo-ok")
""")


@unittest.skipUnless(harness.debian_boto3(), "Debian's python3-boto3 is not installed")
class SqsFifoQueryTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.server = harness.server_for_class(cls)

    def test_fifo_over_query_with_botocore_1_29(self):
        harness.check_debian_script(self, QUERY_SCRIPT, "sqs-query-fifo-ok", self.server.endpoint, "qf")


if __name__ == "__main__":
    unittest.main()
