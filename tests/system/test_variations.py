"""The modules and the inventory against each variation of real servers the simulator can show
(docs/screenconnect-api.md, section 7; screenconnect_sim.faults.VARIATIONS), through real ansible-playbook and
ansible-inventory runs. Each test switches one variation on and says what a user sees."""

import json
import os
import re

import pytest

from helpers import BIN, GOLDEN_DIR, SECRET, run
from inventory_export import unwrap

ENV_ONLY_CONFIG = os.path.join(GOLDEN_DIR, 'screenconnect.yml')
FILTER_FIX = ("GetSessionsByFilter failed: HTTP 500 Internal Server Error: Web method does not exist (this server's "
              'RESTful API Manager has no method GetSessionsByFilter, which listing sessions by machine_name, '
              'serial_number, filter or the inventory needs: update the RESTful API Manager extension, or set '
              'api: session_manager (lookups by session_id or name work without it))')
REMEMBERED = ("GetSessionsByFilter not sent: this server's RESTful API Manager has no method GetSessionsByFilter "
              '(it answered HTTP 500 Web method does not exist in the last 15 minutes), which listing sessions')


@pytest.fixture(scope='module')
def machines(sim):
    """Sessions of this module's own: an online Windows and Linux guest and an offline one."""
    return {
        'windows': sim.find(sim.add_session(name='VAR-WIN-1', os='windows', custom_properties=['Acme'])),
        'linux': sim.find(sim.add_session(name='VAR-LNX-1', os='linux')),
        'offline': sim.find(sim.add_session(name='VAR-OFF-1', os='windows', online=False)),
    }


@pytest.fixture(autouse=True)
def fresh(sim):
    sim.reset()
    sim.configure(spelling='nested', allowed_origin=None, variations=())


def api_calls(sim):
    return [entry['method'] for entry in sim.requests if entry['api'] in ('rest', 'rpc')]


def inventory(env, *args, check=True):
    env = dict(env, ANSIBLE_INVENTORY_UNPARSED_FAILED='true')
    return run([os.path.join(BIN, 'ansible-inventory'), '-i', ENV_ONLY_CONFIG, '--list'] + list(args),
               env=env, check=check)


def squash(text):
    return re.sub(r'\s+', ' ', text)


# ---- old_extension: no GetSessionsByFilter -------------------------------------------------------------

def test_old_extension_name_lookups_fall_back_and_the_miss_is_asked_once(play, sim, machines):
    sim.configure(variations=['old_extension'])
    win = machines['windows']
    first = play('msp.screenconnect.session_info: {name: VAR-WIN-1}')
    assert not first.get('failed'), first
    assert [s['session_id'] for s in first['sessions']] == [win.sid]
    assert api_calls(sim) == ['GetSessionsByFilter', 'GetSessionsByName']
    # a later task of the same run (same controller state) does not ask for the missing method again
    again = play('msp.screenconnect.session_info: {name: VAR-WIN-1, machine_name: var-win-1}')
    assert [s['session_id'] for s in again['sessions']] == [win.sid]
    assert api_calls(sim) == ['GetSessionsByFilter', 'GetSessionsByName', 'GetSessionsByName']
    by_id = play('msp.screenconnect.session_info: {session_id: %s}' % win.sid)
    assert [s['name'] for s in by_id['sessions']] == ['VAR-WIN-1']


def test_old_extension_what_needs_a_filter_fails_in_one_line(play, sim, machines):
    sim.configure(variations=['old_extension'])
    failed = play('msp.screenconnect.session_info: {machine_name: VAR-LNX-1}')
    assert failed['failed'] and failed['msg'] == FILTER_FIX, failed['msg']
    assert failed['status'] == 500 and failed['method'] == 'GetSessionsByFilter'
    for task in ('msp.screenconnect.session_info: {serial_number: SN000001}',
                 'msp.screenconnect.session_info: {filter: "CustomProperty1 = \'Acme\'"}',
                 'msp.screenconnect.session_info: {name: VAR-WIN-1, filter: "CustomProperty1 = \'Acme\'"}'):
        result = play(task)
        assert result['failed'] and result['msg'].startswith(REMEMBERED), result['msg']
    assert api_calls(sim) == ['GetSessionsByFilter']  # asked once for the whole run


def test_old_extension_session_module_still_finds_by_name(play, sim, machines):
    sim.configure(variations=['old_extension'])
    result = play('msp.screenconnect.session: {name: VAR-LNX-1, session_type: access, properties: {site: Lab}}')
    assert not result.get('failed'), result
    assert result['changed'] and not result['created'] and result['session']['properties']['site'] == 'Lab'
    assert machines['linux'].cps[1] == 'Lab'
    assert api_calls(sim) == ['GetSessionsByFilter', 'GetSessionsByName', 'UpdateSessionCustomProperties']


def test_old_extension_inventory_fails_in_one_line(ansible_env, sim):
    sim.configure(variations=['old_extension'])
    result = inventory(ansible_env, check=False)
    assert result.returncode != 0 and 'Traceback' not in result.stderr
    assert squash('msp.screenconnect.screenconnect: ' + FILTER_FIX) in squash(result.stderr), result.stderr
    assert SECRET not in result.stderr and api_calls(sim) == ['GetSessionsByFilter']


# ---- every other variation: the inventory is the same ---------------------------------------------------

@pytest.mark.parametrize('variation', ['cmd_echo', 'connection_events', 'numeric_session_type', 'exact_origin',
                                       'event_age_ms'])
def test_inventory_is_unchanged_by_the_other_variations(ansible_env, sim, machines, variation):
    baseline = unwrap(json.loads(inventory(ansible_env).stdout))
    sim.configure(variations=[variation])
    assert unwrap(json.loads(inventory(ansible_env).stdout)) == baseline
    assert api_calls(sim) == ['GetSessionsByFilter'] * 2


