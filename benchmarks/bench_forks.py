"""Many forks, one limit: every host's task calls the API, against a simulator enforcing the limit.

    .venv/bin/python benchmarks/bench_forks.py [--hosts 200] [--forks 10] [--limit 120] [--burst 10]

Run 1: one playbook over --hosts hosts of the dynamic inventory, each host's task a
session_info lookup of its own session, delegated to the controller, --forks at once.
Run 2: two such playbooks at once on the same controller, half the hosts each.
Prints, from the simulator's record of what arrived, the calls, the 429s and the throughput as a
share of the limit (burst-adjusted: `burst` calls are free, then one per 60/limit seconds).
"""

import argparse
import os
import subprocess
import sys
import tempfile
import time

import requests

from common import SECRET, SimulatorProcess, dev_collection

PLAY = '''- hosts: "all[%d:%d]"
  gather_facts: false
  tasks:
    - msp.screenconnect.session_info:
        session_id: "{{ screenconnect_session_id }}"
        rate_limit: %d
        rate_burst: %d
      delegate_to: localhost
'''


def run_playbooks(sim, work, slices, args):
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=dev_collection(), SCREENCONNECT_SERVER_URL=sim.url,
               SCREENCONNECT_API_SECRET=SECRET, SCREENCONNECT_RATE_LIMIT=str(args.limit),
               XDG_CACHE_HOME=os.path.join(work, 'cache'), ANSIBLE_HOST_KEY_CHECKING='false')
    inventory = os.path.join(work, 'screenconnect.yml')
    with open(inventory, 'w') as handle:
        handle.write('plugin: msp.screenconnect.screenconnect\nrate_burst: %d\n' % args.burst)
    bin_dir = os.path.dirname(sys.executable)
    requests.post(sim.url + '/_sim/reset', json={}, timeout=10)
    processes = []
    for index, (first, last) in enumerate(slices):
        book = os.path.join(work, 'play-%d.yml' % index)
        with open(book, 'w') as handle:
            handle.write(PLAY % (first, last, args.limit, args.burst))
        processes.append(subprocess.Popen(
            [os.path.join(bin_dir, 'ansible-playbook'), '-i', inventory, '-f', str(args.forks), book,
             '-e', 'ansible_python_interpreter=%s' % sys.executable],
            env=env, stdout=subprocess.DEVNULL))
    codes = [process.wait() for process in processes]
    if any(codes):
        raise SystemExit('a playbook failed: %s' % codes)
    recorded = requests.get(sim.url + '/_sim/requests', timeout=30).json()
    calls = [entry for entry in recorded if entry.get('api') == 'rest']
    span = calls[-1]['time'] - calls[0]['time']
    ideal = (len(calls) - args.burst) * 60.0 / args.limit
    return len(calls), sum(1 for entry in calls if entry['status'] == 429), span, ideal / span * 100


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--hosts', type=int, default=200)
    parser.add_argument('--forks', type=int, default=10)
    parser.add_argument('--limit', type=int, default=120)
    parser.add_argument('--burst', type=int, default=10)
    args = parser.parse_args()
    work = tempfile.mkdtemp(prefix='sc-bench-forks-')
    # About 85% of generated sessions are live Access sessions with a unique name.
    with SimulatorProcess('--sessions', int(args.hosts * 1.4), '--seed', 9, '--rate-limit', args.limit,
                          '--rate-burst', args.burst) as sim:
        half = args.hosts // 2
        for label, slices in (('one playbook', [(0, args.hosts - 1)]),
                              ('two playbooks at once', [(0, half - 1), (half, args.hosts - 1)])):
            time.sleep(args.burst * 60.0 / args.limit)  # a full bucket for each run
            calls, limited, span, share = run_playbooks(sim, work, slices, args)
            print('%s: %d hosts, %d forks each, %d API calls in %.1f s at %d/min burst %d: '
                  '%d x 429, throughput %.1f%% of the limit'
                  % (label, args.hosts, args.forks, calls, span, args.limit, args.burst, limited, share))


if __name__ == '__main__':
    main()
