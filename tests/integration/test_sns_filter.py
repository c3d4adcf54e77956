"""SNS filter policies against a live sluice, through boto3: policies on
message attributes and on the message body hold back what they do not
match (each queue receives exactly what its policy lets through, counted
in /metrics), AWS's limits and errors when a policy is set, a scope change
checks the policy again, an emptied policy lets everything through, and a
policy survives kill -9 and restart."""

import json

import harness
from harness import unique_name
from test_sns import SnsCase


def s(v):
    return {"DataType": "String", "StringValue": v}


def n(v):
    return {"DataType": "Number", "StringValue": str(v)}


class SnsFilterTest(SnsCase):
    @classmethod
    def setUpClass(cls):
        cls.server = harness.server_for_class(cls, needs_local=True)
        cls.sns = cls.server.client("sns")
        cls.sqs = cls.server.client("sqs")

    def subscribe(self, topic, policy=None, scope=None):
        url, qarn = self.queue()
        attrs = {"RawMessageDelivery": "true"}
        if policy is not None:
            attrs["FilterPolicy"] = json.dumps(policy)
        if scope:
            attrs["FilterPolicyScope"] = scope
        sub = self.sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=qarn,
                                 Attributes=attrs, ReturnSubscriptionArn=True)["SubscriptionArn"]
        return url, sub

    def bodies(self, url, expect):
        got = sorted(m["Body"] for m in self.drain(url, expect, timeout=5))
        self.assertEmpty(url)
        return got

    def filtered(self):
        text = self.server.raw_request("GET", "/metrics")[1].decode()
        return [float(l.rsplit(" ", 1)[1]) for l in text.splitlines()
                if l.startswith("sluice_sns_filtered_total")][0]

    def test_attribute_policies_deliver_only_what_they_match(self):
        topic = self.sns.create_topic(Name=unique_name("fa"))["TopicArn"]
        red_cheap, _ = self.subscribe(topic, {
            "color": ["red", {"prefix": "dark"}],
            "price": [{"numeric": [">", 0, "<=", 100]}]})
        not_test, _ = self.subscribe(topic, {
            "env": [{"anything-but": ["test", "dev"]}, {"exists": False}]})
        tagged, _ = self.subscribe(topic, {"$or": [{"tags": ["urgent"]},
                                                    {"ip": [{"cidr": "10.1.0.0/16"}]}]})
        everything, _ = self.subscribe(topic)
        messages = [
            ("m1", {"color": s("red"), "price": n(10)}),
            ("m2", {"color": s("darkblue"), "price": n(100), "env": s("prod")}),
            ("m3", {"color": s("red"), "price": n(101), "env": s("test")}),
            ("m4", {"color": s("blue"), "price": n(5), "env": s("dev"),
                    "tags": {"DataType": "String.Array", "StringValue": '["low","urgent"]'}}),
            ("m5", {"price": s("10"), "color": s("red"), "ip": s("10.1.2.3")}),
            ("m6", {}),
        ]
        before = self.filtered()
        for body, attrs in messages:
            self.sns.publish(TopicArn=topic, Message=body, MessageAttributes=attrs)
        self.assertEqual(self.bodies(red_cheap, 2), ["m1", "m2"])
        self.assertEqual(self.bodies(not_test, 4), ["m1", "m2", "m5", "m6"])
        self.assertEqual(self.bodies(tagged, 2), ["m4", "m5"])
        self.assertEqual(self.bodies(everything, 6), ["m%d" % i for i in range(1, 7)])
        self.assertEqual(self.filtered() - before, 4 + 2 + 4, "each held-back delivery counted")

    def test_body_policies_match_nested_keys(self):
        topic = self.sns.create_topic(Name=unique_name("fb"))["TopicArn"]
        books, _ = self.subscribe(topic, {
            "order": {"items": {"kind": ["book"]}, "total": [{"numeric": [">=", 20]}]}},
            scope="MessageBody")
        either, _ = self.subscribe(topic, {"$or": [{"status": ["paid"]},
                                                    {"order": {"rush": [True]}}]},
                                   scope="MessageBody")
        bodies = [
            {"order": {"items": [{"kind": "pen"}, {"kind": "book"}], "total": 25}, "status": "new"},
            {"order": {"items": [{"kind": "pen"}], "total": 99, "rush": True}},
            {"order": {"items": {"kind": "book"}, "total": 19.5}, "status": "paid"},
        ]
        for b in bodies:
            self.sns.publish(TopicArn=topic, Message=json.dumps(b),
                             MessageAttributes={"status": s("paid")})
        self.sns.publish(TopicArn=topic, Message="not json at all")
        got = [json.loads(x) for x in self.bodies(books, 1)]
        self.assertEqual(got, [bodies[0]])
        got = sorted(self.bodies(either, 2))
        self.assertEqual(got, sorted(json.dumps(b) for b in bodies[1:]))

    def test_setting_policies_checks_them_as_aws_does(self):
        topic = self.sns.create_topic(Name=unique_name("fs"))["TopicArn"]
        url, sub = self.subscribe(topic)
        set_attr = self.sns.set_subscription_attributes
        policy = json.dumps({"a": ["x"]})
        set_attr(SubscriptionArn=sub, AttributeName="FilterPolicy", AttributeValue=policy)
        a = self.sns.get_subscription_attributes(SubscriptionArn=sub)["Attributes"]
        self.assertEqual(a["FilterPolicy"], policy)
        bad = [
            ("not json", "parse JSON"),
            (json.dumps({"a": []}), "Empty arrays"),
            (json.dumps({"a": [{"regex": "x"}]}), "Unrecognized match type"),
            (json.dumps({"a": {"b": ["x"]}}), "nested"),
            (json.dumps({k: ["x"] for k in "abcdef"}), "more than 5 keys"),
            (json.dumps({"a": list(range(151))}), "too complex"),
            (json.dumps({"a": list(range(15)), "b": list(range(11))}), "too complex"),
        ]
        for text, reason in bad:
            e = self.assertAwsError("InvalidParameter", set_attr, SubscriptionArn=sub,
                                    AttributeName="FilterPolicy", AttributeValue=text)
            self.assertIn("FilterPolicy", e.response["Error"]["Message"])
            self.assertIn(reason, e.response["Error"]["Message"])
        self.assertEqual(self.sns.get_subscription_attributes(SubscriptionArn=sub)[
            "Attributes"]["FilterPolicy"], policy, "a refused policy changes nothing")
        # The subscribe that names a bad policy makes no subscription.
        _, qarn = self.queue()
        self.assertAwsError("InvalidParameter", self.sns.subscribe, TopicArn=topic,
                            Protocol="sqs", Endpoint=qarn,
                            Attributes={"FilterPolicy": json.dumps({"a": "x"})})
        subs = self.sns.list_subscriptions_by_topic(TopicArn=topic)["Subscriptions"]
        self.assertEqual([x["Endpoint"] for x in subs if x["Endpoint"] == qarn], [])
        # A nested policy needs scope MessageBody; going back to
        # MessageAttributes is refused while it is nested.
        nested = json.dumps({"a": {"b": ["x"]}})
        set_attr(SubscriptionArn=sub, AttributeName="FilterPolicyScope",
                 AttributeValue="MessageBody")
        set_attr(SubscriptionArn=sub, AttributeName="FilterPolicy", AttributeValue=nested)
        self.assertAwsError("InvalidParameter", set_attr, SubscriptionArn=sub,
                            AttributeName="FilterPolicyScope", AttributeValue="MessageAttributes")
        self.assertAwsError("InvalidParameter", set_attr, SubscriptionArn=sub,
                            AttributeName="FilterPolicyScope", AttributeValue="Body")
        self.sns.publish(TopicArn=topic, Message=json.dumps({"a": {"b": "x"}}))
        self.sns.publish(TopicArn=topic, Message=json.dumps({"a": {"b": "y"}}))
        self.assertEqual(self.bodies(url, 1), [json.dumps({"a": {"b": "x"}})])
        # An empty policy removes it: everything is delivered again.
        set_attr(SubscriptionArn=sub, AttributeName="FilterPolicy", AttributeValue="")
        self.assertNotIn("FilterPolicy", self.sns.get_subscription_attributes(
            SubscriptionArn=sub)["Attributes"])
        self.sns.publish(TopicArn=topic, Message="plain")
        self.assertEqual(self.bodies(url, 1), ["plain"])

    def test_a_topic_holds_200_filtered_subscriptions(self):
        topic = self.sns.create_topic(Name=unique_name("fl"))["TopicArn"]
        policy = json.dumps({"k": ["v"]})
        for _ in range(200):
            self.subscribe(topic, {"k": ["v"]})
        _, qarn = self.queue()
        self.assertAwsError("FilterPolicyLimitExceeded", self.sns.subscribe, TopicArn=topic,
                            Protocol="sqs", Endpoint=qarn, Attributes={"FilterPolicy": policy},
                            status=403)
        # Without a policy it subscribes; setting one is then refused.
        sub = self.sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=qarn,
                                 ReturnSubscriptionArn=True)["SubscriptionArn"]
        self.assertAwsError("FilterPolicyLimitExceeded", self.sns.set_subscription_attributes,
                            SubscriptionArn=sub, AttributeName="FilterPolicy",
                            AttributeValue=policy, status=403)


class SnsFilterRestartTest(SnsCase):
    def test_policies_survive_kill9_and_restart(self):
        with harness.Server(needs_local=True, name="SnsFilterRestartTest") as srv:
            self.sns, self.sqs = srv.client("sns"), srv.client("sqs")
            topic = self.sns.create_topic(Name=unique_name("fr"))["TopicArn"]
            url, qarn = self.queue()
            self.sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=qarn, Attributes={
                "RawMessageDelivery": "true", "FilterPolicyScope": "MessageBody",
                "FilterPolicy": json.dumps({"kind": [{"prefix": "keep"}]})})
            srv.kill9()
            srv.start()
            self.sns, self.sqs = srv.client("sns"), srv.client("sqs")
            for kind in ["keep-1", "drop", "keep-2"]:
                self.sns.publish(TopicArn=topic, Message=json.dumps({"kind": kind}))
            got = sorted(json.loads(m["Body"])["kind"] for m in self.drain(url, 2))
            self.assertEqual(got, ["keep-1", "keep-2"])
            self.assertEmpty(url)
