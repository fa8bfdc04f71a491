"""Session triggers: the web request action of Administration > Triggers, and test-only fleet changes.

A trigger rule (POST /_sim/triggers, a list of rules) names the event types it fires on and a web
request: url, method, content_type, body. Placeholders {Session.*}, {Connection.*} and {Event.*}
in the url and the body are filled as plain text, with no JSON or URL escaping, as the real server
does (docs/screenconnect-api.md): a Name holding `"` makes a JSON body invalid. Each request is sent
once, from a thread of its own, with no retry; GET /_sim/triggers lists what was sent and what came back.

    POST /_sim/triggers  [{"url": "http://127.0.0.1:5000/?token=T", "events": ["Connected", "Disconnected"],
                           "body": "{\\"SessionID\\": \\"{Session.SessionID}\\", \\"EventType\\": \\"{Event.EventType}\\"}"}]

Fleet changes on demand (each fires the matching trigger):
    POST /_sim/fleet/<id>/connect | disconnect      the guest connects or disconnects
    POST /_sim/fleet/<id>/host-connect              a technician (Host) connects; the guest state stays
    POST /_sim/fleet/<id>/end                       the session ends (agent removed)
    POST /_sim/fleet/<id>/rename      {"name": ..}  ModifiedName
    POST /_sim/fleet/<id>/properties  {"custom_properties": [...8]}  ModifiedCustomProperty
    POST /_sim/fleet/add              {add_session's arguments}     CreatedSession
"""

import random
import re
import threading
import urllib.error
import urllib.request

from .answers import json_answer, text_answer
from .fleet import (EV_CONNECTED, EV_CREATED, EV_DISCONNECTED, EV_ENDED, EV_MODIFIED_NAME, EV_MODIFIED_PROPERTIES,
                    EV_NOTE, EV_QUEUED_COMMAND, EV_RAN_COMMAND, EV_SENT_MESSAGE, fmt_time, make_event, pad_properties,
                    public_address)

EVENT_NAMES = {EV_CONNECTED: 'Connected', EV_DISCONNECTED: 'Disconnected', EV_CREATED: 'CreatedSession',
               EV_ENDED: 'EndedSession', EV_MODIFIED_NAME: 'ModifiedName',
               EV_MODIFIED_PROPERTIES: 'ModifiedCustomProperty', EV_NOTE: 'AddedNote',
               EV_QUEUED_COMMAND: 'QueuedCommand', EV_RAN_COMMAND: 'RanCommand', EV_SENT_MESSAGE: 'SentMessage'}
PLACEHOLDER = re.compile(r'\{(Session|Connection|Event)\.([A-Za-z0-9]+)\}')
SEND_TIMEOUT = 5.0  # the server waits a few seconds at most for an answer


