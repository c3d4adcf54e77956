"""SNS deliveries to Lambda functions, against a live sluice whose config
maps a function to an HTTP server the test runs (`--lambda.NAME URL`): the
function gets AWS's SNS event (Records[].Sns, signed), MessageStructure's
"lambda" entry, retries after a 5xx; a function with no mapping fails at
once into the subscription's dead-letter queue, counted in /metrics; and
Subscribe checks the function ARN."""

import json

import harness
from harness import unique_name
from test_sns_http import Endpoint, metric
from test_sns_signature import verify


def verify_lambda(sns):
    """Verify an event's Sns as validators do: Lambda's key spellings mapped
    back, and a null Subject dropped."""
    env = {k: v for k, v in sns.items() if not (k == "Subject" and v is None)}
    env["SigningCertURL"] = env.pop("SigningCertUrl")
    verify(env)


class SnsLambdaTest(harness.KinesisTestCase):
    @classmethod
    def setUpClass(cls):
        cls.ep = Endpoint()
        cls.server = harness.server_for_class(cls, extra_args=[
            "--lambda.mapped-fn", cls.ep.url("/2015-03-31/functions/mapped-fn/invocations")])
        cls.sns = cls.server.client("sns")
        cls.sqs = cls.server.client("sqs")

    @classmethod
    def tearDownClass(cls):
        cls.ep.close()
        super().tearDownClass()

    def fn_arn(self, name, qualifier=None):
        arn = "arn:aws:lambda:us-east-1:000000000000:function:" + name
        return arn + ":" + qualifier if qualifier else arn

    def subscribe(self, topic, name, attrs=None):
        out = self.sns.subscribe(TopicArn=topic, Protocol="lambda", Endpoint=self.fn_arn(name),
                                 Attributes=attrs or {}, ReturnSubscriptionArn=True)
        return out["SubscriptionArn"]

    def test_the_function_gets_the_sns_event(self):
        topic = self.sns.create_topic(Name=unique_name("lam"))["TopicArn"]
        sub = self.subscribe(topic, "mapped-fn")
        attrs = self.sns.get_subscription_attributes(SubscriptionArn=sub)["Attributes"]
        self.assertEqual(attrs["PendingConfirmation"], "false")
        seen = len(self.ep.requests)
        mid = self.sns.publish(TopicArn=topic, Message="to the function", Subject="Hi",
                               MessageAttributes={"k": {"DataType": "String",
                                                        "StringValue": "v"}})["MessageId"]
        self.sns.publish(TopicArn=topic, MessageStructure="json", Message=json.dumps(
            {"default": "d", "lambda": "the lambda text", "sqs": "not this"}))
        reqs = self.ep.wait(seen + 2)[seen:]
        self.assertEqual(len(reqs), 2)
        first = reqs[0]
        self.assertEqual(first["path"], "/2015-03-31/functions/mapped-fn/invocations")
        self.assertEqual(first["headers"]["Content-Type"], "application/json")
        self.assertEqual(first["headers"]["X-Amz-Invocation-Type"], "Event")
        event = json.loads(first["body"])
        (rec,) = event["Records"]
        self.assertEqual(rec["EventSource"], "aws:sns")
        self.assertEqual(rec["EventVersion"], "1.0")
        self.assertEqual(rec["EventSubscriptionArn"], sub)
        sns = rec["Sns"]
        self.assertEqual(sns["Type"], "Notification")
        self.assertEqual(sns["MessageId"], mid)
        self.assertEqual(sns["TopicArn"], topic)
        self.assertEqual(sns["Subject"], "Hi")
        self.assertEqual(sns["Message"], "to the function")
        self.assertEqual(sns["MessageAttributes"], {"k": {"Type": "String", "Value": "v"}})
        self.assertIn("Action=Unsubscribe", sns["UnsubscribeUrl"])
        verify_lambda(sns)
        second = json.loads(reqs[1]["body"])["Records"][0]["Sns"]
        self.assertEqual(second["Message"], "the lambda text")
        self.assertIsNone(second["Subject"])
        self.assertEqual(second["MessageAttributes"], {})
        verify_lambda(second)

    def test_a_failed_invocation_is_retried(self):
        topic = self.sns.create_topic(Name=unique_name("lamr"))["TopicArn"]
        self.subscribe(topic, "mapped-fn")
        before = metric(self.server, "sluice_sns_http_retries_total")
        seen = len(self.ep.requests)
        with self.ep.cond:
            self.ep.codes[:] = [500, 503]
        self.sns.publish(TopicArn=topic, Message="again")
        reqs = self.ep.wait(seen + 3)[seen:]
        self.assertEqual([r["code"] for r in reqs], [500, 503, 200])
        self.assertTrue(all(json.loads(r["body"])["Records"][0]["Sns"]["Message"] == "again"
                            for r in reqs))
        self.assertEqual(metric(self.server, "sluice_sns_http_retries_total"), before + 2)

    def test_an_unmapped_function_dead_letters_at_once(self):
        topic = self.sns.create_topic(Name=unique_name("lamd"))["TopicArn"]
        dlq = self.sqs.create_queue(QueueName=unique_name("lamdlq"))["QueueUrl"]
        dlq_arn = self.sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])[
            "Attributes"]["QueueArn"]
        fails = 'sluice_sns_delivery_failures_total{protocol="lambda"}'
        dead = 'sluice_sns_dead_lettered_total{protocol="lambda"}'
        f0, d0 = metric(self.server, fails), metric(self.server, dead)
        seen = len(self.ep.requests)
        self.subscribe(topic, "nobody-maps-me",
                       {"RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn})})
        self.sns.publish(TopicArn=topic, Message="nowhere to go")
        out = self.sqs.receive_message(QueueUrl=dlq, WaitTimeSeconds=5)
        env = json.loads(out["Messages"][0]["Body"])
        self.assertEqual(env["Message"], "nowhere to go")
        self.assertEqual(env["TopicArn"], topic)
        self.assertEqual(metric(self.server, fails), f0 + 1)
        self.assertEqual(metric(self.server, dead), d0 + 1)
        self.assertEqual(len(self.ep.requests), seen, "nothing reached the mapped function")

    def test_function_arns_are_checked(self):
        topic = self.sns.create_topic(Name=unique_name("lama"))["TopicArn"]
        ok = self.sns.subscribe(TopicArn=topic, Protocol="lambda",
                                Endpoint=self.fn_arn("mapped-fn", "live"),
                                ReturnSubscriptionArn=True)
        self.assertIn(":" + topic.rsplit(":", 1)[1] + ":", ok["SubscriptionArn"])
        for bad in ("arn:aws:lambda:us-east-1:000000000000:mapped-fn",
                    "arn:aws:lambda:us-east-1:12:function:f",
                    "arn:aws:lambda:us-east-1:000000000000:function:",
                    "arn:aws:lambda:us-east-1:000000000000:function:bad name",
                    "arn:aws:s3:::bucket"):
            with self.subTest(endpoint=bad):
                self.assertAwsError("InvalidParameter", self.sns.subscribe, TopicArn=topic,
                                    Protocol="lambda", Endpoint=bad)
