"""Kinesis Data Streams over the AWS JSON 1.1 protocol, driven by boto3.

Each TestCase class gets its own sluice (fresh data dir); tests inside a class
use their own streams, so they do not depend on each other's order.
"""

import datetime
import http.client
import json
import os
import random
import re
import time
import unittest

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

import harness
from harness import (HASH_MAX, KinesisTestCase, create_stream, list_all_shards,
                     md5_hash_key, read_shard, stream_arn, unique_name, wait_active)

SHARD_ID_RE = re.compile(r"^shardId-\d{12}$")
SEQ_RE = re.compile(r"^(0|[1-9]\d{0,128})$")
MIB = 1024 * 1024
VALIDATION = ("ValidationException",)
# Where AWS documents InvalidArgumentException for a value that the model also
# constrains (so the service framework may answer ValidationException first),
# either code is accepted.
INVALID = ("InvalidArgumentException", "ValidationException")


def shard_for_hash(shards, h):
    for s in shards:
        r = s["HashKeyRange"]
        if int(r["StartingHashKey"]) <= h <= int(r["EndingHashKey"]):
            return s["ShardId"]
    raise AssertionError("no shard covers hash key %d" % h)


def open_shards(shards):
    return [s for s in shards if "EndingSequenceNumber" not in s["SequenceNumberRange"]]


class Base(KinesisTestCase):
    extra_args = ()

    @classmethod
    def setUpClass(cls):
        cls.server = harness.server_for_class(cls, extra_args=cls.extra_args)
        cls.c = cls.server.client()
        # A client that skips botocore's own parameter checks, to reach the server
        # with values the model forbids.
        cls.nv = cls.server.client(parameter_validation=False)

    def assertHashRangesCover(self, shards):
        """Open shards' hash key ranges are contiguous and cover [0, 2^128-1]."""
        ranges = sorted((int(s["HashKeyRange"]["StartingHashKey"]),
                         int(s["HashKeyRange"]["EndingHashKey"])) for s in shards)
        self.assertEqual(ranges[0][0], 0)
        self.assertEqual(ranges[-1][1], HASH_MAX)
        for (a0, a1), (b0, b1) in zip(ranges, ranges[1:]):
            self.assertEqual(a1 + 1, b0, "hash key ranges not contiguous: %r" % ranges)
        for a, b in ranges:
            self.assertLessEqual(a, b)
        return ranges

    def assertSeq(self, seq):
        self.assertIsInstance(seq, str)
        self.assertRegex(seq, SEQ_RE)
        return int(seq)

    def assertRecentTimestamp(self, ts, slack_s=600):
        self.assertIsInstance(ts, datetime.datetime)
        now = datetime.datetime.now(datetime.timezone.utc)
        self.assertLess(abs((ts - now).total_seconds()), slack_s, "timestamp %s is not near now %s" % (ts, now))


