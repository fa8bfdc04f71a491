"""Trigger web requests and the fleet changes that fire them (screenconnect_sim/triggers.py)."""

import time

import requests

from screenconnect_sim.hostile import HostileServer

SECRET = 's3cret-rest'
BODY = '{"SessionID": "{Session.SessionID}", "Name": "{Session.Name}", "EventType": "{Event.EventType}", ' \
       '"ProcessType": "{Connection.ProcessType}", "Company": "{Session.CustomProperty1}", "Unknown": "{Session.Nope}"}'


def sent(sim, count, timeout=5):
    deadline = time.monotonic() + timeout
    while len(sim.triggers.sent) < count and time.monotonic() < deadline:
        time.sleep(0.02)
    return sorted(sim.triggers.sent, key=lambda record: record['event'])


def test_fleet_changes_send_the_filled_web_request_once(sim):
    sim.reset(fleet=True)
    with HostileServer() as receiver:
        receiver.program('*', [{'status': 500, 'body': 'down'}])  # no retry even when the receiver fails
        rules = [{'url': receiver.url + '/hook?token=t&sid={Session.SessionID}', 'body': BODY,
                  'events': ['Connected', 'Disconnected', 'ModifiedName', 'ModifiedCustomProperty', 'EndedSession',
                             'CreatedSession']}]
        assert requests.post(sim.url + '/_sim/triggers', json=rules, timeout=5).json() == {'ok': True, 'rules': 1}
        target = [s for s in sim.fleet.sessions if not s.online][0]
        other = [s for s in sim.fleet.sessions if s is not target][0]
        base = sim.url + '/_sim/fleet/'
        for path, payload in ((target.sid + '/connect', None), (target.sid + '/rename', {'name': 'Say "hi" \\ now'}),
                              (target.sid + '/properties', {'custom_properties': ['Acme "Corp"']}),
                              (other.sid + '/end', None), ('add', {'name': 'fresh'})):
            assert requests.post(base + path, json=payload, timeout=5).json().get('ok', True)
        requests.post(base + target.sid + '/host-connect', timeout=5)  # a technician: fires Connected (Host)
        records = sent(sim, 6)
        assert len(records) == 6 and all(record['status'] == 500 for record in records)
        assert len(receiver.requests) == 6
        events = [record['event'] for record in records]
        assert sorted(events) == sorted(['Connected', 'Connected', 'ModifiedName', 'ModifiedCustomProperty',
                                         'EndedSession', 'CreatedSession'])
        renamed = [record for record in records if record['event'] == 'ModifiedName'][0]
        # Plain text: the quote and the backslash go in as they are, so this JSON is broken.
        assert '"Name": "Say "hi" \\ now"' in renamed['body']
        assert '"Unknown": "{Session.Nope}"' in renamed['body']
        assert renamed['url'].endswith('sid=' + target.sid)
        connects = [record['body'] for record in records if record['event'] == 'Connected']
        assert sorted('"ProcessType": "Guest"' in body for body in connects) == [False, True]
        assert any('"ProcessType": "Host"' in body for body in connects)
        assert '"Company": "Acme "Corp""' in [r for r in records if r['event'] == 'ModifiedCustomProperty'][0]['body']
    assert sim.find(other.sid).is_ended and sim.find(target.sid).online
    assert requests.get(sim.url + '/_sim/triggers', timeout=5).json()['sent']
    sim.reset()
    assert sim.triggers.rules == []
