"""Every API module through real ansible-playbook runs against the simulator."""

import json

import pytest
import requests

from helpers import SECRET

REST = '/App_Extensions/2d558935-686a-4bd0-9991-07539f5fe749/Service.ashx/'
WRITES = ('UpdateSessionCustomProperties', 'UpdateSessionName', 'SendCommandToSession', 'SendMessageToSession',
          'AddNoteToSession', 'CreateSession', 'CreateSessionAsync', 'UpdateSessionAsync')


@pytest.fixture(autouse=True)
def fresh(sim):
    sim.reset()
    sim.set_faults([])
    requests.post(sim.url + '/_sim/config', json={'spelling': 'nested', 'rate_limit': 0}, timeout=5)


def sc(sim, method, *args):
    """A raw REST call, for checking what the server holds."""
    response = requests.post(sim.url + REST + method, json=list(args), timeout=10,
                             headers={'CTRLAuthHeader': SECRET, 'Origin': sim.url})
    response.raise_for_status()
    return response.json() if response.content else None


def fleet(sim):
    return sc(sim, 'GetSessionsByFilter', "SessionType = 'Access'")


def api_calls(sim, methods=None):
    return [entry['method'] for entry in sim.requests if entry.get('api') in ('rest', 'rpc')
            and (methods is None or entry['method'] in methods)]


def a_session(sim, online=True, named=True):
    for raw in fleet(sim):
        connected = any(c.get('ProcessType') in (2, 'Guest') for c in raw.get('ActiveConnections') or [])
        if connected == online and bool(raw['Name']) == named and not raw.get('IsEnded'):
            return raw
    raise AssertionError('no such session in the fleet')


def by_id(session):
    return session['session_id']


def machine(raw):
    return raw['GuestInfo']['MachineName']


# ---- session_info --------------------------------------------------------------------------------

def test_session_info_by_name_machine_serial_and_ids(play, sim):
    raw = a_session(sim)
    by_name = play('msp.screenconnect.session_info: {name: "%s"}' % raw['Name'])
    assert not by_name.get('failed'), by_name
    assert [s['session_id'] for s in by_name['sessions']] == [raw['SessionID'].lower()]
    assert by_name['changed'] is False
    by_machine = play('msp.screenconnect.session_info: {machine_name: "%s"}' % machine(raw).lower())
    assert raw['SessionID'].lower() in [s['session_id'] for s in by_machine['sessions']]
    serial = raw['GuestInfo']['MachineSerialNumber']
    by_serial = play('msp.screenconnect.session_info: {serial_number: "%s"}' % serial)
    assert all(s['guest']['serial_number'] == serial for s in by_serial['sessions']) and by_serial['sessions']
    ids = [r['SessionID'] for r in fleet(sim)[:3]]
    by_ids = play('msp.screenconnect.session_info: {session_id: %s}' % json.dumps(ids))
    assert [s['session_id'] for s in by_ids['sessions']] == [i.lower() for i in ids]


def test_session_info_blank_name_found_by_machine_name(play, sim):
    raw = a_session(sim, online=False, named=False) if any(
        not r['Name'] and not any(c.get('ProcessType') == 2 for c in r.get('ActiveConnections') or []) for r in fleet(sim)
    ) else a_session(sim, named=False)
    result = play('msp.screenconnect.session_info: {machine_name: "%s"}' % machine(raw))
    found = [s for s in result['sessions'] if s['session_id'] == raw['SessionID'].lower()]
    assert found and found[0]['name'] == ''


def test_session_info_quotes_user_values(play, sim):
    result = play('''msp.screenconnect.session_info: {name: "' OR ''='"}''')
    assert not result.get('failed') and result['sessions'] == []
    assert any("Name = ''' OR ''''='''" in json.dumps(e['args']) for e in sim.requests if e.get('method'))


def test_session_info_filter_and_all_types(play, sim):
    result = play('''msp.screenconnect.session_info: {filter: "CustomProperty1 = 'O''Reilly & Sons'"}''')
    assert result['sessions'] and {s['properties']['company'] for s in result['sessions']} == {"O'Reilly & Sons"}
    every = play('msp.screenconnect.session_info: {session_type: all}')
    assert {'access', 'support'} <= {s['session_type'] for s in every['sessions']}


