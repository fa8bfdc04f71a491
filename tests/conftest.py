"""Make the collection importable as ansible_collections.msp.screenconnect and give each test its own
rate-limit state directory.

A checkout is linked as build/dev/ansible_collections/msp/screenconnect (plain `python -m pytest
tests/unit` works from any checkout). A copy that already sits at .../ansible_collections/msp/screenconnect/
(tools/ci/ansible_test.sh lays one out for ansible-test, whose own collection loader imports it) gets
no link: its ansible_collections directory is used as it is.
The simulator (tools/simulator) is for tests/system only: its helpers put it on sys.path."""

import os
import sys

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _collections_path():
    if REPO.split(os.sep)[-3:] == ['ansible_collections', 'msp', 'screenconnect']:
        return os.path.dirname(os.path.dirname(os.path.dirname(REPO)))
    collections = os.path.join(REPO, 'build', 'dev')
    link = os.path.join(collections, 'ansible_collections', 'msp', 'screenconnect')
    if not os.path.islink(link):
        os.makedirs(os.path.dirname(link), exist_ok=True)
        os.symlink(REPO, link)
    return collections


COLLECTIONS = _collections_path()
if COLLECTIONS not in sys.path:
    sys.path.insert(0, COLLECTIONS)


def pytest_configure(config):
    config.addinivalue_line('markers', 'every_core: also run in every supported ansible-core release '
                                       '(make every-core runs `pytest -m every_core tests/system` per release)')


class FakeClock:
    """A clock that moves only when something sleeps on it: clock() is the time, clock.sleep(seconds) waits."""

    def __init__(self):
        self.now = 1000.0
        self.slept = []

    def __call__(self):
        return self.now

    def sleep(self, seconds):
        self.slept.append(seconds)
        self.now += seconds


@pytest.fixture
def clock():
    return FakeClock()


@pytest.fixture
def state_dir(tmp_path):
    """A private rate-limit state directory, so tests never share buckets."""
    path = tmp_path / 'state'
    path.mkdir(mode=0o700)
    return str(path)
