"""The three spellings of a session, its edge cases, and filter quoting."""

import copy
import json
import re

import pytest

from ansible_collections.msp.screenconnect.plugins.module_utils import _sessions as s

NESTED = {
    'SessionID': '5523A541-96B3-4870-9A18-38B6734DBD78',
    'SessionType': 2,
    'Name': 'WS-00004',
    'Host': '',
    'IsPublic': False,
    'Code': '',
    'IsEnded': False,
    'CustomPropertyValues': ["O'Reilly & Sons", 'Branch 1', 'web,prod', '', '', '', '', ''],
    'ActiveConnections': [{'ProcessType': 1}, {'ProcessType': 2}],
    'GuestInfoUpdateTime': '2026-11-19T03:51:52.6169911Z',
    'LastGuestConnectedEventTime': '2026-11-18T01:00:00.0000000Z',
    'LastGuestDisconnectedEventTime': '0001-01-01T00:00:00',
    'GuestInfo': {
        'MachineName': 'WS-00004', 'OperatingSystemName': 'Microsoft Windows 11 Pro',
        'OperatingSystemVersion': '10.0.22631', 'ProcessorName': 'Intel(R) Xeon(R)',
        'ProcessorVirtualCount': 4, 'SystemMemoryTotalMegabytes': 16384,
        'SystemMemoryAvailableMegabytes': 5120, 'PrivateNetworkAddress': '10.0.0.4',
        'MachineSerialNumber': 'SN000004', 'MachineDomain': 'WORKGROUP', 'LoggedOnUserName': 'user',
        'ClientVersion': '25.4.16.9293', 'LastActivityTime': '2026-11-19T03:00:00.1234567Z',
    },
}

EXPECTED = {
    'session_id': '5523a541-96b3-4870-9a18-38b6734dbd78',
    'name': 'WS-00004',
    'session_type': 'access',
    'host': '',
    'is_public': False,
    'code': '',
    'is_ended': False,
    'online': True,
    'last_seen': '2026-11-19T03:51:52Z',
    'custom_properties': ["O'Reilly & Sons", 'Branch 1', 'web,prod', '', '', '', '', ''],
    'properties': {'company': "O'Reilly & Sons", 'site': 'Branch 1', 'tag': 'web,prod'},
    'guest': {
        'machine_name': 'WS-00004', 'os_name': 'Microsoft Windows 11 Pro', 'os_version': '10.0.22631',
        'os_family': 'windows', 'processor_name': 'Intel(R) Xeon(R)', 'processor_count': 4,
        'memory_total_mb': 16384, 'memory_available_mb': 5120, 'private_ip': '10.0.0.4',
        'serial_number': 'SN000004', 'domain': 'WORKGROUP', 'logged_on_user': 'user',
        'client_version': '25.4.16.9293',
    },
}


def flat_spelling(nested):
    raw = copy.deepcopy(nested)
    for key, value in raw.pop('GuestInfo').items():
        raw['Guest' + key] = value
    return raw


def seed_spelling(nested):
    raw = copy.deepcopy(nested)
    guest = raw['GuestInfo']
    guest['GuestPrivateIpAddress'] = guest.pop('PrivateNetworkAddress')
    guest['GuestMachineSerialNumber'] = guest.pop('MachineSerialNumber')
    guest['GuestMachineDomain'] = guest.pop('MachineDomain')
    raw['ActiveConnections'] = [{'ProcessType': 'Host'}, {'ProcessType': 'Guest'}]
    return raw


@pytest.mark.parametrize('spelling', [copy.deepcopy, flat_spelling, seed_spelling],
                         ids=['nested', 'flat', 'seed'])
def test_three_spellings_normalize_alike(spelling):
    assert s.normalize_session(spelling(NESTED)) == EXPECTED


