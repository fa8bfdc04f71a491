"""The agent role through the deploy_agent playbook of the installed collection, on this machine.

The Debian path runs for real: the simulator's test .deb (connectwisecontrol-<instance id>, files
under /opt and an init script that only prints) is installed with apt, checked, reinstalled never,
removed. The macOS and Red Hat task files run in check mode on hosts that pretend to be those OS
families; the Windows task files (and all others) go through ansible-lint and a syntax check.
Needs root and dpkg (skipped otherwise); the package is purged before and after, even on failure.
"""

import json
import os
import pathlib
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import zipfile

import pytest
import requests
from ansible.release import __version__ as ansible_core_version

from conftest import BIN, REPO, SECRET, run

REST = '/App_Extensions/2d558935-686a-4bd0-9991-07539f5fe749/Service.ashx/'
HERE = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'role')
NAME = 'sc-role-test'
LINT_DIR = os.path.join(REPO, 'build', 'role-lint')
ANSIBLE_BUNDLE = 'ansible==12.*'
ANSIBLE_CORE = tuple(int(part) for part in ansible_core_version.split('.')[:2])

# A developer without root may skip these; CI (CI=true) never does: there they must run.
pytestmark = pytest.mark.skipif(
    not os.environ.get('CI') and (
        not hasattr(os, 'geteuid') or os.geteuid() != 0 or not shutil.which('dpkg') or not shutil.which('dpkg-deb')),
    reason='the role test installs a real Debian package: needs root, dpkg and dpkg-deb')


def package(sim):
    return 'connectwisecontrol-%s' % sim.instance_id


def dpkg_status(sim):
    result = subprocess.run(['dpkg-query', '--show', '--showformat=${db:Status-Status}', package(sim)],
                            capture_output=True, text=True, check=False)
    return result.stdout.strip() if result.returncode == 0 else 'unknown'


def purge(sim):
    subprocess.run(['dpkg', '--purge', package(sim)], capture_output=True, check=False)


def downloads(sim):
    return sum(sim.stats()['downloads'].values())


def download_requests(sim):
    return [entry for entry in sim.requests if entry.get('api') == 'download']


def sc(sim, method, *args):
    response = requests.post(sim.url + REST + method, json=list(args), timeout=10,
                             headers={'CTRLAuthHeader': SECRET, 'Origin': sim.url})
    response.raise_for_status()
    return response.json() if response.content else None


def recap(stdout, host='localhost'):
    match = re.search(r'^%s\s*:\s*ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)' % re.escape(host),
                      stdout, re.M)
    assert match, stdout
    return dict(zip(('ok', 'changed', 'unreachable', 'failed'), (int(n) for n in match.groups())))


@pytest.fixture(scope='module')
def clean_machine(sim, tmp_path_factory):
    """Purge the test package before and after the module, whatever happens in between; the
    module's fact directory (the host's memory) lives as long as the module."""
    purge(sim)
    yield tmp_path_factory.mktemp('facts.d')
    purge(sim)


@pytest.fixture
def role(ansible_env, sim, tmp_path, clean_machine):
    """Runs the deploy_agent playbook of the installed collection against localhost."""
    sim.reset()
    sim.set_faults([])
    requests.post(sim.url + '/_sim/config', json={'rate_limit': 0}, timeout=5)
    # A short TMPDIR: ansible-core 2.20+ binds a Unix socket there, and pytest's tmp_path under
    # xdist is too long for one (108 bytes), which fails with "Local RPC server did not start".
    temp = pathlib.Path(tempfile.mkdtemp(prefix='sc-role-'))
    facts = clean_machine
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

    deploy.temp = temp
    deploy.facts = facts
    deploy.env = env
    yield deploy
    shutil.rmtree(str(temp), ignore_errors=True)


def leftovers(role):
    return [name for name in os.listdir(str(role.temp)) if name.startswith('screenconnect-agent.')]


