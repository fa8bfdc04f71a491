"""The modules' own logic, without a server: the command text they queue, how a command's output
is found among the events, and the checks run on input before any request."""

import base64

import pytest

from ansible_collections.msp.screenconnect.plugins.module_utils import _backstage
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


@pytest.mark.parametrize('shell,os_family,cmd', [
    ('cmd', 'windows', True), (None, 'windows', True), ('cmd', 'unknown', True),
    ('powershell', 'windows', False), (None, 'linux', False), ('sh', 'macos', False), (None, 'unknown', False),
])
def test_cmd_is_what_runs_without_powershell_on_windows(shell, os_family, cmd):
    assert session_command.runs_in_cmd(shell, os_family) is cmd


@pytest.mark.parametrize('shell,os_family,ran_in', [
    (None, 'windows', 'cmd'), (None, 'linux', 'sh'), (None, 'macos', 'sh'), (None, 'unknown', 'sh'),
    ('powershell', 'linux', 'powershell'), ('cmd', 'linux', 'cmd'), ('sh', 'windows', 'sh'),
])
def test_the_wrapper_is_the_shell_the_command_runs_in(shell, os_family, ran_in):
    assert session_command.shell_of(shell, {'guest': {'os_family': os_family}}) == ran_in


def test_one_wrapped_text_per_shell_with_the_directives_on_every_one():
    sessions = [{'guest': {'os_family': family}} for family in ('windows', 'linux', 'linux', 'macos')]
    markers = _backstage.new_markers()
    texts = session_command.framed_texts(params(shell=None, command_timeout=30), sessions, markers)
    assert sorted(texts) == ['cmd', 'sh']
    for text in texts.values():
        assert text.split('\n')[:2] == ['#timeout=30000', '#maxlength=%d' % _backstage.framed_length(5000)]
    ps = session_command.framed_texts(params(shell='powershell', max_output_length=100), sessions, markers)
    assert list(ps) == ['powershell']
    assert ps['powershell'].split('\n')[:3] == ['#!ps', '#timeout=10000', '#maxlength=%d' % _backstage.framed_length(100)]


def wrapped(stdout, stderr, rc, markers):
    def section(data):
        return [base64.b64encode(data).decode()] if data else []
    return '\n'.join([markers[0]] + section(stdout) + ['.'] + section(stderr) + ['%s %d' % (markers[1], rc)]) + '\n'


def test_output_keys_are_failed_when_friendly():
    markers = _backstage.new_markers()
    keys = session_command.output_keys('C:\\WINDOWS\\system32>@echo off\r\n' + wrapped(b'WS-1\n', b'oops\n', 3, markers),
                                       markers)
    assert keys['completed'] is True and keys['rc'] == 3 and keys['stdout'] == 'WS-1\n' and keys['stderr'] == 'oops\n'
    assert keys['stdout_lines'] == ['WS-1'] and keys['stderr_lines'] == ['oops'] and 'msg' not in keys
    killed = session_command.output_keys(markers[0] + '\nKilled after 2000 milliseconds\n', markers)
    assert killed['completed'] is False and killed['rc'] is None and killed['killed_after_ms'] == 2000
    assert 'killed the command after 2000 ms' in killed['msg'] and 'command_timeout' in killed['msg']
    cut = session_command.output_keys(wrapped(b'x' * 3000, b'', 0, markers)[:900] + 'Truncated output at 900 characters',
                                      markers)
    assert cut['completed'] is False and cut['rc'] is None and cut['truncated_at'] == 900
    assert 'max_output_length' in cut['msg'] and set(cut['stdout']) == {'x'}
    odd = session_command.output_keys('not wrapped at all', markers)
    assert odd['completed'] is False and odd['rc'] is None and 'not the whole wrapped result' in odd['msg']


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
    markers = _backstage.new_markers()
    texts = {'sh': _backstage.frame('uptime', 'sh', markers)}
    ok_session = {'guest': {'os_family': 'linux'}, 'online': True}
    done = [event(QUEUED_COMMAND_EVENT, texts['sh']), event(RAN_COMMAND_EVENT, wrapped(b'up 3 days\n', b'', 0, markers))]
    client = FakeClient(details={'a': ValueError('year 10000 is out of range'), 'b': (ok_session, done)})
    results = [{'session_id': 'a', 'sent': True, 'online': True, 'changed': True, 'shell': 'sh'},
               {'session_id': 'b', 'sent': True, 'online': True, 'changed': True, 'shell': 'sh'}]
    slept = []
    session_command.wait_for_outputs(FakeModule(), client, results, texts, markers, sleep=slept.append)
    assert results[0]['completed'] is False and 'unexpected ValueError' in results[0]['msg'] and results[0]['changed']
    assert results[1]['completed'] is True and results[1]['stdout'] == 'up 3 days\n' and results[1]['rc'] == 0
    assert slept == [0.01]  # poll_interval 0.01: the first poll at once


def test_waiting_backs_off_to_poll_interval_and_gives_up_at_wait_timeout():
    markers = _backstage.new_markers()
    texts = {'sh': _backstage.frame('sleep 100', 'sh', markers)}
    client = FakeClient(details={'a': ({'online': True}, [event(QUEUED_COMMAND_EVENT, texts['sh'])])})
    results = [{'session_id': 'a', 'sent': True, 'online': True, 'changed': True, 'shell': 'sh'}]
    now = [0.0]

    def sleep(seconds):
        now[0] += seconds
    module = FakeModule(wait_timeout=10, poll_interval=3)
    session_command.wait_for_outputs(module, client, results, texts, markers, clock=lambda: now[0], sleep=sleep)
    assert results[0]['completed'] is False and results[0]['msg'] == 'command queued; no output within 10s'
    assert now[0] == pytest.approx(10)
