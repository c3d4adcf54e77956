"""SNS against a live sluice, through the image's boto3 (query protocol,
as every botocore generation speaks SNS), Debian's botocore 1.29 and the
AWS CLI: topics (idempotent create, naming, attributes, paging, delete),
subscriptions (confirmation by protocol, idempotence, paging, attributes,
unsubscribe through the envelope's UnsubscribeURL), tags, and publishing
fanned out to several SQS queues: the envelope, raw delivery with
attributes, per-protocol messages, FIFO topics to FIFO queues in group
order with deduplication, PublishBatch partial failures, AWS's errors with
nothing delivered, restart, and kill -9 during publish load with every
acknowledged publish in every queue."""

import json
import os
import shutil
import subprocess
import tempfile
import textwrap
import threading
import time
import unittest
import urllib.request

import harness
from harness import unique_name

ACCOUNT = harness.ACCOUNT_ID
REGION = harness.REGION


def topic_arn(name):
    return "arn:aws:sns:%s:%s:%s" % (REGION, ACCOUNT, name)


class SnsCase(harness.KinesisTestCase):
    """Helpers shared by the SNS tests: queues to subscribe, and draining
    them."""

    def queue(self, name=None, fifo=False, **attrs):
        name = name or unique_name("q") + (".fifo" if fifo else "")
        a = {k: str(v) for k, v in attrs.items()}
        if fifo:
            a["FifoQueue"] = "true"
        url = self.sqs.create_queue(QueueName=name, Attributes=a)["QueueUrl"]
        arn = self.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])[
            "Attributes"]["QueueArn"]
        return url, arn

    def drain(self, url, expect, timeout=10, attrs=False):
        """Receive and delete until `expect` messages came (or the timeout);
        returns them in the order received."""
        got = []
        deadline = time.monotonic() + timeout
        while len(got) < expect and time.monotonic() < deadline:
            kw = {"MessageAttributeNames": ["All"]} if attrs else {}
            ms = self.sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1,
                                          AttributeNames=["All"], **kw).get("Messages", [])
            if ms:
                out = self.sqs.delete_message_batch(QueueUrl=url, Entries=[
                    {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(ms)])
                self.assertEqual(out.get("Failed", []), [])
            got += ms
        return got

    def drain_covering(self, url, want, timeout=60):
        """Receive and delete until every body in `want` came (or the
        timeout); the queue may hold more (publishes stored but not
        acknowledged before a crash). Returns the bodies received."""
        got = set()
        deadline = time.monotonic() + timeout
        while not want <= got and time.monotonic() < deadline:
            got |= {m["Body"] for m in self.drain(url, 10, timeout=2)}
        return got

    def assertEmpty(self, url):
        out = self.sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0)
        self.assertEqual(out.get("Messages", []), [], "nothing more was delivered")


