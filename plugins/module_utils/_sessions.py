# -*- coding: utf-8 -*-
# Copyright: msp.screenconnect contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""One normalized session out of the three spellings real servers send, and safe filters.

A session travels one way: server answer -> normalize_sessions() -> module result or hostvars.
Nothing downstream reads server field names again. Server data is untrusted: a bad entry or field
gives a warning, never an exception other than SessionDataError.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import datetime
import re

# The RESTful API Manager uses the server's real numbering; the Session Manager JSON-RPC API its own
# (docs/screenconnect-api.md, 3.1).
# Access is 2 in both, which is why mixing them up goes unnoticed until a Meeting shows up.
SESSION_TYPES_BY_API = {
    'rest': {0: 'support', 1: 'meeting', 2: 'access'},
    'session_manager': {1: 'support', 2: 'access', 3: 'meeting'},
}
SESSION_TYPE_NAMES = {'support': 'support', 'meeting': 'meeting', 'meet': 'meeting', 'access': 'access'}
# The filter language spells the types this way (CreateSession takes the number: session_type_number).
SERVER_SESSION_TYPE = {'support': 'Support', 'meeting': 'Meeting', 'access': 'Access'}
GUEST_PROCESS_TYPE = 2
# Event types of session details that modules read.
QUEUED_COMMAND_EVENT = 44
RAN_COMMAND_EVENT = 70

DEFAULT_PROPERTY_NAMES = {'company': 1, 'site': 2, 'tag': 3}
CUSTOM_PROPERTY_SLOTS = 8

_GUID_RE = re.compile(r'^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$')
_PROPERTY_NAME_RE = re.compile(r'^[a-z_][a-z0-9_]*$')
_FILTER_FIELD_RE = re.compile(r'^[A-Za-z][A-Za-z0-9]*$')
_FILTER_OPERATORS = ('=', '<>', '>', '<', '>=', '<=', 'LIKE', 'NOT LIKE')
_DOTNET_DATE_RE = re.compile(r'^/Date\((-?\d+)([+-]\d{4})?\)/$')
_ISO_RE = re.compile(
    r'^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?\s*(Z|[+-]\d{2}:?\d{2})?$')
# A time as most answers give it: UTC, year 1000 or later (strftime writes those with 4 digits).
_PLAIN_UTC_RE = re.compile(r'^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(?:\.\d+)?Z?$')
_EPOCH = datetime.datetime(1970, 1, 1)
# A number in a time field is milliseconds. Below this (September 2001 as a date) it is an age,
# milliseconds before the answer (PageService event times), never a date in 1970.
_MS_AGE_LIMIT = 10 ** 12
# The echo cmd prints before a command's output: its prompt (a drive path and '>') and the command.
_CMD_ECHO_RE = re.compile(r'^\s*(?:[A-Za-z]:\\|\\\\)[^>\r\n]*>')

# Normalized guest key -> the server's base field name, plus the mixed spelling's odd aliases.
# Each base name is looked up as GuestInfo.<Name>, GuestInfo.Guest<Name> (the mixed spelling) and
# Guest<Name> on the session itself (the flat spelling): docs/screenconnect-api.md, 3.2.
_GUEST_FIELDS = (
    ('machine_name', ('MachineName',)),
    ('os_name', ('OperatingSystemName',)),
    ('os_version', ('OperatingSystemVersion',)),
    ('os_family', ()),
    ('processor_name', ('ProcessorName',)),
    ('processor_count', ('ProcessorVirtualCount',)),
    ('memory_total_mb', ('SystemMemoryTotalMegabytes',)),
    ('memory_available_mb', ('SystemMemoryAvailableMegabytes',)),
    ('private_ip', ('PrivateNetworkAddress', 'PrivateIpAddress')),
    ('serial_number', ('MachineSerialNumber',)),
    ('domain', ('MachineDomain',)),
    ('logged_on_user', ('LoggedOnUserName',)),
    ('client_version', ('ClientVersion',)),
)
_GUEST_INT_FIELDS = ('processor_count', 'memory_total_mb', 'memory_available_mb')

