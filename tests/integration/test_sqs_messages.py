"""SQS messages against a live sluice: send, receive, delete, visibility,
long polls, delays, retention, attributes and their MD5 digests (checked
against this file's own implementation of AWS's encoding), bad input,
kill -9 and restart. JSON with the image's boto3, query with Debian's."""

import base64
import glob
import hashlib
import json
import os
import re
import struct
import textwrap
import threading
import time
import unittest

import harness
from harness import unique_name


def md5_attrs(attrs):
    """MD5OfMessageAttributes as AWS documents it."""
    out = b""
    for name in sorted(attrs, key=lambda s: s.encode()):
        a = attrs[name]
        t = a["DataType"].encode()
        out += struct.pack(">I", len(name.encode())) + name.encode()
        out += struct.pack(">I", len(t)) + t
        if "BinaryValue" in a:
            v = a["BinaryValue"]
            out += b"\x02" + struct.pack(">I", len(v)) + v
        else:
            v = a["StringValue"].encode()
            out += b"\x01" + struct.pack(">I", len(v)) + v
    return hashlib.md5(out).hexdigest()


# Longer than any fixed buffer a reply might copy it into.
TRACE = "Root=1-abc-def;Parent=" + "f" * 600 + ";Sampled=1"


class SqsMessageTest(harness.KinesisTestCase):
    @classmethod
    def setUpClass(cls):
        cls.server = harness.server_for_class(cls, needs_local=True)
        cls.c = cls.server.client("sqs")

    def queue(self, **attrs):
        return self.c.create_queue(QueueName=unique_name("m"),
                                   Attributes={k: str(v) for k, v in attrs.items()})["QueueUrl"]

    def counts(self, url):
        a = self.c.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
        return (int(a["ApproximateNumberOfMessages"]), int(a["ApproximateNumberOfMessagesNotVisible"]),
                int(a["ApproximateNumberOfMessagesDelayed"]))

    def test_send_receive_delete_with_attributes_and_digests(self):
        url = self.queue()
        attrs = {"s": {"DataType": "String", "StringValue": "h\u00e9llo \U0001F600"},
                 "n": {"DataType": "Number.int", "StringValue": "-12.5e3"},
                 "b": {"DataType": "Binary.raw", "BinaryValue": bytes(range(256))}}
        body = "body with \t tabs and \u20ac and <xml> & 'quotes'"
        out = self.c.send_message(QueueUrl=url, MessageBody=body, MessageAttributes=attrs,
                                  MessageSystemAttributes={"AWSTraceHeader": {
                                      "DataType": "String", "StringValue": TRACE}})
        self.assertEqual(out["MD5OfMessageBody"], hashlib.md5(body.encode()).hexdigest())
        self.assertEqual(out["MD5OfMessageAttributes"], md5_attrs(attrs))
        self.assertIn("MD5OfMessageSystemAttributes", out)
        self.assertEqual(self.counts(url), (1, 0, 0))
        got = self.c.receive_message(QueueUrl=url, MaxNumberOfMessages=10, AttributeNames=["All"],
                                     MessageAttributeNames=["All"])["Messages"]
        self.assertEqual(len(got), 1)
        m = got[0]
        self.assertEqual((m["MessageId"], m["Body"], m["MD5OfBody"]),
                         (out["MessageId"], body, out["MD5OfMessageBody"]))
        self.assertEqual(m["MessageAttributes"], attrs)
        self.assertEqual(m["MD5OfMessageAttributes"], md5_attrs(attrs))
        self.assertEqual(m["Attributes"]["ApproximateReceiveCount"], "1")
        self.assertEqual(m["Attributes"]["AWSTraceHeader"], TRACE, "whole, not cut at 256")
        sent = int(m["Attributes"]["SentTimestamp"])
        self.assertLessEqual(sent, int(m["Attributes"]["ApproximateFirstReceiveTimestamp"]))
        self.assertEqual(self.counts(url), (0, 1, 0))
        # Names select attributes; the digest covers what is returned.
        self.c.change_message_visibility(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"],
                                         VisibilityTimeout=0)
        m2 = self.c.receive_message(QueueUrl=url, MessageAttributeNames=["s", "n.*"])["Messages"][0]
        self.assertEqual(set(m2["MessageAttributes"]), {"s"})
        self.assertEqual(m2["MD5OfMessageAttributes"], md5_attrs({"s": attrs["s"]}))
        self.assertNotIn("Attributes", m2)
        self.assertNotEqual(m2["ReceiptHandle"], m["ReceiptHandle"])
        # The older handle is stale: delete with it deletes nothing.
        self.c.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
        self.assertEqual(self.counts(url), (0, 1, 0))
        self.assertAwsError("AWS.SimpleQueueService.MessageNotInflight",
                            self.c.change_message_visibility, QueueUrl=url,
                            ReceiptHandle=m["ReceiptHandle"], VisibilityTimeout=5)
        self.c.delete_message(QueueUrl=url, ReceiptHandle=m2["ReceiptHandle"])
        self.assertEqual(self.counts(url), (0, 0, 0))
        self.c.delete_message(QueueUrl=url, ReceiptHandle=m2["ReceiptHandle"])  # again: fine
        self.assertNotIn("Messages", self.c.receive_message(QueueUrl=url))

    def test_visibility_timeout_brings_a_message_back_with_its_count(self):
        url = self.queue(VisibilityTimeout=30)
        self.c.send_message(QueueUrl=url, MessageBody="again")
        for want in range(1, 4):
            m = self.c.receive_message(QueueUrl=url, AttributeNames=["ApproximateReceiveCount"])
            self.assertEqual(m["Messages"][0]["Attributes"]["ApproximateReceiveCount"], str(want))
            self.assertNotIn("Messages", self.c.receive_message(QueueUrl=url), "still in flight")
            self.server.advance_clock(31000)
        # A receive's own VisibilityTimeout wins over the queue's.
        m = self.c.receive_message(QueueUrl=url, VisibilityTimeout=120)["Messages"][0]
        self.server.advance_clock(31000)
        self.assertNotIn("Messages", self.c.receive_message(QueueUrl=url))
        self.server.advance_clock(90000)
        self.assertEqual(self.c.receive_message(QueueUrl=url)["Messages"][0]["Body"], "again")
        self.assertEqual(m["Body"], "again")

    def test_visibility_stays_within_twelve_hours_of_the_receive(self):
        url = self.queue()
        self.c.send_message(QueueUrl=url, MessageBody="long job")
        m = self.c.receive_message(QueueUrl=url, VisibilityTimeout=40000)["Messages"][0]
        self.server.advance_clock(3000 * 1000)
        # 3,000 s in: another 40,200 s would end past 12 hours from the receive.
        self.assertAwsError("InvalidParameterValue", self.c.change_message_visibility,
                            QueueUrl=url, ReceiptHandle=m["ReceiptHandle"], VisibilityTimeout=40300)
        self.c.change_message_visibility(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"],
                                         VisibilityTimeout=40000)
        self.assertNotIn("Messages", self.c.receive_message(QueueUrl=url))
        # A new receive starts a new 12 hours.
        self.server.advance_clock(40001 * 1000)
        m = self.c.receive_message(QueueUrl=url, VisibilityTimeout=10)["Messages"][0]
        self.c.change_message_visibility(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"],
                                         VisibilityTimeout=43200)

    def test_delay_then_visible(self):
        url = self.queue(DelaySeconds=10)
        self.c.send_message(QueueUrl=url, MessageBody="queue delay")
        self.c.send_message(QueueUrl=url, MessageBody="own delay", DelaySeconds=100)
        self.assertEqual(self.counts(url), (0, 0, 2))
        self.assertNotIn("Messages", self.c.receive_message(QueueUrl=url))
        self.server.advance_clock(11000)
        got = self.c.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]
        self.assertEqual([m["Body"] for m in got], ["queue delay"])
        self.c.delete_message(QueueUrl=url, ReceiptHandle=got[0]["ReceiptHandle"])
        self.server.advance_clock(90000)
        got = self.c.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]
        self.assertEqual([m["Body"] for m in got], ["own delay"])

    def test_retention_removes_old_messages(self):
        url = self.queue(MessageRetentionPeriod=60)
        self.c.send_message(QueueUrl=url, MessageBody="old")
        self.server.advance_clock(61000)
        self.c.send_message(QueueUrl=url, MessageBody="new")
        got = self.c.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]
        self.assertEqual([m["Body"] for m in got], ["new"])

    def test_long_poll_wakes_when_a_message_arrives(self):
        url = self.queue()
        result = {}

        def poll():
            t0 = time.monotonic()
            result["out"] = self.server.client("sqs").receive_message(QueueUrl=url,
                                                                      WaitTimeSeconds=15)
            result["took"] = time.monotonic() - t0

        t = threading.Thread(target=poll)
        t.start()
        time.sleep(0.3)
        self.c.send_message(QueueUrl=url, MessageBody="wake up")
        t.join(20)
        self.assertEqual(result["out"]["Messages"][0]["Body"], "wake up")
        self.assertLess(result["took"], 10, "the poll waited for its timeout instead of the send")
        # An empty poll ends with its wait, with no messages.
        t0 = time.monotonic()
        self.assertNotIn("Messages", self.c.receive_message(QueueUrl=url, WaitTimeSeconds=1))
        self.assertGreaterEqual(time.monotonic() - t0, 0.9)

    def test_many_messages_each_received_once(self):
        url = self.queue()
        bodies = {"msg-%04d" % i for i in range(250)}
        for b in sorted(bodies):
            self.c.send_message(QueueUrl=url, MessageBody=b)
        seen = []
        for _ in range(100):
            got = self.c.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
            if not got:
                break
            self.assertLessEqual(len(got), 10)
            seen += [m["Body"] for m in got]
            for m in got:
                self.c.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
        self.assertEqual(sorted(seen), sorted(bodies))
        self.assertEqual(seen[:10], sorted(bodies)[:10], "oldest first")
        self.assertEqual(self.counts(url), (0, 0, 0))

    def test_bad_input_is_refused_and_nothing_is_stored(self):
        url = self.queue(MaximumMessageSize=1024)
        err = self.assertAwsError
        err("MissingParameter", self.c.send_message, QueueUrl=url, MessageBody="")
        err("InvalidMessageContents", self.c.send_message, QueueUrl=url, MessageBody="a\x00b")
        err("InvalidMessageContents", self.c.send_message, QueueUrl=url, MessageBody="\ufffe")
        err("InvalidParameterValue", self.c.send_message, QueueUrl=url, MessageBody="x" * 1025)
        err("InvalidParameterValue", self.c.send_message, QueueUrl=url, MessageBody="x" * 1000,
            MessageAttributes={"big": {"DataType": "String", "StringValue": "y" * 100}})
        err("InvalidParameterValue", self.c.send_message, QueueUrl=url, MessageBody="x",
            DelaySeconds=901)
        too_many = {"a%d" % i: {"DataType": "String", "StringValue": "v"} for i in range(11)}
        err("InvalidParameterValue", self.c.send_message, QueueUrl=url, MessageBody="x",
            MessageAttributes=too_many)
        for name, a in [("AWS.x", {"DataType": "String", "StringValue": "v"}),
                        ("a..b", {"DataType": "String", "StringValue": "v"}),
                        ("t", {"DataType": "Text", "StringValue": "v"}),
                        ("n", {"DataType": "Number", "StringValue": "12abc"}),
                        ("e", {"DataType": "String", "StringValue": ""}),
                        ("w", {"DataType": "Binary", "StringValue": "v"})]:
            err("InvalidParameterValue", self.c.send_message, QueueUrl=url, MessageBody="x",
                MessageAttributes={name: a})
        # A group id is fine on a standard queue (fair queues); a
        # deduplication id is FIFO's only.
        err("InvalidParameterValue", self.c.send_message, QueueUrl=url, MessageBody="x",
            MessageDeduplicationId="d")
        err("ReceiptHandleIsInvalid", self.c.delete_message, QueueUrl=url, ReceiptHandle="junk")
        err("InvalidParameterValue", self.c.receive_message, QueueUrl=url, MaxNumberOfMessages=11)
        err("InvalidParameterValue", self.c.receive_message, QueueUrl=url, WaitTimeSeconds=21)
        err("AWS.SimpleQueueService.NonExistentQueue", self.c.send_message,
            QueueUrl=url + "-none", MessageBody="x")
        self.assertEqual(self.counts(url), (0, 0, 0))
        # A handle of another queue is not a handle of this one.
        other = self.queue()
        self.c.send_message(QueueUrl=other, MessageBody="o")
        h = self.c.receive_message(QueueUrl=other)["Messages"][0]["ReceiptHandle"]
        err("ReceiptHandleIsInvalid", self.c.delete_message, QueueUrl=url, ReceiptHandle=h)

    def test_batches_report_each_entry_and_refuse_bad_batches_whole(self):
        url = self.queue()
        attrs = {"k": {"DataType": "String", "StringValue": "v"}}
        out = self.c.send_message_batch(QueueUrl=url, Entries=[
            {"Id": "a", "MessageBody": "one"},
            {"Id": "b", "MessageBody": "two", "MessageAttributes": attrs, "DelaySeconds": 5},
            {"Id": "c", "MessageBody": "bad\x00"},
            {"Id": "d", "MessageBody": "x", "DelaySeconds": 901}])
        ok = {e["Id"]: e for e in out["Successful"]}
        self.assertEqual(set(ok), {"a", "b"})
        self.assertEqual(ok["a"]["MD5OfMessageBody"], hashlib.md5(b"one").hexdigest())
        self.assertEqual(ok["b"]["MD5OfMessageAttributes"], md5_attrs(attrs))
        failed = {e["Id"]: e for e in out["Failed"]}
        self.assertEqual((failed["c"]["Code"], failed["c"]["SenderFault"]),
                         ("InvalidMessageContents", True))
        self.assertEqual(failed["d"]["Code"], "InvalidParameterValue")
        self.assertEqual(self.counts(url), (1, 0, 1))
        self.server.advance_clock(6000)
        got = self.c.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]
        self.assertEqual(sorted(m["Body"] for m in got), ["one", "two"])
        vis = self.c.change_message_visibility_batch(QueueUrl=url, Entries=[
            {"Id": "v0", "ReceiptHandle": got[0]["ReceiptHandle"], "VisibilityTimeout": 0},
            {"Id": "v1", "ReceiptHandle": "junk", "VisibilityTimeout": 0}])
        self.assertEqual([e["Id"] for e in vis["Successful"]], ["v0"])
        self.assertEqual(vis["Failed"][0]["Code"], "ReceiptHandleIsInvalid")
        again = self.c.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]
        self.assertEqual([m["Body"] for m in again], [got[0]["Body"]])
        dele = self.c.delete_message_batch(QueueUrl=url, Entries=[
            {"Id": "d0", "ReceiptHandle": again[0]["ReceiptHandle"]},
            {"Id": "d1", "ReceiptHandle": got[1]["ReceiptHandle"]}])
        self.assertEqual(sorted(e["Id"] for e in dele["Successful"]), ["d0", "d1"])
        self.assertEqual(dele["Failed"], [])
        self.assertEqual(self.counts(url), (0, 0, 0))
        err = self.assertAwsError
        err("AWS.SimpleQueueService.EmptyBatchRequest", self.c.send_message_batch, QueueUrl=url,
            Entries=[])
        err("AWS.SimpleQueueService.TooManyEntriesInBatchRequest", self.c.send_message_batch,
            QueueUrl=url, Entries=[{"Id": str(i), "MessageBody": "x"} for i in range(11)])
        err("AWS.SimpleQueueService.BatchEntryIdsNotDistinct", self.c.send_message_batch,
            QueueUrl=url, Entries=[{"Id": "a", "MessageBody": "x"}] * 2)
        err("AWS.SimpleQueueService.InvalidBatchEntryId", self.c.delete_message_batch,
            QueueUrl=url, Entries=[{"Id": "a b", "ReceiptHandle": "x"}])
        err("AWS.SimpleQueueService.BatchRequestTooLong", self.c.send_message_batch,
            QueueUrl=url, Entries=[{"Id": str(i), "MessageBody": "y" * 300000}
                                   for i in range(4)])
        self.assertEqual(self.counts(url), (0, 0, 0), "a refused batch sends nothing")

    def test_dead_letter_queue_after_max_receive_count(self):
        dlq = self.queue()
        arn = self.c.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])[
            "Attributes"]["QueueArn"]
        src = self.queue(VisibilityTimeout=10, RedrivePolicy=json.dumps(
            {"deadLetterTargetArn": arn, "maxReceiveCount": 2}))
        attrs = {"k": {"DataType": "String", "StringValue": "v"}}
        sent = self.c.send_message(QueueUrl=src, MessageBody="poison", MessageAttributes=attrs)
        for want in ("1", "2"):
            m = self.c.receive_message(QueueUrl=src, AttributeNames=["ApproximateReceiveCount"])
            self.assertEqual(m["Messages"][0]["Attributes"]["ApproximateReceiveCount"], want)
            self.server.advance_clock(11000)
        # The third receive moves it instead of delivering it.
        self.assertNotIn("Messages", self.c.receive_message(QueueUrl=src, MaxNumberOfMessages=10))
        got = None
        for _ in range(50):
            got = self.c.receive_message(QueueUrl=dlq, MessageAttributeNames=["All"],
                                         AttributeNames=["SentTimestamp"]).get("Messages")
            if got:
                break
            time.sleep(0.05)
        self.assertTrue(got, "the message never reached the dead-letter queue")
        self.assertEqual((got[0]["MessageId"], got[0]["Body"], got[0]["MessageAttributes"]),
                         (sent["MessageId"], "poison", attrs))
        self.assertEqual(self.counts(src), (0, 0, 0), "the original is gone")
        self.server.advance_clock(31000)
        self.assertNotIn("Messages", self.c.receive_message(QueueUrl=src, MaxNumberOfMessages=10))

    def test_purge_deletes_what_was_sent_before_it(self):
        url = self.queue()
        for i in range(0, 50, 10):
            self.c.send_message_batch(QueueUrl=url, Entries=[
                {"Id": str(k), "MessageBody": "old-%d" % (i + k)} for k in range(10)])
        inflight = self.c.receive_message(QueueUrl=url, MaxNumberOfMessages=5)["Messages"]
        self.c.purge_queue(QueueUrl=url)
        for _ in range(100):
            if self.counts(url) == (0, 0, 0):
                break
            time.sleep(0.02)
        self.assertEqual(self.counts(url), (0, 0, 0))
        self.c.send_message(QueueUrl=url, MessageBody="new")
        got = self.c.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]
        self.assertEqual([m["Body"] for m in got], ["new"])
        self.assertAwsError("AWS.SimpleQueueService.MessageNotInflight",
                            self.c.change_message_visibility, QueueUrl=url,
                            ReceiptHandle=inflight[0]["ReceiptHandle"], VisibilityTimeout=0)
        self.assertAwsError("AWS.SimpleQueueService.PurgeQueueInProgress", self.c.purge_queue,
                            QueueUrl=url, status=403)
        self.server.advance_clock(61000)
        self.c.purge_queue(QueueUrl=url)
        self.server.advance_clock(31000)
        self.assertNotIn("Messages", self.c.receive_message(QueueUrl=url, MaxNumberOfMessages=10))

    def wait_task(self, arn, status, timeout=20):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            r = self.c.list_message_move_tasks(SourceArn=arn)["Results"][0]
            if r["Status"] == status:
                return r
            time.sleep(0.05)
        self.fail("the move task never reached %s: %r" % (status, r))

    def test_message_move_tasks_redrive_the_dead_letter_queue(self):
        dlq = self.queue()
        arn = self.c.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])[
            "Attributes"]["QueueArn"]
        src = self.queue(VisibilityTimeout=0, RedrivePolicy=json.dumps(
            {"deadLetterTargetArn": arn, "maxReceiveCount": 1}))
        src_arn = self.c.get_queue_attributes(QueueUrl=src, AttributeNames=["QueueArn"])[
            "Attributes"]["QueueArn"]
        bodies = {"body-%d" % i for i in range(20)}
        for b in sorted(bodies):
            self.c.send_message(QueueUrl=src, MessageBody=b)
        # Each message's second receive moves it to the dead-letter queue.
        for _ in range(200):
            self.c.receive_message(QueueUrl=src, MaxNumberOfMessages=10)
            if self.counts(dlq)[0] == 20:
                break
            time.sleep(0.01)
        self.assertEqual(self.counts(dlq), (20, 0, 0))
        self.assertEqual(self.counts(src), (0, 0, 0))
        m = self.c.receive_message(QueueUrl=dlq, AttributeNames=["All"],
                                   VisibilityTimeout=0)["Messages"][0]
        self.assertEqual(m["Attributes"]["DeadLetterQueueSourceArn"], src_arn)
        # Rate-limited, then cancelled part way: nothing lost or doubled.
        h = self.c.start_message_move_task(SourceArn=arn, MaxNumberOfMessagesPerSecond=10)[
            "TaskHandle"]
        self.assertAwsError("InvalidParameterValue", self.c.start_message_move_task,
                            SourceArn=arn)
        r = self.c.list_message_move_tasks(SourceArn=arn)["Results"]
        self.assertEqual(len(r), 1)
        self.assertEqual((r[0]["Status"], r[0]["TaskHandle"], r[0]["SourceArn"],
                          r[0]["MaxNumberOfMessagesPerSecond"],
                          r[0]["ApproximateNumberOfMessagesToMove"]), ("RUNNING", h, arn, 10, 20))
        self.assertLess(r[0]["ApproximateNumberOfMessagesMoved"], 20, "10 per second")
        time.sleep(0.5)
        moved = self.c.cancel_message_move_task(TaskHandle=h)["ApproximateNumberOfMessagesMoved"]
        done = self.wait_task(arn, "CANCELLED")
        self.assertNotIn("TaskHandle", done)
        self.assertGreaterEqual(done["ApproximateNumberOfMessagesMoved"], moved)
        self.assertEqual(self.counts(src)[0] + self.counts(dlq)[0], 20)
        self.assertAwsError("ResourceNotFoundException", self.c.cancel_message_move_task,
                            TaskHandle=h)
        # Unlimited: the rest goes back to its source.
        self.c.start_message_move_task(SourceArn=arn)
        self.wait_task(arn, "COMPLETED")
        self.assertEqual(self.counts(dlq), (0, 0, 0))
        hist = self.c.list_message_move_tasks(SourceArn=arn, MaxResults=10)["Results"]
        self.assertEqual([t["Status"] for t in hist], ["COMPLETED", "CANCELLED"], "newest first")
        got = []
        for _ in range(10):
            ms = self.c.receive_message(QueueUrl=src, MaxNumberOfMessages=10,
                                        VisibilityTimeout=60).get("Messages", [])
            got += [x["Body"] for x in ms]
        self.assertEqual(sorted(got), sorted(bodies), "each message back exactly once")

    def test_message_move_task_to_a_destination_and_bad_tasks(self):
        dlq = self.queue()
        arn = self.c.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])[
            "Attributes"]["QueueArn"]
        self.queue(RedrivePolicy=json.dumps({"deadLetterTargetArn": arn, "maxReceiveCount": 5}))
        other = self.queue()
        other_arn = self.c.get_queue_attributes(QueueUrl=other, AttributeNames=["QueueArn"])[
            "Attributes"]["QueueArn"]
        # Sent straight to the dead-letter queue: no source to go back to.
        self.c.send_message(QueueUrl=dlq, MessageBody="direct")
        self.c.start_message_move_task(SourceArn=arn)
        failed = self.wait_task(arn, "FAILED")
        self.assertIn("DestinationArn", failed["FailureReason"])
        self.server.advance_clock(31000)  # the message is visible again
        self.c.start_message_move_task(SourceArn=arn, DestinationArn=other_arn)
        done = self.wait_task(arn, "COMPLETED")
        self.assertEqual(done["DestinationArn"], other_arn)
        self.assertEqual(self.c.receive_message(QueueUrl=other)["Messages"][0]["Body"], "direct")
        c = self.c
        self.assertAwsError("ResourceNotFoundException", c.start_message_move_task,
                            SourceArn=arn + "-nope")
        self.assertAwsError("InvalidParameterValue", c.start_message_move_task,
                            SourceArn=other_arn)
        self.assertAwsError("ResourceNotFoundException", c.start_message_move_task,
                            SourceArn=arn, DestinationArn=other_arn + "-nope")
        self.assertAwsError("InvalidParameterValue", c.start_message_move_task, SourceArn=arn,
                            MaxNumberOfMessagesPerSecond=501)
        self.assertAwsError("ResourceNotFoundException", c.cancel_message_move_task,
                            TaskHandle="bm90IGEgdGFzaw==")

    def test_delete_queue_drops_its_messages(self):
        name = unique_name("dq")
        url = self.c.create_queue(QueueName=name)["QueueUrl"]
        for i in range(5):
            self.c.send_message(QueueUrl=url, MessageBody="m%d" % i)
        self.c.delete_queue(QueueUrl=url)
        self.server.advance_clock(61000)
        url = self.c.create_queue(QueueName=name)["QueueUrl"]
        self.assertNotIn("Messages", self.c.receive_message(QueueUrl=url, MaxNumberOfMessages=10))


