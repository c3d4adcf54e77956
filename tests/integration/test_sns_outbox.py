"""SNS deliveries sluice does not carry itself, against a live sluice: SMS
(subscriptions and Publish to a PhoneNumber) and email without a relay go
to the outbox (GET /_sluice/sns/outbox?protocol=..., .eml files, kept
across kill -9); with --smtp, email and email-json are sent to a real SMTP
server the test starts (Debian's aiosmtpd), the subscription confirmed
through the link its confirmation mail carries."""

import email
import email.policy
import json
import mailbox
import os
import re
import shutil
import socket
import subprocess
import tempfile
import time
import unittest
import urllib.request

import harness
from harness import unique_name
from test_sns_signature import verify

DEBIAN_PYTHON = "/usr/bin/python3"


def outbox(server, protocol):
    status, body = server.raw_request("GET", "/_sluice/sns/outbox?protocol=" + protocol)
    if status != 200:
        raise AssertionError("GET outbox answered %d: %r" % (status, body[:300]))
    return json.loads(body)["messages"]


def wait_outbox(server, protocol, pred, timeout=10):
    deadline = time.monotonic() + timeout
    while True:
        got = [m for m in outbox(server, protocol) if pred(m)]
        if got or time.monotonic() > deadline:
            return got
        time.sleep(0.05)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class SnsOutboxTest(harness.KinesisTestCase):
    @classmethod
    def setUpClass(cls):
        cls.server = harness.server_for_class(cls, needs_local=True)
        cls.sns = cls.server.client("sns")

    def test_sms_subscription_and_direct_publish(self):
        topic = self.sns.create_topic(Name=unique_name("sms"))["TopicArn"]
        phone = "+1555%07d" % (os.getpid() % 10000000)
        sub = self.sns.subscribe(TopicArn=topic, Protocol="sms", Endpoint=phone,
                                 ReturnSubscriptionArn=True)["SubscriptionArn"]
        mid = self.sns.publish(TopicArn=topic, Message="to the topic's phones")["MessageId"]
        (rec,) = wait_outbox(self.server, "sms", lambda m: m["messageId"] == mid)
        self.assertEqual(rec["phoneNumber"], phone)
        self.assertEqual(rec["message"], "to the topic's phones")
        self.assertEqual(rec["topicArn"], topic)
        self.assertEqual(rec["subscriptionArn"], sub)
        mid = self.sns.publish(PhoneNumber="+15550001111", Message="direct", MessageAttributes={
            "AWS.SNS.SMS.SenderID": {"DataType": "String", "StringValue": "SLUICE"},
            "AWS.SNS.SMS.SMSType": {"DataType": "String", "StringValue": "Transactional"}})[
            "MessageId"]
        (rec,) = wait_outbox(self.server, "sms", lambda m: m["messageId"] == mid)
        self.assertEqual(rec["phoneNumber"], "+15550001111")
        self.assertEqual(rec["senderId"], "SLUICE")
        self.assertEqual(rec["smsType"], "Transactional")
        self.assertNotIn("topicArn", rec)
        self.assertAwsError("InvalidParameter", self.sns.publish, PhoneNumber="12",
                            Message="x")
        # MessageStructure's "sms" entry is the text.
        mid = self.sns.publish(TopicArn=topic, MessageStructure="json", Message=json.dumps(
            {"default": "long text", "sms": "short"}))["MessageId"]
        (rec,) = wait_outbox(self.server, "sms", lambda m: m["messageId"] == mid)
        self.assertEqual(rec["message"], "short")

    def test_sms_attributes_and_opt_outs(self):
        sns = self.sns
        sns.set_sms_attributes(attributes={"DefaultSenderID": "Sluice1",
                                           "DefaultSMSType": "Transactional",
                                           "MonthlySpendLimit": "10"})
        got = sns.get_sms_attributes()["attributes"]
        self.assertEqual(got, {"DefaultSenderID": "Sluice1", "DefaultSMSType": "Transactional",
                               "MonthlySpendLimit": "10"})
        self.assertEqual(sns.get_sms_attributes(attributes=["DefaultSMSType"])["attributes"],
                         {"DefaultSMSType": "Transactional"})
        sns.set_sms_attributes(attributes={"MonthlySpendLimit": "20"})
        self.assertEqual(sns.get_sms_attributes()["attributes"]["MonthlySpendLimit"], "20")
        self.assertEqual(sns.get_sms_attributes()["attributes"]["DefaultSenderID"], "Sluice1")
        for bad in ({"DefaultSMSType": "Urgent"}, {"DefaultSenderID": "1234"},
                    {"DefaultSenderID": "waytoolongsender"}, {"NoSuchSetting": "1"},
                    {"DeliveryStatusSuccessSamplingRate": "101"}):
            with self.subTest(attributes=bad):
                self.assertAwsError("InvalidParameter", sns.set_sms_attributes, attributes=bad)
        # The defaults apply to an SMS that names none.
        mid = sns.publish(PhoneNumber="+15550003333", Message="defaults")["MessageId"]
        (rec,) = wait_outbox(self.server, "sms", lambda m: m["messageId"] == mid)
        self.assertEqual((rec["senderId"], rec["smsType"]), ("Sluice1", "Transactional"))

        phone = "+1555000%04d" % (os.getpid() % 10000)
        self.assertFalse(sns.check_if_phone_number_is_opted_out(phoneNumber=phone)["isOptedOut"])
        status, _ = self.server.raw_request("GET", "/_sluice/sns/opt-out?phoneNumber=%2B" +
                                            phone[1:])
        self.assertEqual(status, 200)
        self.assertTrue(sns.check_if_phone_number_is_opted_out(phoneNumber=phone)["isOptedOut"])
        self.assertIn(phone, sns.list_phone_numbers_opted_out()["phoneNumbers"])
        # Opted out: the publish is accepted, and nothing is sent.
        topic = sns.create_topic(Name=unique_name("optout"))["TopicArn"]
        sns.subscribe(TopicArn=topic, Protocol="sms", Endpoint=phone)
        m1 = sns.publish(PhoneNumber=phone, Message="not sent")["MessageId"]
        m2 = sns.publish(TopicArn=topic, Message="not sent either")["MessageId"]
        sns.opt_in_phone_number(phoneNumber=phone)
        self.assertFalse(sns.check_if_phone_number_is_opted_out(phoneNumber=phone)["isOptedOut"])
        self.assertNotIn(phone, sns.list_phone_numbers_opted_out()["phoneNumbers"])
        m3 = sns.publish(PhoneNumber=phone, Message="sent")["MessageId"]
        self.assertEqual(len(wait_outbox(self.server, "sms", lambda m: m["messageId"] == m3)), 1)
        sent = {m["messageId"] for m in outbox(self.server, "sms")}
        self.assertNotIn(m1, sent)
        self.assertNotIn(m2, sent)
        self.assertAwsError("InvalidParameter", sns.check_if_phone_number_is_opted_out,
                            phoneNumber="not a number")

    def test_opted_out_numbers_page_by_100(self):
        base = 15551000000 + (os.getpid() % 1000) * 1000
        for i in range(105):
            status, _ = self.server.raw_request(
                "GET", "/_sluice/sns/opt-out?phoneNumber=%%2B%d" % (base + i))
            self.assertEqual(status, 200)
        seen, token = [], None
        while True:
            kw = {"nextToken": token} if token else {}
            out = self.sns.list_phone_numbers_opted_out(**kw)
            self.assertLessEqual(len(out["phoneNumbers"]), 100)
            seen += out["phoneNumbers"]
            token = out.get("nextToken")
            if not token:
                break
        mine = [p for p in seen if base <= int(p[1:]) < base + 105]
        self.assertEqual(mine, ["+%d" % (base + i) for i in range(105)])
        self.assertEqual(len(seen), len(set(seen)))

    def test_email_without_a_relay_is_written_to_the_outbox(self):
        topic = self.sns.create_topic(Name=unique_name("mail"), Attributes={
            "DisplayName": "Ops"})["TopicArn"]
        addr = unique_name("u") + "@example.com"
        out = self.sns.subscribe(TopicArn=topic, Protocol="email", Endpoint=addr)
        self.assertEqual(out["SubscriptionArn"], "pending confirmation")
        (conf,) = wait_outbox(self.server, "email", lambda m: m["to"] == addr)
        msg = email.message_from_string(conf["mail"], policy=email.policy.default)
        self.assertEqual(msg["Subject"], "AWS Notification - Subscription Confirmation")
        self.assertEqual(msg["From"].addresses[0].addr_spec, "no-reply@sns.amazonaws.com")
        self.assertEqual(msg["From"].addresses[0].display_name, "Ops")
        with open(conf["file"], "rb") as f:
            self.assertEqual(f.read().decode(), conf["mail"])
        link = re.search(r"http://\S+Action=ConfirmSubscription\S+", msg.get_content()).group(0)
        with urllib.request.urlopen(link, timeout=10) as r:
            self.assertEqual(r.status, 200)
        mid = self.sns.publish(TopicArn=topic, Message="line one\n.\nline three",
                               Subject="Disk full")["MessageId"]
        (note,) = wait_outbox(self.server, "email", lambda m: m["messageId"] == mid)
        msg = email.message_from_string(note["mail"], policy=email.policy.default)
        self.assertEqual(msg["Subject"], "Disk full")
        self.assertEqual(msg["To"], addr)
        self.assertEqual(msg["x-amz-sns-message-id"], mid)
        body = msg.get_content().replace("\r\n", "\n")
        self.assertTrue(body.startswith("line one\n.\nline three\n"), body)
        self.assertIn("Action=Unsubscribe", body)


