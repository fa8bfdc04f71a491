"""Inventory figures: `ansible-inventory --list --export` time and peak memory at 1k, 10k and 50k sessions.

    .venv/bin/python benchmarks/bench_inventory.py [--sizes 1000,10000,50000] [--runs 3] [--skip-keyed-above 0]

For each fleet size, against the simulator in its own process:
  (a) plugin  this plugin, default groups built in Python;
  (b) floor   benchmarks/inventory_plugins/json_floor.py adding the SAME hosts, hostvars and groups
              (dumped once with the plugin's own build_hosts()) from a local JSON file, no HTTP:
              what any plugin pays to hand this inventory to ansible-core;
  (c) keyed   this plugin with group_by: [] and the company/site/tag/online/os groups made with
              keyed_groups Jinja, the way other inventories do it.
Time is wall clock of the whole command (best of --runs), memory the child's maximum resident set
(os.wait4). Then the plugin's own work in-process at 10k: fetch, JSON parse, normalize + hosts + groups,
marking the text for ansible-core, and the cost of handing the hostvars to ansible-core's InventoryData.
The figures of one run are comparable; across machines they are not. Run it with each release:

    tools/ansible_core.sh 2.21 python benchmarks/bench_inventory.py --sizes 10000,50000
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

import requests

from common import REPO, SECRET, SimulatorProcess, dev_collection, integration_tests

COLLECTIONS = dev_collection()
integration_tests()
from inventory_export import unwrap  # noqa: E402
from ansible_collections.msp.screenconnect.plugins.inventory import screenconnect as plugin  # noqa: E402
from ansible_collections.msp.screenconnect.plugins.module_utils import _client, _connection_options  # noqa: E402

BIN = os.path.dirname(sys.executable)
FLOOR_PLUGINS = os.path.join(REPO, 'benchmarks', 'inventory_plugins')
DEFAULTS = {'api': 'rest', 'property_names': {'company': 1, 'site': 2, 'tag': 3},
            'hostnames': ['name', 'machine_name', 'session_id'], 'duplicates': 'newest',
            'group_by': ['company', 'site', 'tag'], 'tag_separator': ','}
KEYED = '''plugin: msp.screenconnect.screenconnect
group_by: []
keyed_groups:
  - key: screenconnect_company | lower
    prefix: company
  - key: screenconnect_site | lower
    prefix: site
  - key: screenconnect_tag.split(',') | map('trim') | map('lower') | select | list
    prefix: tag
  - key: "'online' if screenconnect_online else 'offline'"
    prefix: screenconnect
  - key: screenconnect_guest.os_family
    prefix: os
'''


def fetch_raw(url):
    answer = requests.post(url + '/App_Extensions/%s/Service.ashx/GetSessionsByFilter' % _connection_options.DEFAULT_EXTENSION_ID,
                           json=["SessionType = 'Access'"], headers={'CTRLAuthHeader': SECRET, 'Origin': url}, timeout=600)
    answer.raise_for_status()
    return answer.content


def build(raw):
    return plugin.build_hosts(raw, DEFAULTS['api'], DEFAULTS['property_names'], DEFAULTS['hostnames'],
                              DEFAULTS['duplicates'], DEFAULTS['group_by'], DEFAULTS['tag_separator'])


def timed_command(args, env):
    """(seconds, peak RSS in MB) of one command."""
    start = time.time()
    process = subprocess.Popen(args, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _pid, status, usage = os.wait4(process.pid, 0)
    elapsed = time.time() - start
    stderr = process.stderr.read().decode('utf-8', 'replace')
    process.stderr.close()
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0:
        raise RuntimeError('%s failed (%d):\n%s' % (' '.join(args), process.returncode, stderr))
    return elapsed, usage.ru_maxrss / 1024.0


def best_of(runs, args, env):
    results = [timed_command(args, env) for _run in range(runs)]
    return min(seconds for seconds, _rss in results), max(rss for _seconds, rss in results)


def one_size(size, runs, skip_keyed_above):
    work = tempfile.mkdtemp(prefix='sc-bench-inv-')
    with SimulatorProcess('--sessions', size, '--seed', 1) as sim:
        fetch_raw(sim.url)  # the simulator renders a fleet once and caches it: warm it for every candidate
        hosts = build(json.loads(fetch_raw(sim.url)))
        floor_data = os.path.join(work, 'floor.json')
        with open(floor_data, 'w') as handle:
            json.dump({'hosts': hosts}, handle)
        configs = {
            'plugin': ('screenconnect.yml', 'plugin: msp.screenconnect.screenconnect\n'),
            'floor': ('floor.yml', 'plugin: json_floor\npath: %s\n' % floor_data),
            'keyed': ('keyed.screenconnect.yml', KEYED),
        }
        env = dict(os.environ, PATH=BIN + os.pathsep + os.environ.get('PATH', ''), ANSIBLE_COLLECTIONS_PATH=COLLECTIONS,
                   ANSIBLE_INVENTORY_PLUGINS=FLOOR_PLUGINS, ANSIBLE_INVENTORY_UNPARSED_FAILED='true',
                   ANSIBLE_HOME=os.path.join(work, 'home'), XDG_CACHE_HOME=os.path.join(work, 'cache'),
                   SCREENCONNECT_SERVER_URL=sim.url, SCREENCONNECT_API_SECRET=SECRET)
        row = {'size': size, 'hosts': len(hosts)}
        for label, (name, text) in configs.items():
            if label == 'keyed' and skip_keyed_above and size > skip_keyed_above:
                row[label] = None
                continue
            path = os.path.join(work, name)
            with open(path, 'w') as handle:
                handle.write(text)
            args = [os.path.join(BIN, 'ansible-inventory'), '-i', path, '--list', '--export',
                    '--output', os.path.join(work, label + '.out.json')]
            row[label] = best_of(runs if size <= 10000 else 1, args, env)
        # Same groups and hostvars from (a) and (b), markers aside (the floor marks nothing, so 2.19+
        # writes its every string wrapped): the floor is a fair one.
        with open(os.path.join(work, 'plugin.out.json')) as a_file, open(os.path.join(work, 'floor.out.json')) as b_file:
            row['same'] = unwrap(json.load(a_file)) == unwrap(json.load(b_file))
    return row


def hand_over(inventory, hosts, value_of, groups=True):
    """Seconds to add `hosts` to an InventoryData as a plugin does, each hostvar through value_of."""
    start = time.time()
    for name, hostvars, host_groups in hosts:
        inventory.add_host(name)
        for var, value in hostvars.items():
            inventory.set_variable(name, var, value_of(value))
        for group in host_groups if groups else ():
            if group not in inventory.groups:
                inventory.add_group(group)
            inventory.add_child(group, name)
    return time.time() - start


def in_process(size):
    """The plugin's own work at one size, in this process, step by step."""
    from ansible.inventory.data import InventoryData
    with SimulatorProcess('--sessions', size, '--seed', 1) as sim:
        fetch_raw(sim.url)
        client = _client.ScreenConnectClient({'server_url': sim.url, 'api_secret': SECRET},
                                             state_dir=tempfile.mkdtemp(prefix='sc-bench-state-'))
        start = time.time()
        raw = client.fetch_sessions_raw(None)
        fetch_parse = time.time() - start
        body = fetch_raw(sim.url)
        start = time.time()
        json.loads(body)
        parse = time.time() - start
        start = time.time()
        hosts = build(raw)
        own = time.time() - start

        # What marking the text costs (trusted on 2.19+, unsafe template text before): the plugin's
        # TextMarker over every host's hostvars, as _populate does.
        marker = plugin.TextMarker()
        start = time.time()
        for _name, hostvars, _groups in hosts:
            marker(hostvars)
        marking = time.time() - start

        handover = hand_over(InventoryData(), hosts, lambda value: value)
        # What the hostvar shape costs ansible-core: the same values with the nested ones as JSON text.
        flat = hand_over(InventoryData(), hosts,
                         lambda value: json.dumps(value) if isinstance(value, (dict, list)) else value, groups=False)
    return {'size': size, 'hosts': len(hosts), 'bytes': len(body), 'fetch_parse': fetch_parse, 'parse': parse,
            'own': own, 'marking': marking, 'handover': handover, 'flat_handover': flat}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n', maxsplit=1)[0])
    parser.add_argument('--sizes', default='1000,10000,50000')
    parser.add_argument('--runs', type=int, default=3, help='runs per figure up to 10k sessions (best counts); 1 above')
    parser.add_argument('--skip-keyed-above', type=int, default=0, help='leave (c) out above this many sessions')
    parser.add_argument('--in-process', type=int, default=10000, help='fleet size of the in-process figures (0: none)')
    args = parser.parse_args()
    from ansible.release import __version__
    print('ansible-core %s, python %s' % (__version__, sys.version.split()[0]))
    print('%7s %6s | %17s | %17s | %17s | %6s %7s %s'
          % ('size', 'hosts', '(a) plugin s/MB', '(b) floor s/MB', '(c) keyed s/MB', 'a/b', 'c/a', 'a==b'))
    for size in [int(part) for part in args.sizes.split(',') if part]:
        row = one_size(size, args.runs, args.skip_keyed_above)
        a, b, c = row['plugin'], row['floor'], row['keyed']
        print('%7d %6d | %8.2f %8.0f | %8.2f %8.0f | %8s %8s | %6.2f %7s %s' % (
            size, row['hosts'], a[0], a[1], b[0], b[1], '%.2f' % c[0] if c else '-', '%.0f' % c[1] if c else '-',
            a[0] / b[0], '%.1fx' % (c[0] / a[0]) if c else '-', row['same']), flush=True)
    if args.in_process:
        figures = in_process(args.in_process)
        print('\nin-process at %(size)d sessions (%(hosts)d hosts, %(bytes)d bytes of JSON):' % figures)
        print('  fetch + JSON parse (client)          %.2f s (JSON parse alone %.2f s)' % (figures['fetch_parse'], figures['parse']))
        print('  normalize + hostnames + groups        %.2f s' % figures['own'])
        print('  marking the text (%s)  %.2f s' % (
            'trusted' if plugin.MARK_TRUSTED else 'unsafe where templated', figures['marking']))
        print('  plugin own work total                 %.2f s' % (figures['fetch_parse'] + figures['own'] + figures['marking']))
        print('  hand-over to InventoryData (set_variable, add_child)  %.2f s' % figures['handover'])
        print('  same hand-over, nested values as JSON text            %.2f s' % figures['flat_handover'])


if __name__ == '__main__':
    main()