_LINUX_WORDS = ('linux', 'ubuntu', 'debian', 'red hat', 'rhel', 'centos', 'rocky', 'alma',
                'fedora', 'suse', 'mint', 'amazon', 'oracle', 'arch', 'gentoo', 'raspbian')


class SessionDataError(ValueError):
    """A server answer that is not a session at all."""


def is_session_id(value):
    return isinstance(value, str) and bool(_GUID_RE.match(value))


def utc_now():
    """Now, as a naive UTC datetime (the form parse_moment answers)."""
    return datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None)


def parse_moment(value, now=None):
    """Server time -> naive UTC datetime (microseconds kept), or None for no value or one that is
    no time (see read_moment, which says why)."""
    try:
        return read_moment(value, now)
    except ValueError:
        return None


def read_moment(value, now=None):
    """Server time -> naive UTC datetime (microseconds kept), or None for no value; ValueError
    for a value that is no time or out of datetime's range (years 1-9999).

    Real answers carry 7 fractional digits, '0001-01-01T00:00:00' for "never" and sometimes no
    zone (which means UTC); '/Date(ms)/' is not expected but must not crash. A number is
    milliseconds: since 1970 when large, before `now` (default: this moment) when small, as
    PageService gives event times.
    """
    if value is None:
        return None
    try:
        return _read_moment(value, now)
    except (OverflowError, ValueError, TypeError):
        raise ValueError('is no time in range')


def _read_moment(value, now):
    if isinstance(value, (bool, dict, list)):
        raise ValueError(value)
    if isinstance(value, (int, float)):
        if abs(value) < _MS_AGE_LIMIT:
            return (now or utc_now()) - datetime.timedelta(milliseconds=value)
        return _EPOCH + datetime.timedelta(milliseconds=value)
    text = str(value).strip()
    if not text:
        return None
    match = _DOTNET_DATE_RE.match(text)
    if match:
        moment = _EPOCH + datetime.timedelta(milliseconds=int(match.group(1)))
        return None if moment.year <= 1 else moment
    match = _ISO_RE.match(text)
    if not match:
        raise ValueError(value)
    year, month, day, hour, minute, second = (int(part) for part in match.groups()[:6])
    if year <= 1:
        return None
    moment = datetime.datetime(year, month, day, hour, minute, second, int((match.group(7) or '0')[:6].ljust(6, '0')))
    zone = match.group(8)
    if zone and zone != 'Z':
        sign = -1 if zone[0] == '-' else 1
        digits = zone[1:].replace(':', '')
        offset = datetime.timedelta(hours=int(digits[:2]), minutes=int(digits[2:]))
        moment -= sign * offset
    return moment


def parse_time(value, now=None):
    """Server time -> 'YYYY-MM-DDTHH:MM:SSZ' (UTC), or None for no value (see parse_moment)."""
    moment = parse_moment(value, now)
    if moment is None or moment.year <= 1:
        return None
    return moment.strftime('%Y-%m-%dT%H:%M:%SZ')


def session_type_name(value, api='rest'):
    """SessionType as a number (numbered per API) or a name -> 'access' | 'support' | 'meeting'."""
    if isinstance(value, bool):
        return 'unknown'
    if isinstance(value, int):
        return SESSION_TYPES_BY_API.get(api, SESSION_TYPES_BY_API['rest']).get(value, 'unknown')
    if not isinstance(value, str):
        return 'unknown'
    text = value.strip()
    if re.match(r'^[0-9]{1,3}$', text):
        return session_type_name(int(text), api)
    return SESSION_TYPE_NAMES.get(text.lower(), 'unknown')


def session_type_number(session_type, api):
    """'access' | 'support' | 'meeting' -> the number `api` uses for it."""
    for number, name in SESSION_TYPES_BY_API[api].items():
        if name == session_type:
            return number
    raise ValueError('unknown session type %r' % (session_type,))


def os_family(os_name):
    name = (os_name or '').lower()
    if 'windows' in name:
        return 'windows'
    if 'mac' in name or 'os x' in name or 'darwin' in name:
        return 'macos'
    if any(word in name for word in _LINUX_WORDS):
        return 'linux'
    return 'unknown'


def _text(value):
    return '' if value is None else str(value)


