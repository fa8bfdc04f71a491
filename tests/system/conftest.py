"""System-test fixtures: a simulator per test module and the collection built and installed the way
users install it (ansible-galaxy), with the venv's ansible commands.

The one `sim` fixture of every test here: a module that needs another fleet or other credentials
says so with SIMULATOR = {...}, keyword arguments of Simulator() that replace the defaults below.
What tests share besides fixtures (SECRET, run, Player...) is in helpers.py."""

import os

import pytest

from helpers import BIN, REPO, SECRET, Player, run
from screenconnect_sim import Simulator  # helpers put tools/simulator on sys.path


@pytest.fixture(scope='session')
def installed_collection(tmp_path_factory):
    """Build the artifact from this checkout and install it into a private collections path."""
    out = tmp_path_factory.mktemp('artifact')
    run([os.path.join(BIN, 'ansible-galaxy'), 'collection', 'build', '--force', '--output-path', str(out), REPO])
    artifacts = [name for name in os.listdir(str(out)) if name.endswith('.tar.gz')]
    assert len(artifacts) == 1, artifacts
    path = tmp_path_factory.mktemp('collections')
    # --no-deps: galaxy.yml's dependency (ansible.windows) would be fetched from Galaxy, unreachable
    # here; no test runs the Windows tasks, and those that parse them add ansible.windows themselves.
    run([os.path.join(BIN, 'ansible-galaxy'), 'collection', 'install', '--force', '--no-deps', '-p', str(path),
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


@pytest.fixture
def play(ansible_env, tmp_path):
    return Player(ansible_env, tmp_path)
