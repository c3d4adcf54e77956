"""GetRecords of data that is no longer in the page cache: the owner reads it
through io_uring instead of blocking. The test evicts the shard's segment
files from the page cache (posix_fadvise DONTNEED, after the server synced
them) and reads everything back, byte for byte, across segment files."""

import glob
import os
import time

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
                                                               "--log-level", "debug"],
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
        with open(self.server.log_path, encoding="utf-8", errors="replace") as f:
            self.assertIn("not cached, reading through io_uring", f.read(),
                          "the cold read never took the io_uring path")
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
    import unittest
    unittest.main()
