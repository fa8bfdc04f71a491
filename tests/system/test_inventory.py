"""The inventory plugin through real ansible-inventory and ansible-playbook runs against the simulator.

The fleet is fixed (40 sessions, seed 2026), so `ansible-inventory --list` is compared with a golden
file. Regenerate it after an intended change with UPDATE_GOLDEN=1 and read the diff:

    UPDATE_GOLDEN=1 tools/ansible_core.sh 2.19 python -m pytest tests/system/test_inventory.py -q

The tests marked `every_core` (template injection, the AWX import check) run on every supported
ansible-core release (`make integration`), and so does the ansible-test target
tests/integration/targets/inventory_screenconnect, which compares every release's output with the
golden files this module writes.
"""

import json
import os
import re

import pytest

from helpers import BIN, GOLDEN_DIR, SECRET, run
from inventory_export import unwrap
from screenconnect_sim import Simulator

GOLDEN_LIST = os.path.join(GOLDEN_DIR, 'golden_list.json')
GOLDEN_GRAPH = os.path.join(GOLDEN_DIR, 'golden_graph.txt')
ENV_ONLY_CONFIG = os.path.join(GOLDEN_DIR, 'screenconnect.yml')
UPDATE = os.environ.get('UPDATE_GOLDEN') == '1'
SEED = 2026
SESSIONS = 40
API_KEY = 'k3y-rpc'
PLUGIN = 'msp.screenconnect.screenconnect'
# The session with this company is in the generated fleet of seed 2026 (WS-00017, WS-00034).
LOOKUP_COMPANY = "{{ lookup('pipe','id') }} Ltd"
LOOKUP_GROUP = 'company_lookup_pipe_id_ltd'


# The shared `sim` fixture (conftest.py) with the golden file's fleet. Tests here never add sessions to it.
SIMULATOR = {'sessions': SESSIONS, 'seed': SEED, 'api_secret': SECRET, 'api_key': API_KEY, 'command_delay': 0.2}


@pytest.fixture(autouse=True)
def fresh(sim):
    sim.reset()
    sim.configure(spelling='nested', allowed_origin=None, omit_active_connections=False)


def write_config(directory, text, name='screenconnect.yml'):
    path = directory / name
    path.write_text(text)
    return str(path)


def inventory(env, source, *args, check=True, bin_dir=BIN):
    # A source the plugin cannot parse fails the command instead of giving an empty inventory.
    env = dict(env, ANSIBLE_INVENTORY_UNPARSED_FAILED='true')
    return run([os.path.join(bin_dir, 'ansible-inventory'), '-i', source] + list(args), env=env, check=check)


def inventory_list(env, source, *args, bin_dir=BIN):
    return json.loads(inventory(env, source, '--list', *args, bin_dir=bin_dir).stdout)


def api_calls(sim):
    return [entry['method'] for entry in sim.requests if entry['api'] in ('rest', 'rpc')]


def groups_of(listing):
    """{group: sorted hosts} of an ansible-inventory --list answer (children left out)."""
    return dict((name, sorted(unwrap(body.get('hosts', [])))) for name, body in listing.items()
                if name != '_meta' and body.get('hosts'))


def squash(text):
    """Text without white space: ansible-core 2.16 wraps warnings at 80 columns, even inside paths."""
    return re.sub(r'\s+', '', text)


def golden_listing():
    with open(GOLDEN_LIST) as handle:
        return unwrap(json.load(handle))


def compare_golden(path, text):
    if UPDATE:
        with open(path, 'w') as handle:
            handle.write(text)
    with open(path) as handle:
        assert text == handle.read(), 'output differs from %s (UPDATE_GOLDEN=1 rewrites it)' % path


# ---- golden output -----------------------------------------------------------------------------

def test_env_only_config_matches_golden_list(ansible_env, sim):
    with open(ENV_ONLY_CONFIG) as handle:
        assert handle.read().strip() == 'plugin: %s' % PLUGIN  # connection only from SCREENCONNECT_*
    listing = inventory_list(ansible_env, ENV_ONLY_CONFIG)
    assert api_calls(sim) == ['GetSessionsByFilter']
    assert sim.requests[0]['args'] == ["SessionType = 'Access'"]
    if UPDATE:
        compare_golden(GOLDEN_LIST, json.dumps(listing, indent=2, sort_keys=True, ensure_ascii=False) + '\n')
    # The golden file is 2.19's output; 2.16 prints the same without the unsafe markers.
    # What the golden list must hold (hosts left out, fallbacks, groups) is checked on every release by the
    # ansible-test target inventory_screenconnect (check_inventory.py).
    assert unwrap(listing) == golden_listing()


