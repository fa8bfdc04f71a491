"""Event source figures (extensions/eda): a poll of a large fleet, trigger latency, memory over many polls.

    .venv/bin/python benchmarks/bench_events.py [--sizes 10000 100000] [--triggers 300] [--polls 1000] [--fleet 2000]

The simulator runs in its own process. Each poll size runs in a fresh Python process of its own, so
that its peak memory (ru_maxrss) is that poll's alone. Needs aiohttp (requirements.txt). Not part of
make test: figures of one run are comparable, across machines they are not.
"""

import argparse
import asyncio
import gc
import json
import os
import resource
import statistics
import subprocess
import sys
import time
import urllib.request

from common import SECRET, SimulatorProcess, dev_collection

dev_collection()
SOURCES = 'ansible_collections.msp.screenconnect.extensions.eda.plugins.event_source.'
TOKEN = 'bench-token-0123456789abcdef'


def source(name):
    __import__(SOURCES + name)
    return sys.modules[SOURCES + name]


def rss_mb():
    with open('/proc/self/status') as handle:
        for line in handle:
            if line.startswith('VmRSS:'):
                return int(line.split()[1]) / 1024.0
    return 0.0


def control(url, path, payload=None):
    request = urllib.request.Request(url + path, data=json.dumps(payload or {}).encode(), method='POST',
                                     headers={'Content-Type': 'application/json'})
    with urllib.request.urlopen(request, timeout=60) as answer:
        return json.loads(answer.read())


def args_for(url, **extra):
    """Connection options with a rate limit that never waits: the figures are the code's, not the limit's."""
    args = {'server_url': url, 'api_secret': SECRET, 'rate_limit': 600000, 'rate_burst': 100000, 'timeout': 600}
    args.update(extra)
    return args


def one_poll_size(size):
    """Child process: two polls of `size` sessions (the second after 100 changes), timed by part."""
    sessions = source('sessions')
    with SimulatorProcess('--sessions', size, '--seed', 5) as sim:
        poller = sessions.Poller(args_for(sim.url, interval=60))
        base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
        start = time.perf_counter()
        events, state = poller.poll()
        first_wall = time.perf_counter() - start
        poller.commit(state)
        first = dict(poller.last_timing)
        ids = list(state)[:100]
        for number, session_id in enumerate(ids):
            action = ('connect', 'disconnect', 'rename', 'properties')[number % 4]
            control(sim.url, '/_sim/fleet/%s/%s' % (session_id, action),
                    {'name': 'renamed-%d' % number, 'custom_properties': ['Company %d' % number]})
        start = time.perf_counter()
        events, state = poller.poll()
        second_wall = time.perf_counter() - start
        poller.commit(state)
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
        print(json.dumps({'size': size, 'sessions': len(state), 'events': len(events), 'first_wall': first_wall,
                          'first': first, 'second_wall': second_wall, 'second': poller.last_timing,
                          'peak_rss_mb': peak, 'rss_before_mb': base}))


def polls(sizes):
    for size in sizes:
        child = subprocess.run([sys.executable, __file__, '--child-poll', str(size)], capture_output=True, text=True,
                               check=False)
        if child.returncode:
            print('poll of %d failed:\n%s' % (size, child.stderr[-2000:]))
            continue
        result = json.loads(child.stdout.strip().splitlines()[-1])
        for label, wall, part in (('first poll', result['first_wall'], result['first']),
                                  ('poll after 100 changes', result['second_wall'], result['second'])):
            print('%6d sessions, %-22s wall %6.2f s = fetch %6.2f s + build %6.2f s + diff %6.3f s' % (
                size, label, wall, part['fetch'], part['build'], part['diff']))
        print('%6d sessions: %d events from the second poll, peak RSS %.0f MB (%.0f MB before the first poll)' % (
            size, result['events'], result['peak_rss_mb'], result['rss_before_mb']))


