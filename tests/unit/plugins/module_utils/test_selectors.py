"""Choosing the sessions a task acts on and shaping one result per session (_selectors.py), with a
fake client and a fake module: which requests a selection costs, and what each result says."""

import pytest

from ansible_collections.msp.screenconnect.plugins.module_utils import _selectors
from ansible_collections.msp.screenconnect.plugins.module_utils._client import ScreenConnectError


def guid(number):
    return '00000000-0000-0000-0000-%012d' % number


def fake_session(number, name='', session_type='access', machine=''):
    return {'session_id': guid(number), 'name': name or 'WS-%d' % number, 'session_type': session_type,
            'online': number % 2 == 0, 'guest': {'machine_name': machine or 'M-%d' % number, 'serial_number': ''}}


class FakeClient:
    server_url = 'https://acme.screenconnect.com'

    def __init__(self, sessions, fail_on=(), listing=None, raise_on=None):
        self.sessions = dict((session['session_id'], session) for session in sessions)
        self.fail_on = fail_on
        self.listing = listing  # what find_sessions answers, duplicates and all
        self.raise_on = raise_on or {}  # session id -> any exception call() raises for it
        self.calls = []
        self.warnings = []

    def get_session(self, session_id, property_names=None):
        self.calls.append(('get_session', session_id))
        return self.sessions.get(session_id)

    def find_sessions(self, expression=None, session_type='access', property_names=None, by_name=None):
        self.calls.append(('find_sessions', expression, session_type))
        self.by_name = by_name
        listing = self.listing if self.listing is not None else list(self.sessions.values())
        return [session for session in listing if session_type in ('all', session['session_type'])]

    def call(self, method, arguments):
        self.calls.append((method, arguments))
        if arguments[0] in self.raise_on:
            raise self.raise_on[arguments[0]]
        if arguments[0] in self.fail_on:
            raise ScreenConnectError('%s failed: HTTP 502' % method, status=502, method=method, may_have_run=True)


class Exited(Exception):
    pass


class FakeModule:
    def __init__(self, check_mode=False, **params):
        self.check_mode = check_mode
        self.params = dict({'session_id': None, 'name': None, 'machine_name': None, 'serial_number': None,
                            'property_names': None}, **params)
        self.warnings = []

    def warn(self, warning):
        self.warnings.append(warning)

    def exit_json(self, **result):
        raise Exited(dict(result, failed=False))

    def fail_json(self, msg, **result):
        raise Exited(dict(result, failed=True, msg=msg))

    def fail_from_error(self, error, **result):
        self.fail_json(error.message, **result)


def test_a_few_ids_are_looked_up_one_by_one_and_unknown_ones_reported():
    client = FakeClient([fake_session(1), fake_session(2)])
    found, missing = _selectors.select_sessions(client, {'session_id': [guid(1), guid(1).upper(), guid(3)]})
    assert [session['session_id'] for session in found] == [guid(1)] and missing == [guid(3)]
    assert client.calls == [('get_session', guid(1)), ('get_session', guid(3))]  # the duplicate asked once


def test_many_ids_cost_one_bulk_request():
    client = FakeClient([fake_session(number) for number in range(30)])
    ids = [guid(number) for number in range(25)]
    found, missing = _selectors.select_sessions(client, {'session_id': ids})
    assert len(found) == 25 and missing == [] and client.calls == [('find_sessions', None, 'all')]


def test_ids_are_narrowed_by_type_and_the_other_selectors():
    client = FakeClient([fake_session(1, name='WS-1'), fake_session(2, session_type='support')])
    found, _missing = _selectors.select_sessions(client, {'session_id': [guid(1), guid(2)], 'name': 'ws-1'})
    assert [session['session_id'] for session in found] == [guid(1)]


def test_selectors_without_ids_become_one_quoted_filter():
    client = FakeClient([fake_session(1)])
    _selectors.select_sessions(client, {'name': "O'Brien", 'machine_name': 'PC-1'}, raw_filter="CustomProperty1 = 'A'")
    assert client.calls == [('find_sessions', "(Name = 'O''Brien') AND (GuestMachineName = 'PC-1') AND "
                                              "(CustomProperty1 = 'A')", 'access')]


