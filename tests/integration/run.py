#!/usr/bin/env python3
"""Run the sluice integration and crash tests.

    python3 tests/integration/run.py                       # everything
    python3 tests/integration/run.py test_kinesis_cli      # one module
    python3 tests/integration/run.py tests/crash/test_kill9.py
    python3 tests/integration/run.py test_kinesis_boto3.StreamLifecycleTest.test_tags

Prints every failure and ends with a line like `12 passed, 0 failed`
(`, N skipped` when tests were skipped); exits 1 when any test failed.
Environment: SLUICE_BIN (server binary, default build/sluice), SLUICE_ENDPOINT
(use an already running server; tests that need restart/clock/kill skip),
SLUICE_KEEP_TMP=1 (keep temp data dirs and server logs).
"""

import os
import sys

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
import time
import traceback
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
DIRS = [HERE, os.path.join(REPO, "tests", "crash")]
for d in DIRS:
    if d not in sys.path:
        sys.path.insert(0, d)


class Result(unittest.TestResult):
    def __init__(self, stream=None, descriptions=None, verbosity=0):
        super().__init__(stream, descriptions, verbosity)
        self.passed = []
        self._t0 = {}

    def _line(self, test, word):
        t = max(0.0, time.monotonic() - self._t0.get(test, time.monotonic()))
        print("%-6s %s (%.1fs)" % (word, test.id() if hasattr(test, "id") else test, t), flush=True)

    def startTest(self, test):
        self._t0[test] = time.monotonic()
        super().startTest(test)

    def addSuccess(self, test):
        super().addSuccess(test)
        self.passed.append(test)
        self._line(test, "ok")

    def addFailure(self, test, err):
        super().addFailure(test, err)
        self._line(test, "FAIL")

    def addError(self, test, err):
        super().addError(test, err)
        self._line(test, "ERROR")

    def addSkip(self, test, reason):
        super().addSkip(test, reason)
        print("skip   %s: %s" % (test.id(), reason), flush=True)

    def addExpectedFailure(self, test, err):
        super().addExpectedFailure(test, err)
        self.passed.append(test)

    def addUnexpectedSuccess(self, test):
        super().addUnexpectedSuccess(test)
        self._line(test, "FAIL")


def discover_files():
    files = []
    for d in DIRS:
        if os.path.isdir(d):
            files += sorted(os.path.join(d, f) for f in os.listdir(d)
                            if f.startswith("test_") and f.endswith(".py"))
    return files


def load(names):
    loader = unittest.TestLoader()
    suite = unittest.TestSuite()
    for name in names:
        if name.endswith(".py") or os.sep in name:
            mod = os.path.splitext(os.path.basename(name))[0]
            suite.addTests(loader.loadTestsFromName(mod))
        else:
            suite.addTests(loader.loadTestsFromName(name))
    return suite


def main(argv):
    names = argv or discover_files()
    try:
        suite = load(names)
    except Exception:
        traceback.print_exc()
        print("0 passed, 1 failed")
        return 1
    result = Result()
    t0 = time.monotonic()
    suite.run(result)
    if result.testsRun == 0 and not (result.skipped or result.errors or result.failures):
        print("no test ran")
        print("0 passed, 1 failed")
        return 1
    failures = result.failures + result.errors + [
        (t, "unexpected success") for t in result.unexpectedSuccesses]
    for test, tb in failures:
        print("=" * 70)
        print("FAILED: %s" % (test.id() if hasattr(test, "id") else test))
        print("-" * 70)
        print(tb)
    print("(%.1f s)" % (time.monotonic() - t0))
    line = "%d passed, %d failed" % (len(result.passed), len(failures))
    if result.skipped:
        line += ", %d skipped" % len(result.skipped)
    print(line, flush=True)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
