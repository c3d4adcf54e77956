"""Every SQS queue operation fed mutated requests, in JSON 1.0 and in the
query protocol: members of the wrong type, missing, out of range, unknown,
deeply nested, oversized, form keys with odd indexes and escapes, random
bytes. The server must answer each with 200 or a 4xx in the protocol's
error form (never a 5xx, never a dropped connection), and stay healthy."""

import http.client
import json
import os
import random
import urllib.parse

from botocore.exceptions import ClientError

import harness
from harness import unique_name

OPS = {
    "CreateQueue": {"QueueName": "N", "Attributes": {"DelaySeconds": "1"}, "tags": {"a": "b"}},
    "GetQueueUrl": {"QueueName": "Q"},
    "ListQueues": {"QueueNamePrefix": "m", "MaxResults": 2},
    "GetQueueAttributes": {"QueueUrl": "URL", "AttributeNames": ["All"]},
    "SetQueueAttributes": {"QueueUrl": "URL", "Attributes": {"VisibilityTimeout": "40"}},
    "TagQueue": {"QueueUrl": "URL", "Tags": {"k": "v"}},
    "UntagQueue": {"QueueUrl": "URL", "TagKeys": ["k"]},
    "ListQueueTags": {"QueueUrl": "URL"},
    "DeleteQueue": {"QueueUrl": "DURL"},
    "PurgeQueue": {"QueueUrl": "URL"},  # a queue of its own: the others keep theirs
    "SendMessage": {"QueueUrl": "URL", "MessageBody": "b", "DelaySeconds": 0,
                    "MessageAttributes": {"a": {"DataType": "String", "StringValue": "v"}}},
    "ReceiveMessage": {"QueueUrl": "URL", "MaxNumberOfMessages": 3, "WaitTimeSeconds": 0,
                       "MessageAttributeNames": ["All"], "AttributeNames": ["All"]},
    "DeleteMessage": {"QueueUrl": "URL", "ReceiptHandle": "RH"},
    "ChangeMessageVisibility": {"QueueUrl": "URL", "ReceiptHandle": "RH", "VisibilityTimeout": 0},
    "SendMessageBatch": {"QueueUrl": "URL", "Entries": [
        {"Id": "a", "MessageBody": "b"},
        {"Id": "b", "MessageBody": "c", "MessageAttributes": {"x": {"DataType": "Number",
                                                                     "StringValue": "1"}}}]},
    "DeleteMessageBatch": {"QueueUrl": "URL", "Entries": [{"Id": "a", "ReceiptHandle": "RH"}]},
    "ChangeMessageVisibilityBatch": {"QueueUrl": "URL", "Entries": [
        {"Id": "a", "ReceiptHandle": "RH", "VisibilityTimeout": 1}]},
}

ODD_VALUES = [None, True, False, 0, -1, 2 ** 31, 2 ** 63 - 1, 1.5, "", "x" * 5000,
              "\u00e9\u0000", [], [1, "a", None], {}, {"a": {"b": [1]}}, "-5",
              "http://h/000000000000/", "http://h/000000000000/" + "q" * 100,
              '{"deadLetterTargetArn": 5}', "All", "FifoQueue", "true"]
ATTR_NAMES = ["DelaySeconds", "Policy", "RedrivePolicy", "RedriveAllowPolicy", "FifoQueue",
              "ContentBasedDeduplication", "QueueArn", "Bogus", "KmsMasterKeyId",
              "MaximumMessageSize", "DeduplicationScope", "FifoThroughputLimit"]
# Query names of the JSON members (flattened maps and lists).
QUERY_MAPS = {"Attributes": ("Attribute", "Name"), "tags": ("Tag", "Key"), "Tags": ("Tag", "Key"),
              "MessageAttributes": ("MessageAttribute", "Name")}
QUERY_LISTS = {"AttributeNames": "AttributeName", "TagKeys": "TagKey",
               "MessageAttributeNames": "MessageAttributeName"}


def mutate(rnd, body):
    body = json.loads(json.dumps(body))
    kind = rnd.randrange(6)
    keys = list(body)
    if kind == 0 and keys:
        body[rnd.choice(keys)] = rnd.choice(ODD_VALUES)
    elif kind == 1 and keys:
        del body[rnd.choice(keys)]
    elif kind == 2:
        body[rnd.choice(["Extra", "queueName", "MaxResults", "NextToken"])] = rnd.choice(ODD_VALUES)
    elif kind == 3:
        deep = 1
        for _ in range(rnd.choice([10, 70, 200])):
            deep = [deep]
        body[rnd.choice(keys or ["X"])] = deep
    elif kind == 4:
        for k in keys:
            if isinstance(body[k], dict):
                body[k] = {rnd.choice(ATTR_NAMES): rnd.choice(ODD_VALUES)
                           for _ in range(rnd.choice([1, 3, 60]))}
            elif isinstance(body[k], list):
                body[k] = body[k] * rnd.choice([0, 2, 60])
    return body