def test_install_is_idempotent_without_downloading_and_verifies_the_session(role, sim):
    sid = sim.add_session(name=NAME, online=False, os='linux',
                          custom_properties=['Wrong Co', 'Old Site', '', 'keep me'])

    def connect_after_download():
        # The agent "connects" once its installer was fetched, while the role polls.
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and not sim.stats()['downloads'].get('deb'):
            time.sleep(0.1)
        requests.post(sim.url + '/_sim/sessions/%s/connect' % sid, timeout=5)

    watcher = threading.Thread(target=connect_after_download, daemon=True)
    watcher.start()
    variables = dict(screenconnect_agent_company="O'Reilly & Sons", screenconnect_agent_site='Branch 1',
                     screenconnect_agent_tag='web,prod', screenconnect_agent_verify_session=True,
                     screenconnect_agent_verify_retries=30, screenconnect_agent_verify_delay=1)
    first = role(**variables)
    watcher.join(5)
    assert first.returncode == 0, first.stdout + first.stderr
    assert recap(first.stdout)['changed'] > 0

    # the real package, its files and init script
    assert dpkg_status(sim) == 'installed'
    opt = '/opt/%s' % package(sim)
    launch = open(os.path.join(opt, 'ClientLaunchParameters.txt')).read()
    assert 't=%s' % NAME in launch and 'c=O%27Reilly%20%26%20Sons&c=Branch%201&c=web%2Cprod' in launch
    init = '/etc/init.d/%s' % package(sim)
    assert os.access(init, os.X_OK)
    # one download, with the contract's query
    assert sim.stats()['downloads'] == {'deb': 1}
    query = download_requests(sim)[0]['args']
    assert (query['e'], query['y'], query['t']) == ('Access', 'Guest', NAME)
    assert query['c'] == ["O'Reilly & Sons", 'Branch 1', 'web,prod', '', '', '', '', '']
    # remembered on the host, not executable
    fact = role.facts / 'screenconnect_agent.fact'
    assert json.loads(fact.read_text()) == {'instance_ids': {sim.url: sim.instance_id}}
    assert not os.access(str(fact), os.X_OK)
    # verify_session waited for the session and fixed company/site/tag, leaving slot 4 alone
    session = sc(sim, 'GetSessionBySessionID', sid)[0]
    assert session['CustomPropertyValues'][:4] == ["O'Reilly & Sons", 'Branch 1', 'web,prod', 'keep me']
    assert not leftovers(role)
    assert SECRET not in first.stdout + first.stderr

    seen = len(download_requests(sim))
    second = role(**variables)
    assert second.returncode == 0, second.stdout + second.stderr
    assert recap(second.stdout)['changed'] == 0, second.stdout
    assert sim.stats()['downloads'] == {'deb': 1}
    assert len(download_requests(sim)) == seen
    print('install %.1f s, second run %.1f s' % (first.seconds, second.seconds))


def test_absent_removes_the_package_and_the_fact_and_is_idempotent(role, sim):
    if dpkg_status(sim) != 'installed':
        assert role().returncode == 0
    remove = role(screenconnect_agent_state='absent')
    assert remove.returncode == 0, remove.stdout + remove.stderr
    assert recap(remove.stdout)['changed'] > 0
    assert dpkg_status(sim) != 'installed'
    assert not os.path.exists('/opt/%s' % package(sim)) and not os.path.exists('/etc/init.d/%s' % package(sim))
    assert not (role.facts / 'screenconnect_agent.fact').exists()
    again = role(screenconnect_agent_state='absent')
    assert again.returncode == 0 and recap(again.stdout)['changed'] == 0, again.stdout
    # with the id given, absent still changes nothing and downloads nothing
    given = role(screenconnect_agent_state='absent', screenconnect_agent_instance_id=sim.instance_id)
    assert given.returncode == 0 and recap(given.stdout)['changed'] == 0, given.stdout
    assert downloads(sim) == 0
    print('absent %.1f s, again %.1f s' % (remove.seconds, again.seconds))


