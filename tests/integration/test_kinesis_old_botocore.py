"""The older client generation: Debian 12's python3-boto3 (boto3 1.26,
botocore 1.29) run by /usr/bin/python3, against a live sluice. Its Kinesis
model predates StreamARN parameters and CreateStream tags, so this drives
the lifecycle with what that generation sends."""

import os
import textwrap
import unittest

import harness

CLIENT_SCRIPT = textwrap.dedent(r'''
    import sys, boto3, botocore
    from botocore.config import Config
    from botocore.exceptions import ClientError
    assert botocore.__version__.startswith("1.29"), botocore.__version__
    k = boto3.client("kinesis", endpoint_url=sys.argv[1], region_name="us-east-1",
                     aws_access_key_id="AKID", aws_secret_access_key="secret",
                     config=Config(retries={"total_max_attempts": 1}))
    name = sys.argv[2]
    k.create_stream(StreamName=name, ShardCount=2)
    k.get_waiter("stream_exists").wait(StreamName=name, WaiterConfig={"Delay": 1})
    d = k.describe_stream(StreamName=name)["StreamDescription"]
    assert d["StreamStatus"] == "ACTIVE" and len(d["Shards"]) == 2, d
    recs = [{"Data": bytes([i]) * (i + 1), "PartitionKey": "k%d" % i} for i in range(200)]
    out = k.put_records(StreamName=name, Records=recs)
    assert out["FailedRecordCount"] == 0, out
    one = k.put_record(StreamName=name, Data=b"\x00\xffbinary", PartitionKey="p")
    got = {}
    for s in k.list_shards(StreamName=name)["Shards"]:
        it = k.get_shard_iterator(StreamName=name, ShardId=s["ShardId"],
                                  ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
        while it:
            r = k.get_records(ShardIterator=it, Limit=1000)
            for x in r["Records"]:
                got[x["SequenceNumber"]] = (x["PartitionKey"], x["Data"])
            if not r["Records"]:
                break
            it = r["NextShardIterator"]
    sent = {r["SequenceNumber"]: (e["PartitionKey"], e["Data"]) for e, r in zip(recs, out["Records"])}
    sent[one["SequenceNumber"]] = ("p", b"\x00\xffbinary")
    assert got == sent, (len(got), len(sent))
    k.split_shard(StreamName=name, ShardToSplit="shardId-000000000000",
                  NewStartingHashKey=str(2 ** 126))
    shards = k.list_shards(StreamName=name)["Shards"]
    assert len(shards) == 4 and shards[2]["ParentShardId"] == "shardId-000000000000", shards
    k.add_tags_to_stream(StreamName=name, Tags={"team": "data"})
    assert k.list_tags_for_stream(StreamName=name)["Tags"] == [{"Key": "team", "Value": "data"}]
    k.delete_stream(StreamName=name)
    try:
        k.describe_stream_summary(StreamName=name)
        raise AssertionError("stream still exists")
    except ClientError as e:
        assert e.response["Error"]["Code"] == "ResourceNotFoundException", e.response
    print("old-botocore-ok")
''')



@unittest.skipUnless(harness.debian_boto3(), "Debian's python3-boto3 is not installed")
class OldBotocoreTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.server = harness.server_for_class(cls)

    def test_lifecycle_with_botocore_1_29(self):
        harness.check_debian_script(self, CLIENT_SCRIPT, "old-botocore-ok", self.server.endpoint, "old")


if __name__ == "__main__":
    unittest.main()
