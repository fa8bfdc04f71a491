# -*- coding: utf-8 -*-
# Copyright: msp.screenconnect contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r'''
name: sessions
short_description: Fleet changes of a ScreenConnect server as events, by polling
version_added: 0.1.0
description:
  - Lists the fleet in one request every O(interval) seconds (C(GetSessionsByFilter), or C(GetSessions) with
    O(api=session_manager)), never one per session, and emits what changed between two listings.
  - Event types are C(session_added), C(session_removed) (ended or gone), C(guest_connected), C(guest_disconnected),
    C(properties_changed) (C(changes) holds each changed property as C({old, new}) under the inventory's names) and
    C(renamed) (C(changes.name)).
  - Each event is C(event.screenconnect) with C(source=poll), C(type), C(host) (the host name the inventory plugin
    C(msp.screenconnect.screenconnect) gives the session), C(session_id), C(session) (that plugin's hostvars) and
    C(changes), and C(event.meta.hosts) set to the host name, so that C(run_playbook) runs on that one machine.
  - The first listing emits nothing unless O(emit_existing) is set. With O(state_file) a restarted source emits what
    changed while it was down.
  - A failed listing (an error, an HTML login page, a 429 or 503 storm, an answer cut short) changes nothing. It is
    logged once per streak of failures and the source backs off. A session whose entry is broken, or that an
    answer does not cover, is never reported as removed.
  - Takes the connection options of the collection's modules and inventory plugin, and the same C(SCREENCONNECT_*)
    environment variables, rate limit and session data. See docs/event-driven.md of the collection.
author:
  - msp.screenconnect contributors
options:
  server_url:
    description: URL of the ScreenConnect server. Environment variable C(SCREENCONNECT_SERVER_URL).
    type: str
  api:
    description: Which API to use, C(rest) or C(session_manager). Environment variable C(SCREENCONNECT_API).
    type: str
    default: rest
  api_secret:
    description: RESTful API Manager secret. Environment variable C(SCREENCONNECT_API_SECRET).
    type: str
  api_key:
    description: Session Manager API key. Environment variable C(SCREENCONNECT_API_KEY).
    type: str
  extension_id:
    description: Id of the RESTful API Manager extension. Environment variable C(SCREENCONNECT_EXTENSION_ID).
    type: str
  origin:
    description: Origin header sent to the RESTful API Manager. Environment variable C(SCREENCONNECT_ORIGIN).
    type: str
  oauth_token_url:
    description: OAuth2 token URL (C(session_manager)). Environment variable C(SCREENCONNECT_OAUTH_TOKEN_URL).
    type: str
  oauth_client_id:
    description: OAuth2 client id. Environment variable C(SCREENCONNECT_OAUTH_CLIENT_ID).
    type: str
  oauth_client_secret:
    description: OAuth2 client secret. Environment variable C(SCREENCONNECT_OAUTH_CLIENT_SECRET).
    type: str
  validate_certs:
    description: Whether to check the server certificate. Environment variable C(SCREENCONNECT_VALIDATE_CERTS).
    type: bool
    default: true
  ca_path:
    description: PEM file of the CA that signed the server certificate. Environment variable C(SCREENCONNECT_CA_PATH).
    type: path
  timeout:
    description: Seconds one request may take.
    type: float
    default: 30
  rate_limit:
    description: Requests per minute shared by every process of this user on this machine. Environment variable
      C(SCREENCONNECT_RATE_LIMIT).
    type: float
    default: 30
  rate_burst:
    description: Requests that may go at once before the rate limit applies.
    type: int
    default: 30
  retries:
    description: Retries of a request that failed in a way that is safe to repeat.
    type: int
    default: 5
  interval:
    description: Seconds between two listings. Each listing is one request.
    type: float
    default: 60
  event_types:
    description: The event types to emit; others are left out. Default all.
    type: list
    elements: str
    choices: [session_added, session_removed, guest_connected, guest_disconnected, properties_changed, renamed]
  emit_existing:
    description: Emit every session of the first listing as C(session_added) (when O(state_file) holds no earlier
      listing), for a rulebook that wants the whole fleet once.
    type: bool
    default: false
  state_file:
    description:
      - A file that keeps what the last listing saw (per session its host name, name, online state and custom
        properties; no secret), written atomically after each listing. A restarted source compares its first
        listing with it and emits what changed meanwhile.
      - A state file of another server, filter or session type is not used (a warning says so).
    type: path
  max_backoff:
    description: The longest pause, in seconds, between listings while they fail.
    type: float
    default: 600
  session_type:
    description: Which sessions are watched, as in the inventory plugin.
    type: str
    choices: [access, support, meeting, all]
    default: access
  filter:
    description: A server-side session filter expression added with AND, as in the inventory plugin.
    type: str
  hostnames:
    description: How sessions are named; use the value of the rulebook's inventory.
    type: list
    elements: str
    default: [name, machine_name, session_id]
  property_names:
    description: Custom property names and their slots; use the value of the rulebook's inventory.
    type: dict
    default: {company: 1, site: 2, tag: 3}
  group_by:
    description: Property names that make groups (a host is never named like a group); as in the inventory.
    type: list
    elements: str
    default: [company, site, tag]
  tag_separator:
    description: As in the inventory plugin.
    type: str
    default: ","
  duplicates:
    description:
      - As in the inventory plugin. With V(newest), an older duplicate is not watched, so that no event names a host
        that is another session.
    type: str
    choices: [newest, all]
    default: newest
  hash_lookalikes:
    description: As in the inventory plugin.
    type: bool
    default: false
notes:
  - Host names follow the inventory plugin's rules from O(hostnames) to O(hash_lookalikes). Host names that the
    inventory's C(keyed_groups), C(groups) or C(compose) change are not known to the source.
'''

EXAMPLES = r'''
- name: Onboard machines when they first come online
  hosts: all
  sources:
    - msp.screenconnect.sessions:
        interval: 60
        state_file: /var/lib/eda/screenconnect-sessions.json
        event_types: [session_added, guest_connected]
  rules:
    - name: Onboard a new machine
      condition: event.screenconnect.type == "session_added" and event.screenconnect.session.screenconnect_online
      action:
        run_playbook:
          name: onboard.yml
'''

# ansible-rulebook loads this file by its path, with nothing of the collection importable, so the
# collection's own code (ansible_collections.msp.screenconnect...) is reached by putting the directory
# that holds ansible_collections/ on sys.path, as vendor collections' sources do (servicenow.itsm
# records.py puts its collection root there). The file sits at
# <root>/ansible_collections/msp/screenconnect/extensions/eda/plugins/event_source/.
import os  # noqa: E402
import sys  # noqa: E402

_HERE = os.path.dirname(os.path.abspath(__file__))
_COLLECTION = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(_HERE))))
_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(_COLLECTION)))
if _COLLECTION.split(os.sep)[-3:] == ['ansible_collections', 'msp', 'screenconnect'] and _ROOT not in sys.path:
    sys.path.insert(0, _ROOT)

import asyncio  # noqa: E402
import hashlib  # noqa: E402
import json  # noqa: E402
import logging  # noqa: E402
import re  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from urllib.parse import urlsplit  # noqa: E402

from ansible_collections.msp.screenconnect.plugins.inventory import screenconnect as _inventory  # noqa: E402
from ansible_collections.msp.screenconnect.plugins.module_utils import _client, _sessions  # noqa: E402

LOGGER = logging.getLogger('msp.screenconnect.sessions')

EVENT_TYPES = ('session_added', 'session_removed', 'guest_connected', 'guest_disconnected', 'properties_changed',
               'renamed')
STATE_VERSION = 1
_TRUE = ('1', 'true', 'yes', 'on', 'y', 't')
_FALSE = ('0', 'false', 'no', 'off', 'n', 'f', '')
# The normalizer's warning about a session whose fields were not what they should be.
_SUSPECT = re.compile(r'^session ([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})\b.*; taken as empty$')
_MORE_PROBLEMS = re.compile(r'^\d+ more sessions of the answer had problems')

# Options of both sources besides the connection's: name -> (type, default).
NAMING_OPTIONS = {
    'session_type': ('str', 'access'),
    'filter': ('str', None),
    'hostnames': ('list', ['name', 'machine_name', 'session_id']),
    'property_names': ('dict', dict(_sessions.DEFAULT_PROPERTY_NAMES)),
    'group_by': ('list', ['company', 'site', 'tag']),
    'tag_separator': ('str', ','),
    'duplicates': ('str', 'newest'),
    'hash_lookalikes': ('bool', False),
    'event_types': ('list', list(EVENT_TYPES)),
}
POLL_OPTIONS = {
    'interval': ('float', 60),
    'emit_existing': ('bool', False),
    'state_file': ('path', None),
    'max_backoff': ('float', 600),
}
_CHOICES = {
    'session_type': ('access', 'support', 'meeting', 'all'),
    'duplicates': ('newest', 'all'),
    'hostnames': ('name', 'machine_name', 'session_id', 'serial_number', 'private_ip'),
}


class SourceConfigError(ValueError):
    """Bad source options, found before any request."""


def _convert(name, kind, value, problems):
    """`value` of option `name` as `kind`; a string (an environment variable, a rulebook's
    extra var) is read the way Ansible reads one."""
    if value is None:
        return None
    try:
        if kind == 'bool':
            if isinstance(value, bool):
                return value
            text = str(value).strip().lower()
            if text in _TRUE or text in _FALSE:
                return text in _TRUE
            raise ValueError(value)
        if kind in ('float', 'int'):
            if isinstance(value, bool):
                raise ValueError(value)
            number = float(value) if kind == 'float' else int(str(value).strip())
            return number
        if kind == 'list':
            if isinstance(value, str):
                return [item.strip() for item in value.split(',') if item.strip()]
            if not isinstance(value, list):
                raise ValueError(value)
            return [str(item) for item in value]
        if kind == 'dict':
            if not isinstance(value, dict):
                raise ValueError(value)
            return value
        if kind == 'path':
            return os.path.expanduser(str(value))
        return str(value)
    except (TypeError, ValueError):
        problems.append('%s must be a %s, got %r' % (name, {'str': 'string', 'path': 'path', 'bool': 'boolean',
                                                            'float': 'number', 'int': 'whole number',
                                                            'list': 'list', 'dict': 'dictionary'}[kind], value))
        return None


def read_options(args, own_options, source):
    """(connection options, other options) of a source's `args`, or SourceConfigError naming each
    bad option and the fix. Connection options left unset come from SCREENCONNECT_* variables."""
    args = dict(args or {})
    problems = []
    known = set(own_options) | set(NAMING_OPTIONS) | set(name for name, _t, _d, _e, _s in _client.CONNECTION_OPTIONS)
    unknown = sorted(name for name in args if name not in known)
    if unknown:
        problems.append('unknown option(s) %s of %s: the options are %s' % (', '.join(unknown), source,
                                                                            ', '.join(sorted(known))))
    connection = {}
    for name, kind, _default, env, _secret in _client.CONNECTION_OPTIONS:
        value = args.get(name)
        if (value is None or value == '') and env:
            value = os.environ.get(env) or None
        connection[name] = _convert(name, 'str' if kind == 'path' else kind, value, problems)
    options = {}
    for name, (kind, default) in list(NAMING_OPTIONS.items()) + list(own_options.items()):
        value = _convert(name, kind, args.get(name), problems)
        options[name] = default if value is None else value
    for name, choices in _CHOICES.items():
        values = options[name] if isinstance(options[name], list) else [options[name]]
        wrong = [value for value in values if value not in choices]
        if wrong:
            problems.append('%s: %s not one of %s' % (name, ', '.join(map(str, wrong)), ', '.join(choices)))
    wrong = [value for value in options['event_types'] if value not in EVENT_TYPES]
    if wrong:
        problems.append('event_types: %s not one of %s' % (', '.join(wrong), ', '.join(EVENT_TYPES)))
    problems.extend(_sessions.validate_property_names(options['property_names']))
    missing = [name for name in options['group_by'] if name not in (options['property_names'] or {})]
    if missing:
        problems.append('group_by: %s not in property_names' % ', '.join(missing))
    problems.extend(_client.validate_options(dict((key, value) for key, value in connection.items() if value is not None)))
    if problems:
        raise SourceConfigError('%s: %s' % (source, '; '.join(problems)))
    return connection, options


def make_client(connection):
    try:
        client = _client.ScreenConnectClient(connection)
    except _client.ConfigError as error:
        raise SourceConfigError(str(error))
    for warning in client.warnings:
        LOGGER.warning('%s', warning)
    del client.warnings[:]
    return client


def property_label(slot, property_names):
    """The inventory's name of custom property `slot` (1-8), or custom_property<slot>."""
    for name, number in property_names.items():
        if number == slot:
            return name
    return 'custom_property%d' % slot


def make_event(source, event_type, host, session_id, hostvars, changes=None):
    """The one event shape of both sources: event.screenconnect and event.meta.hosts."""
    body = {'source': source, 'type': event_type, 'host': host, 'session_id': session_id, 'session': hostvars}
    if changes:
        body['changes'] = changes
    return {'screenconnect': body, 'meta': {'hosts': host}}


class Naming:
    """Host names and hostvars of raw sessions, by the inventory plugin's own code."""

    def __init__(self, options):
        self.options = options

    def hosts(self, raw_sessions, api, warn=None):
        """{session id: (host name, hostvars)} of the live sessions the inventory would list."""
        option = self.options
        built = _inventory.build_hosts(raw_sessions, api, option['property_names'], option['hostnames'],
                                       option['duplicates'], option['group_by'], option['tag_separator'],
                                       warn=warn, hash_lookalikes=option['hash_lookalikes'])
        return dict((hostvars['screenconnect_session_id'], (name, hostvars)) for name, hostvars, _groups in built)

    def one(self, raw, api, warn=None):
        """(host name, hostvars) of one session read alone, ended or not. Names that depend on the
        rest of the fleet (a duplicate's suffix, a clash with another session's group) are the
        poller's to know."""
        ended = bool(raw.get('IsEnded'))
        found = self.hosts([dict(raw, IsEnded=False) if ended else raw], api, warn)
        for name, hostvars in found.values():
            if ended:
                hostvars['screenconnect_is_ended'] = True
            return name, hostvars
        return None


class Poller:
    """One listing per poll, diffed with the last. Blocking: main() runs it in an executor."""

    def __init__(self, args, client=None):
        self.connection, self.options = read_options(args, POLL_OPTIONS, 'msp.screenconnect.sessions')
        if self.options['interval'] <= 0:
            raise SourceConfigError('msp.screenconnect.sessions: interval must be a number of seconds above 0')
        state_file = self.options['state_file']
        if state_file and not os.path.isdir(os.path.dirname(os.path.abspath(state_file))):
            raise SourceConfigError('msp.screenconnect.sessions: the directory of state_file %s does not exist: create it'
                                    % state_file)
        self.client = client or make_client(self.connection)
        self.api = self.client.api
        self.naming = Naming(self.options)
        self.wanted = frozenset(self.options['event_types'])
        self.property_names = self.options['property_names']
        # What keys a state file to this source: never the secret, nor the URL's user:password@.
        url = urlsplit(self.client.server_url)
        self.fingerprint = hashlib.sha256(json.dumps([
            url.scheme, url.netloc.rpartition('@')[2].lower(), url.path, self.api, self.options['filter'],
            self.options['session_type']]).encode('utf-8')).hexdigest()
        self.state = self.load_state()  # None: no listing seen yet
        self.failures = 0
        self.suspect_empty = False
        self.last_timing = {}

    # ---- state ----------------------------------------------------------------------------------
    def load_state(self):
        path = self.options['state_file']
        if not path or not os.path.exists(path):
            return None
        try:
            with open(path, encoding='utf-8') as handle:
                data = json.load(handle)
            if data.get('version') != STATE_VERSION or data.get('fingerprint') != self.fingerprint:
                LOGGER.warning('state_file %s is of another server, filter or session type (or version): not used', path)
                return None
            sessions = data['sessions']
            state = {}
            for session_id, entry in sessions.items():
                host, name, online, values = entry
                if not (_sessions.is_session_id(session_id) and isinstance(values, list) and len(values) == 8):
                    raise ValueError(session_id)
                state[session_id] = (str(host), str(name), bool(online), tuple(str(value) for value in values))
            return state
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as error:
            LOGGER.warning('state_file %s is unreadable (%s): starting from the first listing', path, type(error).__name__)
            return None

    def save_state(self, state):
        path = self.options['state_file']
        if not path or state is None:
            return
        directory = os.path.dirname(os.path.abspath(path))
        data = {'version': STATE_VERSION, 'fingerprint': self.fingerprint,
                'sessions': dict((session_id, list(entry[:3]) + [list(entry[3])]) for session_id, entry in state.items())}
        handle = tempfile.NamedTemporaryFile('w', dir=directory, prefix='.%s.' % os.path.basename(path), delete=False,
                                             encoding='utf-8')
        try:
            with handle:
                json.dump(data, handle, separators=(',', ':'))
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(handle.name, path)
        except BaseException:
            try:
                os.unlink(handle.name)
            except OSError:
                pass
            raise

    # ---- one poll ----------------------------------------------------------------------------
    def fetch(self):
        """The raw listing, or None after a failure (logged once per streak)."""
        try:
            raw = self.client.fetch_sessions_raw(self.options['filter'], self.options['session_type'])
        except _client.ScreenConnectError as error:
            self.failed(str(error))
            return None
        finally:
            for warning in self.client.warnings:
                LOGGER.warning('%s', warning)
            del self.client.warnings[:]
        if not isinstance(raw, list):
            self.failed('the listing is no list of sessions')
            return None
        return raw

    def failed(self, why):
        if self.failures == 0:
            LOGGER.warning('msp.screenconnect.sessions: listing failed, nothing is taken as changed; retrying with '
                           'backoff: %s', why)
        else:
            LOGGER.debug('msp.screenconnect.sessions: listing failed again (%d): %s', self.failures + 1, why)
        self.failures += 1

    def delay(self):
        """Seconds until the next poll: the interval, doubled per failure up to max_backoff."""
        interval = self.options['interval']
        if not self.failures:
            return interval
        return max(interval, min(interval * 2 ** min(self.failures, 16), self.options['max_backoff']))

    def poll(self):
        """(events, new state) of one listing; (None, None) when it failed. The caller saves the
        state after it has queued the events (commit), so that a crash repeats events rather than
        losing them."""
        try:
            return self._poll()
        except Exception as error:  # pylint: disable=broad-except
            # Server data is hostile and the source must outlive any answer: a listing that broke
            # the code is a failed listing, never a changed fleet.
            self.failed('%s: %s' % (type(error).__name__, self.client.redact(str(error))[:300]))
            return None, None

    def _poll(self):
        started = time.perf_counter()
        raw = self.fetch()
        fetched = time.perf_counter()
        if raw is None:
            return None, None
        warnings = []
        current = self.naming.hosts(raw, self.api, warnings.append)
        built = time.perf_counter()
        covered, ended, complete = set(), set(), True
        for entry in raw:
            session_id = entry.get('SessionID') if isinstance(entry, dict) else None
            if _sessions.is_session_id(session_id):
                covered.add(session_id.lower())
                if entry.get('IsEnded'):
                    ended.add(session_id.lower())
            else:
                complete = False  # an entry we cannot tell: no removal can be trusted
        suspect = set()
        for text in warnings:
            match = _SUSPECT.match(text)
            if match:
                suspect.add(match.group(1))
            elif _MORE_PROBLEMS.match(text):
                complete = False
                suspect = None  # too many to name: hold every known session as it was
                break
        for text in warnings[:3]:
            LOGGER.info('msp.screenconnect.sessions: %s', text)
        if self.failures:
            LOGGER.warning('msp.screenconnect.sessions: listing works again after %d failure(s)', self.failures)
            self.failures = 0
        if not raw and self.state and not self.suspect_empty:
            # A loaded server has answered [] for live sessions: believe an empty fleet on the second listing.
            self.suspect_empty = True
            LOGGER.warning('msp.screenconnect.sessions: the listing is empty where %d sessions were; '
                           'waiting for the next listing before reporting them removed', len(self.state))
            return [], None
        self.suspect_empty = False
        events, state = self.diff(current, covered, ended, complete, suspect)
        self.last_timing = {'fetch': fetched - started, 'build': built - fetched, 'diff': time.perf_counter() - built}
        return events, state

    def diff(self, current, covered, ended, complete, suspect):
        """Events between self.state and `current` ({id: (host, hostvars)}), and the new state.
        covered: ids the answer held; ended: those marked ended; complete: every entry had an id;
        suspect: ids with broken fields (None: too many to name)."""
        old_state = self.state
        first = old_state is None
        old_state = old_state or {}
        wanted = self.wanted
        events = []
        state = {}
        for session_id, (host, hostvars) in current.items():
            values = tuple(hostvars['screenconnect_custom_properties'])
            entry = (host, hostvars['screenconnect_name'], bool(hostvars['screenconnect_online']), values)
            old = old_state.get(session_id)
            if old is not None and (suspect is None or session_id in suspect):
                state[session_id] = old  # its fields may be broken: no change is trusted
                continue
            state[session_id] = entry
            if old is None:
                if (not first or self.options['emit_existing']) and 'session_added' in wanted:
                    events.append(make_event('poll', 'session_added', host, session_id, hostvars))
                continue
            if old[2] != entry[2]:
                kind = 'guest_connected' if entry[2] else 'guest_disconnected'
                if kind in wanted:
                    events.append(make_event('poll', kind, host, session_id, hostvars))
            if old[3] != values and 'properties_changed' in wanted:
                changes = dict((property_label(slot, self.property_names), {'old': old[3][slot - 1], 'new': values[slot - 1]})
                               for slot in range(1, 9) if old[3][slot - 1] != values[slot - 1])
                events.append(make_event('poll', 'properties_changed', host, session_id, hostvars, changes))
            if old[1] != entry[1] and 'renamed' in wanted:
                changes = {'name': {'old': old[1], 'new': entry[1]}}
                if old[0] != host:
                    changes['host'] = {'old': old[0], 'new': host}
                events.append(make_event('poll', 'renamed', host, session_id, hostvars, changes))
        for session_id, old in old_state.items():
            if session_id in state:
                continue
            gone = session_id in ended or (complete and session_id not in covered)
            if not gone:
                if session_id not in covered or suspect is None or session_id in suspect:
                    state[session_id] = old  # not known to be gone: keep it
                # else: a live session the inventory does not list (an older duplicate): not watched
                continue
            if 'session_removed' in wanted:
                events.append(make_event('poll', 'session_removed', old[0], session_id, self.removed_hostvars(session_id, old)))
        return events, state

    def removed_hostvars(self, session_id, old):
        """What is known of a session that is gone: the state's part of its hostvars."""
        host, name, online, values = old
        hostvars = {'screenconnect_session_id': session_id, 'screenconnect_name': name, 'screenconnect_online': online,
                    'screenconnect_is_ended': True, 'screenconnect_custom_properties': list(values)}
        properties = dict((prop, values[slot - 1]) for prop, slot in self.property_names.items())
        hostvars['screenconnect_properties'] = properties
        for prop, value in properties.items():
            hostvars['screenconnect_%s' % prop] = value
        return hostvars

    def commit(self, state):
        if state is None:
            return
        self.state = state
        self.save_state(state)


async def main(queue, args):
    """ansible-rulebook's entry point: poll forever, putting each change on `queue`."""
    poller = Poller(args)
    loop = asyncio.get_running_loop()
    while True:
        # The client blocks (requests, the rate limiter's sleep): off the event loop.
        events, state = await loop.run_in_executor(None, poller.poll)
        for event in events or ():
            await queue.put(event)
        await loop.run_in_executor(None, poller.commit, state)
        await asyncio.sleep(poller.delay())


if __name__ == '__main__':
    # python sessions.py: print the events of a server named by SCREENCONNECT_* variables.
    class _PrintQueue:
        async def put(self, event):
            print(json.dumps(event, sort_keys=True))

    logging.basicConfig(level=logging.INFO)
    asyncio.run(main(_PrintQueue(), {'interval': 10}))
