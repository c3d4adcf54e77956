"""SQS queue metadata against a live sluice, with both client generations:
the image's boto3 (JSON 1.0, awsQueryCompatible errors) and Debian's
python3-boto3 run by /usr/bin/python3 (the query protocol, XML replies).
Create (idempotent, conflicting, FIFO naming), URLs, attributes (defaults,
ranges, read-only names, FIFO-only names), listing with prefix and pages,
tags, delete and the 60-second wait, and restart."""

import json
import os
import textwrap
import unittest

import harness
from harness import unique_name

ACCOUNT = harness.ACCOUNT_ID


class SqsQueueTest(harness.KinesisTestCase):
    @classmethod
    def setUpClass(cls):
        cls.server = harness.server_for_class(cls, needs_local=True)
        cls.c = cls.server.client("sqs")

    def url(self, name):
        return "%s/%s/%s" % (self.server.endpoint, ACCOUNT, name)

    def test_create_is_idempotent_and_a_conflict_is_queue_already_exists(self):
        name = unique_name("q")
        out = self.c.create_queue(QueueName=name, Attributes={"DelaySeconds": "5"})
        self.assertEqual(out["QueueUrl"], self.url(name))
        again = self.c.create_queue(QueueName=name, Attributes={"DelaySeconds": "5"})
        self.assertEqual(again["QueueUrl"], out["QueueUrl"])
        self.assertEqual(self.c.create_queue(QueueName=name)["QueueUrl"], out["QueueUrl"])
        e = self.assertAwsError("QueueAlreadyExists", self.c.create_queue, QueueName=name,
                                Attributes={"DelaySeconds": "6"})
        self.assertIn("DelaySeconds", e.response["Error"]["Message"])
        self.assertEqual(e.response["ResponseMetadata"]["HTTPHeaders"]["x-amzn-query-error"],
                         "QueueAlreadyExists;Sender")
        self.assertEqual(self.c.get_queue_url(QueueName=name)["QueueUrl"], out["QueueUrl"])

    def test_names_are_checked_and_fifo_needs_its_suffix_and_attribute(self):
        for bad in ["", "a" * 81, "has space", "dot.ted", "x.fifo.fifo"]:
            self.assertAwsError("InvalidParameterValue", self.c.create_queue, QueueName=bad)
        self.assertAwsError("InvalidParameterValue", self.c.create_queue,
                            QueueName=unique_name("f") + ".fifo")
        self.assertAwsError("InvalidParameterValue", self.c.create_queue,
                            QueueName=unique_name("f"), Attributes={"FifoQueue": "true"})
        self.assertEqual(self.c.create_queue(QueueName="a" * 80)["QueueUrl"], self.url("a" * 80))
        name = unique_name("f") + ".fifo"
        self.c.create_queue(QueueName=name, Attributes={"FifoQueue": "true",
                                                        "ContentBasedDeduplication": "true",
                                                        "DeduplicationScope": "messageGroup",
                                                        "FifoThroughputLimit": "perMessageGroupId"})
        got = self.c.get_queue_attributes(QueueUrl=self.url(name), AttributeNames=["All"])
        a = got["Attributes"]
        self.assertEqual((a["FifoQueue"], a["ContentBasedDeduplication"], a["DeduplicationScope"],
                          a["FifoThroughputLimit"]),
                         ("true", "true", "messageGroup", "perMessageGroupId"))
        # FIFO-only attributes are unknown names on a standard queue.
        self.assertAwsError("InvalidAttributeName", self.c.create_queue,
                            QueueName=unique_name("s"),
                            Attributes={"ContentBasedDeduplication": "true"})

    def test_attributes_have_aws_defaults_and_ranges(self):
        name = unique_name("a")
        self.c.create_queue(QueueName=name)
        a = self.c.get_queue_attributes(QueueUrl=self.url(name),
                                        AttributeNames=["All"])["Attributes"]
        self.assertEqual(a["QueueArn"], "arn:aws:sqs:%s:%s:%s" % (harness.REGION, ACCOUNT, name))
        want = {"VisibilityTimeout": "30", "MaximumMessageSize": "1048576",
                "MessageRetentionPeriod": "345600", "DelaySeconds": "0",
                "ReceiveMessageWaitTimeSeconds": "0", "SqsManagedSseEnabled": "true",
                "ApproximateNumberOfMessages": "0",
                "ApproximateNumberOfMessagesNotVisible": "0",
                "ApproximateNumberOfMessagesDelayed": "0"}
        self.assertEqual({k: a[k] for k in want}, want)
        self.assertNotIn("FifoQueue", a)
        self.assertEqual(a["CreatedTimestamp"], a["LastModifiedTimestamp"])
        # No names: no attributes. One name: only it.
        self.assertNotIn("Attributes", self.c.get_queue_attributes(QueueUrl=self.url(name)))
        one = self.c.get_queue_attributes(QueueUrl=self.url(name),
                                          AttributeNames=["DelaySeconds"])["Attributes"]
        self.assertEqual(one, {"DelaySeconds": "0"})
        for attr, bad in [("DelaySeconds", "901"), ("DelaySeconds", "-1"),
                          ("MaximumMessageSize", "1023"), ("MaximumMessageSize", "1048577"),
                          ("MessageRetentionPeriod", "59"),
                          ("MessageRetentionPeriod", "1209601"),
                          ("VisibilityTimeout", "43201"), ("VisibilityTimeout", "ten"),
                          ("ReceiveMessageWaitTimeSeconds", "21"),
                          ("SqsManagedSseEnabled", "yes"), ("Policy", "{not json"),
                          ("KmsDataKeyReusePeriodSeconds", "59")]:
            self.assertAwsError("InvalidAttributeValue", self.c.set_queue_attributes,
                                QueueUrl=self.url(name), Attributes={attr: bad})
        for ro in ["QueueArn", "ApproximateNumberOfMessages", "CreatedTimestamp", "FifoQueue",
                   "Bogus"]:
            self.assertAwsError("InvalidAttributeName", self.c.set_queue_attributes,
                                QueueUrl=self.url(name), Attributes={ro: "1"})
        self.assertAwsError("InvalidAttributeName", self.c.get_queue_attributes,
                            QueueUrl=self.url(name), AttributeNames=["Bogus"])
        # Nothing above changed the queue.
        again = self.c.get_queue_attributes(QueueUrl=self.url(name),
                                            AttributeNames=["All"])["Attributes"]
        self.assertEqual(again, a)
        policy = json.dumps({"Version": "2012-10-17", "Statement": []})
        self.c.set_queue_attributes(QueueUrl=self.url(name), Attributes={
            "VisibilityTimeout": "60", "DelaySeconds": "900", "MaximumMessageSize": "1024",
            "MessageRetentionPeriod": "60", "ReceiveMessageWaitTimeSeconds": "20",
            "Policy": policy})
        a = self.c.get_queue_attributes(QueueUrl=self.url(name),
                                        AttributeNames=["All"])["Attributes"]
        self.assertEqual((a["VisibilityTimeout"], a["DelaySeconds"], a["MaximumMessageSize"],
                          a["MessageRetentionPeriod"], a["ReceiveMessageWaitTimeSeconds"],
                          a["Policy"]), ("60", "900", "1024", "60", "20", policy))
        # An empty Policy removes it.
        self.c.set_queue_attributes(QueueUrl=self.url(name), Attributes={"Policy": ""})
        self.assertNotIn("Policy", self.c.get_queue_attributes(
            QueueUrl=self.url(name), AttributeNames=["All"])["Attributes"])

    def test_redrive_policy_names_an_existing_queue_of_the_same_type(self):
        dlq, src = unique_name("dlq"), unique_name("src")
        self.c.create_queue(QueueName=dlq)
        arn = "arn:aws:sqs:%s:%s:%s" % (harness.REGION, ACCOUNT, dlq)
        policy = json.dumps({"deadLetterTargetArn": arn, "maxReceiveCount": 3})
        self.c.create_queue(QueueName=src, Attributes={"RedrivePolicy": policy})
        got = self.c.get_queue_attributes(QueueUrl=self.url(src),
                                          AttributeNames=["RedrivePolicy"])["Attributes"]
        self.assertEqual(json.loads(got["RedrivePolicy"]),
                         {"deadLetterTargetArn": arn, "maxReceiveCount": 3})
        for bad in [{"deadLetterTargetArn": arn + "-gone", "maxReceiveCount": 3},
                    {"deadLetterTargetArn": arn, "maxReceiveCount": 0},
                    {"deadLetterTargetArn": arn, "maxReceiveCount": 1001},
                    {"maxReceiveCount": 3}]:
            self.assertAwsError("InvalidParameterValue", self.c.set_queue_attributes,
                                QueueUrl=self.url(src),
                                Attributes={"RedrivePolicy": json.dumps(bad)})
        fifo = unique_name("src") + ".fifo"
        self.assertAwsError("InvalidParameterValue", self.c.create_queue, QueueName=fifo,
                            Attributes={"FifoQueue": "true", "RedrivePolicy": policy})
        allow = json.dumps({"redrivePermission": "byQueue",
                            "sourceQueueArns": ["arn:aws:sqs:%s:%s:%s" % (harness.REGION,
                                                                          ACCOUNT, src)]})
        self.c.set_queue_attributes(QueueUrl=self.url(dlq), Attributes={"RedriveAllowPolicy": allow})
        self.assertAwsError("InvalidAttributeValue", self.c.set_queue_attributes,
                            QueueUrl=self.url(dlq),
                            Attributes={"RedriveAllowPolicy": json.dumps(
                                {"redrivePermission": "byQueue"})})

    def test_list_by_prefix_in_pages(self):
        prefix = unique_name("lst")
        names = sorted("%s-%02d" % (prefix, i) for i in range(7))
        for n in names:
            self.c.create_queue(QueueName=n)
        out = self.c.list_queues(QueueNamePrefix=prefix)
        self.assertEqual(out["QueueUrls"], [self.url(n) for n in names])
        self.assertNotIn("NextToken", out)
        got, token = [], None
        for _ in range(10):
            kw = {"QueueNamePrefix": prefix, "MaxResults": 3}
            if token:
                kw["NextToken"] = token
            page = self.c.list_queues(**kw)
            self.assertLessEqual(len(page["QueueUrls"]), 3)
            got += page["QueueUrls"]
            token = page.get("NextToken")
            if not token:
                break
        self.assertEqual(got, [self.url(n) for n in names])
        self.assertNotIn("QueueUrls", self.c.list_queues(QueueNamePrefix=prefix + "-none"))
        self.assertAwsError("InvalidParameterValue", self.c.list_queues, MaxResults=1001)
        self.assertAwsError("InvalidParameterValue", self.c.list_queues, MaxResults=0)
        self.assertAwsError("InvalidParameterValue", self.c.list_queues, MaxResults=5,
                            NextToken="!!!")

    def test_tags(self):
        name = unique_name("t")
        self.c.create_queue(QueueName=name, tags={"team": "core", "env": "dev"})
        self.assertEqual(self.c.list_queue_tags(QueueUrl=self.url(name))["Tags"],
                         {"team": "core", "env": "dev"})
        self.c.tag_queue(QueueUrl=self.url(name), Tags={"env": "prod", "cost": "7"})
        self.c.untag_queue(QueueUrl=self.url(name), TagKeys=["team", "absent"])
        self.assertEqual(self.c.list_queue_tags(QueueUrl=self.url(name))["Tags"],
                         {"env": "prod", "cost": "7"})
        many = {"k%02d" % i: "v" for i in range(49)}
        self.assertAwsError("InvalidParameterValue", self.c.tag_queue, QueueUrl=self.url(name),
                            Tags=many)
        self.assertEqual(len(self.c.list_queue_tags(QueueUrl=self.url(name))["Tags"]), 2,
                         "a refused TagQueue changed nothing")
        self.c.tag_queue(QueueUrl=self.url(name), Tags={"k%02d" % i: "v" for i in range(48)})
        self.assertEqual(len(self.c.list_queue_tags(QueueUrl=self.url(name))["Tags"]), 50)
        self.c.untag_queue(QueueUrl=self.url(name), TagKeys=list(
            self.c.list_queue_tags(QueueUrl=self.url(name))["Tags"]))
        self.assertNotIn("Tags", self.c.list_queue_tags(QueueUrl=self.url(name)))

    def test_unknown_queues_and_urls(self):
        self.assertAwsError("AWS.SimpleQueueService.NonExistentQueue", self.c.get_queue_url,
                            QueueName=unique_name("none"))
        name = unique_name("u")
        self.c.create_queue(QueueName=name)
        self.assertAwsError("AWS.SimpleQueueService.NonExistentQueue", self.c.get_queue_url,
                            QueueName=name, QueueOwnerAWSAccountId="123456789012")
        for url in ["%s/123456789012/%s" % (self.server.endpoint, name),
                    "%s/%s/%s-other" % (self.server.endpoint, ACCOUNT, name), "not a url"]:
            self.assertAwsError("AWS.SimpleQueueService.NonExistentQueue",
                                self.c.get_queue_attributes, QueueUrl=url)
        # Any host in the URL names the same queue.
        self.c.get_queue_attributes(QueueUrl="https://sqs.example.com/%s/%s" % (ACCOUNT, name))

    def test_delete_then_the_name_waits_sixty_seconds(self):
        name = unique_name("d")
        self.c.create_queue(QueueName=name)
        self.c.delete_queue(QueueUrl=self.url(name))
        self.assertAwsError("AWS.SimpleQueueService.NonExistentQueue", self.c.get_queue_url,
                            QueueName=name)
        self.assertAwsError("AWS.SimpleQueueService.NonExistentQueue", self.c.delete_queue,
                            QueueUrl=self.url(name))
        self.assertAwsError("AWS.SimpleQueueService.QueueDeletedRecently", self.c.create_queue,
                            QueueName=name)
        self.server.advance_clock(61000)
        self.assertEqual(self.c.create_queue(QueueName=name)["QueueUrl"], self.url(name))


