"""Writes reach exactly the sessions meant, once (issue 25 section 1), through real ansible-playbook runs:
an empty selection sends nothing, a blank selector is refused before any request, a session listed
twice gets one write, and a write whose answer is cut short is reported as may_have_run while the
other sessions are still sent, each exactly once.

The simulator counts what reaches a well-behaved server; the HostileServer serves listings and cut
answers no real server should, and records every request."""

import base64
import json
import os
import re
import subprocess
import sys
import threading
import time

import pytest
import requests

from screenconnect_sim.hostile import HostileServer

BIN = os.path.dirname(sys.executable)
REST = '/App_Extensions/2d558935-686a-4bd0-9991-07539f5fe749/Service.ashx/'
WRITES = ('SendCommandToSession', 'SendMessageToSession', 'AddNoteToSession', 'UpdateSessionCustomProperties',
          'UpdateSessionName', 'CreateSession')


@pytest.fixture(autouse=True)
def fresh(sim):
    sim.reset()
    sim.set_faults([])
    requests.post(sim.url + '/_sim/config', json={'spelling': 'nested', 'rate_limit': 0}, timeout=5)


@pytest.fixture
def hostile():
    with HostileServer() as server:
        yield server


def run_play(ansible_env, tmp_path, tasks, *options, **env):
    """Runs `tasks` (YAML, each registering a name) in one play; returns {name: registered result}."""
    out = tmp_path / 'registered.json'
    book = tmp_path / 'play.yml'
    book.write_text('''- hosts: localhost
  gather_facts: false
  tasks:
%s
    - name: save what the tasks registered
      ansible.builtin.copy:
        content: "{{ {%s} | to_json }}"
        dest: %s
      check_mode: false
''' % (tasks, ', '.join("'%s': %s" % (name, name) for name in registered_names(tasks)), out))
    command = [os.path.join(BIN, 'ansible-playbook'), '-i', 'localhost,', '-c', 'local',
               '-e', 'ansible_python_interpreter=%s' % sys.executable, str(book)] + list(options)
    completed = subprocess.run(command, env=dict(ansible_env, **env), capture_output=True, text=True, timeout=300,
                               check=False)
    if not out.exists():
        raise AssertionError('playbook did not run to the end:\n%s\n%s' % (completed.stdout, completed.stderr))
    results = json.loads(out.read_text())
    results['_stdout'] = completed.stdout
    return results


def registered_names(tasks):
    return [line.split(':', 1)[1].strip() for line in tasks.splitlines() if line.strip().startswith('register:')]


def task(name, module, args, extra=''):
    return '''    - name: %s
      %s: %s
      register: %s
      ignore_errors: true%s''' % (name, module, args, name, extra)


def writes_on(sim):
    return [entry for entry in sim.requests if entry.get('method') in WRITES]


def raw_session(number, machine='PC-1', session_id=None):
    """A session as a REST server answers it (the nested spelling)."""
    return {'SessionID': session_id or '00000000-0000-4000-8000-%012d' % number, 'Name': 'WS-%d' % number,
            'SessionType': 2, 'Host': '', 'IsPublic': False, 'Code': '', 'IsEnded': False,
            'CustomPropertyValues': ['Acme', '', '', '', '', '', '', ''],
            'GuestInfo': {'MachineName': machine}, 'ActiveConnections': [{'ProcessType': 2}]}


def hostile_env(hostile, ansible_env):
    return {'SCREENCONNECT_SERVER_URL': hostile.url, 'SCREENCONNECT_API_SECRET': ansible_env['SCREENCONNECT_API_SECRET']}


# ---- an empty selection selects nothing ------------------------------------------------------------------

def test_readme_pattern_with_a_filter_that_matches_nothing_sends_nothing(sim, ansible_env, tmp_path):
    """session_info with a filter that matches nothing, then the writers with its ids: no write at all."""
    ids = '"{{ found.sessions | map(attribute=\'session_id\') | list }}"'
    tasks = '\n'.join([
        task('found', 'msp.screenconnect.session_info', '''{filter: "CustomProperty1 = 'No Such Customer'"}'''),
        task('command', 'msp.screenconnect.session_command', '{session_id: %s, command: uptime}' % ids),
        task('note', 'msp.screenconnect.session_note', '{session_id: %s, note: patched}' % ids),
        task('message', 'msp.screenconnect.session_message', '{session_id: %s, msg: hello}' % ids),
        task('props', 'msp.screenconnect.session_properties', '{session_id: %s, properties: {tag: x}}' % ids),
        task('listed', 'msp.screenconnect.session_info', '{session_id: %s}' % ids),
    ])
    result = run_play(ansible_env, tmp_path, tasks)
    assert result['found']['sessions'] == []
    for name in ('command', 'note', 'message', 'props'):
        assert not result[name].get('failed') and result[name]['changed'] is False, result[name]
        assert result[name]['results'] == []
        assert any('session_id is an empty list' in warning for warning in result[name]['warnings'])
    assert result['listed']['sessions'] == []
    assert sim.stats()['writes'] == {} and writes_on(sim) == []
    assert [entry['method'] for entry in sim.requests] == ['GetSessionsByFilter']  # only the first lookup