def test_graph_matches_golden_and_runs_are_stable(ansible_env, sim):
    first = inventory(ansible_env, ENV_ONLY_CONFIG, '--graph').stdout
    compare_golden(GOLDEN_GRAPH, first)
    assert inventory(ansible_env, ENV_ONLY_CONFIG, '--graph').stdout == first
    assert unwrap(inventory_list(ansible_env, ENV_ONLY_CONFIG)) == golden_listing()


def test_session_manager_api_gives_the_same_inventory(ansible_env, sim):
    env = dict(ansible_env, SCREENCONNECT_API='session_manager', SCREENCONNECT_API_KEY=API_KEY)
    del env['SCREENCONNECT_API_SECRET']
    listing = inventory_list(env, ENV_ONLY_CONFIG)
    assert api_calls(sim) == ['GetSessions']
    assert sim.requests[0]['args'] == {'sessionFilter': {'SessionType': 2}}
    assert groups_of(listing) == groups_of(golden_listing())
    assert unwrap(listing) == golden_listing()


@pytest.mark.parametrize('spelling', ['flat', 'seed'])
def test_other_guest_spellings_give_the_same_inventory(ansible_env, sim, spelling):
    sim.configure(spelling=spelling, omit_active_connections=True)
    assert unwrap(inventory_list(ansible_env, ENV_ONLY_CONFIG)) == golden_listing()


# ---- cache -------------------------------------------------------------------------------------

CACHED = '''plugin: msp.screenconnect.screenconnect
cache: true
cache_plugin: ansible.builtin.jsonfile
cache_connection: %(cache)s
cache_timeout: 3600
'''


def test_cache_hit_makes_no_call_and_gives_the_same_inventory(ansible_env, sim, tmp_path):
    cache = tmp_path / 'inventory-cache'
    config = write_config(tmp_path, CACHED % {'cache': cache})
    first = inventory_list(ansible_env, config)
    assert api_calls(sim) == ['GetSessionsByFilter']
    assert unwrap(first) == golden_listing()

    sim.reset()
    assert inventory_list(ansible_env, config) == first
    assert inventory(ansible_env, config, '--graph').stdout == inventory(ansible_env, ENV_ONLY_CONFIG, '--graph').stdout
    assert api_calls(sim) == ['GetSessionsByFilter']  # only the uncached --graph above

    sim.reset()
    # --flush-cache (ansible-inventory has it from 2.17 on; ansible-playbook on every release)
    book = tmp_path / 'noop.yml'
    book.write_text('- hosts: localhost\n  gather_facts: false\n  tasks: []\n')
    run([os.path.join(BIN, 'ansible-playbook'), '-i', config, '--flush-cache', str(book)], env=ansible_env)
    assert api_calls(sim) == ['GetSessionsByFilter']
    assert inventory_list(ansible_env, config) == first

    files = [path for path in cache.rglob('*') if path.is_file()]
    assert len(files) == 1 and 'msp.screenconnect_' in files[0].name
    for path in files:
        assert SECRET not in path.read_text()


def test_cache_keys_differ_by_filter_and_credentials(ansible_env, sim, tmp_path):
    cache = tmp_path / 'inventory-cache'
    acme = write_config(tmp_path, CACHED % {'cache': cache} + 'filter: "CustomProperty1 = \'Acme Corp\'"\n',
                        'acme.screenconnect.yml')
    reilly = write_config(tmp_path, CACHED % {'cache': cache} + 'filter: "CustomProperty1 = \'O\'\'Reilly & Sons\'"\n',
                          'reilly.screenconnect.yml')
    first_acme = inventory_list(ansible_env, acme)
    first_reilly = inventory_list(ansible_env, reilly)
    assert api_calls(sim) == ['GetSessionsByFilter', 'GetSessionsByFilter']
    assert [entry['args'] for entry in sim.requests] == [
        ["(SessionType = 'Access') AND (CustomProperty1 = 'Acme Corp')"],
        ["(SessionType = 'Access') AND (CustomProperty1 = 'O''Reilly & Sons')"]]
    acme_hosts = set(first_acme['_meta']['hostvars'])
    reilly_hosts = set(first_reilly['_meta']['hostvars'])
    assert acme_hosts and reilly_hosts and not acme_hosts & reilly_hosts
    assert set(groups_of(first_acme)) >= {'company_acme_corp'} and 'company_o_reilly_sons' not in first_acme

    sim.reset()
    assert inventory_list(ansible_env, acme) == first_acme
    assert inventory_list(ansible_env, reilly) == first_reilly
    assert api_calls(sim) == []
    assert len([path for path in cache.rglob('*') if path.is_file()]) == 2

    # Another credential (the Session Manager API key) is another key: no answer of the REST secret.
    env = dict(ansible_env, SCREENCONNECT_API='session_manager', SCREENCONNECT_API_KEY=API_KEY)
    inventory_list(env, acme)
    assert api_calls(sim) == ['GetSessions']
    for path in cache.rglob('*'):
        if path.is_file():
            text = path.read_text()
            assert SECRET not in text and API_KEY not in text


