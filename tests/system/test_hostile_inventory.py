"""Server data is untrusted: through real ansible-inventory and ansible-playbook, a guest's chosen
names and a server's malformed sessions never break the inventory, never hijack localhost or a
group, and the modules and the inventory warn alike.

Sessions with chosen names come from the simulator (add_session); malformed session objects from
a HostileServer that answers GetSessionsByFilter with a crafted body.
"""

import json
import os
import re
import subprocess
import sys

import pytest

from screenconnect_sim.hostile import HostileServer

BIN = os.path.dirname(sys.executable)
PLUGIN = 'msp.screenconnect.screenconnect'
# A small fleet of its own: every test adds the sessions it needs.
SIMULATOR = {'sessions': 0, 'seed': 7}
GUID = '5523a541-96b3-4870-9a18-38b6734dbd7%d'


@pytest.fixture(autouse=True)
def fresh(sim):
    sim.reset(fleet=True)


def run(args, env, check=True):
    result = subprocess.run(args, env=env, capture_output=True, text=True, timeout=600, check=False)
    assert 'Traceback' not in result.stderr, result.stderr
    if check:
        assert result.returncode == 0, '%s\n%s' % (result.stdout, result.stderr)
    return result


def squash(text):
    """Text without white space: ansible-core 2.16 wraps warnings at 80 columns."""
    return re.sub(r'\s+', '', text)


def unwrap(value):
    """ansible-inventory's {"__ansible_unsafe": text} (2.16 and some values) as plain text."""
    if isinstance(value, dict):
        if set(value) == {'__ansible_unsafe'}:
            return value['__ansible_unsafe']
        return dict((key, unwrap(item)) for key, item in value.items())
    if isinstance(value, list):
        return [unwrap(item) for item in value]
    return value


def inventory(env, tmp_path, config='', name='screenconnect.yml'):
    path = tmp_path / name
    path.write_text('plugin: %s\n%s' % (PLUGIN, config))
    result = run([os.path.join(BIN, 'ansible-inventory'), '-i', str(path), '--list'],
                 dict(env, ANSIBLE_INVENTORY_UNPARSED_FAILED='true'))
    listing = unwrap(json.loads(result.stdout))
    groups = dict((group, sorted(body.get('hosts', []))) for group, body in listing.items() if group != '_meta')
    return listing['_meta']['hostvars'], groups, result.stderr


def add_session(sim, name, machine_name=None, company='Acme', site='HQ', tag='web', os_name='linux', online=True):
    """Adds a session; returns its id (lower case)."""
    added = sim.add_session(name=name, machine_name=machine_name, custom_properties=[company, site, tag], os=os_name,
                            online=online)
    session_id = added['SessionID'] if isinstance(added, dict) else getattr(added, 'sid', added)
    return str(session_id).lower()


# ---- loopback names --------------------------------------------------------------------------

LOOPBACK = ['localhost', 'LOCALHOST.', '127.0.0.1', '::1', 'localhost.localdomain', 'ip6-localhost', 'ip6-loopback',
            '127.0.1.1', '::ffff:127.0.0.1', '0:0:0:0:0:0:0:1', '127.1']


def test_a_guest_named_like_localhost_never_becomes_that_host(ansible_env, sim, tmp_path):
    ids = [add_session(sim, name, machine_name='srv-%d' % index) for index, name in enumerate(LOOPBACK)]
    worst = add_session(sim, 'localhost', machine_name='127.0.0.1')  # no usable name at all: the session id
    hostvars, _groups, stderr = inventory(ansible_env, tmp_path)
    assert not set(hostvars) & set(LOOPBACK), sorted(hostvars)
    for index, session_id in enumerate(ids):
        assert hostvars['srv-%d' % index]['screenconnect_session_id'] == session_id
    assert hostvars[worst]['screenconnect_name'] == 'localhost'
    warned = squash(stderr)
    assert squash("session %s: name 'localhost' is a loopback name; its host name is srv-0" % ids[0]) in warned, stderr
    assert squash("session %s: name 'localhost' is a loopback name, machine_name '127.0.0.1' is a loopback name; "
                  "its host name is %s" % (worst, worst)) in warned, stderr


