"""The msp.screenconnect.triggers event source (extensions/eda): its main(queue, args) driven with an
asyncio queue, with the simulator sending its trigger web requests, and hostile requests at it."""

import json
import logging
import os
import socket
import urllib.error
import urllib.request

import pytest

from eda_helpers import Running, by_type, check_shape, free_port, source
from helpers import SECRET

SIMULATOR = {'sessions': 30, 'seed': 27, 'api_secret': SECRET}
triggers = source('triggers')
TOKEN = 'tok-3f9c2a7d5b1e4c8aa6d0'
# What docs/event-driven.md tells a technician to paste into the trigger's web request.
BODY = '{"SessionID": "{Session.SessionID}", "EventType": "{Event.EventType}", "ProcessType": "{Connection.ProcessType}"}'
# A careless template: the Name, unescaped, breaks the JSON when it holds a quote.
NAME_BODY = ('{"SessionID": "{Session.SessionID}", "Name": "{Session.Name}", "EventType": "{Event.EventType}", '
             '"ProcessType": "{Connection.ProcessType}"}')
ALL_EVENTS = ['Connected', 'Disconnected', 'CreatedSession', 'EndedSession', 'ModifiedName', 'ModifiedCustomProperty',
              'AddedNote']


@pytest.fixture(autouse=True)
def fresh(sim, tmp_path, monkeypatch):
    sim.reset(fleet=True)
    monkeypatch.setenv('XDG_CACHE_HOME', str(tmp_path / 'cache'))
    for name in list(os.environ):
        if name.startswith('SCREENCONNECT_'):
            monkeypatch.delenv(name)


@pytest.fixture
def receiver(sim, caplog):
    """The receiver on a free port, every logger at DEBUG (aiohttp's access log included)."""
    caplog.set_level(logging.DEBUG)
    port = free_port()
    args = {'host': '127.0.0.1', 'port': port, 'token': TOKEN, 'server_url': sim.url, 'api_secret': SECRET,
            'rate_limit': 60000, 'rate_burst': 1000}
    running = Running(triggers, args).start(settle=0.3)
    running.url = 'http://127.0.0.1:%d/screenconnect' % port
    yield running
    running.stop()
    assert TOKEN not in caplog.text  # no log line at any level holds the token
    assert SECRET not in caplog.text


def post(running, body=b'', token=TOKEN, query='', method='POST', headers=None):
    """(status, answer) of one request, sent from the executor while the receiver's loop runs."""
    url = running.url + '?' + '&'.join(part for part in (('token=' + token) if token is not None else '', query) if part)
    data = body if isinstance(body, bytes) else body.encode('utf-8')
    request = urllib.request.Request(url, data=data if method != 'GET' else None, method=method,
                                     headers=dict({'Content-Type': 'application/json'}, **(headers or {})))

    def send():
        try:
            with urllib.request.urlopen(request, timeout=10) as answer:
                return answer.status, answer.read()
        except urllib.error.HTTPError as error:
            return error.code, error.read()
    return running.run(running.loop.run_in_executor(None, send))


def hint(session_id, event_type, process_type='Guest'):
    return json.dumps({'SessionID': session_id, 'EventType': event_type, 'ProcessType': process_type})


def live(sim):
    return [s for s in sim.fleet.sessions if not s.is_ended and s.stype == 'Access']


def test_every_trigger_type_from_the_simulator(sim, receiver):
    sim.triggers.configure([{'url': receiver.url + '?token=' + TOKEN, 'events': ALL_EVENTS, 'body': BODY}])
    online = next(s for s in live(sim) if s.online)
    offline = next(s for s in live(sim) if not s.online)
    renamed, moved, ended = [s for s in live(sim) if s not in (online, offline)][:3]
    sim.set_online(online, False)
    sim.set_online(offline, True)
    sim.triggers.rename(renamed, 'Bob\'s "quoted" PC')
    sim.triggers.set_properties(moved, ['Globex', '', 'kiosk'])
    sim.triggers.end(ended)
    added = sim.add_session(name='new-laptop-9', custom_properties=['Initech'])
    sim.triggers.host_connect(moved)  # a technician connects: dropped
    sim.add_event(moved, 32, 'a note')  # AddedNote: dropped
    events = receiver.wait_for(6)
    receiver.pump(0.3)
    events += receiver.events()
    found = by_type(events)
    assert {kind: [event['screenconnect']['session_id'] for event in items] for kind, items in found.items()} == {
        'guest_disconnected': [online.sid], 'guest_connected': [offline.sid], 'renamed': [renamed.sid],
        'properties_changed': [moved.sid], 'session_removed': [ended.sid], 'session_added': [added]}
    for event in events:
        check_shape(event, 'trigger', secrets=[SECRET, TOKEN])
        assert 'changes' not in event['screenconnect']  # a trigger does not tell the old value
    assert found['renamed'][0]['screenconnect']['host'] == 'Bob\'s "quoted" PC'
    assert found['properties_changed'][0]['screenconnect']['session']['screenconnect_company'] == 'Globex'
    assert found['guest_connected'][0]['screenconnect']['session']['screenconnect_online'] is True
    assert found['session_removed'][0]['screenconnect']['session']['screenconnect_is_ended'] is True
    sent = sim.triggers.sent
    assert len(sent) == 8 and all(record['status'] == 202 for record in sent), sent
    # One read per trigger that makes an event, none for those dropped.
    reads = [entry for entry in sim.requests if entry['method'] == 'GetSessionBySessionID']
    assert len(reads) == 6


