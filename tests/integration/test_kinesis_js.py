"""Runs js/test_kinesis_sdk.mjs (AWS SDK for JavaScript v3, default HTTP/2
handler) with `node --test` against a harness-started sluice.

Installs the npm dependencies first when js/node_modules is missing."""

import json
import os
import shutil
import subprocess
import unittest

import harness

JS_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "js")
NODE = shutil.which("node")
NPM = shutil.which("npm")


def ensure_node_modules():
    """Runs npm when any dependency in js/package.json is not installed."""
    with open(os.path.join(JS_DIR, "package.json")) as f:
        deps = json.load(f)["dependencies"]
    if all(os.path.isfile(os.path.join(JS_DIR, "node_modules", d, "package.json")) for d in deps):
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
        run_node_test(self, "test_kinesis_sdk.mjs")


def run_node_test(case, script, extra_env=None):
    """Runs `node --test js/SCRIPT` against case.server (with extra_env) and
    fails case unless at least one test passed and none failed."""
    env = dict(os.environ, SLUICE_ENDPOINT=case.server.endpoint, **(extra_env or {}))
    for k in list(env):
        if k.startswith("AWS_ENDPOINT_URL") or k in ("AWS_PROFILE", "NODE_OPTIONS"):
            env.pop(k)
    try:
        p = subprocess.run([NODE, "--test", "--test-reporter=spec", script],
                           cwd=JS_DIR, env=env, capture_output=True, text=True, timeout=150,
                           stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired as e:
        case.fail("node --test %s timed out after 150 s\n%s\n%s" % (script, e.stdout, e.stderr))
    output = (p.stdout or "") + (p.stderr or "")
    case.assertEqual(p.returncode, 0, "node --test failed (exit %d):\n%s" % (p.returncode, output))
    case.assertRegex(output, r"pass [1-9]")
    case.assertRegex(output, r"fail 0")


if __name__ == "__main__":
    unittest.main()
