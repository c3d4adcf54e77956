"""GetRecords of data that is no longer in the page cache: the owner reads it
through io_uring instead of blocking. The test evicts the shard's segment
files from the page cache (posix_fadvise DONTNEED, after the server synced
them) and reads everything back, byte for byte, across segment files."""

import glob
import os

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


if __name__ == "__main__":
    import unittest
    unittest.main()
