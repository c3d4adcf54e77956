"""Every Kinesis operation fed mutated requests: members of the wrong type,
missing, out of range, unknown, deeply nested, or random bytes, in JSON and
CBOR. The server must answer each with 200 or a 4xx AWS error (never a 5xx,
never a dropped connection) and stay healthy. The parsers have their own
fuzz harnesses; this exercises the handlers behind them."""

import http.client
import json
import os
import random

import harness
from harness import unique_name
from test_kinesis_cbor import cbor_encode  # the test suite's own CBOR encoder

OPS = {
    "CreateStream": {"StreamName": "S", "ShardCount": 2},
    "DescribeStream": {"StreamName": "S", "Limit": 5},
    "DescribeStreamSummary": {"StreamName": "S"},
    "ListStreams": {"Limit": 3},
    "ListShards": {"StreamName": "S", "MaxResults": 2, "ShardFilter": {"Type": "AT_LATEST"}},
    "PutRecord": {"StreamName": "S", "Data": "aGk=", "PartitionKey": "k"},
    "PutRecords": {"StreamName": "S", "Records": [{"Data": "aGk=", "PartitionKey": "k"}]},
    "GetShardIterator": {"StreamName": "S", "ShardId": "shardId-000000000000",
                         "ShardIteratorType": "TRIM_HORIZON"},
    "GetRecords": {"ShardIterator": "ITER", "Limit": 10},
    "SplitShard": {"StreamName": "S", "ShardToSplit": "shardId-000000000000",
                   "NewStartingHashKey": "100"},
    "MergeShards": {"StreamName": "S", "ShardToMerge": "shardId-000000000000",
                    "AdjacentShardToMerge": "shardId-000000000001"},
    "UpdateShardCount": {"StreamName": "S", "TargetShardCount": 3, "ScalingType": "UNIFORM_SCALING"},
    "IncreaseStreamRetentionPeriod": {"StreamName": "S", "RetentionPeriodHours": 48},
    "DecreaseStreamRetentionPeriod": {"StreamName": "S", "RetentionPeriodHours": 24},
    "AddTagsToStream": {"StreamName": "S", "Tags": {"a": "b"}},
    "RemoveTagsFromStream": {"StreamName": "S", "TagKeys": ["a"]},
    "ListTagsForStream": {"StreamName": "S", "Limit": 5},
    "DescribeLimits": {},
    "StartStreamEncryption": {"StreamName": "S", "EncryptionType": "KMS", "KeyId": "k"},
    "StopStreamEncryption": {"StreamName": "S", "EncryptionType": "KMS", "KeyId": "k"},
    "EnableEnhancedMonitoring": {"StreamName": "S", "ShardLevelMetrics": ["ALL"]},
    "DisableEnhancedMonitoring": {"StreamName": "S", "ShardLevelMetrics": ["IncomingBytes"]},
    "UpdateStreamMode": {"StreamARN": "ARN", "StreamModeDetails": {"StreamMode": "ON_DEMAND"}},
    "DeleteStream": {"StreamName": "S"},
}

ODD_VALUES = [None, True, False, 0, -1, 2 ** 31, 2 ** 63 - 1, -2 ** 63, 1.5, 1e308, "", "x" * 5000,
              "\u00e9\u0000\ud7ff", [], [1, "a", None], {}, {"a": {"b": [1]}}, "shardId-999999999999",
              "-5", "340282366920938463463374607431768211456", "AT_TIMESTAMP"]


def mutate(rnd, body):
    body = json.loads(json.dumps(body))
    kind = rnd.randrange(6)
    keys = list(body)
    if kind == 0 and keys:
        body[rnd.choice(keys)] = rnd.choice(ODD_VALUES)
    elif kind == 1 and keys:
        del body[rnd.choice(keys)]
    elif kind == 2:
        body[rnd.choice(["Extra", "streamName", "Limit", "NextToken", "StreamARN"])] = rnd.choice(ODD_VALUES)
    elif kind == 3:
        deep = 1
        for _ in range(rnd.choice([10, 70, 200])):
            deep = [deep]
        body[rnd.choice(keys or ["X"])] = deep
    elif kind == 4:
        for k in keys:
            if isinstance(body[k], list) and body[k]:
                body[k] = body[k] * rnd.choice([0, 2, 501])
            elif isinstance(body[k], dict):
                body[k] = {rnd.choice(["Type", "StreamMode", "Data"]): rnd.choice(ODD_VALUES)}
    return body


class MutationTest(harness.KinesisTestCase):
    @classmethod
    def setUpClass(cls):
        cls.server = harness.server_for_class(cls)
        cls.c = cls.server.client()
        cls.stream = unique_name("mut")
        harness.create_stream(cls.c, cls.stream, shards=2)
        cls.arn = cls.c.describe_stream_summary(StreamName=cls.stream)["StreamDescriptionSummary"]["StreamARN"]
        cls.iterator = cls.c.get_shard_iterator(StreamName=cls.stream, ShardId="shardId-000000000000",
                                                ShardIteratorType="TRIM_HORIZON")["ShardIterator"]

    def fill(self, body):
        text = json.dumps(body).replace('"S"', json.dumps(self.stream)).replace(
            '"ARN"', json.dumps(self.arn)).replace('"ITER"', json.dumps(self.iterator))
        return json.loads(text)

    def send(self, conn, op, payload, ctype):
        conn.request("POST", "/", body=payload, headers={
            "X-Amz-Target": "Kinesis_20131202." + op, "Content-Type": ctype,
            "Authorization": "AWS4-HMAC-SHA256 Credential=AKID/20260101/us-east-1/kinesis/aws4_request, "
                             "SignedHeaders=host, Signature=0"})
        r = conn.getresponse()
        return r.status, r.read()

    def test_handlers_answer_every_mutation(self):
        rnd = random.Random(int(os.environ.get("SLUICE_MUTATION_SEED", "2026")))
        conn = http.client.HTTPConnection(self.server.host, self.server.port, timeout=20)
        statuses = {}
        for i in range(int(os.environ.get("SLUICE_MUTATIONS", "1500"))):
            op = rnd.choice(sorted(OPS))
            body = self.fill(mutate(rnd, OPS[op]))
            if rnd.random() < 0.05:
                payload, ctype = bytes(rnd.getrandbits(8) for _ in range(rnd.randrange(40))), \
                    rnd.choice(["application/x-amz-json-1.1", "application/x-amz-cbor-1.1"])
            elif rnd.random() < 0.3:
                try:
                    payload, ctype = cbor_encode(body), "application/x-amz-cbor-1.1"
                except (TypeError, ValueError, OverflowError):
                    continue
            else:
                payload, ctype = json.dumps(body).encode(), "application/x-amz-json-1.1"
            status, reply = self.send(conn, op, payload, ctype)
            statuses[status] = statuses.get(status, 0) + 1
            self.assertLess(status, 500, "%s %r -> %d %r" % (op, payload[:300], status, reply[:300]))
            if status >= 400 and ctype.endswith("json-1.1"):
                self.assertIn("__type", json.loads(reply), reply[:300])
        conn.close()
        print("  statuses: %s" % dict(sorted(statuses.items())), flush=True)
        self.assertGreater(statuses.get(400, 0), 100)
        self.assertGreater(statuses.get(200, 0), 50)
        health = json.loads(self.server.raw_request("GET", "/health")[1])
        self.assertEqual(health["status"], "ok")


if __name__ == "__main__":
    import unittest
    unittest.main()
