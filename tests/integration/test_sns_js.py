"""SNS with the AWS SDK for JavaScript v3 (@aws-sdk/client-sns), run under
node --test (js/test_sns_sdk.mjs) against a live sluice."""

import os
import socket
import subprocess
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


@unittest.skipIf(test_kinesis_js.NODE is None or test_kinesis_js.NPM is None, "node/npm not installed")
class SnsJsSignatureTest(unittest.TestCase):
    """The npm sns-validator (AWS's) verifies what sluice signed; it fetches
    the certificate over https only, from a front the script starts."""

    @classmethod
    def setUpClass(cls):
        test_kinesis_js.ensure_node_modules()
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            cls.front_port = s.getsockname()[1]
        cls.server = harness.server_for_class(
            cls, extra_args=["--public-url", "https://127.0.0.1:%d" % cls.front_port])
        cls.tls = os.path.join(cls.server.tmpdir, "front")
        os.makedirs(cls.tls, exist_ok=True)
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                        "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
                        "-keyout", os.path.join(cls.tls, "key.pem"),
                        "-out", os.path.join(cls.tls, "cert.pem")],
                       check=True, capture_output=True)

    def test_sns_validator(self):
        cert = os.path.join(self.tls, "cert.pem")
        test_kinesis_js.run_node_test(self, "test_sns_signature.mjs", {
            "SNS_FRONT_PORT": str(self.front_port), "SNS_FRONT_CERT": cert,
            "SNS_FRONT_KEY": os.path.join(self.tls, "key.pem"), "NODE_EXTRA_CA_CERTS": cert})


if __name__ == "__main__":
    unittest.main()