@pytest.mark.parametrize('api,number,expected', [
    ('rest', 0, 'support'), ('rest', 1, 'meeting'), ('rest', 2, 'access'),
    ('session_manager', 1, 'support'), ('session_manager', 2, 'access'), ('session_manager', 3, 'meeting'),
    ('rest', 'Access', 'access'), ('rest', 'Meeting', 'meeting'), ('session_manager', 'Support', 'support'),
    ('rest', '2', 'access'), ('rest', 9, 'unknown'), ('rest', None, 'unknown'),
])
def test_session_type_is_numbered_per_api(api, number, expected):
    raw = dict(NESTED, SessionType=number)
    assert s.normalize_session(raw, api)['session_type'] == expected


@pytest.mark.parametrize('value,expected', [
    ('2026-07-19T06:41:52.6169911Z', '2026-07-19T06:41:52Z'),
    ('2026-07-19T06:41:52', '2026-07-19T06:41:52Z'),  # no zone means UTC
    ('2026-07-19T08:41:52.5+02:00', '2026-07-19T06:41:52Z'),
    ('2026-07-19T01:41:52-0500', '2026-07-19T06:41:52Z'),
    ('0001-01-01T00:00:00', None),
    ('0001-01-01T00:00:00Z', None),
    ('0001-01-01T00:00:00.0000000', None),
    ('/Date(1784443312000)/', '2026-07-19T06:41:52Z'),
    ('/Date(1784443312000+0000)/', '2026-07-19T06:41:52Z'),
    ('', None), (None, None), ('not a time', None), ('2026-13-45T99:00:00Z', None),
])
def test_parse_time(value, expected):
    assert s.parse_time(value) == expected


def test_online_from_event_times_when_active_connections_missing():
    raw = dict(NESTED)
    del raw['ActiveConnections']
    assert s.normalize_session(raw)['online'] is True  # connected, never disconnected
    raw['LastGuestDisconnectedEventTime'] = '2026-11-18T02:00:00.0000000Z'
    assert s.normalize_session(raw)['online'] is False  # disconnected after the connect
    raw['LastGuestConnectedEventTime'] = '2026-11-18T03:00:00.0000000Z'
    assert s.normalize_session(raw)['online'] is True
    raw['LastGuestConnectedEventTime'] = '0001-01-01T00:00:00'
    assert s.normalize_session(raw)['online'] is False  # never connected


def test_empty_active_connections_means_offline_even_with_connect_time():
    raw = dict(NESTED, ActiveConnections=[{'ProcessType': 1}])
    assert s.normalize_session(raw)['online'] is False


def test_guest_connected_count():
    raw = dict(NESTED, GuestConnectedCount=0)
    del raw['ActiveConnections']
    assert s.normalize_session(raw)['online'] is False


def test_last_seen_falls_back():
    raw = dict(NESTED, GuestInfoUpdateTime='0001-01-01T00:00:00')
    assert s.normalize_session(raw)['last_seen'] == '2026-11-19T03:00:00Z'  # LastActivityTime
    raw['GuestInfo'] = dict(raw['GuestInfo'], LastActivityTime=None)
    assert s.normalize_session(raw)['last_seen'] == '2026-11-18T01:00:00Z'  # last connect
    raw['LastGuestConnectedEventTime'] = '0001-01-01T00:00:00'
    assert s.normalize_session(raw)['last_seen'] is None


def test_blank_and_missing_fields():
    raw = {'SessionID': '5523a541-96b3-4870-9a18-38b6734dbd78', 'SessionType': 2, 'Name': None,
           'CustomPropertyValues': ['Acme', None]}
    session = s.normalize_session(raw)
    assert session['name'] == ''
    assert session['custom_properties'] == ['Acme'] + [''] * 7
    assert session['properties'] == {'company': 'Acme', 'site': '', 'tag': ''}
    assert session['guest']['os_family'] == 'unknown'
    assert session['guest']['processor_count'] is None
    assert session['online'] is False and session['last_seen'] is None


def test_ended_session_kept_and_custom_property_names():
    raw = dict(NESTED, IsEnded=True)
    session = s.normalize_session(raw, property_names={'customer': 1, 'rack': 5})
    assert session['is_ended'] is True
    assert session['properties'] == {'customer': "O'Reilly & Sons", 'rack': ''}


def test_not_a_session():
    with pytest.raises(s.SessionDataError):
        s.normalize_session(['x'])
    with pytest.raises(s.SessionDataError):
        s.normalize_session({'Name': 'no id'})


