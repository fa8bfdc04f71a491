"""The ScreenConnect simulator itself: fleet, spellings, filters, auth, writes, faults, limits, installers."""

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time

import pytest
import requests

from screenconnect_sim import Simulator, compile_filter, FilterError, REAL_TYPES

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
SIM_DIR = os.path.join(REPO, 'tools', 'simulator')
SECRET = 's3cret-rest'
EXT = '2d558935-686a-4bd0-9991-07539f5fe749'
REST = '/App_Extensions/%s/Service.ashx/' % EXT
TIME_RE = r'^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{7}Z$'
# The `sim` fixture (conftest.py) with this fleet.
SIMULATOR = {'sessions': 150, 'seed': 5, 'api_secret': SECRET, 'command_delay': 0.05}


@pytest.fixture(autouse=True)
def fresh(sim):
    sim.reset()
    sim.configure(spelling='nested', rate_limit=0, rate_burst=30, omit_active_connections=False,
                  allowed_origin=None, command_delay=0.05, variations=(), max_command_length=0)
    yield


def rest(sim, method, args, headers=None, **kwargs):
    sent = {'CTRLAuthHeader': SECRET, 'Origin': sim.url}
    if headers is not None:
        sent = headers
    return requests.post(sim.url + REST + method, json=args, headers=sent, timeout=20, **kwargs)


def sc(sim, method, *args):
    response = rest(sim, method, list(args))
    assert response.status_code == 200, response.text
    return response.json() if response.content else None


def rpc(sim, method, params, token='k3y-rpc'):
    return requests.post(sim.url + '/Services/PageService.ashx', json={'id': 7, 'method': method, 'params': params},
                         headers={'Authorization': 'Bearer %s' % token}, timeout=20)


def access(sim):
    return sc(sim, 'GetSessionsByFilter', "SessionType = 'Access'")


def online(raw):
    return any(c['ProcessType'] in (2, 'Guest') for c in raw.get('ActiveConnections', []))


def pick(sim, want_online=True):
    for raw in access(sim):
        machine = raw['GuestInfo']['MachineName'] if 'GuestInfo' in raw else raw['GuestMachineName']
        if online(raw) == want_online and raw['Name'] and not raw['IsEnded'] and machine:
            return raw
    raise AssertionError('no such session')


# ---- fleet -----------------------------------------------------------------------------------

def test_same_seed_same_fleet_other_seed_other_fleet():
    a, b, c = Simulator(sessions=300, seed=9), Simulator(sessions=300, seed=9), Simulator(sessions=300, seed=10)
    ids = [s.sid for s in a.fleet.sessions]
    assert ids == [s.sid for s in b.fleet.sessions]
    assert ids != [s.sid for s in c.fleet.sessions]
    from screenconnect_sim import render_session
    assert [render_session(s, 'nested', 'rest') for s in a.fleet.sessions] == \
        [render_session(s, 'nested', 'rest') for s in b.fleet.sessions]


def test_fleet_mix():
    fleet = Simulator(sessions=2000, seed=3).fleet.sessions
    types = [s.stype for s in fleet]
    assert 0.88 < types.count('Access') / len(fleet) < 0.96 and {'Support', 'Meeting'} <= set(types)
    acc = [s for s in fleet if s.stype == 'Access']
    assert all(len(s.cps) == 8 and all(isinstance(v, str) for v in s.cps) for s in fleet)
    companies = {s.cps[0] for s in acc}
    assert {"O'Reilly & Sons", "{{ lookup('pipe','id') }} Ltd", '', 'Café Müller', 'Umbrella (EU)'} <= companies
    assert any(s.name == '' and s.guest['MachineName'] for s in acc)
    assert 0.45 < sum(s.online for s in acc) / len(acc) < 0.7
    assert any(s.is_ended for s in fleet)
    assert any(s.conn_time is None for s in acc)  # never connected
    by_serial = {}
    for s in acc:
        if s.guest['MachineSerialNumber']:
            by_serial.setdefault(s.guest['MachineSerialNumber'], []).append(s)
    dups = [v for v in by_serial.values() if len(v) == 2]
    assert dups
    for pair in dups:
        new, old = sorted(pair, key=lambda s: s.info_time, reverse=True)
        assert new.name == old.name and new.guest['MachineName'] == old.guest['MachineName']
        assert not old.online
    families = {s.guest['OperatingSystemName'].split()[0] for s in acc if s.guest['OperatingSystemName']}
    assert {'Microsoft', 'Ubuntu', 'Debian', 'Rocky', 'macOS'} <= families


def test_online_consistent_with_event_times():
    for s in Simulator(sessions=1000, seed=4).fleet.sessions:
        if s.online and s.guest_count():
            assert s.conn_time is not None and (s.disc_time is None or s.conn_time > s.disc_time)
        elif s.conn_time is not None:
            assert s.disc_time is not None and s.disc_time > s.conn_time


def test_fifty_thousand_sessions_start_and_filter_fast():
    start = time.time()
    big = Simulator(sessions=50000, seed=1)
    big.start()
    try:
        assert time.time() - start < 10
        started = time.time()
        predicate = compile_filter("SessionType = 'Access'")
        matched = [s for s in big.fleet.sessions if predicate(s)]
        assert time.time() - started < 1.0
        assert len(matched) > 40000
    finally:
        big.stop()


