"""One session_command task over 200 sessions against the simulator at a 120/min limit.

    .venv/bin/python benchmarks/bench_session_command.py [--sessions 200] [--limit 120] [--burst 10]

Runs a real ansible-playbook (the checkout as the collection) and reads the simulator's record of
what arrived: throughput as a share of the limit, and the number of 429s.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

import requests

from common import SECRET, SimulatorProcess, dev_collection

PLAY = '''- hosts: localhost
  gather_facts: false
  tasks:
    - msp.screenconnect.session_command:
        session_id: %s
        command: hostname
        rate_limit: %d
        rate_burst: %d
'''


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--sessions', type=int, default=200)
    parser.add_argument('--limit', type=int, default=120)
    parser.add_argument('--burst', type=int, default=10)
    args = parser.parse_args()
    collections = dev_collection()
    work = tempfile.mkdtemp(prefix='sc-bench-command-')
    with SimulatorProcess('--sessions', args.sessions * 2, '--seed', 5, '--rate-limit', args.limit,
                          '--rate-burst', args.burst) as sim:
        # Read the ids through the control API so the bucket stays full for the task.
        url = sim.url + '/App_Extensions/2d558935-686a-4bd0-9991-07539f5fe749/Service.ashx/GetSessionsByFilter'
        raw = requests.post(url, json=["SessionType = 'Access'"], headers={'CTRLAuthHeader': SECRET}, timeout=60).json()
        ids = [session['SessionID'] for session in raw if not session.get('IsEnded')][:args.sessions]
        time.sleep(args.burst * 60.0 / args.limit)  # let the bucket refill after that read
        requests.post(sim.url + '/_sim/reset', json={}, timeout=10)
        book = os.path.join(work, 'play.yml')
        with open(book, 'w') as handle:
            handle.write(PLAY % (json.dumps(ids), args.limit, args.burst))
        env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=collections, SCREENCONNECT_SERVER_URL=sim.url,
                   SCREENCONNECT_API_SECRET=SECRET, XDG_CACHE_HOME=os.path.join(work, 'cache'))
        bin_dir = os.path.dirname(sys.executable)
        start = time.time()
        subprocess.run([os.path.join(bin_dir, 'ansible-playbook'), '-i', 'localhost,', '-c', 'local',
                        '-e', 'ansible_python_interpreter=%s' % sys.executable, book],
                       env=env, check=True, stdout=subprocess.DEVNULL)
        wall = time.time() - start
        recorded = requests.get(sim.url + '/_sim/requests', timeout=30).json()
        stats = requests.get(sim.url + '/_sim/stats', timeout=30).json()
    calls = [entry for entry in recorded if entry.get('api') == 'rest']
    sends = [entry for entry in calls if entry['method'] == 'SendCommandToSession' and entry['status'] == 200]
    span = calls[-1]['time'] - calls[0]['time']
    # The fastest any client may go: `burst` calls at once, then one per 60/limit seconds.
    ideal = (len(calls) - args.burst) * 60.0 / args.limit
    print('session_command over %d sessions: %d API calls (%d commands sent) in %.1f s '
          '(playbook wall %.1f s) at %d/min burst %d'
          % (len(ids), len(calls), len(sends), span, wall, args.limit, args.burst))
    print('throughput: %.1f calls/min = %.1f%% of the limit (burst-adjusted); 429 answers: %d'
          % ((len(calls) - 1) / span * 60, ideal / span * 100, stats['status_429']))


if __name__ == '__main__':
    main()
