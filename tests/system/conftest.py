"""Integration fixtures: a simulator per test module and the collection built and installed the way
users install it (ansible-galaxy), with the venv's ansible commands.

The one `sim` fixture of every test here (tests/integration/simulator/ included): a module that
needs another fleet or other credentials says so with SIMULATOR = {...}, keyword arguments of
Simulator() that replace the defaults below."""

import os
import subprocess
import sys

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SIMULATOR_DIR = os.path.join(REPO, 'tools', 'simulator')  # development tooling, not in the artifact
if SIMULATOR_DIR not in sys.path:
    sys.path.insert(0, SIMULATOR_DIR)

from screenconnect_sim import Simulator  # noqa: E402

BIN = os.path.dirname(sys.executable)
SECRET = 's3cret-rest'


def run(args, env=None, cwd=None, check=True, timeout=600):
    result = subprocess.run(args, env=env, cwd=cwd, capture_output=True, text=True, timeout=timeout, check=False)
    if check and result.returncode != 0:
        raise AssertionError('%s failed (%d)\nstdout:\n%s\nstderr:\n%s'
                             % (' '.join(args), result.returncode, result.stdout, result.stderr))
    return result


@pytest.fixture(scope='session')
def installed_collection(tmp_path_factory):
    """Build the artifact from this checkout and install it into a private collections path."""
    out = tmp_path_factory.mktemp('artifact')
    run([os.path.join(BIN, 'ansible-galaxy'), 'collection', 'build', '--force', '--output-path', str(out), REPO])
    artifacts = [name for name in os.listdir(str(out)) if name.endswith('.tar.gz')]
    assert len(artifacts) == 1, artifacts
    path = tmp_path_factory.mktemp('collections')
    run([os.path.join(BIN, 'ansible-galaxy'), 'collection', 'install', '--force', '-p', str(path),
         os.path.join(str(out), artifacts[0])])
    return {'artifact': os.path.join(str(out), artifacts[0]), 'path': str(path)}


SIMULATOR = {'sessions': 60, 'seed': 11, 'api_secret': SECRET, 'command_delay': 0.05}


@pytest.fixture(scope='module')
def sim(request):
    """A simulator for the test module: SIMULATOR here, updated by the module's own SIMULATOR."""
    options = dict(SIMULATOR, **getattr(request.module, 'SIMULATOR', {}))
    simulator = Simulator(**options)
    simulator.start()
    yield simulator
    simulator.stop()


@pytest.fixture
def ansible_env(installed_collection, sim, tmp_path):
    """Environment for ansible-* commands: the installed collection, the simulator, a private cache."""
    env = dict(os.environ)
    env.update({
        'PATH': BIN + os.pathsep + env.get('PATH', ''),
        'ANSIBLE_COLLECTIONS_PATH': installed_collection['path'],
        'ANSIBLE_COLLECTIONS_SCAN_SYS_PATH': 'false',
        'XDG_CACHE_HOME': str(tmp_path / 'cache'),
        'ANSIBLE_LOCAL_TEMP': str(tmp_path / 'tmp'),
        'ANSIBLE_HOME': str(tmp_path / 'ansible-home'),
        'ANSIBLE_NOCOLOR': '1',
        'SCREENCONNECT_SERVER_URL': sim.url,
        'SCREENCONNECT_API_SECRET': SECRET,
    })
    return env


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
        import json
        import textwrap
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


@pytest.fixture
def play(ansible_env, tmp_path):
    return Player(ansible_env, tmp_path)