@pytest.mark.parametrize('os_name,family', [
    ('Microsoft Windows Server 2022 Standard', 'windows'), ('Ubuntu 22.04.4 LTS', 'linux'),
    ('Rocky Linux 9.3', 'linux'), ('Debian GNU/Linux 12', 'linux'), ('macOS 14.5', 'macos'),
    ('Mac OS X 10.15', 'macos'), ('', 'unknown'), ('Plan 9', 'unknown'),
])
def test_os_family(os_name, family):
    assert s.os_family(os_name) == family


def test_events():
    event = s.normalize_event({'EventID': 'ABC', 'EventType': 70, 'Data': 'out', 'Time': '2026-01-01T00:00:00.1234567Z'})
    assert event == {'event_id': 'abc', 'event_type': 70, 'data': 'out', 'time': '2026-01-01T00:00:00Z', 'host': ''}


def test_quote_doubles_single_quotes():
    assert s.quote("O'Reilly") == "'O''Reilly'"
    assert s.quote("' OR ''='") == "''' OR ''''='''"
    assert s.condition('CustomProperty1', "O'Reilly & Sons") == "CustomProperty1 = 'O''Reilly & Sons'"
    assert s.condition('GuestConnectedCount', 0, '>') == 'GuestConnectedCount > 0'


@pytest.mark.parametrize('field,operator', [('Name; DROP', '='), ("Name'", '='), ('', '='), ('Name', 'OR'), ('Name', '==')])
def test_condition_refuses_bad_field_or_operator(field, operator):
    with pytest.raises(ValueError):
        s.condition(field, 'x', operator)


def test_all_of_and_any_of():
    assert s.all_of(None, "Name = 'a'") == "Name = 'a'"
    assert s.all_of("SessionType = 'Access'", "A = '1' OR B = '2'") == "(SessionType = 'Access') AND (A = '1' OR B = '2')"
    assert s.any_of('Name', ['a', "b'c"]) == "(Name = 'a' OR Name = 'b''c')"
    assert s.session_type_condition('access') == "SessionType = 'Access'"
    assert s.session_type_condition('all') is None


@pytest.mark.parametrize('names,ok', [
    ({'company': 1, 'site': 2, 'tag': 3}, True),
    ({'company': 0}, False), ({'company': 9}, False), ({'company': '1'}, False),
    ({'Company': 1}, False), ({'a': 1, 'b': 1}, False), ({}, False), (['company'], False),
])
def test_validate_property_names(names, ok):
    assert (s.validate_property_names(names) == []) is ok


def test_session_type_number_per_api():
    assert s.session_type_number('access', 'rest') == 2 and s.session_type_number('meeting', 'rest') == 1
    assert s.session_type_number('support', 'session_manager') == 1
    assert s.session_type_number('meeting', 'session_manager') == 3
    with pytest.raises(ValueError):
        s.session_type_number('kiosk', 'rest')


# ---- event times, events from both places, command outputs by order -----------------------------------

NOW = s.parse_moment('2026-07-19T06:41:52Z')


@pytest.mark.parametrize('value,expected', [
    (0, '2026-07-19T06:41:52Z'),                        # PageService: milliseconds before the answer
    (1500, '2026-07-19T06:41:50Z'),
    (86400000, '2026-07-18T06:41:52Z'),
    (999999999999, '1994-11-10T04:55:12Z'),            # still an age: 11574 days before now
    (1784443312000, '2026-07-19T06:41:52Z'),           # a large number is milliseconds since 1970
])
def test_a_small_number_is_an_age_not_a_1970_date(value, expected):
    assert s.parse_time(value, NOW) == expected


def test_parse_moment_keeps_the_fraction_for_ordering():
    early, late = s.parse_moment('2026-01-01T00:00:00.1000000Z'), s.parse_moment('2026-01-01T00:00:00.1000001Z')
    assert early < s.parse_moment('2026-01-01T00:00:00.2Z') and early <= late
    assert s.parse_time('2026-01-01T00:00:00.9999999Z') == '2026-01-01T00:00:00Z'


