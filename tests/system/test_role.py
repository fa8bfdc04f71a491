"""The agent role through the installed collection on this machine, installing nothing here.

The Debian path runs for real on separate Debian hosts over SSH in the molecule scenario
(extensions/molecule/default, `make molecule`): install, idempotence, verify_session, removal, broken
downloads, download_on_controller. Here: the macOS and Red Hat task files in check mode on hosts that
pretend to be those OS families, and a syntax check of every task file (the Windows ones with
ansible.windows); neither downloads nor installs anything.
"""

import json
import os
import pathlib
import re
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile

import pytest
import requests
from ansible.release import __version__ as ansible_core_version

from helpers import BIN, REPO, run

HERE = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'role')
NAME = 'sc-role-test'
LINT_DIR = os.path.join(REPO, 'build', 'role-lint')
ANSIBLE_BUNDLE = 'ansible==12.*'
ANSIBLE_CORE = tuple(int(part) for part in ansible_core_version.split('.')[:2])


def downloads(sim):
    return sum(sim.stats()['downloads'].values())


def recap(stdout, host='localhost'):
    match = re.search(r'^%s\s*:\s*ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)' % re.escape(host),
                      stdout, re.M)
    assert match, stdout
    return dict(zip(('ok', 'changed', 'unreachable', 'failed'), (int(n) for n in match.groups())))


@pytest.fixture
def role(ansible_env, sim, tmp_path):
    """Runs the deploy_agent playbook of the installed collection against localhost."""
    sim.reset()
    sim.set_faults([])
    requests.post(sim.url + '/_sim/config', json={'rate_limit': 0}, timeout=5)
    # A short TMPDIR: ansible-core 2.20+ binds a Unix socket there, and pytest's tmp_path under
    # xdist is too long for one (108 bytes), which fails with "Local RPC server did not start".
    temp = pathlib.Path(tempfile.mkdtemp(prefix='sc-role-'))
    facts = tmp_path / 'facts.d'
    inventory = tmp_path / 'inventory.ini'
    inventory.write_text('localhost ansible_connection=local ansible_python_interpreter=%s\n' % sys.executable)
    env = dict(ansible_env, TMPDIR=str(temp))

    def deploy(check=False, playbook='msp.screenconnect.deploy_agent', inventory_file=None, options=(), **variables):
        values = {'screenconnect_agent_server_url': sim.url, 'screenconnect_agent_name': NAME,
                  'screenconnect_agent_fact_path': str(facts), 'screenconnect_deploy_become': False}
        values.update(variables)
        values = dict((key, value) for key, value in values.items() if value is not None)  # None: role default
        extra = tmp_path / 'vars.json'
        extra.write_text(json.dumps(values))
        command = [os.path.join(BIN, 'ansible-playbook'), '-i', str(inventory_file or inventory),
                   '-e', '@%s' % extra, playbook] + list(options) + (['--check'] if check else [])
        started = time.monotonic()
        result = run(command, env=env, check=False, timeout=300)
        result.seconds = time.monotonic() - started
        return result

    yield deploy
    shutil.rmtree(str(temp), ignore_errors=True)