# ---- compose, keyed_groups, groups ---------------------------------------------------------------

def test_compose_keyed_groups_and_groups(ansible_env, sim, tmp_path):
    config = write_config(tmp_path, '''plugin: msp.screenconnect.screenconnect
compose:
  ansible_host: screenconnect_guest.private_ip
keyed_groups:
  - key: screenconnect_guest.domain
    prefix: domain
groups:
  windows_online: screenconnect_guest.os_family == 'windows' and screenconnect_online
''', 'compose.screenconnect.yml')
    listing = inventory_list(ansible_env, config)
    hostvars = listing['_meta']['hostvars']
    groups = groups_of(listing)
    assert unwrap(hostvars['WS-00017']['ansible_host']) == '10.0.0.17'
    assert all(unwrap(hostvars[name]['ansible_host']) == unwrap(hostvars[name]['screenconnect_guest']['private_ip'])
               for name in hostvars)
    windows = set(groups['os_windows'])
    # keyed_groups names follow the default groups' rule (keyed_group_names: plugin).
    assert set(groups['domain_corp']) | set(groups['domain_workgroup']) == windows
    assert set(groups['windows_online']) == windows & set(groups['screenconnect_online'])
    # The default groups are still there.
    with open(GOLDEN_LIST) as handle:
        golden_groups = groups_of(json.load(handle))
    assert dict((name, hosts) for name, hosts in groups.items() if name in golden_groups) == golden_groups


def test_use_connection_plugin_makes_every_host_use_the_collections_connection(ansible_env, sim, tmp_path):
    config = write_config(tmp_path, '''plugin: msp.screenconnect.screenconnect
use_connection_plugin: true
compose:
  ansible_connection: "'ssh' if screenconnect_name == 'WS-00003' else omit"
''', 'connection.screenconnect.yml')
    listing = unwrap(inventory_list(ansible_env, config, '--export'))
    hostvars = listing['_meta']['hostvars']
    assert len(hostvars) == 34
    connections = dict((name, variables['ansible_connection']) for name, variables in hostvars.items())
    assert connections.pop('WS-00003') == 'ssh'  # compose wins, host by host
    assert set(connections.values()) == {'msp.screenconnect.screenconnect'}
    # The connection plugin finds each host's session by this hostvar.
    assert all(variables['screenconnect_session_id'] for variables in hostvars.values())
    # Nothing else changes: the same hosts, groups and other hostvars as the golden list.
    golden = golden_listing()
    for name, variables in hostvars.items():
        assert dict((key, value) for key, value in variables.items() if key != 'ansible_connection') \
            == golden['_meta']['hostvars'][name]
    assert groups_of(listing) == groups_of(golden)
    # Off by default: the golden list has no ansible_connection at all.
    assert not [name for name, variables in golden['_meta']['hostvars'].items() if 'ansible_connection' in variables]


# ---- errors ------------------------------------------------------------------------------------

def failing_inventory(env, config):
    env = dict(env, ANSIBLE_INVENTORY_UNPARSED_FAILED='true')
    result = inventory(env, config, '--list', check=False)
    assert result.returncode != 0, result.stdout
    assert 'Traceback' not in result.stderr
    assert squash(PLUGIN + ': ') in squash(result.stderr), result.stderr
    return result.stderr