def raw_event(event_id, kind, data, time):
    return {'EventID': event_id, 'EventType': kind, 'Data': data, 'Time': time}


def test_details_events_merge_top_level_and_connection_events():
    details = {'Session': {'SessionID': 'x'},
               'Events': [raw_event('1', 44, 'hostname', 300), raw_event('3', 45, 'hi', 100)],
               'Connections': [{'Events': [raw_event('2', 70, 'WS-1', 200), raw_event('3', 45, 'hi', 100)]},
                               {'ProcessType': 1}]}
    events = s.details_events(details, NOW)
    assert [(e['event_id'], e['event_type']) for e in events] == [('1', 44), ('2', 70), ('3', 45)]
    assert events[0]['time'] == '2026-07-19T06:41:51Z'


def test_details_events_without_times_keep_the_order_given():
    details = {'Events': [raw_event('b', 44, 'x', None)], 'Connections': [{'Events': [raw_event('a', 70, 'y', None)]}]}
    assert [e['event_id'] for e in s.details_events(details, NOW)] == ['b', 'a']


def event(kind, data):
    return {'event_type': kind, 'data': data}


def test_output_is_the_first_result_after_our_queued_command_not_a_text_match():
    events = [event(44, 'hostname'), event(70, 'old-output'), event(44, 'uptime'), event(44, 'hostname\r\n'),
              event(70, 'C:\\WINDOWS\\system32>uptime\nup 3 days'), event(70, 'C:\\WINDOWS\\system32>hostname\nWS-1')]
    # by order: the first 70 after the last queueing of our text, although a later one echoes our command
    assert s.output_after_queueing(events, 'hostname') == 'C:\\WINDOWS\\system32>uptime\nup 3 days'
    assert s.output_after_queueing(events[:4], 'hostname') is None
    assert s.output_after_queueing(events, 'whoami') is None


@pytest.mark.parametrize('output,stdout', [
    ('C:\\WINDOWS\\system32>hostname\nWS-00004', 'WS-00004'),
    ('C:\\WINDOWS\\system32>hostname\r\nWS-00004\r\n', 'WS-00004\r\n'),
    ('\r\nC:\\Program Files (x86)\\ScreenConnect Client (0123456789abcdef)>ipconfig /all\nline 1\nline 2',
     'line 1\nline 2'),
    ('\\\\fileserver\\share>dir\nfile.txt', 'file.txt'),
    ('C:\\WINDOWS\\system32>hostname', ''),
    ('WS-00004', 'WS-00004'),                              # no echo: PowerShell, or a server that drops it
    ('a > b\nc', 'a > b\nc'),
    ('', ''),
])
def test_strip_cmd_echo_drops_only_an_echoed_prompt_line(output, stdout):
    assert s.strip_cmd_echo(output) == stdout


# ---- hostile session data: a bad entry or field is a warning, never a traceback ----------------

GUID = '5523A541-96B3-4870-9A18-38B6734DBD78'


@pytest.mark.parametrize('field,value', [
    ('GuestInfoUpdateTime', '9999-12-31T23:59:59-05:00'),
    ('GuestInfoUpdateTime', 1e20),
    ('GuestInfoUpdateTime', '/Date(999999999999999999)/'),
    ('GuestInfoUpdateTime', float('inf')),
    ('GuestInfoUpdateTime', {'a': 1}),
    ('LastGuestConnectedEventTime', '/Date(-999999999999999999)/'),
])
def test_time_out_of_range_is_null_with_a_warning(field, value):
    raw = dict(NESTED, **{field: value})
    del raw['ActiveConnections']  # so the connect time is read too
    warnings = []
    session = s.normalize_session(raw, warnings=warnings)
    assert session['session_id'] == GUID.lower()
    assert len(warnings) == 1 and warnings[0].startswith('session %s (Name ' % GUID.lower())
    assert '%s %r is no time in range' % (field, value) in warnings[0]


