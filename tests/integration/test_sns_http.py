"""SNS deliveries to http endpoints, against a live sluice and a real HTTP
server on loopback: the SubscriptionConfirmation POST (AWS's headers, its
token and SubscribeURL) and confirming with a GET of that URL;
notifications in the envelope or raw, through filter policies and
MessageStructure's "http" entry; retries by the DeliveryPolicy (5xx and
refused connections retried, 4xx not), counted in /metrics; and kill -9
with the endpoint down, every acknowledged publish delivered after the
restart. https endpoints: delivered over TLS when their certificate chains
to --sns-ca-file and names their host, refused (nothing sent) when not."""

import http.server
import json
import os
import shutil
import socket
import ssl
import subprocess
import tempfile
import threading
import time
import urllib.request

from botocore.exceptions import ClientError

import harness
from harness import unique_name


class Endpoint:
    """An HTTP server on 127.0.0.1 that records each request and answers
    with the next of `codes` (then 200)."""

    def __init__(self, port=0, tls=None):
        self.requests = []
        self.codes = []
        self.cond = threading.Condition()
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                n = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(n)
                with outer.cond:
                    code = outer.codes.pop(0) if outer.codes else 200
                    outer.requests.append({"path": self.path, "headers": dict(self.headers),
                                           "body": body.decode(), "code": code,
                                           "at": time.monotonic()})
                    outer.cond.notify_all()
                self.send_response(code)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        class Server(http.server.ThreadingHTTPServer):
            # The deliverer opens up to 64 connections at once: a backlog
            # of 5 (the default) drops SYNs, and their retransmits take
            # seconds.
            request_queue_size = 128
            allow_reuse_address = True

        self.httpd = Server(("127.0.0.1", port), Handler)
        self.scheme = "http"
        if tls:
            # tls: (certificate, key) files. A client that refuses the
            # certificate fails in accept and never reaches the handler.
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.load_cert_chain(*tls)
            self.httpd.socket = ctx.wrap_socket(self.httpd.socket, server_side=True)
            self.scheme = "https"
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def url(self, path="/hook"):
        return "%s://127.0.0.1:%d%s" % (self.scheme, self.port, path)

    def wait(self, n, timeout=15):
        with self.cond:
            self.cond.wait_for(lambda: len(self.requests) >= n, timeout)
            return list(self.requests)

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


def metric(server, name):
    text = server.raw_request("GET", "/metrics")[1].decode()
    return sum(float(l.rsplit(" ", 1)[1]) for l in text.splitlines() if l.startswith(name))