def _int_or_none(value):
    if value is None or value == '':
        return None
    try:
        return int(value)
    except (TypeError, ValueError, OverflowError):
        return None


def _show(value, limit=60):
    """A server value for a message: repr (control characters and lone surrogates escaped), cut short."""
    try:
        text = repr(value)
    except ValueError:  # an int too long for repr() (Python 3.11+)
        return 'a number of over 4000 digits'
    return text if len(text) <= limit else text[:limit - 3] + '...'


class _Reader:
    """Reads the fields of one server session; a field that is not what it should be becomes
    null (or '') and is noted in `problems` by its server field name."""

    def __init__(self):
        self.problems = []

    def bad(self, field, value, why):
        self.problems.append('%s %s %s' % (field, _show(value), why))

    def text(self, field, value):
        if value is None or isinstance(value, str):
            return value or ''
        if isinstance(value, (int, float)):  # bool included: str(True) is harmless
            try:
                return str(value)
            except ValueError:  # an int too long for str() (Python 3.11+)
                pass
        self.bad(field, value, 'is not text')
        return ''

    def number(self, field, value):
        if value is None or value == '':
            return None
        if not isinstance(value, (dict, list)):
            try:
                number = int(value)
            except (TypeError, ValueError, OverflowError):
                number = None
            # Beyond 64 bits no count of CPUs or megabytes is real, and json.dumps may refuse it.
            if number is not None and abs(number) < 2 ** 63:
                return number
        self.bad(field, value, 'is not a whole number')
        return None

    def time(self, field, value):
        # Most answers: 'YYYY-MM-DDTHH:MM:SS[.fffffff][Z]', UTC. Checked by datetime() as
        # read_moment checks it, and written as strftime would write it, without its other steps.
        if isinstance(value, str) and _PLAIN_UTC_RE.match(value) and value[0] != '0':
            try:
                datetime.datetime(int(value[:4]), int(value[5:7]), int(value[8:10]), int(value[11:13]), int(value[14:16]),
                                  int(value[17:19]))
            except ValueError:
                pass  # the slow way, which says why
            else:
                return '%sT%sZ' % (value[:10], value[11:19])
        try:
            moment = read_moment(value)
        except ValueError as error:
            self.bad(field, value, str(error))
            return None
        return None if moment is None or moment.year <= 1 else moment.strftime('%Y-%m-%dT%H:%M:%SZ')


def _spellings(names):
    """(in GuestInfo?, key, server field name) of each spelling of `names`, in the order they are tried."""
    return tuple(spelling for name in names for spelling in (
        (True, name, 'GuestInfo.' + name), (True, 'Guest' + name, 'GuestInfo.Guest' + name), (False, 'Guest' + name, 'Guest' + name)))


# (normalized key, a whole number?, spellings) of each guest field but os_family.
_GUEST_LOOKUPS = tuple((key, key in _GUEST_INT_FIELDS, _spellings(names)) for key, names in _GUEST_FIELDS if names)
_ACTIVITY_SPELLINGS = _spellings(('LastActivityTime',))


def _guest_value(raw, guest_info, spellings):
    """(server field name, value) of the first spelling present, or (None, None)."""
    for in_guest_info, key, field in spellings:
        value = (guest_info if in_guest_info else raw).get(key)
        if value is not None:
            return field, value
    return None, None


def _is_guest(connection):
    process_type = connection.get('ProcessType') if isinstance(connection, dict) else None
    if isinstance(process_type, str):
        return process_type.strip().lower() == 'guest' or process_type.strip() == str(GUEST_PROCESS_TYPE)
    return process_type == GUEST_PROCESS_TYPE


def _online(raw, read):
    connections = raw.get('ActiveConnections')
    if isinstance(connections, list):
        return any(_is_guest(connection) for connection in connections)
    count = raw.get('GuestConnectedCount')
    if count is not None:
        return (read.number('GuestConnectedCount', count) or 0) > 0
    # GetSessionsByFilter answers have been seen without ActiveConnections: the event times
    # then tell whether the last thing the guest did was connect.
    connected = read.time('LastGuestConnectedEventTime', raw.get('LastGuestConnectedEventTime'))
    disconnected = read.time('LastGuestDisconnectedEventTime', raw.get('LastGuestDisconnectedEventTime'))
    if connected is None:
        return False
    return disconnected is None or connected > disconnected