def test_a_name_without_a_raw_filter_may_be_looked_up_by_name_and_the_rest_is_checked_here():
    # The client may answer from GetSessionsByName (an extension without GetSessionsByFilter):
    # every session of that name, whatever its machine; the selection keeps the matching one.
    client = FakeClient([fake_session(1, name='WS-1', machine='PC-1'), fake_session(2, name='WS-1', machine='PC-2')])
    found, _missing = _selectors.select_sessions(client, {'name': 'ws-1', 'machine_name': 'pc-2'})
    assert [session['session_id'] for session in found] == [guid(2)] and client.by_name == 'ws-1'
    _selectors.select_sessions(client, {'name': 'ws-1'}, raw_filter="CustomProperty1 = 'A'")
    assert client.by_name is None  # a raw filter can only be applied by the server
    _selectors.select_sessions(client, {'machine_name': 'pc-2'})
    assert client.by_name is None


def test_bad_selectors_fail_before_any_request():
    client = FakeClient([])
    with pytest.raises(Exited) as exited:
        _selectors.targets_or_fail(FakeModule(session_id=['nope']), client)
    assert exited.value.args[0]['failed'] and 'session_id' in exited.value.args[0]['msg'] and client.calls == []


def test_no_match_names_the_selectors():
    with pytest.raises(Exited) as exited:
        _selectors.targets_or_fail(FakeModule(name='WS-9'), FakeClient([]))
    assert exited.value.args[0]['msg'] == "no access session matched name='WS-9'"


def test_send_goes_on_after_a_failure_and_says_what_may_have_run():
    sessions = [fake_session(1), fake_session(2), fake_session(3)]
    client = FakeClient(sessions, fail_on=(guid(2),))
    results = _selectors.send_to_sessions(FakeModule(), client, sessions, 'SendMessageToSession', 'hi')
    assert [call[0] for call in client.calls] == ['SendMessageToSession'] * 3
    assert [result['sent'] for result in results] == [True, False, True]
    assert results[1]['failed'] and results[1]['may_have_run'] and results[1]['changed']
    assert results[0] == {'session_id': guid(1), 'name': 'WS-1', 'machine_name': 'M-1', 'online': False,
                          'changed': True, 'sent': True}
    with pytest.raises(Exited) as exited:
        _selectors.exit_with_results(FakeModule(), results)
    assert exited.value.args[0]['failed'] and exited.value.args[0]['msg'].startswith('1 of 3 sessions failed; first:')


def test_check_mode_sends_nothing():
    sessions = [fake_session(1)]
    client = FakeClient(sessions)
    results = _selectors.send_to_sessions(FakeModule(check_mode=True), client, sessions, 'AddNoteToSession', 'x')
    assert client.calls == [] and results[0]['changed'] and not results[0]['sent']


# ---- issue 25: an empty selection is nothing, a blank selector is refused, each session once ----------

def test_an_empty_id_list_selects_nothing_without_a_request():
    client = FakeClient([fake_session(1), fake_session(2)])
    assert _selectors.select_sessions(client, {'session_id': []}) == ([], [])
    # AND with anything is still nothing: never the sessions the other selectors name
    assert _selectors.select_sessions(client, {'session_id': [], 'name': 'WS-1'}, raw_filter="x = 'y'") == ([], [])
    assert client.calls == []


def test_a_module_given_an_empty_id_list_changes_nothing_and_says_which_option():
    client = FakeClient([fake_session(1)])
    module = FakeModule(session_id=[])
    assert _selectors.targets_or_fail(module, client) == []
    assert client.calls == [] and len(module.warnings) == 1 and module.warnings[0].startswith('session_id is an empty list')
    with pytest.raises(Exited) as exited:
        _selectors.exit_with_results(module, _selectors.send_to_sessions(module, client, [], 'AddNoteToSession', 'x'))
    assert exited.value.args[0] == {'changed': False, 'results': [], 'failed': False}