@pytest.mark.parametrize('case,expected', [
    ('wrong secret', 'GetSessionsByFilter failed: HTTP 401'),
    ('origin', 'GetSessionsByFilter failed: HTTP 403'),
    ('missing method', "this server's RESTful API Manager has no method GetSessionsByFilter, which listing sessions "
                       'by machine_name, serial_number, filter or the inventory needs: update the RESTful API Manager '
                       'extension, or set api: session_manager'),
    ('html', 'GetSessionsByFilter: expected JSON, got text/html'),
])
def test_errors_are_one_clear_line(ansible_env, sim, case, expected):
    env = ansible_env
    if case == 'wrong secret':
        env = dict(ansible_env, SCREENCONNECT_API_SECRET='not-the-secret-0000')
    elif case == 'origin':
        sim.configure(allowed_origin='https://control.example.com')
    elif case == 'missing method':
        sim.set_faults([{'method': 'GetSessionsByFilter', 'kind': 'status', 'status': 500,
                         'body': 'Web method does not exist', 'times': -1}])
    else:
        sim.set_faults([{'method': 'GetSessionsByFilter', 'kind': 'html', 'times': -1}])
    stderr = failing_inventory(env, ENV_ONLY_CONFIG)
    assert squash(expected) in squash(stderr), stderr
    assert SECRET not in stderr and 'not-the-secret-0000' not in stderr
    # Never retried: a 401/403/missing method/login page does not get better by asking again.
    assert api_calls(sim) == ['GetSessionsByFilter']


def test_missing_server_url_is_reported_before_any_call(ansible_env, sim):
    env = dict(ansible_env, ANSIBLE_INVENTORY_UNPARSED_FAILED='true')
    del env['SCREENCONNECT_SERVER_URL']
    result = inventory(env, ENV_ONLY_CONFIG, '--list', check=False)
    assert result.returncode != 0 and 'Traceback' not in result.stderr
    # The doc fragment marks server_url required, so ansible-core's own message comes first.
    # 2.19: "Required config 'server_url' ... not provided"; 2.16: "No setting was provided for required ..."
    assert 'server_url' in result.stderr and 'required' in result.stderr.lower(), result.stderr
    assert api_calls(sim) == []


def test_other_file_names_are_not_claimed(ansible_env, sim, tmp_path):
    config = write_config(tmp_path, 'plugin: %s\n' % PLUGIN, 'hosts.yml')
    env = dict(ansible_env, ANSIBLE_INVENTORY_ENABLED=PLUGIN, ANSIBLE_INVENTORY_UNPARSED_FAILED='true')
    result = inventory(env, config, '--list', check=False)
    assert result.returncode != 0
    # verify_file said no: ansible-core only reports the source as unparsed.
    assert 'Traceback' not in result.stderr and PLUGIN + ':' not in result.stderr
    assert squash('Unable to parse %s as an inventory source' % config) in squash(result.stderr)
    assert api_calls(sim) == []


# ---- untrusted text ------------------------------------------------------------------------------

PLAYBOOK = '''- hosts: "%(pattern)s"
  gather_facts: false
  connection: local
  tasks:
    - name: the variable
      ansible.builtin.debug:
        var: screenconnect_company
    - name: the variable in a template
      ansible.builtin.debug:
        msg: "<{{ screenconnect_company }}|{{ screenconnect_tag }}|{{ inventory_hostname }}|{{ screenconnect_name }}>"
'''


def awx_import(listing):
    """What AWX's own import (awx/main/utils/mem_inventory.py, dict_to_mem_data) needs of
    `ansible-inventory --list --export`: it runs a regex on every host name, so a host name that is
    not a plain string crashes the sync, and it stores hostvars as they are, so a wrapped
    {"__ansible_unsafe": ...} string becomes a dict in AWX. Returns {host: hostvars} as AWX keeps them
    and the wrapped texts found; fails on what AWX cannot take or would store wrongly."""
    hosts = {}
    for group, body in listing.items():
        if group == '_meta':
            continue
        for name in body.get('hosts', []):
            assert isinstance(name, str), 'group %s: host name %r is no string: the AWX sync crashes' % (group, name)
            assert re.match(r'^(.+?)(?::(\d+))?$', name)  # AWX splits host:port this way
            hosts[name] = None
    hostvars = listing['_meta']['hostvars']
    assert all(isinstance(name, str) for name in hostvars)
    assert set(hosts) <= set(hostvars)
    wrapped = []

    def walk(value, where):
        if isinstance(value, dict) and set(value) == {'__ansible_unsafe'}:
            text = value['__ansible_unsafe']
            # Only text that could be a template may stay wrapped (AWX then stores a dict).
            assert '{' in text or '}' in text or text.startswith('#jinja2:'), \
                '%s: plain text %r is wrapped; AWX would store it as a dict' % (where, text)
            wrapped.append(text)
        elif isinstance(value, dict):
            for key, item in value.items():
                walk(item, '%s.%s' % (where, key))
        elif isinstance(value, list):
            for index, item in enumerate(value):
                walk(item, '%s[%d]' % (where, index))

    for name, variables in hostvars.items():
        walk(variables, name)
    return hostvars, wrapped


