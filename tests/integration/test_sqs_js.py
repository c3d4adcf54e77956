"""Runs js/test_sqs_sdk.mjs (@aws-sdk/client-sqs v3, default handler) with
`node --test` against a harness-started sluice."""

import os
import subprocess
import unittest

import harness
import test_kinesis_js

NODE, JS_DIR = test_kinesis_js.NODE, test_kinesis_js.JS_DIR


@unittest.skipIf(NODE is None or test_kinesis_js.NPM is None, "node/npm not installed")
class SqsJsSdkTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        test_kinesis_js.ensure_node_modules()
        cls.server = harness.server_for_class(cls)

    def test_node_sdk_v3_sqs(self):
        env = dict(os.environ, SLUICE_ENDPOINT=self.server.endpoint)
        for k in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_SQS", "NODE_OPTIONS"):
            env.pop(k, None)
        p = subprocess.run([NODE, "--test", "--test-reporter=spec", "test_sqs_sdk.mjs"],
                           cwd=JS_DIR, env=env, capture_output=True, text=True, timeout=150,
                           stdin=subprocess.DEVNULL)
        output = (p.stdout or "") + (p.stderr or "")
        self.assertEqual(p.returncode, 0, "node --test failed (exit %d):\n%s" % (p.returncode, output))
        self.assertRegex(output, r"pass [1-9]")
        self.assertRegex(output, r"fail 0")


if __name__ == "__main__":
    unittest.main()