def test_memory_of_1e400_and_custom_property_values_5():
    raw = dict(NESTED, CustomPropertyValues=5, GuestInfo=dict(NESTED['GuestInfo'], SystemMemoryTotalMegabytes=float('inf')))
    warnings = []
    session = s.normalize_session(raw, warnings=warnings)
    assert session['guest']['memory_total_mb'] is None
    assert session['custom_properties'] == [''] * 8 and session['properties']['company'] == ''
    assert 'GuestInfo.SystemMemoryTotalMegabytes inf is not a whole number' in warnings[0]
    assert 'CustomPropertyValues 5 is not a list' in warnings[0]


def test_text_fields_that_are_objects_are_empty():
    raw = dict(NESTED, Name={'x': 1}, CustomPropertyValues=[['Acme'], 'HQ'])
    warnings = []
    session = s.normalize_session(raw, warnings=warnings)
    assert session['name'] == '' and session['custom_properties'][:2] == ['', 'HQ']
    assert "Name {'x': 1} is not text" in warnings[0] and "CustomPropertyValues[0] ['Acme'] is not text" in warnings[0]


def test_good_sessions_give_no_warning():
    warnings = []
    for spelling in (copy.deepcopy, flat_spelling, seed_spelling):
        s.normalize_session(spelling(NESTED), warnings=warnings)
    assert warnings == []


def test_normalize_sessions_leaves_out_what_is_no_session_and_says_which():
    raw = [dict(NESTED), {'Name': 'WS-9'}, 'text', dict(NESTED, SessionID='{{ 7 * 7 }}'), dict(NESTED, SessionID=None)]
    warnings = []
    sessions = s.normalize_sessions(raw, 'rest', None, warnings)
    assert [session['session_id'] for session in sessions] == [GUID.lower()]
    assert warnings == [
        "session #1 of the answer (Name 'WS-9') left out: expected a session object with a SessionID, "
        "got an object without one",
        'session #2 of the answer left out: expected a session object with a SessionID, got str',
        "session #3 of the answer (Name 'WS-00004') left out: expected a session object with a SessionID, "
        "got SessionID '{{ 7 * 7 }}', which is no GUID",
        "session #4 of the answer (Name 'WS-00004') left out: expected a session object with a SessionID, "
        "got SessionID None, which is no GUID",
    ]


def test_normalize_sessions_caps_its_warnings():
    warnings = []
    assert s.normalize_sessions([{}] * 25, warnings=warnings) == []
    assert len(warnings) == s.MAX_SESSION_WARNINGS + 1 and warnings[-1].startswith('15 more sessions')


def test_event_time_out_of_range_is_none():
    details = {'Events': [raw_event('a', 44, 'hostname', '9999-12-31T23:59:59-05:00'),
                          raw_event('b', 70, 'WS-1', 1e20), raw_event('c', 70, 'x', float('nan'))]}
    events = s.details_events(details)
    assert [event['time'] for event in events] == [None, None, None]
    assert s.parse_moment('/Date(999999999999999999)/') is None and s.parse_time(float('-inf')) is None


try:
    from hypothesis import HealthCheck, given, settings, strategies as st
except ImportError:  # pragma: no cover - tests/unit/requirements.txt lists it
    given = None