class SnsTopicTest(SnsCase):
    @classmethod
    def setUpClass(cls):
        cls.server = harness.server_for_class(cls, needs_local=True)
        cls.sns = cls.server.client("sns")
        cls.sqs = cls.server.client("sqs")

    def test_create_is_idempotent_and_names_follow_aws_rules(self):
        name = unique_name("t")
        arn = self.sns.create_topic(Name=name, Attributes={"DisplayName": "D"})["TopicArn"]
        self.assertEqual(arn, topic_arn(name))
        self.assertEqual(self.sns.create_topic(Name=name, Attributes={"DisplayName": "D"})[
            "TopicArn"], arn)
        self.assertEqual(self.sns.create_topic(Name=name)["TopicArn"], arn,
                         "no attributes is no conflict")
        e = self.assertAwsError("InvalidParameter", self.sns.create_topic, Name=name,
                                Attributes={"DisplayName": "other"})
        self.assertIn("different attributes", e.response["Error"]["Message"])
        for bad in ["", "a" * 257, "has space", "dot.ted", "x.fifo.fifo"]:
            self.assertAwsError("InvalidParameter", self.sns.create_topic, Name=bad)
        self.assertAwsError("InvalidParameter", self.sns.create_topic, Name=unique_name("f") + ".fifo")
        self.assertAwsError("InvalidParameter", self.sns.create_topic, Name=unique_name("f"),
                            Attributes={"FifoTopic": "true"})
        self.assertEqual(self.sns.create_topic(Name="a" * 256)["TopicArn"], topic_arn("a" * 256))
        # FIFO-only attributes are unknown on a standard topic; unknown
        # names and bad values are InvalidParameter.
        self.assertAwsError("InvalidParameter", self.sns.create_topic, Name=unique_name("s"),
                            Attributes={"ContentBasedDeduplication": "true"})
        self.assertAwsError("InvalidParameter", self.sns.create_topic, Name=unique_name("s"),
                            Attributes={"NoSuch": "x"})
        self.assertAwsError("InvalidParameter", self.sns.create_topic, Name=unique_name("s"),
                            Attributes={"Policy": "not json"})
        self.assertAwsError("InvalidParameter", self.sns.create_topic, Name=unique_name("s"),
                            Attributes={"SignatureVersion": "3"})

    def test_attributes_have_aws_defaults_and_can_be_set(self):
        name = unique_name("a")
        arn = self.sns.create_topic(Name=name)["TopicArn"]
        a = self.sns.get_topic_attributes(TopicArn=arn)["Attributes"]
        self.assertEqual(a["TopicArn"], arn)
        self.assertEqual(a["Owner"], ACCOUNT)
        self.assertEqual(a["DisplayName"], "")
        self.assertEqual((a["SubscriptionsConfirmed"], a["SubscriptionsPending"],
                          a["SubscriptionsDeleted"]), ("0", "0", "0"))
        policy = json.loads(a["Policy"])
        self.assertEqual(policy["Statement"][0]["Resource"], arn)
        self.assertEqual(json.loads(a["EffectiveDeliveryPolicy"])["http"][
            "defaultHealthyRetryPolicy"]["numRetries"], 3)
        self.assertNotIn("FifoTopic", a)
        self.sns.set_topic_attributes(TopicArn=arn, AttributeName="DisplayName",
                                      AttributeValue="Orders")
        self.sns.set_topic_attributes(TopicArn=arn, AttributeName="TracingConfig",
                                      AttributeValue="Active")
        dp = json.dumps({"http": {"defaultHealthyRetryPolicy": {"numRetries": 5}}})
        self.sns.set_topic_attributes(TopicArn=arn, AttributeName="DeliveryPolicy",
                                      AttributeValue=dp)
        a = self.sns.get_topic_attributes(TopicArn=arn)["Attributes"]
        self.assertEqual((a["DisplayName"], a["TracingConfig"], a["DeliveryPolicy"],
                          a["EffectiveDeliveryPolicy"]), ("Orders", "Active", dp, dp))
        self.assertAwsError("InvalidParameter", self.sns.set_topic_attributes, TopicArn=arn,
                            AttributeName="FifoTopic", AttributeValue="true")
        self.assertAwsError("InvalidParameter", self.sns.set_topic_attributes, TopicArn=arn,
                            AttributeName="TracingConfig", AttributeValue="Sometimes")
        self.assertAwsError("NotFound", self.sns.get_topic_attributes,
                            TopicArn=topic_arn(unique_name("none")), status=404)
        self.assertAwsError("InvalidParameter", self.sns.get_topic_attributes,
                            TopicArn="arn:aws:sqs:%s:%s:x" % (REGION, ACCOUNT))
        fifo = self.sns.create_topic(Name=unique_name("f") + ".fifo", Attributes={
            "FifoTopic": "true", "ContentBasedDeduplication": "true"})["TopicArn"]
        a = self.sns.get_topic_attributes(TopicArn=fifo)["Attributes"]
        self.assertEqual((a["FifoTopic"], a["ContentBasedDeduplication"]), ("true", "true"))

    def test_list_topics_in_pages_of_100_and_delete(self):
        srv = harness.Server(name="SnsListTest")
        srv.start()
        try:
            c = srv.client("sns")
            names = sorted("l-%03d" % i for i in range(230))
            for n in names:
                c.create_topic(Name=n)
            other = srv.client("sns", region_name="eu-west-1")
            other.create_topic(Name="elsewhere")
            seen, token, pages = [], None, 0
            while True:
                out = c.list_topics(**({"NextToken": token} if token else {}))
                seen += [t["TopicArn"] for t in out["Topics"]]
                pages += 1
                self.assertLessEqual(len(out["Topics"]), 100)
                token = out.get("NextToken")
                if not token:
                    break
            self.assertEqual(pages, 3)
            self.assertEqual(seen, [topic_arn(n) for n in names], "this region's, in order")
            c.delete_topic(TopicArn=topic_arn(names[0]))
            c.delete_topic(TopicArn=topic_arn(names[0]))  # no error: AWS's delete is idempotent
            self.assertNotIn(topic_arn(names[0]), [t["TopicArn"] for t in c.list_topics()["Topics"]])
            self.assertAwsError("InvalidParameter", c.list_topics, NextToken="bad token")
        finally:
            srv.stop()

    def test_permissions_edit_the_policy(self):
        arn = self.sns.create_topic(Name=unique_name("p"))["TopicArn"]

        def statements():
            policy = json.loads(self.sns.get_topic_attributes(TopicArn=arn)["Attributes"][
                "Policy"])
            return {st["Sid"]: st for st in policy["Statement"]}
        self.sns.add_permission(TopicArn=arn, Label="pub", AWSAccountId=["111122223333"],
                                ActionName=["Publish"])
        self.sns.add_permission(TopicArn=arn, Label="two", AWSAccountId=["111122223333",
                                                                         "444455556666"],
                                ActionName=["Publish", "Subscribe"])
        st = statements()
        self.assertEqual(sorted(st), ["__default_statement_ID", "pub", "two"],
                         "added to the default policy")
        self.assertEqual(st["pub"], {"Sid": "pub", "Effect": "Allow",
                                     "Principal": {"AWS": "arn:aws:iam::111122223333:root"},
                                     "Action": "SNS:Publish", "Resource": arn})
        self.assertEqual(st["two"]["Principal"]["AWS"], ["arn:aws:iam::111122223333:root",
                                                         "arn:aws:iam::444455556666:root"])
        self.assertEqual(st["two"]["Action"], ["SNS:Publish", "SNS:Subscribe"])
        e = self.assertAwsError("InvalidParameter", self.sns.add_permission, TopicArn=arn,
                                Label="pub", AWSAccountId=["111122223333"],
                                ActionName=["Publish"])
        self.assertIn("Statement already exists", e.response["Error"]["Message"])
        e = self.assertAwsError("InvalidParameter", self.sns.add_permission, TopicArn=arn,
                                Label="bad", AWSAccountId=["111122223333"],
                                ActionName=["SendMessage"])
        self.assertIn("out of service scope", e.response["Error"]["Message"])
        for bad in [{"Label": "has space"}, {"AWSAccountId": ["12"]}, {"AWSAccountId": []},
                    {"ActionName": []}]:
            kw = {"TopicArn": arn, "Label": "x", "AWSAccountId": ["111122223333"],
                  "ActionName": ["Publish"]}
            kw.update(bad)
            self.assertAwsError("InvalidParameter", self.sns.add_permission, **kw)
        self.assertAwsError("NotFound", self.sns.add_permission, TopicArn=arn + "-gone",
                            Label="x", AWSAccountId=["111122223333"], ActionName=["Publish"],
                            status=404)
        self.sns.remove_permission(TopicArn=arn, Label="pub")
        self.sns.remove_permission(TopicArn=arn, Label="never-there")
        self.assertEqual(sorted(statements()), ["__default_statement_ID", "two"])
        # A set policy is what permissions edit from then on.
        own = {"Version": "2012-10-17", "Id": "mine", "Statement": [
            {"Sid": "only", "Effect": "Deny", "Principal": "*", "Action": "SNS:Publish",
             "Resource": arn}]}
        self.sns.set_topic_attributes(TopicArn=arn, AttributeName="Policy",
                                      AttributeValue=json.dumps(own))
        self.sns.add_permission(TopicArn=arn, Label="more", AWSAccountId=["111122223333"],
                                ActionName=["Receive"])
        policy = json.loads(self.sns.get_topic_attributes(TopicArn=arn)["Attributes"]["Policy"])
        self.assertEqual((policy["Version"], policy["Id"]), ("2012-10-17", "mine"))
        self.assertEqual([x["Sid"] for x in policy["Statement"]], ["only", "more"])
        self.assertEqual(policy["Statement"][0], own["Statement"][0])

    def test_tags(self):
        arn = self.sns.create_topic(Name=unique_name("tg"), Tags=[{"Key": "team", "Value": "a"}])[
            "TopicArn"]
        self.sns.tag_resource(ResourceArn=arn, Tags=[{"Key": "env", "Value": "dev"},
                                                     {"Key": "team", "Value": "b"}])
        self.assertEqual(self.sns.list_tags_for_resource(ResourceArn=arn)["Tags"],
                         [{"Key": "env", "Value": "dev"}, {"Key": "team", "Value": "b"}])
        self.sns.untag_resource(ResourceArn=arn, TagKeys=["env", "absent"])
        self.assertEqual(self.sns.list_tags_for_resource(ResourceArn=arn)["Tags"],
                         [{"Key": "team", "Value": "b"}])
        self.assertAwsError("TagLimitExceeded", self.sns.tag_resource, ResourceArn=arn,
                            Tags=[{"Key": "k%d" % i, "Value": "v"} for i in range(50)])
        self.assertEqual(len(self.sns.list_tags_for_resource(ResourceArn=arn)["Tags"]), 1,
                         "a refused request changes nothing")
        self.assertAwsError("ResourceNotFound", self.sns.list_tags_for_resource,
                            ResourceArn=topic_arn(unique_name("none")), status=404)


