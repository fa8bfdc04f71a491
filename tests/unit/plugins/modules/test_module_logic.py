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
