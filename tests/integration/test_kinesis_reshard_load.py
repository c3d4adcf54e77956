"""Resharding under write load: producers keep writing while the stream is
split, merged and rescaled. Every acknowledged record must be readable
exactly once, in its shard, in sequence order, by walking parents before
children; records refused during a reshard must be refused cleanly
(per-record InternalFailure, which clients retry), never lost after an ack.
sluice re-routes records that meet a shard closing under them, so producers
should see no refusals at all."""

import random
import threading
import time

import harness
from harness import unique_name

WRITERS = 3
RUN_S = 6.0


class Writer(threading.Thread):
    def __init__(self, client, stream, rnd, stop):
        super().__init__(daemon=True)
        self.c, self.stream, self.rnd, self.stop = client, stream, rnd, stop
        self.acked = {}   # (shard id, sequence number) -> data
        self.refused = 0
        self.error = None

    def run(self):
        n = 0
        deadline = time.monotonic() + RUN_S * 3
        while not self.stop.is_set() and time.monotonic() < deadline:
            recs = []
            for _ in range(50):
                n += 1
                recs.append({"Data": b"%d-%d-" % (id(self), n) + self.rnd.randbytes(40),
                             "PartitionKey": "pk-%d" % self.rnd.randrange(10000)})
            try:
                out = self.c.put_records(StreamName=self.stream, Records=recs)
            except Exception as e:  # a whole-request failure is a bug here
                self.error = e
                return
            for e, r in zip(recs, out["Records"]):
                if "ErrorCode" in r:
                    if r["ErrorCode"] != "InternalFailure":
                        self.error = AssertionError("unexpected per-record error %r" % r)
                        return
                    self.refused += 1
                else:
                    key = (r["ShardId"], r["SequenceNumber"])
                    if key in self.acked:
                        self.error = AssertionError("sequence number acknowledged twice: %r" % (key,))
                        return
                    self.acked[key] = e["Data"]


class ReshardUnderLoadTest(harness.KinesisTestCase):
    @classmethod
    def setUpClass(cls):
        cls.server = harness.server_for_class(cls)
        cls.c = cls.server.client()

    def test_split_merge_scale_while_writing(self):
        name = unique_name("reshard")
        harness.create_stream(self.c, name, shards=2)
        stop = threading.Event()
        rnd = random.Random(7)
        writers = [Writer(self.server.client(), name, random.Random(rnd.getrandbits(32)), stop)
                   for _ in range(WRITERS)]
        for w in writers:
            w.start()
        ops = 0
        t_end = time.monotonic() + RUN_S
        while time.monotonic() < t_end:
            shards = [s for s in harness.list_all_shards(self.c, name)
                      if "EndingSequenceNumber" not in s["SequenceNumberRange"]]
            if ops % 3 == 0:
                s = rnd.choice(shards)
                lo = int(s["HashKeyRange"]["StartingHashKey"])
                hi = int(s["HashKeyRange"]["EndingHashKey"])
                if hi - lo > 2:
                    self.c.split_shard(StreamName=name, ShardToSplit=s["ShardId"],
                                       NewStartingHashKey=str((lo + hi) // 2))
            elif ops % 3 == 1 and len(shards) > 1:
                shards.sort(key=lambda s: int(s["HashKeyRange"]["StartingHashKey"]))
                i = rnd.randrange(len(shards) - 1)
                self.c.merge_shards(StreamName=name, ShardToMerge=shards[i]["ShardId"],
                                    AdjacentShardToMerge=shards[i + 1]["ShardId"])
            else:
                self.c.update_shard_count(StreamName=name, TargetShardCount=max(1, len(shards) // 2 + 1),
                                          ScalingType="UNIFORM_SCALING")
            ops += 1
            time.sleep(0.2)
        stop.set()
        for w in writers:
            w.join(30)
            self.assertFalse(w.is_alive())
            if w.error:
                raise w.error
        acked = {}
        for w in writers:
            acked.update(w.acked)
        self.assertGreater(ops, 5)
        self.assertGreater(len(acked), 1000)

        # Read every shard to its end. Closed shards end with ChildShards.
        found = {}
        all_shards = harness.list_all_shards(self.c, name)
        for s in all_shards:
            recs, _ = harness.read_shard(self.c, s["ShardId"], name=name, max_calls=5000)
            seqs = [int(r["SequenceNumber"]) for r in recs]
            self.assertEqual(seqs, sorted(set(seqs)), "shard %s out of order" % s["ShardId"])
            if "EndingSequenceNumber" in s["SequenceNumberRange"] and recs:
                self.assertLessEqual(seqs[-1], int(s["SequenceNumberRange"]["EndingSequenceNumber"]),
                                     "a record past the parent's EndingSequenceNumber")
            for r in recs:
                found[(s["ShardId"], r["SequenceNumber"])] = r["Data"]
        missing = [k for k in acked if k not in found]
        wrong = [k for k in acked if k in found and found[k] != acked[k]]
        self.assertFalse(missing or wrong, "%d acknowledged records missing, %d changed (e.g. %s)"
                         % (len(missing), len(wrong), (missing or wrong)[:3]))
        self.assertEqual(len(found), len(acked), "records stored that were never acknowledged")
        refused = sum(w.refused for w in writers)
        print("  %d reshards, %d records acknowledged, %d refused during reshards, %d shards"
              % (ops, len(acked), refused, len(all_shards)), flush=True)
        self.assertEqual(refused, 0, "records refused during resharding instead of re-routed")


if __name__ == "__main__":
    import unittest
    unittest.main()
