"""SQS queues through the AWS CLI (`aws sqs ... --endpoint-url`)."""

import json
import subprocess
import unittest

import harness
import test_kinesis_cli
from harness import unique_name

AWS = test_kinesis_cli.AWS


@unittest.skipIf(AWS is None, "aws CLI not installed")
class SqsCliTest(unittest.TestCase):
    # The same server, home and environment as the Kinesis CLI tests.
    setUpClass = classmethod(test_kinesis_cli.CliTest.setUpClass.__func__)

    def sqs(self, *args, check=True):
        cmd = [AWS, "sqs"] + list(args) + ["--endpoint-url", self.server.endpoint, "--output", "json"]
        p = subprocess.run(cmd, env=self.env, capture_output=True, text=True, timeout=60,
                           stdin=subprocess.DEVNULL)
        if check:
            self.assertEqual(p.returncode, 0, "%s\nstdout: %s\nstderr: %s" % (" ".join(args), p.stdout, p.stderr))
            return json.loads(p.stdout) if p.stdout.strip() else {}
        return p

    def test_sqs_queue_lifecycle(self):
        name = unique_name("cli")
        url = self.sqs("create-queue", "--queue-name", name,
                       "--attributes", "DelaySeconds=3,VisibilityTimeout=45",
                       "--tags", "team=core")["QueueUrl"]
        self.assertEqual(url, "%s/%s/%s" % (self.server.endpoint, harness.ACCOUNT_ID, name))
        self.assertEqual(self.sqs("get-queue-url", "--queue-name", name)["QueueUrl"], url)
        self.assertIn(url, self.sqs("list-queues", "--queue-name-prefix", name)["QueueUrls"])
        attrs = self.sqs("get-queue-attributes", "--queue-url", url,
                         "--attribute-names", "All")["Attributes"]
        self.assertEqual((attrs["DelaySeconds"], attrs["VisibilityTimeout"]), ("3", "45"))
        self.sqs("set-queue-attributes", "--queue-url", url, "--attributes",
                 "MessageRetentionPeriod=120")
        self.assertEqual(self.sqs("get-queue-attributes", "--queue-url", url, "--attribute-names",
                                  "MessageRetentionPeriod")["Attributes"],
                         {"MessageRetentionPeriod": "120"})
        self.assertEqual(self.sqs("list-queue-tags", "--queue-url", url)["Tags"], {"team": "core"})
        self.sqs("delete-queue", "--queue-url", url)
        p = self.sqs("get-queue-url", "--queue-name", name, check=False)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("NonExistentQueue", p.stderr)


if __name__ == "__main__":
    unittest.main()
