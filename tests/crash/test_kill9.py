"""Crash test: kill -9 under write load, restart, and check nothing acknowledged is lost.

sluice runs with --durability sync, so a record is acknowledged only after it
reached the disk. Four client threads push PutRecords batches; the server is
killed with SIGKILL at a random moment 1-4 s into the load; after a restart on
the same data dir every acknowledged record must be there with the same
sequence number, partition key and bytes, and new sequence numbers must be
greater than every recovered one in the same shard. Three rounds in a row.

The random seed is printed; rerun with SLUICE_CRASH_SEED=<seed> to repeat the
same data and kill timing.
"""

import os
import random
import sys
import threading
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "integration"))

import harness  # noqa: E402
from harness import list_all_shards, read_shard, unique_name, wait_active  # noqa: E402

ROUNDS = 3
WRITERS = 4
SHARDS = 4
MAX_BATCHES_PER_WRITER = 20000      # per round; the kill normally ends the load long before
WRITER_DEADLINE_S = 30.0            # per round, a hard stop for the writers


class Writer(threading.Thread):
    def __init__(self, client, stream, rnd, stop, acked, lock, max_data=2000):
        super().__init__(daemon=True)
        self.client, self.stream, self.rnd = client, stream, rnd
        self.max_data = max_data
        self.stop, self.acked, self.lock = stop, acked, lock
        self.batches = 0
        self.error = None

    def run(self):
        deadline = time.monotonic() + WRITER_DEADLINE_S
        while not self.stop.is_set() and self.batches < MAX_BATCHES_PER_WRITER and time.monotonic() < deadline:
            entries = [{"Data": self.rnd.randbytes(self.rnd.randint(1, self.max_data)),
                        "PartitionKey": "pk-%016x" % self.rnd.getrandbits(64)}
                       for _ in range(self.rnd.randint(1, 40))]
            try:
                out = self.client.put_records(StreamName=self.stream, Records=entries)
            except Exception as e:  # the server went away: expected after the kill
                self.error = e
                return
            self.batches += 1
            with self.lock:
                for e, r in zip(entries, out["Records"]):
                    if "SequenceNumber" in r and "ErrorCode" not in r:
                        key = (r["ShardId"], int(r["SequenceNumber"]))
                        if key in self.acked:
                            self.error = AssertionError("sequence number %s acknowledged twice" % (key,))
                            return
                        self.acked[key] = (e["PartitionKey"], e["Data"])


class MetaWriter(threading.Thread):
    """Creates streams, tags some, deletes some of its own; records what was
    acknowledged. Requests in flight at the kill may or may not have
    happened; acknowledged ones must have."""

    def __init__(self, client, prefix, rnd, stop):
        super().__init__(daemon=True)
        self.client, self.prefix, self.rnd, self.stop = client, prefix, rnd, stop
        self.created, self.tagged, self.deleted = set(), {}, set()
        self.touched = set()  # names with a request in flight at the end
        self.error = None

    def run(self):
        n = 0
        deadline = time.monotonic() + WRITER_DEADLINE_S
        while not self.stop.is_set() and time.monotonic() < deadline:
            live = sorted(self.created - self.deleted)
            op = self.rnd.random()
            try:
                if op < 0.6 or not live:
                    name = "%s-%05d" % (self.prefix, n)
                    n += 1
                    self.touched.add(name)
                    self.client.create_stream(StreamName=name, ShardCount=1)
                    self.created.add(name)
                elif op < 0.85:
                    name = self.rnd.choice(live)
                    value = "v%d" % self.rnd.getrandbits(32)
                    self.touched.add(name)
                    self.client.add_tags_to_stream(StreamName=name, Tags={"k": value})
                    self.tagged[name] = value
                else:
                    name = self.rnd.choice(live)
                    self.touched.add(name)
                    self.client.delete_stream(StreamName=name)
                    self.deleted.add(name)
                self.touched.discard(name)
            except Exception as e:  # the server went away: expected after the kill
                self.error = e
                return


def zero_shard_segments(data_dir):
    """Overwrite every shard segment with zeros, keeping its size: what a
    power loss could do to data that was written but never synced."""
    n = 0
    for root, _, files in os.walk(os.path.join(data_dir, "logs")):
        for f in files:
            if f.endswith(".seg"):
                path = os.path.join(root, f)
                size = os.path.getsize(path)
                with open(path, "r+b") as fh:
                    fh.write(b"\0" * size)
                n += 1
    return n