def test_delegate_to_localhost_stays_on_the_controller(ansible_env, sim, tmp_path):
    """A guest named localhost would take every delegate_to: localhost task (over SSH, with the
    task's arguments, api_secret included)."""
    add_session(sim, 'localhost', machine_name='localhost')
    add_session(sim, 'WS-REAL')
    config = tmp_path / 'screenconnect.yml'
    config.write_text('plugin: %s\n' % PLUGIN)
    book = tmp_path / 'delegate.yml'
    book.write_text('''- hosts: all
  gather_facts: false
  tasks:
    - name: a controller task, as the README's plays have
      ansible.builtin.command: echo on-the-controller
      delegate_to: localhost
      run_once: true
      register: ran
      changed_when: false
    - name: localhost is the controller, not a guest
      ansible.builtin.assert:
        that:
          - ran.stdout == 'on-the-controller'
          - "'localhost' not in groups['all']"
          - hostvars['localhost']['screenconnect_session_id'] is not defined
      delegate_to: localhost
      run_once: true
''')
    result = run([os.path.join(BIN, 'ansible-playbook'), '-i', str(config), '--limit', 'WS-REAL',
                  '-e', 'ansible_python_interpreter=%s' % sys.executable, str(book)],
                 dict(ansible_env, ANSIBLE_INVENTORY_UNPARSED_FAILED='true', ANSIBLE_HOST_KEY_CHECKING='false'),
                 check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    assert 'ok=2' in result.stdout and 'unreachable=0' in result.stdout and 'failed=0' in result.stdout


# ---- names that clash with groups --------------------------------------------------------------

@pytest.mark.parametrize('name', ['company_acme', 'screenconnect_online', 'os_linux', 'all', 'ungrouped', 'site_hq'])
def test_a_guest_named_like_a_group_breaks_nothing(ansible_env, sim, tmp_path, name):
    hostile = add_session(sim, name, machine_name='guest-1')
    others = [add_session(sim, 'WS-%d' % index) for index in (1, 2)]
    hostvars, groups, stderr = inventory(ansible_env, tmp_path)
    assert hostvars['guest-1']['screenconnect_session_id'] == hostile
    assert {'WS-1', 'WS-2'} <= set(hostvars) and name not in hostvars
    assert [hostvars[host]['screenconnect_session_id'] for host in ('WS-1', 'WS-2')] == others
    assert {'guest-1', 'WS-1', 'WS-2'} <= set(groups['company_acme']) and name not in groups['company_acme']
    assert squash("session %s: name %r is the name of a group; its host name is guest-1" % (hostile, name)) in squash(stderr)


def test_a_guest_named_like_a_constructed_group_takes_its_session_id(ansible_env, sim, tmp_path):
    """keyed_groups and groups make their names from Jinja, per host: a host of such a name would
    be "added to itself" (groups) or share the group's name (keyed_groups), so a limit on the
    group would reach it."""
    keyed = add_session(sim, 'kc_acme')
    composed = add_session(sim, 'webfarm', company='Other')
    add_session(sim, 'WS-1')
    config = '''keyed_groups:
  - key: screenconnect_company
    prefix: kc
groups:
  webfarm: "'web' in screenconnect_tag"
'''
    hostvars, groups, stderr = inventory(ansible_env, tmp_path, config)
    assert not {'kc_acme', 'webfarm'} & set(hostvars)
    assert groups['kc_acme'] == sorted([keyed, 'WS-1']) and groups['kc_other'] == [composed]
    assert {keyed, composed, 'WS-1'} <= set(groups['webfarm'])
    for session_id, name in ((keyed, 'kc_acme'), (composed, 'webfarm')):
        assert squash("session %s: host name %r is the name of a group of keyed_groups or groups; its host name is %s"
                      % (session_id, name, session_id)) in squash(stderr), stderr


def test_two_sessions_of_one_name_keep_the_documented_rule(ansible_env, sim, tmp_path):
    older = add_session(sim, 'WS-1', company='Old', online=False)  # last seen an hour ago
    newer = add_session(sim, 'WS-1', company='New')
    hostvars, _groups, _stderr = inventory(ansible_env, tmp_path)
    assert hostvars['WS-1']['screenconnect_session_id'] == newer  # duplicates: newest
    hostvars, _groups, _stderr = inventory(ansible_env, tmp_path, 'duplicates: all\n')
    assert hostvars['WS-1_' + older[:8]]['screenconnect_session_id'] == older


# ---- lookalike customers and keyed_groups names -------------------------------------------------

def test_lookalike_companies_are_warned_and_can_be_kept_apart(ansible_env, sim, tmp_path):
    for index, company in enumerate(['Müller GmbH', 'Muller-GmbH', 'A&B', 'A B']):
        add_session(sim, 'C-%d' % index, company=company)
    _hostvars, groups, stderr = inventory(ansible_env, tmp_path)
    assert groups['company_muller_gmbh'] == ['C-0', 'C-1'] and groups['company_a_b'] == ['C-2', 'C-3']
    assert squash("group company_muller_gmbh holds sessions of different values: 'Muller-GmbH', 'Müller GmbH'; "
                  "set hash_lookalikes: true to give each a group of its own") in squash(stderr), stderr
    assert squash("group company_a_b holds sessions of different values: 'A B', 'A&B'") in squash(stderr)

    _hostvars, groups, stderr = inventory(ansible_env, tmp_path, 'hash_lookalikes: true\n')
    assert 'company_muller_gmbh' not in groups and 'company_a_b' not in groups
    apart = sorted((hosts, group) for group, hosts in groups.items() if re.match(r'^company_(muller_gmbh|a_b)_[0-9a-f]{6}$', group))
    assert [hosts for hosts, _group in apart] == [['C-0'], ['C-1'], ['C-2'], ['C-3']]
    assert squash('each has a group of its own (hash_lookalikes)') in squash(stderr)


def test_keyed_groups_names_agree_with_the_default_groups(ansible_env, sim, tmp_path):
    add_session(sim, 'WS-1', company="O'Reilly & Sons", site='Café Müller')
    config = '''keyed_groups:
  - key: screenconnect_company
    prefix: company
  - key: screenconnect_site
    prefix: site
    parent_group: "Sites & Co"
'''
    _hostvars, groups, _stderr = inventory(ansible_env, tmp_path, config)
    assert groups['company_o_reilly_sons'] == ['WS-1'] and groups['site_cafe_muller'] == ['WS-1']
    assert not [group for group in groups if group.startswith(('company_O', 'site_Caf'))], sorted(groups)
    listing = json.loads(run([os.path.join(BIN, 'ansible-inventory'), '-i', str(tmp_path / 'screenconnect.yml'), '--list'],
                             ansible_env).stdout)
    assert 'site_cafe_muller' in listing['sites_co']['children']

    _hostvars, groups, _stderr = inventory(ansible_env, tmp_path, config + 'keyed_group_names: core\n')
    assert groups['company_O_Reilly___Sons'] == ['WS-1'] and groups['company_o_reilly_sons'] == ['WS-1']


# ---- malformed sessions: the same warning from session_info and the inventory -------------------

def good(index, name, **fields):
    session = {'SessionID': GUID % index, 'SessionType': 2, 'Name': name, 'IsEnded': False,
               'CustomPropertyValues': ['Acme', 'HQ', 'web', '', '', '', '', ''],
               'GuestInfoUpdateTime': '2026-07-01T10:00:00Z', 'ActiveConnections': [{'ProcessType': 2}],
               'GuestInfo': {'MachineName': name, 'OperatingSystemName': 'Ubuntu 22.04'}}
    session.update(fields)
    return session


MALFORMED = [
    good(0, 'WS-OK'),
    {'Name': 'NO-ID', 'SessionType': 2},
    good(1, 'WS-TIME1', GuestInfoUpdateTime='9999-12-31T23:59:59-05:00'),
    good(2, 'WS-TIME2', GuestInfoUpdateTime=1e20),
    good(3, 'WS-TIME3', GuestInfoUpdateTime='/Date(999999999999999999)/'),
    good(4, 'WS-CPV', CustomPropertyValues=5),
]
# JSON has no 1e400, but a server may send it: Python reads it as infinity.
MEMORY = good(5, 'WS-MEM', GuestInfo={'MachineName': 'WS-MEM', 'SystemMemoryTotalMegabytes': 0})
MALFORMED_BODY = json.dumps(MALFORMED + [MEMORY]).replace('"SystemMemoryTotalMegabytes": 0', '"SystemMemoryTotalMegabytes": 1e400')
EXPECTED_WARNINGS = [
    "session #1 of the answer (Name 'NO-ID') left out: expected a session object with a SessionID, got an object without one",
    "session %s (Name 'WS-TIME1'): GuestInfoUpdateTime '9999-12-31T23:59:59-05:00' is no time in range; taken as empty" % (GUID % 1),
    "session %s (Name 'WS-TIME2'): GuestInfoUpdateTime 1e+20 is no time in range; taken as empty" % (GUID % 2),
    "session %s (Name 'WS-TIME3'): GuestInfoUpdateTime '/Date(999999999999999999)/' is no time in range; taken as empty" % (GUID % 3),
    "session %s (Name 'WS-CPV'): CustomPropertyValues 5 is not a list; taken as empty" % (GUID % 4),
    "session %s (Name 'WS-MEM'): GuestInfo.SystemMemoryTotalMegabytes inf is not a whole number; taken as empty" % (GUID % 5),
]
ALL_BUT_NO_ID = ['WS-OK', 'WS-TIME1', 'WS-TIME2', 'WS-TIME3', 'WS-CPV', 'WS-MEM']


@pytest.fixture
def hostile():
    with HostileServer() as server:
        server.program('GetSessionsByFilter', {'status': 200, 'headers': {'Content-Type': 'application/json'},
                                               'body': MALFORMED_BODY})
        yield server


def test_malformed_sessions_in_the_inventory(ansible_env, hostile, tmp_path):
    env = dict(ansible_env, SCREENCONNECT_SERVER_URL=hostile.url)
    hostvars, groups, stderr = inventory(env, tmp_path)
    assert sorted(hostvars) == sorted(ALL_BUT_NO_ID)
    assert hostvars['WS-TIME1']['screenconnect_last_seen'] is None
    assert hostvars['WS-CPV']['screenconnect_company'] == '' and 'WS-CPV' not in groups['company_acme']
    assert hostvars['WS-MEM']['screenconnect_guest']['memory_total_mb'] is None
    for text in EXPECTED_WARNINGS:
        assert squash('%s: %s' % (PLUGIN, text)) in squash(stderr), stderr


def test_malformed_sessions_in_session_info(play, hostile):
    result = play('''msp.screenconnect.session_info:
  filter: "Name <> ''"''', SCREENCONNECT_SERVER_URL=hostile.url)
    assert not result.get('failed'), result
    assert sorted(session['name'] for session in result['sessions']) == sorted(ALL_BUT_NO_ID)
    for text in EXPECTED_WARNINGS:  # the inventory's words, without its prefix
        assert text in result.get('warnings', []), result.get('warnings')


# ---- the installer_url filter refuses what the module refuses ----------------------------------

@pytest.mark.parametrize('server_url', ['acme.example.com', 'https://acme.example.com/?x=1', 'https://acme.example.com/#frag'])
def test_installer_url_filter_fails_like_the_module(play, server_url):
    module = play('''msp.screenconnect.installer_url:
  server_url: "%s"
  platform: msi''' % server_url)
    template = play('''ansible.builtin.debug:
  msg: "{{ '%s' | msp.screenconnect.installer_url('msi') }}"''' % server_url)
    assert module.get('failed') and template.get('failed'), (module, template)
    expected = "server_url %r is not an http(s) URL: use the form https://acme.screenconnect.com" % server_url
    assert module['msg'] == expected
    assert 'installer_url: %s' % expected in template['msg']
