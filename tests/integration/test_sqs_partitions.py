"""SQS standard queues of several partitions (--sqs-partitions 4 on two
workers): messages spread over the partitions and each is received exactly
once; long polls wake for a message on any partition, including one that
became visible again or whose delay ended; nothing a poll took is left in
flight unanswered; counts, purge, the DLQ, move tasks, /metrics, restart
and deletion cover every partition."""

import base64
import concurrent.futures
import glob
import os
import re
import struct
import threading
import time
import unittest

import harness
from harness import unique_name

PARTS = 4


def partition_of(handle):
    """The partition a receipt handle names (sluice's handle layout)."""
    return struct.unpack_from("<I", base64.b64decode(handle), 18)[0]


class SqsPartitionTest(harness.KinesisTestCase):
    @classmethod
    def setUpClass(cls):
        cls.server = harness.server_for_class(
            cls, extra_args=["--workers", "2", "--sqs-partitions", str(PARTS)], needs_local=True)
        cls.c = cls.server.client("sqs")

    def queue(self, **attrs):
        return self.c.create_queue(QueueName=unique_name("p"),
                                   Attributes={k: str(v) for k, v in attrs.items()})["QueueUrl"]

    def counts(self, url):
        a = self.c.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
        return (int(a["ApproximateNumberOfMessages"]), int(a["ApproximateNumberOfMessagesNotVisible"]),
                int(a["ApproximateNumberOfMessagesDelayed"]))

    def clients(self, n):
        # One client each: separate connections, which land on both workers.
        return [self.server.client("sqs") for _ in range(n)]

    def send_many(self, url, bodies, clients):
        def send(i):
            c = clients[i % len(clients)]
            chunk = bodies[i * 10:(i + 1) * 10]
            out = c.send_message_batch(QueueUrl=url, Entries=[
                {"Id": str(k), "MessageBody": b} for k, b in enumerate(chunk)])
            self.assertEqual(out.get("Failed", []), [])
        with concurrent.futures.ThreadPoolExecutor(len(clients)) as ex:
            list(ex.map(send, range((len(bodies) + 9) // 10)))

    def drain(self, url, clients, expect, wait=0):
        """Receive and delete until `expect` messages came; returns
        {body: count} and the partitions the handles named."""
        seen, parts, lock = {}, set(), threading.Lock()
        done = threading.Event()

        def consume(c):
            deadline = time.monotonic() + 30
            while not done.is_set() and time.monotonic() < deadline:
                ms = c.receive_message(QueueUrl=url, MaxNumberOfMessages=10,
                                       WaitTimeSeconds=wait).get("Messages", [])
                if not ms:
                    continue
                c.delete_message_batch(QueueUrl=url, Entries=[
                    {"Id": str(k), "ReceiptHandle": m["ReceiptHandle"]} for k, m in enumerate(ms)])
                with lock:
                    for m in ms:
                        seen[m["Body"]] = seen.get(m["Body"], 0) + 1
                        parts.add(partition_of(m["ReceiptHandle"]))
                    if sum(seen.values()) >= expect:
                        done.set()
        threads = [threading.Thread(target=consume, args=(c,)) for c in clients]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        return seen, parts

    def test_messages_spread_and_each_is_received_once(self):
        url = self.queue()
        bodies = ["m-%d" % i for i in range(400)]
        cl = self.clients(4)
        self.send_many(url, bodies, cl)
        self.assertEqual(self.counts(url), (400, 0, 0), "counts add up every partition")
        seen, parts = self.drain(url, cl, 400)
        self.assertEqual(sorted(seen), sorted(bodies))
        self.assertEqual(set(seen.values()), {1}, "a message was received twice")
        self.assertGreater(len(parts), 1, "every message went to one partition")
        self.assertEqual(self.counts(url), (0, 0, 0))
        # A short poll of an empty queue tries every partition and answers.
        t0 = time.monotonic()
        self.assertNotIn("Messages", self.c.receive_message(QueueUrl=url))
        self.assertLess(time.monotonic() - t0, 5)

    def test_a_short_poll_finds_a_single_message_on_any_partition(self):
        url = self.queue()
        cl = self.clients(4)
        # Each client sends one message; whatever partition it went to, a
        # short poll from any connection finds it.
        for i, c in enumerate(cl):
            c.send_message(QueueUrl=url, MessageBody="one-%d" % i)
            got = cl[(i + 1) % len(cl)].receive_message(QueueUrl=url).get("Messages", [])
            self.assertEqual([m["Body"] for m in got], ["one-%d" % i])
            self.c.delete_message(QueueUrl=url, ReceiptHandle=got[0]["ReceiptHandle"])

    def test_long_polls_wake_for_a_message_on_any_partition(self):
        url = self.queue()
        waiting = self.clients(8)
        senders = self.clients(4)
        got, lock = [], threading.Lock()

        def poll(c):
            t0 = time.monotonic()
            ms = c.receive_message(QueueUrl=url, WaitTimeSeconds=20).get("Messages", [])
            with lock:
                got.append((time.monotonic() - t0, [m["Body"] for m in ms]))
        threads = [threading.Thread(target=poll, args=(c,)) for c in waiting]
        for t in threads:
            t.start()
        time.sleep(1.0)  # every poll is waiting now, each at some partition
        t_send = time.monotonic()
        for i in range(8):
            senders[i % 4].send_message(QueueUrl=url, MessageBody="wake-%d" % i)
        for t in threads:
            t.join()
        # A poll that missed its wake-up would answer empty after 20 s and
        # leave its message behind.
        bodies = sorted(b for _, bs in got for b in bs)
        self.assertEqual(bodies, sorted("wake-%d" % i for i in range(8)))
        self.assertLess(time.monotonic() - t_send, 10, "the polls waited out their time")
        self.assertEqual(self.counts(url), (0, 8, 0), "each message in flight exactly once")

    def test_a_waiting_poll_gets_a_message_whose_visibility_or_delay_ended(self):
        url = self.queue()
        cl = self.clients(4)
        for i, c in enumerate(cl):
            c.send_message(QueueUrl=url, MessageBody="v-%d" % i)
        # Received with a 2 s visibility timeout and not deleted.
        held = []
        for _ in range(100):  # a short poll may answer from an empty partition
            if len(held) >= 4:
                break
            held += self.c.receive_message(QueueUrl=url, MaxNumberOfMessages=10,
                                           VisibilityTimeout=2).get("Messages", [])
        for i, c in enumerate(cl):
            c.send_message(QueueUrl=url, MessageBody="d-%d" % i, DelaySeconds=1)
        self.assertEqual(self.counts(url), (0, 4, 4))
        got, lock, all_at = [], threading.Lock(), []

        def poll(c):
            while True:
                ms = c.receive_message(QueueUrl=url, WaitTimeSeconds=10,
                                       MaxNumberOfMessages=10).get("Messages", [])
                if not ms:
                    return
                with lock:
                    got.extend(m["Body"] for m in ms)
                    if len(got) >= 8:
                        all_at.append(time.monotonic())
                        return
        t0 = time.monotonic()
        # One poller: it waits at one partition, and the messages due on the
        # others must bring it there.
        threads = [threading.Thread(target=poll, args=(c,)) for c in self.clients(1)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        self.assertEqual(sorted(got), sorted(["v-%d" % i for i in range(4)] +
                                             ["d-%d" % i for i in range(4)]))
        # Due after 2 s at the latest; a missed wake-up waits out the 10 s.
        self.assertLess(all_at[0] - t0, 6, "the polls waited out their time")

    def test_concurrent_long_polls_strand_nothing(self):
        """Many polls of 10 over the partitions, while messages trickle in:
        every message sent is either returned to one poll or still visible."""
        url = self.queue()
        stop = threading.Event()
        got, lock = [], threading.Lock()

        def poll(c):
            while not stop.is_set():
                ms = c.receive_message(QueueUrl=url, WaitTimeSeconds=1, MaxNumberOfMessages=10,
                                       VisibilityTimeout=600).get("Messages", [])
                with lock:
                    got.extend(m["Body"] for m in ms)
        threads = [threading.Thread(target=poll, args=(c,)) for c in self.clients(8)]
        for t in threads:
            t.start()
        senders = self.clients(3)
        for i in range(300):
            senders[i % 3].send_message(QueueUrl=url, MessageBody="s-%d" % i)
            if i % 50 == 0:
                time.sleep(0.05)
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            with lock:
                if len(got) >= 300:
                    break
            time.sleep(0.1)
        stop.set()
        for t in threads:
            t.join()
        self.assertEqual(sorted(got), sorted("s-%d" % i for i in range(300)))
        visible, in_flight, _ = self.counts(url)
        self.assertEqual((visible, in_flight), (0, 300),
                         "in flight must be exactly what the polls were given")

    def test_purge_dlq_and_move_task_cover_every_partition(self):
        dlq = self.queue()
        dlq_arn = self.c.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])[
            "Attributes"]["QueueArn"]
        src = self.queue(RedrivePolicy='{"deadLetterTargetArn":"%s","maxReceiveCount":1}' % dlq_arn,
                         VisibilityTimeout=1)
        src_arn = self.c.get_queue_attributes(QueueUrl=src, AttributeNames=["QueueArn"])[
            "Attributes"]["QueueArn"]
        cl = self.clients(4)
        self.send_many(src, ["dlq-%d" % i for i in range(40)], cl)
        # First receives, left to time out; the second receive of each
        # moves it to the DLQ instead.
        first = 0
        for _ in range(100):
            if first >= 40:
                break
            first += len(self.c.receive_message(QueueUrl=src, MaxNumberOfMessages=10)
                         .get("Messages", []))
        time.sleep(1.5)
        deadline = time.monotonic() + 20
        while self.counts(dlq)[0] < 40 and time.monotonic() < deadline:
            self.assertNotIn("Messages", self.c.receive_message(QueueUrl=src, MaxNumberOfMessages=10))
        self.assertEqual(self.counts(dlq), (40, 0, 0))
        self.assertEqual(self.counts(src), (0, 0, 0))
        # Back with a move task, from every partition of the DLQ.
        task = self.c.start_message_move_task(SourceArn=dlq_arn, DestinationArn=src_arn)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            t = self.c.list_message_move_tasks(SourceArn=dlq_arn)["Results"][0]
            if t["Status"] != "RUNNING":
                break
            time.sleep(0.1)
        self.assertIn("TaskHandle", task)
        self.assertEqual((t["Status"], t["ApproximateNumberOfMessagesMoved"],
                          t["ApproximateNumberOfMessagesToMove"]), ("COMPLETED", 40, 40))
        self.assertEqual(self.counts(dlq), (0, 0, 0))
        self.assertEqual(self.counts(src), (40, 0, 0))
        self.c.purge_queue(QueueUrl=src)
        self.assertEqual(self.counts(src), (0, 0, 0))
        self.assertNotIn("Messages", self.c.receive_message(QueueUrl=src, MaxNumberOfMessages=10))

    def test_metrics_add_up_the_partitions(self):
        url = self.queue()
        name = url.rsplit("/", 1)[1]
        cl = self.clients(4)
        self.send_many(url, ["x-%d" % i for i in range(60)], cl)
        got = 0
        for _ in range(100):
            if got >= 20:
                break
            got += len(self.c.receive_message(QueueUrl=url, MaxNumberOfMessages=10)
                       .get("Messages", []))
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            text = self.server.raw_request("GET", "/metrics")[1].decode()
            lines = [l for l in text.splitlines() if 'queue="%s"' % name in l]
            vals = {l.split("{")[0]: float(l.rsplit(" ", 1)[1]) for l in lines}
            # The gauges are refreshed once a second per partition: wait
            # until every partition's refresh shows the whole state (two
            # stale partitions can make one sum look right on its own).
            if (vals.get("sluice_sqs_messages_visible") == 60 - got and
                    vals.get("sluice_sqs_messages_in_flight") == got):
                break
            time.sleep(0.2)
        for series in ("sluice_sqs_sends_total", "sluice_sqs_receives_total",
                       "sluice_sqs_messages_visible", "sluice_sqs_messages_in_flight"):
            self.assertEqual(sum(1 for l in lines if l.startswith(series + "{")), 1,
                             "one line per queue for %s" % series)
        self.assertEqual(vals["sluice_sqs_sends_total"], 60)
        self.assertEqual(vals["sluice_sqs_receives_total"], got)
        self.assertEqual(vals["sluice_sqs_messages_visible"], 60 - got)
        self.assertEqual(vals["sluice_sqs_messages_in_flight"], got)


class SqsPartitionRestartTest(harness.KinesisTestCase):
    def test_restart_and_delete_cover_every_partition(self):
        with harness.Server(extra_args=["--workers", "2", "--sqs-partitions", str(PARTS)],
                            needs_local=True, name="SqsPartitionRestartTest") as srv:
            c = srv.client("sqs")
            url = c.create_queue(QueueName=unique_name("pr"))["QueueUrl"]
            cl = [srv.client("sqs") for _ in range(4)]
            bodies = ["r-%d" % i for i in range(200)]
            for i in range(20):
                out = cl[i % 4].send_message_batch(QueueUrl=url, Entries=[
                    {"Id": str(k), "MessageBody": b} for k, b in enumerate(bodies[i * 10:i * 10 + 10])])
                self.assertEqual(out.get("Failed", []), [])
            # 50 in flight with a long timeout: they stay in flight over the
            # restart (their receive is durable).
            taken = []
            for _ in range(100):
                if len(taken) >= 50:
                    break
                taken += c.receive_message(QueueUrl=url, MaxNumberOfMessages=10,
                                           VisibilityTimeout=600).get("Messages", [])
            self.assertGreaterEqual(len(taken), 50)
            # Sends spread over the partitions their workers own (at least
            # two, taking turns); each partition a handle names has its log.
            uid_dirs = glob.glob(os.path.join(srv.data_dir, "logs", "*"))
            logs = {int(os.path.basename(p)) for d in uid_dirs for p in glob.glob(os.path.join(d, "*"))}
            self.assertTrue(2 <= len(logs) <= PARTS, logs)
            self.assertLessEqual({partition_of(m["ReceiptHandle"]) for m in taken}, logs)
            srv.kill9()
            srv.start()
            c = srv.client("sqs")
            a = c.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
            self.assertEqual((int(a["ApproximateNumberOfMessages"]),
                              int(a["ApproximateNumberOfMessagesNotVisible"])),
                             (200 - len(taken), len(taken)))
            rest = []
            for _ in range(100):
                ms = c.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
                if not ms:
                    break
                rest += [m["Body"] for m in ms]
            self.assertEqual(sorted(rest + [m["Body"] for m in taken]), sorted(bodies))
            # The handles of before the restart still delete.
            for m in taken:
                c.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
            a = c.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
            self.assertEqual(int(a["ApproximateNumberOfMessagesNotVisible"]), len(rest))
            c.delete_queue(QueueUrl=url)
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                left = [p for d in uid_dirs for p in glob.glob(os.path.join(d, "*"))]
                if not left:
                    break
                time.sleep(0.1)
            self.assertEqual(left, [], "every partition's log is deleted")


class SqsNewQueueTest(harness.KinesisTestCase):
    """New queues come with their partitions' logs made ahead: what a
    user can see is that a queue takes its first sends at once, keeps them
    across kill -9 (also one never sent to before the kill), and leaves
    nothing on disk when deleted unused."""

    def uid_dirs(self, srv):
        return set(glob.glob(os.path.join(srv.data_dir, "logs", "*")))

    def test_new_queues_across_kill9_and_an_unused_one_deleted(self):
        with harness.Server(extra_args=["--workers", "2", "--sqs-partitions", str(PARTS)],
                            needs_local=True, name="SqsNewQueueTest") as srv:
            c = srv.client("sqs")
            sent = [c.create_queue(QueueName=unique_name("ns"))["QueueUrl"] for _ in range(10)]
            idle = [c.create_queue(QueueName=unique_name("ni"))["QueueUrl"] for _ in range(10)]
            bodies = {u: ["%s-%d" % (u.rsplit("/", 1)[1], i) for i in range(20)] for u in sent}
            for u in sent:
                for k in range(2):
                    out = c.send_message_batch(QueueUrl=u, Entries=[
                        {"Id": str(i), "MessageBody": b}
                        for i, b in enumerate(bodies[u][k * 10:k * 10 + 10])])
                    self.assertEqual(out.get("Failed", []), [])
            srv.kill9()
            srv.start()
            c = srv.client("sqs")

            def drain(u, want):
                got = []
                deadline = time.monotonic() + 20
                while len(got) < want and time.monotonic() < deadline:
                    got += [m["Body"] for m in c.receive_message(
                        QueueUrl=u, MaxNumberOfMessages=10, WaitTimeSeconds=1).get("Messages", [])]
                return got

            for u in sent:
                self.assertEqual(sorted(drain(u, 20)), sorted(bodies[u]), u)
            # The queues never sent to before the kill work as new ones.
            for u in idle:
                c.send_message(QueueUrl=u, MessageBody="after")
                self.assertEqual(drain(u, 1), ["after"], u)
            # A queue created and deleted unused leaves no directory behind.
            before = self.uid_dirs(srv)
            u = c.create_queue(QueueName=unique_name("nd"))["QueueUrl"]
            made = self.uid_dirs(srv) - before
            # Made at CreateQueue, so that the check below has something to
            # find gone.
            self.assertEqual(len(made), 1, "the new queue's logs")
            c.delete_queue(QueueUrl=u)
            deadline = time.monotonic() + 10
            while self.uid_dirs(srv) & made and time.monotonic() < deadline:
                time.sleep(0.1)
            self.assertEqual(self.uid_dirs(srv) & made, set(),
                             "the unused queue's logs are deleted")


if __name__ == "__main__":
    unittest.main()