class SqsRestartTest(harness.KinesisTestCase):
    def test_queues_attributes_and_tags_survive_restart(self):
        with harness.Server(needs_local=True, name="SqsRestartTest") as srv:
            c = srv.client("sqs")
            names = [unique_name("r%d" % i) for i in range(20)]
            for i, n in enumerate(names):
                c.create_queue(QueueName=n, Attributes={"DelaySeconds": str(i)},
                               tags={"i": str(i)})
            c.create_queue(QueueName="r.fifo", Attributes={"FifoQueue": "true"})
            c.delete_queue(QueueUrl=c.get_queue_url(QueueName=names[0])["QueueUrl"])
            before = {u: c.get_queue_attributes(QueueUrl=u, AttributeNames=["All"])["Attributes"]
                      for u in c.list_queues()["QueueUrls"]}
            srv.restart()
            c = srv.client("sqs")
            after = {u: c.get_queue_attributes(QueueUrl=u, AttributeNames=["All"])["Attributes"]
                     for u in c.list_queues()["QueueUrls"]}
            self.assertEqual(after, before)
            self.assertEqual(len(after), 20)
            url = c.get_queue_url(QueueName=names[5])["QueueUrl"]
            self.assertEqual(c.list_queue_tags(QueueUrl=url)["Tags"], {"i": "5"})


