"""Every SNS operation fed mutated query-protocol forms: members missing,
of odd values, unknown, oversized, maps and lists with odd indexes and
shapes, broken escapes, random bytes. The server must answer each with 200
or a 4xx <ErrorResponse> (never a 5xx, never a dropped connection), and stay
healthy."""

import http.client
import json
import os
import random
import urllib.parse

import harness
from harness import unique_name

# Each operation's members in query form: a map is {key: value} (written as
# Name.entry.N.key/value), a list is [items] (Name.member.N; dict items are
# structures), message attributes are {name: {DataType, StringValue}}.
OPS = {
    "CreateTopic": {"Name": "N", "Attributes": {"DisplayName": "d"}, "Tags": [{"Key": "a",
                                                                               "Value": "b"}]},
    "DeleteTopic": {"TopicArn": "DARN"},
    "ListTopics": {"NextToken": ""},
    "GetTopicAttributes": {"TopicArn": "ARN"},
    "SetTopicAttributes": {"TopicArn": "ARN", "AttributeName": "DisplayName",
                           "AttributeValue": "x"},
    "Subscribe": {"TopicArn": "ARN", "Protocol": "sqs", "Endpoint": "QARN",
                  "Attributes": {"RawMessageDelivery": "true"}, "ReturnSubscriptionArn": "true"},
    "ConfirmSubscription": {"TopicArn": "ARN", "Token": "t"},
    "Unsubscribe": {"SubscriptionArn": "SARN"},
    "ListSubscriptions": {"NextToken": ""},
    "ListSubscriptionsByTopic": {"TopicArn": "ARN"},
    "GetSubscriptionAttributes": {"SubscriptionArn": "SARN"},
    "SetSubscriptionAttributes": {"SubscriptionArn": "SARN", "AttributeName": "RawMessageDelivery",
                                  "AttributeValue": "false"},
    "TagResource": {"ResourceArn": "ARN", "Tags": [{"Key": "k", "Value": "v"}]},
    "UntagResource": {"ResourceArn": "ARN", "TagKeys": ["k"]},
    "ListTagsForResource": {"ResourceArn": "ARN"},
    "AddPermission": {"TopicArn": "ARN", "Label": "l", "AWSAccountId": ["111122223333"],
                      "ActionName": ["Publish"]},
    "RemovePermission": {"TopicArn": "ARN", "Label": "l"},
    "Publish": {"TopicArn": "ARN", "Message": "m", "Subject": "s",
                "MessageAttributes": {"a": {"DataType": "String", "StringValue": "v"}}},
    "PublishBatch": {"TopicArn": "ARN", "PublishBatchRequestEntries": [
        {"Id": "a", "Message": "m"},
        {"Id": "b", "Message": "n", "MessageAttributes": {"x": {"DataType": "Number",
                                                                 "StringValue": "1"}}}]},
}

ODD_VALUES = ["", "x" * 5000, "\u00e9\u0000", "-5", "0", "true", "json", "{}", "[1, {}]",
              '{"a": [{"numeric": [">", 1]}], "$or": [{"b": ["x"]}, {"c": {"d": [null]}}]}',
              "MessageBody",
              "arn:aws:sns:us-east-1:000000000000:", "arn:aws:sns:us-east-1:000000000000:a:b",
              "arn:aws:sqs:us-east-1:000000000000:q.fifo", "http://x", "+15555550100",
              "a@b", "String.Array", "Binary", "ffffffffffffffff/" + "0" * 36]
ATTR_NAMES = ["DisplayName", "Policy", "DeliveryPolicy", "FifoTopic", "RawMessageDelivery",
              "FilterPolicy", "FilterPolicyScope", "ContentBasedDeduplication", "Bogus", "TopicArn", "SignatureVersion"]


def mutate(rnd, body):
    body = json.loads(json.dumps(body))
    kind = rnd.randrange(5)
    keys = list(body)
    if kind == 0 and keys:
        body[rnd.choice(keys)] = rnd.choice(ODD_VALUES)
    elif kind == 1 and keys:
        del body[rnd.choice(keys)]
    elif kind == 2:
        body[rnd.choice(["Extra", "MessageStructure", "MessageGroupId", "MessageDeduplicationId",
                         "TargetArn", "PhoneNumber"])] = rnd.choice(ODD_VALUES)
    elif kind == 3:
        for k in keys:
            if isinstance(body[k], dict):
                body[k] = {rnd.choice(ATTR_NAMES): rnd.choice(ODD_VALUES)
                           for _ in range(rnd.choice([1, 3, 60]))}
            elif isinstance(body[k], list):
                body[k] = body[k] * rnd.choice([0, 2, 11, 60])
    return body


