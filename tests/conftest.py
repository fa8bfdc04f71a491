"""Make the checkout importable as ansible_collections.msp.screenconnect and the simulator as
screenconnect_sim, and give each test run its own rate-limit state directory."""

import os
import sys

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
COLLECTIONS = os.path.join(REPO, 'build', 'dev')
LINK = os.path.join(COLLECTIONS, 'ansible_collections', 'msp', 'screenconnect')

if not os.path.islink(LINK):
    os.makedirs(os.path.dirname(LINK), exist_ok=True)
    os.symlink(REPO, LINK)
for path in (COLLECTIONS, os.path.join(REPO, 'tools', 'simulator')):
    if path not in sys.path:
        sys.path.insert(0, path)


def pytest_configure(config):
    config.addinivalue_line('markers', 'every_core: also run in every supported ansible-core release '
                                       '(make test runs `pytest -m every_core tests/integration` per release)')


@pytest.fixture
def state_dir(tmp_path):
    """A private rate-limit state directory, so tests never share buckets."""
    path = tmp_path / 'state'
    path.mkdir(mode=0o700)
    return str(path)
