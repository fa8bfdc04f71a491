"""`molecule test` of every scenario in extensions/molecule/ (the agent role on separate Debian hosts
over SSH, tools/test_hosts.sh), timed, and proof that the machine running them is left as it was:
its packages, /opt, /etc/init.d, systemd units and mounts are compared before and after, and none of
this checkout's test hosts (network namespace and every process in it) or simulators may remain.
Other checkouts may run test hosts at the same time: their namespaces (mounted under /run/netns)
are left out of the comparison.

`make molecule` runs this with .venv-molecule (tests/molecule-requirements.txt) after
`tools/test_hosts.sh check`, which fails in one line where test hosts cannot run (not root, no
debootstrap). Each scenario's output goes to build/molecule/<scenario>.log.
"""

import glob
import json
import os
import shutil
import subprocess
import sys
import time

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
LOGS = os.path.join(REPO, 'build', 'molecule')
SCENARIOS = sorted(os.path.basename(os.path.dirname(path))
                   for path in glob.glob(os.path.join(REPO, 'extensions', 'molecule', '*', 'molecule.yml')))
UNIT_DIRS = ('/etc/systemd/system', '/lib/systemd/system', '/usr/lib/systemd/system', '/run/systemd/system')


def listing(top):
    names = []
    for folder, dirs, files in os.walk(top):
        names.extend(os.path.relpath(os.path.join(folder, name), top) for name in dirs + files)
    return sorted(names)


def machine():
    """What an install on this machine, or a host left running, would change."""
    packages = ''
    if shutil.which('dpkg-query'):
        packages = subprocess.run(['dpkg-query', '--show', '--showformat', '${Package} ${Version} ${db:Status-Status}\\n'],
                                  capture_output=True, text=True, check=True).stdout
    with open('/proc/self/mountinfo') as handle:
        mounts = sorted(point for point in (line.split()[4] for line in handle) if not point.startswith('/run/netns'))
    return {'dpkg -l': packages.splitlines(), '/opt': listing('/opt'), '/etc/init.d': listing('/etc/init.d'),
            'systemd units': {folder: listing(folder) for folder in UNIT_DIRS if os.path.isdir(folder)},
            'mounts': mounts}


def leftovers():
    """This checkout's test hosts (a host's namespace goes only after every process in it) and simulators."""
    hosts = subprocess.run([os.path.join(REPO, 'tools', 'test_hosts.sh'), 'list'], capture_output=True, text=True,
                           check=True).stdout.splitlines()
    found = ['host %s' % host for host in hosts]
    for pid in filter(str.isdigit, os.listdir('/proc')):
        try:
            with open('/proc/%s/cmdline' % pid, 'rb') as handle:
                command = handle.read().replace(b'\0', b' ').decode('utf-8', 'replace')
        except OSError:
            continue
        if REPO in command and 'screenconnect_sim' in command and '--host 10.213.' in command:
            found.append('process %s: %s' % (pid, command.strip()))
    return found


@pytest.fixture(scope='module')
def before():
    os.makedirs(LOGS, exist_ok=True)
    assert leftovers() == [], 'test hosts of an earlier run of this checkout are still up: tools/test_hosts.sh teardown'
    return machine()


@pytest.mark.parametrize('scenario', SCENARIOS)
def test_scenario(scenario, before):
    log = os.path.join(LOGS, '%s.log' % scenario)
    env = dict(os.environ, PATH=os.path.dirname(sys.executable) + os.pathsep + os.environ.get('PATH', ''),
               # molecule's cache (the collection it installs, its scenario state) and Ansible's
               # files stay in this checkout, not in ~/.ansible
               ANSIBLE_HOME=os.path.join(LOGS, 'ansible-home'), NO_COLOR='1')
    started = time.monotonic()
    with open(log, 'w') as handle:
        result = subprocess.run([os.path.join(os.path.dirname(sys.executable), 'molecule'), 'test', '-s', scenario],
                                cwd=REPO, env=env, stdout=handle, stderr=subprocess.STDOUT, timeout=1800, check=False)
    seconds = time.monotonic() - started
    with open(log) as handle:
        output = handle.read()
    print('\nmolecule test -s %s: %.0f s, exit %d (log: %s)' % (scenario, seconds, result.returncode, log))
    report = os.path.join(LOGS, '%s-verify.json' % scenario)
    if os.path.exists(report):
        with open(report) as handle:
            print('what verify saw: %s' % json.dumps(json.load(handle), indent=1, sort_keys=True))
    assert result.returncode == 0, output[-6000:]

    after = machine()
    changed = ['%s: %s' % (key, sorted(set(map(str, after[key])) ^ set(map(str, before[key])))
               if isinstance(after[key], list) else after[key]) for key in before if after[key] != before[key]]
    assert changed == [], 'the scenario changed this machine: %s' % changed
    assert leftovers() == []
    print('this machine after the scenario: %s unchanged (%d packages, %d entries in /opt, %d in /etc/init.d, '
          '%d mounts outside /run/netns); no test host or simulator of this checkout left'
          % (', '.join(sorted(before)), len(after['dpkg -l']), len(after['/opt']), len(after['/etc/init.d']),
             len(after['mounts'])))