class Triggers:
    """The trigger rules of one Simulator and the web requests they sent."""

    def __init__(self, sim):
        self.sim = sim
        self.lock = threading.Lock()
        self.rules = []
        self.sent = []

    def configure(self, rules):
        if not isinstance(rules, list) or not all(isinstance(rule, dict) and rule.get('url') for rule in rules):
            raise ValueError('triggers: a list of rules, each with a url')
        with self.lock:
            self.rules = [dict({'method': 'POST', 'content_type': 'application/json', 'body': '', 'events': None}, **rule)
                          for rule in rules]
            self.sent = []

    # ---- placeholders --------------------------------------------------------------------------
    def fields(self, s, event_type, data, connection):
        """What {Session.X}, {Connection.X} and {Event.X} stand for, as text."""
        guest = s.guest
        session = {'SessionID': s.sid, 'Name': s.name, 'Code': s.code, 'Host': s.host, 'SessionType': s.stype,
                   'GuestConnectedCount': str(s.guest_count()), 'IsEnded': str(s.is_ended)}
        for index, value in enumerate(s.cps, 1):
            session['CustomProperty%d' % index] = value
        for key, value in guest.items():
            session['Guest' + key] = fmt_time(value) if key in ('LastActivityTime', 'LastBootTime') else str(value)
        connection = connection or {}
        conn = {'ProcessType': {1: 'Host', 2: 'Guest'}.get(connection.get('ProcessType'), ''),
                'ParticipantName': connection.get('ParticipantName', ''),
                'NetworkAddress': public_address(s) if connection else ''}
        event = {'EventType': EVENT_NAMES.get(event_type, str(event_type)), 'Data': data or '',
                 'Host': connection.get('ParticipantName', '') if connection.get('ProcessType') == 1 else '',
                 'Time': fmt_time(self.sim.now_ticks())}
        return {'Session': session, 'Connection': conn, 'Event': event}

    @staticmethod
    def fill(template, fields):
        """Plain text substitution, no escaping of any kind; unknown placeholders stay as they are."""
        return PLACEHOLDER.sub(lambda match: fields[match.group(1)].get(match.group(2), match.group(0)), template)

    # ---- firing --------------------------------------------------------------------------------
    def fire(self, s, event_type, data='', connection=None):
        with self.lock:
            rules = list(self.rules)
        name = EVENT_NAMES.get(event_type, str(event_type))
        for rule in rules:
            if rule['events'] is not None and name not in rule['events']:
                continue
            fields = self.fields(s, event_type, data, connection)
            url = self.fill(rule['url'], fields)
            body = self.fill(rule['body'], fields).encode('utf-8')
            thread = threading.Thread(target=self.send, args=(rule, url, body, name, s.sid), daemon=True)
            thread.start()

    def send(self, rule, url, body, name, session_id):
        record = {'event': name, 'session_id': session_id, 'url': url, 'body': body.decode('utf-8', 'replace'),
                  'status': None, 'error': None}
        request = urllib.request.Request(url, data=body if rule['method'] != 'GET' else None, method=rule['method'],
                                         headers={'Content-Type': rule['content_type']})
        try:  # once, no retry: a receiver that is down misses it
            with urllib.request.urlopen(request, timeout=SEND_TIMEOUT) as answer:
                record['status'] = answer.status
        except urllib.error.HTTPError as error:
            record['status'] = error.code
        except (OSError, ValueError) as error:
            record['error'] = str(error)
        with self.lock:
            self.sent.append(record)

    # ---- fleet changes ---------------------------------------------------------------------------
    def end(self, s):
        sim = self.sim
        sim.events_of(s)
        with sim.lock:
            s.is_ended = True
            s.conns = []
            s.events.append(make_event(random.Random('%s-end' % s.sid), EV_ENDED, '', sim.now_ticks()))
            sim.touched(s)
        self.fire(s, EV_ENDED)

    def rename(self, s, name):
        sim = self.sim
        with sim.lock:
            s.name = str(name)
            sim.touched(s)
        sim.add_event(s, EV_MODIFIED_NAME, s.name)  # fires through Simulator.add_event

    def set_properties(self, s, values):
        sim = self.sim
        with sim.lock:
            s.cps = pad_properties(values)
            sim.touched(s)
        sim.add_event(s, EV_MODIFIED_PROPERTIES, '|'.join(s.cps))

    def host_connect(self, s):
        rng = random.Random('%s-host-%d' % (s.sid, len(self.sent)))
        connection = self.sim.fleet._conn(rng, 1, 'windows', self.sim.now_ticks())
        self.fire(s, EV_CONNECTED, connection=connection)

    def control(self, verb, path, payload):
        """The /_sim/triggers and /_sim/fleet/ endpoints."""
        sim = self.sim
        if path == '/_sim/triggers':
            if verb == 'GET':
                with self.lock:
                    return json_answer({'rules': self.rules, 'sent': list(self.sent)})
            if verb == 'POST':
                self.configure(payload or [])
                return json_answer({'ok': True, 'rules': len(self.rules)})
        if verb == 'POST' and path == '/_sim/fleet/add':
            return json_answer({'SessionID': sim.add_session(**(payload or {}))})
        if verb == 'POST' and path.startswith('/_sim/fleet/'):
            session_id, _sep, action = path[len('/_sim/fleet/'):].rpartition('/')
            s = sim.find(session_id)
            if s is None:
                return json_answer({'error': 'no such session'}, 404)
            payload = payload or {}
            if action in ('connect', 'disconnect'):
                sim.set_online(s, action == 'connect')
            elif action == 'host-connect':
                self.host_connect(s)
            elif action == 'end':
                self.end(s)
            elif action == 'rename':
                self.rename(s, payload.get('name', ''))
            elif action == 'properties':
                self.set_properties(s, payload.get('custom_properties') or [])
            else:
                return text_answer(404, 'unknown fleet change %s' % action)
            return json_answer({'ok': True})
        return text_answer(404, 'unknown control endpoint %s %s' % (verb, path))