def trigger_latency(count):
    """Sequential trigger requests: from the web request to the event in the queue, and one session read alone."""
    triggers = source('triggers')
    from ansible_collections.msp.screenconnect.plugins.module_utils import _client
    with SimulatorProcess('--sessions', 500, '--seed', 6) as sim:
        sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), 'tests', 'system'))
        from eda_helpers import free_port
        port = free_port()
        client = _client.ScreenConnectClient(args_for(sim.url))
        ids = [entry['SessionID'] for entry in client.fetch_sessions_raw(None)][:50]
        reads = []
        for session_id in ids * 2:
            start = time.perf_counter()
            client.get_session_raw(session_id)
            reads.append(time.perf_counter() - start)
        loop = asyncio.new_event_loop()
        queue = asyncio.Queue()
        task = loop.create_task(triggers.main(queue, dict(args_for(sim.url), host='127.0.0.1', port=port, token=TOKEN)))
        loop.run_until_complete(asyncio.sleep(0.5))
        url = 'http://127.0.0.1:%d/screenconnect?token=%s' % (port, TOKEN)
        latencies = []
        answers = []

        def send(body):
            request = urllib.request.Request(url, data=body, method='POST', headers={'Content-Type': 'application/json'})
            start = time.perf_counter()
            with urllib.request.urlopen(request, timeout=30) as answer:
                answer.read()
            answers.append(time.perf_counter() - start)
            return start

        async def one(session_id):
            body = json.dumps({'SessionID': session_id, 'EventType': 'Connected', 'ProcessType': 'Guest'}).encode()
            start = await loop.run_in_executor(None, send, body)
            await queue.get()
            latencies.append(time.perf_counter() - start)

        for number in range(count):
            loop.run_until_complete(one(ids[number % len(ids)]))
        task.cancel()
        try:
            loop.run_until_complete(task)
        except asyncio.CancelledError:
            pass
        loop.close()

    def quantiles(values):
        values = sorted(values)
        return statistics.median(values) * 1000, values[min(len(values) - 1, int(len(values) * 0.99))] * 1000
    print('trigger, web request to event in queue (%d sequential): median %.1f ms, p99 %.1f ms' % (
        count, *quantiles(latencies)))
    print('  of which the 202 answer: median %.1f ms, p99 %.1f ms' % quantiles(answers))
    print('  one session read alone (GetSessionBySessionID, %d): median %.1f ms, p99 %.1f ms' % (len(reads), *quantiles(reads)))


def memory_over_polls(count, fleet):
    sessions = source('sessions')
    with SimulatorProcess('--sessions', fleet, '--seed', 7) as sim:
        poller = sessions.Poller(args_for(sim.url, interval=60))
        marks = {}
        start = time.perf_counter()
        for number in range(1, count + 1):
            events, state = poller.poll()
            poller.commit(state)
            assert not events
            if number in (10, 100, count // 2, count):
                gc.collect()
                marks[number] = rss_mb()
        wall = time.perf_counter() - start
    print('%d polls of an unchanged fleet of %d sessions in %.0f s (%.1f ms each): RSS %s' % (
        count, fleet, wall, wall / count * 1000, ', '.join('after %d: %.1f MB' % item for item in sorted(marks.items()))))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n', maxsplit=1)[0])
    parser.add_argument('--sizes', type=int, nargs='*', default=[10000, 100000])
    parser.add_argument('--triggers', type=int, default=300)
    parser.add_argument('--polls', type=int, default=1000)
    parser.add_argument('--fleet', type=int, default=2000)
    parser.add_argument('--child-poll', type=int, help=argparse.SUPPRESS)
    options = parser.parse_args()
    if options.child_poll:
        return one_poll_size(options.child_poll)
    polls(options.sizes)
    if options.triggers:
        trigger_latency(options.triggers)
    if options.polls:
        memory_over_polls(options.polls, options.fleet)
    return 0


if __name__ == '__main__':
    sys.exit(main())
