"""The relay side of the simulator's agent protocol: what the small agent of the simulator's .deb
(agent.py, run by /etc/init.d/connectwisecontrol-<id>) talks to.

This protocol is the simulator's own, not ScreenConnect's (whose relay protocol is binary and not
public). JSON over HTTP on the simulator's port, under /Sim/Agent/; neither rate limited nor
recorded, as a real agent's traffic goes to the relay, not to the web API.

    POST /Sim/Agent/Hello   {"session_id", "launch", "guest": {GuestInfo fields}} -> {"session_id"}
        session_id: the one the agent generated at its first start (or the launch's s=). The
        session is created when the server does not know it, as an Access session named by the
        launch's t= with its c= custom properties, like a real Access install; then it is online
        with the guest data sent (MachineName, OperatingSystemName, PrivateNetworkAddress, ...).
        Commands queued while it was offline go to the agent.
    POST /Sim/Agent/Poll    {"session_id"} -> {"commands": [{"id", "command"}]}
        Answers as soon as commands are queued for the session, or with an empty list after
        POLL_SECONDS. 404 when the session is not online through an agent: the agent says Hello.
    POST /Sim/Agent/Result  {"session_id", "id", "output"} -> {}
        The command's output becomes the session's RanCommand (70) event. The agent applies the
        #timeout= / #maxlength= directives itself.
    POST /Sim/Agent/Bye     {"session_id"} -> {}     the agent stops: the guest goes offline.

An agent that has not polled for LEASE_SECONDS (killed, its host gone) goes offline too.
"""

import itertools
import json
import threading
import time
import urllib.parse

from .answers import json_answer
from .fleet import EV_RAN_COMMAND

POLL_SECONDS = 20
LEASE_SECONDS = 60
GUEST_FIELDS = ('MachineName', 'OperatingSystemName', 'OperatingSystemVersion', 'ProcessorName',
                'ProcessorVirtualCount', 'SystemMemoryTotalMegabytes', 'SystemMemoryAvailableMegabytes',
                'PrivateNetworkAddress', 'MachineSerialNumber', 'MachineDomain', 'LoggedOnUserName',
                'ClientVersion')


class Relay:
    """The agents connected to one simulator: session id -> {"commands": [...], "seen": monotonic}."""

    def __init__(self, sim):
        self.sim = sim
        self.agents = {}
        self.ids = itertools.count(1)
        self.changed = threading.Condition()
        self.closed = False
        self.reaper = None

    # ---- the simulator's side --------------------------------------------------------------
    def deliver(self, session, command):
        """Hand a queued command to the session's agent; False when no agent is connected."""
        with self.changed:
            agent = self.agents.get(session.sid)
            if agent is None:
                return False
            agent['commands'].append({'id': next(self.ids), 'command': command})
            self.changed.notify_all()
            return True

    def stop(self):
        """Wake every waiting poll, so the server's threads end with it."""
        with self.changed:
            self.closed = True
            self.changed.notify_all()

    # ---- HTTP ----------------------------------------------------------------------------
    def handle(self, verb, path, raw):
        action = path[len('/Sim/Agent/'):]
        try:
            payload = json.loads(raw.decode('utf-8')) if raw.strip() else {}
        except ValueError as error:
            return json_answer({'error': 'invalid JSON: %s' % error}, 400)
        if verb != 'POST' or action not in ('Hello', 'Poll', 'Result', 'Bye') or not isinstance(payload, dict):
            return json_answer({'error': 'unknown agent request %s %s' % (verb, path)}, 404)
        session_id = str(payload.get('session_id') or '').strip('{}').lower()
        if action == 'Hello':
            return self.hello(session_id, str(payload.get('launch') or ''), payload.get('guest') or {})
        if action == 'Poll':
            return self.poll(session_id)
        session = self.sim.find(session_id)
        if session is None:
            return json_answer({'error': 'no such session'}, 404)
        if action == 'Result':
            self.sim.add_event(session, EV_RAN_COMMAND, str(payload.get('output') or ''))
        else:
            self.disconnect(session)
        return json_answer({})

    def hello(self, session_id, launch, guest):
        sim = self.sim
        params = urllib.parse.parse_qs(launch.lstrip('?'), keep_blank_values=True)
        session_id = (params.get('s', [''])[-1].strip('{}').lower() or session_id)
        if not session_id:
            return json_answer({'error': 'session_id is required'}, 400)
        with sim.lock:
            session = sim.find(session_id)
            if session is None:
                properties = (params.get('c', []) + [''] * 8)[:8]
                session = sim.create('Access', params.get('t', [''])[-1], False, '', properties,
                                     sid=session_id)
            for key in GUEST_FIELDS:
                if key in guest:
                    session.guest[key] = guest[key]
            session.info_time = sim.now_ticks()
            sim.touched(session)
            waiting, session.waiting = session.waiting, []
        with self.changed:
            self.agents[session.sid] = {'commands': [{'id': next(self.ids), 'command': command} for command in waiting],
                                        'seen': time.monotonic()}
            if self.reaper is None:
                self.reaper = threading.Thread(target=self.reap, name='screenconnect-sim-relay', daemon=True)
                self.reaper.start()
        sim.set_online(session, True)
        return json_answer({'session_id': session.sid})

    def poll(self, session_id):
        deadline = time.monotonic() + POLL_SECONDS
        with self.changed:
            while True:
                agent = self.agents.get(session_id)
                if agent is not None and self.sim.find(session_id) is None:  # the fleet was reset
                    del self.agents[session_id]
                    agent = None
                if agent is None or self.closed:
                    return json_answer({'error': 'not connected: say Hello'}, 404)
                agent['seen'] = time.monotonic()
                left = deadline - time.monotonic()
                if agent['commands'] or left <= 0:
                    commands, agent['commands'] = agent['commands'], []
                    return json_answer({'commands': commands})
                self.changed.wait(left)

    def disconnect(self, session):
        with self.changed:
            agent = self.agents.pop(session.sid, None)
            self.changed.notify_all()
        # Commands handed to the agent but not fetched wait for its next connection.
        if agent is not None:
            with self.sim.lock:
                session.waiting[:0] = [command['command'] for command in agent['commands']]
        self.sim.set_online(session, False)

    def reap(self):
        while not self.closed:
            time.sleep(1)
            with self.changed:
                gone = [sid for sid, agent in self.agents.items() if time.monotonic() - agent['seen'] > LEASE_SECONDS]
            for sid in gone:
                session = self.sim.find(sid)
                if session is not None:
                    self.disconnect(session)