class StreamLifecycleTest(Base):

    def test_create_and_describe_provisioned(self):
        name = unique_name("prov")
        out = self.c.create_stream(StreamName=name, ShardCount=5)
        self.assertEqual(out["ResponseMetadata"]["HTTPStatusCode"], 200)
        self.c.get_waiter("stream_exists").wait(StreamName=name,
                                                 WaiterConfig={"Delay": 1, "MaxAttempts": 20})
        d = self.c.describe_stream(StreamName=name)["StreamDescription"]
        self.assertEqual(d["StreamName"], name)
        self.assertEqual(d["StreamARN"], stream_arn(name))
        self.assertEqual(d["StreamStatus"], "ACTIVE")
        self.assertEqual(d["RetentionPeriodHours"], 24)
        self.assertFalse(d["HasMoreShards"])
        self.assertEqual(d.get("EncryptionType", "NONE"), "NONE")
        self.assertIsInstance(d["EnhancedMonitoring"], list)
        self.assertRecentTimestamp(d["StreamCreationTimestamp"])
        self.assertEqual(d["StreamModeDetails"]["StreamMode"], "PROVISIONED")
        shards = d["Shards"]
        self.assertEqual(len(shards), 5)
        ids = [s["ShardId"] for s in shards]
        self.assertEqual(len(set(ids)), 5)
        for s in shards:
            self.assertRegex(s["ShardId"], SHARD_ID_RE)
            self.assertNotIn("ParentShardId", s)
            self.assertSeq(s["SequenceNumberRange"]["StartingSequenceNumber"])
            self.assertNotIn("EndingSequenceNumber", s["SequenceNumberRange"])
        ranges = self.assertHashRangesCover(shards)
        width = (HASH_MAX + 1) // 5
        for a, b in ranges:  # created shards split the key space evenly
            self.assertLess(abs((b - a + 1) - width), 16, ranges)

        # Paging with Limit / ExclusiveStartShardId / HasMoreShards.
        page = self.c.describe_stream(StreamName=name, Limit=2)["StreamDescription"]
        self.assertEqual(len(page["Shards"]), 2)
        self.assertTrue(page["HasMoreShards"])
        seen = [s["ShardId"] for s in page["Shards"]]
        for _ in range(10):
            page = self.c.describe_stream(StreamName=name, Limit=2,
                                          ExclusiveStartShardId=seen[-1])["StreamDescription"]
            self.assertLessEqual(len(page["Shards"]), 2)
            seen += [s["ShardId"] for s in page["Shards"]]
            if not page["HasMoreShards"]:
                break
        self.assertEqual(seen, ids)
        # A start past the last shard, even one whose number + 1 wraps a
        # 32-bit counter, lists nothing (it once listed from the start).
        for start in ["shardId-000000000004", "shardId-004294967295"]:
            page = self.c.describe_stream(StreamName=name,
                                          ExclusiveStartShardId=start)["StreamDescription"]
            self.assertEqual(page["Shards"], [], start)
            self.assertEqual(self.c.list_shards(StreamName=name,
                                                ExclusiveStartShardId=start)["Shards"], [], start)

        summ = self.c.describe_stream_summary(StreamName=name)["StreamDescriptionSummary"]
        self.assertEqual(summ["StreamName"], name)
        self.assertEqual(summ["StreamARN"], stream_arn(name))
        self.assertEqual(summ["StreamStatus"], "ACTIVE")
        self.assertEqual(summ["OpenShardCount"], 5)
        self.assertEqual(summ["RetentionPeriodHours"], 24)
        self.assertEqual(summ["StreamModeDetails"]["StreamMode"], "PROVISIONED")
        self.assertEqual(summ.get("EncryptionType", "NONE"), "NONE")
        self.assertEqual(summ.get("ConsumerCount", 0), 0)
        self.assertEqual(summ["StreamCreationTimestamp"], d["StreamCreationTimestamp"])

    def test_create_on_demand(self):
        name = unique_name("ondemand")
        self.c.create_stream(StreamName=name, StreamModeDetails={"StreamMode": "ON_DEMAND"})
        summ = wait_active(self.c, name)
        self.assertEqual(summ["StreamModeDetails"]["StreamMode"], "ON_DEMAND")
        self.assertGreaterEqual(summ["OpenShardCount"], 1)
        shards = list_all_shards(self.c, name)
        self.assertEqual(len(shards), summ["OpenShardCount"])
        self.assertHashRangesCover(shards)
        put = self.c.put_record(StreamName=name, Data=b"on-demand", PartitionKey="k")
        recs, _ = read_shard(self.c, put["ShardId"], name=name)
        self.assertEqual([r["Data"] for r in recs], [b"on-demand"])
        d = self.c.describe_stream(StreamName=name)["StreamDescription"]
        self.assertEqual(d["StreamModeDetails"]["StreamMode"], "ON_DEMAND")

    def test_create_errors(self):
        name = unique_name("dup")
        create_stream(self.c, name, 1)
        self.assertAwsError("ResourceInUseException", self.c.create_stream, StreamName=name, ShardCount=1)
        self.assertAwsError(VALIDATION, self.nv.create_stream, StreamName="bad name!", ShardCount=1)
        self.assertAwsError(VALIDATION, self.nv.create_stream, StreamName="x" * 129, ShardCount=1)
        self.assertAwsError(VALIDATION, self.nv.create_stream, StreamName="", ShardCount=1)
        self.assertAwsError(VALIDATION, self.nv.create_stream, StreamName=unique_name("zero"), ShardCount=0)
        # A name of 128 characters is allowed.
        long_name = ("L" + unique_name("x")).ljust(128, "z")
        create_stream(self.c, long_name, 1)
        self.assertEqual(self.c.describe_stream_summary(StreamName=long_name)
                         ["StreamDescriptionSummary"]["StreamName"], long_name)

    def test_list_streams_paging(self):
        names = sorted(unique_name("ls%d" % i) for i in range(3))
        for n in names:
            self.c.create_stream(StreamName=n, ShardCount=1)
        for n in names:
            wait_active(self.c, n)
        out = self.c.list_streams(Limit=1)
        self.assertEqual(len(out["StreamNames"]), 1)
        self.assertTrue(out["HasMoreStreams"])
        self.assertIn("NextToken", out)
        collected = list(out["StreamNames"])
        summaries = list(out.get("StreamSummaries", []))
        for _ in range(200):
            if not out.get("NextToken"):
                break
            out = self.c.list_streams(Limit=1, NextToken=out["NextToken"])
            self.assertLessEqual(len(out["StreamNames"]), 1)
            collected += out["StreamNames"]
            summaries += out.get("StreamSummaries", [])
            self.assertEqual(out["HasMoreStreams"], "NextToken" in out)
        self.assertFalse(out["HasMoreStreams"])
        self.assertEqual(len(collected), len(set(collected)), "a stream was listed twice")
        for n in names:
            self.assertIn(n, collected)
        # All at once agrees with the pages.
        full = self.c.list_streams(Limit=10000)
        self.assertEqual(sorted(full["StreamNames"]), sorted(collected))
        by_name = {s["StreamName"]: s for s in full["StreamSummaries"]}
        self.assertEqual(sorted(by_name), sorted(full["StreamNames"]))
        self.assertEqual(len(summaries), len(collected))
        for n in names:
            s = by_name[n]
            self.assertEqual(s["StreamARN"], stream_arn(n))
            self.assertEqual(s["StreamStatus"], "ACTIVE")
            self.assertEqual(s["StreamModeDetails"]["StreamMode"], "PROVISIONED")
            self.assertRecentTimestamp(s["StreamCreationTimestamp"])

    def test_list_shards_paging_and_filters(self):
        name = unique_name("lsh")
        create_stream(self.c, name, 4)
        out = self.c.list_shards(StreamName=name, MaxResults=3)
        self.assertEqual(len(out["Shards"]), 3)
        self.assertIn("NextToken", out)
        out2 = self.c.list_shards(NextToken=out["NextToken"], MaxResults=3)
        self.assertEqual(len(out2["Shards"]), 1)
        self.assertNotIn("NextToken", out2)
        ids = [s["ShardId"] for s in out["Shards"] + out2["Shards"]]
        self.assertEqual(ids, sorted(ids))
        self.assertEqual(len(set(ids)), 4)
        # NextToken together with StreamName is an error.
        self.assertAwsError("InvalidArgumentException", self.c.list_shards,
                            StreamName=name, NextToken=out["NextToken"])
        self.assertAwsError(INVALID, self.nv.list_shards, StreamName=name, MaxResults=0)
        self.assertAwsError(INVALID, self.nv.list_shards, StreamName=name, MaxResults=10001)
        self.assertAwsError("ResourceNotFoundException", self.c.list_shards, StreamName=unique_name("nope"))

        # Split the first shard so the stream has a closed shard and two children.
        s0 = out["Shards"][0]
        lo, hi = int(s0["HashKeyRange"]["StartingHashKey"]), int(s0["HashKeyRange"]["EndingHashKey"])
        self.c.split_shard(StreamName=name, ShardToSplit=s0["ShardId"], NewStartingHashKey=str((lo + hi + 1) // 2))
        wait_active(self.c, name)
        every = list_all_shards(self.c, name)
        self.assertEqual(len(every), 6)
        children = [s for s in every if s.get("ParentShardId") == s0["ShardId"]]
        self.assertEqual(len(children), 2)

        # No filter means FROM_TRIM_HORIZON: every shard within the retention period.
        from_trim = list_all_shards(self.c, name, ShardFilter={"Type": "FROM_TRIM_HORIZON"})
        self.assertEqual(sorted(s["ShardId"] for s in from_trim), sorted(s["ShardId"] for s in every))
        # AT_TRIM_HORIZON: "all the shards that were open at TRIM_HORIZON" -- the four shards
        # the stream was created with (the split parent included), not the children made later.
        # (The KCL relies on this to start from the oldest ancestors.)
        trim = list_all_shards(self.c, name, ShardFilter={"Type": "AT_TRIM_HORIZON"})
        self.assertEqual(sorted(s["ShardId"] for s in trim), ids)

        latest = list_all_shards(self.c, name, ShardFilter={"Type": "AT_LATEST"})
        latest_ids = sorted(s["ShardId"] for s in latest)
        self.assertEqual(len(latest_ids), 5)
        self.assertNotIn(s0["ShardId"], latest_ids)
        for ch in children:
            self.assertIn(ch["ShardId"], latest_ids)
        self.assertHashRangesCover(latest)

        after = list_all_shards(self.c, name, ShardFilter={"Type": "AFTER_SHARD_ID", "ShardId": ids[1]})
        after_ids = sorted(s["ShardId"] for s in after)
        self.assertEqual(after_ids, sorted(i for i in (s["ShardId"] for s in every) if i > ids[1]))

    def test_put_record_routing(self):
        name = unique_name("route")
        create_stream(self.c, name, 4)
        shards = list_all_shards(self.c, name)
        for i in range(20):
            pk = "partition-%d" % i
            out = self.c.put_record(StreamName=name, Data=b"d%d" % i, PartitionKey=pk)
            self.assertEqual(out["ShardId"], shard_for_hash(shards, md5_hash_key(pk)),
                             "partition key %r routed to the wrong shard" % pk)
            self.assertSeq(out["SequenceNumber"])
        # ExplicitHashKey overrides the partition key: both ends of every range.
        for s in shards:
            for key in (s["HashKeyRange"]["StartingHashKey"], s["HashKeyRange"]["EndingHashKey"]):
                out = self.c.put_record(StreamName=name, Data=b"x", PartitionKey="same-key",
                                        ExplicitHashKey=key)
                self.assertEqual(out["ShardId"], s["ShardId"], "hash key %s" % key)
        self.assertAwsError(INVALID, self.nv.put_record, StreamName=name, Data=b"x", PartitionKey="k",
                            ExplicitHashKey=str(HASH_MAX + 1))

        # SequenceNumberForOrdering: strictly increasing for the same partition key.
        prev = self.c.put_record(StreamName=name, Data=b"o0", PartitionKey="ordered")
        seqs = [int(prev["SequenceNumber"])]
        for i in range(1, 6):
            prev = self.c.put_record(StreamName=name, Data=b"o%d" % i, PartitionKey="ordered",
                                     SequenceNumberForOrdering=prev["SequenceNumber"])
            seqs.append(int(prev["SequenceNumber"]))
        self.assertEqual(seqs, sorted(set(seqs)))
        recs, _ = read_shard(self.c, prev["ShardId"], name=name)
        ordered = [r for r in recs if r["PartitionKey"] == "ordered"]
        self.assertEqual([r["Data"] for r in ordered], [b"o%d" % i for i in range(6)])
        self.assertEqual([int(r["SequenceNumber"]) for r in ordered], seqs)

    def test_put_records_500(self):
        name = unique_name("batch")
        create_stream(self.c, name, 3)
        shards = list_all_shards(self.c, name)
        rnd = random.Random(1234)
        entries = []
        for i in range(500):
            entries.append({"Data": os.urandom(rnd.randint(1, 1000)),
                            "PartitionKey": "pk-%d-%d" % (i, rnd.randint(0, 10**9))})
        out = self.c.put_records(StreamName=name, Records=entries)
        self.assertEqual(out["FailedRecordCount"], 0)
        self.assertEqual(len(out["Records"]), 500)
        expected = {}
        for e, r in zip(entries, out["Records"]):
            self.assertNotIn("ErrorCode", r)
            self.assertEqual(r["ShardId"], shard_for_hash(shards, md5_hash_key(e["PartitionKey"])))
            expected[(r["ShardId"], self.assertSeq(r["SequenceNumber"]))] = (e["PartitionKey"], e["Data"])
        self.assertEqual(len(expected), 500, "duplicate sequence numbers")
        got = {}
        for s in shards:
            recs, _ = read_shard(self.c, s["ShardId"], name=name)
            seqs = [int(r["SequenceNumber"]) for r in recs]
            self.assertEqual(seqs, sorted(seqs), "GetRecords not in sequence order")
            for r in recs:
                got[(s["ShardId"], int(r["SequenceNumber"]))] = (r["PartitionKey"], r["Data"])
        self.assertEqual(got, expected)

    def test_put_records_invalid_entry_fails_whole_request(self):
        name = unique_name("badbatch")
        create_stream(self.c, name, 1)
        shard = list_all_shards(self.c, name)[0]["ShardId"]
        good = [{"Data": b"ok%d" % i, "PartitionKey": "k%d" % i} for i in range(5)]
        bad_hash = good + [{"Data": b"x", "PartitionKey": "k", "ExplicitHashKey": str(HASH_MAX + 1)}]
        self.assertAwsError(INVALID, self.nv.put_records, StreamName=name, Records=bad_hash)
        bad_pk = good + [{"Data": b"x", "PartitionKey": "p" * 257}]
        self.assertAwsError(VALIDATION, self.nv.put_records, StreamName=name, Records=bad_pk)
        too_many = [{"Data": b"x", "PartitionKey": "k"}] * 501
        self.assertAwsError(VALIDATION, self.nv.put_records, StreamName=name, Records=too_many)
        self.assertAwsError(VALIDATION, self.nv.put_records, StreamName=name, Records=[])
        recs, _ = read_shard(self.c, shard, name=name)
        self.assertEqual(recs, [], "a rejected PutRecords request wrote records")
        self.assertAwsError("ResourceNotFoundException", self.c.put_records,
                            StreamName=unique_name("missing"), Records=good)

    def test_shard_iterator_types(self):
        name = unique_name("iter")
        create_stream(self.c, name, 1)
        sid = list_all_shards(self.c, name)[0]["ShardId"]
        seqs = []
        for i in range(5):
            seqs.append(self.c.put_record(StreamName=name, Data=b"r%d" % i, PartitionKey="k")["SequenceNumber"])

        def data_from(**kw):
            recs, _ = read_shard(self.c, sid, name=name, **kw)
            return [r["Data"] for r in recs]

        self.assertEqual(data_from(iterator_type="TRIM_HORIZON"), [b"r%d" % i for i in range(5)])
        self.assertEqual(data_from(iterator_type="AT_SEQUENCE_NUMBER", StartingSequenceNumber=seqs[2]),
                         [b"r2", b"r3", b"r4"])
        self.assertEqual(data_from(iterator_type="AFTER_SEQUENCE_NUMBER", StartingSequenceNumber=seqs[2]),
                         [b"r3", b"r4"])
        self.assertEqual(data_from(iterator_type="AFTER_SEQUENCE_NUMBER", StartingSequenceNumber=seqs[4]), [])
        self.assertEqual(data_from(iterator_type="LATEST"), [])

        # LATEST points just past the newest record: it sees only what comes after.
        it = self.c.get_shard_iterator(StreamName=name, ShardId=sid, ShardIteratorType="LATEST")["ShardIterator"]
        self.c.put_record(StreamName=name, Data=b"r5", PartitionKey="k")
        got = []
        for _ in range(20):
            out = self.c.get_records(ShardIterator=it)
            got += [r["Data"] for r in out["Records"]]
            it = out["NextShardIterator"]
            if got:
                break
        self.assertEqual(got, [b"r5"])

        # AT_TIMESTAMP: records whose arrival time is at or after the timestamp.
        all_recs, _ = read_shard(self.c, sid, name=name)
        t0 = all_recs[0]["ApproximateArrivalTimestamp"]
        self.assertEqual([r["Data"] for r in read_shard(self.c, sid, name=name, iterator_type="AT_TIMESTAMP",
                                                        Timestamp=t0 - datetime.timedelta(seconds=10))[0]],
                         [b"r%d" % i for i in range(6)])
        # A timestamp in the future is refused (AWS: "The timestampInMillis parameter cannot be
        # greater than the currentTimestampInMillis").
        self.assertAwsError("InvalidArgumentException", self.c.get_shard_iterator, StreamName=name, ShardId=sid,
                            ShardIteratorType="AT_TIMESTAMP",
                            Timestamp=datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(days=1))
        ts_after = self._elapse_then_put(name, b"late")
        self.assertEqual(data_from(iterator_type="AT_TIMESTAMP", Timestamp=ts_after), [b"late"])

        # Iterator errors.
        self.assertAwsError("InvalidArgumentException", self.c.get_shard_iterator, StreamName=name,
                            ShardId=sid, ShardIteratorType="AT_SEQUENCE_NUMBER")
        self.assertAwsError("ResourceNotFoundException", self.c.get_shard_iterator, StreamName=name,
                            ShardId="shardId-000000000099", ShardIteratorType="TRIM_HORIZON")
        self.assertAwsError("ResourceNotFoundException", self.c.get_shard_iterator,
                            StreamName=unique_name("none"), ShardId=sid, ShardIteratorType="TRIM_HORIZON")
        self.assertAwsError(INVALID, self.nv.get_shard_iterator, StreamName=name, ShardId=sid,
                            ShardIteratorType="SOMETIMES")

    def _elapse_then_put(self, name, data):
        """Let at least a second pass (debug clock, or a real sleep against an external
        server), put a record, and return a timestamp between the two."""
        if self.server.local:
            self.server.advance_clock(2000)
            # The server clock is now ahead; read back the record's own arrival time.
            out = self.c.put_record(StreamName=name, Data=data, PartitionKey="k")
            recs, _ = read_shard(self.c, out["ShardId"], name=name, iterator_type="AT_SEQUENCE_NUMBER",
                                 StartingSequenceNumber=out["SequenceNumber"])
            return recs[0]["ApproximateArrivalTimestamp"] - datetime.timedelta(milliseconds=500)
        # botocore sends Timestamp in whole seconds: wait past the next second boundary.
        t = time.time()
        boundary = int(t) + 1
        time.sleep(boundary - t + 0.2)
        self.c.put_record(StreamName=name, Data=data, PartitionKey="k")
        return datetime.datetime.fromtimestamp(boundary, datetime.timezone.utc)

    def test_get_records_limit_chaining(self):
        name = unique_name("chain")
        create_stream(self.c, name, 1)
        sid = list_all_shards(self.c, name)[0]["ShardId"]
        put = self.c.put_records(StreamName=name, Records=[
            {"Data": b"c%02d" % i, "PartitionKey": "pk%d" % i} for i in range(10)])
        self.assertEqual(put["FailedRecordCount"], 0)
        it = self.c.get_shard_iterator(StreamName=name, ShardId=sid, ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
        got = []
        for _ in range(30):
            out = self.c.get_records(ShardIterator=it, Limit=3)
            self.assertLessEqual(len(out["Records"]), 3)
            self.assertIsInstance(out["MillisBehindLatest"], int)
            self.assertGreaterEqual(out["MillisBehindLatest"], 0)
            got += out["Records"]
            self.assertIn("NextShardIterator", out)
            self.assertNotEqual(out["NextShardIterator"], it)
            it = out["NextShardIterator"]
            if len(got) >= 10:
                break
        self.assertEqual([r["Data"] for r in got], [b"c%02d" % i for i in range(10)])
        self.assertEqual([r["PartitionKey"] for r in got], ["pk%d" % i for i in range(10)])
        self.assertEqual([r["SequenceNumber"] for r in got], [r["SequenceNumber"] for r in put["Records"]])
        for r in got:
            self.assertRecentTimestamp(r["ApproximateArrivalTimestamp"])
        out = self.c.get_records(ShardIterator=it)
        self.assertEqual(out["Records"], [])
        self.assertEqual(out["MillisBehindLatest"], 0)
        self.assertIn("NextShardIterator", out)

        self.assertAwsError(INVALID, self.nv.get_records, ShardIterator=it, Limit=0)
        self.assertAwsError(INVALID, self.nv.get_records, ShardIterator=it, Limit=10001)
        self.assertAwsError(INVALID, self.c.get_records, ShardIterator="not-an-iterator")

    def test_data_round_trip(self):
        name = unique_name("bytes")
        create_stream(self.c, name, 1)
        sid = list_all_shards(self.c, name)[0]["ShardId"]
        payloads = [bytes(range(256)), b"\x00", b"\xff" * 3, "unicode \u2603 \u00e9".encode(),
                    b"\x00\r\n\"\\{}[]", os.urandom(65536), os.urandom(300000)]
        for i, p in enumerate(payloads):
            self.c.put_record(StreamName=name, Data=p, PartitionKey="k%d" % i)
        # Data plus partition key up to exactly 1 MiB is accepted.
        big = os.urandom(MIB - 1)
        out = self.c.put_record(StreamName=name, Data=big, PartitionKey="k")
        payloads.append(big)
        recs, _ = read_shard(self.c, sid, name=name)
        self.assertEqual(len(recs), len(payloads))
        for i, (r, p) in enumerate(zip(recs, payloads)):
            self.assertEqual(len(r["Data"]), len(p), "record %d length" % i)
            self.assertTrue(r["Data"] == p, "record %d bytes differ" % i)
        self.assertEqual(recs[-1]["SequenceNumber"], out["SequenceNumber"])
        # A partition key of 256 characters (multi-byte ones too) is accepted.
        pk = "\u00e9" * 256
        out = self.c.put_record(StreamName=name, Data=b"pk", PartitionKey=pk)
        recs, _ = read_shard(self.c, sid, name=name, iterator_type="AT_SEQUENCE_NUMBER",
                             StartingSequenceNumber=out["SequenceNumber"])
        self.assertEqual(recs[0]["PartitionKey"], pk)

    def test_record_size_and_key_errors(self):
        name = unique_name("limits")
        create_stream(self.c, name, 1)
        # One byte over 1 MiB counting data plus partition key.
        self.assertAwsError(INVALID, self.c.put_record, StreamName=name, Data=b"a" * MIB, PartitionKey="k")
        self.assertAwsError(INVALID, self.c.put_record, StreamName=name, Data=b"a" * (MIB + 1000), PartitionKey="k")
        self.assertAwsError(INVALID, self.c.put_records, StreamName=name,
                            Records=[{"Data": b"a" * (MIB + 1000), "PartitionKey": "k"}])
        self.assertAwsError(VALIDATION, self.nv.put_record, StreamName=name, Data=b"a", PartitionKey="p" * 257)
        self.assertAwsError(VALIDATION, self.nv.put_record, StreamName=name, Data=b"a", PartitionKey="")
        self.assertAwsError(VALIDATION, self.nv.put_record, StreamName="bad/name", Data=b"a", PartitionKey="k")
        self.assertAwsError("ResourceNotFoundException", self.c.put_record, StreamName=unique_name("nope"),
                            Data=b"a", PartitionKey="k")
        sid = list_all_shards(self.c, name)[0]["ShardId"]
        recs, _ = read_shard(self.c, sid, name=name)
        self.assertEqual(recs, [])

    def test_resource_not_found(self):
        missing = unique_name("missing")
        e = self.assertAwsError("ResourceNotFoundException", self.c.describe_stream, StreamName=missing)
        self.assertTrue(e.response["Error"].get("Message"), "error without a message")
        self.assertAwsError("ResourceNotFoundException", self.c.describe_stream_summary, StreamName=missing)
        self.assertAwsError("ResourceNotFoundException", self.c.delete_stream, StreamName=missing)
        self.assertAwsError("ResourceNotFoundException", self.c.list_tags_for_stream, StreamName=missing)
        self.assertAwsError("ResourceNotFoundException", self.c.increase_stream_retention_period,
                            StreamName=missing, RetentionPeriodHours=48)

    def test_split_and_merge(self):
        name = unique_name("split")
        create_stream(self.c, name, 2)
        shards = list_all_shards(self.c, name)
        parent = shards[0]
        lo = int(parent["HashKeyRange"]["StartingHashKey"])
        hi = int(parent["HashKeyRange"]["EndingHashKey"])
        mid = (lo + hi + 1) // 2
        written = {}  # data -> (shard id, seq)

        def put(tag, hash_key):
            data = b"%s-%d" % (tag, hash_key % 100000)
            out = self.c.put_record(StreamName=name, Data=data, PartitionKey="k", ExplicitHashKey=str(hash_key))
            written[data] = (out["ShardId"], out["SequenceNumber"])
            return out

        for h in (lo, lo + 1, mid - 1, mid, hi):
            self.assertEqual(put(b"before", h)["ShardId"], parent["ShardId"])

        self.assertAwsError("InvalidArgumentException", self.c.split_shard, StreamName=name,
                            ShardToSplit=parent["ShardId"], NewStartingHashKey=str(hi + 10))
        self.assertAwsError("ResourceNotFoundException", self.c.split_shard, StreamName=name,
                            ShardToSplit="shardId-000000000077", NewStartingHashKey=str(mid))
        self.c.split_shard(StreamName=name, ShardToSplit=parent["ShardId"], NewStartingHashKey=str(mid))
        wait_active(self.c, name)

        d = self.c.describe_stream(StreamName=name)["StreamDescription"]
        by_id = {s["ShardId"]: s for s in d["Shards"]}
        self.assertEqual(len(by_id), 4)
        closed = by_id[parent["ShardId"]]
        end_seq = self.assertSeq(closed["SequenceNumberRange"]["EndingSequenceNumber"])
        self.assertGreaterEqual(end_seq, max(int(s) for _, s in written.values()))
        children = sorted((s for s in d["Shards"] if s.get("ParentShardId") == parent["ShardId"]),
                          key=lambda s: int(s["HashKeyRange"]["StartingHashKey"]))
        self.assertEqual(len(children), 2)
        self.assertEqual(children[0]["HashKeyRange"], {"StartingHashKey": str(lo), "EndingHashKey": str(mid - 1)})
        self.assertEqual(children[1]["HashKeyRange"], {"StartingHashKey": str(mid), "EndingHashKey": str(hi)})
        for ch in children:
            self.assertNotIn("AdjacentParentShardId", ch)
            self.assertNotIn("EndingSequenceNumber", ch["SequenceNumberRange"])
        self.assertHashRangesCover(open_shards(d["Shards"]))
        self.assertEqual(self.c.describe_stream_summary(StreamName=name)
                         ["StreamDescriptionSummary"]["OpenShardCount"], 3)

        # New records land in the children.
        self.assertEqual(put(b"after", lo)["ShardId"], children[0]["ShardId"])
        self.assertEqual(put(b"after", mid - 1)["ShardId"], children[0]["ShardId"])
        self.assertEqual(put(b"after", mid)["ShardId"], children[1]["ShardId"])
        self.assertEqual(put(b"after", hi)["ShardId"], children[1]["ShardId"])

        # Reading the closed parent to its end: no NextShardIterator, ChildShards given.
        it = self.c.get_shard_iterator(StreamName=name, ShardId=parent["ShardId"],
                                       ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
        parent_recs, last = [], None
        for _ in range(50):
            last = self.c.get_records(ShardIterator=it)
            parent_recs += last["Records"]
            it = last.get("NextShardIterator")
            if it is None:
                break
        self.assertIsNone(it, "closed shard never ended (NextShardIterator keeps coming)")
        self.assertEqual(len(parent_recs), 5)
        child_shards = sorted(last.get("ChildShards", []), key=lambda c: c["ShardId"])
        self.assertEqual([c["ShardId"] for c in child_shards], sorted(c["ShardId"] for c in children))
        for cs in child_shards:
            self.assertEqual(cs["ParentShards"], [parent["ShardId"]])
            self.assertEqual(cs["HashKeyRange"], by_id[cs["ShardId"]]["HashKeyRange"])
        # A closed shard still gives iterators; LATEST on it is at its end.
        self.assertEqual(read_shard(self.c, parent["ShardId"], name=name, iterator_type="LATEST")[0], [])
        # Splitting a closed shard is refused (the docs do not pin the code down).
        self.assertAwsError(("InvalidArgumentException", "ResourceNotFoundException", "ResourceInUseException"),
                            self.c.split_shard, StreamName=name, ShardToSplit=parent["ShardId"],
                            NewStartingHashKey=str(mid))

        # Merge the two children back.
        other = shards[1]
        self.assertAwsError("InvalidArgumentException", self.c.merge_shards, StreamName=name,
                            ShardToMerge=children[0]["ShardId"], AdjacentShardToMerge=other["ShardId"])
        self.c.merge_shards(StreamName=name, ShardToMerge=children[0]["ShardId"],
                            AdjacentShardToMerge=children[1]["ShardId"])
        wait_active(self.c, name)
        d = self.c.describe_stream(StreamName=name)["StreamDescription"]
        self.assertEqual(len(d["Shards"]), 5)
        merged = [s for s in d["Shards"] if s.get("AdjacentParentShardId")]
        self.assertEqual(len(merged), 1)
        merged = merged[0]
        self.assertEqual(merged["ParentShardId"], children[0]["ShardId"])
        self.assertEqual(merged["AdjacentParentShardId"], children[1]["ShardId"])
        self.assertEqual(merged["HashKeyRange"], {"StartingHashKey": str(lo), "EndingHashKey": str(hi)})
        self.assertHashRangesCover(open_shards(d["Shards"]))
        self.assertEqual(len(open_shards(d["Shards"])), 2)
        self.assertEqual(put(b"merged", mid)["ShardId"], merged["ShardId"])

        # Every record ever written is readable exactly once, in the shard it was acknowledged in.
        got = {}
        for s in d["Shards"]:
            for r in read_shard(self.c, s["ShardId"], name=name)[0]:
                self.assertNotIn(r["Data"], got, "record read twice")
                got[r["Data"]] = (s["ShardId"], r["SequenceNumber"])
        self.assertEqual(got, written)

    def test_update_shard_count(self):
        name = unique_name("scale")
        create_stream(self.c, name, 2)
        before = {}
        for i in range(8):
            h = (HASH_MAX // 8) * i + 5
            out = self.c.put_record(StreamName=name, Data=b"pre%d" % i, PartitionKey="k", ExplicitHashKey=str(h))
            before[b"pre%d" % i] = (out["ShardId"], out["SequenceNumber"])
        out = self.c.update_shard_count(StreamName=name, TargetShardCount=4, ScalingType="UNIFORM_SCALING")
        self.assertEqual(out["StreamName"], name)
        self.assertEqual(out["CurrentShardCount"], 2)
        self.assertEqual(out["TargetShardCount"], 4)
        summ = wait_active(self.c, name)
        self.assertEqual(summ["OpenShardCount"], 4)
        latest = list_all_shards(self.c, name, ShardFilter={"Type": "AT_LATEST"})
        self.assertEqual(len(latest), 4)
        ranges = self.assertHashRangesCover(latest)
        quarter = (HASH_MAX + 1) // 4
        for a, b in ranges:
            self.assertLess(abs((b - a + 1) - quarter), quarter // 100, "not uniform: %r" % ranges)
        every = list_all_shards(self.c, name)
        closed_ids = {s["ShardId"] for s in every if "EndingSequenceNumber" in s["SequenceNumberRange"]}
        original_ids = {v[0] for v in before.values()}
        self.assertEqual(len(original_ids), 2)
        latest_ids = {s["ShardId"] for s in latest}
        self.assertLessEqual(original_ids, closed_ids, "the original shards were not closed")
        self.assertFalse(original_ids & latest_ids)
        after = {}
        for i in range(8):
            h = (HASH_MAX // 8) * i + 5
            out = self.c.put_record(StreamName=name, Data=b"post%d" % i, PartitionKey="k", ExplicitHashKey=str(h))
            self.assertIn(out["ShardId"], latest_ids)
            self.assertEqual(out["ShardId"], shard_for_hash(latest, h))
            after[b"post%d" % i] = (out["ShardId"], out["SequenceNumber"])
        got = {}
        for s in every:
            for r in read_shard(self.c, s["ShardId"], name=name)[0]:
                got[r["Data"]] = (s["ShardId"], r["SequenceNumber"])
        self.assertEqual(got, {**before, **after})
        self.assertAwsError(INVALID, self.nv.update_shard_count, StreamName=name, TargetShardCount=0,
                            ScalingType="UNIFORM_SCALING")
        self.assertAwsError("ResourceNotFoundException", self.c.update_shard_count, StreamName=unique_name("no"),
                            TargetShardCount=2, ScalingType="UNIFORM_SCALING")

    def test_retention_period(self):
        name = unique_name("ret")
        create_stream(self.c, name, 1)

        def hours():
            return self.c.describe_stream_summary(StreamName=name)["StreamDescriptionSummary"]["RetentionPeriodHours"]

        self.c.increase_stream_retention_period(StreamName=name, RetentionPeriodHours=48)
        wait_active(self.c, name)
        self.assertEqual(hours(), 48)
        self.assertAwsError(INVALID, self.c.increase_stream_retention_period,
                            StreamName=name, RetentionPeriodHours=8761)
        self.assertAwsError("InvalidArgumentException", self.c.increase_stream_retention_period,
                            StreamName=name, RetentionPeriodHours=24)  # below current
        self.assertAwsError("InvalidArgumentException", self.c.decrease_stream_retention_period,
                            StreamName=name, RetentionPeriodHours=72)  # above current
        self.assertAwsError(INVALID, self.c.decrease_stream_retention_period,
                            StreamName=name, RetentionPeriodHours=23)
        self.assertEqual(hours(), 48)
        self.c.decrease_stream_retention_period(StreamName=name, RetentionPeriodHours=24)
        wait_active(self.c, name)
        self.assertEqual(hours(), 24)
        self.c.increase_stream_retention_period(StreamName=name, RetentionPeriodHours=8760)
        wait_active(self.c, name)
        self.assertEqual(hours(), 8760)
        self.assertEqual(self.c.describe_stream(StreamName=name)["StreamDescription"]["RetentionPeriodHours"], 8760)

    def test_tags(self):
        name = unique_name("tags")
        create_stream(self.c, name, 1)
        self.assertEqual(self.c.list_tags_for_stream(StreamName=name)["Tags"], [])
        tags = {"alpha": "1", "bravo": "2", "charlie": "3", "delta": "", "echo": "five"}
        self.c.add_tags_to_stream(StreamName=name, Tags=tags)
        out = self.c.list_tags_for_stream(StreamName=name)
        self.assertFalse(out["HasMoreTags"])
        self.assertEqual({t["Key"]: t["Value"] for t in out["Tags"]}, tags)

        page = self.c.list_tags_for_stream(StreamName=name, Limit=2)
        self.assertEqual(len(page["Tags"]), 2)
        self.assertTrue(page["HasMoreTags"])
        collected = list(page["Tags"])
        for _ in range(10):
            page = self.c.list_tags_for_stream(StreamName=name, Limit=2,
                                               ExclusiveStartTagKey=collected[-1]["Key"])
            self.assertLessEqual(len(page["Tags"]), 2)
            collected += page["Tags"]
            if not page["HasMoreTags"]:
                break
        self.assertEqual(len(collected), 5)
        self.assertEqual({t["Key"]: t["Value"] for t in collected}, tags)

        self.c.add_tags_to_stream(StreamName=name, Tags={"alpha": "changed"})
        self.c.remove_tags_from_stream(StreamName=name, TagKeys=["bravo", "delta", "not-there"])
        out = self.c.list_tags_for_stream(StreamName=name)
        self.assertEqual({t["Key"]: t["Value"] for t in out["Tags"]},
                         {"alpha": "changed", "charlie": "3", "echo": "five"})
        self.assertAwsError(INVALID, self.nv.list_tags_for_stream, StreamName=name, Limit=0)
        self.assertAwsError(INVALID, self.nv.list_tags_for_stream, StreamName=name, Limit=51)
        # Tags given at creation.
        name2 = unique_name("tags2")
        self.c.create_stream(StreamName=name2, ShardCount=1, Tags={"team": "data"})
        wait_active(self.c, name2)
        self.assertEqual(self.c.list_tags_for_stream(StreamName=name2)["Tags"], [{"Key": "team", "Value": "data"}])

    def test_encryption(self):
        name = unique_name("kms")
        create_stream(self.c, name, 1)
        self.c.start_stream_encryption(StreamName=name, EncryptionType="KMS", KeyId="alias/aws/kinesis")
        wait_active(self.c, name)
        d = self.c.describe_stream(StreamName=name)["StreamDescription"]
        self.assertEqual(d["EncryptionType"], "KMS")
        self.assertEqual(d["KeyId"], "alias/aws/kinesis")
        summ = self.c.describe_stream_summary(StreamName=name)["StreamDescriptionSummary"]
        self.assertEqual(summ["EncryptionType"], "KMS")
        self.assertEqual(summ["KeyId"], "alias/aws/kinesis")
        out = self.c.put_record(StreamName=name, Data=b"secret", PartitionKey="k")
        self.assertEqual(out["EncryptionType"], "KMS")
        outs = self.c.put_records(StreamName=name, Records=[{"Data": b"s2", "PartitionKey": "k"}])
        self.assertEqual(outs["EncryptionType"], "KMS")
        recs, _ = read_shard(self.c, out["ShardId"], name=name)
        self.assertEqual([r["Data"] for r in recs], [b"secret", b"s2"])
        for r in recs:
            self.assertEqual(r.get("EncryptionType"), "KMS")
        self.assertAwsError(INVALID, self.nv.start_stream_encryption, StreamName=name, EncryptionType="ROT13",
                            KeyId="alias/aws/kinesis")
        self.c.stop_stream_encryption(StreamName=name, EncryptionType="KMS", KeyId="alias/aws/kinesis")
        wait_active(self.c, name)
        d = self.c.describe_stream(StreamName=name)["StreamDescription"]
        self.assertEqual(d.get("EncryptionType", "NONE"), "NONE")
        out = self.c.put_record(StreamName=name, Data=b"plain", PartitionKey="k")
        self.assertEqual(out.get("EncryptionType", "NONE"), "NONE")

    def test_delete_stream(self):
        name = unique_name("del")
        create_stream(self.c, name, 2)
        self.c.put_record(StreamName=name, Data=b"x", PartitionKey="k")
        self.c.delete_stream(StreamName=name)
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            try:
                s = self.c.describe_stream_summary(StreamName=name)["StreamDescriptionSummary"]
                self.assertEqual(s["StreamStatus"], "DELETING")
            except self.c.exceptions.ResourceNotFoundException:
                break
            time.sleep(0.05)
        self.assertAwsError("ResourceNotFoundException", self.c.describe_stream, StreamName=name)
        self.assertAwsError("ResourceNotFoundException", self.c.put_record, StreamName=name,
                            Data=b"x", PartitionKey="k")
        self.assertAwsError("ResourceNotFoundException", self.c.get_shard_iterator, StreamName=name,
                            ShardId="shardId-000000000000", ShardIteratorType="TRIM_HORIZON")
        self.assertNotIn(name, self.c.list_streams(Limit=10000)["StreamNames"])
        # The name can be used again, for a new, empty stream.
        create_stream(self.c, name, 1)
        sid = list_all_shards(self.c, name)[0]["ShardId"]
        self.assertEqual(read_shard(self.c, sid, name=name)[0], [])

    def test_stream_arn_on_data_calls(self):
        name = unique_name("arn")
        create_stream(self.c, name, 2)
        arn = stream_arn(name)
        summ = self.c.describe_stream_summary(StreamARN=arn)["StreamDescriptionSummary"]
        self.assertEqual(summ["StreamName"], name)
        self.assertEqual(summ["StreamARN"], arn)
        out = self.c.put_record(StreamARN=arn, Data=b"via-arn", PartitionKey="k")
        outs = self.c.put_records(StreamARN=arn, Records=[{"Data": b"via-arn-2", "PartitionKey": "k"}])
        self.assertEqual(outs["Records"][0]["ShardId"], out["ShardId"])
        shards = self.c.list_shards(StreamARN=arn)["Shards"]
        self.assertEqual(len(shards), 2)
        self.assertEqual(len(self.c.describe_stream(StreamARN=arn)["StreamDescription"]["Shards"]), 2)
        it = self.c.get_shard_iterator(StreamARN=arn, ShardId=out["ShardId"],
                                       ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
        recs = self.c.get_records(StreamARN=arn, ShardIterator=it)["Records"]
        self.assertEqual([r["Data"] for r in recs], [b"via-arn", b"via-arn-2"])
        self.c.add_tags_to_stream(StreamARN=arn, Tags={"k": "v"})
        self.assertEqual(self.c.list_tags_for_stream(StreamARN=arn)["Tags"], [{"Key": "k", "Value": "v"}])
        self.assertAwsError("ResourceNotFoundException", self.c.put_record,
                            StreamARN=stream_arn(unique_name("ghost")), Data=b"x", PartitionKey="k")
        self.c.delete_stream(StreamARN=arn)
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            if name not in self.c.list_streams(Limit=10000)["StreamNames"]:
                break
            time.sleep(0.05)
        self.assertNotIn(name, self.c.list_streams(Limit=10000)["StreamNames"])


class LimitsTest(Base):
    """DescribeLimits counts every stream of the account, so it gets a server of its own."""

    @classmethod
    def setUpClass(cls):
        if harness.external():
            raise unittest.SkipTest("needs a server of its own (counts every stream)")
        super().setUpClass()

    def test_describe_limits(self):
        # This class's server holds only the streams made here.
        names = [unique_name("lim%d" % i) for i in range(2)]
        create_stream(self.c, names[0], 3)
        create_stream(self.c, names[1], 2)
        out = self.c.describe_limits()
        self.assertIsInstance(out["ShardLimit"], int)
        self.assertGreater(out["ShardLimit"], 0)
        self.assertIsInstance(out["OnDemandStreamCountLimit"], int)
        self.assertGreater(out["OnDemandStreamCountLimit"], 0)
        # OpenShardCount is the account's open shards across every stream.
        self.assertEqual(out["OpenShardCount"], 5)
        self.assertEqual(out["OnDemandStreamCount"], 0)
        # Splitting a shard closes one and opens two.
        s0 = list_all_shards(self.c, names[1])[0]
        lo, hi = int(s0["HashKeyRange"]["StartingHashKey"]), int(s0["HashKeyRange"]["EndingHashKey"])
        self.c.split_shard(StreamName=names[1], ShardToSplit=s0["ShardId"], NewStartingHashKey=str((lo + hi) // 2))
        wait_active(self.c, names[1])
        self.assertEqual(self.c.describe_limits()["OpenShardCount"], 6)
        od = unique_name("lim-od")
        self.c.create_stream(StreamName=od, StreamModeDetails={"StreamMode": "ON_DEMAND"})
        wait_active(self.c, od)
        self.assertEqual(self.c.describe_limits()["OnDemandStreamCount"], 1)
        self.c.delete_stream(StreamName=names[0])
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and names[0] in self.c.list_streams(Limit=10000)["StreamNames"]:
            time.sleep(0.05)
        self.assertEqual(self.c.describe_limits()["OnDemandStreamCount"], 1)
        # 3 fewer provisioned shards; whether on-demand shards count here is not pinned down.
        after = self.c.describe_limits()["OpenShardCount"]
        self.assertIn(after, (3, 3 + self.c.describe_stream_summary(StreamName=od)
                              ["StreamDescriptionSummary"]["OpenShardCount"]))


class ClockTest(Base):
    """Tests that move the server's debug clock (so each gets the server to itself)."""

    @classmethod
    def setUpClass(cls):
        if harness.external():
            raise unittest.SkipTest("needs the debug clock")
        super().setUpClass()

    def test_expired_iterator(self):
        name = unique_name("exp")
        create_stream(self.c, name, 1)
        sid = list_all_shards(self.c, name)[0]["ShardId"]
        self.c.put_record(StreamName=name, Data=b"a", PartitionKey="k")
        it = self.c.get_shard_iterator(StreamName=name, ShardId=sid, ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
        out = self.c.get_records(ShardIterator=it)
        self.assertEqual([r["Data"] for r in out["Records"]], [b"a"])
        next_it = out["NextShardIterator"]
        fresh = self.c.get_shard_iterator(StreamName=name, ShardId=sid, ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
        # Four minutes is still fine.
        self.server.advance_clock(4 * 60 * 1000)
        out = self.c.get_records(ShardIterator=fresh)
        self.assertEqual([r["Data"] for r in out["Records"]], [b"a"])
        # Past five minutes both the shard iterator and the NextShardIterator expire.
        self.server.advance_clock(61 * 1000 + 500)
        self.assertAwsError("ExpiredIteratorException", self.c.get_records, ShardIterator=it)
        self.assertAwsError("ExpiredIteratorException", self.c.get_records, ShardIterator=next_it)
        # A new iterator works.
        recs, _ = read_shard(self.c, sid, name=name)
        self.assertEqual([r["Data"] for r in recs], [b"a"])

    def test_expired_list_shards_token(self):
        name = unique_name("tok")
        create_stream(self.c, name, 3)
        out = self.c.list_shards(StreamName=name, MaxResults=1)
        token = out["NextToken"]
        self.assertEqual(len(self.c.list_shards(NextToken=token, MaxResults=1)["Shards"]), 1)
        # "Tokens expire after 300 seconds ... you get ExpiredNextTokenException."
        self.server.advance_clock(301 * 1000)
        self.assertAwsError("ExpiredNextTokenException", self.c.list_shards, NextToken=token)
        self.assertEqual(len(list_all_shards(self.c, name)), 3)

    def test_millis_behind_latest(self):
        name = unique_name("behind")
        create_stream(self.c, name, 1)
        sid = list_all_shards(self.c, name)[0]["ShardId"]
        self.c.put_record(StreamName=name, Data=b"old", PartitionKey="k")
        self.server.advance_clock(60000)
        self.c.put_record(StreamName=name, Data=b"new", PartitionKey="k")
        it = self.c.get_shard_iterator(StreamName=name, ShardId=sid, ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
        out = self.c.get_records(ShardIterator=it, Limit=1)
        self.assertEqual([r["Data"] for r in out["Records"]], [b"old"])
        self.assertGreaterEqual(out["MillisBehindLatest"], 59000)
        self.assertLess(out["MillisBehindLatest"], 60 * 60 * 1000)
        out = self.c.get_records(ShardIterator=out["NextShardIterator"], Limit=1)
        self.assertEqual([r["Data"] for r in out["Records"]], [b"new"])
        out = self.c.get_records(ShardIterator=out["NextShardIterator"])
        self.assertEqual(out["Records"], [])
        self.assertEqual(out["MillisBehindLatest"], 0)

    def test_retention_trimming(self):
        name = unique_name("trim")
        create_stream(self.c, name, 1)
        keep = unique_name("keep")
        create_stream(self.c, keep, 1)
        self.c.increase_stream_retention_period(StreamName=keep, RetentionPeriodHours=72)
        wait_active(self.c, keep)
        sid = list_all_shards(self.c, name)[0]["ShardId"]
        old = [self.c.put_record(StreamName=name, Data=b"old%d" % i, PartitionKey="k%d" % i) for i in range(20)]
        self.c.put_record(StreamName=keep, Data=b"kept", PartitionKey="k")
        self.server.advance_clock((24 + 1) * 3600 * 1000)
        new = self.c.put_record(StreamName=name, Data=b"new", PartitionKey="k")
        self.assertGreater(int(new["SequenceNumber"]), max(int(o["SequenceNumber"]) for o in old))
        recs, _ = read_shard(self.c, sid, name=name)
        self.assertEqual([r["Data"] for r in recs], [b"new"])
        # AT_TIMESTAMP from long ago also starts at the oldest untrimmed record.
        recs, _ = read_shard(self.c, sid, name=name, iterator_type="AT_TIMESTAMP",
                             Timestamp=datetime.datetime(2000, 1, 1, tzinfo=datetime.timezone.utc))
        self.assertEqual([r["Data"] for r in recs], [b"new"])
        # The stream with 72 h retention still has its record.
        ksid = list_all_shards(self.c, keep)[0]["ShardId"]
        self.assertEqual([r["Data"] for r in read_shard(self.c, ksid, name=keep)[0]], [b"kept"])
        # ...until 72 h have passed.
        self.server.advance_clock(48 * 3600 * 1000)
        self.assertEqual(read_shard(self.c, ksid, name=keep)[0], [])

    def test_at_timestamp_with_clock(self):
        name = unique_name("ts")
        create_stream(self.c, name, 1)
        sid = list_all_shards(self.c, name)[0]["ShardId"]
        self.c.put_record(StreamName=name, Data=b"t0", PartitionKey="k")
        now_ms = self.server.advance_clock(10000)
        self.c.put_record(StreamName=name, Data=b"t1", PartitionKey="k")
        recs, _ = read_shard(self.c, sid, name=name)
        t0, t1 = (r["ApproximateArrivalTimestamp"] for r in recs)
        self.assertGreaterEqual((t1 - t0).total_seconds(), 9.9)
        self.assertLess(abs(t1.timestamp() * 1000 - now_ms), 5000)
        mid = t0 + datetime.timedelta(seconds=5)
        recs, _ = read_shard(self.c, sid, name=name, iterator_type="AT_TIMESTAMP", Timestamp=mid)
        self.assertEqual([r["Data"] for r in recs], [b"t1"])
        recs, _ = read_shard(self.c, sid, name=name, iterator_type="AT_TIMESTAMP", Timestamp=t1)
        self.assertEqual([r["Data"] for r in recs], [b"t1"])


class ShardLimitsTest(Base):
    extra_args = ("--shard-limits",)

    def test_put_records_partial_failure(self):
        name = unique_name("hot")
        create_stream(self.c, name, 2)
        shards = list_all_shards(self.c, name)
        hot, cool = shards[0], shards[1]
        hot_key = hot["HashKeyRange"]["StartingHashKey"]
        cool_key = cool["HashKeyRange"]["StartingHashKey"]
        ok_hot = {}
        ok_cool = {}
        failed_seen = False
        for attempt in range(3):
            entries = []
            for i in range(500):
                if i % 5 == 4:
                    entries.append({"Data": b"cool-%d-%d" % (attempt, i), "PartitionKey": "c",
                                    "ExplicitHashKey": cool_key})
                else:
                    entries.append({"Data": (b"hot-%d-%d-" % (attempt, i)).ljust(5000, b"h"),
                                    "PartitionKey": "h", "ExplicitHashKey": hot_key})
            out = self.c.put_records(StreamName=name, Records=entries)  # 2 MB to one shard
            self.assertEqual(len(out["Records"]), 500)
            failed = [r for r in out["Records"] if "ErrorCode" in r]
            self.assertEqual(out["FailedRecordCount"], len(failed))
            for e, r in zip(entries, out["Records"]):
                if "ErrorCode" in r:
                    self.assertEqual(r["ErrorCode"], "ProvisionedThroughputExceededException")
                    self.assertTrue(r.get("ErrorMessage"))
                    self.assertNotIn("SequenceNumber", r)
                    self.assertNotIn("ShardId", r)
                    self.assertEqual(e["ExplicitHashKey"], hot_key, "a record to the idle shard was throttled")
                else:
                    self.assertSeq(r["SequenceNumber"])
                    target = ok_hot if e["ExplicitHashKey"] == hot_key else ok_cool
                    self.assertEqual(r["ShardId"], (hot if target is ok_hot else cool)["ShardId"])
                    target[r["SequenceNumber"]] = e["Data"]
            if failed:
                failed_seen = True
                self.assertLess(len(failed), 400, "nothing went through to the hot shard")
                break
        self.assertTrue(failed_seen, "2 MB per request to one shard was never throttled")
        self.assertGreater(len(ok_hot), 0)
        # Exactly the acknowledged records are stored.
        time.sleep(1.1)  # let the read side of the limiter settle too
        for shard, expect in ((hot, ok_hot), (cool, ok_cool)):
            recs = self._read_slowly(shard["ShardId"], name)
            self.assertEqual({r["SequenceNumber"]: r["Data"] for r in recs}, expect)

        # A single PutRecord over the limit fails as a whole.
        codes = []
        for _ in range(8):
            try:
                self.c.put_record(StreamName=name, Data=b"p" * 500000, PartitionKey="h", ExplicitHashKey=hot_key)
                codes.append("ok")
            except self.c.exceptions.ProvisionedThroughputExceededException as e:
                self.assertEqual(e.response["ResponseMetadata"]["HTTPStatusCode"], 400)
                codes.append("throttled")
                break
        self.assertIn("throttled", codes, "4 MB in a row to one shard was never throttled")

    def test_get_records_call_rate_is_limited(self):
        name = unique_name("reads")
        create_stream(self.c, name, 1)
        self.c.put_record(StreamName=name, Data=b"x", PartitionKey="k")
        it = self.c.get_shard_iterator(StreamName=name, ShardId="shardId-000000000000",
                                       ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
        outcomes = []
        for _ in range(50):  # 5 calls a second are allowed: a burst must hit the limit
            try:
                self.c.get_records(ShardIterator=it)
                outcomes.append("ok")
            except self.c.exceptions.ProvisionedThroughputExceededException as e:
                self.assertIn("shardId-000000000000", e.response["Error"]["Message"])
                outcomes.append("throttled")
                break
        self.assertIn("ok", outcomes)
        self.assertEqual(outcomes[-1], "throttled", "50 GetRecords calls in a burst were never throttled")
        self.assertGreaterEqual(len(outcomes), 6, "throttled before 5 calls: %r" % outcomes)
        time.sleep(1.1)
        self.assertEqual(len(self.c.get_records(ShardIterator=it)["Records"]), 1)

    def _read_slowly(self, shard_id, name):
        """Read a whole shard, retrying GetRecords read throttling (5 calls/s, 2 MiB/s)."""
        recs = []
        it = self.c.get_shard_iterator(StreamName=name, ShardId=shard_id,
                                       ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                out = self.c.get_records(ShardIterator=it)
            except self.c.exceptions.ProvisionedThroughputExceededException:
                time.sleep(0.3)
                continue
            recs += out["Records"]
            it = out["NextShardIterator"]
            if not out["Records"] and out.get("MillisBehindLatest", 0) == 0:
                return recs
            time.sleep(0.25)
        self.fail("could not read shard %s within 30 s" % shard_id)


class RestartTest(Base):

    @classmethod
    def setUpClass(cls):
        if harness.external():
            raise unittest.SkipTest("needs to restart the server")
        super().setUpClass()

    def test_state_survives_restart(self):
        name = unique_name("durable")
        create_stream(self.c, name, 2)
        self.c.add_tags_to_stream(StreamName=name, Tags={"owner": "tests"})
        self.c.increase_stream_retention_period(StreamName=name, RetentionPeriodHours=36)
        wait_active(self.c, name)
        ondemand = unique_name("durable-od")
        self.c.create_stream(StreamName=ondemand, StreamModeDetails={"StreamMode": "ON_DEMAND"})
        wait_active(self.c, ondemand)
        written = {}
        for i in range(10):
            out = self.c.put_records(StreamName=name, Records=[
                {"Data": os.urandom(50 + j), "PartitionKey": "p%d-%d" % (i, j)} for j in range(20)])
            self.assertEqual(out["FailedRecordCount"], 0)
        shards0 = list_all_shards(self.c, name)
        # Split one shard so closed-shard metadata has to survive too.
        s0 = shards0[0]
        lo, hi = int(s0["HashKeyRange"]["StartingHashKey"]), int(s0["HashKeyRange"]["EndingHashKey"])
        self.c.split_shard(StreamName=name, ShardToSplit=s0["ShardId"], NewStartingHashKey=str((lo + hi) // 2))
        wait_active(self.c, name)
        self.c.put_record(StreamName=name, Data=b"after-split", PartitionKey="z", ExplicitHashKey=str(lo))
        desc_before = self.c.describe_stream(StreamName=name)["StreamDescription"]
        for s in desc_before["Shards"]:
            for r in read_shard(self.c, s["ShardId"], name=name)[0]:
                written[(s["ShardId"], r["SequenceNumber"])] = (r["PartitionKey"], r["Data"])
        self.assertEqual(len(written), 201)

        self.server.restart()
        c = self.server.client()
        desc_after = c.describe_stream(StreamName=name)["StreamDescription"]
        self.assertEqual(desc_after, desc_before)
        self.assertEqual(c.list_tags_for_stream(StreamName=name)["Tags"], [{"Key": "owner", "Value": "tests"}])
        self.assertEqual(c.describe_stream_summary(StreamName=ondemand)["StreamDescriptionSummary"]
                         ["StreamModeDetails"]["StreamMode"], "ON_DEMAND")
        self.assertIn(ondemand, c.list_streams()["StreamNames"])
        got = {}
        for s in desc_after["Shards"]:
            for r in read_shard(c, s["ShardId"], name=name)[0]:
                got[(s["ShardId"], r["SequenceNumber"])] = (r["PartitionKey"], r["Data"])
        self.assertEqual(got, written)
        # New sequence numbers are greater than every earlier one in the same shard.
        for s in open_shards(desc_after["Shards"]):
            key = s["HashKeyRange"]["StartingHashKey"]
            out = c.put_record(StreamName=name, Data=b"post-restart", PartitionKey="k", ExplicitHashKey=key)
            self.assertEqual(out["ShardId"], s["ShardId"])
            earlier = [int(q) for (sid, q) in written if sid == s["ShardId"]]
            if earlier:
                self.assertGreater(int(out["SequenceNumber"]), max(earlier))
            self.assertGreater(int(out["SequenceNumber"]), int(s["SequenceNumberRange"]["StartingSequenceNumber"]))
        # The name is still taken, and the stream can be deleted.
        self.assertAwsError("ResourceInUseException", c.create_stream, StreamName=name, ShardCount=1)
        # A second restart keeps the post-restart record as well.
        self.server.restart()
        c = self.server.client()
        total = sum(len(read_shard(c, s["ShardId"], name=name)[0]) for s in desc_after["Shards"])
        self.assertEqual(total, 201 + len(open_shards(desc_after["Shards"])))


# ---- raw HTTP ------------------------------------------------------------------

def signed_headers(endpoint, target, body, content_type="application/x-amz-json-1.1"):
    req = AWSRequest(method="POST", url=endpoint + "/", data=body,
                     headers={"Content-Type": content_type, "X-Amz-Target": target})
    SigV4Auth(Credentials(harness.ACCESS_KEY, harness.SECRET_KEY), "kinesis", harness.REGION).add_auth(req)
    return {k: v for k, v in req.headers.items()}


class RawHttpTest(Base):

    def setUp(self):
        self.conn = http.client.HTTPConnection(self.server.host, self.server.port, timeout=10)
        self.addCleanup(self.conn.close)

    def call(self, target, body):
        if isinstance(body, str):
            body = body.encode()
        headers = signed_headers(self.server.endpoint, target, body)
        self.conn.request("POST", "/", body=body, headers=headers)
        resp = self.conn.getresponse()
        data = resp.read()
        return resp, data

    def assertJsonError(self, resp, data, code):
        self.assertEqual(resp.status, 400, data)
        self.assertTrue(resp.getheader("Content-Type", "").startswith("application/x-amz-json-1.1"),
                        resp.getheader("Content-Type"))
        body = json.loads(data)
        self.assertEqual(body["__type"].split("#")[-1], code, body)
        self.assertIn("x-amzn-RequestId".lower(), {k.lower() for k in resp.headers.keys()})

    def assertStillUsable(self, sock):
        resp, data = self.call("Kinesis_20131202.ListStreams", "{}")
        self.assertEqual(resp.status, 200, data)
        self.assertIn("StreamNames", json.loads(data))
        self.assertIs(self.conn.sock, sock, "the server closed the keep-alive connection")

    def open_connection(self):
        resp, data = self.call("Kinesis_20131202.ListStreams", "{}")
        self.assertEqual(resp.status, 200, data)
        self.assertIsNotNone(self.conn.sock)
        return self.conn.sock

    def test_malformed_json(self):
        sock = self.open_connection()
        resp, data = self.call("Kinesis_20131202.ListStreams", '{"Limit": 1')
        self.assertJsonError(resp, data, "SerializationException")
        self.assertStillUsable(sock)
        resp, data = self.call("Kinesis_20131202.DescribeStreamSummary", "not json at all")
        self.assertJsonError(resp, data, "SerializationException")
        self.assertStillUsable(sock)

    def test_unknown_operation(self):
        sock = self.open_connection()
        resp, data = self.call("Kinesis_20131202.FrobnicateStream", "{}")
        self.assertJsonError(resp, data, "UnknownOperationException")
        self.assertStillUsable(sock)

    def test_wrong_member_type(self):
        sock = self.open_connection()
        resp, data = self.call("Kinesis_20131202.DescribeStreamSummary", '{"StreamName": 5}')
        self.assertJsonError(resp, data, "SerializationException")
        self.assertStillUsable(sock)
        resp, data = self.call("Kinesis_20131202.CreateStream", '{"StreamName": "x", "ShardCount": "two"}')
        self.assertJsonError(resp, data, "SerializationException")
        self.assertStillUsable(sock)

    def test_not_found_and_success_on_one_connection(self):
        sock = self.open_connection()
        name = unique_name("raw")
        resp, data = self.call("Kinesis_20131202.DescribeStreamSummary", json.dumps({"StreamName": name}))
        self.assertJsonError(resp, data, "ResourceNotFoundException")
        self.assertTrue(json.loads(data).get("message"), data)
        self.assertStillUsable(sock)
        resp, data = self.call("Kinesis_20131202.CreateStream", json.dumps({"StreamName": name, "ShardCount": 1}))
        self.assertEqual(resp.status, 200, data)
        self.assertIs(self.conn.sock, sock)
        wait_active(self.c, name)
        resp, data = self.call("Kinesis_20131202.PutRecord", json.dumps(
            {"StreamName": name, "Data": "aGVsbG8=", "PartitionKey": "k"}))
        self.assertEqual(resp.status, 200, data)
        self.assertTrue(resp.getheader("Content-Type", "").startswith("application/x-amz-json-1.1"))
        out = json.loads(data)
        self.assertRegex(out["SequenceNumber"], SEQ_RE)
        self.assertRegex(out["ShardId"], SHARD_ID_RE)
        self.assertIs(self.conn.sock, sock)


if __name__ == "__main__":
    unittest.main()