class SnsSubscriptionTest(SnsCase):
    @classmethod
    def setUpClass(cls):
        cls.server = harness.server_for_class(cls, needs_local=True)
        cls.sns = cls.server.client("sns")
        cls.sqs = cls.server.client("sqs")

    def test_subscribe_confirms_sqs_and_waits_for_http_and_email(self):
        arn = self.sns.create_topic(Name=unique_name("s"))["TopicArn"]
        _, qarn = self.queue()
        sub = self.sns.subscribe(TopicArn=arn, Protocol="sqs", Endpoint=qarn)["SubscriptionArn"]
        self.assertTrue(sub.startswith(arn + ":"), sub)
        self.assertEqual(self.sns.subscribe(TopicArn=arn, Protocol="sqs", Endpoint=qarn)[
            "SubscriptionArn"], sub, "the same endpoint again is the same subscription")
        self.assertAwsError("InvalidParameter", self.sns.subscribe, TopicArn=arn, Protocol="sqs",
                            Endpoint=qarn, Attributes={"RawMessageDelivery": "true"})
        http = self.sns.subscribe(TopicArn=arn, Protocol="http", Endpoint="http://127.0.0.1:9/x")
        self.assertEqual(http["SubscriptionArn"], "pending confirmation")
        mail = self.sns.subscribe(TopicArn=arn, Protocol="email", Endpoint="a@example.com",
                                  ReturnSubscriptionArn=True)["SubscriptionArn"]
        self.assertTrue(mail.startswith(arn + ":"), mail)
        a = self.sns.get_topic_attributes(TopicArn=arn)["Attributes"]
        self.assertEqual((a["SubscriptionsConfirmed"], a["SubscriptionsPending"]), ("1", "2"))
        a = self.sns.get_subscription_attributes(SubscriptionArn=mail)["Attributes"]
        self.assertEqual((a["PendingConfirmation"], a["Protocol"], a["Endpoint"], a["TopicArn"]),
                         ("true", "email", "a@example.com", arn))
        a = self.sns.get_subscription_attributes(SubscriptionArn=sub)["Attributes"]
        self.assertEqual((a["PendingConfirmation"], a["RawMessageDelivery"], a["Owner"]),
                         ("false", "false", ACCOUNT))
        listed = self.sns.list_subscriptions_by_topic(TopicArn=arn)["Subscriptions"]
        self.assertEqual(sorted(s["SubscriptionArn"] for s in listed),
                         sorted([sub, "PendingConfirmation", "PendingConfirmation"]))
        self.assertAwsError("InvalidParameter", self.sns.confirm_subscription, TopicArn=arn,
                            Token="0" * 64)

    def test_endpoints_and_protocols_are_checked(self):
        arn = self.sns.create_topic(Name=unique_name("e"))["TopicArn"]
        fifo_q = self.queue(fifo=True)[1]
        cases = [("sqs", "not-an-arn"), ("sqs", fifo_q), ("http", "https://x"), ("https", "http://x"),
                 ("email", "nobody"), ("carrier-pigeon", "x"), ("sms", "+1555"), ("sqs", ""),
                 ("sqs", "arn:aws:sqs:%s:111122223333:elsewhere" % REGION)]
        for proto, ep in cases:
            self.assertAwsError("InvalidParameter", self.sns.subscribe, TopicArn=arn,
                                Protocol=proto, Endpoint=ep)
        self.assertAwsError("NotFound", self.sns.subscribe, TopicArn=topic_arn(unique_name("n")),
                            Protocol="sqs", Endpoint=self.queue()[1], status=404)
        e = self.assertAwsError("InvalidParameter", self.sns.subscribe, TopicArn=arn,
                                Protocol="email", Endpoint="a@example.com",
                                Attributes={"RawMessageDelivery": "true"})
        self.assertIn("raw message delivery", e.response["Error"]["Message"])
        self.assertEqual(self.sns.list_subscriptions_by_topic(TopicArn=arn)["Subscriptions"], [],
                         "nothing refused was kept")

    def test_attributes_set_and_unsubscribe(self):
        arn = self.sns.create_topic(Name=unique_name("u"))["TopicArn"]
        url, qarn = self.queue()
        sub = self.sns.subscribe(TopicArn=arn, Protocol="sqs", Endpoint=qarn)["SubscriptionArn"]
        self.sns.set_subscription_attributes(SubscriptionArn=sub, AttributeName="RawMessageDelivery",
                                             AttributeValue="true")
        self.assertEqual(self.sns.get_subscription_attributes(SubscriptionArn=sub)[
            "Attributes"]["RawMessageDelivery"], "true")
        self.assertAwsError("InvalidParameter", self.sns.set_subscription_attributes,
                            SubscriptionArn=sub, AttributeName="Nope", AttributeValue="x")
        self.sns.publish(TopicArn=arn, Message="raw now")
        self.assertEqual([m["Body"] for m in self.drain(url, 1)], ["raw now"])
        self.sns.unsubscribe(SubscriptionArn=sub)
        self.assertAwsError("NotFound", self.sns.get_subscription_attributes, SubscriptionArn=sub,
                            status=404)
        self.sns.publish(TopicArn=arn, Message="after")
        self.assertEmpty(url)

    def test_subscriptions_list_in_pages_and_go_with_their_topic(self):
        arn = self.sns.create_topic(Name=unique_name("p"))["TopicArn"]
        subs = set()
        for i in range(130):
            subs.add(self.sns.subscribe(TopicArn=arn, Protocol="sqs",
                                        Endpoint="arn:aws:sqs:%s:%s:q-%03d" % (REGION, ACCOUNT, i))[
                "SubscriptionArn"])
        seen, token = [], None
        while True:
            out = self.sns.list_subscriptions_by_topic(TopicArn=arn, **(
                {"NextToken": token} if token else {}))
            self.assertLessEqual(len(out["Subscriptions"]), 100)
            seen += [s["SubscriptionArn"] for s in out["Subscriptions"]]
            token = out.get("NextToken")
            if not token:
                break
        self.assertEqual(sorted(seen), sorted(subs))
        everything, token = [], None
        while True:
            out = self.sns.list_subscriptions(**({"NextToken": token} if token else {}))
            everything += [s["SubscriptionArn"] for s in out["Subscriptions"]]
            token = out.get("NextToken")
            if not token:
                break
        self.assertLessEqual(subs, set(everything))
        self.sns.delete_topic(TopicArn=arn)
        out = self.sns.list_subscriptions()
        left = [s for s in out["Subscriptions"] if s["TopicArn"] == arn]
        self.assertEqual(left, [], "a deleted topic's subscriptions are gone")