@pytest.mark.parametrize('kind', ['html', 'truncate'])
def test_a_download_that_is_no_installer_fails_the_host_and_installs_nothing(role, sim, kind):
    purge(sim)
    sim.set_faults([{'method': 'download', 'kind': kind, 'times': -1}])
    result = role()
    assert result.returncode != 0
    assert recap(result.stdout)['failed'] == 1
    assert 'The ScreenConnect agent was not installed on localhost' in result.stdout
    if kind == 'html':
        assert 'is not a complete ScreenConnect agent Debian package' in result.stdout
    assert dpkg_status(sim) != 'installed'
    assert not (role.facts / 'screenconnect_agent.fact').exists()
    assert not leftovers(role), os.listdir(str(role.temp))
    assert sim.stats()['faults_applied'] >= 1


def test_a_package_of_another_server_is_refused(role, sim):
    purge(sim)
    other = '0123456789abcdef' if sim.instance_id != '0123456789abcdef' else 'fedcba9876543210'
    result = role(screenconnect_agent_instance_id=other)
    assert result.returncode != 0
    assert 'The installer is for instance id %s, but screenconnect_agent_instance_id is %s' % (
        sim.instance_id, other) in result.stdout
    assert dpkg_status(sim) != 'installed' and not leftovers(role)


def test_download_on_controller_copies_a_checked_installer(role, sim):
    purge(sim)
    try:
        result = role(screenconnect_agent_download_on_controller=True)
        assert result.returncode == 0, result.stdout + result.stderr
        assert dpkg_status(sim) == 'installed'
        assert sim.stats()['downloads'] == {'deb': 1}
        assert 'SHA-256 of the copy' in result.stdout
        assert not leftovers(role), os.listdir(str(role.temp))
        again = role(screenconnect_agent_download_on_controller=True)
        assert recap(again.stdout)['changed'] == 0 and sim.stats()['downloads'] == {'deb': 1}
    finally:
        purge(sim)


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


def test_private_temp_files_and_no_secret_left_behind(role, sim):
    """The download lands in a 0700 directory as a file only root reads; -vvv output and every
    file the role leaves hold no API secret."""
    purge(sim)
    for name in os.listdir(str(role.facts)):
        os.remove(os.path.join(str(role.facts), name))
    sim.add_session(name=NAME, online=True, os='linux', custom_properties=['Acme'])
    sim.set_faults([{'method': 'download', 'kind': 'slow', 'seconds': 2}])
    seen = {}

    def watch():
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not seen:
            for name in leftovers(role):
                path = os.path.join(str(role.temp), name)
                try:
                    seen['dir'] = os.stat(path).st_mode & 0o777
                    seen['files'] = [os.stat(os.path.join(path, f)).st_mode & 0o777 for f in os.listdir(path)]
                except OSError:
                    continue
            time.sleep(0.05)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    role.env.pop('SCREENCONNECT_API_SECRET', None)
    result = role(options=['-vvv'], screenconnect_agent_verify_session=True, screenconnect_agent_api_secret=SECRET,
                  screenconnect_agent_company='Acme', screenconnect_agent_verify_delay=1)
    watcher.join(5)
    try:
        assert result.returncode == 0, result.stdout + result.stderr
        assert seen.get('dir') == 0o700, seen
        assert not [mode for mode in seen.get('files', []) if mode & 0o002], seen  # nothing world-writable
        assert SECRET not in result.stdout and SECRET not in result.stderr
        assert leftovers(role) == []
        for folder in (str(role.facts), str(role.temp)):
            for root, _dirs, files in os.walk(folder):
                for name in files:
                    with open(os.path.join(root, name), 'rb') as handle:
                        assert SECRET.encode() not in handle.read(), os.path.join(root, name)
    finally:
        purge(sim)
