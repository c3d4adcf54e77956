"""SNS message signatures, checked as a subscriber checks them: the
certificate fetched from SigningCertURL, and the signature of AWS's string
to sign verified with its public key (the `cryptography` package, OpenSSL
underneath), for SignatureVersion 1 (SHA1withRSA) and 2 (SHA256withRSA), in
envelopes delivered to SQS queues and POSTed to http endpoints, and for the
SubscriptionConfirmation. A message changed after signing fails the check.
The key survives a restart, and --public-url moves every URL in a message."""

import base64
import json
import urllib.request

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding
from cryptography.x509.oid import NameOID

import harness
from harness import unique_name
from test_sns_http import Endpoint

NOTIFICATION_KEYS = ["Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type"]
CONFIRMATION_KEYS = ["Message", "MessageId", "SubscribeURL", "Timestamp", "Token", "TopicArn",
                     "Type"]


def string_to_sign(env):
    keys = NOTIFICATION_KEYS if env["Type"] == "Notification" else CONFIRMATION_KEYS
    return "".join("%s\n%s\n" % (k, env[k]) for k in keys if k in env).encode()


def fetch_cert(url):
    with urllib.request.urlopen(url, timeout=10) as r:
        return r.read()


def verify(env, cert_pem=None):
    """Raises InvalidSignature unless env's signature verifies."""
    cert = x509.load_pem_x509_certificate(cert_pem or fetch_cert(env["SigningCertURL"]))
    digest = {"1": hashes.SHA1(), "2": hashes.SHA256()}[env["SignatureVersion"]]
    cert.public_key().verify(base64.b64decode(env["Signature"]), string_to_sign(env),
                             padding.PKCS1v15(), digest)
    return cert


class SnsSignatureTest(harness.KinesisTestCase):
    @classmethod
    def setUpClass(cls):
        cls.server = harness.server_for_class(cls, needs_local=True)
        cls.sns = cls.server.client("sns")
        cls.sqs = cls.server.client("sqs")

    def topic_with_queue(self, attrs=None, raw=False):
        topic = self.sns.create_topic(Name=unique_name("sig"), Attributes=attrs or {})["TopicArn"]
        q = self.sqs.create_queue(QueueName=unique_name("sigq"))["QueueUrl"]
        qarn = self.sqs.get_queue_attributes(QueueUrl=q, AttributeNames=["QueueArn"])[
            "Attributes"]["QueueArn"]
        self.sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=qarn,
                           Attributes={"RawMessageDelivery": "true" if raw else "false"})
        return topic, q

    def receive(self, q):
        out = self.sqs.receive_message(QueueUrl=q, WaitTimeSeconds=5, MaxNumberOfMessages=10)
        self.assertIn("Messages", out)
        return [json.loads(m["Body"]) for m in out["Messages"]]

    def test_sqs_envelopes_verify_in_both_versions(self):
        for version in ("1", "2"):
            topic, q = self.topic_with_queue({"SignatureVersion": version})
            self.sns.publish(TopicArn=topic, Message="h\u00e9llo\nworld \"quoted\"",
                             Subject="a subject")
            self.sns.publish(TopicArn=topic, Message="no subject")
            envs = self.receive(q)
            self.assertEqual(len(envs), 2)
            for env in envs:
                self.assertEqual(env["SignatureVersion"], version)
                self.assertRegex(env["SigningCertURL"],
                                 r"^http://[^/]+/SimpleNotificationService-[0-9a-f]{32}\.pem$")
                cert = verify(env)
                cn = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value
                self.assertEqual(cn, "sns.amazonaws.com")
                # Any signed field changed: the check fails.
                for key, value in (("Message", env["Message"] + "!"),
                                   ("Timestamp", "2001-01-01T00:00:00.000Z"),
                                   ("Subject", "forged")):
                    forged = dict(env, **{key: value})
                    with self.assertRaises(InvalidSignature):
                        verify(forged)

    def test_signature_version_change_and_batch(self):
        topic, q = self.topic_with_queue()
        self.sns.publish(TopicArn=topic, Message="version 1")
        (env,) = self.receive(q)
        self.assertEqual(env["SignatureVersion"], "1")
        self.sns.set_topic_attributes(TopicArn=topic, AttributeName="SignatureVersion",
                                      AttributeValue="2")
        self.sns.publish_batch(TopicArn=topic, PublishBatchRequestEntries=[
            {"Id": "e%d" % i, "Message": "batch %d" % i} for i in range(10)])
        envs = []
        for _ in range(5):
            envs += self.receive(q)
            if len(envs) >= 10:
                break
        self.assertEqual(sorted(e["Message"] for e in envs), ["batch %d" % i for i in range(10)])
        sigs = set()
        for env in envs:
            self.assertEqual(env["SignatureVersion"], "2")
            verify(env)
            sigs.add(env["Signature"])
        self.assertEqual(len(sigs), 10, "each message has its own signature")

    def test_message_structure_texts_are_signed_apart(self):
        topic, q = self.topic_with_queue()
        ep = Endpoint()
        try:
            out = self.sns.subscribe(TopicArn=topic, Protocol="http", Endpoint=ep.url())
            self.assertEqual(out["SubscriptionArn"], "pending confirmation")
            conf = json.loads(ep.wait(1)[0]["body"])
            self.assertEqual(conf["Type"], "SubscriptionConfirmation")
            verify(conf)
            with self.assertRaises(InvalidSignature):
                verify(dict(conf, Token="0" * 64))
            with urllib.request.urlopen(conf["SubscribeURL"], timeout=10) as r:
                self.assertEqual(r.status, 200)
            self.sns.publish(TopicArn=topic, MessageStructure="json", Message=json.dumps(
                {"default": "d", "sqs": "for the queue", "http": "for the endpoint"}))
            note = json.loads(ep.wait(2)[1]["body"])
            self.assertEqual(note["Message"], "for the endpoint")
            verify(note)
            (env,) = self.receive(q)
            self.assertEqual(env["Message"], "for the queue")
            verify(env)
            self.assertEqual(env["MessageId"], note["MessageId"])
            self.assertNotEqual(env["Signature"], note["Signature"])
            # Unsubscribing tells the endpoint, signed as a confirmation is.
            sub = self.sns.list_subscriptions_by_topic(TopicArn=topic)["Subscriptions"]
            self.sns.unsubscribe(SubscriptionArn=next(
                s["SubscriptionArn"] for s in sub if s["Protocol"] == "http"))
            bye = json.loads(ep.wait(3)[2]["body"])
            self.assertEqual(bye["Type"], "UnsubscribeConfirmation")
            verify(bye)
            with self.assertRaises(InvalidSignature):
                verify(dict(bye, SubscribeURL=bye["SubscribeURL"] + "x"))
        finally:
            ep.close()

    def test_raw_delivery_carries_no_envelope(self):
        topic, q = self.topic_with_queue(raw=True)
        self.sns.publish(TopicArn=topic, Message="bare")
        out = self.sqs.receive_message(QueueUrl=q, WaitTimeSeconds=5)
        self.assertEqual(out["Messages"][0]["Body"], "bare")

    def test_certificate_is_served_and_unknown_files_are_not(self):
        topic, q = self.topic_with_queue()
        self.sns.publish(TopicArn=topic, Message="x")
        (env,) = self.receive(q)
        path = "/" + env["SigningCertURL"].rsplit("/", 1)[1]
        status, body = self.server.raw_request("GET", path)
        self.assertEqual(status, 200)
        self.assertTrue(body.startswith(b"-----BEGIN CERTIFICATE-----"))
        self.assertNotIn(b"PRIVATE KEY", body)
        status, _ = self.server.raw_request("GET", "/SimpleNotificationService-0.pem")
        self.assertNotEqual(status, 200)