def custom_property_list(values):
    """Any server or user list -> exactly 8 strings."""
    values = list(values or [])[:CUSTOM_PROPERTY_SLOTS]
    values = [_text(value) for value in values]
    return values + [''] * (CUSTOM_PROPERTY_SLOTS - len(values))


def _custom_properties(raw, read):
    values = raw.get('CustomPropertyValues')
    if values is not None and not isinstance(values, list):
        read.bad('CustomPropertyValues', values, 'is not a list')
        values = None
    values = [value if isinstance(value, str) else read.text('CustomPropertyValues[%d]' % index, value)
              for index, value in enumerate((values or [])[:CUSTOM_PROPERTY_SLOTS])]
    return values + [''] * (CUSTOM_PROPERTY_SLOTS - len(values))


def _described(raw, index=None):
    """'session 3 (Name 'WS-1')' or 'session 5523a541-...' for messages: what the answer says it is."""
    raw = raw if isinstance(raw, dict) else {}
    session_id = raw.get('SessionID')
    if is_session_id(session_id):
        label = 'session %s' % session_id.lower()
    else:
        label = 'session #%d of the answer' % index if index is not None else 'a session'
    name = raw.get('Name')
    if isinstance(name, str) and name:
        label += ' (Name %s)' % _show(name)
    return label


def normalize_session(raw, api='rest', property_names=None, warnings=None):
    """One server session (any of the three spellings) -> the normalized session every module and
    the inventory use. Raises SessionDataError when `raw` is no session with a GUID SessionID.

    A field that is not what it should be (a time out of range, text that is an object, a list
    that is not one) becomes null or '' and a warning naming the session and the field is
    appended to `warnings` (a list), when given.
    """
    if not isinstance(raw, dict):
        raise SessionDataError('expected a session object with a SessionID, got %s' % type(raw).__name__)
    if not is_session_id(raw.get('SessionID')):
        raise SessionDataError('expected a session object with a SessionID, got %s'
                               % ('SessionID %s, which is no GUID' % _show(raw['SessionID']) if 'SessionID' in raw
                                  else 'an object without one'))
    property_names = DEFAULT_PROPERTY_NAMES if property_names is None else property_names
    read = _Reader()
    guest_info = raw.get('GuestInfo')
    if not isinstance(guest_info, dict):
        if guest_info is not None:
            read.bad('GuestInfo', guest_info, 'is not an object')
        guest_info = {}

    guest = {}
    for key, whole, spellings in _GUEST_LOOKUPS:
        field, value = _guest_value(raw, guest_info, spellings)
        if isinstance(value, str) and not whole:  # most fields: no conversion, nothing to tell
            guest[key] = value
        else:
            guest[key] = read.number(field, value) if whole else read.text(field, value)
    guest['os_family'] = os_family(guest['os_name'])

    last_seen = None
    activity_field, activity = _guest_value(raw, guest_info, _ACTIVITY_SPELLINGS)
    for field, candidate in (('GuestInfoUpdateTime', raw.get('GuestInfoUpdateTime')), (activity_field, activity),
                             ('LastGuestConnectedEventTime', raw.get('LastGuestConnectedEventTime'))):
        last_seen = read.time(field, candidate)
        if last_seen:
            break

    custom_properties = _custom_properties(raw, read)
    session = {
        'session_id': raw['SessionID'].lower(),
        'name': read.text('Name', raw.get('Name')),
        'session_type': session_type_name(raw.get('SessionType'), api),
        'host': read.text('Host', raw.get('Host')),
        'is_public': bool(raw.get('IsPublic')),
        'code': read.text('Code', raw.get('Code')),
        'is_ended': bool(raw.get('IsEnded')),
        'online': _online(raw, read),
        'last_seen': last_seen,
        'custom_properties': custom_properties,
        'properties': dict((name, custom_properties[slot - 1]) for name, slot in property_names.items()),
        'guest': guest,
    }
    if read.problems and warnings is not None:
        warnings.append('%s: %s; taken as empty' % (_described(raw), '; '.join(read.problems)))
    return session