@pytest.mark.parametrize('option', ['name', 'machine_name', 'serial_number'])
@pytest.mark.parametrize('value', ['', '   ', '\t'])
def test_a_blank_text_selector_is_refused_before_any_request(option, value):
    client = FakeClient([fake_session(1, name='')])
    with pytest.raises(Exited) as exited:
        _selectors.targets_or_fail(FakeModule(**{option: value}), client)
    assert exited.value.args[0]['failed'] and exited.value.args[0]['msg'].startswith('%s: %r is blank' % (option, value))
    assert client.calls == []
    assert _selectors.check_selectors({option: value}) != []  # session_info refuses it the same way


def test_a_module_that_acts_needs_a_selector_with_a_value():
    # Ansible's required_one_of counts an option given as null; that must not mean "every session".
    client = FakeClient([fake_session(1)])
    with pytest.raises(Exited) as exited:
        _selectors.targets_or_fail(FakeModule(machine_name=None), client)
    assert 'one of session_id, name, machine_name, serial_number is required' in exited.value.args[0]['msg']
    assert client.calls == []
    assert _selectors.check_selectors({'machine_name': None}) == []  # session_info: no selector reads the fleet


def test_a_session_listed_twice_is_selected_once():
    one = fake_session(1, machine='PC-1')
    shouting = dict(one, session_id=guid(1).upper())
    client = FakeClient([], listing=[one, shouting, fake_session(2, machine='PC-1')])
    found, _missing = _selectors.select_sessions(client, {'machine_name': 'pc-1'})
    assert [session['session_id'] for session in found] == [guid(1), guid(2)]
    assert client.warnings == ['the server listed session %s more than once; it is acted on once' % guid(1)]


def test_a_session_listed_twice_in_a_bulk_id_lookup_is_selected_once():
    sessions = [fake_session(number) for number in range(25)]
    client = FakeClient([], listing=sessions + [dict(sessions[3], session_id=guid(3).upper())])
    found, missing = _selectors.select_sessions(client, {'session_id': [guid(number) for number in range(25)]})
    assert len(found) == 25 and missing == []


def test_a_malformed_guest_field_matches_nothing_instead_of_raising():
    session = fake_session(1)
    session['guest']['machine_name'] = None  # a field the normalizer could not read
    client = FakeClient([session])
    assert _selectors.select_sessions(client, {'machine_name': 'M-1'}) == ([], [])


def test_any_failure_after_sending_is_may_have_run_and_the_rest_are_still_sent():
    sessions = [fake_session(1), fake_session(2), fake_session(3)]
    client = FakeClient(sessions, raise_on={guid(2): ValueError('IncompleteRead(0 bytes read, 4 more expected)')})
    results = _selectors.send_to_sessions(FakeModule(), client, sessions, 'SendCommandToSession', 'uptime')
    assert [call[0] for call in client.calls] == ['SendCommandToSession'] * 3
    assert [result['sent'] for result in results] == [True, False, True]
    assert results[1]['failed'] and results[1]['may_have_run'] is True and results[1]['changed'] is True
    assert results[1]['msg'].startswith('unexpected ValueError after the request was sent')
    with pytest.raises(Exited) as exited:
        _selectors.exit_with_results(FakeModule(), results)
    assert exited.value.args[0]['failed'] and exited.value.args[0]['changed'] is True


@pytest.mark.parametrize('error,may_have_run', [
    (ScreenConnectError('x failed: HTTP 502', status=502, may_have_run=True), True),
    (ScreenConnectError('x failed: HTTP 403', status=403), False),
    (ScreenConnectError('x: malformed JSON', status=200), True),  # the server took it; its answer was bad
    (KeyError('Session'), True),
])
def test_write_failure_says_whether_the_write_may_have_run(error, may_have_run):
    failure = _selectors.write_failure(error)
    assert failure['may_have_run'] is may_have_run and failure['changed'] is may_have_run and failure['msg']
