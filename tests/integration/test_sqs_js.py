"""Runs js/test_sqs_sdk.mjs (@aws-sdk/client-sqs v3, default handler) with
`node --test` against a harness-started sluice."""

import unittest

import harness
import test_kinesis_js


@unittest.skipIf(test_kinesis_js.NODE is None or test_kinesis_js.NPM is None, "node/npm not installed")
class SqsJsSdkTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        test_kinesis_js.ensure_node_modules()
        cls.server = harness.server_for_class(cls)

    def test_node_sdk_v3_sqs(self):
        test_kinesis_js.run_node_test(self, "test_sqs_sdk.mjs")


if __name__ == "__main__":
    unittest.main()