class SnsHttpTest(harness.KinesisTestCase):
    @classmethod
    def setUpClass(cls):
        cls.server = harness.server_for_class(cls, needs_local=True)
        cls.sns = cls.server.client("sns")
        cls.sqs = cls.server.client("sqs")

    def setUp(self):
        self.ep = Endpoint()

    def tearDown(self):
        self.ep.close()

    def subscribe_confirmed(self, topic, path="/hook", attrs=None):
        # Counted before Subscribe: the confirmation may arrive before it
        # returns.
        seen = len(self.ep.requests)
        out = self.sns.subscribe(TopicArn=topic, Protocol="http", Endpoint=self.ep.url(path),
                                 Attributes=attrs or {}, ReturnSubscriptionArn=True)
        sub = out["SubscriptionArn"]
        reqs = self.ep.wait(seen + 1)
        conf = reqs[-1]
        body = json.loads(conf["body"])
        self.assertEqual(conf["headers"]["x-amz-sns-message-type"], "SubscriptionConfirmation")
        with urllib.request.urlopen(body["SubscribeURL"], timeout=10) as r:
            self.assertEqual(r.status, 200)
            self.assertIn(sub.encode(), r.read())
        return sub

    def test_confirmation_then_notifications(self):
        topic = self.sns.create_topic(Name=unique_name("h"))["TopicArn"]
        out = self.sns.subscribe(TopicArn=topic, Protocol="http", Endpoint=self.ep.url())
        self.assertEqual(out["SubscriptionArn"], "pending confirmation")
        conf = self.ep.wait(1)[0]
        self.assertEqual(conf["path"], "/hook")
        h = conf["headers"]
        self.assertEqual(h["x-amz-sns-message-type"], "SubscriptionConfirmation")
        self.assertEqual(h["x-amz-sns-topic-arn"], topic)
        self.assertEqual(h["User-Agent"], "Amazon Simple Notification Service Agent")
        self.assertTrue(h["Content-Type"].startswith("text/plain"))
        body = json.loads(conf["body"])
        self.assertEqual(body["Type"], "SubscriptionConfirmation")
        self.assertEqual(body["TopicArn"], topic)
        self.assertEqual(h["x-amz-sns-message-id"], body["MessageId"])
        self.assertIn("SubscribeURL", body)
        self.assertEqual(len(body["Token"]), 64)
        # Nothing is delivered before the confirmation.
        self.sns.publish(TopicArn=topic, Message="too early")
        time.sleep(0.3)
        self.assertEqual(len(self.ep.requests), 1)
        with urllib.request.urlopen(body["SubscribeURL"], timeout=10) as r:
            self.assertEqual(r.status, 200)
        subs = self.sns.list_subscriptions_by_topic(TopicArn=topic)["Subscriptions"]
        self.assertEqual(len(subs), 1)
        sub = subs[0]["SubscriptionArn"]
        self.assertNotEqual(sub, "PendingConfirmation")
        mid = self.sns.publish(TopicArn=topic, Message="hello", Subject="S", MessageAttributes={
            "color": {"DataType": "String", "StringValue": "red"}})["MessageId"]
        note = self.ep.wait(2)[1]
        h = note["headers"]
        self.assertEqual(h["x-amz-sns-message-type"], "Notification")
        self.assertEqual(h["x-amz-sns-message-id"], mid)
        self.assertEqual(h["x-amz-sns-subscription-arn"], sub)
        env = json.loads(note["body"])
        self.assertEqual((env["Type"], env["MessageId"], env["TopicArn"], env["Subject"],
                          env["Message"]), ("Notification", mid, topic, "S", "hello"))
        self.assertEqual(env["MessageAttributes"], {"color": {"Type": "String", "Value": "red"}})
        self.assertIn("Action=Unsubscribe", env["UnsubscribeURL"])
        # Counted once the endpoint's answer is in.
        deadline = time.monotonic() + 5
        while (metric(self.server, 'sluice_sns_deliveries_total{protocol="http"}') < 2 and
               time.monotonic() < deadline):
            time.sleep(0.05)
        self.assertGreaterEqual(
            metric(self.server, 'sluice_sns_deliveries_total{protocol="http"}'), 2)

    def test_unsubscribe_confirmation_can_restore_the_subscription(self):
        topic = self.sns.create_topic(Name=unique_name("u"))["TopicArn"]
        sub = self.subscribe_confirmed(topic, attrs={"RawMessageDelivery": "true"})
        seen = len(self.ep.requests)
        self.sns.unsubscribe(SubscriptionArn=sub)
        self.assertEqual(self.sns.list_subscriptions_by_topic(TopicArn=topic)["Subscriptions"], [])
        note = self.ep.wait(seen + 1)[-1]
        h = note["headers"]
        self.assertEqual(h["x-amz-sns-message-type"], "UnsubscribeConfirmation")
        self.assertEqual(h["x-amz-sns-topic-arn"], topic)
        body = json.loads(note["body"])
        self.assertEqual((body["Type"], body["TopicArn"]), ("UnsubscribeConfirmation", topic))
        self.assertEqual(h["x-amz-sns-message-id"], body["MessageId"])
        self.assertIn(sub, body["Message"])
        self.assertEqual(len(body["Token"]), 64)
        self.assertIn("Action=ConfirmSubscription", body["SubscribeURL"])
        for k in ("Signature", "SigningCertURL", "SignatureVersion", "Timestamp"):
            self.assertIn(k, body)
        # Ended: a publish reaches nobody.
        self.sns.publish(TopicArn=topic, Message="while gone")
        time.sleep(0.3)
        self.assertEqual(len(self.ep.requests), seen + 1)
        # The SubscribeURL brings it back, with its ARN and attributes.
        with urllib.request.urlopen(body["SubscribeURL"], timeout=10) as r:
            self.assertEqual(r.status, 200)
            self.assertIn(sub.encode(), r.read())
        subs = self.sns.list_subscriptions_by_topic(TopicArn=topic)["Subscriptions"]
        self.assertEqual([s["SubscriptionArn"] for s in subs], [sub])
        attrs = self.sns.get_subscription_attributes(SubscriptionArn=sub)["Attributes"]
        self.assertEqual(attrs["RawMessageDelivery"], "true")
        self.assertEqual(attrs["PendingConfirmation"], "false")
        self.sns.publish(TopicArn=topic, Message="back again")
        got = self.ep.wait(seen + 2)[-1]
        self.assertEqual(got["body"], "back again")
        # A token serves once; a made-up one is refused.
        for token in (body["Token"], "0" * 64):
            with self.assertRaises(ClientError) as e:
                self.sns.confirm_subscription(TopicArn=topic, Token=token)
            self.assertEqual(e.exception.response["Error"]["Code"], "InvalidParameter")

    def test_raw_filtered_and_per_protocol_messages(self):
        topic = self.sns.create_topic(Name=unique_name("hr"))["TopicArn"]
        self.subscribe_confirmed(topic, attrs={"RawMessageDelivery": "true",
                                               "FilterPolicy": json.dumps({"k": ["yes"]})})
        base = len(self.ep.requests)
        self.sns.publish(TopicArn=topic, Message="held back", MessageAttributes={
            "k": {"DataType": "String", "StringValue": "no"}})
        self.sns.publish(TopicArn=topic, Message="raw body", MessageAttributes={
            "k": {"DataType": "String", "StringValue": "yes"}})
        self.sns.publish(TopicArn=topic, MessageStructure="json", Message=json.dumps(
            {"default": "d", "http": "for http", "sqs": "for sqs"}), MessageAttributes={
            "k": {"DataType": "String", "StringValue": "yes"}})
        reqs = self.ep.wait(base + 2)[base:]
        time.sleep(0.3)
        self.assertEqual(len(self.ep.requests), base + 2, "the filtered message is not sent")
        self.assertEqual(sorted(r["body"] for r in reqs), ["for http", "raw body"])
        self.assertTrue(all(r["headers"].get("x-amz-sns-rawdelivery") == "true" for r in reqs))

    def test_retries_follow_the_delivery_policy(self):
        topic = self.sns.create_topic(Name=unique_name("hp"))["TopicArn"]
        policy = {"healthyRetryPolicy": {"numRetries": 2, "minDelayTarget": 1,
                                         "maxDelayTarget": 1, "backoffFunction": "linear"}}
        # AWS's bounds: 100 retries at most, 3,600 s of retries in all.
        for bad in [{"healthyRetryPolicy": {"numRetries": 101}},
                    {"healthyRetryPolicy": {"numRetries": 100, "minDelayTarget": 60,
                                            "maxDelayTarget": 60}},
                    {"healthyRetryPolicy": {"minDelayTarget": 9, "maxDelayTarget": 3}}]:
            e = self.assertAwsError("InvalidParameter", self.sns.subscribe, TopicArn=topic,
                                    Protocol="http", Endpoint=self.ep.url("/bad"),
                                    Attributes={"DeliveryPolicy": json.dumps(bad)})
            self.assertIn("DeliveryPolicy", e.response["Error"]["Message"])
        self.subscribe_confirmed(topic, attrs={"DeliveryPolicy": json.dumps(policy)})
        base = len(self.ep.requests)
        retries0 = metric(self.server, "sluice_sns_http_retries_total")
        failed0 = metric(self.server, 'sluice_sns_delivery_failures_total{protocol="http"}')
        # 500, 503, then 200: the third attempt is delivered, a second apart.
        self.ep.codes = [500, 503]
        self.sns.publish(TopicArn=topic, Message="eventually")
        reqs = self.ep.wait(base + 3)[base:]
        self.assertEqual([r["code"] for r in reqs], [500, 503, 200])
        self.assertEqual(len({r["headers"]["x-amz-sns-message-id"] for r in reqs}), 1)
        for a, b in zip(reqs, reqs[1:]):
            self.assertGreaterEqual(b["at"] - a["at"], 0.9, "minDelayTarget apart")
        # Three 500s: the two retries run out; a 400 is not retried.
        self.ep.codes = [500, 500, 500, 400]
        self.sns.publish(TopicArn=topic, Message="never")
        self.ep.wait(base + 6)
        self.sns.publish(TopicArn=topic, Message="refused")
        self.ep.wait(base + 7)
        time.sleep(1.5)
        self.assertEqual(len(self.ep.requests), base + 7)
        deadline = time.monotonic() + 5
        while (metric(self.server, 'sluice_sns_delivery_failures_total{protocol="http"}') <
               failed0 + 2 and time.monotonic() < deadline):
            time.sleep(0.1)
        self.assertEqual(metric(self.server, 'sluice_sns_delivery_failures_total{protocol="http"}'),
                         failed0 + 2)
        self.assertEqual(metric(self.server, "sluice_sns_http_retries_total"), retries0 + 4)


    def test_per_topic_metrics(self):
        name = unique_name("tm")
        topic = self.sns.create_topic(Name=name)["TopicArn"]
        q = self.sqs.create_queue(QueueName=unique_name("tmq"))["QueueUrl"]
        qarn = self.sqs.get_queue_attributes(QueueUrl=q, AttributeNames=["QueueArn"])[
            "Attributes"]["QueueArn"]
        self.sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=qarn, Attributes={
            "FilterPolicy": json.dumps({"k": ["yes"]})})
        self.subscribe_confirmed(topic)
        seen = len(self.ep.requests)
        lat = 'sluice_sns_delivery_latency_seconds_count{protocol="http"}'
        lat0 = metric(self.server, lat)
        for v in ("yes", "yes", "no"):
            self.sns.publish(TopicArn=topic, Message=v, MessageAttributes={
                "k": {"DataType": "String", "StringValue": v}})
        self.ep.wait(seen + 3)
        labels = 'region="us-east-1",topic="%s"' % name
        deadline = time.monotonic() + 10
        while (metric(self.server, 'sluice_sns_topic_deliveries_total{%s,protocol="http"}'
                      % labels) < 3 and time.monotonic() < deadline):
            time.sleep(0.05)
        self.assertEqual(metric(self.server, "sluice_sns_topic_publishes_total{%s}" % labels), 3)
        self.assertEqual(metric(self.server, "sluice_sns_topic_filtered_total{%s}" % labels), 1)
        self.assertEqual(metric(self.server, 'sluice_sns_topic_deliveries_total{%s,protocol="sqs"}'
                                % labels), 2)
        self.assertEqual(metric(self.server,
                                'sluice_sns_topic_deliveries_total{%s,protocol="http"}' % labels), 3)
        self.assertGreaterEqual(metric(self.server, lat), lat0 + 3)
        # A deleted topic leaves /metrics.
        self.sns.delete_topic(TopicArn=topic)
        text = self.server.raw_request("GET", "/metrics")[1].decode()
        self.assertNotIn('topic="%s"' % name, text)

    def test_throttle_policy_spaces_deliveries(self):
        topic = self.sns.create_topic(Name=unique_name("thr"))["TopicArn"]
        self.subscribe_confirmed(topic, attrs={
            "RawMessageDelivery": "true",
            "DeliveryPolicy": json.dumps({"throttlePolicy": {"maxReceivesPerSecond": 2}})})
        seen = len(self.ep.requests)
        sent = ["t%d" % i for i in range(6)]
        self.sns.publish_batch(TopicArn=topic, PublishBatchRequestEntries=[
            {"Id": m, "Message": m} for m in sent])
        reqs = self.ep.wait(seen + 6, timeout=20)[seen:]
        self.assertEqual(sorted(r["body"] for r in reqs), sent)
        # 2 a second: the sixth starts the third second at the earliest.
        self.assertGreaterEqual(reqs[-1]["at"] - reqs[0]["at"], 1.8)

    def test_undeliverable_messages_go_to_the_dead_letter_queue(self):
        topic = self.sns.create_topic(Name=unique_name("hd"))["TopicArn"]
        dlq = self.sqs.create_queue(QueueName=unique_name("dlq"))["QueueUrl"]
        dlq_arn = self.sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])[
            "Attributes"]["QueueArn"]
        for bad in ["not json", json.dumps({"deadLetterTargetArn": "arn:aws:sns:x"}),
                    json.dumps({"other": dlq_arn})]:
            self.assertAwsError("InvalidParameter", self.sns.subscribe, TopicArn=topic,
                                Protocol="http", Endpoint=self.ep.url(),
                                Attributes={"RedrivePolicy": bad})
        self.subscribe_confirmed(topic, attrs={
            "RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn}),
            "DeliveryPolicy": json.dumps({"healthyRetryPolicy": {
                "numRetries": 1, "minDelayTarget": 1, "maxDelayTarget": 1}})})
        base = len(self.ep.requests)
        dead0 = metric(self.server, "sluice_sns_dead_lettered_total")
        # Out of retries (two 500s), then refused at once (a 403).
        self.ep.codes = [500, 500]
        ids = [self.sns.publish(TopicArn=topic, Message="retried")["MessageId"]]
        self.ep.wait(base + 2)
        self.ep.codes = [403]
        ids.append(self.sns.publish(TopicArn=topic, Message="refused")["MessageId"])
        self.ep.wait(base + 3)
        got = []
        deadline = time.monotonic() + 10
        while len(got) < 2 and time.monotonic() < deadline:
            got += self.sqs.receive_message(QueueUrl=dlq, MaxNumberOfMessages=10,
                                            WaitTimeSeconds=1).get("Messages", [])
        envs = sorted((json.loads(m["Body"]) for m in got), key=lambda e: e["Message"])
        self.assertEqual([(e["Message"], e["MessageId"]) for e in envs],
                         [("refused", ids[1]), ("retried", ids[0])])
        self.assertEqual(metric(self.server, "sluice_sns_dead_lettered_total"), dead0 + 2)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def make_cert(directory, name, san):
    """A self-signed certificate and key for san ("IP:127.0.0.1", "DNS:x")."""
    cert, key = os.path.join(directory, name + ".pem"), os.path.join(directory, name + ".key")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                    "-subj", "/CN=" + name, "-addext", "subjectAltName=" + san,
                    "-keyout", key, "-out", cert], check=True, capture_output=True)
    return cert, key


