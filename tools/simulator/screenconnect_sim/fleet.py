"""The fleet and the shapes of a session: generated sessions, their events, and the Session object
as each API and spelling renders it. Deterministic from the fleet seed (the random generator's seed)."""

import datetime
import json
import random
import re

EXTENSION_ID = '2d558935-686a-4bd0-9991-07539f5fe749'
CLIENT_VERSION = '25.4.16.9293'
NEVER = '0001-01-01T00:00:00'
# The three shapes of guest data (docs/screenconnect-api.md, section 3.2).
SPELLINGS = ('nested', 'flat', 'mixed')
# Earlier name of 'mixed', still accepted so existing callers keep working.
SPELLING_ALIASES = {'seed': 'mixed'}

REAL_TYPES = {'Support': 0, 'Meeting': 1, 'Access': 2}
# The Session Manager JSON-RPC API numbers session types its own way (docs/screenconnect-api.md, 3.1).
RPC_TYPES = {'Support': 1, 'Access': 2, 'Meeting': 3}
REAL_TYPES_BY_NUMBER = {v: k for k, v in REAL_TYPES.items()}
RPC_TYPES_BY_NUMBER = {v: k for k, v in RPC_TYPES.items()}

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
# the mixed spelling's names inside GuestInfo
MIXED_GUEST_NAMES = {'PrivateNetworkAddress': 'GuestPrivateIpAddress',
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


def public_address(s):
    """The address the server sees a guest connect from (a documentation range, 203.0.113.0/24)."""
    if not s.guest['MachineName']:
        return ''
    return '203.0.113.%d' % (int(s.sid[:2], 16) % 254 + 1)


def make_event(rng, etype, data, ticks, host=''):
    return {'EventID': make_guid(rng), 'EventType': etype, 'Data': data, 'Time': ticks, 'Host': host}


def render_event(e):
    return {'EventID': e['EventID'], 'EventType': e['EventType'], 'Data': e['Data'],
            'Time': fmt_time(e['Time']), 'Host': e['Host']}


def spelling_of(name):
    """The spelling's name ('seed' gives 'mixed'); ValueError naming the known ones."""
    name = SPELLING_ALIASES.get(name, name)
    if name not in SPELLINGS:
        raise ValueError('spelling must be one of %s' % ', '.join(SPELLINGS))
    return name


def render_session(s, spelling, api, omit_connections=False):
    """The Session object as the given API and spelling answer it (a dict)."""
    numbering = RPC_TYPES if api == 'rpc' else REAL_TYPES
    out = {'SessionID': s.sid, 'SessionType': numbering[s.stype], 'Name': s.name, 'Host': s.host,
           'IsPublic': s.is_public, 'Code': s.code, 'IsEnded': s.is_ended,
           'CustomPropertyValues': list(s.cps)}
    if not omit_connections:
        conns = []
        for c in s.conns:
            pt = c['ProcessType']
            if spelling == 'mixed':
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
        # Flat answers also carry the address the server sees the guest at: public, not the private one.
        out['GuestNetworkAddress'] = public_address(s)
    else:
        info = {}
        for key in GUEST_KEYS:
            value = g[key]
            if key in GUEST_TIME_KEYS:
                value = fmt_time(value)
            info[MIXED_GUEST_NAMES.get(key, key) if spelling == 'mixed' else key] = value
        out['GuestInfo'] = info
    return out


def session_json(s, spelling, api, omit):
    key = (spelling, api, omit)
    text = s.cache.get(key)
    if text is None:
        text = json.dumps(render_session(s, spelling, api, omit), ensure_ascii=False, separators=(',', ':'))
        s.cache[key] = text
    return text


def session_type_of(value, numbering):
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return {v: k for k, v in numbering.items()}.get(value)
    if isinstance(value, str):
        if value.isdigit():
            return {v: k for k, v in numbering.items()}.get(int(value))
        return {'access': 'Access', 'support': 'Support', 'meeting': 'Meeting', 'meet': 'Meeting'}.get(value.lower())
    return None


def pad_properties(values):
    values = ['' if v is None else str(v) for v in values]
    return (values + [''] * 8)[:8]
