"""Inventory figures: this plugin against two floors, as `ansible-inventory` runs, with one ansible-core.

    tools/ansible_core.sh 2.21 python benchmarks/bench_inventory.py [--sizes 10000,50000,100000] [--graph]
        [--runs 5] [--big-runs 3] [--cached 10000] [--constructed 10000] [--phases 10000]

benchmarks/inventory_table.sh runs the whole table of issue 22 (2.21 and 2.19) with one command.

Candidates, each one `ansible-inventory -i <config> --list --export --output <file>`:
  plugin      this plugin against the simulator (its own process), default options;
  best floor  benchmarks/inventory_plugins/best_floor.py: the SAME hosts, hostvars and groups (dumped once
              with the plugin's own build_hosts()) from a local JSON file, each distinct string marked
              once as a good plugin does (trusted and tagged with the wrapper's Origin on 2.19+);
  floor       benchmarks/inventory_plugins/json_floor.py: the same file handed over unmarked.
Runs alternate (plugin, best floor, floor, plugin, ...) so that a busy machine slows all alike; each
figure is the median of --runs. Time is wall clock of the whole command, memory the child's peak
resident set (os.wait4). "fetch" is the same GetSessionsByFilter request made by curl (median of
--runs), and the goal is plugin <= 1.05 x (best floor + fetch). The outputs of plugin and best floor
are compared: identical JSON (markers included), else the figures mean nothing.
"""

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

from common import REPO, SECRET, SimulatorProcess, dev_collection

COLLECTIONS = dev_collection()
from ansible_collections.msp.screenconnect.plugins.inventory import screenconnect as plugin  # noqa: E402
from ansible_collections.msp.screenconnect.plugins.module_utils import _connection_options, _sessions  # noqa: E402

BIN = os.path.dirname(sys.executable)
FLOOR_PLUGINS = os.path.join(REPO, 'benchmarks', 'inventory_plugins')
DEFAULTS = {'api': 'rest', 'property_names': {'company': 1, 'site': 2, 'tag': 3},
            'hostnames': ['name', 'machine_name', 'session_id'], 'duplicates': 'newest',
            'group_by': ['company', 'site', 'tag'], 'tag_separator': ','}
PLUGIN_CONFIG = 'plugin: msp.screenconnect.screenconnect\n'
CACHED_CONFIG = PLUGIN_CONFIG + 'cache: true\ncache_plugin: ansible.builtin.jsonfile\ncache_connection: %s\ncache_timeout: 86400\n'
# One compose and one keyed_groups entry: two Jinja expressions per host.
CONSTRUCTED_CONFIG = PLUGIN_CONFIG + '''compose:
  ansible_host: screenconnect_guest.private_ip
keyed_groups:
  - key: screenconnect_guest.domain
    prefix: domain
'''
FILTER = ["SessionType = 'Access'"]
# {size: seconds} of --fetch-json: the trixie root of 2.20/2.21 has no curl.
FETCH_TIMES = {}


def method_url(url):
    return url + '/App_Extensions/%s/Service.ashx/GetSessionsByFilter' % _connection_options.DEFAULT_EXTENSION_ID


def download(url, output):
    """The plugin's request by urllib (not timed), the answer written to `output`."""
    request = urllib.request.Request(method_url(url), data=json.dumps(FILTER).encode(), method='POST', headers={
        'Content-Type': 'application/json', 'CTRLAuthHeader': SECRET, 'Origin': url})
    with urllib.request.urlopen(request, timeout=600) as answer, open(output, 'wb') as handle:
        shutil.copyfileobj(answer, handle)


def curl_fetch(url, output=os.devnull):
    """Seconds curl takes for the plugin's request, the answer written to `output`."""
    result = subprocess.run(['curl', '-sS', '-o', output, '-w', '%{time_total}', '-X', 'POST', '-H', 'Content-Type: application/json',
                             '-H', 'CTRLAuthHeader: ' + SECRET, '-H', 'Origin: ' + url, '--data', json.dumps(FILTER), method_url(url)],
                            check=True, capture_output=True, text=True)
    return float(result.stdout)