# A fleet where every session is bad says so in a few lines, not one per session.
MAX_SESSION_WARNINGS = 10


def normalize_sessions(raw_sessions, api='rest', property_names=None, warnings=None):
    """A server's list of sessions -> normalized sessions. An entry that is no session (no
    object, or no GUID SessionID) is left out, a bad field is taken as empty; either way the
    rest of the fleet still answers, and `warnings` (a list) hears of it, naming the entry."""
    sessions = []
    found = []
    for index, raw in enumerate(raw_sessions or []):
        try:
            sessions.append(normalize_session(raw, api, property_names, found))
        except SessionDataError as error:
            found.append('%s left out: %s' % (_described(raw, index), error))
    if warnings is not None:
        warnings.extend(found[:MAX_SESSION_WARNINGS])
        if len(found) > MAX_SESSION_WARNINGS:
            warnings.append('%d more sessions of the answer had problems like these' % (len(found) - MAX_SESSION_WARNINGS))
    return sessions


def normalize_event(raw, now=None):
    """A session event -> {event_id, event_type, data, time, host}. `now`: when the answer came
    (for times given as milliseconds before it)."""
    raw = raw if isinstance(raw, dict) else {}
    return {
        'event_id': _text(raw.get('EventID')).lower(),
        'event_type': _int_or_none(raw.get('EventType')),
        'data': _text(raw.get('Data')),
        'time': parse_time(raw.get('Time'), now),
        'host': _text(raw.get('Host')),
    }


def details_events(details, now=None):
    """Every event of a session details answer, oldest first, normalized.

    Servers put events in the top-level Events and also under the guest connection
    (Connections[].Events); a RanCommand may sit in either. Both are read, an event found twice is
    kept once, and the merged list is ordered by time (to the microsecond; as given where a time
    is missing), so "the first result after a queued command" means the same in every layout.
    """
    now = now or utc_now()
    session = details.get('Session') if isinstance(details.get('Session'), dict) else {}
    lists = [details.get('Events') or session.get('Events') or []]
    for connection in details.get('Connections') or session.get('Connections') or []:
        if isinstance(connection, dict):
            lists.append(connection.get('Events') or [])
    seen = set()
    dated = []
    for raw in (event for events in lists if isinstance(events, list) for event in events):
        event_id = _text(raw.get('EventID')).lower() if isinstance(raw, dict) else ''
        if event_id and event_id in seen:
            continue
        seen.add(event_id)
        dated.append((parse_moment(raw.get('Time'), now) if isinstance(raw, dict) else None, raw))
    if all(moment is not None for moment, _raw in dated):
        dated.sort(key=lambda pair: pair[0])  # stable: equal times keep their order
    return [normalize_event(raw, now) for _moment, raw in dated]


def output_after_queueing(events, text):
    """The output of our command: the Data of the first RanCommand after the last QueuedCommand of
    `text`, or None when it has not arrived.

    Matched by order, never by comparing outputs with the command (cmd echoes the command, other
    shells do not). Events are oldest first; an earlier run of the same text is before its queueing.
    """
    wanted = _command_key(text)
    queued_at = None
    for index, event in enumerate(events):
        if event['event_type'] == QUEUED_COMMAND_EVENT and _command_key(event['data']) == wanted:
            queued_at = index
    if queued_at is None:
        return None
    for event in events[queued_at + 1:]:
        if event['event_type'] == RAN_COMMAND_EVENT:
            return event['data']
    return None


def _command_key(text):
    return _text(text).replace('\r\n', '\n').strip()


def strip_cmd_echo(output):
    """cmd's output without its first line when that line is the echo of the prompt and command
    (`C:\\WINDOWS\\system32>hostname`). Anything else is returned as it is."""
    text = _text(output)
    first, newline, rest = text.lstrip('\r\n').partition('\n')
    if not _CMD_ECHO_RE.match(first):
        return text
    return rest if newline else ''


