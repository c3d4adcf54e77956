"""SNS with the AWS SDK for JavaScript v3 (@aws-sdk/client-sns), run under
node --test (js/test_sns_sdk.mjs) against a live sluice."""

import unittest

import harness
import test_kinesis_js


@unittest.skipIf(test_kinesis_js.NODE is None or test_kinesis_js.NPM is None, "node/npm not installed")
class SnsJsSdkTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        test_kinesis_js.ensure_node_modules()
        cls.server = harness.server_for_class(cls)

    def test_sns_sdk(self):
        test_kinesis_js.run_node_test(self, "test_sns_sdk.mjs")


if __name__ == "__main__":
    unittest.main()