class SnsHttpsTest(harness.KinesisTestCase):
    """https endpoints: TLS checked against --sns-ca-file (the certificate
    must chain to it and name the endpoint's host)."""

    @classmethod
    def setUpClass(cls):
        cls.tls_dir = tempfile.mkdtemp(prefix="sluice-tls-")
        cls.good = make_cert(cls.tls_dir, "good", "IP:127.0.0.1")
        cls.untrusted = make_cert(cls.tls_dir, "untrusted", "IP:127.0.0.1")
        # Trusted, but for another host than the endpoint's.
        cls.wrong_host = make_cert(cls.tls_dir, "wronghost", "DNS:elsewhere.test")
        bundle = os.path.join(cls.tls_dir, "ca.pem")
        with open(bundle, "w") as out:
            for c in (cls.good[0], cls.wrong_host[0]):
                out.write(open(c).read())
        cls.server = harness.server_for_class(cls, extra_args=["--sns-ca-file", bundle])
        cls.sns = cls.server.client("sns")

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tls_dir, ignore_errors=True)

    def test_confirmation_and_notification_over_tls(self):
        ep = Endpoint(tls=self.good)
        try:
            topic = self.sns.create_topic(Name=unique_name("tls"))["TopicArn"]
            self.sns.subscribe(TopicArn=topic, Protocol="https", Endpoint=ep.url())
            conf = ep.wait(1)[0]
            body = json.loads(conf["body"])
            self.assertEqual(body["Type"], "SubscriptionConfirmation")
            with urllib.request.urlopen(body["SubscribeURL"], timeout=10) as r:
                self.assertEqual(r.status, 200)
            sub = self.sns.list_subscriptions_by_topic(TopicArn=topic)["Subscriptions"][0]
            self.assertEqual(sub["Protocol"], "https")
            self.assertNotEqual(sub["SubscriptionArn"], "PendingConfirmation")
            big = "x" * 200000  # more than one TLS record each way
            mid = self.sns.publish(TopicArn=topic, Message=big)["MessageId"]
            note = ep.wait(2)[1]
            self.assertEqual(note["headers"]["x-amz-sns-message-id"], mid)
            self.assertEqual(json.loads(note["body"])["Message"], big)
        finally:
            ep.close()

    def refused(self, tls):
        ep = Endpoint(tls=tls)
        try:
            before = metric(self.server, 'sluice_sns_delivery_failures_total{protocol="http"}')
            topic = self.sns.create_topic(Name=unique_name("tlsbad"), Attributes={
                "DeliveryPolicy": json.dumps({"http": {"defaultHealthyRetryPolicy": {
                    "numRetries": 1, "minDelayTarget": 1, "maxDelayTarget": 1}}})})["TopicArn"]
            self.sns.subscribe(TopicArn=topic, Protocol="https", Endpoint=ep.url())
            deadline = time.monotonic() + 15
            while time.monotonic() < deadline:
                if metric(self.server,
                          'sluice_sns_delivery_failures_total{protocol="http"}') > before:
                    break
                time.sleep(0.1)
            self.assertEqual(metric(self.server,
                                    'sluice_sns_delivery_failures_total{protocol="http"}'),
                             before + 1, "the confirmation fails once its retries run out")
            self.assertEqual(ep.requests, [], "no request is sent over an unchecked connection")
        finally:
            ep.close()

    def test_untrusted_certificate_is_refused(self):
        self.refused(self.untrusted)

    def test_certificate_of_another_host_is_refused(self):
        self.refused(self.wrong_host)