@pytest.mark.parametrize('spelling', ['nested', 'flat', 'seed'])
def test_session_info_reads_every_spelling_alike(play, sim, spelling):
    expected = play('msp.screenconnect.session_info: {}')['sessions']
    requests.post(sim.url + '/_sim/config', json={'spelling': spelling}, timeout=5)
    assert play('msp.screenconnect.session_info: {}')['sessions'] == expected


@pytest.mark.parametrize('auth', ['api_key', 'oauth'])
def test_session_info_through_session_manager(play, sim, auth):
    expected = play('msp.screenconnect.session_info: {}')['sessions']
    env = {'SCREENCONNECT_API': 'session_manager', 'SCREENCONNECT_API_SECRET': ''}
    if auth == 'api_key':
        env['SCREENCONNECT_API_KEY'] = 'k3y-rpc'
    else:
        env.update(SCREENCONNECT_OAUTH_TOKEN_URL=sim.url + '/oauth/token', SCREENCONNECT_OAUTH_CLIENT_ID='cid',
                   SCREENCONNECT_OAUTH_CLIENT_SECRET='csecret')
    result = play('msp.screenconnect.session_info: {}', **env)
    assert not result.get('failed'), result
    assert sorted(result['sessions'], key=by_id) == sorted(expected, key=by_id)


def test_session_info_details_returns_events_and_outputs(play, sim):
    raw = a_session(sim)
    play('msp.screenconnect.session_command: {session_id: %s, command: hostname, wait: true, poll_interval: 0.2}'
         % raw['SessionID'])
    result = play('msp.screenconnect.session_info: {session_id: %s, details: true}' % raw['SessionID'])
    session = result['sessions'][0]
    assert {44, 70} <= {event['event_type'] for event in session['events']}
    assert machine(raw) in session['command_outputs']


# ---- session_properties --------------------------------------------------------------------------

def test_session_properties_change_idempotence_check_and_diff(play, sim):
    raw = a_session(sim)
    task = ('msp.screenconnect.session_properties: {session_id: %s, properties: {company: "Café Müller", tag: "db"},'
            ' custom_properties: {5: "Rack 12"}}' % raw['SessionID'])
    checked = play(task, '--check')
    assert checked['changed'] and api_calls(sim, WRITES) == []
    assert checked['results'][0]['after'][0] == 'Café Müller'

    changed = play(task, '--diff')
    assert changed['changed'] is True and not changed.get('failed'), changed
    after = sc(sim, 'GetSessionBySessionID', raw['SessionID'])[0]['CustomPropertyValues']
    assert after[0] == 'Café Müller' and after[2] == 'db' and after[4] == 'Rack 12'
    assert after[1] == raw['CustomPropertyValues'][1]  # slots not named are kept
    assert api_calls(sim, WRITES) == ['UpdateSessionCustomProperties']
    assert 'Rack 12' in changed['_stdout'] and 'before' in changed['_stdout'].lower()

    again = play(task)
    assert again['changed'] is False
    assert api_calls(sim, WRITES) == ['UpdateSessionCustomProperties']


def test_session_properties_replace_and_list(play, sim):
    raw = a_session(sim)
    result = play('msp.screenconnect.session_properties: {session_id: %s, custom_properties: [A, B], replace: true}'
                  % raw['SessionID'])
    assert result['changed']
    assert sc(sim, 'GetSessionBySessionID', raw['SessionID'])[0]['CustomPropertyValues'] == ['A', 'B'] + [''] * 6


@pytest.mark.parametrize('options,fragment', [
    ('session_id: [not-a-guid], properties: {company: X}', 'session_id'),
    ('name: WS-1, properties: {customer: X}', "properties: 'customer' is not a property name"),
    ('name: WS-1, custom_properties: {9: X}', 'custom_properties: slot 9'),
    ('name: WS-1, custom_properties: {0: X}', 'custom_properties: slot 0'),
    ('name: WS-1, custom_properties: [1, 2, 3, 4, 5, 6, 7, 8, 9]', 'custom_properties: 9 values'),
    ('name: WS-1, property_names: {company: 12}, properties: {company: X}', 'property_names'),
    ('name: WS-1', 'properties, custom_properties'),
])
def test_session_properties_bad_input_refused_before_any_request(play, sim, options, fragment):
    result = play('msp.screenconnect.session_properties: {%s}' % options)
    assert result['failed'] and fragment in result['msg'], result['msg']
    assert api_calls(sim) == []