if given is not None:
    _TIMES = st.sampled_from(['9999-12-31T23:59:59-05:00', '0001-01-01T00:00:00+01:00', '/Date(999999999999999999)/',
                              '/Date(-62135596800001)/', '2026-07-19T06:41:52.6169911Z', '2026-02-30T00:00:00', '٢٠٢٦'])
    _SCALARS = (st.none() | st.booleans() | st.integers() | st.floats() | _TIMES
                | st.text(alphabet=st.characters(blacklist_categories=()), max_size=12)
                | st.sampled_from([1e400, -1e400, GUID, 'Guest', 'Access', '²']) | st.builds(lambda: 10 ** 5000))
    _JSON = st.recursive(_SCALARS, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
                         max_leaves=12)
    _GUEST_NAMES = [name for _key, names in s._GUEST_FIELDS for name in names] + ['LastActivityTime']
    _GUEST_KEYS = _GUEST_NAMES + ['Guest' + name for name in _GUEST_NAMES]
    _SESSION_KEYS = ['SessionID', 'SessionType', 'Name', 'Host', 'IsPublic', 'Code', 'IsEnded', 'ActiveConnections',
                     'GuestConnectedCount', 'LastGuestConnectedEventTime', 'LastGuestDisconnectedEventTime',
                     'GuestInfoUpdateTime', 'CustomPropertyValues', 'GuestInfo'] + ['Guest' + name for name in _GUEST_NAMES]
    _CONNECTIONS = st.lists(st.fixed_dictionaries({}, optional={'ProcessType': _JSON}) | _JSON, max_size=3)
    _GUEST_INFO = st.dictionaries(st.sampled_from(_GUEST_KEYS), _JSON, max_size=8) | _JSON
    _SESSION = st.dictionaries(st.sampled_from(_SESSION_KEYS), _JSON, max_size=10).flatmap(
        lambda base: st.fixed_dictionaries(
            {}, optional={'SessionID': st.just(GUID) | _JSON, 'GuestInfo': _GUEST_INFO, 'ActiveConnections': _CONNECTIONS,
                          'CustomPropertyValues': st.lists(_JSON, max_size=10) | _JSON}).map(lambda extra: dict(base, **extra)))

    @settings(max_examples=250, deadline=None, suppress_health_check=list(HealthCheck))
    @given(raw_sessions=st.lists(_SESSION | _JSON, max_size=6), api=st.sampled_from(['rest', 'session_manager']))
    def test_fuzz_normalizer_gives_sessions_and_warnings_only(raw_sessions, api):
        """Any JSON-like value in any field of any spelling, any list of such objects: the
        normalizer gives well-formed sessions and text warnings, or raises SessionDataError for one."""
        warnings = []
        sessions = s.normalize_sessions(raw_sessions, api, {'company': 1, 'rack': 8}, warnings)
        assert all(isinstance(text, str) for text in warnings)
        for session in sessions:
            assert s.is_session_id(session['session_id']) and session['session_id'] == session['session_id'].lower()
            assert all(isinstance(session[key], str) for key in ('name', 'host', 'code'))
            assert session['session_type'] in ('access', 'support', 'meeting', 'unknown')
            assert all(isinstance(session[key], bool) for key in ('is_public', 'is_ended', 'online'))
            assert session['last_seen'] is None or re.match(r'^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$', session['last_seen'])
            assert len(session['custom_properties']) == 8 and all(isinstance(v, str) for v in session['custom_properties'])
            assert set(session['properties']) == {'company', 'rack'}
            for key, value in session['guest'].items():
                assert value is None or isinstance(value, int) if key in s._GUEST_INT_FIELDS else isinstance(value, str)
            json.dumps(session)  # plain data a module can return
        for raw in raw_sessions:
            try:
                s.normalize_session(raw, api)
            except s.SessionDataError:
                pass


@pytest.mark.parametrize('text', [
    '2026-07-01T10:00:00.1234567Z', '2026-07-01 10:00:00', '2026-07-01T10:00:00', '1000-01-01T00:00:00Z',
    '9999-12-31T23:59:59.9999999Z', '2026-07-01T10:00:00\n', '2026-02-30T00:00:00Z', '2026-07-01T24:00:00Z',
    '2026-07-01T10:00:60Z', '2026-13-01T10:00:00Z', '0999-12-31T23:59:59Z', '0001-01-01T00:00:00', '0000-01-01T00:00:00Z',
    '2026-07-01T10:00:00+02:00', '2026-07-01T10:00:00.Z', ' 2026-07-01T10:00:00Z', '/Date(1780000000000)/',
])
def test_the_quick_way_to_read_plain_utc_times_reads_them_as_read_moment_does(text):
    read = s._Reader()
    quick = read.time('T', text)
    try:
        moment = s.read_moment(text)
        expected = None if moment is None or moment.year <= 1 else moment.strftime('%Y-%m-%dT%H:%M:%SZ')
        problems = []
    except ValueError as error:
        expected, problems = None, ['T %s %s' % (s._show(text), error)]
    assert (quick, read.problems) == (expected, problems)