def test_max_command_length_refuses_longer_commands_before_queueing(sim):
    sid = sim.add_session(name='LONG-1', os='linux')
    sim.configure(max_command_length=20)
    assert rest(sim, 'SendCommandToSession', [sid, 'echo ' + 'x' * 15]).status_code == 200  # 20: taken
    refused = rest(sim, 'SendCommandToSession', [sid, 'echo ' + 'x' * 16])
    assert refused.status_code == 413 and refused.text == 'Command too long: 21 characters; this server takes at most 20'
    events = sc(sim, 'GetSessionDetailsBySessionID', sid)['Events']
    assert [e['Data'] for e in events if e['EventType'] == 44] == ['echo ' + 'x' * 15]
    assert sim.stats()['writes'] == {'SendCommandToSession': 1}
    # the control endpoint sets and shows it; 0 is no limit
    requests.post(sim.url + '/_sim/config', json={'max_command_length': 0}, timeout=5).raise_for_status()
    assert requests.get(sim.url + '/_sim/config', timeout=5).json()['max_command_length'] == 0
    assert rest(sim, 'SendCommandToSession', [sid, 'x' * 100000]).status_code == 200


def test_cli_starts_prints_writes_port_file_and_stops(tmp_path):
    port_file = tmp_path / 'url'
    record = tmp_path / 'requests.jsonl'
    proc = subprocess.Popen([sys.executable, os.path.join(SIM_DIR, 'screenconnect_sim'), '--sessions', '30',
                             '--port-file', str(port_file), '--record', str(record)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, cwd=REPO)
    try:
        line = proc.stdout.readline()
        assert line.startswith('ScreenConnect simulator listening on http://127.0.0.1:') and '(30 sessions)' in line
        for dummy in range(50):
            if port_file.exists():
                break
            time.sleep(0.1)
        url = port_file.read_text().strip()
        assert url == line.split()[4]
        answer = requests.post(url + REST + 'GetSessionsByName', json=[''], headers={'CTRLAuthHeader': SECRET},
                               timeout=5)
        assert answer.status_code == 200
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(10) == 0
    lines = [json.loads(line) for line in record.read_text().splitlines()]
    assert [(e['api'], e['method'], e['args'], e['status']) for e in lines] == [('rest', 'GetSessionsByName', [''], 200)]
    assert SECRET not in record.read_text()
    helptext = subprocess.run([sys.executable, 'tools/simulator/screenconnect_sim', '--help'], cwd=REPO,
                              capture_output=True, text=True, check=False)
    assert helptext.returncode == 0 and '--rate-limit' in helptext.stdout and '--max-command-length' in helptext.stdout


# ---- spellings -------------------------------------------------------------------------------

def test_nested_spelling(sim):
    raw = pick(sim)
    assert raw['SessionType'] == 2
    assert any(c['ProcessType'] == 2 for c in raw['ActiveConnections'])
    info = raw['GuestInfo']
    for key in ('MachineName', 'OperatingSystemName', 'PrivateNetworkAddress', 'MachineSerialNumber',
                'MachineDomain', 'LoggedOnUserName', 'LastActivityTime', 'ClientVersion'):
        assert key in info
    assert not any(key.startswith('Guest') and key != 'GuestInfoUpdateTime' for key in raw if key != 'GuestInfo')
    import re
    assert re.match(TIME_RE, raw['GuestInfoUpdateTime'])
    support = sc(sim, 'GetSessionsByFilter', "SessionType = 'Support'")
    assert support and {s['SessionType'] for s in support} == {0}
    meeting = sc(sim, 'GetSessionsByFilter', "SessionType = 1")
    assert meeting and {s['SessionType'] for s in meeting} == {1}


def test_flat_spelling(sim):
    nested = {r['SessionID']: r for r in access(sim)}
    sim.configure(spelling='flat')
    raw = pick(sim)
    assert 'GuestInfo' not in raw
    for key in ('GuestMachineName', 'GuestOperatingSystemName', 'GuestPrivateNetworkAddress',
                'GuestMachineSerialNumber', 'GuestLastActivityTime', 'GuestClientVersion', 'GuestMachineDomain'):
        assert key in raw
    info = nested[raw['SessionID']]['GuestInfo']
    # top level, the values GuestInfo has; the public address is another field than the private one
    assert raw['GuestClientVersion'] == info['ClientVersion'] and 'ClientVersion' not in raw
    assert raw['GuestPrivateNetworkAddress'] == info['PrivateNetworkAddress']
    assert raw['GuestNetworkAddress'].startswith('203.0.113.') and raw['GuestNetworkAddress'] != info['PrivateNetworkAddress']


def test_seed_spelling_and_rpc_numbering(sim):
    requests.post(sim.url + '/_sim/config', json={'spelling': 'seed'}, timeout=5).raise_for_status()
    raws = access(sim)
    raw = next(r for r in raws if online(r))
    assert raw['SessionType'] == 2
    assert {c['ProcessType'] for c in raw['ActiveConnections']} <= {'Guest', 'Host'}
    info = raw['GuestInfo']
    assert {'MachineName', 'OperatingSystemName', 'GuestPrivateIpAddress', 'GuestMachineSerialNumber',
            'GuestMachineDomain'} <= set(info)
    support = rpc(sim, 'GetSessions', {'sessionFilter': {'SessionType': 1}}).json()['result']
    assert support and all(s['SessionType'] == 1 for s in support)
    assert all(s['Host'] for s in support)  # Support sessions have a technician
    meeting = rpc(sim, 'GetSessions', {'sessionFilter': "SessionType = 'Meeting'"}).json()['result']
    assert meeting and all(s['SessionType'] == 3 for s in meeting)


def test_omit_active_connections(sim):
    sim.configure(omit_active_connections=True)
    assert all('ActiveConnections' not in r for r in access(sim))


# ---- filter language -------------------------------------------------------------------------

def test_filter_quotes_like_and_logic(sim):
    oreilly = sc(sim, 'GetSessionsByFilter', "CustomProperty1 = 'O''Reilly & Sons'")
    assert oreilly and {r['CustomPropertyValues'][0] for r in oreilly} == {"O'Reilly & Sons"}
    lower = sc(sim, 'GetSessionsByFilter', "customproperty1 = 'o''reilly & sons'")
    assert len(lower) == len(oreilly)  # case-insensitive like SQL Server
    ws = sc(sim, 'GetSessionsByFilter', "GuestMachineName LIKE 'ws-%'")
    assert ws and all(r['GuestInfo']['MachineName'].startswith('WS-') for r in ws)
    nine = sc(sim, 'GetSessionsByFilter', "Name LIKE 'WS-0000*'")
    assert nine and all(len(r['Name']) == 8 and r['Name'].startswith('WS-0000') for r in nine)
    assert sc(sim, 'GetSessionsByFilter', "Name LIKE 'WS-0000_'") == []  # _ is not a wildcard there
    everything = access(sim)
    not_ws = sc(sim, 'GetSessionsByFilter', "SessionType = 'Access' AND Name NOT LIKE 'WS-%'")
    assert len(not_ws) == len([r for r in everything if not r['Name'].upper().startswith('WS-')])
    combo = sc(sim, 'GetSessionsByFilter',
               "SessionType = 'Access' AND (CustomProperty1 = 'Globex' OR CustomProperty1 = 'Initech') "
               "and not GuestConnectedCount > 0")
    expect = [r for r in everything if r['CustomPropertyValues'][0] in ('Globex', 'Initech') and not online(r)]
    assert sorted(r['SessionID'] for r in combo) == sorted(r['SessionID'] for r in expect)
    assert len(sc(sim, 'GetSessionsByFilter', "CustomProperty2 <> 'HQ' AND SessionType = 2")) == \
        len([r for r in everything if r['CustomPropertyValues'][1] != 'HQ'])
    injection = sc(sim, 'GetSessionsByFilter', "CustomProperty1 = '{{ lookup(''pipe'',''id'') }} Ltd'")
    assert injection and all('lookup' in r['CustomPropertyValues'][0] for r in injection)
    assert sc(sim, 'GetSessionsByFilter', "Name = ''' OR ''''='''") == []


@pytest.mark.parametrize('text,fragment', [
    ("Nmae = 'x'", "unknown property 'Nmae'"),
    ("Name = 'x", 'unterminated'),
    ("Name = 'x' AND", 'end of the filter'),
    ("(Name = 'x'", "expected ')'"),
    ("Name 'x'", 'comparison operator'),
])
def test_filter_errors_are_500_naming_the_problem(sim, text, fragment):
    answer = rest(sim, 'GetSessionsByFilter', [text])
    assert answer.status_code == 500 and fragment in answer.text
    with pytest.raises(FilterError):
        compile_filter(text, REAL_TYPES)


def test_filter_language_of_real_servers(sim):
    everything = access(sim)

    def ids(text):
        return sorted(r['SessionID'] for r in sc(sim, 'GetSessionsByFilter', text))

    def expect(keep):
        return sorted(r['SessionID'] for r in everything if keep(r))

    assert ids('CustomProperty1 = "O\'Reilly & Sons"') == ids("CustomProperty1 = 'O''Reilly & Sons'") != []
    assert ids('Name = "WS-""00001"""') == []  # a doubled double quote inside double quotes
    assert ids("Name LIKE 'WS-*'") == ids("Name LIKE 'WS-%'") == expect(lambda r: r['Name'].upper().startswith('WS-'))
    assert ids("SessionType = 'Access' AND CustomProperty1 IN ('Globex', \"Initech\")") == \
        expect(lambda r: r['CustomPropertyValues'][0] in ('Globex', 'Initech')) != []
    assert ids("SessionType = 'Access' AND CustomProperty2 NOT IN ('HQ', '')") == \
        expect(lambda r: r['CustomPropertyValues'][1] not in ('HQ', ''))
    assert len(sc(sim, 'GetSessionsByFilter', "SessionType IN ('Support', 'Meeting')")) > 0
    serial = next(r for r in everything if r['GuestInfo']['MachineSerialNumber'])
    for name in ('GuestMachineName', 'GuestMachineSerialNumber', 'GuestOperatingSystemName',
                 'GuestPrivateNetworkAddress', 'GuestClientVersion'):
        key = name[len('Guest'):]
        assert serial['SessionID'] in ids("%s = '%s'" % (name, serial['GuestInfo'][key]))
    for text in ("GuestConnectedCount > 0", "GuestLastActivityTime > '2000-01-01'", "Code = ''", "Host = ''",
                 "CustomProperty8 LIKE '*'", "IsEnded = false", "GuestNetworkAddress LIKE '203.0.113.*'"):
        assert rest(sim, 'GetSessionsByFilter', [text]).status_code == 200, text


@pytest.mark.parametrize('text,fragment', [
    ("Name IN 'x'", "expected '(' after IN"),
    ("Name IN ('x' 'y')", "expected ',' or ')'"),
    ('Name = "x', 'unterminated'),
    ("Name NOT = 'x'", 'expected LIKE or IN after NOT'),
])
def test_filter_language_errors(sim, text, fragment):
    answer = rest(sim, 'GetSessionsByFilter', [text])
    assert answer.status_code == 500 and fragment in answer.text


def test_empty_filter_rejected(sim):
    for blank in ('', '   '):
        answer = rest(sim, 'GetSessionsByFilter', [blank])
        assert answer.status_code == 500 and 'empty' in answer.text


# ---- REST quirks -----------------------------------------------------------------------------

def test_auth_origin_and_missing_methods(sim):
    for headers in ({}, {'CTRLAuthHeader': 'Basic ' + SECRET}, {'Authorization': 'Basic ' + SECRET},
                    {'CTRLAuthHeader': 'wrong'}):
        answer = rest(sim, 'GetSessionsByName', ['x'], headers=headers)
        assert answer.status_code == 401
    sim.configure(allowed_origin='https://sc.example')
    assert rest(sim, 'GetSessionsByName', ['x']).status_code == 403
    assert rest(sim, 'GetSessionsByName', ['x'], headers={'CTRLAuthHeader': SECRET,
                                                          'Origin': 'https://sc.example'}).status_code == 200
    sim.configure(allowed_origin=None)
    for method in ('GetSessions', 'GetAllSessions', 'GetSessionGroups', 'GetSessionList', 'Whatever'):
        answer = rest(sim, method, [])
        assert answer.status_code == 500 and answer.text == 'Web method does not exist'
        assert answer.headers['Content-Type'].startswith('text/plain')
    other = requests.post(sim.url + '/App_Extensions/11111111-2222-3333-4444-555555555555/Service.ashx/GetSessionsByName',
                          json=['x'], headers={'CTRLAuthHeader': SECRET}, timeout=5)
    assert other.status_code == 404 and 'text/html' in other.headers['Content-Type']
    assert SECRET not in json.dumps(sim.requests)
    assert sim.requests[0]['headers']['CTRLAuthHeader'] is False


def test_reads_by_name_and_id_and_object_arguments(sim):
    raw = pick(sim)
    by_name = sc(sim, 'GetSessionsByName', raw['Name'])
    assert raw['SessionID'] in [r['SessionID'] for r in by_name]
    assert all(r['Name'] == '' for r in sc(sim, 'GetSessionsByName', ''))
    assert sc(sim, 'GetSessionBySessionID', raw['SessionID'])[0]['SessionID'] == raw['SessionID']
    assert sc(sim, 'GetSessionBySessionID', raw['SessionID'].upper())[0]['SessionID'] == raw['SessionID']
    assert sc(sim, 'GetSessionBySessionID', '00000000-0000-0000-0000-000000000000') == []
    answer = rest(sim, 'GetSessionBySessionID', {'sessionID': raw['SessionID']})
    assert answer.json()[0]['SessionID'] == raw['SessionID']
    assert answer.headers['Content-Type'] == 'application/json; charset=utf-8'
    bad = rest(sim, 'GetSessionBySessionID', {'sessionId': raw['SessionID']})
    assert bad.status_code == 500 and bad.text == 'Unknown parameter: sessionId'
    details = sc(sim, 'GetSessionDetailsBySessionID', raw['SessionID'])
    assert details['Session']['SessionID'] == raw['SessionID'] and details['Events'] and 'Connections' in details
    assert rest(sim, 'GetSessionDetailsBySessionID', ['00000000-0000-0000-0000-000000000000']).status_code == 500


def test_writes_update_the_fleet_and_void_bodies_are_empty(sim):
    raw = pick(sim)
    sid = raw['SessionID']
    answer = rest(sim, 'UpdateSessionCustomProperties', [sid, ['Initech', 'Remote']])
    assert answer.status_code == 200 and answer.content == b''
    assert answer.headers['Content-Length'] == '0'
    assert sc(sim, 'GetSessionBySessionID', sid)[0]['CustomPropertyValues'] == ['Initech', 'Remote', '', '', '', '', '', '']
    assert rest(sim, 'UpdateSessionCustomProperties', [sid, ['x'] * 9]).status_code == 500
    assert rest(sim, 'UpdateSessionCustomProperties', [sid]).text.startswith('session manager fault')
    sc(sim, 'UpdateSessionName', sid, 'RENAMED-1')
    sc(sim, 'AddNoteToSession', sid, 'a note')
    sc(sim, 'SendMessageToSession', sid, 'hello')
    sc(sim, 'SendMessageToSession', sid, 'tech', 'hello again')
    sc(sim, 'SendToolboxItemToSession', sid, 'Cleanup.exe')
    state = requests.get(sim.url + '/_sim/sessions/' + sid, timeout=5).json()
    assert state['Name'] == 'RENAMED-1' and state['CustomPropertyValues'][0] == 'Initech'
    types = [e['EventType'] for e in state['Events']]
    for wanted in (64, 60, 32, 45, 47):
        assert wanted in types
    created = sc(sim, 'CreateSession', 'Support', 'Ticket 99', False, '', ['Acme Corp'])
    assert created['SessionType'] == 0 and created['Name'] == 'Ticket 99'
    assert created['CustomPropertyValues'] == ['Acme Corp'] + [''] * 7
    assert sc(sim, 'CreateSession', 1, 'Meet', True, '1234', [])['SessionType'] == 1
    stats = sim.stats()
    assert stats['writes']['UpdateSessionName'] == 1 and stats['writes']['CreateSession'] == 2


def test_command_on_online_guest_runs_and_offline_only_queues(sim):
    raw = pick(sim, want_online=True)
    sc(sim, 'SendCommandToSession', raw['SessionID'], '#!ps\n#timeout=30000\n#maxlength=100\nhostname')
    sc(sim, 'SendCommandToSession', raw['SessionID'], '#maxlength=4\necho abcdefgh')
    time.sleep(0.2)
    events = sc(sim, 'GetSessionDetailsBySessionID', raw['SessionID'])['Events']
    ran = [e['Data'] for e in events if e['EventType'] == 70]
    assert ran == [raw['GuestInfo']['MachineName'], 'abcd']
    assert [e['Data'] for e in events if e['EventType'] == 44][-1] == '#maxlength=4\necho abcdefgh'
    offline = pick(sim, want_online=False)
    sc(sim, 'SendCommandToSession', offline['SessionID'], 'whoami')
    time.sleep(0.2)
    events = sc(sim, 'GetSessionDetailsBySessionID', offline['SessionID'])['Events']
    assert [e['EventType'] for e in events].count(44) == 1 and 70 not in [e['EventType'] for e in events]
    # the guest connects later and runs what waited for it
    requests.post(sim.url + '/_sim/sessions/%s/connect' % offline['SessionID'], timeout=5).raise_for_status()
    time.sleep(0.2)
    events = sc(sim, 'GetSessionDetailsBySessionID', offline['SessionID'])['Events']
    assert [e['EventType'] for e in events][-2:] == [10, 70]
    assert online(sc(sim, 'GetSessionBySessionID', offline['SessionID'])[0])
    requests.post(sim.url + '/_sim/sessions/%s/disconnect' % offline['SessionID'], timeout=5).raise_for_status()
    raw = sc(sim, 'GetSessionBySessionID', offline['SessionID'])[0]
    assert not online(raw) and raw['LastGuestDisconnectedEventTime'] > raw['LastGuestConnectedEventTime']


def test_added_sessions(sim):
    sid = sim.add_session(name='LNX-NEW', machine_name='lnx-new', custom_properties=['Acme Corp', 'HQ'],
                          online=True, os='linux')
    raw = sc(sim, 'GetSessionBySessionID', sid)[0]
    assert raw['GuestInfo']['MachineName'] == 'lnx-new' and online(raw)
    assert 'Ubuntu' in raw['GuestInfo']['OperatingSystemName']
    answer = requests.post(sim.url + '/_sim/sessions', json={'name': '', 'machine_name': 'MAC-9', 'online': False,
                                                             'os': 'macos'}, timeout=5)
    sid2 = answer.json()['SessionID']
    raw2 = sc(sim, 'GetSessionBySessionID', sid2)[0]
    assert raw2['Name'] == '' and not online(raw2)
    assert raw2['LastGuestDisconnectedEventTime'] > raw2['LastGuestConnectedEventTime']


def test_reads_answer_get_too_with_query_arguments(sim):
    raw = pick(sim)
    url = sim.url + REST + 'GetSessionsByName'
    headers = {'CTRLAuthHeader': SECRET, 'Origin': sim.url}
    by_get = requests.get(url, params={'sessionName': raw['Name']}, headers=headers, timeout=5)
    assert by_get.status_code == 200 and raw['SessionID'] in [r['SessionID'] for r in by_get.json()]
    flt = requests.get(sim.url + REST + 'GetSessionsByFilter', params={'sessionFilter': "Name = '%s'" % raw['Name']},
                       headers=headers, timeout=5)
    assert flt.status_code == 200 and raw['SessionID'] in [r['SessionID'] for r in flt.json()]
    write = requests.get(sim.url + REST + 'AddNoteToSession', headers=headers, timeout=5)
    assert write.status_code == 405 and sim.stats()['writes'] == {}
    assert [(r['http_method'], r['method']) for r in sim.requests][-3:] == [
        ('GET', 'GetSessionsByName'), ('GET', 'GetSessionsByFilter'), ('GET', 'AddNoteToSession')]


def test_rest_under_a_path_prefix(sim):
    answer = requests.post(sim.url + '/control' + REST + 'GetSessionsByName', json=['x'],
                           headers={'CTRLAuthHeader': SECRET}, timeout=5)
    assert answer.status_code == 200 and answer.json() == []


# ---- variations of real servers --------------------------------------------------------------------

def test_variations_switch_from_python_the_control_endpoint_and_refuse_unknown_names(sim):
    with pytest.raises(ValueError, match='unknown variation'):
        Simulator(sessions=1, variations=['old-extension'])
    sim.configure(variations=['old_extension', 'cmd_echo'])
    assert requests.get(sim.url + '/_sim/config', timeout=5).json()['variations'] == ['cmd_echo', 'old_extension']
    requests.post(sim.url + '/_sim/config', json={'variations': ['exact_origin']}, timeout=5).raise_for_status()
    assert sim.variations == {'exact_origin'}
    bad = requests.post(sim.url + '/_sim/config', json={'variations': ['nope']}, timeout=5)
    assert bad.status_code == 400 and 'unknown variation(s) nope' in bad.text and sim.variations == {'exact_origin'}


def test_old_extension_has_no_get_sessions_by_filter(sim):
    sim.configure(variations=['old_extension'])
    answer = rest(sim, 'GetSessionsByFilter', ["SessionType = 'Access'"])
    assert answer.status_code == 500 and answer.text == 'Web method does not exist'
    s = pick_by_name(sim)
    assert s.sid in [r['SessionID'] for r in sc(sim, 'GetSessionsByName', s.name)]
    assert sc(sim, 'GetSessionBySessionID', s.sid)[0]['SessionID'] == s.sid


def pick_by_name(sim):
    return next(s for s in sim.fleet.sessions if s.stype == 'Access' and s.name and s.online and not s.is_ended
                and 'Windows' in s.guest['OperatingSystemName'])


def test_cmd_echo_on_windows_without_powershell_only(sim):
    sim.configure(variations=['cmd_echo'])
    windows = pick_by_name(sim)
    linux = next(s for s in sim.fleet.sessions if s.online and 'Ubuntu' in s.guest['OperatingSystemName'])
    sc(sim, 'SendCommandToSession', windows.sid, '#timeout=5000\nhostname')
    sc(sim, 'SendCommandToSession', windows.sid, '#!ps\nhostname')
    sc(sim, 'SendCommandToSession', linux.sid, 'hostname')
    time.sleep(0.2)
    ran = [e['Data'] for e in sc(sim, 'GetSessionDetailsBySessionID', windows.sid)['Events'] if e['EventType'] == 70]
    assert ran[-2:] == ['C:\\WINDOWS\\system32>hostname\r\n' + windows.guest['MachineName'], windows.guest['MachineName']]
    ran = [e['Data'] for e in sc(sim, 'GetSessionDetailsBySessionID', linux.sid)['Events'] if e['EventType'] == 70]
    assert ran[-1] == linux.guest['MachineName']


def test_connection_events_hold_the_command_results(sim):
    sim.configure(variations=['connection_events'])
    s = pick_by_name(sim)
    sc(sim, 'SendCommandToSession', s.sid, 'echo connection')
    time.sleep(0.2)
    details = sc(sim, 'GetSessionDetailsBySessionID', s.sid)
    assert 70 not in [e['EventType'] for e in details['Events']] and 44 in [e['EventType'] for e in details['Events']]
    guest = [c for c in details['Connections'] if c['ProcessType'] == 2]
    assert [e['Data'] for e in guest[0]['Events'] if e['EventType'] == 70][-1] == 'connection'
    requests.post(sim.url + '/_sim/sessions/%s/disconnect' % s.sid, timeout=5).raise_for_status()
    details = sc(sim, 'GetSessionDetailsBySessionID', s.sid)
    assert [e['Data'] for c in details['Connections'] for e in c['Events']][-1] == 'connection'
    requests.post(sim.url + '/_sim/sessions/%s/connect' % s.sid, timeout=5).raise_for_status()


def test_numeric_session_type_refuses_a_name(sim):
    sim.configure(variations=['numeric_session_type'])
    answer = rest(sim, 'CreateSession', ['Support', 'Ticket 1', False, '', []])
    assert answer.status_code == 500 and 'cannot convert "Support" to SessionType' in answer.text
    created = sc(sim, 'CreateSession', 0, 'Ticket 1', False, '', [])
    assert created['SessionType'] == 0 and sim.stats()['writes'] == {'CreateSession': 1}


def test_exact_origin_is_the_servers_own(sim):
    sim.configure(variations=['exact_origin'])
    for origin in (sim.url + '/', sim.url + '/control', sim.url.replace('http://', ''), None):
        headers = {'CTRLAuthHeader': SECRET}
        if origin:
            headers['Origin'] = origin
        assert rest(sim, 'GetSessionsByName', ['x'], headers=headers).status_code == 403, origin
    assert rest(sim, 'GetSessionsByName', ['x']).status_code == 200  # Origin: sim.url
    sim.configure(allowed_origin='127.0.0.1')  # an administrator's bare host name wins
    assert rest(sim, 'GetSessionsByName', ['x'], headers={'CTRLAuthHeader': SECRET, 'Origin': '127.0.0.1'}).ok


def test_event_age_ms_gives_event_times_as_milliseconds_before_the_answer(sim):
    s = pick_by_name(sim)
    sc(sim, 'AddNoteToSession', s.sid, 'first')
    dated = sc(sim, 'GetSessionDetailsBySessionID', s.sid)['Events']
    sim.configure(variations=['event_age_ms'])
    time.sleep(0.05)
    aged = sc(sim, 'GetSessionDetailsBySessionID', s.sid)['Events']
    assert [e['EventID'] for e in aged] == [e['EventID'] for e in dated]
    assert all(isinstance(e['Time'], int) and e['Time'] >= 0 for e in aged)
    assert aged[-1]['Data'] == 'first' and 50 <= aged[-1]['Time'] < 5000  # the note: moments ago
    assert aged[0]['Time'] > aged[-1]['Time'] + 86400 * 1000  # created a month or more before


# ---- JSON-RPC and OAuth ------------------------------------------------------------------------

def test_rpc_methods(sim):
    answer = rpc(sim, 'GetSessions', {'sessionFilter': {'SessionType': 2}})
    body = answer.json()
    assert answer.status_code == 200 and body['id'] == 7 and body['error'] is None
    sid = body['result'][0]['SessionID']
    assert rpc(sim, 'GetSession', {'sessionID': sid}).json()['result']['SessionID'] == sid
    missing = rpc(sim, 'GetSession', {'sessionID': '00000000-0000-0000-0000-000000000000'})
    assert missing.status_code == 404 and missing.json()['error']['code'] == 404
    assert rpc(sim, 'GetSessionDetails', {'sessionID': sid}).json()['result']['Events']
    nope = rpc(sim, 'GetHostSessionInfo', {})
    assert nope.status_code == 200 and nope.json()['error']['code'] == -32601
    created = rpc(sim, 'CreateSessionAsync', {'byHost': 'api', 'sessionType': 1, 'name': 'T-1', 'host': 'alice',
                                              'isPublic': False, 'code': '', 'customPropertyValues': ['Globex']})
    new = created.json()['result']
    assert new['SessionType'] == 1 and new['Host'] == 'alice'
    updated = rpc(sim, 'UpdateSessionAsync', {'byHost': 'api', 'sessionID': new['SessionID'], 'name': 'T-2',
                                              'isPublic': None, 'code': None,
                                              'customPropertyValues': ['Globex', 'HQ']}).json()['result']
    assert updated['Name'] == 'T-2' and updated['CustomPropertyValues'][:2] == ['Globex', 'HQ']
    assert rpc(sim, 'GetSessions', {}, token='wrong').status_code == 401


def test_oauth_flow_expiry_and_revocation(sim):
    url = sim.url + '/oauth/token'
    bad = requests.post(url, data={'grant_type': 'client_credentials', 'client_id': 'cid', 'client_secret': 'x'},
                        timeout=5)
    assert bad.status_code == 401 and bad.json() == {'error': 'invalid_client'}
    sim.configure(token_ttl=1)
    good = requests.post(url, data={'grant_type': 'client_credentials', 'client_id': 'cid',
                                    'client_secret': 'csecret'}, timeout=5).json()
    assert good['token_type'] == 'Bearer' and good['expires_in'] == 1
    assert rpc(sim, 'GetSessions', {}, token=good['access_token']).status_code == 200
    time.sleep(1.1)
    assert rpc(sim, 'GetSessions', {}, token=good['access_token']).status_code == 401
    sim.configure(token_ttl=3600)
    token = requests.post(url, data={'grant_type': 'client_credentials', 'client_id': 'cid',
                                     'client_secret': 'csecret'}, timeout=5).json()['access_token']
    requests.post(sim.url + '/_sim/revoke-tokens', timeout=5).raise_for_status()
    assert rpc(sim, 'GetSessions', {}, token=token).status_code == 401
    assert sim.stats()['token_issued'] == 2
    assert 'csecret' not in json.dumps(sim.requests)


# ---- rate limit --------------------------------------------------------------------------------

def test_rate_limit_429_with_retry_after(sim):
    requests.post(sim.url + '/_sim/config', json={'rate_limit': 6, 'rate_burst': 2}, timeout=5).raise_for_status()
    statuses = [rest(sim, 'GetSessionsByName', ['x']) for dummy in range(4)]
    assert [a.status_code for a in statuses] == [200, 200, 429, 429]
    retry = int(statuses[2].headers['Retry-After'])
    assert 1 <= retry <= 10
    assert sim.stats()['rate_limited'] == 2 and sim.stats()['status_429'] == 2
    # control endpoints and downloads are never limited
    for dummy in range(3):
        assert requests.get(sim.url + '/_sim/stats', timeout=5).status_code == 200
        assert requests.get(sim.url + '/Bin/ScreenConnect.ClientSetup.sh?e=Access&y=Guest&t=x', timeout=5).status_code == 200


# ---- faults ----------------------------------------------------------------------------------------

def test_fault_status_after_html_malformed(sim):
    raw = pick(sim)
    sim.set_faults([{'method': 'GetSessionsByFilter', 'kind': 'status', 'status': 503, 'retry_after': '2',
                     'body': 'busy'}])
    answer = rest(sim, 'GetSessionsByFilter', ["SessionType = 'Access'"])
    assert answer.status_code == 503 and answer.headers['Retry-After'] == '2' and answer.text == 'busy'
    assert rest(sim, 'GetSessionsByFilter', ["SessionType = 'Access'"]).status_code == 200  # times: 1
    sim.set_faults([{'method': 'AddNoteToSession', 'kind': 'status', 'status': 500}])
    assert rest(sim, 'AddNoteToSession', [raw['SessionID'], 'not taken']).status_code == 500
    sim.set_faults([{'method': 'AddNoteToSession', 'kind': 'after'}])
    assert rest(sim, 'AddNoteToSession', [raw['SessionID'], 'taken']).status_code == 502
    notes = [e['Data'] for e in sc(sim, 'GetSessionDetailsBySessionID', raw['SessionID'])['Events'] if e['EventType'] == 32]
    assert 'taken' in notes and 'not taken' not in notes
    sim.set_faults([{'method': '*', 'kind': 'html'}])
    answer = rest(sim, 'GetSessionsByName', ['x'])
    assert answer.status_code == 200 and 'ScreenConnect Login' in answer.text and 'text/html' in answer.headers['Content-Type']
    sim.set_faults([{'method': 'GetSessionsByName', 'kind': 'malformed', 'times': 2}])
    for dummy in range(2):
        with pytest.raises(ValueError):
            rest(sim, 'GetSessionsByName', ['x']).json()
    assert rest(sim, 'GetSessionsByName', ['x']).status_code == 200
    assert [r['status'] for r in sim.requests][-3:] == [200, 200, 200]


def test_fault_slow_reset_truncate(sim):
    sim.set_faults([{'method': 'GetSessionsByName', 'kind': 'slow', 'seconds': 0.5}])
    start = time.time()
    assert rest(sim, 'GetSessionsByName', ['x']).status_code == 200
    assert time.time() - start >= 0.5
    sim.set_faults([{'method': 'GetSessionsByName', 'kind': 'reset'}])
    with pytest.raises(requests.ConnectionError):
        rest(sim, 'GetSessionsByName', ['x'])
    sim.set_faults([{'method': 'download', 'kind': 'truncate'}])
    with pytest.raises(requests.exceptions.ChunkedEncodingError):
        requests.get(sim.url + '/Bin/ScreenConnect.ClientSetup.msi?e=Access&y=Guest&t=x', timeout=5).content
    sim.set_faults([{'method': '*', 'kind': 'status', 'status': 429, 'retry_after': '0', 'times': -1}])
    assert [rest(sim, 'GetSessionsByName', ['x']).status_code for dummy in range(3)] == [429] * 3
    requests.post(sim.url + '/_sim/faults', json=[], timeout=5).raise_for_status()
    assert rest(sim, 'GetSessionsByName', ['x']).status_code == 200


def test_recorded_requests_and_stats(sim, tmp_path):
    rest(sim, 'GetSessionsByName', ['WS-1'], headers={'CTRLAuthHeader': SECRET, 'Origin': sim.url,
                                                      'User-Agent': 'ansible-test'})
    entries = requests.get(sim.url + '/_sim/requests', timeout=5).json()
    assert len(entries) == 1
    entry = entries[0]
    assert entry['api'] == 'rest' and entry['method'] == 'GetSessionsByName' and entry['args'] == ['WS-1']
    assert entry['status'] == 200 and entry['http_method'] == 'POST' and entry['seq'] >= 1
    assert entry['headers']['Origin'] == sim.url and entry['headers']['User-Agent'] == 'ansible-test'
    assert entry['headers']['CTRLAuthHeader'] is True
    stats = requests.get(sim.url + '/_sim/stats', timeout=5).json()
    assert stats['requests_total'] == 1 and stats['by_method'] == {'GetSessionsByName': 1}
    requests.post(sim.url + '/_sim/reset', timeout=5).raise_for_status()
    assert sim.requests == [] and sim.stats()['requests_total'] == 0


# ---- installers ------------------------------------------------------------------------------------

QUERY = "e=Access&y=Guest&t=LNX%201&c=O%27Reilly%20%26%20Sons&c=HQ&c=&c=&c=&c=&c=&c=&h=relay.example&p=8041&k=AbC%2B"


@pytest.mark.parametrize('ext,magic', [('msi', b'\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1'), ('exe', b'MZ'),
                                       ('pkg', b'xar!'), ('rpm', b'\xed\xab\xee\xdb'), ('sh', b'#!/bin/sh')])
def test_installer_formats(sim, ext, magic):
    answer = requests.get(sim.url + '/Bin/ConnectWise.ClientSetup.%s?%s' % (ext, QUERY), timeout=10)
    assert answer.status_code == 200 and answer.content.startswith(magic) and len(answer.content) >= 4096
    if ext == 'msi':
        assert answer.headers['Content-Type'] == 'application/x-msi'
        assert ('ProductName=ScreenConnect Client (%s)' % sim.instance_id).encode() in answer.content
        upgrade = re.search(rb'UpgradeCode=\{([0-9A-F]{8}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{12})\}', answer.content)
        assert upgrade.group(1).decode().replace('-', '').lower().endswith(sim.instance_id)  # the full 16-hex id
    if ext in ('pkg', 'rpm'):
        assert ('connectwisecontrol-%s' % sim.instance_id).encode() in answer.content
    download = sim.requests[-1]
    assert download['api'] == 'download' and download['args']['c'][:2] == ["O'Reilly & Sons", 'HQ']
    assert download['args']['t'] == 'LNX 1' and sim.stats()['downloads'] == {ext: 1}


def test_installer_unknown_is_404(sim):
    for path in ('/Bin/ScreenConnect.ClientSetup.zip', '/Bin/Other.exe', '/Nope'):
        answer = requests.get(sim.url + path, timeout=5)
        assert answer.status_code == 404 and 'text/html' in answer.headers['Content-Type']


@pytest.mark.skipif(not shutil.which('dpkg-deb'), reason='needs dpkg-deb')
def test_deb_is_a_real_package(sim, tmp_path):
    answer = requests.get(sim.url + '/Bin/ScreenConnect.ClientSetup.deb?' + QUERY, timeout=30)
    assert answer.status_code == 200
    assert answer.headers['Content-Type'] == 'application/vnd.debian.binary-package'
    assert 'ScreenConnect.ClientSetup.deb' in answer.headers['Content-Disposition']
    path = tmp_path / 'agent.deb'
    path.write_bytes(answer.content)
    name = 'connectwisecontrol-%s' % sim.instance_id
    package = subprocess.run(['dpkg-deb', '-f', str(path), 'Package'], capture_output=True, text=True, check=True)
    assert package.stdout.strip() == name
    listing = subprocess.run(['dpkg-deb', '-c', str(path)], capture_output=True, text=True, check=True).stdout
    assert './etc/init.d/%s' % name in listing and 'rwxr-xr-x' in [l for l in listing.splitlines() if 'init.d/' + name in l][0]
    assert './opt/%s/ClientLaunchParameters.txt' % name in listing
    extracted = tmp_path / 'x'
    subprocess.run(['dpkg-deb', '-x', str(path), str(extracted)], check=True)
    launch = (extracted / 'opt' / name / 'ClientLaunchParameters.txt').read_text()
    assert 'h=relay.example' in launch and 'p=8041' in launch and 'k=AbC%2B' in launch and 's=' not in launch
    again = requests.get(sim.url + '/Bin/ScreenConnect.ClientSetup.deb?' + QUERY, timeout=30)
    assert again.content == answer.content  # cached per query


# ---- TLS ---------------------------------------------------------------------------------------------

@pytest.mark.skipif(not shutil.which('openssl'), reason='needs openssl')
def test_https(tmp_path):
    cert, key = str(tmp_path / 'c.pem'), str(tmp_path / 'k.pem')
    subprocess.run(['openssl', 'req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert,
                    '-days', '1', '-subj', '/CN=127.0.0.1'], check=True, capture_output=True)
    with Simulator(sessions=5, certfile=cert, keyfile=key) as secure:
        assert secure.url.startswith('https://127.0.0.1:')
        answer = requests.post(secure.url + REST + 'GetSessionsByName', json=['x'],
                               headers={'CTRLAuthHeader': SECRET}, verify=False, timeout=5)
        assert answer.status_code == 200
