"""The modules' own logic, without a server: the command text they queue, how a command's output
is found among the events, and the checks run on input before any request."""

import pytest

from ansible_collections.msp.screenconnect.plugins.module_utils._sessions import (
    DEFAULT_PROPERTY_NAMES, QUEUED_COMMAND_EVENT, RAN_COMMAND_EVENT)
from ansible_collections.msp.screenconnect.plugins.modules import session, session_command


def params(**values):
    base = {'shell': 'cmd', 'command_timeout': None, 'max_output_length': None, 'command': 'hostname'}
    base.update(values)
    return base


@pytest.mark.parametrize('values,text', [
    ({}, 'hostname'),
    ({'shell': 'powershell'}, '#!ps\nhostname'),
    ({'shell': 'sh', 'command_timeout': 30}, '#timeout=30000\nhostname'),
    ({'shell': 'powershell', 'command_timeout': 5, 'max_output_length': 100000},
     '#!ps\n#timeout=5000\n#maxlength=100000\nhostname'),
])
def test_command_text_puts_the_agent_directives_first(values, text):
    assert session_command.command_text(params(**values)) == text


def event(kind, data):
    return {'event_type': kind, 'data': data}


def test_output_is_the_result_after_the_last_queueing_of_the_command():
    events = [event(QUEUED_COMMAND_EVENT, 'hostname'), event(RAN_COMMAND_EVENT, 'old-output'),
              event(QUEUED_COMMAND_EVENT, 'uptime'), event(QUEUED_COMMAND_EVENT, 'hostname\n'),
              event(RAN_COMMAND_EVENT, 'WS-1')]
    assert session_command.output_after_queueing(events, 'hostname') == 'WS-1'


@pytest.mark.parametrize('shell,os_family,cmd', [
    ('cmd', 'windows', True), (None, 'windows', True), ('cmd', 'unknown', True),
    ('powershell', 'windows', False), (None, 'linux', False), ('sh', 'macos', False), (None, 'unknown', False),
])
def test_cmd_is_what_runs_without_powershell_on_windows(shell, os_family, cmd):
    assert session_command.runs_in_cmd(shell, os_family) is cmd


def test_no_output_yet_or_never_queued():
    queued = [event(RAN_COMMAND_EVENT, 'older'), event(QUEUED_COMMAND_EVENT, 'hostname')]
    assert session_command.output_after_queueing(queued, 'hostname') is None
    assert session_command.output_after_queueing([event(RAN_COMMAND_EVENT, 'x')], 'hostname') is None


def session_params(**values):
    base = {'session_id': None, 'name': 'WS-1', 'property_names': dict(DEFAULT_PROPERTY_NAMES),
            'properties': None, 'custom_properties': None}
    base.update(values)
    return base


@pytest.mark.parametrize('values,problem', [
    ({'session_id': 'not-a-guid'}, 'session_id'),
    ({'property_names': {'company': 9}}, 'property_names'),
    ({'properties': {'colour': 'red'}}, 'colour'),
    ({'custom_properties': [str(n) for n in range(9)]}, 'custom_properties'),
])
def test_session_input_is_checked_before_any_request(values, problem):
    problems = session.check_input(session_params(**values))
    assert problems and problem in '; '.join(problems), problems


def test_good_session_input_has_no_problem():
    assert session.check_input(session_params(session_id='5523A541-96B3-4870-9A18-38B6734DBD78',
                                              properties={'company': 'Acme'})) == []


@pytest.mark.parametrize('values,problem', [
    ({'name': ''}, "name: '' is blank"),
    ({'name': '   '}, "name: '   ' is blank"),
    ({'name': None}, 'one of session_id, name is required'),
    ({'name': None, 'session_id': ''}, "session_id: '' is not a session id"),
])
def test_session_refuses_a_blank_or_missing_selector(values, problem):
    problems = session.check_input(session_params(**values))
    assert any(p.startswith(problem) for p in problems), problems


class Exited(Exception):
    pass


class FakeModule:
    check_mode = False

    def __init__(self, **params):
        self.params = dict({'shell': None, 'wait_timeout': 5, 'poll_interval': 0.01}, **params)

    def fail_json(self, **result):
        raise Exited(dict(result, failed=True))


class FakeClient:
    def __init__(self, fail_on=None, details=None):
        self.fail_on = fail_on  # (call number, exception)
        self.details = details or {}
        self.updates = []

    def update_session(self, session, name=None, custom_properties=None):
        self.updates.append((name, custom_properties))
        if self.fail_on and len(self.updates) == self.fail_on[0]:
            raise self.fail_on[1]

    def get_session_details(self, session_id, property_names=None):
        answer = self.details[session_id]
        if isinstance(answer, Exception):
            raise answer
        return answer


SESSION = {'session_id': '5523a541-96b3-4870-9a18-38b6734dbd78', 'name': 'WS-1', 'custom_properties': [''] * 8}


def test_session_reports_changed_when_a_later_write_fails_after_an_earlier_one_was_done():
    from ansible_collections.msp.screenconnect.plugins.module_utils._client import ScreenConnectError
    client = FakeClient(fail_on=(2, ScreenConnectError('UpdateSessionName failed: HTTP 403', status=403)))
    with pytest.raises(Exited) as exited:
        session.update(FakeModule(), client, SESSION, 'WS-2', ['A'] + [''] * 7)
    assert client.updates == [(None, ['A'] + [''] * 7), ('WS-2', None)]
    result = exited.value.args[0]
    assert result['changed'] is True and result['may_have_run'] is False and result['status'] == 403


def test_session_create_or_update_cut_short_may_have_run():
    client = FakeClient(fail_on=(1, OSError('connection reset')))
    with pytest.raises(Exited) as exited:
        session.update(FakeModule(), client, SESSION, 'WS-2', None)
    assert exited.value.args[0]['changed'] is True and exited.value.args[0]['may_have_run'] is True


def test_waiting_for_outputs_survives_a_bad_answer_for_one_session():
    ok_session = {'guest': {'os_family': 'linux'}}
    done = [event(QUEUED_COMMAND_EVENT, 'uptime'), event(RAN_COMMAND_EVENT, 'up 3 days')]
    client = FakeClient(details={'a': ValueError('year 10000 is out of range'), 'b': (ok_session, done)})
    results = [{'session_id': 'a', 'sent': True, 'online': True, 'changed': True},
               {'session_id': 'b', 'sent': True, 'online': True, 'changed': True}]
    session_command.wait_for_outputs(FakeModule(), client, results, 'uptime')
    assert results[0]['completed'] is False and 'unexpected ValueError' in results[0]['msg'] and results[0]['changed']
    assert results[1]['completed'] is True and results[1]['stdout'] == 'up 3 days'