class SnsPublishTest(SnsCase):
    @classmethod
    def setUpClass(cls):
        cls.server = harness.server_for_class(cls, needs_local=True)
        cls.sns = cls.server.client("sns")
        cls.sqs = cls.server.client("sqs")

    def test_publish_reaches_every_queue_in_the_envelope_or_raw(self):
        arn = self.sns.create_topic(Name=unique_name("f"))["TopicArn"]
        queues = [self.queue() for _ in range(3)]
        subs = [self.sns.subscribe(TopicArn=arn, Protocol="sqs", Endpoint=q[1])["SubscriptionArn"]
                for q in queues]
        raw_url, raw_arn = self.queue()
        self.sns.subscribe(TopicArn=arn, Protocol="sqs", Endpoint=raw_arn,
                           Attributes={"RawMessageDelivery": "true"})
        attrs = {"color": {"DataType": "String", "StringValue": "red"},
                 "n": {"DataType": "Number", "StringValue": "42"},
                 "b": {"DataType": "Binary", "BinaryValue": b"\x00\xff"},
                 "list": {"DataType": "String.Array", "StringValue": '["a", 1, true]'}}
        out = self.sns.publish(TopicArn=arn, Message="hello \u00e9", Subject="Greeting",
                               MessageAttributes=attrs)
        mid = out["MessageId"]
        for (url, _), sub in zip(queues, subs):
            got = self.drain(url, 1)
            self.assertEqual(len(got), 1)
            env = json.loads(got[0]["Body"])
            self.assertEqual((env["Type"], env["MessageId"], env["TopicArn"], env["Subject"],
                              env["Message"]), ("Notification", mid, arn, "Greeting", "hello \u00e9"))
            self.assertRegex(env["Timestamp"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
            self.assertIn("SubscriptionArn=" + sub, env["UnsubscribeURL"])
            self.assertEqual(env["MessageAttributes"], {
                "color": {"Type": "String", "Value": "red"},
                "n": {"Type": "Number", "Value": "42"},
                "b": {"Type": "Binary", "Value": "AP8="},
                "list": {"Type": "String.Array", "Value": '["a", 1, true]'}})
        raw = self.drain(raw_url, 1, attrs=True)
        self.assertEqual(raw[0]["Body"], "hello \u00e9")
        self.assertEqual(raw[0]["MessageAttributes"]["b"], {"BinaryValue": b"\x00\xff",
                                                            "DataType": "Binary"})
        self.assertEqual(raw[0]["MessageAttributes"]["n"], {"StringValue": "42", "DataType": "Number"})
        # The envelope's UnsubscribeURL works as a plain GET.
        self.sns.publish(TopicArn=arn, Message="once more")
        env = json.loads(self.drain(queues[0][0], 1)[0]["Body"])
        with urllib.request.urlopen(env["UnsubscribeURL"], timeout=10) as r:
            self.assertEqual(r.status, 200)
        self.assertNotIn(subs[0], [s["SubscriptionArn"] for s in
                                   self.sns.list_subscriptions_by_topic(TopicArn=arn)["Subscriptions"]])

    def test_message_structure_json_gives_sqs_its_own_text(self):
        arn = self.sns.create_topic(Name=unique_name("j"))["TopicArn"]
        url, qarn = self.queue()
        self.sns.subscribe(TopicArn=arn, Protocol="sqs", Endpoint=qarn)
        self.sns.publish(TopicArn=arn, MessageStructure="json",
                         Message=json.dumps({"default": "for all", "sqs": "for queues"}))
        self.sns.publish(TopicArn=arn, MessageStructure="json",
                         Message=json.dumps({"default": "only default", "email": "mail"}))
        got = [json.loads(m["Body"])["Message"] for m in self.drain(url, 2)]
        self.assertEqual(sorted(got), ["for queues", "only default"])
        for bad in ["not json", json.dumps({"sqs": "no default"}), json.dumps(["x"])]:
            self.assertAwsError("InvalidParameter", self.sns.publish, TopicArn=arn,
                                MessageStructure="json", Message=bad)
        self.assertEmpty(url)

    def test_bad_publishes_get_aws_errors_and_deliver_nothing(self):
        arn = self.sns.create_topic(Name=unique_name("b"))["TopicArn"]
        url, qarn = self.queue()
        self.sns.subscribe(TopicArn=arn, Protocol="sqs", Endpoint=qarn)
        self.assertAwsError("NotFound", self.sns.publish, TopicArn=topic_arn(unique_name("n")),
                            Message="m", status=404)
        self.assertAwsError("InvalidParameter", self.sns.publish, TopicArn="arn:aws:sns:bad",
                            Message="m")
        self.assertAwsError("InvalidParameter", self.sns.publish, TopicArn=arn, Message="")
        self.assertAwsError("InvalidParameter", self.sns.publish, TopicArn=arn, Message="m",
                            Subject="line\nbreak")
        self.assertAwsError("InvalidParameter", self.sns.publish, TopicArn=arn, Message="m",
                            Subject="s" * 101)
        self.assertAwsError("InvalidParameter", self.sns.publish, TopicArn=arn,
                            Message="x" * (256 * 1024 + 1))
        self.assertAwsError("InvalidParameter", self.sns.publish, TopicArn=arn,
                            Message="x" * (256 * 1024 - 10), MessageAttributes={
                                "a": {"DataType": "String", "StringValue": "y" * 20}})
        self.assertAwsError("ParameterValueInvalid", self.sns.publish, TopicArn=arn, Message="m",
                            MessageAttributes={"a": {"DataType": "Date", "StringValue": "x"}})
        self.assertAwsError("ParameterValueInvalid", self.sns.publish, TopicArn=arn, Message="m",
                            MessageAttributes={"a": {"DataType": "Number", "StringValue": "ten"}})
        self.assertAwsError("ParameterValueInvalid", self.sns.publish, TopicArn=arn, Message="m",
                            MessageAttributes={"a": {"DataType": "String.Array",
                                                     "StringValue": "[{\"no\": 1}]"}})
        self.assertAwsError("InvalidParameter", self.sns.publish, TopicArn=arn, Message="m",
                            MessageDeduplicationId="d")
        self.assertEmpty(url)
        # The largest message that fits is delivered whole.
        big = "x" * (256 * 1024)
        self.sns.set_subscription_attributes(
            SubscriptionArn=self.sns.list_subscriptions_by_topic(TopicArn=arn)["Subscriptions"][0][
                "SubscriptionArn"], AttributeName="RawMessageDelivery", AttributeValue="true")
        self.sns.publish(TopicArn=arn, Message=big)
        self.assertEqual(self.drain(url, 1)[0]["Body"], big)

    def test_a_queue_that_is_gone_loses_its_delivery_only(self):
        arn = self.sns.create_topic(Name=unique_name("g"))["TopicArn"]
        url, qarn = self.queue()
        gone_url, gone_arn = self.queue()
        self.sns.subscribe(TopicArn=arn, Protocol="sqs", Endpoint=qarn)
        self.sns.subscribe(TopicArn=arn, Protocol="sqs", Endpoint=gone_arn)
        self.sqs.delete_queue(QueueUrl=gone_url)

        def failures():
            text = self.server.raw_request("GET", "/metrics")[1].decode()
            return [float(l.rsplit(" ", 1)[1]) for l in text.splitlines()
                    if l.startswith("sluice_sns_delivery_failures_total")][0]
        before = failures()
        self.sns.publish(TopicArn=arn, Message="still here")
        self.assertEqual(len(self.drain(url, 1)), 1)
        self.assertEqual(failures() - before, 1, "the lost delivery is counted, once")

    def test_a_gone_queue_dead_letters_into_the_redrive_policy_queue(self):
        arn = self.sns.create_topic(Name=unique_name("dl"))["TopicArn"]
        gone_url, gone_arn = self.queue()
        dlq_url, dlq_arn = self.queue()
        self.assertAwsError("InvalidParameter", self.sns.subscribe, TopicArn=arn, Protocol="sqs",
                            Endpoint=gone_arn, Attributes={"RedrivePolicy": json.dumps(
                                {"deadLetterTargetArn": "not-an-arn"})})
        self.sns.subscribe(TopicArn=arn, Protocol="sqs", Endpoint=gone_arn, Attributes={
            "RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn})})
        self.sqs.delete_queue(QueueUrl=gone_url)

        def dead():
            text = self.server.raw_request("GET", "/metrics")[1].decode()
            return [float(l.rsplit(" ", 1)[1]) for l in text.splitlines()
                    if l.startswith('sluice_sns_dead_lettered_total{protocol="sqs"}')][0]
        before = dead()
        mid = self.sns.publish(TopicArn=arn, Message="to the dlq")["MessageId"]
        got = self.drain(dlq_url, 1)
        self.assertEqual(len(got), 1)
        env = json.loads(got[0]["Body"])
        self.assertEqual((env["MessageId"], env["Message"]), (mid, "to the dlq"))
        self.assertEqual(dead() - before, 1, "the dead-lettered delivery is counted once")

    def test_fifo_topic_keeps_group_order_and_deduplicates(self):
        arn = self.sns.create_topic(Name=unique_name("ff") + ".fifo", Attributes={
            "FifoTopic": "true"})["TopicArn"]
        fq = [self.queue(fifo=True) for _ in range(2)]
        std_url, std_arn = self.queue()
        for _, qarn in fq:
            self.sns.subscribe(TopicArn=arn, Protocol="sqs", Endpoint=qarn,
                               Attributes={"RawMessageDelivery": "true"})
        self.sns.subscribe(TopicArn=arn, Protocol="sqs", Endpoint=std_arn)
        self.assertAwsError("InvalidParameter", self.sns.publish, TopicArn=arn, Message="m",
                            MessageDeduplicationId="d")
        self.assertAwsError("InvalidParameter", self.sns.publish, TopicArn=arn, Message="m",
                            MessageGroupId="g")
        seqs = []
        for i in range(20):
            out = self.sns.publish(TopicArn=arn, Message="m-%02d" % i, MessageGroupId="g%d" % (i % 2),
                                   MessageDeduplicationId="d-%d" % i)
            seqs.append(int(out["SequenceNumber"]))
        self.assertEqual(seqs, sorted(seqs))
        self.assertEqual(len(set(seqs)), 20)
        # A repeat within the window is accepted and delivered once.
        self.sns.publish(TopicArn=arn, Message="m-00-again", MessageGroupId="g0",
                         MessageDeduplicationId="d-0")
        for url, _ in fq:
            got = self.drain(url, 20)
            bodies = [m["Body"] for m in got]
            self.assertEqual(len(bodies), 20, bodies)
            for g in ("g0", "g1"):
                mine = [m["Body"] for m in got if m["Attributes"]["MessageGroupId"] == g]
                self.assertEqual(mine, sorted(mine), "group %s in order" % g)
            self.assertEqual(got[0]["Attributes"]["MessageDeduplicationId"], "d-0")
            self.assertEmpty(url)
        envs = [json.loads(m["Body"]) for m in self.drain(std_url, 21)]
        self.assertEqual(len(envs), 21, "a standard queue keeps no deduplication")
        self.assertTrue(all("SequenceNumber" in e for e in envs))
        # Content-based deduplication: the message's SHA-256.
        cbd = self.sns.create_topic(Name=unique_name("cb") + ".fifo", Attributes={
            "FifoTopic": "true", "ContentBasedDeduplication": "true"})["TopicArn"]
        url, qarn = fq[0]
        self.sns.subscribe(TopicArn=cbd, Protocol="sqs", Endpoint=qarn,
                           Attributes={"RawMessageDelivery": "true"})
        for _ in range(3):
            self.sns.publish(TopicArn=cbd, Message="same", MessageGroupId="g")
        self.sns.publish(TopicArn=cbd, Message="other", MessageGroupId="g")
        self.assertEqual([m["Body"] for m in self.drain(url, 2)], ["same", "other"])
        self.assertEmpty(url)

    def test_publish_batch_with_partial_failures(self):
        arn = self.sns.create_topic(Name=unique_name("pb"))["TopicArn"]
        url, qarn = self.queue()
        self.sns.subscribe(TopicArn=arn, Protocol="sqs", Endpoint=qarn,
                           Attributes={"RawMessageDelivery": "true"})
        out = self.sns.publish_batch(TopicArn=arn, PublishBatchRequestEntries=[
            {"Id": "ok-1", "Message": "one"},
            {"Id": "bad", "Message": "two", "Subject": "x\ny"},
            {"Id": "ok-2", "Message": "three", "MessageAttributes": {
                "k": {"DataType": "String", "StringValue": "v"}}}])
        self.assertEqual(sorted(s["Id"] for s in out["Successful"]), ["ok-1", "ok-2"])
        self.assertEqual([(f["Id"], f["Code"], f["SenderFault"]) for f in out["Failed"]],
                         [("bad", "InvalidParameter", True)])
        self.assertEqual(sorted(m["Body"] for m in self.drain(url, 2)), ["one", "three"])
        self.assertEmpty(url)
        self.assertAwsError("EmptyBatchRequest", self.sns.publish_batch, TopicArn=arn,
                            PublishBatchRequestEntries=[])
        self.assertAwsError("TooManyEntriesInBatchRequest", self.sns.publish_batch, TopicArn=arn,
                            PublishBatchRequestEntries=[{"Id": str(i), "Message": "m"}
                                                        for i in range(11)])
        self.assertAwsError("BatchEntryIdsNotDistinct", self.sns.publish_batch, TopicArn=arn,
                            PublishBatchRequestEntries=[{"Id": "a", "Message": "m"}] * 2)
        self.assertAwsError("InvalidBatchEntryId", self.sns.publish_batch, TopicArn=arn,
                            PublishBatchRequestEntries=[{"Id": "no spaces", "Message": "m"}])
        self.assertAwsError("BatchRequestTooLong", self.sns.publish_batch, TopicArn=arn,
                            PublishBatchRequestEntries=[{"Id": str(i), "Message": "x" * 30000}
                                                        for i in range(10)])
        self.assertEmpty(url)


class SnsRestartTest(SnsCase):
    def test_topics_and_subscriptions_survive_restart(self):
        with harness.Server(needs_local=True, name="SnsRestartTest") as srv:
            self.sns, self.sqs = srv.client("sns"), srv.client("sqs")
            arn = self.sns.create_topic(Name=unique_name("r"), Tags=[{"Key": "k", "Value": "v"}])[
                "TopicArn"]
            url, qarn = self.queue()
            sub = self.sns.subscribe(TopicArn=arn, Protocol="sqs", Endpoint=qarn,
                                     Attributes={"RawMessageDelivery": "true"})["SubscriptionArn"]
            srv.kill9()
            srv.start()
            self.sns, self.sqs = srv.client("sns"), srv.client("sqs")
            self.assertEqual(self.sns.get_subscription_attributes(SubscriptionArn=sub)[
                "Attributes"]["RawMessageDelivery"], "true")
            self.assertEqual(self.sns.list_tags_for_resource(ResourceArn=arn)["Tags"],
                             [{"Key": "k", "Value": "v"}])
            self.sns.publish(TopicArn=arn, Message="after restart")
            self.assertEqual([m["Body"] for m in self.drain(url, 1)], ["after restart"])


class SnsCrashTest(SnsCase):
    def test_kill9_during_publish_load_loses_no_acknowledged_publish(self):
        """Every publish acknowledged before kill -9 is in every subscribed
        queue after the restart (four standard queues and a FIFO one, on two
        workers, fed by four publishers)."""
        with harness.Server(extra_args=["--workers", "2"], needs_local=True,
                            name="SnsCrashTest") as srv:
            self.sns, self.sqs = srv.client("sns"), srv.client("sqs")
            std = self.sns.create_topic(Name=unique_name("c"))["TopicArn"]
            fifo = self.sns.create_topic(Name=unique_name("cf") + ".fifo", Attributes={
                "FifoTopic": "true", "ContentBasedDeduplication": "true"})["TopicArn"]
            queues = [self.queue() for _ in range(4)]
            fq = self.queue(fifo=True)
            for _, qarn in queues:
                self.sns.subscribe(TopicArn=std, Protocol="sqs", Endpoint=qarn,
                                   Attributes={"RawMessageDelivery": "true"})
            self.sns.subscribe(TopicArn=fifo, Protocol="sqs", Endpoint=fq[1],
                               Attributes={"RawMessageDelivery": "true"})
            acked, acked_fifo = set(), set()
            stop = threading.Event()
            lock = threading.Lock()

            def load(k):
                c = srv.client("sns")
                i = 0
                while not stop.is_set():
                    body = "p%d-%d" % (k, i)
                    try:
                        if k == 0:
                            c.publish(TopicArn=fifo, Message=body, MessageGroupId="g")
                            with lock:
                                acked_fifo.add(body)
                        else:
                            out = c.publish_batch(TopicArn=std, PublishBatchRequestEntries=[
                                {"Id": str(j), "Message": "%s-%d" % (body, j)} for j in range(5)])
                            with lock:
                                acked.update("%s-%d" % (body, int(s["Id"]))
                                             for s in out["Successful"])
                    except Exception:
                        return  # the server went away
                    i += 1

            threads = [threading.Thread(target=load, args=(k,)) for k in range(4)]
            for t in threads:
                t.start()
            time.sleep(2.0)
            deadline = time.monotonic() + 20  # a slow machine: enough load first
            while len(acked) <= 100 and time.monotonic() < deadline:
                time.sleep(0.1)
            self.sqs = harness.kill9_under_load(srv, stop, threads)
            self.assertGreater(len(acked), 100, "the load ran")
            for url, _ in queues:
                # drain(url, len(acked)) could stop early: the queue also
                # holds publishes stored but not acknowledged before the kill.
                got = self.drain_covering(url, acked)
                self.assertLessEqual(acked, got, "%d acknowledged publishes missing from %s"
                                     % (len(acked - got), url))
            got = [m["Body"] for m in self.drain(fq[0], len(acked_fifo), timeout=60)]
            self.assertLessEqual(acked_fifo, set(got))
            order = [int(b.split("-")[1]) for b in got]
            self.assertEqual(order, sorted(order), "the FIFO queue keeps publish order")


QUERY_SCRIPT = textwrap.dedent('''
    import json, sys, time, boto3
    from botocore.exceptions import ClientError
    kw = dict(endpoint_url=sys.argv[1], region_name="us-east-1", aws_access_key_id="k",
              aws_secret_access_key="s")
    sns, sqs = boto3.client("sns", **kw), boto3.client("sqs", **kw)
    p = sys.argv[2]
    arn = sns.create_topic(Name=p, Attributes={"DisplayName": "old"})["TopicArn"]
    assert sns.get_topic_attributes(TopicArn=arn)["Attributes"]["DisplayName"] == "old"
    u = sqs.create_queue(QueueName=p)["QueueUrl"]
    qarn = sqs.get_queue_attributes(QueueUrl=u, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sub = sns.subscribe(TopicArn=arn, Protocol="sqs", Endpoint=qarn)["SubscriptionArn"]
    assert [s["SubscriptionArn"] for s in sns.list_subscriptions_by_topic(TopicArn=arn)[
        "Subscriptions"]] == [sub]
    mid = sns.publish(TopicArn=arn, Message="from 1.29", MessageAttributes={
        "a": {"DataType": "String", "StringValue": "b"}})["MessageId"]
    out = sns.publish_batch(TopicArn=arn, PublishBatchRequestEntries=[
        {"Id": "x", "Message": "batched"}])
    assert [s["Id"] for s in out["Successful"]] == ["x"], out
    got = []
    for _ in range(10):
        got += sqs.receive_message(QueueUrl=u, MaxNumberOfMessages=10, WaitTimeSeconds=1).get(
            "Messages", [])
        if len(got) >= 2:
            break
    envs = sorted((json.loads(m["Body"]) for m in got), key=lambda e: e["Message"])
    assert [e["Message"] for e in envs] == ["batched", "from 1.29"], envs
    assert envs[1]["MessageId"] == mid and envs[1]["MessageAttributes"]["a"]["Value"] == "b"
    try:
        sns.publish(TopicArn=arn + "-none", Message="m")
        raise SystemExit("no error")
    except ClientError as e:
        assert e.response["Error"]["Code"] == "NotFound", e.response
    sns.unsubscribe(SubscriptionArn=sub)
    sns.delete_topic(TopicArn=arn)
    print("sns-query-ok")
''')


@unittest.skipUnless(harness.debian_boto3(), "Debian's python3-boto3 is not installed")
class SnsOldBotocoreTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.server = harness.server_for_class(cls)

    def test_sns_with_botocore_1_29(self):
        harness.check_debian_script(self, QUERY_SCRIPT, "sns-query-ok", self.server.endpoint, "sq")


AWS = shutil.which("aws")


@unittest.skipIf(AWS is None, "aws CLI not installed")
class SnsCliTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.server = harness.server_for_class(cls)
        cls.home = tempfile.mkdtemp(prefix="sluice-cli-")
        cls.addClassCleanup(shutil.rmtree, cls.home, True)
        cls.env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        cls.env.update({
            "AWS_ACCESS_KEY_ID": harness.ACCESS_KEY, "AWS_SECRET_ACCESS_KEY": harness.SECRET_KEY,
            "AWS_DEFAULT_REGION": REGION, "AWS_CONFIG_FILE": os.path.join(cls.home, "config"),
            "AWS_SHARED_CREDENTIALS_FILE": os.path.join(cls.home, "credentials"),
            "AWS_MAX_ATTEMPTS": "1", "AWS_PAGER": "",
        })

    def aws(self, *args):
        p = subprocess.run([AWS] + list(args) + ["--endpoint-url", self.server.endpoint,
                                                 "--output", "json"],
                           env=self.env, capture_output=True, text=True, timeout=60,
                           stdin=subprocess.DEVNULL)
        self.assertEqual(p.returncode, 0, "%s\n%s%s" % (" ".join(args), p.stdout, p.stderr))
        return json.loads(p.stdout) if p.stdout.strip() else {}

    def test_cli_topic_subscribe_publish(self):
        name = unique_name("cli")
        arn = self.aws("sns", "create-topic", "--name", name)["TopicArn"]
        url = self.aws("sqs", "create-queue", "--queue-name", name)["QueueUrl"]
        qarn = self.aws("sqs", "get-queue-attributes", "--queue-url", url, "--attribute-names",
                        "QueueArn")["Attributes"]["QueueArn"]
        self.aws("sns", "subscribe", "--topic-arn", arn, "--protocol", "sqs", "--notification-endpoint",
                 qarn, "--attributes", "RawMessageDelivery=true")
        self.assertIn(arn, [t["TopicArn"] for t in self.aws("sns", "list-topics")["Topics"]])
        mid = self.aws("sns", "publish", "--topic-arn", arn, "--message", "from the cli")["MessageId"]
        self.assertRegex(mid, r"^[0-9a-f-]{36}$")
        got = self.aws("sqs", "receive-message", "--queue-url", url, "--wait-time-seconds", "5")
        self.assertEqual([m["Body"] for m in got["Messages"]], ["from the cli"])


if __name__ == "__main__":
    unittest.main()
