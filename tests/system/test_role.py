"""The agent role's task files, parsed by this ansible-core, installing nothing here.

The Debian path runs for real on separate Debian hosts over SSH in the molecule scenario
(extensions/molecule/default, `make molecule`): install, idempotence, verify_session, removal, broken
downloads, download_on_controller. The macOS and Red Hat task files run in check mode on hosts that
pretend to be those OS families in the ansible-test target tests/integration/targets/role_agent.
Here: a syntax check of every task file (the Windows ones with ansible.windows).
"""

import os
import shutil
import subprocess
import sys
import zipfile

import pytest

from helpers import BIN, REPO, run

LINT_DIR = os.path.join(REPO, 'build', 'role-lint')
ANSIBLE_BUNDLE = 'ansible==12.*'


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