class SnsOutboxCrashTest(harness.KinesisTestCase):
    def test_acknowledged_sms_survive_kill9(self):
        with harness.Server(needs_local=True, name="SnsOutboxCrashTest") as srv:
            sns = srv.client("sns")
            topic = sns.create_topic(Name=unique_name("smsk"))["TopicArn"]
            sns.subscribe(TopicArn=topic, Protocol="sms", Endpoint="+15550002222")
            mids = [sns.publish(TopicArn=topic, Message="m%d" % i)["MessageId"]
                    for i in range(50)]
            srv.kill9()
            srv.start()
            deadline = time.monotonic() + 15
            while time.monotonic() < deadline:
                got = {m["messageId"] for m in outbox(srv, "sms")}
                if got >= set(mids):
                    break
                time.sleep(0.1)
            self.assertEqual(set(mids) - got, set(), "every acknowledged SMS is in the outbox")


@unittest.skipUnless(os.path.exists(DEBIAN_PYTHON) and subprocess.run(
    [DEBIAN_PYTHON, "-c", "import aiosmtpd"], capture_output=True).returncode == 0,
    "Debian's python3-aiosmtpd is not installed")
class SnsSmtpTest(harness.KinesisTestCase):
    @classmethod
    def setUpClass(cls):
        cls.maildir = tempfile.mkdtemp(prefix="sluice-maildir-")
        os.rmdir(cls.maildir)  # aiosmtpd's Mailbox makes it
        cls.smtp_port = free_port()
        cls.smtpd = subprocess.Popen(
            [DEBIAN_PYTHON, "-m", "aiosmtpd", "-n", "-l", "127.0.0.1:%d" % cls.smtp_port,
             "-c", "aiosmtpd.handlers.Mailbox", cls.maildir],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", cls.smtp_port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.05)
        cls.server = harness.server_for_class(cls, extra_args=[
            "--smtp", "127.0.0.1:%d" % cls.smtp_port])
        cls.sns = cls.server.client("sns")

    @classmethod
    def tearDownClass(cls):
        super().tearDownClass()
        cls.smtpd.terminate()
        cls.smtpd.wait(10)
        shutil.rmtree(cls.maildir, ignore_errors=True)

    def mails_to(self, addr, n, timeout=15):
        deadline = time.monotonic() + timeout
        while True:
            got = []
            if os.path.isdir(self.maildir):
                for key, m in mailbox.Maildir(self.maildir, factory=None).items():
                    if m["To"] == addr:
                        got.append(email.message_from_bytes(m.as_bytes(),
                                                            policy=email.policy.default))
            if len(got) >= n or time.monotonic() > deadline:
                return sorted(got, key=lambda m: m["Date"] + m["Message-ID"])
            time.sleep(0.1)

    def test_email_and_email_json_over_smtp(self):
        topic = self.sns.create_topic(Name=unique_name("smtp"))["TopicArn"]
        addr = unique_name("e") + "@example.com"
        jaddr = unique_name("j") + "@example.com"
        self.sns.subscribe(TopicArn=topic, Protocol="email", Endpoint=addr)
        self.sns.subscribe(TopicArn=topic, Protocol="email-json", Endpoint=jaddr)
        (conf,) = self.mails_to(addr, 1)
        self.assertEqual(conf["Subject"], "AWS Notification - Subscription Confirmation")
        link = re.search(r"http://\S+Action=ConfirmSubscription\S+", conf.get_content()).group(0)
        with urllib.request.urlopen(link, timeout=10) as r:
            self.assertEqual(r.status, 200)
        (jconf,) = self.mails_to(jaddr, 1)
        env = json.loads(jconf.get_content())
        self.assertEqual(env["Type"], "SubscriptionConfirmation")
        verify(env)
        with urllib.request.urlopen(env["SubscribeURL"], timeout=10) as r:
            self.assertEqual(r.status, 200)
        mid = self.sns.publish(TopicArn=topic, Message=".leading dot\nand more",
                               Subject="Alarm")["MessageId"]
        mails = self.mails_to(addr, 2)
        note = [m for m in mails if m["x-amz-sns-message-id"] == mid]
        self.assertEqual(len(note), 1)
        self.assertEqual(note[0]["Subject"], "Alarm")
        self.assertTrue(note[0].get_content().replace("\r\n", "\n").startswith(
            ".leading dot\nand more\n"))
        jmails = self.mails_to(jaddr, 2)
        jnote = [m for m in jmails if m["x-amz-sns-message-id"] == mid]
        self.assertEqual(len(jnote), 1)
        env = json.loads(jnote[0].get_content())
        self.assertEqual(env["Message"], ".leading dot\nand more")
        verify(env)
        # Nothing went to the outbox: the relay took it.
        self.assertEqual([m for m in outbox(self.server, "email") if m["to"] in (addr, jaddr)],
                         [])