class SqsCrashTest(harness.KinesisTestCase):
    def test_kill9_during_compaction_loses_and_revives_nothing(self):
        """Old messages at the front of the log while load rolls 4 MiB
        segments and deletes what it sends: compaction copies the old ones
        forward; kill -9 twice at random points, and after each restart
        every acknowledged message not deleted is there once, byte for byte,
        and no deleted one is."""
        with harness.Server(extra_args=["--segment-bytes", str(4 << 20), "--sqs-partitions", "1"],
                            needs_local=True, name="SqsCompactCrashTest") as srv:
            c = srv.client("sqs")
            url = c.create_queue(QueueName="compact-crash")["QueueUrl"]
            keepers = {}
            for i in range(0, 40, 10):
                out = c.send_message_batch(QueueUrl=url, Entries=[
                    {"Id": str(k), "MessageBody": "keep-%d-%s" % (i + k, "k" * 3000)}
                    for k in range(10)])
                for e in out["Successful"]:
                    keepers[e["MessageId"]] = "keep-%d-%s" % (i + int(e["Id"]), "k" * 3000)
            # A delete the server died under may or may not have landed.
            live, deleted, attempted, lock = {}, set(), set(), threading.Lock()
            for round_ in range(2):
                stop = threading.Event()

                def producer(k):
                    cl = srv.client("sqs")
                    i = 0
                    while not stop.is_set():
                        bodies = ["r%d-p%d-%d-%d-%s" % (round_, k, i, j, "x" * 4000) for j in range(10)]
                        try:
                            out = cl.send_message_batch(QueueUrl=url, Entries=[
                                {"Id": str(j), "MessageBody": b} for j, b in enumerate(bodies)])
                        except Exception:
                            return  # the server died under it
                        with lock:
                            for e in out["Successful"]:
                                live[e["MessageId"]] = bodies[int(e["Id"])]
                        i += 1
                        time.sleep(0.01)  # consumers keep up: old segments empty out

                def consumer():
                    cl = srv.client("sqs")
                    while not stop.is_set():
                        try:
                            ms = cl.receive_message(QueueUrl=url, MaxNumberOfMessages=10,
                                                    VisibilityTimeout=1).get("Messages", [])
                            for m in ms:
                                if m["MessageId"] in keepers:  # back at once
                                    cl.change_message_visibility(
                                        QueueUrl=url, ReceiptHandle=m["ReceiptHandle"],
                                        VisibilityTimeout=0)
                            ms = [m for m in ms if m["MessageId"] not in keepers]
                            if not ms:
                                continue
                            with lock:
                                attempted.update(m["MessageId"] for m in ms)
                            out = cl.delete_message_batch(QueueUrl=url, Entries=[
                                {"Id": str(j), "ReceiptHandle": m["ReceiptHandle"]}
                                for j, m in enumerate(ms)])
                            with lock:
                                deleted.update(ms[int(e["Id"])]["MessageId"]
                                               for e in out["Successful"])
                        except Exception:
                            return
                threads = [threading.Thread(target=producer, args=(k,)) for k in range(3)]
                threads += [threading.Thread(target=consumer) for _ in range(3)]
                for t in threads:
                    t.start()
                time.sleep(3 + 2 * (os.getpid() % 7) / 7.0 + round_)
                c = harness.kill9_under_load(srv, stop, threads)
            # Drain everything there is, without deleting (a long timeout),
            # once the 1-second visibility timeouts of before have ended.
            srv.advance_clock(2000)
            got, handles = {}, {}
            for _ in range(100000):
                ms = c.receive_message(QueueUrl=url, MaxNumberOfMessages=10,
                                       VisibilityTimeout=3600).get("Messages", [])
                if not ms:
                    break
                for m in ms:
                    self.assertNotIn(m["MessageId"], got, "received twice")
                    got[m["MessageId"]] = m["Body"]
                    handles[m["MessageId"]] = m["ReceiptHandle"]
            for k, body in keepers.items():
                self.assertEqual(got.get(k), body, "an old message was lost or changed")
            self.assertGreater(len(deleted), 100)
            self.assertFalse(set(got) & deleted, "a deleted message came back")
            missing = [k for k in live if k not in got and k not in attempted]
            self.assertFalse(missing, "%d acknowledged sends lost" % len(missing))
            for k, body in live.items():
                if k in got:
                    self.assertEqual(got[k], body)
            # Then everything but the old messages goes, and they are visible
            # again: they must not keep the first segment, and every later
            # one, on disk. Compaction copies them forward; after one more
            # kill -9 they are still there, once each.
            rest = [k for k in got if k not in keepers]
            for i in range(0, len(rest), 10):
                out = c.delete_message_batch(QueueUrl=url, Entries=[
                    {"Id": str(j), "ReceiptHandle": handles[k]} for j, k in enumerate(rest[i:i + 10])])
                self.assertEqual(out.get("Failed", []), [])
            for k in keepers:
                c.change_message_visibility(QueueUrl=url, ReceiptHandle=handles[k], VisibilityTimeout=0)
            pattern = os.path.join(srv.data_dir, "logs", "*", "*", "*.seg")
            first = "%020d.seg" % 0
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                segs = sorted(os.path.basename(p) for p in glob.glob(pattern))
                if segs and segs[0] != first:
                    break
                time.sleep(0.2)
            self.assertNotEqual(segs[0], first, "the first segment is still there")
            srv.kill9()
            srv.start()
            c = srv.client("sqs")
            # The restart forgot the clock's advance above: their visibility
            # changes were stamped 2 s ahead.
            srv.advance_clock(3000)
            after = {}
            for _ in range(100):
                ms = c.receive_message(QueueUrl=url, MaxNumberOfMessages=10,
                                       VisibilityTimeout=3600).get("Messages", [])
                if not ms:
                    break
                for m in ms:
                    self.assertNotIn(m["MessageId"], after, "received twice")
                    after[m["MessageId"]] = m["Body"]
            self.assertEqual(after, keepers)

    def test_kill9_keeps_every_acknowledged_send_and_delete_and_count(self):
        with harness.Server(needs_local=True, name="SqsCrashTest") as srv:
            c = srv.client("sqs")
            url = c.create_queue(QueueName="crash")["QueueUrl"]
            sent, lock, stop = {}, threading.Lock(), threading.Event()

            def producer(k):
                cl = srv.client("sqs")
                i = 0
                while not stop.is_set():
                    body = "p%d-%d-%s" % (k, i, base64.b64encode(os.urandom(30)).decode())
                    try:
                        out = cl.send_message(QueueUrl=url, MessageBody=body)
                    except Exception:
                        break  # the server died under it: not acknowledged
                    with lock:
                        sent[out["MessageId"]] = body
                    i += 1

            threads = [threading.Thread(target=producer, args=(k,)) for k in range(4)]
            for t in threads:
                t.start()
            time.sleep(0.5)
            # Meanwhile: receive some (in flight, counts) and delete some.
            deleted, inflight = set(), {}
            for _ in range(5):
                for m in c.receive_message(QueueUrl=url, MaxNumberOfMessages=10,
                                           VisibilityTimeout=3600).get("Messages", []):
                    if len(deleted) <= len(inflight):
                        c.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
                        deleted.add(m["MessageId"])
                    else:
                        inflight[m["MessageId"]] = m["Body"]
            time.sleep(0.3)
            c = harness.kill9_under_load(srv, stop, threads)
            a = c.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
            self.assertEqual(int(a["ApproximateNumberOfMessagesNotVisible"]), len(inflight))
            got = {}
            for _ in range(10000):
                ms = c.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
                if not ms:
                    break
                for m in ms:
                    self.assertNotIn(m["MessageId"], got, "received twice")
                    got[m["MessageId"]] = m["Body"]
                    c.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
            self.assertGreater(len(sent), 50)
            want = {k: v for k, v in sent.items() if k not in deleted and k not in inflight}
            missing = set(want) - set(got)
            self.assertFalse(missing, "%d acknowledged sends lost" % len(missing))
            for k in want:
                self.assertEqual(got[k], want[k])
            self.assertFalse(set(got) & deleted, "a deleted message came back")
            # In-flight ones come back with their receive counts after the timeout.
            srv.advance_clock(3601 * 1000)
            back = c.receive_message(QueueUrl=url, MaxNumberOfMessages=10,
                                     AttributeNames=["ApproximateReceiveCount"]).get("Messages", [])
            if inflight:
                self.assertTrue(back)
                for m in back:
                    self.assertIn(m["MessageId"], inflight)
                    self.assertEqual(m["Attributes"]["ApproximateReceiveCount"], "2")