@pytest.mark.every_core
def test_export_imports_into_awx_as_it_is(ansible_env, sim):
    listing = inventory_list(ansible_env, ENV_ONLY_CONFIG, '--export')
    hostvars, wrapped = awx_import(listing)
    assert len(hostvars) == 34
    # Plain text arrives as plain strings, the one company holding a template stays marked.
    assert hostvars['WS-00003']['screenconnect_session_id'] == unwrap(hostvars['WS-00003']['screenconnect_session_id'])
    assert isinstance(hostvars['WS-00003']['screenconnect_guest']['os_name'], str)
    assert isinstance(hostvars['WS-00003']['screenconnect_company'], str)
    assert hostvars['WS-00017']['screenconnect_company'] == {'__ansible_unsafe': LOOKUP_COMPANY}
    assert set(wrapped) == {LOOKUP_COMPANY}
    assert unwrap(listing) == unwrap(inventory_list(ansible_env, ENV_ONLY_CONFIG))


def test_awx_import_check_catches_what_awx_cannot_take():
    with pytest.raises(AssertionError, match='sync crashes'):
        awx_import({'all': {'hosts': [{'__ansible_unsafe': 'WS-1'}]}, '_meta': {'hostvars': {}}})
    with pytest.raises(AssertionError, match='store it as a dict'):
        awx_import({'all': {'hosts': ['WS-1']},
                    '_meta': {'hostvars': {'WS-1': {'screenconnect_guest': {'os': {'__ansible_unsafe': 'Ubuntu'}}}}}})
    assert awx_import({'all': {'hosts': ['WS-1']},
                       '_meta': {'hostvars': {'WS-1': {'x': [{'__ansible_unsafe': '{{ y }}'}]}}}})[1] == ['{{ y }}']


@pytest.mark.every_core
def test_template_text_in_sessions_is_never_run(ansible_env, tmp_path):
    """Company, tag and name strings holding {{ lookup('pipe', ...) }} come out raw on every release."""
    markers = dict((part, tmp_path / ('ran-%s' % part)) for part in ('name', 'company', 'tag'))
    lookup = "{{ lookup('pipe','touch %s') }}"
    simulator = Simulator(sessions=SESSIONS, seed=SEED, api_secret=SECRET)
    simulator.start()
    try:
        session_id = simulator.add_session(
            name=lookup % markers['name'], os='linux',
            custom_properties=[lookup % markers['company'], 'Injection Lab', 'web,' + lookup % markers['tag']])
        env = dict(ansible_env, SCREENCONNECT_SERVER_URL=simulator.url)
        book = tmp_path / 'play.yml'
        book.write_text(PLAYBOOK % {'pattern': '%s:site_injection_lab' % LOOKUP_GROUP})
        config = write_config(tmp_path, 'plugin: %s\n' % PLUGIN)
        result = run([os.path.join(BIN, 'ansible-playbook'), '-i', config, str(book)], env=env)
        listing = inventory_list(env, config, '--export')
    finally:
        simulator.stop()

    assert not [str(path) for path in markers.values() if path.exists()], result.stdout
    out = result.stdout
    assert '"screenconnect_company": "%s"' % LOOKUP_COMPANY in out
    assert '"msg": "<%s|web,prod|WS-00017|WS-00017>"' % LOOKUP_COMPANY in out
    name = lookup % markers['name']
    # Name and machine name hold a template, so the host is named by its session id, with a warning.
    host = str(session_id).lower()
    assert '"screenconnect_company": "%s"' % (lookup % markers['company']) in out
    assert '"msg": "<%s|web,%s|%s|%s>"' % (lookup % markers['company'], lookup % markers['tag'], host, name) in out
    assert squash("session %s: name" % host) in squash(result.stderr) and 'holds template markers' in result.stderr
    assert 'uid=' not in out
    assert 'ok=2' in out and 'failed=0' in out

    hostvars, wrapped = awx_import(listing)
    assert unwrap(hostvars[host]['screenconnect_company']) == lookup % markers['company']
    assert set(wrapped) == {LOOKUP_COMPANY, name, lookup % markers['company'], 'web,' + lookup % markers['tag']}
    assert 'tag_web' in listing and 'site_injection_lab' in listing
    assert hostvars[host]['screenconnect_guest']['os_name'] == 'Ubuntu 22.04.4 LTS'
