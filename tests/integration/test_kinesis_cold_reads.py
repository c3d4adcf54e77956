"""GetRecords of data that is no longer in the page cache: the owner reads it
through io_uring instead of blocking. The test evicts the shard's segment
files from the page cache (posix_fadvise DONTNEED, after the server synced
them) and reads everything back, byte for byte, across segment files."""

import glob
import os
import threading
import time
import unittest

import harness
from harness import unique_name


def evict(data_dir):
    n = 0
    for path in glob.glob(os.path.join(data_dir, "logs", "*", "*", "*.seg")):
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
            n += 1
        finally:
            os.close(fd)
    return n


class ColdReadTest(harness.KinesisTestCase):
    @classmethod
    def setUpClass(cls):
        cls.server = harness.server_for_class(cls, extra_args=["--segment-bytes", str(4 << 20),
                                                               ],
                                              needs_local=True)
        cls.c = cls.server.client()

    def test_reads_after_eviction_match_what_was_written(self):
        name = unique_name("cold")
        harness.create_stream(self.c, name, shards=1)
        sent = []
        for batch in range(30):  # ~11 MiB: three 4 MiB segments
            recs = [{"Data": os.urandom(2000 + (i * 37) % 9000), "PartitionKey": "k%d" % i}
                    for i in range(100)]
            out = self.c.put_records(StreamName=name, Records=recs)
            self.assertEqual(out["FailedRecordCount"], 0)
            sent += [(r["SequenceNumber"], e["Data"]) for e, r in zip(recs, out["Records"])]
        self.assertGreaterEqual(evict(self.server.data_dir), 3)
        got, _ = harness.read_shard(self.c, "shardId-000000000000", name=name, max_calls=5000)
        self.assertEqual([(r["SequenceNumber"], r["Data"]) for r in got], sent)
        # From the middle too, with a small Limit, cold again.
        evict(self.server.data_dir)
        mid = sent[len(sent) // 2][0]
        it = self.c.get_shard_iterator(StreamName=name, ShardId="shardId-000000000000",
                                       ShardIteratorType="AT_SEQUENCE_NUMBER",
                                       StartingSequenceNumber=mid)["ShardIterator"]
        out = self.c.get_records(ShardIterator=it, Limit=3)
        self.assertEqual([(r["SequenceNumber"], r["Data"]) for r in out["Records"]],
                         sent[len(sent) // 2:len(sent) // 2 + 3])
        # Positioning by time reads the shard too, on its owner, without
        # blocking it: TRIM_HORIZON and AT_TIMESTAMP on cold data.
        evict(self.server.data_dir)
        it = self.c.get_shard_iterator(StreamName=name, ShardId="shardId-000000000000",
                                       ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
        out = self.c.get_records(ShardIterator=it, Limit=2)
        self.assertEqual([(r["SequenceNumber"], r["Data"]) for r in out["Records"]], sent[:2])
        evict(self.server.data_dir)
        first = out["Records"][0]["ApproximateArrivalTimestamp"]
        it = self.c.get_shard_iterator(StreamName=name, ShardId="shardId-000000000000",
                                       ShardIteratorType="AT_TIMESTAMP", Timestamp=first)["ShardIterator"]
        out = self.c.get_records(ShardIterator=it, Limit=1)
        self.assertEqual(out["Records"][0]["SequenceNumber"], sent[0][0])


def whole_disk(dev):
    """major:minor of the disk holding device dev (itself if not a partition)."""
    sys_dir = "/sys/dev/block/%d:%d" % (os.major(dev), os.minor(dev))
    if os.path.exists(os.path.join(sys_dir, "partition")):
        with open(os.path.join(os.path.realpath(sys_dir), "..", "dev")) as f:
            return f.read().strip()
    return "%d:%d" % (os.major(dev), os.minor(dev))


class ReadThrottle:
    """A blkio cgroup (v1) that caps a process's reads from the disk under a
    directory at bps bytes/s: a slow disk, real to the kernel, that makes a
    cold read last seconds. The process (all its threads, io_uring's
    io-wq workers included) goes in; out again on exit."""

    ROOT = "/sys/fs/cgroup/blkio"

    def __init__(self, pid, path, bps):
        self.pid, self.path, self.bps = pid, path, bps
        self.dir = os.path.join(self.ROOT, "sluice-test-%d" % os.getpid())

    @classmethod
    def available(cls):
        return os.geteuid() == 0 and os.access(cls.ROOT, os.W_OK)

    def __enter__(self):
        os.makedirs(self.dir, exist_ok=True)
        with open(os.path.join(self.dir, "blkio.throttle.read_bps_device"), "w") as f:
            f.write("%s %d\n" % (whole_disk(os.stat(self.path).st_dev), self.bps))
        with open(os.path.join(self.dir, "cgroup.procs"), "w") as f:
            f.write(str(self.pid))
        return self

    def __exit__(self, *exc):
        try:
            with open(os.path.join(self.ROOT, "cgroup.procs"), "w") as f:
                f.write(str(self.pid))
        except OSError:
            pass  # the process is gone
        os.rmdir(self.dir)


class ColdReadProgressTest(harness.KinesisTestCase):
    """A cold read on a slow disk never stalls its worker: while one
    GetRecords waits seconds for the disk, other requests to the same worker
    and the same shard keep being answered. One worker, so that every
    request meets the read."""

    @classmethod
    def setUpClass(cls):
        if not ReadThrottle.available():
            raise unittest.SkipTest("needs root and a writable blkio cgroup to slow the disk")
        cls.server = harness.server_for_class(cls, extra_args=["--workers", "1"],
                                              needs_local=True)
        cls.c = cls.server.client()

    def test_other_requests_are_answered_while_a_cold_read_waits_for_the_disk(self):
        name = unique_name("slow")
        harness.create_stream(self.c, name, shards=1)
        sent = []
        for batch in range(12):  # ~6 MiB
            recs = [{"Data": os.urandom(5000), "PartitionKey": "k%d" % i} for i in range(100)]
            out = self.c.put_records(StreamName=name, Records=recs)
            self.assertEqual(out["FailedRecordCount"], 0)
            sent += [(r["SequenceNumber"], e["Data"]) for e, r in zip(recs, out["Records"])]
        it = self.c.get_shard_iterator(StreamName=name, ShardId="shardId-000000000000",
                                       ShardIteratorType="AT_SEQUENCE_NUMBER",
                                       StartingSequenceNumber=sent[0][0])["ShardIterator"]
        self.assertGreaterEqual(evict(self.server.data_dir), 1)
        reader = self.server.client()
        result = {}

        def cold_read():
            result["out"] = reader.get_records(ShardIterator=it, Limit=10000)

        answered_during = 0
        with ReadThrottle(self.server.proc.pid, self.server.data_dir, 1 << 20):
            t = threading.Thread(target=cold_read)
            t.start()
            time.sleep(0.3)  # the read is at the disk by now
            while t.is_alive():
                out = self.c.put_record(StreamName=name, Data=b"during", PartitionKey="p")
                self.assertIn("SequenceNumber", out)
                self.c.describe_stream_summary(StreamName=name)
                if t.is_alive():
                    answered_during += 1
            t.join()
        got = [(r["SequenceNumber"], r["Data"]) for r in result["out"]["Records"]]
        # The read was really cold and slow: it returned what was written
        # while ~6 MiB came at 1 MiB/s, and the other connection's
        # writes and reads went on meanwhile. A worker blocked on the
        # disk answers a few, between its chunk reads (6 when the worker
        # read with a blocking pread, against 2,371 here on the day this
        # test was written).
        self.assertGreater(len(got), 0)
        self.assertEqual(got, sent[:len(got)])
        self.assertGreaterEqual(answered_during, 100,
                                "only %d requests answered during the cold read" % answered_during)


def segment_fds(pid, data_dir):
    """The server's open fds on shard segment files."""
    n = 0
    logs = os.path.join(os.path.realpath(data_dir), "logs") + os.sep
    for fd in os.listdir("/proc/%d/fd" % pid):
        try:
            target = os.readlink("/proc/%d/fd/%s" % (pid, fd))
        except OSError:
            continue
        n += target.startswith(logs) and target.endswith(".seg")
    return n


class SegmentFdTest(harness.KinesisTestCase):
    """A shard that retains many segments holds a few fds, not one per
    segment: sealed segments give theirs back and a read that reaches one
    opens it again through io_uring. Batch durability seals segments as
    soon as their periodic fdatasync lands."""

    @classmethod
    def setUpClass(cls):
        cls.server = harness.server_for_class(cls, extra_args=[
            "--segment-bytes", str(4 << 20), "--durability", "batch", "--batch-ms", "5"],
            needs_local=True)
        cls.c = cls.server.client()

    def test_many_segments_few_fds_and_every_record_reads_back(self):
        name = unique_name("fds")
        harness.create_stream(self.c, name, shards=1)
        sent = []
        for batch in range(60):  # ~33 MiB: eight 4 MiB segments or more
            recs = [{"Data": os.urandom(5500), "PartitionKey": "k%d" % i} for i in range(100)]
            out = self.c.put_records(StreamName=name, Records=recs)
            self.assertEqual(out["FailedRecordCount"], 0)
            sent += [(r["SequenceNumber"], e["Data"]) for e, r in zip(recs, out["Records"])]
        segs = glob.glob(os.path.join(self.server.data_dir, "logs", "*", "*", "*.seg"))
        self.assertGreaterEqual(len(segs), 8)
        # A write after the last batch sync lets its flush seal what came
        # before; poll until the sealed segments have given their fds back.
        pid = self.server.proc.pid
        deadline = time.monotonic() + 10
        while True:
            extra = self.c.put_record(StreamName=name, Data=b"x", PartitionKey="k")
            sent.append((extra["SequenceNumber"], b"x"))
            fds = segment_fds(pid, self.server.data_dir)
            if fds <= 3 or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        self.assertLessEqual(fds, 3, "%d segment fds open for %d segments" % (fds, len(segs)))
        # Cold, from the start: each parked segment is opened again.
        evict(self.server.data_dir)
        got, _ = harness.read_shard(self.c, "shardId-000000000000", name=name, max_calls=5000)
        self.assertEqual([(r["SequenceNumber"], r["Data"]) for r in got], sent)
        self.assertLessEqual(segment_fds(pid, self.server.data_dir), 3,
                             "the reads left their segments open")


if __name__ == "__main__":
    unittest.main()