def to_form(rnd, op, body):
    """The query form of a JSON body, sometimes with broken keys."""
    pairs = [("Action", op), ("Version", "2012-11-05")]
    for k, v in body.items():
        if k in QUERY_MAPS and isinstance(v, dict):
            name, key = QUERY_MAPS[k]
            for i, (mk, mv) in enumerate(v.items(), 1):
                pairs.append(("%s.%d.%s" % (name, i, key), str(mk)))
                if isinstance(mv, dict):  # a message attribute's value is a structure
                    pairs += [("%s.%d.Value.%s" % (name, i, sk), str(sv)) for sk, sv in mv.items()]
                else:
                    pairs.append(("%s.%d.Value" % (name, i), str(mv)))
        elif k == "Entries" and isinstance(v, list):
            prefix = {"SendMessageBatch": "SendMessageBatchRequestEntry",
                      "DeleteMessageBatch": "DeleteMessageBatchRequestEntry",
                      "ChangeMessageVisibilityBatch": "ChangeMessageVisibilityBatchRequestEntry"}[op]
            for i, ent in enumerate(v, 1):
                if not isinstance(ent, dict):
                    pairs.append(("%s.%d" % (prefix, i), str(ent)))
                    continue
                for ek, ev in ent.items():
                    if ek == "MessageAttributes" and isinstance(ev, dict):
                        for j, (an, av) in enumerate(ev.items(), 1):
                            pairs.append(("%s.%d.MessageAttribute.%d.Name" % (prefix, i, j), an))
                            for sk, sv in (av.items() if isinstance(av, dict) else []):
                                pairs.append(("%s.%d.MessageAttribute.%d.Value.%s"
                                              % (prefix, i, j, sk), str(sv)))
                    else:
                        pairs.append(("%s.%d.%s" % (prefix, i, ek), str(ev)))
        elif k in QUERY_LISTS and isinstance(v, list):
            pairs += [("%s.%d" % (QUERY_LISTS[k], i), str(x)) for i, x in enumerate(v, 1)]
        else:
            pairs.append((k, json.dumps(v) if isinstance(v, (list, dict)) else str(v)))
    text = urllib.parse.urlencode(pairs)
    r = rnd.random()
    if r < 0.05:
        text += "&Attribute.0.Name=x&Attribute.1001.Value=y"
    elif r < 0.1:
        text += "&Attribute.1.Name=a&Attribute.1=b"
    elif r < 0.15:
        text += "&%zz=1"
    return text.encode()


class SqsMutationTest(harness.KinesisTestCase):
    @classmethod
    def setUpClass(cls):
        cls.server = harness.server_for_class(cls)
        cls.c = cls.server.client("sqs")
        cls.name = unique_name("mut")
        cls.url = cls.c.create_queue(QueueName=cls.name)["QueueUrl"]
        cls.handle = "not-a-handle"

    def fill(self, body):
        if "RH" in json.dumps(body):
            # A live handle of the queue, now and then.
            try:
                self.c.send_message(QueueUrl=self.url, MessageBody="x")
                got = self.c.receive_message(QueueUrl=self.url).get("Messages", [])
                self.handle = got[0]["ReceiptHandle"] if got else self.handle
            except ClientError:
                pass  # a mutated DeleteQueue removed the queue: keep the old handle
        if "DURL" in json.dumps(body):
            durl = self.c.create_queue(QueueName=unique_name("del"))["QueueUrl"]
            body = json.loads(json.dumps(body).replace('"DURL"', json.dumps(durl)))
        text = json.dumps(body).replace('"RH"', json.dumps(self.handle)).replace(
            '"URL"', json.dumps(self.url)).replace(
            '"Q"', json.dumps(self.name)).replace('"N"', json.dumps(unique_name("mut")))
        return json.loads(text)

    def test_handlers_answer_every_mutation(self):
        rnd = random.Random(int(os.environ.get("SLUICE_MUTATION_SEED", "2026")))
        conn = http.client.HTTPConnection(self.server.host, self.server.port, timeout=20)
        auth = ("AWS4-HMAC-SHA256 Credential=AKID/20260101/us-east-1/sqs/aws4_request, "
                "SignedHeaders=host, Signature=0")
        statuses = {}
        for i in range(int(os.environ.get("SLUICE_MUTATIONS", "1500"))):
            op = rnd.choice(sorted(OPS))
            body = self.fill(mutate(rnd, OPS[op]))
            query = rnd.random() < 0.4
            if rnd.random() < 0.05:
                payload = bytes(rnd.getrandbits(8) for _ in range(rnd.randrange(40)))
            elif query:
                payload = to_form(rnd, op, body)
            else:
                payload = json.dumps(body).encode()
            headers = {"Authorization": auth}
            if query:
                headers["Content-Type"] = "application/x-www-form-urlencoded"
            else:
                headers["Content-Type"] = "application/x-amz-json-1.0"
                headers["X-Amz-Target"] = "AmazonSQS." + op
            conn.request("POST", "/", body=payload, headers=headers)
            r = conn.getresponse()
            reply = r.read()
            statuses[r.status] = statuses.get(r.status, 0) + 1
            self.assertLess(r.status, 500, "%s %r -> %d %r" % (op, payload[:300], r.status,
                                                               reply[:300]))
            if r.status >= 400 and not query and reply:
                self.assertIn("__type", json.loads(reply), reply[:300])
            if r.status >= 400 and query and b"Action=" in payload[:20]:
                self.assertIn(b"<ErrorResponse", reply, reply[:300])
        conn.close()
        print("  statuses: %s" % dict(sorted(statuses.items())), flush=True)
        self.assertGreater(statuses.get(400, 0), 100)
        self.assertGreater(statuses.get(200, 0), 50)
        health = json.loads(self.server.raw_request("GET", "/health")[1])
        self.assertEqual(health["status"], "ok")


if __name__ == "__main__":
    import unittest
    unittest.main()