def timed_command(args, env):
    """(seconds, peak RSS in MB) of one command."""
    start = time.time()
    process = subprocess.Popen(args, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _pid, status, usage = os.wait4(process.pid, 0)
    elapsed = time.time() - start
    stderr = process.stderr.read().decode('utf-8', 'replace')
    process.stderr.close()
    if os.waitstatus_to_exitcode(status) != 0:
        raise RuntimeError('%s failed:\n%s' % (' '.join(args), stderr))
    return elapsed, usage.ru_maxrss / 1024.0


def requests_seen(sim):
    with urllib.request.urlopen(sim.url + '/_sim/requests', timeout=60) as answer:
        entries = json.loads(answer.read())
    return [entry for entry in entries if entry.get('api') in ('rest', 'rpc')]


class Bench:
    """One simulator fleet and the configs of every candidate, in a scratch directory."""

    def __init__(self, size):
        self.size = size
        self.work = tempfile.mkdtemp(prefix='sc-bench-inv-')
        self.sim = SimulatorProcess('--sessions', size, '--seed', 1)

    def __enter__(self):
        self.sim.__enter__()
        body_path = os.path.join(self.work, 'answer.json')
        download(self.sim.url, body_path)  # the simulator renders a fleet once and caches it: warm it for all
        self.body_bytes = os.path.getsize(body_path)
        data = os.path.join(self.work, 'floor.json')
        # In a process of its own: a child's peak RSS (wait4) counts what its parent held when it
        # forked, so this process must never hold a fleet.
        self.hosts = int(subprocess.run([sys.executable, os.path.abspath(__file__), '--dump-floor', body_path, data],
                                        check=True, capture_output=True, text=True).stdout)
        os.remove(body_path)
        self.configs = {
            'plugin': self.config('screenconnect.yml', PLUGIN_CONFIG),
            'best': self.config('best_floor.yml', 'plugin: best_floor\npath: %s\n' % data),
            'floor': self.config('json_floor.yml', 'plugin: json_floor\npath: %s\n' % data),
            'cached': self.config('cached.screenconnect.yml', CACHED_CONFIG % os.path.join(self.work, 'cache')),
            'constructed': self.config('constructed.screenconnect.yml', CONSTRUCTED_CONFIG),
        }
        self.env = dict(os.environ, PATH=BIN + os.pathsep + os.environ.get('PATH', ''), ANSIBLE_COLLECTIONS_PATH=COLLECTIONS,
                        ANSIBLE_INVENTORY_PLUGINS=FLOOR_PLUGINS, ANSIBLE_INVENTORY_UNPARSED_FAILED='true',
                        ANSIBLE_HOME=os.path.join(self.work, 'home'), XDG_CACHE_HOME=os.path.join(self.work, 'xdg'),
                        SCREENCONNECT_SERVER_URL=self.sim.url, SCREENCONNECT_API_SECRET=SECRET, SCREENCONNECT_RATE_LIMIT='100000',
                        SCREENCONNECT_RATE_BURST='100000')
        return self

    def __exit__(self, *exc):
        self.sim.__exit__(*exc)
        shutil.rmtree(self.work, ignore_errors=True)

    def config(self, name, text):
        path = os.path.join(self.work, name)
        with open(path, 'w') as handle:
            handle.write(text)
        return path

    def output(self, label, mode):
        return os.path.join(self.work, '%s.%s.out' % (label, mode))

    def run(self, label, mode='export'):
        args = [os.path.join(BIN, 'ansible-inventory'), '-i', self.configs[label]]
        args += ['--list', '--export'] if mode == 'export' else ['--graph']
        args += ['--output', self.output(label, mode)]
        return timed_command(args, self.env)

    def alternate(self, labels, runs, mode='export'):
        """{label: (median seconds, max peak RSS MB, [seconds])} of runs taken in turn."""
        times = dict((label, []) for label in labels)
        rss = dict((label, 0.0) for label in labels)
        for _run in range(runs):
            for label in labels:
                seconds, peak = self.run(label, mode)
                times[label].append(seconds)
                rss[label] = max(rss[label], peak)
        return dict((label, (statistics.median(times[label]), rss[label], times[label])) for label in labels)

    def fetch(self, runs):
        if FETCH_TIMES:  # measured beforehand where curl is (--fetch-json)
            return FETCH_TIMES[str(self.size)]
        return statistics.median(curl_fetch(self.sim.url) for _run in range(runs))

    def same(self, first, second, mode='export'):
        with open(self.output(first, mode), 'rb') as one, open(self.output(second, mode), 'rb') as other:
            if mode == 'graph':
                return one.read() == other.read()
            return json.loads(one.read()) == json.loads(other.read())


def build(raw):
    return plugin.build_hosts(raw, DEFAULTS['api'], DEFAULTS['property_names'], DEFAULTS['hostnames'],
                              DEFAULTS['duplicates'], DEFAULTS['group_by'], DEFAULTS['tag_separator'])


def size_rows(sizes, runs_for, modes, report):
    """One table: per fleet size and mode, plugin against the floors, same runs for time and memory."""
    report('\n### ansible-inventory %s: plugin against the floors (median of alternating runs)\n'
           % ' and '.join('--list --export' if mode == 'export' else '--graph' for mode in modes))
    report('| sessions | hosts | answer MB | mode | runs | fetch s | plugin s | best floor s | floor s '
           '| plugin / (best + fetch) | plugin MB | best MB | plugin / best MB | same output |')
    report('|---:|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|')
    for size in sizes:
        runs = runs_for(size)
        with Bench(size) as bench:
            fetch = bench.fetch(runs)
            for mode in modes:
                # json_floor (unmarked, ansible-core tags every value) only where it takes under a minute.
                labels = ['plugin', 'best', 'floor'] if mode == 'export' and size <= 50000 else ['plugin', 'best']
                figures = bench.alternate(labels, runs, mode)
                (plugin_s, plugin_mb, _a), (best_s, best_mb, _b) = figures['plugin'], figures['best']
                report('| %d | %d | %.1f | %s | %d | %.3f | %.2f | %.2f | %s | **%.3f** | %.0f | %.0f | %.3f | %s |' % (
                    size, bench.hosts, bench.body_bytes / 1e6, mode, runs, fetch, plugin_s, best_s,
                    '%.2f' % figures['floor'][0] if 'floor' in figures else '-', plugin_s / (best_s + fetch),
                    plugin_mb, best_mb, plugin_mb / best_mb, bench.same('plugin', 'best', mode)))


def cached_rows(size, runs, report):
    report('\n### cache: true (jsonfile), %d sessions (median of %d alternating runs after one filling run)\n' % (size, runs))
    with Bench(size) as bench:
        bench.run('cached')  # fills the cache: the one request
        before = len(requests_seen(bench.sim))
        figures = bench.alternate(['cached', 'best'], runs)
        sent = len(requests_seen(bench.sim)) - before
        (cached_s, cached_mb, _a), (best_s, best_mb, _b) = figures['cached'], figures['best']
        report('| sessions | cached plugin s | best floor s | cached / best | cached MB | best MB | requests sent by cached runs | same output |')
        report('|---:|---:|---:|---:|---:|---:|---:|---|')
        report('| %d | %.2f | %.2f | **%.3f** | %.0f | %.0f | %d | %s |' % (
            size, cached_s, best_s, cached_s / best_s, cached_mb, best_mb, sent, bench.same('cached', 'best')))


def constructed_rows(size, runs, report):
    report('\n### compose + keyed_groups (one entry each: 2 Jinja expressions per host), %d sessions\n' % size)
    with Bench(size) as bench:
        figures = bench.alternate(['plugin', 'constructed'], runs)
        extra = figures['constructed'][0] - figures['plugin'][0]
        report('| sessions | hosts | plugin s | with compose + keyed_groups s | extra s | per host ms | per expression and host ms |')
        report('|---:|---:|---:|---:|---:|---:|---:|')
        report('| %d | %d | %.2f | %.2f | %.2f | %.3f | %.3f |' % (
            size, bench.hosts, figures['plugin'][0], figures['constructed'][0], extra,
            extra * 1000 / bench.hosts, extra * 1000 / bench.hosts / 2))


def phase_rows(size, runs, report):
    """The plugin's own work, in this process, phase by phase: ms per 10k sessions (median of runs).
    On 2.19+ into ansible-core's own inventory wrapper with an Origin, as ansible-inventory does."""
    from ansible.inventory.data import InventoryData
    report('\n### The plugin\'s own phases in-process, ms per 10k sessions (%d sessions, median of %d)\n' % (size, runs))
    with SimulatorProcess('--sessions', size, '--seed', 1) as sim:
        work = tempfile.mkdtemp(prefix='sc-bench-phase-')
        body_path = os.path.join(work, 'answer.json')
        download(sim.url, body_path)
        with open(body_path, 'rb') as handle:
            body = handle.read()
        shutil.rmtree(work)

    def inventory():
        data = InventoryData()
        if not plugin.MARK_TRUSTED:
            return data, None
        from ansible._internal._datatag._tags import Origin
        from ansible.inventory.manager import _InventoryDataWrapper
        origin = Origin(path='/bench/screenconnect.yml')
        return _InventoryDataWrapper(data, target_plugin=plugin.InventoryModule(), origin=origin), origin

    names = ('parse', 'normalize', 'hosts and groups', 'marking', 'hand-over to ansible-core')
    phases = dict((name, []) for name in names)
    for _run in range(runs):
        timer = Timer()
        raw = json.loads(body)
        timer.lap(phases['parse'])
        sessions = _sessions.normalize_sessions(raw, 'rest', DEFAULTS['property_names'], [])
        timer.lap(phases['normalize'])
        raw = None
        hosts = plugin.build_hosts(sessions, DEFAULTS['api'], DEFAULTS['property_names'], DEFAULTS['hostnames'],
                                   DEFAULTS['duplicates'], DEFAULTS['group_by'], DEFAULTS['tag_separator'], normalized=True)
        sessions = None
        target, origin = inventory()
        timer.lap(phases['hosts and groups'])
        marker = plugin.TextMarker(origin=origin)
        hosts = [(name, marker(hostvars), groups) for name, hostvars, groups in hosts]
        timer.lap(phases['marking'])
        plugin.add_hosts(target, hosts, plugin._storage(target, marker))
        timer.lap(phases['hand-over to ansible-core'])
        hosts = target = None
    per = 10000.0 / size
    report('| phase | ms per 10k sessions |')
    report('|---|---:|')
    for name in names:
        report('| %s | %.0f |' % (name, statistics.median(phases[name]) * 1000 * per))
    report('| plugin\'s own (all but the hand-over) | %.0f |' % (
        sum(statistics.median(phases[name]) for name in names[:-1]) * 1000 * per))
    report('\nThe answer: %.1f MB for %d sessions.' % (len(body) / 1e6, size))


class Timer:
    def __init__(self):
        self.start = time.perf_counter()

    def lap(self, into):
        now = time.perf_counter()
        into.append(now - self.start)
        self.start = now


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n', maxsplit=1)[0])
    parser.add_argument('--sizes', default='10000,50000', help='fleet sizes of the table')
    parser.add_argument('--graph', action='store_true', help='--graph too, not only --list --export')
    parser.add_argument('--runs', type=int, default=5, help='alternating runs per figure (median counts)')
    parser.add_argument('--big-runs', type=int, default=0, help='runs above 20k sessions (default: --runs)')
    parser.add_argument('--cached', type=int, default=0, help='fleet size of the cached run (0: none)')
    parser.add_argument('--constructed', type=int, default=0, help='fleet size of the compose + keyed_groups figures (0: none)')
    parser.add_argument('--phases', type=int, default=0, help='fleet size of the in-process phases (0: none)')
    parser.add_argument('--dump-floor', nargs=2, metavar=('ANSWER', 'FLOOR'), help=argparse.SUPPRESS)
    parser.add_argument('--fetch-only', action='store_true', help='print {size: curl seconds} as JSON and stop')
    parser.add_argument('--fetch-json', help='fetch times of --fetch-only, for a Python without curl beside it')
    args = parser.parse_args()
    if args.dump_floor:  # the floors' file, from the plugin's own build_hosts(): prints the number of hosts
        with open(args.dump_floor[0], 'rb') as handle:
            hosts = build(json.loads(handle.read()))
        with open(args.dump_floor[1], 'w') as handle:
            json.dump({'hosts': hosts}, handle)
        print(len(hosts))
        return
    sizes = [int(part) for part in args.sizes.split(',') if part]
    if args.fetch_only:
        times = {}
        for size in sizes:
            with SimulatorProcess('--sessions', size, '--seed', 1) as sim:
                download(sim.url, os.devnull)
                times[size] = statistics.median(curl_fetch(sim.url) for _run in range(args.runs))
        print(json.dumps(times))
        return
    if args.fetch_json:
        with open(args.fetch_json) as handle:
            FETCH_TIMES.update(json.load(handle))
    elif not shutil.which('curl'):
        parser.error('no curl here: measure with --fetch-only where curl is, and pass the result as --fetch-json')
    from ansible.release import __version__

    def report(line):
        print(line, flush=True)

    def runs_for(size):
        return args.big_runs if args.big_runs and size > 20000 else args.runs

    report('## ansible-core %s, Python %s, %d CPUs, load %s' % (
        __version__, sys.version.split()[0], os.cpu_count(), ' '.join('%.2f' % value for value in os.getloadavg())))
    if sizes:
        size_rows(sizes, runs_for, ['export', 'graph'] if args.graph else ['export'], report)
    if args.cached:
        cached_rows(args.cached, args.runs, report)
    if args.constructed:
        constructed_rows(args.constructed, args.runs, report)
    if args.phases:
        phase_rows(args.phases, args.runs, report)


if __name__ == '__main__':
    main()
