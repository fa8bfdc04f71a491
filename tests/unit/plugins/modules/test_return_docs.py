"""What every module documents alike. Ansible has no RETURN fragments, so the api_stats block is
copied into each module; this keeps the copies identical."""

import ast
import json
import os

import pytest
import yaml

MODULES_DIR = os.path.join(os.path.dirname(__file__), '..', '..', '..', '..', 'plugins', 'modules')
MODULES = sorted(name[:-3] for name in os.listdir(MODULES_DIR) if name.endswith('.py') and name != '__init__.py')


def docs(module):
    with open(os.path.join(MODULES_DIR, module + '.py')) as handle:
        tree = ast.parse(handle.read())
    found = {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            if node.targets[0].id in ('DOCUMENTATION', 'RETURN', 'EXAMPLES'):
                found[node.targets[0].id] = yaml.safe_load(node.value.value)
    return found


def test_all_eight_modules_are_here():
    assert MODULES == ['api_call', 'installer_url', 'session', 'session_command', 'session_info', 'session_message',
                       'session_note', 'session_properties']


@pytest.mark.parametrize('module', MODULES)
def test_api_stats_is_documented_identically(module):
    reference = docs('session_info')['RETURN']['api_stats']
    assert docs(module)['RETURN']['api_stats'] == reference
    assert set(reference['contains']) == {'requests', 'retries', 'rate_limited', 'waited'}


@pytest.mark.parametrize('module', MODULES)
def test_examples_use_fully_qualified_names(module):
    keywords = {'name', 'register', 'delegate_to', 'loop', 'when', 'vars', 'check_mode', 'diff', 'changed_when',
                'run_once', 'no_log', 'module_defaults', 'ignore_errors', 'until', 'retries', 'delay', 'loop_control',
                'failed_when'}
    used = []
    for task in docs(module)['EXAMPLES']:
        actions = [key for key in task if key not in keywords]
        assert len(actions) == 1 and actions[0].count('.') == 2, task
        used.extend(actions)
    assert 'msp.screenconnect.%s' % module in used


@pytest.mark.parametrize('module', MODULES)
def test_author_is_galaxys_authors_with_the_github_handle(module):
    # One source: galaxy.yml names the authors, with the (@handle) that ansible-test requires. A built
    # collection (make units tests the artifact) carries them in MANIFEST.json instead.
    root = os.path.join(MODULES_DIR, '..', '..')
    if os.path.exists(os.path.join(root, 'galaxy.yml')):
        with open(os.path.join(root, 'galaxy.yml')) as handle:
            authors = yaml.safe_load(handle)['authors']
    else:
        with open(os.path.join(root, 'MANIFEST.json')) as handle:
            authors = json.load(handle)['collection_info']['authors']
    assert docs(module)['DOCUMENTATION']['author'] == authors
