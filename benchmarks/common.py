"""Shared set-up for the benchmark scripts: import paths and a simulator in its own process."""

import os
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEV_COLLECTIONS = os.path.join(REPO, 'build', 'dev')
SIMULATOR = os.path.join(REPO, 'tools', 'simulator', 'screenconnect_sim')  # a package Python runs as a directory
INTEGRATION_TESTS = os.path.join(REPO, 'tests', 'system')
SECRET = 's3cret-rest'


def dev_collection():
    """Make the checkout importable as ansible_collections.msp.screenconnect."""
    link = os.path.join(DEV_COLLECTIONS, 'ansible_collections', 'msp', 'screenconnect')
    if not os.path.islink(link):
        os.makedirs(os.path.dirname(link), exist_ok=True)
        os.symlink(REPO, link)
    if DEV_COLLECTIONS not in sys.path:
        sys.path.insert(0, DEV_COLLECTIONS)
    return DEV_COLLECTIONS


def integration_tests():
    """Make the helpers of tests/system importable (limiter_clients: the test's client processes)."""
    if INTEGRATION_TESTS not in sys.path:
        sys.path.insert(0, INTEGRATION_TESTS)


class SimulatorProcess:
    """The simulator as its own process, as users run it, so its CPU is not the benchmark's."""

    def __init__(self, *args):
        self.work = tempfile.mkdtemp(prefix='sc-bench-')
        self.port_file = os.path.join(self.work, 'url')
        self.args = [sys.executable, SIMULATOR, '--port', '0', '--port-file', self.port_file] + [str(a) for a in args]
        self.process = None
        self.url = None
        self.start_seconds = None

    def __enter__(self):
        start = time.time()
        self.process = subprocess.Popen(self.args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        while not os.path.exists(self.port_file):
            if self.process.poll() is not None or time.time() - start > 120:
                raise RuntimeError('simulator did not start: %s' % ' '.join(self.args))
            time.sleep(0.05)
        self.start_seconds = time.time() - start
        with open(self.port_file) as handle:
            self.url = handle.read().strip()
        return self

    def __exit__(self, *exc):
        self.process.terminate()
        self.process.wait(10)
