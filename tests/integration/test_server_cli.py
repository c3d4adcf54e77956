"""The sluice command line and config file: --help, one-line errors for bad
input, a config file that sets the same things as flags, the data directory
lock, and /health."""

import http.client
import json
import os
import subprocess
import tempfile
import time
import unittest

from harness import SLUICE_BIN, external, free_port

FLAGS = ["--listen", "--data-dir", "--workers", "--durability", "--batch-ms", "--region",
         "--account-id", "--shard-limits", "--create-delay-ms", "--segment-bytes",
         "--request-log", "--log-level", "--debug-clock", "--eal", "--config", "--help",
         "--version", "--sqs-partitions", "--journal-mb", "--public-url", "--sns-ca-file",
         "--lambda.NAME"]


def run(*args, timeout=20):
    return subprocess.run([SLUICE_BIN, *args], capture_output=True, text=True, timeout=timeout)


def wait_health(port, proc, timeout=20.0):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc.poll() is not None:
            return None
        try:
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            c.request("GET", "/health")
            r = c.getresponse()
            body = r.read()
            c.close()
            if r.status == 200:
                return json.loads(body)
        except OSError:
            pass
        time.sleep(0.05)
    return None


@unittest.skipIf(external(), "starts its own servers")
class ServerCliTest(unittest.TestCase):
    def test_help_documents_every_flag(self):
        out = run("--help")
        self.assertEqual(out.returncode, 0)
        for flag in FLAGS:
            self.assertIn(flag, out.stdout, "--help does not document %s" % flag)
        ver = run("--version")
        self.assertEqual(ver.returncode, 0)
        self.assertTrue(ver.stdout.startswith("sluice "))

    def test_bad_input_is_one_line_and_nonzero(self):
        cases = [
            ["--no-such-flag"],
            ["--durability", "sometimes"],
            ["--workers", "0"],
            ["--workers", "many"],
            ["--listen", "127.0.0.1"],
            ["--listen", "127.0.0.1:70000"],
            ["--account-id", "12"],
            ["--segment-bytes", "1024"],
            ["--log-level", "loud"],
            ["stray-argument"],
            ["--config", "/nonexistent/sluice.conf"],
            ["--public-url", "ftp://x"],
            ["--sns-ca-file", "/nonexistent/ca.pem"],
            ["--lambda.bad name", "http://x"],
            ["--lambda.fn", "file:///etc/passwd"],
        ]
        for args in cases:
            with self.subTest(args=args):
                out = run(*args)
                self.assertNotEqual(out.returncode, 0)
                lines = [l for l in out.stderr.splitlines() if l.strip()]
                self.assertEqual(len(lines), 1, "expected one error line, got %r" % out.stderr)
                self.assertTrue(lines[0].startswith("sluice: "), lines[0])

    def test_config_file_sets_listen_workers_and_is_validated(self):
        with tempfile.TemporaryDirectory() as tmp:
            port = free_port()
            conf = os.path.join(tmp, "sluice.conf")
            with open(conf, "w") as f:
                f.write("# a comment\n\nlisten = 127.0.0.1:%d\nworkers = 1\n"
                        "data-dir = %s/data\ndurability = batch\n" % (port, tmp))
            proc = subprocess.Popen([SLUICE_BIN, "--config", conf], stdout=subprocess.PIPE,
                                    stderr=subprocess.PIPE, text=True)
            try:
                health = wait_health(port, proc)
                self.assertIsNotNone(health, "server from the config file did not come up")
                self.assertEqual(health["workers"], 1)
                # A second server on the same data directory is refused.
                other = run("--data-dir", os.path.join(tmp, "data"), "--listen",
                            "127.0.0.1:%d" % free_port())
                self.assertNotEqual(other.returncode, 0)
                self.assertIn("in use", other.stderr)
            finally:
                proc.terminate()
                self.assertEqual(proc.wait(20), 0)
            self.assertIn("listening on http://127.0.0.1:%d" % port, proc.stdout.read())
            with open(conf, "a") as f:
                f.write("durability = eventually\n")
            out = run("--config", conf)
            self.assertNotEqual(out.returncode, 0)
            self.assertIn("eventually", out.stderr)
            with open(conf, "w") as f:
                f.write("just words\n")
            out = run("--config", conf)
            self.assertNotEqual(out.returncode, 0)
            self.assertIn("line 1", out.stderr)

    def test_flags_override_the_config_file(self):
        with tempfile.TemporaryDirectory() as tmp:
            port = free_port()
            conf = os.path.join(tmp, "sluice.conf")
            with open(conf, "w") as f:
                f.write("workers = 1\nlisten = 127.0.0.1:%d\n" % free_port())
            proc = subprocess.Popen([SLUICE_BIN, "--config", conf, "--workers", "2", "--listen",
                                     "127.0.0.1:%d" % port, "--data-dir", tmp + "/d"],
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            try:
                health = wait_health(port, proc)
                self.assertIsNotNone(health)
                self.assertEqual(health["workers"], 2)
            finally:
                proc.terminate()
                self.assertEqual(proc.wait(20), 0)


if __name__ == "__main__":
    unittest.main()
