"""Stream states with a non-zero --create-delay-ms (CREATING -> ACTIVE,
UPDATING while resharding, DELETING -> gone), and resources scoped by the
region of the request's SigV4 credential scope."""

import time
import unittest

import boto3
import botocore.config

import harness
from harness import ACCESS_KEY, SECRET_KEY, unique_name

DELAY_MS = 1500  # long enough that a slow CI machine still sees each state


def status(c, name):
    return c.describe_stream_summary(StreamName=name)["StreamDescriptionSummary"]["StreamStatus"]


def wait_status(c, name, want, timeout=10.0):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if status(c, name) == want:
            return
        time.sleep(0.05)
    raise AssertionError("stream %s never became %s (now %s)" % (name, want, status(c, name)))


class StreamStatesTest(harness.KinesisTestCase):
    @classmethod
    def setUpClass(cls):
        cls.server = harness.server_for_class(cls, extra_args=["--create-delay-ms", str(DELAY_MS)],
                                              needs_local=True)
        cls.c = cls.server.client()

    def test_create_update_delete_transitions(self):
        name = unique_name("states")
        self.c.create_stream(StreamName=name, ShardCount=1)
        self.assertEqual(status(self.c, name), "CREATING")
        # Not writable until ACTIVE, and not reshardable either.
        self.assertAwsError(("ResourceInUseException", "ResourceNotFoundException"), self.c.put_record,
                            StreamName=name, Data=b"x", PartitionKey="k")
        self.assertAwsError("ResourceInUseException", self.c.split_shard, StreamName=name,
                            ShardToSplit="shardId-000000000000", NewStartingHashKey=str(2 ** 127))
        wait_status(self.c, name, "ACTIVE")
        self.c.put_record(StreamName=name, Data=b"x", PartitionKey="k")

        self.c.split_shard(StreamName=name, ShardToSplit="shardId-000000000000",
                           NewStartingHashKey=str(2 ** 127))
        self.assertEqual(status(self.c, name), "UPDATING")
        # Writes keep working while UPDATING; a second reshard must wait.
        self.c.put_record(StreamName=name, Data=b"y", PartitionKey="k")
        self.assertAwsError("ResourceInUseException", self.c.update_shard_count, StreamName=name,
                            TargetShardCount=3, ScalingType="UNIFORM_SCALING")
        wait_status(self.c, name, "ACTIVE")

        self.c.delete_stream(StreamName=name)
        self.assertEqual(status(self.c, name), "DELETING")
        deadline = time.time() + 10
        while time.time() < deadline:
            try:
                status(self.c, name)
            except self.c.exceptions.ResourceNotFoundException:
                break
            time.sleep(0.05)
        else:
            self.fail("stream was never deleted")
        self.assertNotIn(name, self.c.list_streams()["StreamNames"])

    def test_waiter_sees_active(self):
        name = unique_name("waiter")
        self.c.create_stream(StreamName=name, ShardCount=2)
        self.c.get_waiter("stream_exists").wait(StreamName=name,
                                                WaiterConfig={"Delay": 1, "MaxAttempts": 10})
        self.assertEqual(status(self.c, name), "ACTIVE")