class SqsSegmentTest(harness.KinesisTestCase):
    def test_segments_of_deleted_messages_are_deleted(self):
        """Disk is given back once every message of a segment is gone."""
        # One partition, so that 6 MB of messages fill more than one segment.
        with harness.Server(extra_args=["--segment-bytes", str(4 << 20), "--sqs-partitions", "1"],
                            name="SqsSegmentTest") as srv:
            c = srv.client("sqs")
            url = c.create_queue(QueueName="seg")["QueueUrl"]
            body = "x" * 200000
            for i in range(0, 60, 10):
                out = c.send_message_batch(QueueUrl=url, Entries=[
                    {"Id": str(k), "MessageBody": body[:-4] + "%04d" % (i + k)}
                    for k in range(5)])
                self.assertEqual(out["Failed"], [])
            pattern = os.path.join(srv.data_dir, "logs", "*", "*", "*.seg")
            before = len(glob.glob(pattern))
            self.assertGreaterEqual(before, 2)
            seen = 0
            for _ in range(100):
                ms = c.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
                if not ms:
                    break
                seen += len(ms)
                c.delete_message_batch(QueueUrl=url, Entries=[
                    {"Id": str(k), "ReceiptHandle": m["ReceiptHandle"]} for k, m in enumerate(ms)])
            self.assertEqual(seen, 30)
            deadline = time.monotonic() + 10
            while len(glob.glob(pattern)) >= before and time.monotonic() < deadline:
                c.send_message(QueueUrl=url, MessageBody="tick")  # new records roll on
                time.sleep(0.2)
            self.assertLess(len(glob.glob(pattern)), before, "no segment was deleted")
            # A purge, then a restart: nothing purged comes back.
            c.send_message_batch(QueueUrl=url, Entries=[
                {"Id": str(k), "MessageBody": "purged-%d" % k} for k in range(10)])
            c.purge_queue(QueueUrl=url)
            srv.restart()
            c = srv.client("sqs")
            bodies = []
            for _ in range(100):
                ms = c.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
                if not ms:
                    break
                bodies += [m["Body"] for m in ms]
            self.assertFalse(bodies, "purged or deleted messages came back: %r" % bodies[:3])

    def test_compaction_frees_segments_an_old_message_kept(self):
        """One old message no longer keeps every later segment on disk: it
        is copied forward with its id, send time and receive count, and the
        segments go; a restart finds it once, and a delete deletes it."""
        with harness.Server(extra_args=["--segment-bytes", str(4 << 20), "--sqs-partitions", "1"],
                            name="SqsCompactionTest") as srv:
            c = srv.client("sqs")
            url = c.create_queue(QueueName="compact")["QueueUrl"]
            attrs = {"a": {"DataType": "String", "StringValue": "kept"}}
            old = c.send_message(QueueUrl=url, MessageBody="old message", MessageAttributes=attrs)
            late = c.send_message(QueueUrl=url, MessageBody="delayed", DelaySeconds=900)
            first = c.receive_message(QueueUrl=url, VisibilityTimeout=1, AttributeNames=["All"])
            first = first["Messages"][0]
            self.assertEqual(first["MessageId"], old["MessageId"])
            body = "x" * 200000
            for i in range(0, 80, 5):
                out = c.send_message_batch(QueueUrl=url, Entries=[
                    {"Id": str(k), "MessageBody": body[:-4] + "%04d" % (i + k)} for k in range(5)])
                self.assertEqual(out["Failed"], [])
            time.sleep(1.1)  # the old message is visible again
            got = 0
            for _ in range(1000):
                if got >= 80:
                    break
                ms = c.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
                ms_big = [m for m in ms if len(m["Body"]) == len(body)]
                # The old message may come up among them: leave it be.
                for m in ms:
                    if m["MessageId"] == old["MessageId"]:
                        c.change_message_visibility(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"],
                                                    VisibilityTimeout=0)
                if ms_big:
                    c.delete_message_batch(QueueUrl=url, Entries=[
                        {"Id": str(k), "ReceiptHandle": m["ReceiptHandle"]}
                        for k, m in enumerate(ms_big)])
                got += len(ms_big)
            self.assertEqual(got, 80)
            pattern = os.path.join(srv.data_dir, "logs", "*", "*", "*.seg")
            before = len(glob.glob(pattern))
            self.assertGreaterEqual(before, 4, "16 MB of messages fill four segments")
            deadline = time.monotonic() + 20
            while len(glob.glob(pattern)) > 2 and time.monotonic() < deadline:
                time.sleep(0.2)
            self.assertLessEqual(len(glob.glob(pattern)), 2,
                                 "the segments the old message kept are still there")
            metrics = srv.raw_request("GET", "/metrics")[1].decode()
            copied = re.search(r'^sluice_sqs_compacted_total\{region="us-east-1",queue="compact"\} (\d+)$',
                               metrics, re.M)
            self.assertTrue(copied, "no compaction series")
            self.assertGreaterEqual(int(copied.group(1)), 2,
                                    "the old and the delayed message were copied forward")
            a = c.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
            self.assertEqual((a["ApproximateNumberOfMessages"], a["ApproximateNumberOfMessagesDelayed"]),
                             ("1", "1"))
            for restart in (False, True):
                if restart:
                    srv.kill9()
                    srv.start()
                    c = srv.client("sqs")
                ms = c.receive_message(QueueUrl=url, MaxNumberOfMessages=10, AttributeNames=["All"],
                                       MessageAttributeNames=["All"], VisibilityTimeout=0)
                ms = ms.get("Messages", [])
                self.assertEqual(len(ms), 1, "the old message, once\n" + srv.log_tail())
                m = ms[0]
                self.assertEqual((m["MessageId"], m["Body"], m["MessageAttributes"]),
                                 (old["MessageId"], "old message", attrs))
                self.assertEqual(m["Attributes"]["SentTimestamp"], first["Attributes"]["SentTimestamp"])
                self.assertEqual(m["Attributes"]["ApproximateFirstReceiveTimestamp"],
                                 first["Attributes"]["ApproximateFirstReceiveTimestamp"])
                self.assertGreaterEqual(int(m["Attributes"]["ApproximateReceiveCount"]), 2)
            a = c.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
            self.assertEqual(a["ApproximateNumberOfMessagesDelayed"], "1", "the delayed one stays")
            c.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
            srv.kill9()
            srv.start()
            c = srv.client("sqs")
            self.assertNotIn("Messages", c.receive_message(QueueUrl=url, MaxNumberOfMessages=10))
            a = c.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
            self.assertEqual((a["ApproximateNumberOfMessages"], a["ApproximateNumberOfMessagesDelayed"]),
                             ("0", "1"))
            del late


