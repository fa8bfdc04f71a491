"""Shared by the system tests (tests/system): paths, the simulator's REST secret, run() and Player.

Tests import from here, never from conftest (pytest's conftest is loaded by pytest, not meant for
imports). conftest.py builds the fixtures `sim`, `play`, `ansible_env` and `installed_collection` on it."""

import json
import os
import subprocess
import sys
import textwrap

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SIMULATOR_DIR = os.path.join(REPO, 'tools', 'simulator')  # development tooling, not in the artifact
if SIMULATOR_DIR not in sys.path:
    sys.path.insert(0, SIMULATOR_DIR)
# The golden inventory lives in its ansible-test target; the inventory tests here compare with it too.
GOLDEN_DIR = os.path.join(REPO, 'tests', 'integration', 'targets', 'inventory_screenconnect', 'files')

BIN = os.path.dirname(sys.executable)
SECRET = 's3cret-rest'


def run(args, env=None, cwd=None, check=True, timeout=600):
    result = subprocess.run(args, env=env, cwd=cwd, capture_output=True, text=True, timeout=timeout, check=False)
    if check and result.returncode != 0:
        raise AssertionError('%s failed (%d)\nstdout:\n%s\nstderr:\n%s'
                             % (' '.join(args), result.returncode, result.stdout, result.stderr))
    return result


PLAY = '''- hosts: localhost
  gather_facts: false
  tasks:
    - name: under test
      %(task)s
      register: under_test
      ignore_errors: true
    - name: save the result
      ansible.builtin.copy:
        content: "{{ under_test | to_json }}"
        dest: %(out)s
      check_mode: false
'''


class Player:
    """Runs one task through a real ansible-playbook and returns its registered result."""

    def __init__(self, env, tmp_path):
        self.env = env
        self.tmp_path = tmp_path
        self.count = 0

    def __call__(self, task, *options, **env):
        self.count += 1
        out = self.tmp_path / ('result-%d.json' % self.count)
        book = self.tmp_path / ('play-%d.yml' % self.count)
        task = textwrap.indent(textwrap.dedent(task).strip(), ' ' * 6).lstrip()
        book.write_text(PLAY % {'task': task, 'out': out})
        # localhost runs modules with the controller's Python, where requests is installed.
        command = [os.path.join(BIN, 'ansible-playbook'), '-i', 'localhost,', '-c', 'local',
                   '-e', 'ansible_python_interpreter=%s' % sys.executable, str(book)] + list(options)
        completed = run(command, env=dict(self.env, **env), check=False)
        if not out.exists():
            raise AssertionError('playbook did not run to the end:\n%s\n%s' % (completed.stdout, completed.stderr))
        result = json.loads(out.read_text())
        result['_stdout'] = completed.stdout
        return result