def test_unescaped_quote_in_a_name_still_names_the_session(sim, receiver):
    target = live(sim)[0]
    sim.triggers.configure([{'url': receiver.url + '?token=' + TOKEN, 'events': ['ModifiedName'], 'body': NAME_BODY}])
    sim.triggers.rename(target, 'Say "hi", \\ {{ evil }}')
    events = receiver.wait_for(1)
    body = sim.triggers.sent[0]['body']
    with pytest.raises(ValueError):
        json.loads(body)  # the simulator filled the placeholder as the real server does
    assert [(event['screenconnect']['type'], event['screenconnect']['session_id']) for event in events] == [
        ('renamed', target.sid)]


def test_hostile_requests_then_a_good_one(sim, receiver):
    target = live(sim)[1]
    good = hint(target.sid, 'Connected')
    cases = [
        (b'', None, 401), (good, None, 401), (good, 'wrong-token-wrong-token', 401), (good, TOKEN[:-1], 401),
        (good, TOKEN + 'x', 401), (good, '', 401),
        ('[1, 2]', TOKEN, 400), ('"text"', TOKEN, 400), ('null', TOKEN, 400), ('{"broken', TOKEN, 400),
        ('{}', TOKEN, 400), (hint('not-a-guid', 'Connected'), TOKEN, 400), (json.dumps({'SessionID': target.sid}), TOKEN, 400),
        (b'\xff\xfe\x00garbage', TOKEN, 400), (json.dumps({'SessionID': [target.sid], 'EventType': {}}), TOKEN, 400),
        ('x' * (1024 * 1024 + 10), TOKEN, 413), ('{"a": "%s"}' % ('y' * 2000000), None, 401),
    ]
    for body, token, status in cases * 3:
        got, answer = post(receiver, body, token=token)
        assert got == status, (body[:60], token, got, answer)
        assert TOKEN.encode() not in answer
    # a session the server does not know: 2xx, logged, no event
    unknown = '0e0e0e0e-1111-2222-3333-444444444444'
    assert post(receiver, hint(unknown, 'Connected'))[0] == 202
    # a host connection and an unknown type: 2xx, dropped without a read
    assert post(receiver, hint(target.sid, 'Connected', 'Host'))[0] == 202
    assert post(receiver, hint(target.sid, 'QueuedCommand'))[0] == 202
    # a raw socket with a broken request line holding the token

    def broken_request_line():
        with socket.create_connection(('127.0.0.1', int(receiver.url.split(':')[2].split('/')[0])), timeout=5) as raw:
            raw.sendall(b'GARBAGE /?token=' + TOKEN.encode() + b' HTTP/9.9\r\n\r\n')
            return raw.recv(1000)
    # aiohttp answers 400 quoting the line to its sender, who had it; its log line is masked (the fixture checks).
    assert receiver.run(receiver.loop.run_in_executor(None, broken_request_line)).startswith(b'HTTP/1.0 400')
    receiver.pump(0.3)
    assert receiver.events() == []
    # ... and the receiver still works
    assert post(receiver, good)[0] == 202
    events = receiver.wait_for(1)
    assert [(event['screenconnect']['type'], event['screenconnect']['session_id']) for event in events] == [
        ('guest_connected', target.sid)]
    reads = [entry['args'] for entry in sim.requests if entry['method'] == 'GetSessionBySessionID']
    assert [target.sid] in reads and all(args[0] in (target.sid, unknown) for args in reads)


def test_hints_in_the_query_and_other_events(sim, caplog):
    caplog.set_level(logging.DEBUG)
    port = free_port()
    args = {'host': '127.0.0.1', 'port': port, 'token': TOKEN, 'server_url': sim.url, 'api_secret': SECRET,
            'rate_limit': 60000, 'other_events': True, 'event_types': ['guest_connected']}
    running = Running(triggers, args).start(settle=0.3)
    running.url = 'http://127.0.0.1:%d/' % port
    target = live(sim)[2]
    try:
        assert post(running, '', query='SessionID=%s&EventType=Connected&ProcessType=Guest' % target.sid)[0] == 202
        assert post(running, hint(target.sid, 'Disconnected'))[0] == 202  # not in event_types: dropped
        assert post(running, hint(target.sid, 'Connected', 'Host'))[0] == 202  # other_events keeps it
        events = running.wait_for(2)
        running.pump(0.2)
        events += running.events()
    finally:
        running.stop()
    assert sorted(event['screenconnect']['type'] for event in events) == ['guest_connected', 'other']
    other = by_type(events)['other'][0]['screenconnect']
    assert other['trigger'] == {'event_type': 'Connected', 'process_type': 'Host'}
    assert TOKEN not in caplog.text


def test_bad_options_fail_before_serving(sim):
    base = {'server_url': sim.url, 'api_secret': SECRET, 'port': free_port()}
    for bad, word in (({}, 'token is required'), ({'token': 'short'}, 'token'), ({'token': TOKEN + ' space'}, 'token'),
                      ({'token': TOKEN, 'certfile': '/nonexistent.pem'}, 'certfile'),
                      ({'token': TOKEN, 'port': 70000}, 'port'), ({'token': TOKEN, 'event_types': ['nope']}, 'event_types')):
        running = Running(triggers, dict(base, **bad))
        with pytest.raises(ValueError, match=word):
            running.start(settle=0.1)
        running.stop()
    assert not [entry for entry in sim.requests if entry['api'] == 'rest']