QUERY_SCRIPT = textwrap.dedent(r'''
    import sys, json, boto3, botocore
    from botocore.config import Config
    from botocore.exceptions import ClientError
    assert botocore.__version__.startswith("1.29"), botocore.__version__
    c = boto3.client("sqs", endpoint_url=sys.argv[1], region_name="us-east-1",
                     aws_access_key_id="AKID", aws_secret_access_key="secret",
                     config=Config(retries={"total_max_attempts": 1}))
    assert c.meta.service_model.protocol == "query"
    def err(fn, **kw):
        try:
            fn(**kw)
        except ClientError as e:
            return e.response["Error"]["Code"], e.response["ResponseMetadata"]["HTTPStatusCode"]
        raise AssertionError("no error from %s %r" % (fn.__name__, kw))
    p = sys.argv[2]
    url = c.create_queue(QueueName=p + "-a", Attributes={"DelaySeconds": "5"},
                         tags={"a": "b", "c": "d"})["QueueUrl"]
    assert url == "%s/000000000000/%s-a" % (sys.argv[1], p), url
    assert c.create_queue(QueueName=p + "-a", Attributes={"DelaySeconds": "5"})["QueueUrl"] == url
    assert err(c.create_queue, QueueName=p + "-a", Attributes={"DelaySeconds": "6"}) == \
        ("QueueAlreadyExists", 400)
    a = c.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    assert a["DelaySeconds"] == "5" and a["VisibilityTimeout"] == "30", a
    assert a["QueueArn"] == "arn:aws:sqs:us-east-1:000000000000:%s-a" % p, a
    c.set_queue_attributes(QueueUrl=url, Attributes={"VisibilityTimeout": "60",
                                                     "Policy": json.dumps({"Version": "x"})})
    a = c.get_queue_attributes(QueueUrl=url, AttributeNames=["VisibilityTimeout", "Policy"])
    assert a["Attributes"] == {"VisibilityTimeout": "60", "Policy": '{"Version": "x"}'}, a
    assert err(c.set_queue_attributes, QueueUrl=url, Attributes={"DelaySeconds": "901"}) == \
        ("InvalidAttributeValue", 400)
    assert err(c.get_queue_attributes, QueueUrl=url, AttributeNames=["Bogus"]) == \
        ("InvalidAttributeName", 400)
    assert c.list_queue_tags(QueueUrl=url)["Tags"] == {"a": "b", "c": "d"}
    c.tag_queue(QueueUrl=url, Tags={"x": "y"})
    c.untag_queue(QueueUrl=url, TagKeys=["a"])
    assert c.list_queue_tags(QueueUrl=url)["Tags"] == {"c": "d", "x": "y"}
    f = c.create_queue(QueueName=p + "-f.fifo", Attributes={"FifoQueue": "true"})["QueueUrl"]
    fa = c.get_queue_attributes(QueueUrl=f, AttributeNames=["FifoQueue", "DeduplicationScope"])
    assert fa["Attributes"] == {"FifoQueue": "true", "DeduplicationScope": "queue"}, fa
    for i in range(5):
        c.create_queue(QueueName="%s-page%d" % (p, i))
    got, token = [], None
    while True:
        kw = {"QueueNamePrefix": p + "-page", "MaxResults": 2}
        if token:
            kw["NextToken"] = token
        r = c.list_queues(**kw)
        got += r["QueueUrls"]
        token = r.get("NextToken")
        if not token:
            break
    assert got == ["%s/000000000000/%s-page%d" % (sys.argv[1], p, i) for i in range(5)], got
    assert c.get_queue_url(QueueName=p + "-a")["QueueUrl"] == url
    c.delete_queue(QueueUrl=url)
    assert err(c.get_queue_url, QueueName=p + "-a") == \
        ("AWS.SimpleQueueService.NonExistentQueue", 400)
    assert err(c.create_queue, QueueName=p + "-a") == \
        ("AWS.SimpleQueueService.QueueDeletedRecently", 400)
    print("sqs-query-ok")
''')