QUERY_SCRIPT = textwrap.dedent(r'''
    import sys, hashlib, boto3, botocore
    from botocore.config import Config
    c = boto3.client("sqs", endpoint_url=sys.argv[1], region_name="us-east-1",
                     aws_access_key_id="AKID", aws_secret_access_key="secret",
                     config=Config(retries={"total_max_attempts": 1}))
    assert c.meta.service_model.protocol == "query"
    url = c.create_queue(QueueName=sys.argv[2])["QueueUrl"]
    body = "query body <&> \u00e9"
    attrs = {"k": {"DataType": "String", "StringValue": "v"},
             "bin": {"DataType": "Binary", "BinaryValue": b"\x00\x01\xfe"}}
    out = c.send_message(QueueUrl=url, MessageBody=body, MessageAttributes=attrs, DelaySeconds=0)
    assert out["MD5OfMessageBody"] == hashlib.md5(body.encode()).hexdigest(), out
    ms = c.receive_message(QueueUrl=url, MaxNumberOfMessages=5, MessageAttributeNames=["All"],
                           AttributeNames=["All"])["Messages"]
    assert len(ms) == 1 and ms[0]["Body"] == body, ms
    assert ms[0]["MessageAttributes"] == attrs, ms[0]["MessageAttributes"]
    assert ms[0]["MD5OfMessageAttributes"] == out["MD5OfMessageAttributes"]
    assert ms[0]["Attributes"]["ApproximateReceiveCount"] == "1", ms[0]["Attributes"]
    c.change_message_visibility(QueueUrl=url, ReceiptHandle=ms[0]["ReceiptHandle"],
                                VisibilityTimeout=0)
    ms = c.receive_message(QueueUrl=url)["Messages"]
    c.delete_message(QueueUrl=url, ReceiptHandle=ms[0]["ReceiptHandle"])
    out = c.send_message_batch(QueueUrl=url, Entries=[
        {"Id": "a", "MessageBody": "b1"}, {"Id": "b", "MessageBody": "b2", "DelaySeconds": 901}])
    assert [e["Id"] for e in out["Successful"]] == ["a"], out
    assert out["Failed"][0]["Id"] == "b" and out["Failed"][0]["Code"] == "InvalidParameterValue"
    ms = c.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]
    out = c.delete_message_batch(QueueUrl=url, Entries=[
        {"Id": "d", "ReceiptHandle": ms[0]["ReceiptHandle"]}, {"Id": "e", "ReceiptHandle": "junk"}])
    assert [e["Id"] for e in out["Successful"]] == ["d"], out
    assert out["Failed"][0]["Code"] == "ReceiptHandleIsInvalid", out
    assert "Messages" not in c.receive_message(QueueUrl=url, WaitTimeSeconds=1)
    print("sqs-query-messages-ok")
''')


@unittest.skipUnless(harness.debian_boto3(), "Debian's python3-boto3 is not installed")
class SqsQueryMessagesTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.server = harness.server_for_class(cls)

    def test_messages_over_query_with_botocore_1_29(self):
        harness.check_debian_script(self, QUERY_SCRIPT, "sqs-query-messages-ok", self.server.endpoint, "qm")


if __name__ == "__main__":
    unittest.main()