def to_form(rnd, op, body):
    pairs = [("Action", op), ("Version", "2010-03-31")]
    for k, v in body.items():
        if isinstance(v, dict):
            for i, (mk, mv) in enumerate(v.items(), 1):
                if isinstance(mv, dict):  # message attributes
                    pairs.append(("%s.entry.%d.Name" % (k, i), mk))
                    pairs += [("%s.entry.%d.Value.%s" % (k, i, sk), str(sv)) for sk, sv in mv.items()]
                else:
                    pairs += [("%s.entry.%d.key" % (k, i), mk), ("%s.entry.%d.value" % (k, i), mv)]
        elif isinstance(v, list):
            for i, item in enumerate(v, 1):
                if isinstance(item, dict):
                    for ik, iv in item.items():
                        if isinstance(iv, dict):
                            for j, (an, av) in enumerate(iv.items(), 1):
                                pairs.append(("%s.member.%d.%s.entry.%d.Name" % (k, i, ik, j), an))
                                pairs += [("%s.member.%d.%s.entry.%d.Value.%s" % (k, i, ik, j, sk),
                                           str(sv)) for sk, sv in av.items()]
                        else:
                            pairs.append(("%s.member.%d.%s" % (k, i, ik), str(iv)))
                else:
                    pairs.append(("%s.member.%d" % (k, i), str(item)))
        else:
            pairs.append((k, str(v)))
    text = urllib.parse.urlencode(pairs)
    r = rnd.random()
    if r < 0.05:
        text += "&Attributes.entry.0.key=x&Attributes.entry.1001.value=y"
    elif r < 0.1:
        text += "&Tags.member.1.Key=a&Tags.member.1=b"
    elif r < 0.15:
        text += "&%zz=1"
    elif r < 0.2:
        text += "&MessageAttributes.entry.1.Value.DataType=String"
    return text.encode()


class SnsMutationTest(harness.KinesisTestCase):
    @classmethod
    def setUpClass(cls):
        cls.server = harness.server_for_class(cls)
        cls.sns = cls.server.client("sns")
        cls.sqs = cls.server.client("sqs")
        cls.arn = cls.sns.create_topic(Name=unique_name("mut"))["TopicArn"]
        url = cls.sqs.create_queue(QueueName=unique_name("mut"))["QueueUrl"]
        cls.qarn = cls.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])[
            "Attributes"]["QueueArn"]
        cls.sub = cls.sns.subscribe(TopicArn=cls.arn, Protocol="sqs", Endpoint=cls.qarn)[
            "SubscriptionArn"]

    def fill(self, body):
        text = json.dumps(body)
        if '"DARN"' in text:
            darn = self.sns.create_topic(Name=unique_name("del"))["TopicArn"]
            text = text.replace('"DARN"', json.dumps(darn))
        if '"SARN"' in text and self.sub is None:
            self.sub = self.sns.subscribe(TopicArn=self.arn, Protocol="sqs", Endpoint=self.qarn)[
                "SubscriptionArn"]
        text = text.replace('"ARN"', json.dumps(self.arn)).replace(
            '"QARN"', json.dumps(self.qarn)).replace('"SARN"', json.dumps(self.sub or "")).replace(
            '"N"', json.dumps(unique_name("mut")))
        return json.loads(text)

    def test_handlers_answer_every_mutation(self):
        rnd = random.Random(int(os.environ.get("SLUICE_MUTATION_SEED", "2026")))
        conn = http.client.HTTPConnection(self.server.host, self.server.port, timeout=20)
        auth = ("AWS4-HMAC-SHA256 Credential=AKID/20260101/us-east-1/sns/aws4_request, "
                "SignedHeaders=host, Signature=0")
        statuses = {}
        for _ in range(int(os.environ.get("SLUICE_MUTATIONS", "1500"))):
            op = rnd.choice(sorted(OPS))
            body = self.fill(mutate(rnd, OPS[op]))
            if rnd.random() < 0.05:
                payload = bytes(rnd.getrandbits(8) for _ in range(rnd.randrange(40)))
            else:
                payload = to_form(rnd, op, body)
            conn.request("POST", "/", body=payload, headers={
                "Authorization": auth, "Content-Type": "application/x-www-form-urlencoded"})
            r = conn.getresponse()
            reply = r.read()
            statuses[r.status] = statuses.get(r.status, 0) + 1
            self.assertLess(r.status, 500, "%s %r -> %d %r" % (op, payload[:300], r.status,
                                                               reply[:300]))
            if r.status >= 400 and payload.startswith(b"Action="):
                self.assertIn(b"<ErrorResponse", reply, reply[:300])
            # The topic and its subscription may have been deleted by a
            # mutated request: make them again.
            if op in ("Unsubscribe", "DeleteTopic", "SetSubscriptionAttributes"):
                self.sub = None
                self.arn = self.sns.create_topic(Name=self.arn.rsplit(":", 1)[1])["TopicArn"]
        conn.close()
        print("  statuses: %s" % dict(sorted(statuses.items())), flush=True)
        self.assertGreater(statuses.get(400, 0), 100)
        self.assertGreater(statuses.get(200, 0), 100)
        health = json.loads(self.server.raw_request("GET", "/health")[1])
        self.assertEqual(health["status"], "ok")


if __name__ == "__main__":
    import unittest
    unittest.main()
