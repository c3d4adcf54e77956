"""SNS mobile push against a live sluice: platform applications and
endpoints (create, idempotent tokens, attributes, listing in pages,
delete with their endpoints, kept across restart), and pushes by
TargetArn and through topic subscriptions into the outbox
(GET /_sluice/sns/outbox?protocol=application), with the platform's
MessageStructure entry; disabled endpoints get nothing, and a publish
straight to one fails with EndpointDisabled."""

import json
import time

import harness
from harness import unique_name
from test_sns_outbox import outbox, wait_outbox


class SnsPushTest(harness.KinesisTestCase):
    @classmethod
    def setUpClass(cls):
        cls.server = harness.server_for_class(cls, needs_local=True)
        cls.sns = cls.server.client("sns")

    def app(self, platform="GCM", **attrs):
        attrs.setdefault("PlatformCredential", "server-key")
        if platform.startswith("APNS"):
            attrs.setdefault("PlatformPrincipal", "cert")
        return self.sns.create_platform_application(Name=unique_name("app"), Platform=platform,
                                                    Attributes=attrs)["PlatformApplicationArn"]

    def test_applications(self):
        arn = self.app("GCM")
        self.assertRegex(arn, r"^arn:aws:sns:us-east-1:000000000000:app/GCM/app-")
        attrs = self.sns.get_platform_application_attributes(PlatformApplicationArn=arn)[
            "Attributes"]
        self.assertEqual(attrs["Enabled"], "true")
        self.assertNotIn("PlatformCredential", attrs, "the credential is write-only")
        self.sns.set_platform_application_attributes(PlatformApplicationArn=arn, Attributes={
            "EventEndpointCreated": "arn:aws:sns:us-east-1:000000000000:t"})
        self.assertEqual(self.sns.get_platform_application_attributes(
            PlatformApplicationArn=arn)["Attributes"]["EventEndpointCreated"],
            "arn:aws:sns:us-east-1:000000000000:t")
        listed = [a["PlatformApplicationArn"] for a in self.sns.list_platform_applications()[
            "PlatformApplications"]]
        self.assertIn(arn, listed)
        self.assertAwsError("InvalidParameter", self.sns.create_platform_application,
                            Name="x", Platform="NOKIA", Attributes={"PlatformCredential": "k"})
        self.assertAwsError("InvalidParameter", self.sns.create_platform_application,
                            Name="x", Platform="APNS", Attributes={"PlatformCredential": "k"})
        self.assertAwsError("InvalidParameter", self.sns.create_platform_application,
                            Name="bad name", Platform="GCM",
                            Attributes={"PlatformCredential": "k"})
        self.assertAwsError("InvalidParameter", self.sns.create_platform_application,
                            Name="x", Platform="GCM", Attributes={"Bogus": "k"})
        missing = arn.rsplit("/", 1)[0] + "/nope"
        self.assertAwsError("NotFound", self.sns.get_platform_application_attributes,
                            PlatformApplicationArn=missing, status=404)

    def test_endpoints(self):
        app = self.app("APNS")
        ep = self.sns.create_platform_endpoint(PlatformApplicationArn=app, Token="tok-1",
                                               CustomUserData="user 1")["EndpointArn"]
        self.assertRegex(ep, r":endpoint/APNS/app-[^/]+/[0-9a-f-]{36}$")
        # The same token and attributes: the same endpoint; other attributes: refused.
        self.assertEqual(self.sns.create_platform_endpoint(
            PlatformApplicationArn=app, Token="tok-1", CustomUserData="user 1")["EndpointArn"], ep)
        self.assertAwsError("InvalidParameter", self.sns.create_platform_endpoint,
                            PlatformApplicationArn=app, Token="tok-1", CustomUserData="other")
        self.assertEqual(self.sns.get_endpoint_attributes(EndpointArn=ep)["Attributes"],
                         {"CustomUserData": "user 1", "Enabled": "true", "Token": "tok-1"})
        self.sns.set_endpoint_attributes(EndpointArn=ep, Attributes={"Enabled": "false",
                                                                     "Token": "tok-2"})
        self.assertEqual(self.sns.get_endpoint_attributes(EndpointArn=ep)["Attributes"],
                         {"CustomUserData": "user 1", "Enabled": "false", "Token": "tok-2"})
        self.assertAwsError("InvalidParameter", self.sns.set_endpoint_attributes,
                            EndpointArn=ep, Attributes={"Enabled": "maybe"})
        arns = [ep] + [self.sns.create_platform_endpoint(PlatformApplicationArn=app,
                                                         Token="t%03d" % i)["EndpointArn"]
                       for i in range(104)]
        seen, token = [], None
        while True:
            kw = {"NextToken": token} if token else {}
            out = self.sns.list_endpoints_by_platform_application(PlatformApplicationArn=app,
                                                                  **kw)
            self.assertLessEqual(len(out["Endpoints"]), 100)
            seen += [e["EndpointArn"] for e in out["Endpoints"]]
            token = out.get("NextToken")
            if not token:
                break
        self.assertEqual(sorted(seen), sorted(arns))
        self.sns.delete_endpoint(EndpointArn=arns[1])
        self.sns.delete_endpoint(EndpointArn=arns[1])  # gone already: fine
        self.assertAwsError("NotFound", self.sns.get_endpoint_attributes, EndpointArn=arns[1],
                            status=404)
        self.sns.delete_platform_application(PlatformApplicationArn=app)
        self.assertAwsError("NotFound", self.sns.get_endpoint_attributes, EndpointArn=ep,
                            status=404)
        self.assertAwsError("NotFound", self.sns.list_endpoints_by_platform_application,
                            PlatformApplicationArn=app, status=404)

    def test_pushes_reach_the_outbox(self):
        app = self.app("GCM")
        ep = self.sns.create_platform_endpoint(PlatformApplicationArn=app, Token="device-a",
                                               CustomUserData="alice")["EndpointArn"]
        off = self.sns.create_platform_endpoint(PlatformApplicationArn=app, Token="device-b",
                                                Attributes={"Enabled": "false"})["EndpointArn"]
        mid = self.sns.publish(TargetArn=ep, Message="direct push")["MessageId"]
        (rec,) = wait_outbox(self.server, "application", lambda m: m["messageId"] == mid)
        self.assertEqual((rec["endpointArn"], rec["platform"], rec["token"], rec["message"],
                          rec["customUserData"]), (ep, "GCM", "device-a", "direct push", "alice"))
        self.assertAwsError("EndpointDisabled", self.sns.publish, TargetArn=off, Message="x")
        self.assertAwsError("NotFound", self.sns.publish, TargetArn=ep[:-36] + "0" * 8 + "-" +
                            "0" * 4 + "-" + "0" * 4 + "-" + "0" * 4 + "-" + "0" * 12,
                            Message="x", status=404)
        topic = self.sns.create_topic(Name=unique_name("push"))["TopicArn"]
        sub = self.sns.subscribe(TopicArn=topic, Protocol="application", Endpoint=ep,
                                 ReturnSubscriptionArn=True)["SubscriptionArn"]
        self.sns.subscribe(TopicArn=topic, Protocol="application", Endpoint=off)
        mid = self.sns.publish(TopicArn=topic, MessageStructure="json", Message=json.dumps({
            "default": "plain", "GCM": json.dumps({"notification": {"title": "hi"}})}))[
            "MessageId"]
        got = wait_outbox(self.server, "application", lambda m: m["messageId"] == mid)
        time.sleep(0.2)
        got = [m for m in outbox(self.server, "application") if m["messageId"] == mid]
        self.assertEqual(len(got), 1, "the disabled endpoint gets nothing")
        self.assertEqual(got[0]["endpointArn"], ep)
        self.assertEqual(got[0]["subscriptionArn"], sub)
        self.assertEqual(json.loads(got[0]["message"]), {"notification": {"title": "hi"}})


class SnsPushRestartTest(harness.KinesisTestCase):
    def test_applications_and_endpoints_survive_kill9(self):
        with harness.Server(needs_local=True, name="SnsPushRestartTest") as srv:
            sns = srv.client("sns")
            app = sns.create_platform_application(Name=unique_name("app"), Platform="GCM",
                                                  Attributes={"PlatformCredential": "k"})[
                "PlatformApplicationArn"]
            ep = sns.create_platform_endpoint(PlatformApplicationArn=app, Token="tk",
                                              CustomUserData="d")["EndpointArn"]
            srv.kill9()
            srv.start()
            sns = srv.client("sns")
            self.assertEqual(sns.get_endpoint_attributes(EndpointArn=ep)["Attributes"],
                             {"CustomUserData": "d", "Enabled": "true", "Token": "tk"})
            mid = sns.publish(TargetArn=ep, Message="after restart")["MessageId"]
            self.assertEqual(len(wait_outbox(srv, "application",
                                             lambda m: m["messageId"] == mid)), 1)