class SnsSignatureRestartTest(harness.KinesisTestCase):
    def test_key_survives_restart(self):
        with harness.Server(needs_local=True, name="SnsSignatureRestartTest") as srv:
            sns, sqs = srv.client("sns"), srv.client("sqs")
            topic = sns.create_topic(Name=unique_name("sr"))["TopicArn"]
            q = sqs.create_queue(QueueName=unique_name("srq"))["QueueUrl"]
            qarn = sqs.get_queue_attributes(QueueUrl=q, AttributeNames=["QueueArn"])[
                "Attributes"]["QueueArn"]
            sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=qarn)
            sns.publish(TopicArn=topic, Message="before")
            srv.restart()
            sns, sqs = srv.client("sns"), srv.client("sqs")
            sns.publish(TopicArn=topic, Message="after")
            envs = []
            for _ in range(5):
                out = sqs.receive_message(QueueUrl=q, WaitTimeSeconds=2, MaxNumberOfMessages=10)
                envs += [json.loads(m["Body"]) for m in out.get("Messages", [])]
                if len(envs) >= 2:
                    break
            self.assertEqual(sorted(e["Message"] for e in envs), ["after", "before"])
            self.assertEqual(envs[0]["SigningCertURL"], envs[1]["SigningCertURL"])
            cert = fetch_cert(envs[0]["SigningCertURL"])
            for env in envs:
                verify(env, cert)


class SnsPublicUrlTest(harness.KinesisTestCase):
    def test_public_url_moves_every_url(self):
        base = "https://sns.example.test:8443/front"
        with harness.Server(extra_args=["--public-url", base + "/"],
                            name="SnsPublicUrlTest") as srv:
            sns, sqs = srv.client("sns"), srv.client("sqs")
            topic = sns.create_topic(Name=unique_name("pu"))["TopicArn"]
            q = sqs.create_queue(QueueName=unique_name("puq"))["QueueUrl"]
            qarn = sqs.get_queue_attributes(QueueUrl=q, AttributeNames=["QueueArn"])[
                "Attributes"]["QueueArn"]
            sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=qarn)
            sns.publish(TopicArn=topic, Message="m")
            out = sqs.receive_message(QueueUrl=q, WaitTimeSeconds=5)
            env = json.loads(out["Messages"][0]["Body"])
            self.assertTrue(env["SigningCertURL"].startswith(base + "/SimpleNotificationService-"))
            self.assertTrue(env["UnsubscribeURL"].startswith(base + "/?Action=Unsubscribe"))
            # The certificate itself is still served at the root.
            path = "/" + env["SigningCertURL"].rsplit("/", 1)[1]
            status, pem = srv.raw_request("GET", path)
            self.assertEqual(status, 200)
            verify(env, pem)


if __name__ == "__main__":
    import unittest
    unittest.main()
