"""Client processes sharing one rate limit against one server, the way Ansible's forks do.

The 10-process test (test_client.py) and benchmarks/bench_client.py run these same clients.
"""

import multiprocessing
import time

from ansible_collections.msp.screenconnect.plugins.module_utils import _client


def _client_process(options, state_dir, calls, queue):
    client = _client.ScreenConnectClient(options, state_dir=state_dir)
    for _call in range(calls):
        client.call('GetSessionsByName', ['WS-00001'])
    queue.put(client.stats['rate_limited'])


def run_clients(url, secret, state_dir, processes, calls, rate_limit, rate_burst, timeout=None):
    """`processes` clients, each with `calls` reads, one state_dir: (seconds taken, 429s the clients saw)."""
    options = {'server_url': url, 'api_secret': secret, 'rate_limit': rate_limit, 'rate_burst': rate_burst}
    queue = multiprocessing.Queue()
    workers = [multiprocessing.Process(target=_client_process, args=(options, state_dir, calls, queue))
               for _process in range(processes)]
    start = time.time()
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout)
    elapsed = time.time() - start
    return elapsed, sum(queue.get(timeout=5) for _process in workers)