class RegionScopeTest(harness.KinesisTestCase):
    @classmethod
    def setUpClass(cls):
        cls.server = harness.server_for_class(cls)

    def client(self, region):
        session = boto3.session.Session(aws_access_key_id=ACCESS_KEY,
                                        aws_secret_access_key=SECRET_KEY, region_name=region)
        return session.client("kinesis", endpoint_url=self.server.endpoint,
                              config=botocore.config.Config(retries={"total_max_attempts": 1}))

    def test_streams_are_per_region(self):
        east, west = self.client("us-east-1"), self.client("eu-west-1")
        name = unique_name("regional")
        west.create_stream(StreamName=name, ShardCount=1)
        summary = west.describe_stream_summary(StreamName=name)["StreamDescriptionSummary"]
        self.assertEqual(summary["StreamARN"],
                         "arn:aws:kinesis:eu-west-1:000000000000:stream/%s" % name)
        self.assertAwsError("ResourceNotFoundException", east.describe_stream_summary, StreamName=name)
        self.assertNotIn(name, east.list_streams()["StreamNames"])
        self.assertIn(name, west.list_streams()["StreamNames"])
        # The same name may exist in both regions, independently.
        east.create_stream(StreamName=name, ShardCount=2)
        self.assertEqual(
            east.describe_stream_summary(StreamName=name)["StreamDescriptionSummary"]["OpenShardCount"], 2)
        self.assertEqual(
            west.describe_stream_summary(StreamName=name)["StreamDescriptionSummary"]["OpenShardCount"], 1)
        # An ARN names its own region, whatever the request's scope says.
        arn = summary["StreamARN"]
        out = east.put_record(StreamARN=arn, Data=b"to-west", PartitionKey="k")
        it = west.get_shard_iterator(StreamName=name, ShardId=out["ShardId"],
                                     ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
        self.assertEqual([r["Data"] for r in west.get_records(ShardIterator=it)["Records"]], [b"to-west"])


class DataDirUpgradeTest(unittest.TestCase):
    """A data directory of the previous layout (shard logs under kinesis/)
    is renamed to logs/ at start-up, and every record is still there."""

    def test_kinesis_dir_is_adopted_as_logs(self):
        import os
        server = harness.Server(needs_local=True, name="upgrade")
        self.addCleanup(server.stop)
        server.start()
        c = server.client()
        name = unique_name("upgrade")
        harness.create_stream(c, name, shards=2)
        seqs = [c.put_record(StreamName=name, Data=b"r%d" % i, PartitionKey="k%d" % i)["SequenceNumber"]
                for i in range(20)]
        server.terminate()
        os.rename(os.path.join(server.data_dir, "logs"), os.path.join(server.data_dir, "kinesis"))
        server.start()
        c = server.client()
        found = []
        for s in harness.list_all_shards(c, name):
            recs, _ = harness.read_shard(c, s["ShardId"], name=name)
            found += [r["SequenceNumber"] for r in recs]
        self.assertEqual(sorted(found), sorted(seqs))
        self.assertTrue(os.path.isdir(os.path.join(server.data_dir, "logs")))
        self.assertFalse(os.path.exists(os.path.join(server.data_dir, "kinesis")))


class ClosedShardExpiryTest(harness.KinesisTestCase):
    """A closed shard whose data is all past retention disappears, as on AWS:
    from DescribeStream and ListShards, from GetShardIterator, and from disk."""

    @classmethod
    def setUpClass(cls):
        cls.server = harness.server_for_class(cls, needs_local=True)
        cls.c = cls.server.client()

    def test_expired_parent_goes_away(self):
        import glob
        import os
        name = unique_name("expiry")
        harness.create_stream(self.c, name, shards=1)
        self.c.put_record(StreamName=name, Data=b"old", PartitionKey="k")
        self.c.split_shard(StreamName=name, ShardToSplit="shardId-000000000000",
                           NewStartingHashKey=str(2 ** 127))
        uid_dirs = glob.glob(os.path.join(self.server.data_dir, "logs", "*"))
        self.assertEqual(len(uid_dirs), 1)
        parent_dir = os.path.join(uid_dirs[0], "00000000")
        self.assertTrue(os.path.isdir(parent_dir))
        ids = [s["ShardId"] for s in self.c.describe_stream(StreamName=name)["StreamDescription"]["Shards"]]
        self.assertIn("shardId-000000000000", ids)
        self.server.advance_clock(25 * 3600 * 1000)  # retention is 24 h
        ids = [s["ShardId"] for s in self.c.describe_stream(StreamName=name)["StreamDescription"]["Shards"]]
        self.assertEqual(ids, ["shardId-000000000001", "shardId-000000000002"])
        self.assertEqual([s["ShardId"] for s in harness.list_all_shards(self.c, name)], ids)
        self.assertAwsError("ResourceNotFoundException", self.c.get_shard_iterator, StreamName=name,
                            ShardId="shardId-000000000000", ShardIteratorType="TRIM_HORIZON")
        deadline = time.time() + 10
        while os.path.isdir(parent_dir) and time.time() < deadline:
            time.sleep(0.2)
        self.assertFalse(os.path.isdir(parent_dir), "the expired shard's files were not deleted")
        # The children carry on.
        out = self.c.put_record(StreamName=name, Data=b"new", PartitionKey="k")
        self.assertIn(out["ShardId"], ids)


if __name__ == "__main__":
    import unittest
    unittest.main()