def test_session_properties_check_mode_with_an_empty_list_reports_no_change(sim, ansible_env, tmp_path):
    result = run_play(ansible_env, tmp_path, task(
        'props', 'msp.screenconnect.session_properties', '{session_id: [], properties: {company: Other}}'), '--check')
    assert result['props']['changed'] is False and result['props']['results'] == []
    assert sim.requests == []


# ---- a blank or null selector is refused before any request ---------------------------------------------

@pytest.mark.parametrize('module,args,option', [
    ('session_command', "{name: '', command: uptime}", 'name'),
    ('session_command', "{name: '  ', command: uptime}", 'name'),
    ('session_note', "{machine_name: '', note: x}", 'machine_name'),
    ('session_properties', "{serial_number: ' ', properties: {tag: x}}", 'serial_number'),
    ('session_info', "{name: ''}", 'name'),
    ('session', "{name: '', properties: {tag: x}}", 'name'),
    # required_one_of counts an option given as null: that must not become "every session"
    ('session_message', '{machine_name: null, msg: hi}', 'one of session_id, name, machine_name, serial_number'),
])
def test_a_blank_or_null_selector_is_refused_before_any_request(sim, ansible_env, tmp_path, module, args, option):
    result = run_play(ansible_env, tmp_path, task('under_test', 'msp.screenconnect.' + module, args))['under_test']
    assert result['failed'] and result['msg'].startswith(option), result['msg']
    assert sim.requests == []


@pytest.mark.parametrize('module,args', [('session_message', 'msg: hi'), ('session_note', 'note: x')])
def test_message_and_note_need_the_rest_api_before_any_request(sim, ansible_env, tmp_path, module, args):
    result = run_play(ansible_env, tmp_path, task('under_test', 'msp.screenconnect.' + module, '{name: WS-1, %s}' % args),
                      SCREENCONNECT_API='session_manager', SCREENCONNECT_API_KEY='k3y-rpc')['under_test']
    assert result['failed'] and result['msg'].startswith('%s needs api: rest' % module), result['msg']
    assert sim.requests == []


# ---- a session listed twice gets one write ------------------------------------------------------------------

@pytest.mark.parametrize('module,args,method', [
    ('session_command', 'command: uptime', 'SendCommandToSession'),
    ('session_note', 'note: patched', 'AddNoteToSession'),
    ('session_message', 'msg: hello', 'SendMessageToSession'),
    ('session_properties', 'properties: {company: Other}', 'UpdateSessionCustomProperties'),
])
def test_a_session_listed_twice_gets_one_write(hostile, ansible_env, tmp_path, module, args, method):
    one = raw_session(1)
    listing = [one, raw_session(2), dict(one, SessionID=one['SessionID'].upper())]
    hostile.program('GetSessionsByFilter', {'body': listing})
    hostile.program(method, {'body': ''})
    result = run_play(ansible_env, tmp_path, task('under_test', 'msp.screenconnect.' + module,
                                                  '{machine_name: PC-1, %s}' % args),
                      **hostile_env(hostile, ansible_env))['under_test']
    assert not result.get('failed') and result['changed'], result
    assert [entry['session_id'] for entry in result['results']] == [one['SessionID'], raw_session(2)['SessionID']]
    sent = [json.loads(entry['body'])[0].lower() for entry in hostile.requests_for(method)]
    assert sorted(sent) == sorted([one['SessionID'], raw_session(2)['SessionID']])  # once each
    assert any('listed session %s more than once' % one['SessionID'] in w for w in result['warnings'])


# ---- a write cut short -----------------------------------------------------------------------------------------

CUT_SHORT = {'body': '{"Result": "queued"}', 'truncate': 3}  # Content-Length says 20, 3 bytes come, then close


