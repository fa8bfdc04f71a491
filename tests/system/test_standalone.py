"""The project stands on its own: the built collection declares what it uses and carries nothing
that only the repository needs; the role checks its variables one assert at a time; the simulator's
words mean one thing each."""

import json
import os
import shutil
import subprocess
import sys
import tarfile

import pytest
from screenconnect_sim import SPELLINGS, Simulator, render_session

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def artifact_names(installed_collection):
    with tarfile.open(installed_collection['artifact']) as artifact:
        return artifact.getnames()


def test_the_collection_declares_ansible_windows(installed_collection):
    """The role's Windows tasks call ansible.windows modules: an installer must learn of it."""
    manifest = os.path.join(installed_collection['path'], 'ansible_collections', 'msp', 'screenconnect', 'MANIFEST.json')
    with open(manifest) as handle:
        dependencies = json.load(handle)['collection_info']['dependencies']
    assert 'ansible.windows' in dependencies, dependencies


def test_repository_only_files_stay_out_of_the_artifact(installed_collection):
    """Galaxy's import runs ansible-lint without awx.awx: the setup playbook that needs it stays in
    the repository, and so does ansible-lint's own copy of the checkout (.ansible/)."""
    names = artifact_names(installed_collection)
    assert 'examples/awx/setup_awx.yml' not in names
    assert not [name for name in names if name.split('/')[0].startswith('.') and '/' in name], names
    # what users do get: the credential type, the execution environment definition, the docs
    assert {'examples/awx/credential_type_inputs.yml', 'examples/awx/msp-screenconnect-ee.yml',
            'meta/execution-environment.yml', 'docs/screenconnect-api.md'} <= set(names)


def run_role(ansible_env, tmp_path, **variables):
    values = {'screenconnect_agent_server_url': 'https://acme.screenconnect.com', 'screenconnect_deploy_become': False,
              'screenconnect_agent_fact_path': str(tmp_path / 'facts.d')}
    values.update(variables)
    extra = tmp_path / 'vars.json'
    extra.write_text(json.dumps(values))
    inventory = tmp_path / 'inventory.ini'
    inventory.write_text('localhost ansible_connection=local ansible_python_interpreter=%s\n' % sys.executable)
    command = [shutil.which('ansible-playbook', path=ansible_env['PATH']), '-i', str(inventory), '-e', '@%s' % extra,
               'msp.screenconnect.deploy_agent', '--check']
    return subprocess.run(command, env=ansible_env, capture_output=True, text=True, timeout=300, check=False)


@pytest.mark.parametrize('variables, task, message', [
    ({'screenconnect_agent_server_url': 'acme.screenconnect.com'}, 'Check the server URL',
     'screenconnect_agent_server_url must be the server URL, like https://acme.screenconnect.com'),
    ({'screenconnect_agent_instance_id': 'not-hex'}, 'Check the instance id',
     'screenconnect_agent_instance_id must be 16 hexadecimal digits, got not-hex'),
], ids=['server_url', 'instance_id'])
def test_each_role_check_fails_in_its_own_task(ansible_env, tmp_path, variables, task, message):
    result = run_role(ansible_env, tmp_path, **variables)
    output = result.stdout + result.stderr
    assert result.returncode != 0, output
    failed_task = output[:output.index('fatal:')].rstrip().rsplit('TASK [', 1)[1]
    assert failed_task.startswith('msp.screenconnect.agent : %s]' % task), failed_task
    assert message in output, output


def test_guest_spellings_have_their_own_names():
    """'seed' was both the fleet's random seed and a spelling; the spelling is 'mixed' now, and the
    old name still gives it."""
    assert SPELLINGS == ('nested', 'flat', 'mixed')
    mixed, old = Simulator(sessions=3, seed=5, spelling='mixed'), Simulator(sessions=3, seed=5, spelling='seed')
    assert old.spelling == 'mixed'
    session = mixed.fleet.sessions[0]
    info = render_session(session, 'mixed', 'rest')['GuestInfo']
    assert 'GuestMachineSerialNumber' in info and 'MachineSerialNumber' not in info
    assert render_session(old.fleet.sessions[0], old.spelling, 'rest') == render_session(session, 'mixed', 'rest')
    with pytest.raises(ValueError, match='nested, flat, mixed'):
        Simulator(sessions=1, spelling='seedy')
    mixed.configure(spelling='seed')
    assert mixed.spelling == 'mixed'


def test_the_cli_says_what_seed_means():
    cli = subprocess.run([sys.executable, os.path.join(REPO, 'tools', 'simulator', 'screenconnect_sim'), '--help'],
                         capture_output=True, text=True, timeout=60, check=True).stdout
    assert 'random seed of the generated fleet' in cli
    assert '{nested,flat,mixed,seed}' in cli and 'seed document' not in cli
