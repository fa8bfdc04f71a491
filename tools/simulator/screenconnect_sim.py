#!/usr/bin/env python
"""ScreenConnect server simulator for the msp.screenconnect collection (stdlib only).

A standalone HTTP(S) server on 127.0.0.1 that behaves like a ScreenConnect server, quirks
included. It serves:

REST (RESTful API Manager extension)
    POST /App_Extensions/{extension_id}/Service.ashx/{Method}
    auth header ``CTRLAuthHeader: <secret>`` (401 otherwise), ``Origin`` checked when an allowed
    origin is configured (403), body = JSON array of positional arguments (reads also take an
    object of parameter names). Unknown method -> 500 ``Web method does not exist``. Void methods
    answer 200 with an empty body. Another extension id -> 404 HTML page.

Session Manager JSON-RPC (the seed's API)
    POST /Services/PageService.ashx  {"id": n, "method": M, "params": {...}}
    auth ``Authorization: Bearer <api_key>`` or an OAuth token from
    POST /oauth/token (client credentials form). SessionType uses the seed numbering
    (1 Support, 2 Access, 3 Meeting). Errors: 401 (auth), 404 (GetSession/GetSessionDetails of an
    unknown session, error envelope), an unknown method answers HTTP 200 with the error envelope
    {"code": -32601, "message": "Method not found"}; bad params answer HTTP 200 with -32602.

Installer downloads
    GET /Bin/{Name}.ClientSetup.{msi,exe,pkg,deb,rpm,sh}?e=Access&y=Guest&t=..&c=..(x8)&h=&p=&k=
    (.deb is a real Debian package built with dpkg-deb, per distinct query, cached.)

Control endpoints for tests (no auth, never rate limited, never recorded)
    GET  /_sim/requests        recorded requests (JSON list)
    GET  /_sim/stats           counters
    POST /_sim/reset           {"fleet": false}: clears requests, counters, faults
    POST /_sim/faults          JSON list of fault rules (replaces the current list)
    POST /_sim/config          {"spelling", "rate_limit", "rate_burst", "omit_active_connections",
                                "allowed_origin", "command_delay"}
    POST /_sim/sessions        add a session: {"name", "machine_name", "custom_properties",
                                "online", "os", "session_type"} -> {"SessionID": id}
    POST /_sim/revoke-tokens   forget every OAuth token issued
    GET  /_sim/sessions/<id>   raw internal state of one session
    POST /_sim/sessions/<id>/connect | /disconnect   the guest comes online (and runs the commands
                               queued while it was offline) or goes offline

Fault rules: {"method": <API method name> | "*" | "download" | "OAuthToken", "kind": K,
"times": n (default 1, -1 forever), ...}; the first matching rule with times left is used.
"*" matches every API request and download. Kinds: status (``status``, ``body``, ``retry_after``;
the action is not performed), after (the action is performed, then ``status``, default 502),
html (200 login page), slow (sleep ``seconds``, then normal), malformed (200 truncated JSON),
reset (socket closed without an answer), truncate (a short body with a lying Content-Length).

Rate limit: one token bucket over REST, JSON-RPC and /oauth/token requests; 429 with an integer
``Retry-After`` (>= 1) when empty. The bucket is strict (RATE_JITTER = 0): a client must absorb
the jitter of its own requests on the way.

Recorded requests (Simulator.requests, GET /_sim/requests; control endpoints are not recorded):
{"seq", "time", "api": rest|rpc|oauth|download|other, "http_method", "path", "method" (REST/RPC
method name, "OAuthToken", "download"), "args" (REST: the parsed body; RPC: its params; OAuth: the
form with client_secret masked; download: the decoded query with "c" as a list, plus "ext"),
"status" (0 for a reset fault), "headers": {"Origin", "Content-Type", "User-Agent" when sent,
"CTRLAuthHeader": bool, "Authorization": bool}} -- never an auth header value.

Stats (Simulator.stats(), GET /_sim/stats): requests_total, by_api, by_method, by_status, writes
(performed writes per method), rate_limited (429s from the bucket), status_429 (every 429 sent,
faults included), token_issued, downloads (per extension), faults_applied.

Other choices: omit_active_connections leaves ActiveConnections out of every Session object
(lists, by id, the Session of details; details keep their "Connections"); write faults answer
"session manager fault: <detail>"; a command on an online guest gets its RanCommand event
command_delay seconds after it was queued (computed lazily at read time); an offline guest only
gets the QueuedCommand event. Event times of writes run on a clock that starts at the fleet's
seed-derived base date when the simulator is created.
"""

import argparse
import datetime
import hashlib
import json
import math
import os
import random
import re
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

EXTENSION_ID = '2d558935-686a-4bd0-9991-07539f5fe749'
CLIENT_VERSION = '25.4.16.9293'
NEVER = '0001-01-01T00:00:00'
SPELLINGS = ('nested', 'flat', 'seed')

REAL_TYPES = {'Support': 0, 'Meeting': 1, 'Access': 2}
SEED_TYPES = {'Support': 1, 'Access': 2, 'Meeting': 3}
REAL_TYPES_BY_NUMBER = {v: k for k, v in REAL_TYPES.items()}
SEED_TYPES_BY_NUMBER = {v: k for k, v in SEED_TYPES.items()}

# Event types
EV_CONNECTED, EV_DISCONNECTED, EV_CREATED, EV_ENDED = 10, 11, 20, 21
EV_NOTE, EV_QUEUED_COMMAND, EV_QUEUED_MESSAGE, EV_QUEUED_TOOL = 32, 44, 45, 47
EV_MODIFIED_NAME, EV_MODIFIED_IS_PUBLIC, EV_MODIFIED_CODE, EV_MODIFIED_HOST, EV_MODIFIED_PROPERTIES = 60, 61, 62, 63, 64
EV_RAN_COMMAND, EV_SENT_MESSAGE = 70, 71

GUEST_KEYS = ('MachineName', 'OperatingSystemName', 'OperatingSystemVersion', 'ProcessorName',
              'ProcessorVirtualCount', 'SystemMemoryTotalMegabytes', 'SystemMemoryAvailableMegabytes',
              'PrivateNetworkAddress', 'MachineSerialNumber', 'MachineDomain', 'LoggedOnUserName',
              'LastActivityTime', 'LastBootTime', 'ClientVersion')
GUEST_TIME_KEYS = ('LastActivityTime', 'LastBootTime')
# the seed document's spelling inside GuestInfo
SEED_GUEST_NAMES = {'PrivateNetworkAddress': 'GuestPrivateIpAddress',
                    'MachineSerialNumber': 'GuestMachineSerialNumber',
                    'MachineDomain': 'GuestMachineDomain'}

COMPANIES = ['Acme Corp', "O'Reilly & Sons", 'Globex', 'Initech', 'Umbrella (EU)', 'Café Müller',
             "{{ lookup('pipe','id') }} Ltd", '']
COMPANY_WEIGHTS = [25, 15, 15, 12, 10, 8, 5, 10]
SITES = ['HQ', 'Branch 1', 'Branch 2', 'Remote', '']
SITE_WEIGHTS = [35, 20, 10, 20, 15]
TAGS = ['web,prod', 'db', 'prod', '', 'web, staging', 'kiosk', 'db,prod']
TAG_WEIGHTS = [15, 10, 15, 35, 10, 5, 10]
TECHNICIANS = ['alice', 'bob', 'carol', 'dave']

# key: (prefix, OperatingSystemName, OperatingSystemVersion, family, domain)
OS_CATALOG = {
    'win11': ('WS', 'Microsoft Windows 11 Pro', '10.0.22631', 'windows'),
    'win10': ('WS', 'Microsoft Windows 10 Pro', '10.0.19045', 'windows'),
    'srv2019': ('SRV', 'Microsoft Windows Server 2019 Standard', '10.0.17763', 'windows'),
    'srv2022': ('SRV', 'Microsoft Windows Server 2022 Standard', '10.0.20348', 'windows'),
    'ubuntu': ('LNX', 'Ubuntu 22.04.4 LTS', '5.15.0-105-generic', 'linux'),
    'debian': ('LNX', 'Debian GNU/Linux 12 (bookworm)', '6.1.0-21-amd64', 'linux'),
    'rocky': ('LNX', 'Rocky Linux 9.3 (Blue Onyx)', '5.14.0-362.24.1.el9_3.x86_64', 'linux'),
    'macos': ('MAC', 'macOS 14.5 Sonoma', '14.5', 'macos'),
}
OS_KEYS = ['win11', 'win10', 'srv2019', 'srv2022', 'ubuntu', 'debian', 'rocky', 'macos']
OS_WEIGHTS = [30, 20, 8, 10, 12, 6, 6, 8]
OS_ALIASES = {'windows': 'win11', 'linux': 'ubuntu', 'mac': 'macos', 'macos': 'macos', 'osx': 'macos'}
PROCESSORS = {'windows': ['Intel(R) Core(TM) i5-1245U', 'Intel(R) Xeon(R) Silver 4314 CPU @ 2.40GHz',
                          'AMD Ryzen 7 PRO 5850U'],
              'linux': ['Intel(R) Xeon(R) CPU E5-2680 v4 @ 2.40GHz', 'AMD EPYC 7543 32-Core Processor'],
              'macos': ['Apple M2', 'Apple M1 Pro']}

TICKS = 10 ** 7  # 100 ns ticks per second
EPOCH = datetime.datetime(1970, 1, 1)