class SnsHttpCrashTest(harness.KinesisTestCase):
    def test_kill9_with_the_endpoint_down_loses_no_acknowledged_publish(self):
        with harness.Server(needs_local=True, name="SnsHttpCrashTest") as srv:
            sns = srv.client("sns")
            ep = Endpoint()
            port = ep.port
            try:
                topic = sns.create_topic(Name=unique_name("hk"))["TopicArn"]
                sns.subscribe(TopicArn=topic, Protocol="http", Endpoint=ep.url(), Attributes={
                    "RawMessageDelivery": "true", "DeliveryPolicy": json.dumps(
                        {"healthyRetryPolicy": {"numRetries": 50, "minDelayTarget": 1,
                                                "maxDelayTarget": 1}})})
                body = json.loads(ep.wait(1)[0]["body"])
                with urllib.request.urlopen(body["SubscribeURL"], timeout=10) as r:
                    self.assertEqual(r.status, 200)
            finally:
                ep.close()
            # The endpoint is down: every publish is acknowledged, none delivered.
            sent = ["m%03d" % i for i in range(100)]
            for m in sent:
                sns.publish(TopicArn=topic, Message=m)
            srv.kill9()
            srv.start()
            ep = Endpoint(port)
            try:
                deadline = time.monotonic() + 20
                while time.monotonic() < deadline:
                    got = {r["body"] for r in ep.requests if r["code"] == 200}
                    if got >= set(sent):
                        break
                    time.sleep(0.2)
                self.assertEqual(set(sent) - got, set(), "every acknowledged publish arrives")
            finally:
                ep.close()