@unittest.skipUnless(harness.debian_boto3(), "Debian's python3-boto3 is not installed")
class SqsQueryProtocolTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.server = harness.server_for_class(cls)

    def test_queue_lifecycle_over_query_with_botocore_1_29(self):
        harness.check_debian_script(self, QUERY_SCRIPT, "sqs-query-ok", self.server.endpoint, "qp")

    def test_query_by_queue_path_and_raw_xml(self):
        """A query request may name its queue by the URL path; replies are
        XML in the 2012-11-05 namespace, errors an <ErrorResponse>."""
        name = unique_name("raw")
        body = "Action=CreateQueue&Version=2012-11-05&QueueName=%s" % name
        st, out = self.server.raw_request("POST", "/", body.encode(), {
            "Content-Type": "application/x-www-form-urlencoded"})
        self.assertEqual(st, 200, out)
        self.assertIn(b'<CreateQueueResponse xmlns="http://queue.amazonaws.com/doc/2012-11-05/">',
                      out)
        st, out = self.server.raw_request(
            "POST", "/%s/%s" % (ACCOUNT, name),
            b"Action=GetQueueAttributes&Version=2012-11-05&AttributeName.1=DelaySeconds",
            {"Content-Type": "application/x-www-form-urlencoded"})
        self.assertEqual(st, 200, out)
        self.assertIn(b"<Attribute><Name>DelaySeconds</Name><Value>0</Value></Attribute>", out)
        st, out = self.server.raw_request(
            "POST", "/%s/%s-none" % (ACCOUNT, name),
            b"Action=GetQueueAttributes&Version=2012-11-05",
            {"Content-Type": "application/x-www-form-urlencoded"})
        self.assertEqual(st, 400, out)
        self.assertIn(b"<Code>AWS.SimpleQueueService.NonExistentQueue</Code>", out)


