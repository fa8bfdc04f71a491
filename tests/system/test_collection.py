"""The collection as users get it: built with ansible-galaxy, installed, its client usable."""

import sys
import tarfile

from helpers import run


def test_artifact_holds_the_collection_and_not_the_tooling(installed_collection):
    with tarfile.open(installed_collection['artifact']) as artifact:
        names = artifact.getnames()
    assert 'galaxy.yml' not in names and 'MANIFEST.json' in names
    assert 'plugins/module_utils/_client.py' in names and 'meta/runtime.yml' in names
    assert not [name for name in names if name.startswith(('tools/', 'tests/', 'build/', '.venv', 'benchmarks/'))]


def test_installed_client_lists_the_fleet(installed_collection, ansible_env, sim):
    script = (
        'from ansible_collections.msp.screenconnect.plugins.module_utils import _client\n'
        'import os\n'
        'c = _client.ScreenConnectClient({"server_url": os.environ["SCREENCONNECT_SERVER_URL"],'
        ' "api_secret": os.environ["SCREENCONNECT_API_SECRET"]})\n'
        'sessions = c.find_sessions()\n'
        'print(len(sessions), c.stats["requests"], c.__module__, _client.__file__)\n')
    env = dict(ansible_env, PYTHONPATH=installed_collection['path'])
    result = run([sys.executable, '-c', script], env=env)
    count, requests_made, _module, path = result.stdout.split()
    assert int(count) > 0 and requests_made == '1'
    assert path.startswith(installed_collection['path'])
