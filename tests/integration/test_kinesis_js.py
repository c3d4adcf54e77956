"""Runs js/test_kinesis_sdk.mjs (AWS SDK for JavaScript v3, default HTTP/2
handler) with `node --test` against a harness-started sluice.

Installs the npm dependencies first when js/node_modules is missing."""

import os
import shutil
import subprocess
import unittest

import harness

JS_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "js")
NODE = shutil.which("node")
NPM = shutil.which("npm")


def ensure_node_modules():
    if all(os.path.isdir(os.path.join(JS_DIR, "node_modules", "@aws-sdk", m))
           for m in ("client-kinesis", "client-sqs")):
        return
    lock = os.path.exists(os.path.join(JS_DIR, "package-lock.json"))
    cmd = [NPM, "ci" if lock else "install", "--no-audit", "--no-fund", "--loglevel=error"]
    p = subprocess.run(cmd, cwd=JS_DIR, capture_output=True, text=True, timeout=600,
                       stdin=subprocess.DEVNULL)
    if p.returncode != 0:
        raise RuntimeError("%s failed (%d):\n%s\n%s" % (" ".join(cmd), p.returncode, p.stdout, p.stderr))


@unittest.skipIf(NODE is None or NPM is None, "node/npm not installed")
class JsSdkTest(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        ensure_node_modules()
        cls.server = harness.server_for_class(cls)

    def test_node_sdk_v3(self):
        env = dict(os.environ, SLUICE_ENDPOINT=self.server.endpoint)
        for k in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_KINESIS", "NODE_OPTIONS"):
            env.pop(k, None)
        try:
            p = subprocess.run([NODE, "--test", "--test-reporter=spec", "test_kinesis_sdk.mjs"],
                               cwd=JS_DIR, env=env, capture_output=True, text=True, timeout=150,
                               stdin=subprocess.DEVNULL)
        except subprocess.TimeoutExpired as e:
            self.fail("node --test timed out after 150 s\n%s\n%s" % (e.stdout, e.stderr))
        output = (p.stdout or "") + (p.stderr or "")
        self.assertEqual(p.returncode, 0, "node --test failed (exit %d):\n%s" % (p.returncode, output))
        self.assertRegex(output, r"pass [1-9]")
        self.assertRegex(output, r"fail 0")


if __name__ == "__main__":
    unittest.main()
