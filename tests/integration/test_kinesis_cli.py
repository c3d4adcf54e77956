"""Kinesis through the AWS CLI (`aws kinesis ... --endpoint-url`)."""

import base64
import json
import os
import shutil
import subprocess
import tempfile
import time
import unittest

import harness
from harness import unique_name

AWS = shutil.which("aws")


def cli_major_version():
    out = subprocess.run([AWS, "--version"], capture_output=True, text=True, timeout=60)
    text = (out.stdout + out.stderr).strip()  # "aws-cli/1.45.11 Python/3.11.7 ..."
    return int(text.split("/", 1)[1].split(".", 1)[0])


@unittest.skipIf(AWS is None, "aws CLI not installed")
class CliTest(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.server = harness.server_for_class(cls)
        cls.home = tempfile.mkdtemp(prefix="sluice-cli-")
        cls.addClassCleanup(shutil.rmtree, cls.home, True)
        cls.env = dict(os.environ)
        for k in list(cls.env):
            if k.startswith("AWS_"):
                del cls.env[k]
        cls.env.update({
            "AWS_ACCESS_KEY_ID": harness.ACCESS_KEY,
            "AWS_SECRET_ACCESS_KEY": harness.SECRET_KEY,
            "AWS_DEFAULT_REGION": harness.REGION,
            # Keep the user's ~/.aws out of it.
            "AWS_CONFIG_FILE": os.path.join(cls.home, "config"),
            "AWS_SHARED_CREDENTIALS_FILE": os.path.join(cls.home, "credentials"),
            "AWS_MAX_ATTEMPTS": "1",
            "AWS_PAGER": "",
        })
        # CLI v1 sends --data as given (it base64-encodes it on the wire); v2 expects
        # base64 unless told raw-in-base64-out.
        cls.blob_args = ["--cli-binary-format", "raw-in-base64-out"] if cli_major_version() >= 2 else []

    def aws(self, *args, check=True):
        cmd = [AWS, "kinesis"] + list(args) + ["--endpoint-url", self.server.endpoint, "--output", "json"]
        p = subprocess.run(cmd, env=self.env, capture_output=True, text=True, timeout=60,
                           stdin=subprocess.DEVNULL)
        if check:
            self.assertEqual(p.returncode, 0, "%s\nstdout: %s\nstderr: %s" % (" ".join(args), p.stdout, p.stderr))
            return json.loads(p.stdout) if p.stdout.strip() else {}
        return p

    def test_cli_lifecycle(self):
        name = unique_name("cli")
        self.aws("create-stream", "--stream-name", name, "--shard-count", "2")
        deadline = time.monotonic() + 20
        while True:
            summ = self.aws("describe-stream-summary", "--stream-name", name)["StreamDescriptionSummary"]
            if summ["StreamStatus"] == "ACTIVE" or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        self.assertEqual(summ["StreamStatus"], "ACTIVE")
        self.assertEqual(summ["StreamName"], name)
        self.assertEqual(summ["OpenShardCount"], 2)
        self.assertEqual(summ["StreamARN"], harness.stream_arn(name))

        self.assertIn(name, self.aws("list-streams")["StreamNames"])

        payload = "hello from the cli \u2603"
        put = self.aws("put-record", "--stream-name", name, "--partition-key", "pk-cli",
                       "--data", payload, *self.blob_args)
        self.assertRegex(put["ShardId"], r"^shardId-\d{12}$")
        self.assertRegex(put["SequenceNumber"], r"^\d+$")

        it = self.aws("get-shard-iterator", "--stream-name", name, "--shard-id", put["ShardId"],
                      "--shard-iterator-type", "AT_SEQUENCE_NUMBER",
                      "--starting-sequence-number", put["SequenceNumber"])["ShardIterator"]
        recs = self.aws("get-records", "--shard-iterator", it, "--limit", "10")
        self.assertEqual(len(recs["Records"]), 1)
        r = recs["Records"][0]
        # The CLI prints blobs base64-encoded.
        self.assertEqual(base64.b64decode(r["Data"]).decode("utf-8"), payload)
        self.assertEqual(r["PartitionKey"], "pk-cli")
        self.assertEqual(r["SequenceNumber"], put["SequenceNumber"])
        self.assertIn("NextShardIterator", recs)
        self.assertIsInstance(recs["MillisBehindLatest"], int)

        self.aws("delete-stream", "--stream-name", name)
        deadline = time.monotonic() + 20
        while name in self.aws("list-streams")["StreamNames"] and time.monotonic() < deadline:
            time.sleep(0.2)
        self.assertNotIn(name, self.aws("list-streams")["StreamNames"])

    def test_cli_missing_stream(self):
        name = unique_name("cli-missing")
        p = self.aws("describe-stream-summary", "--stream-name", name, check=False)
        self.assertNotEqual(p.returncode, 0)
        self.assertEqual(p.returncode, 255)
        self.assertIn("ResourceNotFoundException", p.stderr)
        self.assertIn("DescribeStreamSummary", p.stderr)
        self.assertEqual(p.stdout.strip(), "")
        p = self.aws("put-record", "--stream-name", name, "--partition-key", "k", "--data", "x",
                     *self.blob_args, check=False)
        self.assertEqual(p.returncode, 255)
        self.assertIn("ResourceNotFoundException", p.stderr)


if __name__ == "__main__":
    unittest.main()