def test_macos_and_red_hat_paths_in_check_mode(role, sim):
    inventory = os.path.join(HERE, 'other_platforms.yml')
    playbook = os.path.join(HERE, 'pretend.yml')
    options = ['-e', 'ansible_python_interpreter=%s' % sys.executable]
    present = role(check=True, playbook=playbook, inventory_file=inventory, options=options,
                   screenconnect_agent_name=None, screenconnect_agent_company='Acme')
    assert present.returncode == 0, present.stdout + present.stderr
    # rhel-01 has dnf, centos7-01 yum (pretended ansible_facts.pkg_mgr): the same Red Hat path
    for host, ext in (('mac-01', 'pkg'), ('rhel-01', 'rpm'), ('centos7-01', 'rpm')):
        assert recap(present.stdout, host) == {'ok': recap(present.stdout, host)['ok'], 'changed': 1,
                                               'unreachable': 0, 'failed': 0}
        url = '%s/Bin/ScreenConnect.ClientSetup.%s?e=Access&y=Guest&t=%s&c=Acme&c=&c=' % (sim.url, ext, host)
        assert 'Would install the agent from %s' % url in present.stdout
    # with the instance id known, macOS looks for its LaunchDaemon, Red Hat asks rpm (not installed
    # here, so both would install); absent walks the removal steps of macOS
    known = role(check=True, playbook=playbook, inventory_file=inventory,
                 options=options + ['--limit', 'mac-01,rhel-01,centos7-01'],
                 screenconnect_agent_instance_id=sim.instance_id)
    assert known.returncode == 0, known.stdout
    assert 'Look for the LaunchDaemon of connectwisecontrol-%s' % sim.instance_id in known.stdout, known.stdout
    assert 'Query rpm for connectwisecontrol-%s' % sim.instance_id in known.stdout, known.stdout
    for host in ('rhel-01', 'centos7-01'):
        assert recap(known.stdout, host)['changed'] == 1 and recap(known.stdout, host)['failed'] == 0, known.stdout
    # Red Hat removes with the package manager the host has; role/library/ stands in for dnf and yum.
    # yum is one on ansible-core 2.16 (EL7) only: later releases have no yum module, and their pkg_mgr
    # fact says dnf where /usr/bin/yum is dnf.
    managers = {'rhel-01': 'dnf', 'centos7-01': 'yum'} if ANSIBLE_CORE < (2, 17) else {'rhel-01': 'dnf'}
    absent = role(check=True, playbook=playbook, inventory_file=inventory,
                  options=options + ['--limit', ','.join(['mac-01'] + sorted(managers)), '-v'],
                  screenconnect_agent_state='absent', screenconnect_agent_instance_id=sim.instance_id)
    assert absent.returncode == 0, absent.stdout + absent.stderr
    assert 'pkgutil' in absent.stdout or 'Package receipts' in absent.stdout
    for manager in managers.values():  # each pretended by one host only
        assert 'pretend %s: absent connectwisecontrol-%s' % (manager, sim.instance_id) in absent.stdout, absent.stdout
    assert downloads(sim) == 0


@pytest.fixture(scope='session')
def windows_collection():
    """ansible.windows from the PyPI `ansible` bundle (Galaxy is unreachable), cached in build/role-lint/:
    the wheel (about 55 MB, 3 s here) is fetched once and only that collection unpacked."""
    collections = os.path.join(LINT_DIR, 'collections')
    marker = os.path.join(LINT_DIR, 'ready-windows')
    if not os.path.exists(marker):
        shutil.rmtree(LINT_DIR, ignore_errors=True)
        os.makedirs(LINT_DIR)
        step = [sys.executable, '-m', 'pip', 'download', '--quiet', '--disable-pip-version-check', '--no-deps',
                '--dest', os.path.join(LINT_DIR, 'wheel'), ANSIBLE_BUNDLE]
        result = subprocess.run(step, capture_output=True, text=True, check=False, timeout=600)
        if result.returncode != 0:
            pytest.fail('cannot download %s: %s' % (ANSIBLE_BUNDLE, result.stderr[-500:]))
        wheel = os.path.join(LINT_DIR, 'wheel', os.listdir(os.path.join(LINT_DIR, 'wheel'))[0])
        with zipfile.ZipFile(wheel) as bundle:
            bundle.extractall(collections, [name for name in bundle.namelist()
                                            if name.startswith('ansible_collections/ansible/windows/')])
        shutil.rmtree(os.path.join(LINT_DIR, 'wheel'))
        open(marker, 'w').close()
    return collections


def test_syntax_check_covers_every_task_file(windows_collection, installed_collection, ansible_env):
    """ansible-lint covers the role from the repository root (tools/ci/lint.sh); here every task
    file, the Windows ones with their ansible.windows modules, parses on this ansible-core."""
    env = dict(ansible_env, ANSIBLE_COLLECTIONS_PATH=os.pathsep.join(
        [windows_collection, os.path.join(REPO, 'build', 'dev')]))
    tasks = os.path.join(REPO, 'roles', 'agent', 'tasks')
    files = sorted(os.path.join(folder, name) for folder, _dirs, names in os.walk(tasks) for name in names)
    assert any(os.path.dirname(path) != tasks for path in files), files  # the subfolders too
    book = os.path.join(LINT_DIR, 'windows_syntax.yml')
    with open(book, 'w') as handle:
        handle.write('- hosts: all\n  gather_facts: false\n  tasks:\n' + ''.join(
            '    - ansible.builtin.import_tasks: %s\n' % path for path in files))
    syntax = run([os.path.join(BIN, 'ansible-playbook'), '--syntax-check', '-i', 'localhost,', book], env=env,
                 check=False)
    assert syntax.returncode == 0, syntax.stdout + syntax.stderr
    deploy = run([os.path.join(BIN, 'ansible-playbook'), '--syntax-check', '-i', 'localhost,',
                  'msp.screenconnect.deploy_agent'], env=ansible_env, check=False)
    assert deploy.returncode == 0, deploy.stdout + deploy.stderr