@pytest.mark.parametrize('module,args,method', [
    ('session_command', 'command: uptime', 'SendCommandToSession'),
    ('session_note', 'note: patched', 'AddNoteToSession'),
    ('session_properties', 'properties: {company: Other}', 'UpdateSessionCustomProperties'),
])
def test_a_write_cut_short_may_have_run_and_the_others_are_still_sent_once(
        hostile, ansible_env, tmp_path, module, args, method):
    sessions = [raw_session(number) for number in (1, 2, 3)]
    hostile.program('GetSessionsByFilter', {'body': sessions})
    hostile.program(method, [{'body': ''}, CUT_SHORT, {'body': ''}])
    result = run_play(ansible_env, tmp_path, task('under_test', 'msp.screenconnect.' + module,
                                                  '{machine_name: PC-1, %s}' % args),
                      **hostile_env(hostile, ansible_env))['under_test']
    assert result['failed'] and result['changed'] is True, result  # an until: retry sees that something happened
    assert result['msg'].startswith('1 of 3 sessions failed')
    first, cut, third = result['results']
    assert cut['failed'] and cut['may_have_run'] is True and cut['changed'] is True
    assert not first.get('failed') and not third.get('failed') and first['changed'] and third['changed']
    sent = [json.loads(entry['body'])[0] for entry in hostile.requests_for(method)]
    assert sent == [session['SessionID'] for session in sessions]  # each exactly once, none resent


def test_a_create_or_api_call_cut_short_reports_changed(hostile, ansible_env, tmp_path):
    hostile.program('GetSessionsByFilter', {'body': []})
    hostile.program('CreateSession', CUT_SHORT)
    hostile.program('AddNoteToSession', CUT_SHORT)
    tasks = '\n'.join([
        task('created', 'msp.screenconnect.session', '{name: Ticket 1, session_type: support}'),
        task('called', 'msp.screenconnect.api_call',
             '{method: AddNoteToSession, arguments: [00000000-0000-4000-8000-000000000001, hi]}'),
    ])
    result = run_play(ansible_env, tmp_path, tasks, **hostile_env(hostile, ansible_env))
    for name in ('created', 'called'):
        assert result[name]['failed'] and result[name]['changed'] is True and result[name]['may_have_run'] is True
    assert len(hostile.requests_for('CreateSession')) == 1 and len(hostile.requests_for('AddNoteToSession')) == 1


def answer_the_wrapped_command(hostile, sessions, output):
    """In the background: once both sessions were sent the command, their details show it queued and
    `output` as its wrapped result (the markers are the ones the sent text builds), the first with an
    event time out of range."""
    def answer():
        deadline = time.monotonic() + 30
        while len(hostile.requests_for('SendCommandToSession')) < 2 and time.monotonic() < deadline:
            time.sleep(0.02)
        text = json.loads(hostile.requests_for('SendCommandToSession')[0]['body'])[1]
        halves = re.findall(r"^printf '%s%s[^']*' '([^']*)' '([^']*)'", text, re.M)
        begin, end = ''.join(halves[0]), ''.join(halves[1])
        data = '%s\n%s\n.\n%s 0\n' % (begin, base64.b64encode(output).decode(), end)
        queued = {'EventType': 44, 'Data': text, 'Time': '2026-12-06T03:00:00Z', 'EventID': 'a1'}
        ran = {'EventType': 70, 'Data': data, 'Time': '2026-12-06T03:00:01Z', 'EventID': 'a2'}
        out_of_range = dict(ran, Time='9999-12-31T23:59:59-05:00')
        hostile.program('GetSessionDetailsBySessionID', [
            {'body': {'Session': sessions[0], 'Events': [queued, out_of_range]}},
            {'body': {'Session': sessions[1], 'Events': [queued, ran]}}])
    thread = threading.Thread(target=answer, daemon=True)
    thread.start()
    return thread


def test_an_unreadable_output_of_one_session_does_not_hide_the_commands_already_queued(hostile, ansible_env, tmp_path):
    """wait: true and one session's details hold an event time out of range: the bad time is read as
    unknown, so both sessions get their output, the task is changed, nothing is sent twice. (A session
    whose details cannot be read at all says so in its own result: test_selectors' unit tests.)"""
    sessions = [raw_session(1), raw_session(2)]
    hostile.program('GetSessionsByFilter', {'body': sessions})
    hostile.program('SendCommandToSession', {'body': ''})
    hostile.program('GetSessionDetailsBySessionID', {'body': {'Session': sessions[0], 'Events': []}})
    answering = answer_the_wrapped_command(hostile, sessions, b'up 3 days\n')
    result = run_play(ansible_env, tmp_path, task('under_test', 'msp.screenconnect.session_command',
                                                  '{machine_name: PC-1, command: uptime, wait: true, poll_interval: 0.1,'
                                                  ' wait_timeout: 5}'),
                      **hostile_env(hostile, ansible_env))['under_test']
    answering.join(5)
    assert result['changed'] is True, result
    first, second = result['results']
    assert first['sent'] and first['completed'] is True and first['stdout'] == 'up 3 days\n', first
    assert second['completed'] is True and second['stdout'] == 'up 3 days\n' and second['rc'] == 0
    assert len(hostile.requests_for('SendCommandToSession')) == 2