# ---- session_command / message / note --------------------------------------------------------------

def test_session_command_waits_for_output(play, sim):
    raw = a_session(sim)
    result = play('msp.screenconnect.session_command: {session_id: %s, command: hostname, shell: powershell,'
                  ' command_timeout: 30, max_output_length: 100, wait: true, poll_interval: 0.2}' % raw['SessionID'])
    assert not result.get('failed'), result
    entry = result['results'][0]
    assert entry['completed'] and entry['stdout'].strip() == machine(raw)
    assert result['command'] == '#!ps\n#timeout=30000\n#maxlength=100\nhostname'
    sent = [e for e in sim.requests if e.get('method') == 'SendCommandToSession']
    assert len(sent) == 1 and sent[0]['args'] == [raw['SessionID'].lower(), result['command']]


def test_session_command_offline_is_queued_not_failed(play, sim):
    raw = a_session(sim, online=False)
    result = play('msp.screenconnect.session_command: {session_id: %s, command: hostname, wait: true,'
                  ' wait_timeout: 1, poll_interval: 0.2}' % raw['SessionID'])
    assert not result.get('failed') and result['changed']
    assert result['results'][0]['sent'] and result['results'][0]['online'] is False
    strict = play('msp.screenconnect.session_command: {session_id: %s, command: hostname, fail_on_offline: true}'
                  % raw['SessionID'])
    assert strict['failed'] and 'offline' in strict['msg']


def test_session_command_check_mode_sends_nothing(play, sim):
    raw = a_session(sim)
    result = play('msp.screenconnect.session_command: {session_id: %s, command: hostname}' % raw['SessionID'], '--check')
    assert result['changed'] and api_calls(sim, WRITES) == []


def test_session_command_not_sent_twice_after_502(play, sim):
    raw = a_session(sim)
    sim.set_faults([{'method': 'SendCommandToSession', 'kind': 'after', 'status': 502}])
    result = play('msp.screenconnect.session_command: {session_id: %s, command: hostname}' % raw['SessionID'])
    assert result['failed'] and result['results'][0]['may_have_run'] is True
    assert 'not sent again' in result['msg']
    assert api_calls(sim, WRITES) == ['SendCommandToSession']


@pytest.mark.parametrize('module,option,method', [
    ('session_message', 'msg', 'SendMessageToSession'), ('session_note', 'note', 'AddNoteToSession')])
def test_message_and_note_reach_every_session(play, sim, module, option, method):
    ids = [r['SessionID'].lower() for r in fleet(sim)[:2]]
    result = play('msp.screenconnect.%s: {session_id: %s, %s: "Reboot at 22:00 & save your work"}'
                  % (module, json.dumps(ids), option))
    assert result['changed'] and len(result['results']) == 2
    sent = [e['args'] for e in sim.requests if e.get('method') == method]
    assert sent == [[i, 'Reboot at 22:00 & save your work'] for i in ids]


# ---- session ---------------------------------------------------------------------------------------

def test_session_create_then_idempotent(play, sim):
    task = 'msp.screenconnect.session: {name: "Ticket 4821", session_type: support, properties: {company: Acme Corp}}'
    created = play(task)
    assert created['changed'] and created['created'] and created['session']['properties']['company'] == 'Acme Corp'
    again = play(task)
    assert again['changed'] is False and again['created'] is False
    assert api_calls(sim, WRITES) == ['CreateSession']


def test_session_rename_by_id(play, sim):
    raw = a_session(sim, named=False)
    result = play('msp.screenconnect.session: {session_id: %s, new_name: "%s"}' % (raw['SessionID'], machine(raw)))
    assert result['changed'] and result['session']['name'] == machine(raw)
    assert sc(sim, 'GetSessionBySessionID', raw['SessionID'])[0]['Name'] == machine(raw)
    assert play('msp.screenconnect.session: {session_id: %s, new_name: "%s"}'
                % (raw['SessionID'], machine(raw)))['changed'] is False


# ---- installer_url -----------------------------------------------------------------------------------