def validate_property_names(property_names):
    """Return a list of problems with a property_names mapping (empty when fine)."""
    problems = []
    if not isinstance(property_names, dict) or not property_names:
        return ['property_names must be a mapping of name to slot 1-8, like {company: 1, site: 2, tag: 3}']
    seen = {}
    for name, slot in property_names.items():
        if not isinstance(name, str) or not _PROPERTY_NAME_RE.match(name):
            problems.append('property_names: %r is not a valid name (lower case letters, digits and _)' % (name,))
        if isinstance(slot, bool) or not isinstance(slot, int) or not 1 <= slot <= CUSTOM_PROPERTY_SLOTS:
            problems.append('property_names: slot of %r must be a number from 1 to 8, got %r' % (name, slot))
        elif slot in seen:
            problems.append('property_names: %r and %r both name slot %d' % (seen[slot], name, slot))
        else:
            seen[slot] = name
    return problems


# ---- session filters -------------------------------------------------------------------------
# The only way user text enters a filter expression: quote() doubles single quotes, so a value
# like "' OR ''='" stays one literal.

def quote(value):
    return "'" + _text(value).replace("'", "''") + "'"


def condition(field, value, operator='='):
    """`Field op 'value'` with a checked field name and operator and a quoted value."""
    if not isinstance(field, str) or not _FILTER_FIELD_RE.match(field):
        raise ValueError('invalid filter field name %r' % (field,))
    operator = operator.upper()
    if operator not in _FILTER_OPERATORS:
        raise ValueError('invalid filter operator %r' % (operator,))
    if isinstance(value, bool):
        value = 'true' if value else 'false'
    literal = str(value) if isinstance(value, int) else quote(value)
    return '%s %s %s' % (field, operator, literal)


def any_of(field, values):
    """(Field = 'a' OR Field = 'b' ...) for a list of values."""
    parts = [condition(field, value) for value in values]
    if not parts:
        raise ValueError('any_of needs at least one value')
    return parts[0] if len(parts) == 1 else '(' + ' OR '.join(parts) + ')'


def all_of(*expressions):
    """AND of expressions; each raw (user-written) expression is parenthesized so its OR binds."""
    parts = [expression for expression in expressions if expression]
    if len(parts) == 1:
        return parts[0]
    return ' AND '.join('(%s)' % part for part in parts)


def session_type_condition(session_type):
    """'access' -> SessionType = 'Access'; 'all' -> None (no condition)."""
    if session_type in (None, 'all'):
        return None
    return condition('SessionType', SERVER_SESSION_TYPE[session_type])


# ---- custom properties by name or slot -------------------------------------------------------

def wanted_custom_properties(current, property_names, properties=None, custom_properties=None, replace=False):
    """The 8 values a session should have: `current` with named and slotted values applied.

    `properties` maps names of property_names to values; `custom_properties` maps slots (1-8,
    int or digit string) to values, or is a list of up to 8 values from slot 1. With replace,
    slots named by neither are emptied. Raises ValueError naming the option on bad input.
    """
    result = [''] * CUSTOM_PROPERTY_SLOTS if replace else custom_property_list(current)
    for name, value in (properties or {}).items():
        if name not in property_names:
            raise ValueError('properties: %r is not a property name; known names are %s (set property_names '
                             'to map more slots)' % (name, ', '.join(sorted(property_names))))
        result[property_names[name] - 1] = _text(value)
    if isinstance(custom_properties, (list, tuple)):
        if len(custom_properties) > CUSTOM_PROPERTY_SLOTS:
            raise ValueError('custom_properties: %d values given, a session has 8 slots' % len(custom_properties))
        for index, value in enumerate(custom_properties):
            result[index] = _text(value)
    elif isinstance(custom_properties, dict):
        for slot, value in custom_properties.items():
            number = int(slot) if isinstance(slot, int) or str(slot).isdigit() else None
            if isinstance(slot, bool) or number is None or not 1 <= number <= CUSTOM_PROPERTY_SLOTS:
                raise ValueError('custom_properties: slot %s is not a number from 1 to 8' % (slot,))
            result[number - 1] = _text(value)
    elif custom_properties is not None:
        raise ValueError('custom_properties must be a mapping of slot (1-8) to value, or a list of up to 8 values')
    return result