def fmt_time(ticks):
    """100 ns ticks since the Unix epoch -> '2026-11-19T03:51:52.6169911Z'; None -> never."""
    if ticks is None:
        return NEVER
    seconds, frac = divmod(int(ticks), TICKS)
    day, second = divmod(seconds, 86400)
    prefix = _DAYS.get(day)
    if prefix is None:
        prefix = _DAYS[day] = (EPOCH + datetime.timedelta(days=day)).strftime('%Y-%m-%dT')
    hour, rest = divmod(second, 3600)
    return '%s%02d:%02d:%02d.%07dZ' % (prefix, hour, rest // 60, rest % 60, frac)


_DAYS = {}


def make_guid(rng):
    value = '%032x' % rng.getrandbits(128)
    value = value[:12] + '4' + value[13:16] + '89ab'[int(value[16], 16) & 3] + value[17:]
    return '%s-%s-%s-%s-%s' % (value[:8], value[8:12], value[12:16], value[16:20], value[20:])


GUID_RE = re.compile(r'^\{?[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\}?$')


# ---------------------------------------------------------------------------------------------
# sessions
# ---------------------------------------------------------------------------------------------

class Session:
    __slots__ = ('sid', 'stype', 'name', 'host', 'is_public', 'code', 'is_ended', 'cps', 'guest',
                 'conns', 'info_time', 'conn_time', 'disc_time', 'created_time', 'events', 'pending',
                 'cache', 'event_seed', 'waiting')

    def __init__(self):
        self.events = None
        self.pending = []
        self.waiting = []  # commands queued while the guest was offline
        self.cache = {}
        self.conns = []
        self.event_seed = 0

    @property
    def online(self):
        return any(c['ProcessType'] == 2 for c in self.conns)

    def guest_count(self):
        return sum(1 for c in self.conns if c['ProcessType'] == 2)


def empty_guest():
    guest = dict.fromkeys(GUEST_KEYS, '')
    guest.update(ProcessorVirtualCount=0, SystemMemoryTotalMegabytes=0, SystemMemoryAvailableMegabytes=0,
                 LastActivityTime=None, LastBootTime=None)
    return guest


_WEIGHTED_CACHE = {}


def weighted(rng, items, weights, _cache=None):
    if _cache is None:
        _cache = _WEIGHTED_CACHE
    key = id(weights)
    cum = _cache.get(key)
    if cum is None:
        total, cum = 0, []
        for w in weights:
            total += w
            cum.append(total)
        _cache[key] = cum
    x = rng.random() * cum[-1]
    for item, c in zip(items, cum):
        if x < c:
            return item
    return items[-1]


class Fleet:
    """The generated sessions, deterministic from the seed."""

    def __init__(self, count, seed):
        self.seed = seed
        self.rng = random.Random('fleet-%s' % seed)
        # a fixed "now" derived from the seed, not the wall clock
        base = datetime.datetime(2026, 1, 1) + datetime.timedelta(days=seed % 300, seconds=(seed * 7919) % 86400)
        self.base_ticks = int((base - EPOCH).total_seconds()) * TICKS
        self.sessions = []
        self.by_id = {}
        self._generate(count)

    def add(self, session):
        self.sessions.append(session)
        self.by_id[session.sid] = session

    def _conn(self, rng, process_type, os_family, when):
        return {'ProcessType': process_type, 'ConnectionID': make_guid(rng),
                'ClientType': (1 if os_family == 'windows' else 2) if process_type == 2 else 1,
                'ParticipantName': '' if process_type == 2 else rng.choice(TECHNICIANS),
                'ConnectedTime': when}

    def _guest(self, rng, index, os_key, machine_name=None):
        prefix, os_name, os_version, family = OS_CATALOG[os_key]
        memory = rng.choice((4096, 8192, 16384, 32768, 65536))
        return {
            'MachineName': machine_name if machine_name is not None else '%s-%05d' % (prefix, index),
            'OperatingSystemName': os_name,
            'OperatingSystemVersion': os_version,
            'ProcessorName': rng.choice(PROCESSORS[family]),
            'ProcessorVirtualCount': rng.choice((2, 4, 8, 16)),
            'SystemMemoryTotalMegabytes': memory,
            'SystemMemoryAvailableMegabytes': memory * rng.randint(10, 80) // 100,
            'PrivateNetworkAddress': '10.%d.%d.%d' % ((index >> 16) & 255, (index >> 8) & 255, index & 255 or 1),
            'MachineSerialNumber': 'SN%06d' % index,
            'MachineDomain': 'WORKGROUP' if family == 'windows' and rng.random() < 0.5 else (
                'CORP' if family == 'windows' else ''),
            'LoggedOnUserName': rng.choice(('user', 'admin', 'jdoe', 'msmith', '')),
            'LastActivityTime': None,
            'LastBootTime': None,
            'ClientVersion': CLIENT_VERSION if rng.random() < 0.85 else '24.2.10.8991',
        }

    def _generate(self, count):
        rng = self.rng
        now = self.base_ticks
        i = 0
        while i < count:
            index = i + 1
            s = Session()
            s.sid = make_guid(rng)
            s.event_seed = rng.getrandbits(32)
            r = rng.random()
            s.stype = 'Access' if r < 0.92 else ('Support' if r < 0.97 else 'Meeting')
            s.is_ended = rng.random() < 0.02
            s.created_time = now - rng.randint(30 * 86400, 700 * 86400) * TICKS - rng.randrange(TICKS)
            s.cps = [weighted(rng, COMPANIES, COMPANY_WEIGHTS), weighted(rng, SITES, SITE_WEIGHTS),
                     weighted(rng, TAGS, TAG_WEIGHTS), '', '', '', '', '']
            if rng.random() < 0.05:
                s.cps[3] = rng.choice(('Finance', 'IT', 'Sales'))
            if rng.random() < 0.02:
                s.cps[7] = 'asset-%04d' % index
            duplicate = False
            if s.stype == 'Access':
                s.host = ''
                s.is_public = False
                s.code = ''
                never = rng.random() < 0.015 and not s.is_ended
                os_key = weighted(rng, OS_KEYS, OS_WEIGHTS)
                if never:
                    s.guest = empty_guest()
                    s.name = 'NEW-%05d' % index
                    s.info_time = s.conn_time = s.disc_time = None
                else:
                    s.guest = self._guest(rng, index, os_key)
                    s.name = '' if rng.random() < 0.05 else s.guest['MachineName']
                    online = rng.random() < 0.6 and not s.is_ended
                    self._times(rng, s, online, OS_CATALOG[os_key][3])
                    duplicate = rng.random() < 0.03 and s.name and i + 1 < count
            else:
                s.host = rng.choice(TECHNICIANS)
                s.is_public = s.stype == 'Meeting' and rng.random() < 0.5
                s.code = '%06d' % rng.randrange(10 ** 6) if rng.random() < 0.6 else ''
                s.name = ('Ticket %d' % (4000 + index)) if s.stype == 'Support' else 'Meeting %d' % index
                if s.stype == 'Support' and rng.random() < 0.7:
                    os_key = weighted(rng, OS_KEYS, OS_WEIGHTS)
                    s.guest = self._guest(rng, index, os_key, machine_name='DESKTOP-%05X' % (index * 2654435761 % 0xFFFFF))
                    online = rng.random() < 0.3 and not s.is_ended
                    self._times(rng, s, online, OS_CATALOG[os_key][3])
                else:
                    s.guest = empty_guest()
                    s.info_time = s.conn_time = s.disc_time = None
                    if rng.random() < 0.3 and not s.is_ended:
                        s.conns.append(self._conn(rng, 1, 'windows', now - rng.randint(60, 3600) * TICKS))
            self.add(s)
            i += 1
            if duplicate:
                # the older session of a re-imaged machine: same name, machine and serial, offline
                old = Session()
                old.sid = make_guid(rng)
                old.event_seed = rng.getrandbits(32)
                old.stype, old.host, old.is_public, old.code, old.is_ended = 'Access', '', False, '', False
                old.name = s.name
                old.cps = list(s.cps)
                old.guest = dict(s.guest)
                old.guest['ClientVersion'] = '23.9.8.8811'
                older = min(x for x in (s.info_time, s.conn_time, s.created_time) if x is not None)
                old.created_time = older - 400 * 86400 * TICKS
                old.conn_time = older - rng.randint(40, 200) * 86400 * TICKS
                old.disc_time = old.conn_time + rng.randint(3600, 86400) * TICKS
                old.info_time = old.disc_time - rng.randint(1, 600) * TICKS
                old.guest['LastActivityTime'] = old.info_time
                old.guest['LastBootTime'] = old.conn_time - 600 * TICKS
                self.add(old)
                i += 1

    def _times(self, rng, s, online, family):
        now = self.base_ticks
        if online:
            s.conn_time = now - rng.randint(60, 20 * 86400) * TICKS - rng.randrange(TICKS)
            s.disc_time = None if rng.random() < 0.3 else s.conn_time - rng.randint(60, 86400) * TICKS
            s.info_time = now - rng.randint(1, 300) * TICKS - rng.randrange(TICKS)
            s.conns.append(self._conn(rng, 2, family, s.conn_time))
            if rng.random() < 0.1:
                s.conns.append(self._conn(rng, 1, 'windows', now - rng.randint(10, 3000) * TICKS))
        else:
            s.conn_time = now - rng.randint(2 * 3600, 120 * 86400) * TICKS - rng.randrange(TICKS)
            s.disc_time = s.conn_time + rng.randint(60, 86400) * TICKS
            s.info_time = s.disc_time - rng.randint(1, 600) * TICKS - rng.randrange(TICKS)
        s.guest['LastActivityTime'] = s.info_time - rng.randint(0, 600) * TICKS
        s.guest['LastBootTime'] = s.conn_time - rng.randint(60, 3600) * TICKS

    def build_events(self, s):
        """The history of a generated session, built on first use."""
        rng = random.Random(s.event_seed)
        events = [make_event(rng, EV_CREATED, '', s.created_time, s.host)]
        if s.conn_time is not None:
            if s.disc_time is not None and s.disc_time < s.conn_time:
                events.append(make_event(rng, EV_CONNECTED, '', s.disc_time - 3600 * TICKS))
                events.append(make_event(rng, EV_DISCONNECTED, '', s.disc_time))
                events.append(make_event(rng, EV_CONNECTED, '', s.conn_time))
            else:
                events.append(make_event(rng, EV_CONNECTED, '', s.conn_time))
                if s.disc_time is not None:
                    events.append(make_event(rng, EV_DISCONNECTED, '', s.disc_time))
        if s.is_ended:
            events.append(make_event(rng, EV_ENDED, '', (s.disc_time or s.created_time) + TICKS))
        return events


def make_event(rng, etype, data, ticks, host=''):
    return {'EventID': make_guid(rng), 'EventType': etype, 'Data': data, 'Time': ticks, 'Host': host}


def render_event(e):
    return {'EventID': e['EventID'], 'EventType': e['EventType'], 'Data': e['Data'],
            'Time': fmt_time(e['Time']), 'Host': e['Host']}


def render_session(s, spelling, api, omit_connections=False):
    """The Session object as the given API and spelling answer it (a dict)."""
    numbering = SEED_TYPES if api == 'rpc' else REAL_TYPES
    out = {'SessionID': s.sid, 'SessionType': numbering[s.stype], 'Name': s.name, 'Host': s.host,
           'IsPublic': s.is_public, 'Code': s.code, 'IsEnded': s.is_ended,
           'CustomPropertyValues': list(s.cps)}
    if not omit_connections:
        conns = []
        for c in s.conns:
            pt = c['ProcessType']
            if spelling == 'seed':
                pt = 'Guest' if pt == 2 else 'Host'
            conns.append({'ProcessType': pt, 'ConnectionID': c['ConnectionID'], 'ClientType': c['ClientType'],
                          'ParticipantName': c['ParticipantName'], 'ConnectedTime': fmt_time(c['ConnectedTime'])})
        out['ActiveConnections'] = conns
    out['GuestInfoUpdateTime'] = fmt_time(s.info_time)
    out['LastGuestConnectedEventTime'] = fmt_time(s.conn_time)
    out['LastGuestDisconnectedEventTime'] = fmt_time(s.disc_time)
    g = s.guest
    if spelling == 'flat':
        for key in GUEST_KEYS:
            value = g[key]
            out['Guest' + key] = fmt_time(value) if key in GUEST_TIME_KEYS else value
    else:
        info = {}
        for key in GUEST_KEYS:
            value = g[key]
            if key in GUEST_TIME_KEYS:
                value = fmt_time(value)
            info[SEED_GUEST_NAMES.get(key, key) if spelling == 'seed' else key] = value
        out['GuestInfo'] = info
    return out


def session_json(s, spelling, api, omit):
    key = (spelling, api, omit)
    text = s.cache.get(key)
    if text is None:
        text = json.dumps(render_session(s, spelling, api, omit), ensure_ascii=False, separators=(',', ':'))
        s.cache[key] = text
    return text


# ---------------------------------------------------------------------------------------------
# filter language
# ---------------------------------------------------------------------------------------------

class FilterError(ValueError):
    pass


TOKEN_RE = re.compile(r"""\s*(?:
    (?P<string>'(?:[^']|'')*')
  | (?P<number>-?\d+(?:\.\d+)?)
  | (?P<op><>|!=|>=|<=|=|<|>)
  | (?P<paren>[()])
  | (?P<word>[A-Za-z_][A-Za-z0-9_.]*)
  | (?P<bad>\S)
)""", re.VERBOSE)

KEYWORDS = {'AND', 'OR', 'NOT', 'LIKE', 'TRUE', 'FALSE', 'NULL'}


def tokenize(text):
    tokens = []
    pos = 0
    text = text.rstrip()
    while pos < len(text):
        m = TOKEN_RE.match(text, pos)
        if not m or m.end() == pos:
            break
        pos = m.end()
        kind = m.lastgroup
        value = m.group(kind)
        where = m.start(kind) + 1
        if kind == 'bad':
            if value == "'":
                raise FilterError('unterminated string starting at position %d' % where)
            raise FilterError("unexpected character '%s' at position %d" % (value, where))
        if kind == 'string':
            value = value[1:-1].replace("''", "'")
        elif kind == 'number':
            value = float(value) if '.' in value else int(value)
        elif kind == 'word' and value.upper() in KEYWORDS:
            kind, value = 'kw', value.upper()
        tokens.append((kind, value, where))
    return tokens


def _custom_property_getter(k):
    return lambda s: s.cps[k]


def _guest_time_getter(k):
    return lambda s: fmt_time(s.guest[k])


def _guest_getter(k):
    return lambda s: s.guest[k]


def _field_getters():
    getters = {
        'SessionID': lambda s: s.sid,
        'Name': lambda s: s.name,
        'Host': lambda s: s.host,
        'Code': lambda s: s.code,
        'IsPublic': lambda s: s.is_public,
        'IsEnded': lambda s: s.is_ended,
        'GuestConnectedCount': lambda s: s.guest_count(),
        'HostConnectedCount': lambda s: sum(1 for c in s.conns if c['ProcessType'] == 1),
        'GuestInfoUpdateTime': lambda s: fmt_time(s.info_time),
        'LastGuestConnectedEventTime': lambda s: fmt_time(s.conn_time),
        'LastGuestDisconnectedEventTime': lambda s: fmt_time(s.disc_time),
    }
    for n in range(8):
        getters['CustomProperty%d' % (n + 1)] = _custom_property_getter(n)
    for key in GUEST_KEYS:
        if key in GUEST_TIME_KEYS:
            getters['Guest' + key] = _guest_time_getter(key)
        else:
            getters['Guest' + key] = _guest_getter(key)
    return getters


FIELD_GETTERS = _field_getters()
FIELDS_LOWER = {name.lower(): name for name in list(FIELD_GETTERS) + ['SessionType']}


def like_regex(pattern):
    out = []
    for ch in pattern:
        if ch == '%':
            out.append('.*')
        elif ch == '_':
            out.append('.')
        else:
            out.append(re.escape(ch))
    return re.compile(''.join(out), re.IGNORECASE | re.DOTALL)


def _cmp(op, a, b):
    if op == '=':
        return a == b
    if op in ('<>', '!='):
        return a != b
    if op == '>':
        return a > b
    if op == '<':
        return a < b
    if op == '>=':
        return a >= b
    return a <= b


class FilterParser:
    """Recursive descent: expr := and (OR and)*; and := unary (AND unary)*;
    unary := NOT unary | '(' expr ')' | Field op value."""

    def __init__(self, text, numbering):
        self.text = text
        self.tokens = tokenize(text)
        self.pos = 0
        self.numbering = numbering

    def peek(self, offset=0):
        i = self.pos + offset
        return self.tokens[i] if i < len(self.tokens) else (None, None, len(self.text) + 1)

    def take(self):
        tok = self.peek()
        self.pos += 1
        return tok

    def parse(self):
        if not self.tokens:
            raise FilterError('the session filter is empty')
        node = self.parse_or()
        kind, value, where = self.peek()
        if kind is not None:
            raise FilterError("unexpected '%s' at position %d" % (value, where))
        return node

    def parse_or(self):
        parts = [self.parse_and()]
        while self.peek()[:2] == ('kw', 'OR'):
            self.take()
            parts.append(self.parse_and())
        if len(parts) == 1:
            return parts[0]
        return lambda s: any(p(s) for p in parts)

    def parse_and(self):
        parts = [self.parse_unary()]
        while self.peek()[:2] == ('kw', 'AND'):
            self.take()
            parts.append(self.parse_unary())
        if len(parts) == 1:
            return parts[0]
        return lambda s: all(p(s) for p in parts)

    def parse_unary(self):
        kind, value, where = self.peek()
        if (kind, value) == ('kw', 'NOT'):
            self.take()
            inner = self.parse_unary()
            return lambda s: not inner(s)
        if (kind, value) == ('paren', '('):
            self.take()
            inner = self.parse_or()
            kind, value, where = self.take()
            if (kind, value) != ('paren', ')'):
                raise FilterError("expected ')' at position %d" % where)
            return inner
        return self.parse_comparison()

    def parse_comparison(self):
        kind, value, where = self.take()
        if kind is None:
            raise FilterError('unexpected end of the filter, expected a property name')
        if kind != 'word':
            raise FilterError("expected a property name at position %d, got '%s'" % (where, value))
        field = FIELDS_LOWER.get(value.lower())
        if field is None:
            raise FilterError("unknown property '%s' at position %d" % (value, where))
        kind, op, where = self.take()
        negate = False
        if (kind, op) == ('kw', 'NOT'):
            kind, op, where = self.take()
            if (kind, op) != ('kw', 'LIKE'):
                raise FilterError("expected LIKE after NOT at position %d" % where)
            negate = True
        if kind == 'kw' and op == 'LIKE':
            op = 'NOT LIKE' if negate else 'LIKE'
        elif kind != 'op':
            raise FilterError("expected a comparison operator after '%s' at position %d" % (field, where))
        vkind, literal, where = self.take()
        if vkind == 'kw' and literal in ('TRUE', 'FALSE'):
            vkind, literal = 'number', 1 if literal == 'TRUE' else 0
        if vkind not in ('string', 'number'):
            raise FilterError("expected a quoted string or a number at position %d" % where)
        return self.compile(field, op, literal, vkind)

    def compile(self, field, op, literal, vkind):
        if field == 'SessionType':
            names = self.numbering
            if vkind == 'number':
                by_number = {v: k for k, v in names.items()}
                target = by_number.get(literal)
            else:
                target = {k.lower(): k for k in names}.get(literal.lower())
            if op in ('LIKE', 'NOT LIKE'):
                rx = like_regex(str(literal))
                want = op == 'LIKE'
                return lambda s: bool(rx.fullmatch(s.stype)) == want
            if op in ('=', '<>', '!='):
                eq = op == '='
                return lambda s: (s.stype == target) == eq
            rank = names.get(target, literal if vkind == 'number' else -1)
            return lambda s: _cmp(op, names[s.stype], rank)
        getter = FIELD_GETTERS[field]
        if op in ('LIKE', 'NOT LIKE'):
            rx = like_regex(str(literal))
            want = op == 'LIKE'
            return lambda s: bool(rx.fullmatch(str(getter(s)))) == want
        if field in ('IsPublic', 'IsEnded'):
            if vkind == 'string':
                if literal.lower() not in ('true', 'false', '1', '0'):
                    raise FilterError("'%s' is not a boolean for %s" % (literal, field))
                target = literal.lower() in ('true', '1')
            else:
                target = bool(literal)
            return lambda s: _cmp(op, int(getter(s)), int(target))
        numeric = field in ('GuestConnectedCount', 'HostConnectedCount', 'GuestProcessorVirtualCount',
                            'GuestSystemMemoryTotalMegabytes', 'GuestSystemMemoryAvailableMegabytes')
        if numeric:
            try:
                target = float(literal)
            except ValueError:
                raise FilterError("'%s' is not a number for %s" % (literal, field))
            return lambda s: _cmp(op, getter(s), target)
        target = str(literal).casefold()
        if op == '=':
            return lambda s: getter(s).casefold() == target
        return lambda s: _cmp(op, getter(s).casefold(), target)


def compile_filter(text, numbering=None):
    if numbering is None:
        numbering = REAL_TYPES
    return FilterParser(text, numbering).parse()


def match_every_session(_session):
    return True


# ---------------------------------------------------------------------------------------------
# commands
# ---------------------------------------------------------------------------------------------

def command_output(session, command):
    lines = command.replace('\r\n', '\n').split('\n')
    maxlength = 5000
    body = []
    directives = True
    for line in lines:
        stripped = line.strip()
        if directives and stripped.startswith('#'):
            low = stripped.lower()
            if low.startswith('#maxlength='):
                try:
                    maxlength = int(low.split('=', 1)[1])
                except ValueError:
                    pass
                continue
            if low.startswith('#timeout=') or low.startswith('#!'):
                continue
        directives = False
        body.append(line)
    outputs = []
    for line in body:
        text = line.strip()
        if not text:
            continue
        word = text.split(None, 1)[0].lower()
        if word == 'hostname' and text.lower() == 'hostname':
            outputs.append(session.guest['MachineName'])
        elif word == 'echo':
            outputs.append(text[5:].strip() if len(text) > 4 else '')
        elif text.lower() == 'whoami':
            outputs.append(session.guest['LoggedOnUserName'])
        else:
            outputs.append('Ran: %s' % text)
    return '\n'.join(outputs)[:max(maxlength, 0)]


# ---------------------------------------------------------------------------------------------
# installers
# ---------------------------------------------------------------------------------------------

INIT_SCRIPT = '''#!/bin/sh
# connectwisecontrol-%(id)s: simulated ScreenConnect Client service (prints only, starts nothing)
case "$1" in
  start) echo "Starting connectwisecontrol-%(id)s" ;;
  stop) echo "Stopping connectwisecontrol-%(id)s" ;;
  restart) echo "Restarting connectwisecontrol-%(id)s" ;;
  status) echo "connectwisecontrol-%(id)s is running" ;;
  *) echo "Usage: $0 {start|stop|status|restart}"; exit 2 ;;
esac
exit 0
'''


def pad(data, size, label):
    """Deterministic filler up to size bytes."""
    chunk = hashlib.sha256(label.encode()).hexdigest().encode() * 4
    while len(data) < size:
        data += chunk
    return data[:max(size, len(data))]


class Installers:
    def __init__(self, instance_id, public_key):
        self.instance_id = instance_id
        self.public_key = public_key
        self.tmp = None
        self.lock = threading.Lock()
        self.deb_cache = {}

    def launch_query(self, query, host, port):
        params = urllib.parse.parse_qs(query, keep_blank_values=True)
        order = []
        for key in ('e', 'y', 'h', 'p', 'k', 't'):
            if key in params:
                value = params[key][-1]
            elif key == 'h':
                value = host
            elif key == 'p':
                value = '8041'
            elif key == 'k':
                value = self.public_key
            elif key == 'e':
                value = 'Access'
            elif key == 'y':
                value = 'Guest'
            else:
                value = ''
            order.append((key, value))
        cps = params.get('c', [])
        cps = (list(cps) + [''] * 8)[:8]
        order.extend(('c', c) for c in cps)
        return '?' + urllib.parse.urlencode(order, quote_via=urllib.parse.quote)

    def build(self, ext, launch):
        iid = self.instance_id
        name = 'connectwisecontrol-%s' % iid
        if ext == 'deb':
            return self.deb(launch)
        text = ('%s\nClientLaunchParameters=%s\nVersion=%s\n' % (name, launch, CLIENT_VERSION)).encode()
        if ext == 'msi':
            body = (b'\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1' + b'\x00' * 24 +
                    ('ProductName=ScreenConnect Client (%s)\nUpgradeCode={0AF6F3A3-5D1C-4E3B-9B5C-%s}\n'
                     'Manufacturer=ScreenConnect Software\nProductVersion=%s\n' % (iid, iid[:12].upper(), CLIENT_VERSION)).encode() + text)
        elif ext == 'exe':
            body = b'MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00' + b'This program cannot be run in DOS mode.\n' + \
                ('ScreenConnect Client (%s)\n' % iid).encode() + text
        elif ext == 'pkg':
            body = b'xar!\x00\x1c\x00\x01' + ('<pkg-info identifier="%s" version="%s"/>\nidentifier=%s\n'
                                              % (name, CLIENT_VERSION, name)).encode() + text
        elif ext == 'rpm':
            lead_name = name.encode()[:65]
            body = b'\xed\xab\xee\xdb\x03\x00\x00\x00\x00\x01' + lead_name + b'\x00' * (66 - len(lead_name)) + \
                ('Name: %s\nVersion: %s\n' % (name, CLIENT_VERSION)).encode() + text
        else:  # sh
            body = ('#!/bin/sh\n# ScreenConnect Client (%s) installer (simulated; installs nothing)\n'
                    'echo "This would install %s with %s"\nexit 0\n# ' % (iid, name, launch.replace('\n', ' '))).encode()
        return pad(body, 8192, name + ext)

    def deb(self, launch):
        with self.lock:
            data = self.deb_cache.get(launch)
            if data is not None:
                return data
            if self.tmp is None:
                self.tmp = tempfile.mkdtemp(prefix='scsim-')
            name = 'connectwisecontrol-%s' % self.instance_id
            root = os.path.join(self.tmp, 'pkg%d' % len(self.deb_cache))
            os.makedirs(os.path.join(root, 'DEBIAN'))
            opt = os.path.join(root, 'opt', name)
            os.makedirs(opt)
            os.makedirs(os.path.join(root, 'etc', 'init.d'))
            # The real package Depends on a Java runtime; left out so it installs anywhere.
            with open(os.path.join(root, 'DEBIAN', 'control'), 'w') as f:
                f.write('Package: %s\nVersion: %s\nArchitecture: all\nMaintainer: ScreenConnect Simulator '
                        '<simulator@example.invalid>\nSection: net\nPriority: optional\n'
                        'Description: ScreenConnect Client (%s)\n ScreenConnect Client remote support agent '
                        '(simulated package for tests; installs only text files and an init script that prints).\n'
                        % (name, CLIENT_VERSION, self.instance_id))
            with open(os.path.join(opt, 'ClientLaunchParameters.txt'), 'w') as f:
                f.write(launch + '\n')
            with open(os.path.join(opt, 'version.txt'), 'w') as f:
                f.write(CLIENT_VERSION + '\n')
            init = os.path.join(root, 'etc', 'init.d', name)
            with open(init, 'w') as f:
                f.write(INIT_SCRIPT % {'id': self.instance_id})
            os.chmod(init, 0o755)
            for d in (root, os.path.join(root, 'DEBIAN'), opt):
                os.chmod(d, 0o755)
            out = root + '.deb'
            subprocess.run(['dpkg-deb', '--build', '--root-owner-group', root, out], check=True,
                           stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
            with open(out, 'rb') as f:
                data = f.read()
            shutil.rmtree(root, ignore_errors=True)
            self.deb_cache[launch] = data
            return data

    def cleanup(self):
        if self.tmp:
            shutil.rmtree(self.tmp, ignore_errors=True)
            self.tmp = None


CONTENT_TYPES = {'msi': 'application/x-msi', 'exe': 'application/x-msdownload',
                 'pkg': 'application/octet-stream', 'deb': 'application/vnd.debian.binary-package',
                 'rpm': 'application/x-rpm', 'sh': 'text/x-sh'}

NOT_FOUND_HTML = ('<!DOCTYPE html><html><head><title>The resource cannot be found.</title></head><body>'
                  '<h1>Server Error in \'/\' Application.</h1><h2>The resource cannot be found.</h2>'
                  '<p>HTTP 404. The resource you are looking for has been removed, had its name changed, '
                  'or is temporarily unavailable.</p></body></html>')
LOGIN_HTML = ('<html><head><title>ScreenConnect Login</title></head><body><form method="post" '
              'action="/Login"><input name="UserName"/><input name="Password" type="password"/>'
              '</form></body></html>')


# ---------------------------------------------------------------------------------------------
# answers
# ---------------------------------------------------------------------------------------------

class Answer:
    """One HTTP answer. body: bytes; for JSON pass text through json_answer."""

    def __init__(self, status, body=b'', content_type='text/plain; charset=utf-8', headers=None):
        self.status = status
        self.body = body.encode('utf-8') if isinstance(body, str) else body
        self.content_type = content_type
        self.headers = headers or {}


def json_answer(value, status=200):
    return Answer(status, json.dumps(value, ensure_ascii=False), 'application/json; charset=utf-8')


def raw_json_answer(text, status=200):
    return Answer(status, text, 'application/json; charset=utf-8')


def text_answer(status, text):
    return Answer(status, text, 'text/plain; charset=utf-8')


def html_answer(status, text):
    return Answer(status, text, 'text/html; charset=utf-8')


def void_answer():
    return Answer(200, b'', 'application/json')


class Fault(Exception):
    """An answer from deep inside an API method (500 session manager fault and the like)."""

    def __init__(self, answer):
        Exception.__init__(self)
        self.answer = answer


def sm_fault(detail=None):
    return Fault(text_answer(500, 'session manager fault' + (': %s' % detail if detail else '')))


REST_READS = {
    'GetSessionsByFilter': ['sessionFilter'],
    'GetSessionsByName': ['sessionName'],
    'GetSessionBySessionID': ['sessionID'],
    'GetSessionDetailsBySessionID': ['sessionID'],
}
REST_WRITES = ('CreateSession', 'UpdateSessionCustomProperties', 'UpdateSessionName', 'SendCommandToSession',
               'SendMessageToSession', 'AddNoteToSession', 'SendToolboxItemToSession')
RPC_WRITES = ('CreateSessionAsync', 'UpdateSessionAsync')


class Simulator:
    """The ScreenConnect simulator; see the module docstring."""

    RATE_JITTER = 0.0  # seconds of arrival jitter the limiter forgives: none, like a plain token bucket

    def __init__(self, sessions=200, seed=42, spelling='nested', rate_limit=0, rate_burst=30,
                 api_secret='s3cret-rest', api_key='k3y-rpc', oauth_client_id='cid',
                 oauth_client_secret='csecret', token_ttl=3600, allowed_origin=None, instance_id=None,
                 omit_active_connections=False, command_delay=0.2, port=0, certfile=None, keyfile=None,
                 host='127.0.0.1', record=None, extension_id=EXTENSION_ID):
        if spelling not in SPELLINGS:
            raise ValueError('spelling must be one of %s' % ', '.join(SPELLINGS))
        self.session_count = sessions
        self.seed = seed
        self.spelling = spelling
        self.api_secret = api_secret
        self.api_key = api_key
        self.oauth_client_id = oauth_client_id
        self.oauth_client_secret = oauth_client_secret
        self.token_ttl = token_ttl
        self.allowed_origin = allowed_origin
        self.omit_active_connections = omit_active_connections
        self.command_delay = command_delay
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
        import base64
        self.public_key = base64.b64encode(hashlib.sha512(digest.encode()).digest() * 2).decode()
        self.installers = Installers(instance_id, self.public_key)
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
                                 'allowed_origin', 'command_delay', 'token_ttl'}
        if unknown:
            raise ValueError('unknown config key(s): %s' % ', '.join(sorted(unknown)))
        with self.lock:
            if 'spelling' in config:
                if config['spelling'] not in SPELLINGS:
                    raise ValueError('spelling must be one of %s' % ', '.join(SPELLINGS))
                self.spelling = config['spelling']
            if 'rate_limit' in config or 'rate_burst' in config:
                self.set_rate(config.get('rate_limit', self.rate_limit), config.get('rate_burst'))
            if 'omit_active_connections' in config:
                self.omit_active_connections = bool(config['omit_active_connections'])
            if 'allowed_origin' in config:
                self.allowed_origin = config['allowed_origin'] or None
            if 'command_delay' in config:
                self.command_delay = float(config['command_delay'])
            if 'token_ttl' in config:
                self.token_ttl = float(config['token_ttl'])

    def set_faults(self, rules):
        checked = []
        for rule in rules or []:
            if not isinstance(rule, dict) or 'kind' not in rule:
                raise ValueError('a fault rule is an object with at least "kind": %r' % (rule,))
            if rule['kind'] not in ('status', 'after', 'html', 'slow', 'malformed', 'reset', 'truncate'):
                raise ValueError('unknown fault kind %r' % rule['kind'])
            rule = dict(rule)
            rule.setdefault('method', '*')
            rule.setdefault('times', 1)
            checked.append(rule)
        with self.lock:
            self.faults = checked

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
        stype = _session_type(session_type, REAL_TYPES)
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
            s.cps = _pad_properties(custom_properties or [])
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
            _inc(c['by_api'], entry['api'])
            if entry.get('method'):
                _inc(c['by_method'], entry['method'])
            _inc(c['by_status'], str(entry['status']))
            if entry['status'] == 429:
                c['status_429'] += 1

    # ---- rate limit ---------------------------------------------------------------------------
    def take_token(self):
        """None when allowed, else the Retry-After seconds."""
        with self.lock:
            if self.rate_limit <= 0:
                return None
            rate = self.rate_limit / 60.0
            now = time.monotonic()
            self.bucket = min(float(self.rate_burst), self.bucket + (now - self.bucket_time) * rate)
            self.bucket_time = now
            # strict by default (RATE_JITTER 0): clients must absorb their own arrival jitter
            if self.bucket >= 1.0 - rate * self.RATE_JITTER:
                self.bucket -= 1.0
                return None
            self.counters['rate_limited'] += 1
            return max(1, int(math.ceil((1.0 - self.bucket) / rate)))

    def take_fault(self, kind_of_request, method):
        with self.lock:
            for rule in self.faults:
                if rule['times'] == 0:
                    continue
                want = rule.get('method', '*')
                if want == '*' or want == method or (want == 'download' and kind_of_request == 'download'):
                    if rule['times'] > 0:
                        rule['times'] -= 1
                    self.counters['faults_applied'] += 1
                    return dict(rule)
            return None

    # ---- REST ---------------------------------------------------------------------------------
    def rest(self, method, body, headers):
        if method not in REST_READS and method not in REST_WRITES:
            return text_answer(500, 'Web method does not exist')
        secret = headers.get('CTRLAuthHeader')
        if secret is None or secret != self.api_secret:
            return text_answer(401, 'Unauthorized: the CTRLAuthHeader is missing or wrong')
        if self.allowed_origin and headers.get('Origin') != self.allowed_origin:
            return text_answer(403, 'Forbidden: Origin is not the allowed origin (RESTfulAllowedOrigin)')
        try:
            args = self._rest_args(method, body)
            return getattr(self, 'rest_' + method)(args)
        except Fault as fault:
            return fault.answer

    def _rest_args(self, method, body):
        if isinstance(body, dict):
            if method not in REST_READS:
                raise sm_fault('expected an array of arguments')
            names = REST_READS[method]
            for key in body:
                if key not in names:
                    raise Fault(text_answer(500, 'Unknown parameter: %s' % key))
            return [body.get(name) for name in names]
        if body is None:
            return []
        if not isinstance(body, list):
            raise sm_fault('expected an array of arguments')
        return body

    def _session_arg(self, value):
        if not isinstance(value, str) or not GUID_RE.match(value):
            raise sm_fault('invalid session id %r' % (value,))
        s = self.find(value)
        if s is None:
            raise sm_fault('session not found')
        return s

    def _sessions_answer(self, sessions, api):
        with self.lock:  # under the lock, so a write cannot interleave with its cached rendering
            spelling, omit = self.spelling, self.omit_active_connections
            return raw_json_answer('[' + ','.join(session_json(s, spelling, api, omit) for s in sessions) + ']')

    def rest_GetSessionsByFilter(self, args):
        if len(args) != 1:
            raise sm_fault('GetSessionsByFilter takes 1 argument')
        text = args[0]
        if not isinstance(text, str) or not text.strip():
            raise Fault(text_answer(500, 'Session filter is empty: a filter expression is required'))
        try:
            predicate = compile_filter(text, REAL_TYPES)
        except FilterError as error:
            raise Fault(text_answer(500, 'Invalid session filter: %s' % error))
        with self.lock:
            sessions = [s for s in self.fleet.sessions if predicate(s)]
        return self._sessions_answer(sessions, 'rest')

    def rest_GetSessionsByName(self, args):
        if len(args) != 1 or not isinstance(args[0], (str, type(None))):
            raise sm_fault('GetSessionsByName takes 1 string argument')
        name = args[0] or ''
        with self.lock:
            sessions = [s for s in self.fleet.sessions if s.name == name]
        return self._sessions_answer(sessions, 'rest')

    def rest_GetSessionBySessionID(self, args):
        if len(args) != 1:
            raise sm_fault('GetSessionBySessionID takes 1 argument')
        if not isinstance(args[0], str) or not GUID_RE.match(args[0]):
            raise sm_fault('invalid session id %r' % (args[0],))
        s = self.find(args[0])
        return self._sessions_answer([s] if s else [], 'rest')

    def _details(self, s, api):
        with self.lock:
            spelling, omit = self.spelling, self.omit_active_connections
        session = render_session(s, spelling, api, omit)
        events = [render_event(e) for e in self.events_of(s)]
        connections = render_session(s, spelling, api, False)['ActiveConnections']
        return {'Session': session, 'Events': events, 'Connections': connections}

    def rest_GetSessionDetailsBySessionID(self, args):
        if len(args) != 1:
            raise sm_fault('GetSessionDetailsBySessionID takes 1 argument')
        return json_answer(self._details(self._session_arg(args[0]), 'rest'))

    def _count_write(self, method):
        with self.lock:
            _inc(self.counters['writes'], method)

    def create(self, stype, name, is_public, code, cps, host='', by_host=''):
        with self.lock:
            rng = random.Random('create-%s-%d' % (self.seed, len(self.fleet.sessions)))
            s = Session()
            s.sid = make_guid(rng)
            s.event_seed = rng.getrandbits(32)
            s.stype, s.name, s.host, s.is_public, s.code, s.is_ended = stype, name, host, bool(is_public), code, False
            s.cps = cps
            s.guest = empty_guest()
            s.info_time = s.conn_time = s.disc_time = None
            s.created_time = self.now_ticks()
            s.events = [make_event(rng, EV_CREATED, '', s.created_time, by_host)]
            self.fleet.add(s)
            return s

    def rest_CreateSession(self, args):
        if len(args) != 5:
            raise sm_fault('CreateSession takes 5 arguments')
        stype, name, is_public, code, cps = args
        stype = _session_type(stype, REAL_TYPES)
        if stype is None or not isinstance(name, str) or not isinstance(is_public, bool) \
                or not isinstance(code, (str, type(None))):
            raise sm_fault('bad argument')
        s = self.create(stype, name, is_public, code or '', _properties_arg(cps))
        self._count_write('CreateSession')
        return json_answer(render_session(s, self.spelling, 'rest', self.omit_active_connections))

    def rest_UpdateSessionCustomProperties(self, args):
        if len(args) != 2:
            raise sm_fault('UpdateSessionCustomProperties takes 2 arguments')
        s = self._session_arg(args[0])
        values = _properties_arg(args[1])
        with self.lock:
            s.cps = values
            self.touched(s)
        self.add_event(s, EV_MODIFIED_PROPERTIES, json.dumps(values, ensure_ascii=False))
        self._count_write('UpdateSessionCustomProperties')
        return void_answer()

    def rest_UpdateSessionName(self, args):
        if len(args) != 2 or not isinstance(args[1], str):
            raise sm_fault('UpdateSessionName takes 2 arguments')
        s = self._session_arg(args[0])
        with self.lock:
            s.name = args[1]
            self.touched(s)
        self.add_event(s, EV_MODIFIED_NAME, args[1])
        self._count_write('UpdateSessionName')
        return void_answer()

    def rest_SendCommandToSession(self, args):
        if len(args) != 2 or not isinstance(args[1], str):
            raise sm_fault('SendCommandToSession takes 2 arguments')
        s = self._session_arg(args[0])
        self.queue_command(s, args[1])
        self._count_write('SendCommandToSession')
        return void_answer()

    def queue_command(self, s, command):
        ticks = self.add_event(s, EV_QUEUED_COMMAND, command)
        with self.lock:
            if s.online:
                s.pending.append((ticks + int(self.command_delay * TICKS), command_output(s, command)))
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
                    s.pending.append((now + int(self.command_delay * TICKS), command_output(s, command)))
                s.waiting = []
            else:
                s.conns = [c for c in s.conns if c['ProcessType'] != 2]
                s.disc_time = now
                s.events.append(make_event(random.Random('%s-disconnect-%d' % (s.sid, len(s.events))),
                                           EV_DISCONNECTED, '', now))
            s.guest['LastActivityTime'] = now
            self.touched(s)

    def rest_SendMessageToSession(self, args):
        if len(args) == 3 and all(isinstance(a, str) for a in args):
            session_id, host, message = args
        elif len(args) == 2 and isinstance(args[1], str):
            (session_id, message), host = args, ''
        else:
            raise sm_fault('SendMessageToSession takes 2 arguments')
        s = self._session_arg(session_id)
        self.add_event(s, EV_QUEUED_MESSAGE, message, host)
        if s.online:
            self.add_event(s, EV_SENT_MESSAGE, message, host)
        self._count_write('SendMessageToSession')
        return void_answer()

    def rest_AddNoteToSession(self, args):
        if len(args) != 2 or not isinstance(args[1], str):
            raise sm_fault('AddNoteToSession takes 2 arguments')
        s = self._session_arg(args[0])
        self.add_event(s, EV_NOTE, args[1])
        self._count_write('AddNoteToSession')
        return void_answer()

    def rest_SendToolboxItemToSession(self, args):
        if len(args) != 2 or not isinstance(args[1], str):
            raise sm_fault('SendToolboxItemToSession takes 2 arguments')
        s = self._session_arg(args[0])
        self.add_event(s, EV_QUEUED_TOOL, args[1])
        self._count_write('SendToolboxItemToSession')
        return void_answer()

    # ---- OAuth and JSON-RPC --------------------------------------------------------------------
    def oauth_token(self, form):
        if form.get('grant_type') != 'client_credentials':
            return json_answer({'error': 'unsupported_grant_type'}, 400)
        if form.get('client_id') != self.oauth_client_id or form.get('client_secret') != self.oauth_client_secret:
            return json_answer({'error': 'invalid_client'}, 401)
        token = '%032x' % random.SystemRandom().getrandbits(128)
        with self.lock:
            self.tokens[token] = time.monotonic() + self.token_ttl
            self.counters['token_issued'] += 1
        ttl = self.token_ttl
        return json_answer({'access_token': token, 'token_type': 'Bearer',
                            'expires_in': int(ttl) if float(ttl).is_integer() else ttl})

    def rpc_authorized(self, headers):
        auth = headers.get('Authorization') or ''
        if not auth.startswith('Bearer '):
            return False
        token = auth[7:].strip()
        if self.api_key and token == self.api_key:
            return True
        with self.lock:
            expiry = self.tokens.get(token)
            if expiry is None:
                return False
            if expiry <= time.monotonic():
                del self.tokens[token]
                return False
        return True

    def rpc(self, body, headers):
        rid = body.get('id') if isinstance(body, dict) else None

        def envelope(result=None, error=None, status=200):
            return json_answer({'id': rid, 'result': result, 'error': error}, status)

        if not self.rpc_authorized(headers):
            return envelope(error={'code': 401, 'message': 'Unauthorized'}, status=401)
        if not isinstance(body, dict) or not isinstance(body.get('method'), str):
            return envelope(error={'code': -32600, 'message': 'Invalid Request'})
        method = body['method']
        params = body.get('params') or {}
        handler = getattr(self, 'rpc_' + method, None)
        if handler is None:
            return envelope(error={'code': -32601, 'message': 'Method not found'})
        if not isinstance(params, dict):
            return envelope(error={'code': -32602, 'message': 'Invalid params: expected an object'})
        try:
            result = handler(params)
        except RpcError as error:
            return envelope(error={'code': error.code, 'message': error.message}, status=error.status)
        if isinstance(result, Answer):  # a raw pre-rendered result list
            text = '{"id":%s,"result":%s,"error":null}' % (json.dumps(rid), result.body.decode('utf-8'))
            return raw_json_answer(text)
        return envelope(result=result)

    def _rpc_session(self, params):
        sid = params.get('sessionID')
        s = self.find(sid) if isinstance(sid, str) else None
        if s is None:
            raise RpcError(404, 'Session not found', 404)
        return s

    def rpc_GetSessions(self, params):
        flt = params.get('sessionFilter')
        if flt is None or flt == {} or flt == '':
            predicate = match_every_session
        elif isinstance(flt, str):
            try:
                predicate = compile_filter(flt, SEED_TYPES)
            except FilterError as error:
                raise RpcError(-32602, 'Invalid session filter: %s' % error)
        elif isinstance(flt, dict):
            predicate = dict_filter(flt)
        else:
            raise RpcError(-32602, 'Invalid params: sessionFilter must be an object or a string')
        with self.lock:
            sessions = [s for s in self.fleet.sessions if predicate(s)]
        return self._sessions_answer(sessions, 'rpc')

    def rpc_GetSession(self, params):
        s = self._rpc_session(params)
        return render_session(s, self.spelling, 'rpc', self.omit_active_connections)

    def rpc_GetSessionDetails(self, params):
        return self._details(self._rpc_session(params), 'rpc')

    def rpc_CreateSessionAsync(self, params):
        stype = _session_type(params.get('sessionType', 'Access'), SEED_TYPES)
        name = params.get('name')
        if stype is None or not isinstance(name, str):
            raise RpcError(-32602, 'Invalid params: sessionType and name are required')
        try:
            cps = _properties_arg(params.get('customPropertyValues') or [])
        except Fault:
            raise RpcError(-32602, 'Invalid params: customPropertyValues must be at most 8 strings')
        s = self.create(stype, name, bool(params.get('isPublic', False)), params.get('code') or '', cps,
                        host=params.get('host') or '', by_host=params.get('byHost') or '')
        self._count_write('CreateSessionAsync')
        return render_session(s, self.spelling, 'rpc', self.omit_active_connections)

    def rpc_UpdateSessionAsync(self, params):
        s = self._rpc_session(params)
        by_host = params.get('byHost') or ''
        changes = []
        with self.lock:
            if params.get('name') is not None and params['name'] != s.name:
                s.name = str(params['name'])
                changes.append((EV_MODIFIED_NAME, s.name))
            if params.get('isPublic') is not None and bool(params['isPublic']) != s.is_public:
                s.is_public = bool(params['isPublic'])
                changes.append((EV_MODIFIED_IS_PUBLIC, str(s.is_public)))
            if params.get('code') is not None and params['code'] != s.code:
                s.code = str(params['code'])
                changes.append((EV_MODIFIED_CODE, s.code))
            if params.get('customPropertyValues') is not None:
                try:
                    cps = _properties_arg(params['customPropertyValues'])
                except Fault:
                    raise RpcError(-32602, 'Invalid params: customPropertyValues must be at most 8 strings')
                s.cps = cps
                changes.append((EV_MODIFIED_PROPERTIES, json.dumps(cps, ensure_ascii=False)))
            self.touched(s)
        for etype, data in changes:
            self.add_event(s, etype, data, by_host)
        self._count_write('UpdateSessionAsync')
        return render_session(s, self.spelling, 'rpc', self.omit_active_connections)

    # ---- downloads -----------------------------------------------------------------------------
    def download(self, ext, query, request_host):
        launch = self.installers.launch_query(query, request_host, self.port)
        with self.lock:
            _inc(self.counters['downloads'], ext)
        data = self.installers.build(ext, launch)
        return Answer(200, data, CONTENT_TYPES[ext],
                      {'Content-Disposition': 'attachment; filename="ScreenConnect.ClientSetup.%s"' % ext})


class RpcError(Exception):
    def __init__(self, code, message, status=200):
        Exception.__init__(self, message)
        self.code, self.message, self.status = code, message, status


def dict_filter(flt):
    tests = []
    for key, value in flt.items():
        if key == 'SessionType':
            target = _session_type(value, SEED_TYPES)
            tests.append(lambda s, t=target: s.stype == t)
        elif key == 'CustomPropertyValues':
            tests.append(lambda s, v=value: s.cps == v)
        elif key in FIELD_GETTERS:
            getter = FIELD_GETTERS[key]
            if isinstance(value, str):
                tests.append(lambda s, g=getter, v=value.casefold(): str(g(s)).casefold() == v)
            else:
                tests.append(lambda s, g=getter, v=value: g(s) == v)
        else:
            raise RpcError(-32602, 'Invalid params: unknown filter property %s' % key)
    return lambda s: all(t(s) for t in tests)


def _session_type(value, numbering):
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return {v: k for k, v in numbering.items()}.get(value)
    if isinstance(value, str):
        if value.isdigit():
            return {v: k for k, v in numbering.items()}.get(int(value))
        return {'access': 'Access', 'support': 'Support', 'meeting': 'Meeting', 'meet': 'Meeting'}.get(value.lower())
    return None


def _pad_properties(values):
    values = ['' if v is None else str(v) for v in values]
    return (values + [''] * 8)[:8]


def _properties_arg(values):
    if values is None:
        values = []
    if not isinstance(values, list) or len(values) > 8 or not all(isinstance(v, (str, type(None))) for v in values):
        raise sm_fault('custom property values must be a list of at most 8 strings')
    return _pad_properties(values)


def _inc(counter, key):
    counter[key] = counter.get(key, 0) + 1


# ---------------------------------------------------------------------------------------------
# HTTP
# ---------------------------------------------------------------------------------------------

REST_PATH = re.compile(r'^/App_Extensions/([^/]+)/Service\.ashx/([^/]*)$', re.IGNORECASE)
BIN_PATH = re.compile(r'^/Bin/([^/]+)\.ClientSetup\.([^/.]+)$')
STATUS_TEXT = {429: 'Too many requests', 500: 'Internal server error', 502: 'Bad Gateway',
               503: 'Service Unavailable', 504: 'Gateway Timeout'}
RECORDED_HEADERS = ('Origin', 'Content-Type', 'User-Agent')


class SimHandler(BaseHTTPRequestHandler):
    sim = None  # set on the per-simulator subclass
    protocol_version = 'HTTP/1.1'
    server_version = 'Microsoft-IIS/10.0'
    sys_version = ''

    def log_message(self, format, *args):  # quiet
        pass

    def do_GET(self):
        self.handle_any('GET')

    def do_POST(self):
        self.handle_any('POST')

    def do_PUT(self):
        self.handle_any('PUT')

    def do_DELETE(self):
        self.handle_any('DELETE')

    def do_HEAD(self):
        self.handle_any('HEAD')

    def read_body(self):
        length = int(self.headers.get('Content-Length') or 0)
        return self.rfile.read(length) if length > 0 else b''

    def handle_any(self, verb):
        sim = self.sim
        raw = self.read_body()
        parsed = urllib.parse.urlsplit(self.path)
        path = parsed.path
        if path.startswith('/_sim/'):
            return self.send(self.control(verb, path, raw))
        seq = sim.next_seq()
        started = time.time()
        api, method, args = 'other', None, None
        body = None
        body_error = None
        rest = REST_PATH.match(path)
        binm = BIN_PATH.match(path)
        if rest and verb == 'POST':
            api, method = 'rest', rest.group(2)
        elif path.lower() == '/services/pageservice.ashx' and verb == 'POST':
            api = 'rpc'
        elif path.lower() == '/oauth/token' and verb == 'POST':
            api, method = 'oauth', 'OAuthToken'
        elif binm and verb in ('GET', 'HEAD'):
            api, method = 'download', 'download'
        if api in ('rest', 'rpc'):
            if raw.strip():
                try:
                    body = json.loads(raw.decode('utf-8'))
                except ValueError as error:
                    body_error = str(error)
                    args = raw.decode('utf-8', 'replace')
            if body_error is None:
                if api == 'rpc':
                    method = body.get('method') if isinstance(body, dict) else None
                    args = body.get('params') if isinstance(body, dict) else body
                else:
                    args = body
        elif api == 'oauth':
            form = dict(urllib.parse.parse_qsl(raw.decode('utf-8', 'replace'), keep_blank_values=True))
            args = {k: ('********' if k == 'client_secret' else v) for k, v in form.items()}
        elif api == 'download':
            query = urllib.parse.parse_qs(parsed.query, keep_blank_values=True)
            args = {k: (v if k == 'c' else v[-1]) for k, v in query.items()}
            args['ext'] = binm.group(2).lower()
        headers = {name: self.headers.get(name) for name in RECORDED_HEADERS if self.headers.get(name) is not None}
        headers['CTRLAuthHeader'] = self.headers.get('CTRLAuthHeader') is not None
        headers['Authorization'] = self.headers.get('Authorization') is not None
        entry = {'seq': seq, 'time': started, 'api': api, 'http_method': verb, 'path': path,
                 'method': method, 'args': args, 'status': None, 'headers': headers}
        try:
            answer, fault, perform_first = self.decide(api, method, path)
            if answer is None:
                answer = self.perform(api, method, body, body_error, raw, rest, binm, parsed, entry)
                if fault is not None and perform_first:
                    status = int(fault.get('status', 502))
                    answer = text_answer(status, fault.get('body', STATUS_TEXT.get(status, 'Server error')))
            if fault is not None and fault['kind'] == 'reset':
                entry['status'] = 0
                sim.record(entry)
                self.close_connection = True
                try:
                    self.connection.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                return
            if fault is not None and fault['kind'] == 'truncate':
                entry['status'] = answer.status
                sim.record(entry)
                return self.send(answer, truncate=True)
        except Exception as error:  # a bug in the simulator: answer 500, keep serving
            import traceback
            traceback.print_exc()
            answer = text_answer(500, 'simulator error: %s' % error)
        entry['status'] = answer.status
        sim.record(entry)
        if verb == 'HEAD':
            answer = Answer(answer.status, answer.body, answer.content_type, answer.headers)
            return self.send(answer, head=True)
        self.send(answer)

    def decide(self, api, method, path):
        """(answer or None, fault rule or None, perform_first)."""
        sim = self.sim
        if api in ('rest', 'rpc', 'oauth'):
            retry = sim.take_token()
            if retry is not None:
                return Answer(429, 'Too many requests: rate limit exceeded', 'text/plain; charset=utf-8',
                              {'Retry-After': str(retry)}), None, False
        if api == 'other':
            return None, None, False
        fault = sim.take_fault(api, method)
        if fault is None:
            return None, None, False
        kind = fault['kind']
        if kind == 'status':
            status = int(fault.get('status', 500))
            headers = {}
            if fault.get('retry_after') is not None:
                headers['Retry-After'] = str(fault['retry_after'])
            default = STATUS_TEXT.get(status, 'Server error')
            return Answer(status, fault.get('body', default), 'text/plain; charset=utf-8', headers), fault, False
        if kind == 'html':
            return html_answer(200, LOGIN_HTML), fault, False
        if kind == 'malformed':
            return raw_json_answer('[{"SessionID": "5523a541-96b3-4870-9a18-38b6734dbd78", "Name": "WS-0'), fault, False
        if kind == 'reset':
            return Answer(0), fault, False
        if kind == 'slow':
            time.sleep(float(fault.get('seconds', 2)))
            return None, None, False
        if kind == 'after':
            return None, fault, True
        return None, fault, False  # truncate: perform, then cut the body

    def perform(self, api, method, body, body_error, raw, rest, binm, parsed, entry):
        sim = self.sim
        if api == 'rest':
            if rest.group(1).lower() != sim.extension_id:
                return html_answer(404, NOT_FOUND_HTML)
            if body_error is not None:
                return text_answer(500, 'Invalid JSON primitive: %s' % body_error)
            return sim.rest(method, body, self.headers)
        if api == 'rpc':
            if body_error is not None:
                return json_answer({'id': None, 'result': None, 'error': {'code': -32700, 'message': 'Parse error'}})
            return sim.rpc(body, self.headers)
        if api == 'oauth':
            form = dict(urllib.parse.parse_qsl(raw.decode('utf-8', 'replace'), keep_blank_values=True))
            return sim.oauth_token(form)
        if api == 'download':
            ext = binm.group(2).lower()
            if binm.group(2) not in CONTENT_TYPES:
                return html_answer(404, NOT_FOUND_HTML)
            host = (self.headers.get('Host') or sim.host).rsplit(':', 1)[0] if self.headers.get('Host') else sim.host
            return sim.download(ext, parsed.query, host)
        return html_answer(404, NOT_FOUND_HTML)

    def control(self, verb, path, raw):
        sim = self.sim
        try:
            payload = json.loads(raw.decode('utf-8')) if raw.strip() else None
        except ValueError as error:
            return text_answer(400, 'invalid JSON: %s' % error)
        try:
            if verb == 'GET' and path == '/_sim/requests':
                return json_answer(sim.requests)
            if verb == 'GET' and path == '/_sim/stats':
                return json_answer(sim.stats())
            if verb == 'GET' and path == '/_sim/config':
                return json_answer({'spelling': sim.spelling, 'rate_limit': sim.rate_limit,
                                    'rate_burst': sim.rate_burst, 'allowed_origin': sim.allowed_origin,
                                    'omit_active_connections': sim.omit_active_connections,
                                    'command_delay': sim.command_delay, 'instance_id': sim.instance_id,
                                    'extension_id': sim.extension_id})
            if verb == 'POST' and path.startswith('/_sim/sessions/') and path.endswith(('/connect', '/disconnect')):
                sid, _sep, action = path[len('/_sim/sessions/'):].rpartition('/')
                s = sim.find(sid)
                if s is None:
                    return json_answer({'error': 'no such session'}, 404)
                sim.set_online(s, action == 'connect')
                return json_answer({'ok': True, 'online': s.online})
            if verb == 'GET' and path.startswith('/_sim/sessions/'):
                s = sim.find(path[len('/_sim/sessions/'):])
                if s is None:
                    return json_answer({'error': 'no such session'}, 404)
                return json_answer(sim.raw_state(s))
            if verb == 'POST' and path == '/_sim/reset':
                sim.reset(fleet=bool((payload or {}).get('fleet')))
                return json_answer({'ok': True})
            if verb == 'POST' and path == '/_sim/faults':
                sim.set_faults(payload or [])
                return json_answer({'ok': True, 'faults': len(sim.faults)})
            if verb == 'POST' and path == '/_sim/config':
                sim.configure(**(payload or {}))
                return json_answer({'ok': True})
            if verb == 'POST' and path == '/_sim/sessions':
                return json_answer({'SessionID': sim.add_session(**(payload or {}))})
            if verb == 'POST' and path == '/_sim/revoke-tokens':
                sim.revoke_tokens()
                return json_answer({'ok': True})
        except (TypeError, ValueError) as error:
            return text_answer(400, str(error))
        return text_answer(404, 'unknown control endpoint %s %s' % (verb, path))

    def send(self, answer, truncate=False, head=False):
        body = answer.body
        try:
            self.send_response(answer.status)
            self.send_header('Content-Type', answer.content_type)
            for key, value in answer.headers.items():
                self.send_header(key, value)
            self.send_header('Content-Length', str(len(body)))
            if truncate:
                self.send_header('Connection', 'close')
                self.close_connection = True
            self.end_headers()
            if head:
                return
            if truncate:
                self.wfile.write(body[:max(1, len(body) // 3)])
                self.wfile.flush()
                try:
                    self.connection.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
            else:
                self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError, ssl.SSLError):
            self.close_connection = True


# ---------------------------------------------------------------------------------------------
# CLI
# ---------------------------------------------------------------------------------------------

def main(argv=None):
    parser = argparse.ArgumentParser(
        prog='screenconnect_sim.py',
        description='A ScreenConnect server simulator (REST extension, Session Manager JSON-RPC, '
                    'OAuth, installer downloads) for testing msp.screenconnect. Runs until SIGTERM/SIGINT.',
        epilog='Control endpoints (no auth, not rate limited): GET /_sim/requests, GET /_sim/stats, '
               'POST /_sim/reset, POST /_sim/faults, POST /_sim/config, POST /_sim/sessions, '
               'POST /_sim/revoke-tokens, GET /_sim/sessions/<id>, POST /_sim/sessions/<id>/connect|disconnect. JSON-RPC: an unknown method answers '
               'HTTP 200 with the error envelope {"code": -32601, "message": "Method not found"}; '
               'GetSession of an unknown id answers HTTP 404 with the envelope.')
    parser.add_argument('--host', default='127.0.0.1', help='address to listen on (default 127.0.0.1)')
    parser.add_argument('--port', type=int, default=0, help='port (default 0 = any free port)')
    parser.add_argument('--port-file', help='write the URL to this file once listening (atomically)')
    parser.add_argument('--sessions', type=int, default=200, help='number of generated sessions (default 200)')
    parser.add_argument('--seed', type=int, default=42, help='fleet seed: same seed, same fleet (default 42)')
    parser.add_argument('--spelling', choices=SPELLINGS, default='nested',
                        help='Session object spelling: nested (REST, real), flat (Guest* on the session), '
                             'seed (the seed document\'s mix)')
    parser.add_argument('--rate-limit', type=float, default=0, help='requests per minute, 0 = unlimited')
    parser.add_argument('--rate-burst', type=int, default=30, help='token bucket size (default 30)')
    parser.add_argument('--api-secret', default='s3cret-rest', help='REST CTRLAuthHeader secret')
    parser.add_argument('--api-key', default='k3y-rpc', help='JSON-RPC Bearer API key')
    parser.add_argument('--oauth-client-id', default='cid')
    parser.add_argument('--oauth-client-secret', default='csecret')
    parser.add_argument('--token-ttl', type=float, default=3600, help='OAuth token lifetime in seconds')
    parser.add_argument('--allowed-origin', help='when set, the REST Origin header must equal it (else 403)')
    parser.add_argument('--instance-id', help='16 lower-case hex digits (default derived from the seed)')
    parser.add_argument('--omit-active-connections', action='store_true',
                        help='leave ActiveConnections out of session lists')
    parser.add_argument('--command-delay', type=float, default=0.2,
                        help='seconds until a queued command on an online guest shows its RanCommand event')
    parser.add_argument('--record', help='append each recorded request to this JSON lines file')
    parser.add_argument('--certfile', help='serve HTTPS with this certificate (PEM)')
    parser.add_argument('--keyfile', help='private key of --certfile')
    args = parser.parse_args(argv)
    if bool(args.certfile) != bool(args.keyfile):
        parser.error('--certfile and --keyfile go together')
    try:
        sim = Simulator(sessions=args.sessions, seed=args.seed, spelling=args.spelling, rate_limit=args.rate_limit,
                        rate_burst=args.rate_burst, api_secret=args.api_secret, api_key=args.api_key,
                        oauth_client_id=args.oauth_client_id, oauth_client_secret=args.oauth_client_secret,
                        token_ttl=args.token_ttl, allowed_origin=args.allowed_origin, instance_id=args.instance_id,
                        omit_active_connections=args.omit_active_connections, command_delay=args.command_delay,
                        port=args.port, certfile=args.certfile, keyfile=args.keyfile, host=args.host,
                        record=args.record)
    except ValueError as error:
        parser.error(str(error))
    sim.start()
    done = threading.Event()

    def stop(signum, frame):
        done.set()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    print('ScreenConnect simulator listening on %s (%d sessions)' % (sim.url, len(sim.fleet.sessions)), flush=True)
    if args.port_file:
        directory = os.path.dirname(os.path.abspath(args.port_file))
        fd, tmp = tempfile.mkstemp(dir=directory, prefix='.port-')
        with os.fdopen(fd, 'w') as f:
            f.write(sim.url)
        os.replace(tmp, args.port_file)
    while not done.wait(0.5):
        pass
    sim.stop()
    return 0


if __name__ == '__main__':
    sys.exit(main())
