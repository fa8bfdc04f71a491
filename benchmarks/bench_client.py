"""Client figures: a 50k-session fleet read and normalized, and the rate limit held by many processes.

    .venv/bin/python benchmarks/bench_client.py [--sessions 50000] [--processes 10] [--calls 12]

Prints one line per figure; the figures of one run are comparable, across machines they are not.
"""

import argparse
import json
import tempfile
import time

import requests

from common import SECRET, SimulatorProcess, dev_collection, integration_tests

dev_collection()
integration_tests()
from ansible_collections.msp.screenconnect.plugins.module_utils import _connection_options, _sessions  # noqa: E402
from limiter_clients import run_clients  # noqa: E402


def fleet_read(sessions):
    with SimulatorProcess('--sessions', sessions, '--seed', 1) as sim:
        print('simulator with %d sessions started in %.1f s' % (sessions, sim.start_seconds))
        url = sim.url + '/App_Extensions/%s/Service.ashx/GetSessionsByFilter' % _connection_options.DEFAULT_EXTENSION_ID
        start = time.time()
        body = requests.post(url, json=["SessionType = 'Access'"], headers={'CTRLAuthHeader': SECRET}, timeout=300).content
        fetch = time.time() - start
        start = time.time()
        raw = json.loads(body)
        parse = time.time() - start
        start = time.time()
        normalized = [_sessions.normalize_session(item) for item in raw]
        normalize = time.time() - start
        print('GetSessionsByFilter SessionType = \'Access\': %d sessions, %.1f MB, fetch %.2f s, '
              'json parse %.2f s, normalize %.2f s (%.1f us/session)'
              % (len(normalized), len(body) / 1e6, fetch, parse, normalize, normalize / len(normalized) * 1e6))


def limiter(processes, calls):
    # The clients of the 10-process test (tests/system/limiter_clients.py), at this scale.
    with SimulatorProcess('--sessions', 50, '--rate-limit', 120, '--rate-burst', 10) as sim:
        state_dir = tempfile.mkdtemp(prefix='sc-bench-state-')
        elapsed, client_429 = run_clients(sim.url, SECRET, state_dir, processes, calls, rate_limit=120, rate_burst=10)
        stats = requests.get(sim.url + '/_sim/stats', timeout=10).json()
        total = processes * calls
        # The bucket starts full: `burst` calls are free, the rest are paced at the limit.
        ideal = (total - 10) / 2.0
        print('limiter: %d processes x %d calls = %d calls in %.1f s at 120/min burst 10; server saw %d x 429 '
              '(client %d); paced rate %.1f%% of the limit'
              % (processes, calls, total, elapsed, stats['rate_limited'], client_429, ideal / elapsed * 100))


if __name__ == '__main__':
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--sessions', type=int, default=50000)
    parser.add_argument('--processes', type=int, default=10)
    parser.add_argument('--calls', type=int, default=12)
    args = parser.parse_args()
    fleet_read(args.sessions)
    limiter(args.processes, args.calls)
