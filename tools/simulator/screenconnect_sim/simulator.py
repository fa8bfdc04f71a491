"""The Simulator: state, configuration, the session operations both APIs share, and the HTTP server's lifecycle."""

import base64
import hashlib
import json
import random
import re
import ssl
import threading
import time
from http.server import ThreadingHTTPServer

from .answers import Answer, inc, raw_json_answer
from .faults import Faults, check_variations
from .fleet import (EV_CONNECTED, EV_CREATED, EV_DISCONNECTED, EV_QUEUED_COMMAND, EV_RAN_COMMAND, EXTENSION_ID,
                    GUEST_TIME_KEYS, OS_ALIASES, OS_CATALOG, REAL_TYPES, TICKS, Fleet, Session, empty_guest,
                    fmt_time, make_event, make_guid, pad_properties, render_event, render_session, session_json,
                    session_type_of, spelling_of)
from .framing import framed_answer
from .installers import CONTENT_TYPES, Installers, command_output
from .relay import Relay
from .rest import RestApi
from .rpc import RpcApi
from .server import SimHandler
from .triggers import Triggers


class Simulator(RestApi, RpcApi, Faults):
    """The ScreenConnect simulator; see the package docstring (screenconnect_sim/__init__.py)."""

    def __init__(self, sessions=200, seed=42, spelling='nested', rate_limit=0, rate_burst=30,
                 api_secret='s3cret-rest', api_key='k3y-rpc', oauth_client_id='cid',
                 oauth_client_secret='csecret', token_ttl=3600, allowed_origin=None, instance_id=None,
                 omit_active_connections=False, command_delay=0.2, port=0, certfile=None, keyfile=None,
                 host='127.0.0.1', record=None, extension_id=EXTENSION_ID, variations=(), max_command_length=0):
        spelling = spelling_of(spelling)
        self.session_count = sessions
        self.seed = seed
        self.spelling = spelling
        self.api_secret = api_secret
        self.api_key = api_key
        self.oauth_client_id = oauth_client_id
        self.oauth_client_secret = oauth_client_secret
        self.token_ttl = token_ttl
        self.allowed_origin = allowed_origin
        self.variations = check_variations(variations)  # see faults.VARIATIONS
        self.omit_active_connections = omit_active_connections
        self.command_delay = command_delay
        # Longer commands are refused (rest.py); 0: no limit.
        self.max_command_length = int(max_command_length or 0)
        self.port = port
        self.host = host
        self.certfile = certfile
        self.keyfile = keyfile
        self.extension_id = extension_id.lower()
        self.record_path = record
        digest = hashlib.sha256(('instance-%s' % seed).encode()).hexdigest()
        if instance_id is None:
            instance_id = digest[:16]
        if not re.match(r'^[0-9a-f]{16}$', instance_id):
            raise ValueError('instance_id must be 16 lower-case hex digits')
        self.instance_id = instance_id
        self.public_key = base64.b64encode(hashlib.sha512(digest.encode()).digest() * 2).decode()
        self.installers = Installers(instance_id, self.public_key)
        self.relay = Relay(self)  # the agents of the .deb connect here (relay.py)
        self.triggers = Triggers(self)  # trigger web requests and fleet changes (triggers.py)
        self.lock = threading.RLock()
        self.fleet = Fleet(sessions, seed)
        self.mono0 = time.monotonic()
        self.tokens = {}
        self.faults = []
        self._requests = []
        self._seq = 0
        self._record_lock = threading.Lock()
        self.set_rate(rate_limit, rate_burst)
        self._reset_counters()
        self.server = None
        self.thread = None
        self.url = None

    # ---- lifecycle ----------------------------------------------------------------------
    def start(self):
        handler = type('Handler', (SimHandler,), {'sim': self})
        server = ThreadingHTTPServer((self.host, self.port), handler, bind_and_activate=False)
        server.daemon_threads = True
        server.allow_reuse_address = True
        server.server_bind()
        server.server_activate()
        scheme = 'http'
        if self.certfile:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(self.certfile, self.keyfile)
            server.socket = context.wrap_socket(server.socket, server_side=True, do_handshake_on_connect=False)
            scheme = 'https'
        self.server = server
        self.port = server.server_address[1]
        self.url = '%s://%s:%d' % (scheme, self.host, self.port)
        self.thread = threading.Thread(target=server.serve_forever, kwargs={'poll_interval': 0.1},
                                       name='screenconnect-sim', daemon=True)
        self.thread.start()
        return self

    def stop(self):
        self.relay.stop()
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
            self.server = None
        if self.thread is not None:
            self.thread.join(5)
            self.thread = None
        self.installers.cleanup()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    # ---- configuration ------------------------------------------------------------------
    def set_rate(self, rate_limit, rate_burst=None):
        with self.lock:
            self.rate_limit = float(rate_limit or 0)
            if rate_burst is not None:
                self.rate_burst = max(1, int(rate_burst))
            self.bucket = float(self.rate_burst)
            self.bucket_time = time.monotonic()

    def configure(self, **config):
        unknown = set(config) - {'spelling', 'rate_limit', 'rate_burst', 'omit_active_connections',
                                 'allowed_origin', 'command_delay', 'token_ttl', 'variations', 'max_command_length'}
        if unknown:
            raise ValueError('unknown config key(s): %s' % ', '.join(sorted(unknown)))
        with self.lock:
            if 'spelling' in config:
                self.spelling = spelling_of(config['spelling'])
            if 'rate_limit' in config or 'rate_burst' in config:
                self.set_rate(config.get('rate_limit', self.rate_limit), config.get('rate_burst'))
            if 'omit_active_connections' in config:
                self.omit_active_connections = bool(config['omit_active_connections'])
            if 'allowed_origin' in config:
                self.allowed_origin = config['allowed_origin'] or None
            if 'command_delay' in config:
                self.command_delay = float(config['command_delay'])
            if 'max_command_length' in config:
                self.max_command_length = int(config['max_command_length'] or 0)
            if 'token_ttl' in config:
                self.token_ttl = float(config['token_ttl'])
            if 'variations' in config:
                self.variations = check_variations(config['variations'])
                for s in self.fleet.sessions:
                    self.touched(s)

    def revoke_tokens(self):
        with self.lock:
            self.tokens.clear()

    def _reset_counters(self):
        self.counters = {'requests_total': 0, 'by_api': {}, 'by_method': {}, 'by_status': {}, 'writes': {},
                         'rate_limited': 0, 'status_429': 0, 'token_issued': 0, 'downloads': {},
                         'faults_applied': 0}

    def reset(self, fleet=False):
        with self.lock:
            self._requests = []
            self._reset_counters()
            self.faults = []
            self.bucket = float(self.rate_burst)
            self.bucket_time = time.monotonic()
            if fleet:
                self.fleet = Fleet(self.session_count, self.seed)
        self.triggers.configure([])

    @property
    def requests(self):
        with self._record_lock:
            return sorted((dict(r) for r in self._requests), key=lambda r: r['seq'])

    def stats(self):
        with self.lock:
            return json.loads(json.dumps(self.counters))

    # ---- clock ----------------------------------------------------------------------------
    def now_ticks(self):
        return self.fleet.base_ticks + int((time.monotonic() - self.mono0) * TICKS)

    # ---- sessions ---------------------------------------------------------------------------
    def add_session(self, name='', machine_name=None, custom_properties=None, online=True, os='windows',
                    session_type='Access', host='', is_public=False, code='', serial_number=None):
        stype = session_type_of(session_type, REAL_TYPES)
        if stype is None:
            raise ValueError('session_type must be Access, Support or Meeting')
        os_key = OS_ALIASES.get(str(os).lower(), str(os).lower())
        if os_key not in OS_CATALOG:
            raise ValueError('os must be one of %s' % ', '.join(sorted(set(OS_CATALOG) | set(OS_ALIASES))))
        with self.lock:
            fleet = self.fleet
            rng = random.Random('add-%s-%d' % (self.seed, len(fleet.sessions)))
            index = len(fleet.sessions) + 1
            s = Session()
            s.sid = make_guid(rng)
            s.event_seed = rng.getrandbits(32)
            s.stype, s.host, s.is_public, s.code, s.is_ended = stype, host or '', bool(is_public), code or '', False
            s.cps = pad_properties(custom_properties or [])
            now = self.now_ticks()
            s.created_time = now - 86400 * TICKS
            s.guest = fleet._guest(rng, index, os_key, machine_name=machine_name if machine_name is not None
                                   else (name or None))
            if serial_number is not None:
                s.guest['MachineSerialNumber'] = serial_number
            s.name = name if name is not None else ''
            family = OS_CATALOG[os_key][3]
            if online:
                s.conn_time = now - 120 * TICKS
                s.disc_time = None
                s.conns.append(fleet._conn(rng, 2, family, s.conn_time))
            else:
                s.conn_time = now - 7200 * TICKS
                s.disc_time = now - 3600 * TICKS
            s.info_time = s.disc_time if not online else now - 10 * TICKS
            s.guest['LastActivityTime'] = s.info_time
            s.guest['LastBootTime'] = s.conn_time - 600 * TICKS
            fleet.add(s)
        self.triggers.fire(s, EV_CREATED)
        return s.sid

    def find(self, session_id):
        if not isinstance(session_id, str):
            return None
        return self.fleet.by_id.get(session_id.strip('{}').lower())

    def events_of(self, s):
        """The session's events, with the RanCommand events of commands whose time has come."""
        with self.lock:
            if s.events is None:
                s.events = self.fleet.build_events(s)
            if s.pending:
                now = self.now_ticks()
                still = []
                for due, output in s.pending:
                    if due <= now:
                        s.events.append(make_event(random.Random(due), EV_RAN_COMMAND, output, due))
                    else:
                        still.append((due, output))
                s.pending = still
            return list(s.events)

    def add_event(self, s, etype, data, host=''):
        self.events_of(s)
        with self.lock:
            ticks = self.now_ticks()
            s.events.append(make_event(random.Random('%s-%d-%d' % (s.sid, len(s.events), ticks)), etype, data, ticks, host))
        self.triggers.fire(s, etype, data)
        return ticks

    def touched(self, s):
        s.cache.clear()

    def raw_state(self, s):
        events = self.events_of(s)
        return {'SessionID': s.sid, 'SessionType': s.stype, 'Name': s.name, 'Host': s.host,
                'IsPublic': s.is_public, 'Code': s.code, 'IsEnded': s.is_ended,
                'CustomPropertyValues': list(s.cps), 'Online': s.online,
                'Guest': {k: (fmt_time(v) if k in GUEST_TIME_KEYS else v) for k, v in s.guest.items()},
                'ActiveConnections': [dict(c, ConnectedTime=fmt_time(c['ConnectedTime'])) for c in s.conns],
                'GuestInfoUpdateTime': fmt_time(s.info_time),
                'LastGuestConnectedEventTime': fmt_time(s.conn_time),
                'LastGuestDisconnectedEventTime': fmt_time(s.disc_time),
                'Events': [render_event(e) for e in events],
                'PendingCommands': len(s.pending), 'WaitingCommands': list(s.waiting)}

    # ---- recording --------------------------------------------------------------------------
    def next_seq(self):
        with self._record_lock:
            self._seq += 1
            return self._seq

    def record(self, entry):
        with self._record_lock:
            self._requests.append(entry)
            if self.record_path:
                with open(self.record_path, 'a', encoding='utf-8') as f:
                    f.write(json.dumps(entry, ensure_ascii=False) + '\n')
        with self.lock:
            c = self.counters
            c['requests_total'] += 1
            inc(c['by_api'], entry['api'])
            if entry.get('method'):
                inc(c['by_method'], entry['method'])
            inc(c['by_status'], str(entry['status']))
            if entry['status'] == 429:
                c['status_429'] += 1

    # ---- what both APIs share -------------------------------------------------------------------
    def _sessions_answer(self, sessions, api):
        with self.lock:  # under the lock, so a write cannot interleave with its cached rendering
            spelling, omit = self.spelling, self.omit_active_connections
            return raw_json_answer('[' + ','.join(session_json(s, spelling, api, omit) for s in sessions) + ']')

    def _details(self, s, api):
        with self.lock:
            spelling, omit, variations = self.spelling, self.omit_active_connections, self.variations
        session = render_session(s, spelling, api, omit)
        events = [render_event(e) for e in self.events_of(s)]
        connections = render_session(s, spelling, api, False)['ActiveConnections']
        if 'event_age_ms' in variations:
            now = self.now_ticks()
            for rendered, event in zip(events, self.events_of(s)):
                rendered['Time'] = max(0, (now - event['Time']) // (TICKS // 1000))
        if 'connection_events' in variations:
            for connection in connections:
                connection['Events'] = []
            guest = [c for c in connections if c['ProcessType'] in (2, 'Guest')]
            if not guest:  # the guest left since: its results stay with its last connection
                guest = [{'ProcessType': 'Guest' if spelling == 'mixed' else 2, 'ConnectionID': s.sid, 'Events': []}]
                connections.append(guest[0])
            guest[0]['Events'] = [e for e in events if e['EventType'] == EV_RAN_COMMAND]
            events = [e for e in events if e['EventType'] != EV_RAN_COMMAND]
        return {'Session': session, 'Events': events, 'Connections': connections}

    def command_result(self, s, command):
        """What the guest answers to a command; with cmd_echo, cmd's prompt and the command come first.
        A command framed by the collection gets the framed answer of its canned output (framing.py)."""
        output = framed_answer(s.guest, command)
        if output is None:
            output = command_output(s, command)
        lines = [line for line in command.replace('\r\n', '\n').split('\n') if line.strip()]
        body = [line for line in lines if not line.strip().startswith('#')]
        powershell = any(line.strip().lower() == '#!ps' for line in lines)
        windows = 'windows' in s.guest['OperatingSystemName'].lower()
        if 'cmd_echo' in self.variations and windows and not powershell and body:
            output = 'C:\\WINDOWS\\system32>%s\r\n%s' % (body[0].strip(), output)
        return output

    def _count_write(self, method):
        with self.lock:
            inc(self.counters['writes'], method)

    def create(self, stype, name, is_public, code, cps, host='', by_host='', sid=None):
        with self.lock:
            rng = random.Random('create-%s-%d' % (self.seed, len(self.fleet.sessions)))
            s = Session()
            s.sid = make_guid(rng)
            if sid is not None:  # an agent's own session id (relay.py)
                s.sid = sid
            s.event_seed = rng.getrandbits(32)
            s.stype, s.name, s.host, s.is_public, s.code, s.is_ended = stype, name, host, bool(is_public), code, False
            s.cps = cps
            s.guest = empty_guest()
            s.info_time = s.conn_time = s.disc_time = None
            s.created_time = self.now_ticks()
            s.events = [make_event(rng, EV_CREATED, '', s.created_time, by_host)]
            self.fleet.add(s)
        self.triggers.fire(s, EV_CREATED, connection={'ProcessType': 1, 'ParticipantName': by_host} if by_host else None)
        return s

    def queue_command(self, s, command):
        ticks = self.add_event(s, EV_QUEUED_COMMAND, command)
        with self.lock:
            if self.relay.deliver(s, command):  # a real agent runs it and reports its output
                return
            if s.online:
                s.pending.append((ticks + int(self.command_delay * TICKS), self.command_result(s, command)))
            else:
                s.waiting.append(command)

    def set_online(self, s, online):
        """Connect or disconnect the guest; a connecting guest runs the commands that waited for it."""
        self.events_of(s)
        with self.lock:
            if online == s.online:
                return
            now = self.now_ticks()
            if online:
                os_name = s.guest['OperatingSystemName'].lower()
                family = 'windows' if 'windows' in os_name or not os_name else 'macos' if 'mac' in os_name else 'linux'
                rng = random.Random('%s-connect-%d' % (s.sid, len(s.events)))
                s.conns.append(self.fleet._conn(rng, 2, family, now))
                s.conn_time = s.info_time = now
                s.events.append(make_event(rng, EV_CONNECTED, '', now))
                for command in s.waiting:
                    s.pending.append((now + int(self.command_delay * TICKS), self.command_result(s, command)))
                s.waiting = []
            else:
                s.conns = [c for c in s.conns if c['ProcessType'] != 2]
                s.disc_time = now
                s.events.append(make_event(random.Random('%s-disconnect-%d' % (s.sid, len(s.events))),
                                           EV_DISCONNECTED, '', now))
            s.guest['LastActivityTime'] = now
            self.touched(s)
        self.triggers.fire(s, EV_CONNECTED if online else EV_DISCONNECTED, connection={'ProcessType': 2})

    # ---- downloads -----------------------------------------------------------------------------
    def download(self, ext, query, request_host):
        launch = self.installers.launch_query(query, request_host, self.port)
        with self.lock:
            inc(self.counters['downloads'], ext)
        # The .deb's agent connects to the server the installer URL named (as the client reached it).
        server = '%s://%s:%d' % (self.url.split(':', 1)[0], request_host, self.port)
        data = self.installers.build(ext, launch, server)
        return Answer(200, data, CONTENT_TYPES[ext],
                      {'Content-Disposition': 'attachment; filename="ScreenConnect.ClientSetup.%s"' % ext})