def test_installer_url_encodes_every_value(play, sim):
    result = play('''msp.screenconnect.installer_url:
  platform: msi
  name: "WS 01#1"
  properties: {company: "O'Reilly & Sons", site: "Zürich"}
  custom_properties: {8: "a=b"}
  relay_host: relay.example.net
  relay_port: 8041
  public_key: "AbC+/=="''', SCREENCONNECT_API_SECRET='')
    assert not result.get('failed'), result
    assert result['url'] == (sim.url + '/Bin/ScreenConnect.ClientSetup.msi?e=Access&y=Guest&t=WS%2001%231'
                             '&c=O%27Reilly%20%26%20Sons&c=Z%C3%BCrich&c=&c=&c=&c=&c=&c=a%3Db'
                             '&h=relay.example.net&p=8041&k=AbC%2B%2F%3D%3D')
    assert api_calls(sim) == []


def test_installer_url_validate(play, sim):
    good = play('msp.screenconnect.installer_url: {platform: deb, name: LNX-1, validate: true}')
    assert not good.get('failed'), good
    sim.set_faults([{'method': 'download', 'kind': 'html'}])
    bad = play('msp.screenconnect.installer_url: {platform: msi, name: WS-1, validate: true}')
    assert bad['failed'] and 'not a msi installer' in bad['msg']


def test_installer_url_bad_input(play, sim):
    result = play('msp.screenconnect.installer_url: {platform: msi, relay_port: 70000}')
    assert result['failed'] and 'relay_port' in result['msg']


# ---- api_call ------------------------------------------------------------------------------------------

def test_api_call_read_write_check_and_missing_method(play, sim):
    raw = a_session(sim)
    read = play('msp.screenconnect.api_call: {method: GetSessionsByName, arguments: ["%s"]}' % raw['Name'])
    assert read['changed'] is False and read['result'][0]['SessionID'] == raw['SessionID']
    skipped = play('msp.screenconnect.api_call: {method: AddNoteToSession, arguments: [%s, hi]}' % raw['SessionID'],
                   '--check')
    assert skipped['changed'] and api_calls(sim, WRITES) == []
    wrote = play('msp.screenconnect.api_call: {method: AddNoteToSession, arguments: [%s, hi]}' % raw['SessionID'])
    assert wrote['changed'] and wrote['result'] is None
    missing = play('msp.screenconnect.api_call: {method: GetSessions}')
    assert missing['failed'] and 'has no method GetSessions: update the extension' in missing['msg']
    assert missing['status'] == 500 and missing['method'] == 'GetSessions'


# ---- shared behaviour ---------------------------------------------------------------------------------

def test_module_defaults_group_sets_the_connection(play, sim, ansible_env):
    task = '''msp.screenconnect.session_info: {}
module_defaults:
  group/msp.screenconnect.screenconnect:
    server_url: %s
    api_secret: %s''' % (sim.url, SECRET)
    result = play(task, SCREENCONNECT_SERVER_URL='', SCREENCONNECT_API_SECRET='')
    assert not result.get('failed'), result
    assert result['sessions']


def test_wrong_secret_is_one_clear_line_without_the_secret(play, sim):
    result = play('msp.screenconnect.session_info: {}', '-vvv', SCREENCONNECT_API_SECRET='wrong-secret-123')
    assert result['failed'] and result['status'] == 401 and 'CTRLAuthHeader' in result['msg']
    assert 'wrong-secret-123' not in result['_stdout']


def test_empty_environment_variables_count_as_unset(play, sim):
    """An AWX credential injects its empty fields as empty variables."""
    empty = dict((name, '') for name in (
        'SCREENCONNECT_API', 'SCREENCONNECT_ORIGIN', 'SCREENCONNECT_API_KEY', 'SCREENCONNECT_OAUTH_TOKEN_URL',
        'SCREENCONNECT_OAUTH_CLIENT_ID', 'SCREENCONNECT_OAUTH_CLIENT_SECRET', 'SCREENCONNECT_EXTENSION_ID',
        'SCREENCONNECT_RATE_LIMIT', 'SCREENCONNECT_VALIDATE_CERTS', 'SCREENCONNECT_CA_PATH'))
    result = play('msp.screenconnect.session_info: {}', **empty)
    assert not result.get('failed'), result
    assert result['sessions']
