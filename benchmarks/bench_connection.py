"""The connection plugin against SSH, per task type, on a real separate Debian host. Root only.

    sudo .venv-molecule/bin/python benchmarks/bench_connection.py [--runs 3] [--suite trixie]

Starts one test host (tools/test_hosts.sh: its own network namespace and sshd) and the simulator on
its gateway address, deploys the agent over SSH with msp.screenconnect.deploy_agent, then times the
same one-task playbooks (setup, command, copy 2 MB, fetch 1 MB, template) three ways, alternating,
one run of each in turn:

- msp.screenconnect.screenconnect with the rate limit off (rate_limit 100000/min);
- msp.screenconnect.screenconnect at the default rate limit (30/min), with the shared bucket spent
  before each run, as on a controller that is already busy (the first request goes at once, each
  further one waits 2 s); a fresh bucket lets the first 28 requests through at once, which is the
  column before;
- SSH to the same host (ansible.builtin.ssh, pipelining on).

Seconds per task are the task's own time (a callback times it: connection set-up included,
ansible-playbook's start-up not). The API requests of each ScreenConnect run are read from the
simulator's record (the inventory is static, so every request is the connection plugin's) and
compared with the physical limit: one send and one poll per connection call Ansible makes
(exec_command, put_file, fetch_file; counted from the plugin's -vvv lines). Medians of the runs are
printed as a markdown table. Not part of make test (it takes minutes, and its numbers are not a pass
or fail).
"""

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
HOSTS = os.path.join(REPO, 'tools', 'test_hosts.sh')
SIMULATOR = os.path.join(REPO, 'tools', 'simulator', 'screenconnect_sim')
SECRET = 's3cret-rest'  # the simulator's default REST secret, a test value
COMPANY = 'Connection Benchmark'
DEFAULT_RATE, DEFAULT_BURST, SAFETY_FACTOR = 30, 30, 0.98  # plugins/module_utils/_ratelimit.py

# One play per task type; {n} makes every run change something, so each run moves its file.
TASKS = (
    ('setup', 'ansible.builtin.setup:\n        gather_subset: [all]'),
    ('command', 'ansible.builtin.command: uname -n'),
    ('copy 2 MB', 'ansible.builtin.copy:\n        src: {work}/blob.bin\n        dest: /root/blob-{mode}-{n}.bin\n'
                  '        mode: "0600"'),
    ('fetch 1 MB', 'ansible.builtin.fetch:\n        src: /root/fetch.bin\n        dest: {work}/fetched/{mode}-{n}.bin\n'
                   '        flat: true'),
    ('template', 'ansible.builtin.template:\n        src: {work}/motd.j2\n        dest: /root/motd-{mode}-{n}\n'
                 '        mode: "0644"'),
)
MODES = ('sc-off', 'sc-default', 'ssh')

# A callback of its own (beside the default stdout one): the seconds of each task on the host,
# appended to BENCH_TIMES.
CALLBACK = '''
import json, os, time
from ansible.plugins.callback import CallbackBase


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = 'aggregate'
    CALLBACK_NAME = 'bench_timer'
    CALLBACK_NEEDS_ENABLED = True

    def v2_playbook_on_task_start(self, task, is_conditional):
        self._bench_start = time.monotonic()

    def _bench_done(self, result, status):
        with open(os.environ['BENCH_TIMES'], 'a') as handle:
            handle.write(json.dumps({'task': result._task.get_name(), 'status': status,
                                     'seconds': time.monotonic() - self._bench_start}) + '\\n')

    def v2_runner_on_ok(self, result):
        self._bench_done(result, 'ok')

    def v2_runner_on_failed(self, result, ignore_errors=False):
        self._bench_done(result, 'failed')

    def v2_runner_on_unreachable(self, result):
        self._bench_done(result, 'unreachable')
'''


