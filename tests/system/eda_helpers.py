"""Shared by the event source tests (test_eda_*.py): load a source and drive its main(queue, args)
the way ansible-rulebook does, with an asyncio queue, while a test changes the fleet."""

import asyncio
import importlib
import json
import socket
import time

SOURCES = 'ansible_collections.msp.screenconnect.extensions.eda.plugins.event_source.'


def source(name):
    """The event source module `name` of this checkout (tests/conftest.py links it as a collection)."""
    return importlib.import_module(SOURCES + name)


def free_port():
    with socket.socket() as probe:
        probe.bind(('127.0.0.1', 0))
        return probe.getsockname()[1]


class Running:
    """One source's main() on a fresh event loop: start(), then events()/wait_for() from the test's
    own (blocking) code between fleet changes, then stop()."""

    def __init__(self, module, args):
        self.module = module
        self.args = args
        self.loop = asyncio.new_event_loop()
        self.queue = None
        self.task = None

    def start(self, settle=0.0):
        self.queue = asyncio.Queue()
        self.task = self.loop.create_task(self.module.main(self.queue, dict(self.args)))
        self.pump(settle)
        return self

    def pump(self, seconds):
        """Let the loop run for `seconds` (the source polls, serves, reads)."""
        self.loop.run_until_complete(asyncio.sleep(seconds))
        if self.task.done():
            self.task.result()  # raises what main() raised

    def run(self, coroutine):
        return self.loop.run_until_complete(coroutine)

    def events(self):
        found = []
        while not self.queue.empty():
            found.append(self.queue.get_nowait())
        return found

    def wait_for(self, count, timeout=10.0):
        """At least `count` events, or as many as came within `timeout`."""
        found = []
        deadline = time.monotonic() + timeout
        while len(found) < count and time.monotonic() < deadline:
            self.pump(0.05)
            found.extend(self.events())
        return found

    def stop(self):
        if self.task is not None and not self.task.done():
            self.task.cancel()
            try:
                self.loop.run_until_complete(self.task)
            except asyncio.CancelledError:
                pass
        self.loop.run_until_complete(self.loop.shutdown_asyncgens())
        self.loop.close()


def by_type(events):
    found = {}
    for event in events:
        found.setdefault(event['screenconnect']['type'], []).append(event)
    return found


def check_shape(event, source_name, secrets=()):
    """The one event shape of both sources, and no secret anywhere in it."""
    body = event['screenconnect']
    assert body['source'] == source_name
    assert set(body) <= {'source', 'type', 'host', 'session_id', 'session', 'changes', 'trigger'}
    assert isinstance(body['host'], str) and body['host']
    assert event['meta'] == {'hosts': body['host']}
    assert body['session']['screenconnect_session_id'] == body['session_id']
    text = json.dumps(event)
    for secret in secrets:
        assert secret not in text