PERMISSION_SCRIPT = textwrap.dedent("""
    import json, sys, boto3
    c = boto3.client("sqs", endpoint_url=sys.argv[1], region_name="us-east-1",
                     aws_access_key_id="k", aws_secret_access_key="s")
    u = c.create_queue(QueueName=sys.argv[2])["QueueUrl"]
    c.add_permission(QueueUrl=u, Label="two", AWSAccountIds=["111122223333", "444455556666"],
                     Actions=["ReceiveMessage", "DeleteMessage"])
    p = json.loads(c.get_queue_attributes(QueueUrl=u, AttributeNames=["Policy"])[
        "Attributes"]["Policy"])
    st = p["Statement"][0]
    assert st["Principal"]["AWS"] == ["arn:aws:iam::111122223333:root",
                                      "arn:aws:iam::444455556666:root"], st
    assert st["Action"] == ["SQS:ReceiveMessage", "SQS:DeleteMessage"], st
    c.remove_permission(QueueUrl=u, Label="two")
    assert "Policy" not in c.get_queue_attributes(QueueUrl=u, AttributeNames=["All"])["Attributes"]
    d = c.create_queue(QueueName=sys.argv[2] + "-dlq")["QueueUrl"]
    arn = c.get_queue_attributes(QueueUrl=d, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    c.create_queue(QueueName=sys.argv[2] + "-src", Attributes={"RedrivePolicy": json.dumps(
        {"deadLetterTargetArn": arn, "maxReceiveCount": 2})})
    got = c.list_dead_letter_source_queues(QueueUrl=d)["queueUrls"]
    assert got == [u + "-src"], got
    print("sqs-query-permissions-ok")
""")