class Kill9Test(unittest.TestCase):

    def test_kill9_under_load(self):
        # Small segments so that segment files roll while the load runs.
        self.run_rounds(["--durability", "sync", "--segment-bytes", str(4 << 20)], ROUNDS)

    def test_kill9_batch_mode(self):
        # Batch mode acknowledges after write(2): a process crash (not a power
        # loss) must still lose nothing acknowledged.
        self.run_rounds(["--durability", "batch", "--batch-ms", "50"], 1)

    def test_kill9_memory_mode(self):
        # Memory mode never syncs, but acknowledges after write(2): the page
        # cache outlives a killed process.
        self.run_rounds(["--durability", "memory"], 1)

    def test_sigterm_under_load(self):
        # A clean stop in the middle of the load: in-flight writes are
        # flushed and synced, the process exits 0, and every acknowledged
        # record is there after the restart.
        self.run_rounds(["--durability", "sync"], 2, stop="term")

    def test_journal_restores_shard_writes_that_were_never_synced(self):
        # In sync mode a shard's own writes are not fdatasynced: the worker's
        # journal is. A power loss can take the shard files' unsynced tails;
        # here every byte of every shard segment is zeroed after the kill,
        # and the journal alone must bring back every acknowledged record.
        # (A 256 MiB journal keeps any checkpoint out of the way: what is
        # zeroed was only ever in the journal.)
        self.run_rounds(["--durability", "sync", "--journal-mb", "256"], 1, lose_shard_data=True,
                        max_data=200, kill_window=(0.5, 1.5))

    def test_kill9_during_metadata_changes(self):
        # Every acknowledged CreateStream, AddTagsToStream and DeleteStream
        # survives kill -9: the catalog replies only after its batch is
        # durable, and recovery replays the log (and drops a torn batch).
        seed = int(os.environ.get("SLUICE_CRASH_SEED") or random.SystemRandom().randrange(1 << 32))
        print("kill9 metadata test: seed %d (rerun with SLUICE_CRASH_SEED=%d)" % (seed, seed), flush=True)
        rnd = random.Random(seed)
        server = harness.Server(extra_args=["--durability", "sync"], needs_local=True, name="kill9-meta")
        self.addCleanup(server.stop)
        server.start()
        writers = []
        for rnd_no in range(2):
            tag = "seed %d, round %d" % (seed, rnd_no + 1)
            stop_writers = threading.Event()
            batch = [MetaWriter(server.client(connect_timeout=2, read_timeout=15),
                                "m%d-%d" % (rnd_no, i), random.Random(rnd.getrandbits(64)), stop_writers)
                     for i in range(WRITERS)]
            writers += batch
            for w in batch:
                w.start()
            kill_after = rnd.uniform(0.5, 2.5)
            time.sleep(kill_after)
            server.kill9()
            stop_writers.set()
            for w in batch:
                w.join(30)
                self.assertFalse(w.is_alive(), "%s: a writer did not stop" % tag)
            server.start()
            c = server.client()
            names, token = set(), None
            while True:
                out = c.list_streams(**({"NextToken": token} if token else {"Limit": 1000}))
                names.update(out["StreamNames"])
                if not out.get("HasMoreStreams"):
                    break
                token = out["NextToken"]
            created = sum(len(w.created) for w in batch)
            print("  %s: killed after %.2f s; %d creates, %d tag changes, %d deletes acknowledged"
                  % (tag, kill_after, created, sum(len(w.tagged) for w in batch),
                     sum(len(w.deleted) for w in batch)), flush=True)
            self.assertGreater(created, 0, "%s: nothing was acknowledged before the kill" % tag)
            for w in writers:
                sure = w.created - w.deleted - w.touched
                lost = sorted(sure - names)
                self.assertFalse(lost, "%s: acknowledged streams lost: %s" % (tag, lost[:5]))
                back = sorted(w.deleted & names)
                self.assertFalse(back, "%s: acknowledged deletes undone: %s" % (tag, back[:5]))
                for name, value in w.tagged.items():
                    if name in sure:
                        tags = c.list_tags_for_stream(StreamName=name)["Tags"]
                        self.assertEqual(tags, [{"Key": "k", "Value": value}], "%s: %s" % (tag, name))

    def run_rounds(self, extra_args, rounds, stop="kill", lose_shard_data=False, max_data=2000,
                   kill_window=(1.0, 4.0)):
        seed = int(os.environ.get("SLUICE_CRASH_SEED") or random.SystemRandom().randrange(1 << 32))
        print("kill9 test %s: seed %d (rerun with SLUICE_CRASH_SEED=%d)" % (" ".join(extra_args), seed, seed),
              flush=True)
        rnd = random.Random(seed)
        server = harness.Server(extra_args=extra_args, needs_local=True, name="kill9")
        self.addCleanup(server.stop)
        server.start()
        c = server.client()
        stream = unique_name("crash")
        c.create_stream(StreamName=stream, ShardCount=SHARDS)
        wait_active(c, stream)
        shards = list_all_shards(c, stream)
        self.assertEqual(len(shards), SHARDS)

        acked = {}  # (shard id, int seq) -> (partition key, data)
        lock = threading.Lock()
        t_start = time.monotonic()
        for rnd_no in range(rounds):
            tag = "seed %d, round %d" % (seed, rnd_no + 1)
            before = len(acked)
            stop_writers = threading.Event()
            clients = [server.client(connect_timeout=2, read_timeout=15) for _ in range(WRITERS)]
            writers = [Writer(clients[i], stream, random.Random(rnd.getrandbits(64)), stop_writers, acked, lock,
                              max_data=max_data)
                       for i in range(WRITERS)]
            kill_after = rnd.uniform(*kill_window)
            for w in writers:
                w.start()
            time.sleep(kill_after)
            if stop == "kill":
                server.kill9()
            else:
                server.terminate()  # raises unless the server exits 0 in time
            stop_writers.set()
            for w in writers:
                w.join(30)
                self.assertFalse(w.is_alive(), "%s: a writer did not stop within 30 s of the kill" % tag)
                if isinstance(w.error, AssertionError):
                    raise w.error
            new_acks = len(acked) - before
            batches = sum(w.batches for w in writers)
            print("  %s: %s after %.2f s, %d batches / %d records acknowledged this round"
                  % (tag, "killed" if stop == "kill" else "stopped (SIGTERM)", kill_after, batches,
                     new_acks), flush=True)
            self.assertGreater(new_acks, 0, "%s: no write was acknowledged before the kill" % tag)
            if lose_shard_data:
                zeroed = zero_shard_segments(server.data_dir)
                self.assertGreater(zeroed, 0, "%s: no shard segment to damage" % tag)

            server.start()
            c = server.client()
            summ = wait_active(c, stream)
            self.assertEqual(summ["OpenShardCount"], SHARDS, tag)
            found = {}
            for s in list_all_shards(c, stream):
                recs, _ = read_shard(c, s["ShardId"], name=stream, max_calls=2000, timeout=90)
                seqs = [int(r["SequenceNumber"]) for r in recs]
                self.assertEqual(seqs, sorted(set(seqs)),
                                 "%s: shard %s sequence numbers not strictly increasing" % (tag, s["ShardId"]))
                for r in recs:
                    found[(s["ShardId"], int(r["SequenceNumber"]))] = (r["PartitionKey"], r["Data"])
            missing = [k for k in acked if k not in found]
            wrong = [k for k in acked if k in found and found[k] != acked[k]]
            self.assertFalse(missing or wrong,
                             "%s: %d of %d acknowledged records lost, %d changed (first lost: %s, first changed: %s)"
                             % (tag, len(missing), len(acked), len(wrong), missing[:3], wrong[:3]))

            # New writes get sequence numbers above everything recovered, shard by shard.
            for s in shards:
                key = s["HashKeyRange"]["StartingHashKey"]
                data = rnd.randbytes(100)
                out = c.put_record(StreamName=stream, Data=data, PartitionKey="after-restart",
                                   ExplicitHashKey=key)
                self.assertEqual(out["ShardId"], s["ShardId"])
                seq = int(out["SequenceNumber"])
                recovered = [q for (sid, q) in found if sid == s["ShardId"]]
                if recovered:
                    self.assertGreater(seq, max(recovered),
                                       "%s: new sequence number in %s not above the recovered ones"
                                       % (tag, s["ShardId"]))
                acked[(s["ShardId"], seq)] = ("after-restart", data)
            self.assertLess(time.monotonic() - t_start, 150, "crash test is taking too long")
        # A clean stop at the end must work too (checked by the cleanup).


if __name__ == "__main__":
    unittest.main()