def run(argv, **kwargs):
    check = kwargs.pop('check', True)
    kwargs.setdefault('text', True)
    kwargs.setdefault('capture_output', True)
    try:
        return subprocess.run(argv, check=check, **kwargs)
    except subprocess.CalledProcessError as error:
        sys.stderr.write('%s failed (%d):\n%s\n%s\n' % (' '.join(argv[:3]), error.returncode,
                                                        error.stdout[-4000:], error.stderr[-4000:]))
        raise


def http(url, payload=None):
    data = json.dumps(payload).encode() if payload is not None else None
    request = urllib.request.Request(url, data=data, method='POST' if data is not None else 'GET',
                                     headers={'Content-Type': 'application/json'})
    with urllib.request.urlopen(request, timeout=30) as answer:
        return json.loads(answer.read().decode('utf-8'))


class Bench:
    def __init__(self, args):
        self.args = args
        self.work = tempfile.mkdtemp(prefix='sc-bench-connection-')
        self.host = 'bench-%s' % args.suite
        self.sim = None
        self.url = None
        self.bin = args.ansible_bin or os.path.dirname(shutil.which('ansible-playbook') or sys.executable)
        self.results = {}  # (task, mode) -> [{'seconds', 'requests', 'by_method', 'calls'}]

    # ---- set-up --------------------------------------------------------------------------------
    def up(self):
        run([HOSTS, 'check'])
        info = json.loads(run([HOSTS, 'up', self.host, self.args.suite]).stdout)
        self.info = info
        collections = os.path.join(self.work, 'collections', 'ansible_collections', 'msp')
        os.makedirs(collections)
        os.symlink(REPO, os.path.join(collections, 'screenconnect'))
        os.makedirs(os.path.join(self.work, 'callbacks'))
        with open(os.path.join(self.work, 'callbacks', 'bench_timer.py'), 'w') as handle:
            handle.write(CALLBACK)
        os.makedirs(os.path.join(self.work, 'fetched'))
        port_file = os.path.join(self.work, 'url')
        self.sim = subprocess.Popen([sys.executable, SIMULATOR, '--host', info['gateway'], '--port', '0',
                                     '--port-file', port_file, '--sessions', '5', '--seed', '7'],
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 30
        while not os.path.exists(port_file) and time.monotonic() < deadline:
            time.sleep(0.1)
        with open(port_file) as handle:
            self.url = handle.read().strip()
        with open(os.path.join(self.work, 'ssh.ini'), 'w') as handle:
            handle.write('%s ansible_host=%s ansible_user=%s ansible_ssh_private_key_file=%s '
                         "ansible_ssh_common_args='-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null' "
                         'ansible_python_interpreter=/usr/bin/python3\n'
                         % (self.host, info['address'], info['user'], info['key']))
        with open(os.path.join(self.work, 'blob.bin'), 'wb') as handle:
            handle.write(os.urandom(2 * 1024 * 1024))
        with open(os.path.join(self.work, 'motd.j2'), 'w') as handle:
            handle.write('{{ inventory_hostname }} run {{ n }}: {{ ansible_connection | default("ssh") }}\n')
        print('== host %s (%s) at %s, simulator %s' % (self.host, self.args.suite, info['address'], self.url),
              flush=True)
        self.playbook(['msp.screenconnect.deploy_agent', '-e', json.dumps({
            'screenconnect_agent_server_url': self.url, 'screenconnect_agent_api_secret': SECRET,
            'screenconnect_agent_company': COMPANY, 'screenconnect_agent_verify_session': True,
            'screenconnect_agent_verify_delay': 1})], 'ssh.ini')
        self.playbook(['-m', 'ansible.builtin.shell', '-a', 'head -c 1048576 /dev/urandom >/root/fetch.bin',
                       self.host], 'ssh.ini', command='ansible')
        inventory = os.path.join(self.work, 'fleet.screenconnect.yml')
        with open(inventory, 'w') as handle:
            handle.write('plugin: msp.screenconnect.screenconnect\nfilter: "CustomProperty1 = \'%s\'"\n' % COMPANY)
        fleet = json.loads(run([os.path.join(self.bin, 'ansible-inventory'), '-i', inventory, '--list'],
                               env=self.env('sc-off')).stdout)
        session_id = fleet['_meta']['hostvars'][self.host]['screenconnect_session_id']
        # A static inventory: the runs then send no inventory request, every request is the plugin's.
        with open(os.path.join(self.work, 'sc.ini'), 'w') as handle:
            handle.write('%s ansible_connection=msp.screenconnect.screenconnect ansible_screenconnect_session_id=%s '
                         'ansible_python_interpreter=/usr/bin/python3\n' % (self.host, session_id))
        print('== agent deployed over SSH; session %s' % session_id, flush=True)

    def down(self):
        if self.sim is not None:
            self.sim.terminate()
            self.sim.wait(10)
        subprocess.run([HOSTS, 'down', self.host], check=False)
        shutil.rmtree(self.work, ignore_errors=True)

    # ---- runs ----------------------------------------------------------------------------------
    def env(self, mode):
        env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=os.path.join(self.work, 'collections'),
                   ANSIBLE_HOME=os.path.join(self.work, 'ansible-home'), ANSIBLE_NOCOLOR='1',
                   ANSIBLE_HOST_KEY_CHECKING='0', ANSIBLE_PIPELINING='1', ANSIBLE_RETRY_FILES_ENABLED='0',
                   SCREENCONNECT_SERVER_URL=self.url or '', SCREENCONNECT_API_SECRET=SECRET,
                   XDG_CACHE_HOME=os.path.join(self.work, 'cache-%s' % mode))
        env['SCREENCONNECT_RATE_LIMIT'] = str(DEFAULT_RATE) if mode == 'sc-default' else '100000'
        return env

    def playbook(self, argv, inventory, mode='ssh', command='ansible-playbook', extra_env=None):
        env = self.env(mode)
        env.update(extra_env or {})
        return run([os.path.join(self.bin, command), '-i', os.path.join(self.work, inventory)] + argv, env=env)

    def drain(self):
        """Spend the shared bucket of the default-limit runs, as a busy controller has: the next request
        goes at once, every one after it waits a full interval (2 s at 30/min)."""
        interval = 60.0 / (DEFAULT_RATE * SAFETY_FACTOR)
        state = os.path.join(self.work, 'cache-sc-default', 'msp.screenconnect')
        for name in os.listdir(state) if os.path.isdir(state) else ():
            if name.startswith('ratelimit-'):
                with open(os.path.join(state, name), 'w') as handle:
                    json.dump({'tat': time.time() + (DEFAULT_BURST - 2) * interval}, handle)

    def one(self, task, body, mode, n):
        play = os.path.join(self.work, 'play.yml')
        with open(play, 'w') as handle:
            handle.write('- name: bench\n  hosts: all\n  gather_facts: false\n  tasks:\n    - name: %s\n      %s\n'
                         % (task, body.format(work=self.work, mode=mode, n=n)))
        times = os.path.join(self.work, 'times.jsonl')
        if os.path.exists(times):
            os.remove(times)
        extra = {'ANSIBLE_CALLBACK_PLUGINS': os.path.join(self.work, 'callbacks'),
                 'ANSIBLE_CALLBACKS_ENABLED': 'bench_timer', 'BENCH_TIMES': times}
        if mode == 'sc-default':
            self.drain()
        if mode != 'ssh':
            http(self.url + '/_sim/reset', {})
        result = self.playbook(['-vvv', '-e', 'n=%d' % n, play], 'ssh.ini' if mode == 'ssh' else 'sc.ini',
                               mode=mode, extra_env=extra)
        with open(times) as handle:
            timed = [json.loads(line) for line in handle]
        assert [t['status'] for t in timed] == ['ok'], (task, mode, timed, result.stdout[-3000:])
        entry = {'seconds': timed[0]['seconds']}
        if mode != 'ssh':
            requests = [r for r in http(self.url + '/_sim/requests') if r['api'] in ('rest', 'rpc')]
            by_method = {}
            for request in requests:
                by_method[request['method']] = by_method.get(request['method'], 0) + 1
            entry.update(requests=len(requests), by_method=by_method,
                         calls=len(re.findall(r'^<[^>]*> (?:SCREENCONNECT: )?(?:EXEC|PUT|FETCH) ', result.stdout, re.MULTILINE)))
        self.results.setdefault((task, mode), []).append(entry)
        return entry

    def measure(self):
        # One run of each task before the measured ones, so that first-run costs are paid (the
        # plugin keeps module code on the guest, under its hash, for every later task), and one
        # at the default limit, which gives that cache its state file (drained from then on).
        for task, body in TASKS:
            for mode in ('sc-off', 'ssh'):
                self.one(task, body, mode, 0)
        self.one(TASKS[1][0], TASKS[1][1], 'sc-default', 0)
        self.results.clear()
        for n in range(1, self.args.runs + 1):
            for task, body in TASKS:
                for mode in MODES:
                    if mode == 'sc-default' and self.args.skip_default_limit:
                        continue
                    entry = self.one(task, body, mode, n)
                    cost = ''
                    if 'requests' in entry:
                        cost = '%d requests %s, %d calls' % (entry['requests'], entry['by_method'], entry['calls'])
                    print('run %d  %-10s  %-10s  %6.2f s  %s' % (n, task, mode, entry['seconds'], cost), flush=True)

    # ---- report --------------------------------------------------------------------------------
    def table(self):
        # sends / polls: of the median run. chunk sends: the sends beyond one per connection call
        # (module input, files and fetch windows in pieces).
        def median(task, mode, key):
            values = [entry[key] for entry in self.results.get((task, mode), [])]
            return statistics.median(values) if values else None

        def seconds(value):
            return '%.1f' % value if value is not None else 'n/a'

        lines = ['| task | API requests | sends / polls | connection calls | chunk sends | physical limit: 1 send + 1 poll '
                 'per call | s/task, limit off | s/task, 30/min (bucket spent) | s/task, SSH | limit off vs SSH |',
                 '|---|---|---|---|---|---|---|---|---|---|']
        for task, _body in TASKS:
            entries = self.results[(task, 'sc-off')]
            requests = statistics.median(entry['requests'] for entry in entries)
            sample = entries[len(entries) // 2]['by_method']
            sends = sample.get('SendCommandToSession', 0)
            polls = sample.get('GetSessionDetailsBySessionID', 0)
            calls = statistics.median(entry['calls'] for entry in entries)
            off, default, ssh = (median(task, mode, 'seconds') for mode in MODES)
            lines.append('| %s | %g | %d / %d | %g | %d | %g | %s | %s | %s | %s |' % (
                task, requests, sends, polls, calls, max(0, sends - calls), 2 * calls,
                seconds(off), seconds(default), seconds(ssh), '%.1fx' % (off / ssh) if ssh else 'n/a'))
        return '\n'.join(lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--runs', type=int, default=3, help='measured runs of each task and mode (default 3)')
    parser.add_argument('--suite', default='trixie', choices=('bookworm', 'trixie'), help='the test host (default trixie)')
    parser.add_argument('--skip-default-limit', action='store_true', help='leave out the 30/min column (it takes minutes)')
    parser.add_argument('--ansible-bin', help='directory of ansible-playbook (default: the one on PATH, else beside python)')
    args = parser.parse_args()
    if os.geteuid() != 0:
        parser.error('test hosts need root (tools/test_hosts.sh)')
    bench = Bench(args)
    started = time.time()
    try:
        bench.up()
        bench.measure()
    finally:
        bench.down()
    version = run([os.path.join(bench.bin, 'ansible'), '--version']).stdout.splitlines()[0]
    print('\n%s, Debian %s test host, medians of %d alternating runs, %.0f s in all\n'
          % (version, args.suite, args.runs, time.time() - started))
    print(bench.table())
    return 0


if __name__ == '__main__':
    sys.exit(main())