class SqsPermissionTest(harness.KinesisTestCase):
    @classmethod
    def setUpClass(cls):
        cls.server = harness.server_for_class(cls)
        cls.c = cls.server.client("sqs")

    def policy(self, url):
        a = self.c.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
        return json.loads(a["Policy"]) if "Policy" in a else None

    def test_add_and_remove_permission_edit_the_policy(self):
        url = self.c.create_queue(QueueName=unique_name("perm"))["QueueUrl"]
        arn = self.c.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])[
            "Attributes"]["QueueArn"]
        self.c.add_permission(QueueUrl=url, Label="send", AWSAccountIds=["111122223333"],
                              Actions=["SendMessage"])
        self.c.add_permission(QueueUrl=url, Label="all", AWSAccountIds=["444455556666"],
                              Actions=["*"])
        p = self.policy(url)
        self.assertEqual(p["Id"], arn + "/SQSDefaultPolicy")
        self.assertEqual(p["Statement"], [
            {"Sid": "send", "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::111122223333:root"},
             "Action": "SQS:SendMessage", "Resource": arn},
            {"Sid": "all", "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::444455556666:root"},
             "Action": "SQS:*", "Resource": arn}])
        c = self.c
        self.assertAwsError("InvalidParameterValue", c.add_permission, QueueUrl=url, Label="send",
                            AWSAccountIds=["111122223333"], Actions=["SendMessage"])
        for bad in ({"Label": "has space"}, {"AWSAccountIds": ["12"]}, {"Actions": ["Fly"]}):
            kw = {"QueueUrl": url, "Label": "x", "AWSAccountIds": ["111122223333"],
                  "Actions": ["SendMessage"]}
            kw.update(bad)
            self.assertAwsError("InvalidParameterValue", c.add_permission, **kw)
        c.remove_permission(QueueUrl=url, Label="send")
        self.assertEqual([s["Sid"] for s in self.policy(url)["Statement"]], ["all"])
        self.assertAwsError("InvalidParameterValue", c.remove_permission, QueueUrl=url,
                            Label="send")
        c.remove_permission(QueueUrl=url, Label="all")
        self.assertIsNone(self.policy(url), "no statement left: no policy")
        # A policy set by hand keeps its statements around the new one.
        mine = {"Version": "2012-10-17", "Id": "mine", "Statement": [
            {"Sid": "own", "Effect": "Deny", "Principal": "*", "Action": "SQS:PurgeQueue",
             "Resource": arn}]}
        c.set_queue_attributes(QueueUrl=url, Attributes={"Policy": json.dumps(mine)})
        c.add_permission(QueueUrl=url, Label="more", AWSAccountIds=["111122223333"],
                         Actions=["GetQueueUrl"])
        p = self.policy(url)
        self.assertEqual((p["Id"], [s["Sid"] for s in p["Statement"]]), ("mine", ["own", "more"]))
        self.assertEqual(p["Statement"][0], mine["Statement"][0])

    def test_dead_letter_sources_and_redrive_allow_policy(self):
        c = self.c
        base = unique_name("dl")
        dlq = c.create_queue(QueueName=base)["QueueUrl"]
        arn = c.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        rp = json.dumps({"deadLetterTargetArn": arn, "maxReceiveCount": 3})
        srcs = [c.create_queue(QueueName="%s-s%d" % (base, i), Attributes={"RedrivePolicy": rp})[
            "QueueUrl"] for i in range(3)]
        c.create_queue(QueueName=base + "-other")
        self.assertEqual(c.list_dead_letter_source_queues(QueueUrl=dlq)["queueUrls"], srcs)
        page = c.list_dead_letter_source_queues(QueueUrl=dlq, MaxResults=2)
        self.assertEqual(page["queueUrls"], srcs[:2])
        rest = c.list_dead_letter_source_queues(QueueUrl=dlq, MaxResults=2,
                                                NextToken=page["NextToken"])
        self.assertEqual(rest["queueUrls"], srcs[2:])
        self.assertNotIn("NextToken", rest)
        self.assertEqual(c.list_dead_letter_source_queues(QueueUrl=srcs[0])["queueUrls"], [])
        # byQueue admits the listed sources only; denyAll none.
        src0_arn = arn + "-s0"
        c.set_queue_attributes(QueueUrl=dlq, Attributes={"RedriveAllowPolicy": json.dumps(
            {"redrivePermission": "byQueue", "sourceQueueArns": [src0_arn]})})
        c.set_queue_attributes(QueueUrl=srcs[0], Attributes={"RedrivePolicy": rp})
        self.assertAwsError("InvalidParameterValue", c.set_queue_attributes, QueueUrl=srcs[1],
                            Attributes={"RedrivePolicy": rp})
        c.set_queue_attributes(QueueUrl=dlq, Attributes={"RedriveAllowPolicy": json.dumps(
            {"redrivePermission": "denyAll"})})
        self.assertAwsError("InvalidParameterValue", c.create_queue, QueueName=base + "-s9",
                            Attributes={"RedrivePolicy": rp})
        # A source the policy refuses now keeps its messages instead of
        # moving them.
        c.send_message(QueueUrl=srcs[1], MessageBody="stays")
        for _ in range(5):
            m = c.receive_message(QueueUrl=srcs[1], VisibilityTimeout=0).get("Messages")
            self.assertTrue(m, "the message moved to a dead-letter queue that refuses it")
        self.assertNotIn("Messages", c.receive_message(QueueUrl=dlq))

    @unittest.skipUnless(harness.debian_boto3(), "Debian's python3-boto3 is not installed")
    def test_permissions_over_query_with_botocore_1_29(self):
        harness.check_debian_script(self, PERMISSION_SCRIPT, "sqs-query-permissions-ok", self.server.endpoint, "qp")


if __name__ == "__main__":
    unittest.main()