# ---- cmd_echo: cmd's output starts with its prompt and command ---------------------------------------

def test_cmd_echo_is_dropped_from_stdout_and_kept_in_raw_stdout(play, sim, machines):
    sim.configure(variations=['cmd_echo'])
    ids = [machines['windows'].sid, machines['linux'].sid]
    result = play('msp.screenconnect.session_command: {session_id: %s, command: hostname, wait: true,'
                  ' poll_interval: 0.2}' % json.dumps(ids))
    assert not result.get('failed'), result
    windows, linux = result['results']
    assert windows['shell'] == 'cmd' and windows['rc'] == 0
    assert windows['stdout'] == 'VAR-WIN-1\n' and windows['stdout_lines'] == ['VAR-WIN-1']
    # the echo of the wrapper's first line comes first in the raw output, never in stdout
    assert windows['raw_stdout'].startswith('C:\\WINDOWS\\system32>@echo off\r\n__scb_')
    assert linux['shell'] == 'sh' and linux['stdout'] == 'VAR-LNX-1\n' and linux['raw_stdout'].startswith('__scb_')
    ps = play('msp.screenconnect.session_command: {session_id: %s, command: hostname, shell: powershell, wait: true,'
              ' poll_interval: 0.2}' % ids[0])
    assert ps['results'][0]['stdout'] == 'VAR-WIN-1\n' and ps['results'][0]['raw_stdout'].startswith('__scb_')


# ---- connection_events: RanCommand under the guest connection ----------------------------------------

def test_connection_events_outputs_are_found(play, sim, machines):
    sim.configure(variations=['connection_events'])
    win = machines['windows']
    result = play('msp.screenconnect.session_command: {session_id: %s, command: "echo under the connection",'
                  ' wait: true, poll_interval: 0.2}' % win.sid)
    assert not result.get('failed'), result
    assert result['results'][0]['completed'] and result['results'][0]['stdout'] == 'under the connection\n'
    info = play('msp.screenconnect.session_info: {session_id: %s, details: true}' % win.sid)
    assert info['sessions'][0]['command_outputs'][-1] == result['results'][0]['raw_stdout']
    kinds = [event['event_type'] for event in info['sessions'][0]['events']]
    assert kinds[-2:] == [44, 70]  # the queued command, then its result from the connection


def test_output_is_matched_by_order_when_the_same_command_ran_before(play, sim, machines):
    sim.configure(variations=['connection_events', 'cmd_echo'])
    off = machines['offline']
    # queued twice while offline: both run when the guest connects, in order
    first = play('msp.screenconnect.session_command: {session_id: %s, command: "echo one"}' % off.sid)
    assert first['results'][0]['online'] is False
    sim.set_online(off, True)
    try:
        second = play('msp.screenconnect.session_command: {session_id: %s, command: "echo two", wait: true,'
                      ' poll_interval: 0.2}' % off.sid)
        assert second['results'][0]['stdout'] == 'two\n', second
        assert second['results'][0]['raw_stdout'].startswith('C:\\WINDOWS\\system32>@echo off\r\n__scb_')
    finally:
        sim.set_online(off, False)


# ---- numeric_session_type: CreateSession takes a number ----------------------------------------------

def test_numeric_session_type_create_works(play, sim):
    sim.configure(variations=['numeric_session_type'])
    created = play('msp.screenconnect.session: {name: "Ticket VAR-1", session_type: support}')
    assert not created.get('failed'), created
    assert created['created'] and created['session']['session_type'] == 'support'
    sent = [entry['args'] for entry in sim.requests if entry['method'] == 'CreateSession']
    assert sent == [[0, 'Ticket VAR-1', False, '', [''] * 8]]


# ---- exact_origin: RESTfulAllowedOrigin is the server's scheme://host:port -------------------------------

@pytest.mark.parametrize('suffix', ['/', '/control/', '/control'])
def test_exact_origin_is_derived_from_any_server_url(play, sim, machines, suffix):
    sim.configure(variations=['exact_origin'])
    result = play('msp.screenconnect.session_info: {name: VAR-WIN-1}', SCREENCONNECT_SERVER_URL=sim.url + suffix)
    assert not result.get('failed'), result
    assert [entry['headers']['Origin'] for entry in sim.requests] == [sim.url]


def test_a_403_says_which_origin_was_sent_and_how_to_set_it(play, sim, machines):
    sim.configure(allowed_origin='127.0.0.1')  # an administrator typed a bare host name
    refused = play('msp.screenconnect.session_info: {name: VAR-WIN-1}')
    assert refused['failed'] and refused['status'] == 403
    assert ("the Origin sent, %s, is not the extension's RESTfulAllowedOrigin: set origin (SCREENCONNECT_ORIGIN) "
            'to that value exactly' % sim.url) in refused['msg']
    fixed = play('msp.screenconnect.session_info: {name: VAR-WIN-1, origin: 127.0.0.1}')
    assert not fixed.get('failed') and fixed['sessions'], fixed


# ---- event_age_ms: event times as milliseconds before the answer ---------------------------------------

def test_event_times_in_milliseconds_are_recent_dates_not_1970(play, sim, machines):
    sim.configure(variations=['event_age_ms'])
    win = machines['windows']
    result = play('msp.screenconnect.session_command: {session_id: %s, command: "echo aged", wait: true,'
                  ' poll_interval: 0.2}' % win.sid)
    assert result['results'][0]['stdout'] == 'aged\n', result
    info = play('msp.screenconnect.session_info: {session_id: %s, details: true}' % win.sid)
    times = [event['time'] for event in info['sessions'][0]['events']]
    assert all(time and not time.startswith('1970') for time in times), times
    assert times == sorted(times)
