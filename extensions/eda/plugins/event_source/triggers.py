# -*- coding: utf-8 -*-
# Copyright: msp.screenconnect contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r'''
name: triggers
short_description: Receive the web requests of ScreenConnect session triggers as events
version_added: 0.1.0
description:
  - An HTTP(S) receiver for the C(Perform Web Request) action of a ScreenConnect session trigger
    (Administration > Triggers). Each request names a session and an event type. The receiver answers C(202) at
    once, reads that session from the server once (through the shared rate limit), and emits an event of the
    same shape as the C(msp.screenconnect.sessions) poller's, with C(source=trigger) and the session as it is now.
  - A trigger cannot send a header, so the token travels in the URL query (C(?token=)). It is compared in
    constant time; a missing or wrong token is answered C(401). No log line at any level holds it (aiohttp's
    access log is off).
  - The body is a hint, not the truth. ScreenConnect fills placeholders as plain text, without JSON escaping, so
    a C(") in a name breaks the JSON; the receiver then takes C(SessionID), C(EventType) and C(ProcessType) out of
    the broken text. A body that is no JSON object and holds no such hint is answered C(400), one over
    O(max_body_size) C(413). The same three hints may come in the URL query instead of a body.
  - C(Connected) and C(Disconnected) of the Guest are C(guest_connected) and C(guest_disconnected); C(CreatedSession)
    C(session_added); C(EndedSession) C(session_removed); C(ModifiedCustomProperty) C(properties_changed) and
    C(ModifiedName) C(renamed) (without C(changes): a trigger does not tell the old value). Host connections and
    other event types are answered C(202) and dropped unless O(other_events) is set.
  - A session the server does not know is answered C(202) and logged, and no event is emitted.
  - A trigger's web request is sent once, without retry; a receiver that is down misses it. Run the
    C(msp.screenconnect.sessions) poller beside it to catch up. See docs/event-driven.md of the collection for the
    URL and body to paste into ScreenConnect.
author:
  - msp.screenconnect contributors
options:
  host:
    description: Address to listen on.
    type: str
    default: 0.0.0.0
  port:
    description: TCP port to listen on.
    type: int
    default: 5000
  token:
    description:
      - The shared secret of the trigger URL (C(?token=)), at least 16 characters of C(A-Z a-z 0-9 . _ ~ -).
      - Environment variable C(SCREENCONNECT_TRIGGER_TOKEN).
    type: str
    required: true
  certfile:
    description: PEM certificate to serve HTTPS with (then O(keyfile) too).
    type: path
  keyfile:
    description: Private key of O(certfile).
    type: path
  max_body_size:
    description: The largest body accepted, in bytes; a larger one is answered C(413).
    type: int
    default: 1048576
  other_events:
    description: Emit host connections and event types that map to none of the poller's as type C(other), with
      C(event.screenconnect.trigger) holding the trigger's C(event_type) and C(process_type).
    type: bool
    default: false
  event_types:
    description: The event types to emit; others are answered C(202) and dropped. Default all.
    type: list
    elements: str
    choices: [session_added, session_removed, guest_connected, guest_disconnected, properties_changed, renamed]
  server_url:
    description:
      - The connection options (O(server_url), C(api), C(api_secret), C(api_key), C(extension_id), C(origin), the
        C(oauth_*) options, C(validate_certs), C(ca_path), C(timeout), C(rate_limit), C(rate_burst), C(retries)) are
        those of the C(msp.screenconnect.sessions) source, with the same C(SCREENCONNECT_*) variables.
    type: str
  property_names:
    description: As in the inventory plugin, and the naming options C(hostnames), C(group_by), C(tag_separator),
      C(duplicates) and C(hash_lookalikes) too. A session of another C(session_type) (default C(access)) gives no
      event. C(filter) is the poller's; the trigger's own event filter chooses the sessions here.
    type: dict
    default: {company: 1, site: 2, tag: 3}
notes:
  - The host name is the inventory plugin's name of the session read alone. A name that depends on the rest of the
    fleet (the suffix of an older duplicate with C(duplicates=all), a name taken by another session's group) is
    only known to the poller.
'''

EXAMPLES = r'''
- name: Patch a machine when its guest reconnects
  hosts: all
  sources:
    - msp.screenconnect.triggers:
        host: 0.0.0.0
        port: 5000
        token: "{{ screenconnect_trigger_token }}"
        certfile: /etc/eda/tls/receiver.pem
        keyfile: /etc/eda/tls/receiver.key
        event_types: [guest_connected]
  rules:
    - name: Patch on reconnect
      condition: event.screenconnect.type == "guest_connected"
      action:
        run_playbook:
          name: patch.yml
'''

# ansible-rulebook loads this file by its path: see sessions.py beside it for why the directory holding
# ansible_collections/ goes on sys.path.
import os  # noqa: E402
import sys  # noqa: E402

_HERE = os.path.dirname(os.path.abspath(__file__))
_COLLECTION = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(_HERE))))
_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(_COLLECTION)))
if _COLLECTION.split(os.sep)[-3:] == ['ansible_collections', 'msp', 'screenconnect'] and _ROOT not in sys.path:
    sys.path.insert(0, _ROOT)

import asyncio  # noqa: E402
import hmac  # noqa: E402
import json  # noqa: E402
import logging  # noqa: E402
import re  # noqa: E402
import ssl  # noqa: E402

from ansible_collections.msp.screenconnect.extensions.eda.plugins.event_source import sessions as _poll  # noqa: E402
from ansible_collections.msp.screenconnect.plugins.module_utils import _client, _sessions  # noqa: E402

try:
    from aiohttp import web
    HAS_AIOHTTP = True
except ImportError:  # pragma: no cover - said when the source starts
    web = None
    HAS_AIOHTTP = False

LOGGER = logging.getLogger('msp.screenconnect.triggers')
AIOHTTP_LOGGERS = ('aiohttp.access', 'aiohttp.server', 'aiohttp.web', 'aiohttp.internal', 'aiohttp.websocket')

TRIGGER_OPTIONS = {
    'host': ('str', '0.0.0.0'),
    'port': ('int', 5000),
    'token': ('str', None),
    'certfile': ('path', None),
    'keyfile': ('path', None),
    'max_body_size': ('int', 1024 * 1024),
    'other_events': ('bool', False),
}
TOKEN_ENV = 'SCREENCONNECT_TRIGGER_TOKEN'
_TOKEN_RE = re.compile(r'^[A-Za-z0-9._~-]{16,}$')

# A trigger's Event.EventType (a name, or the SessionEventType number) -> the poller's type.
EVENT_TYPES = {'connected': 'guest_connected', '10': 'guest_connected',
               'disconnected': 'guest_disconnected', '11': 'guest_disconnected',
               'createdsession': 'session_added', '20': 'session_added',
               'endedsession': 'session_removed', '21': 'session_removed',
               'modifiedname': 'renamed', '60': 'renamed',
               'modifiedcustomproperty': 'properties_changed', '64': 'properties_changed'}
CONNECTION_TYPES = ('guest_connected', 'guest_disconnected')
HOST_PROCESS_TYPES = ('host', '1')
# The hints, out of a body whose JSON broke on an unescaped placeholder.
_GUID = r'\{?([0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12})\}?'
_SALVAGE = {
    'SessionID': re.compile(r'"SessionID"\s*:\s*"' + _GUID + '"', re.IGNORECASE),
    'EventType': re.compile(r'"EventType"\s*:\s*"?([A-Za-z]+|\d+)"?\s*[,}]', re.IGNORECASE),
    'ProcessType': re.compile(r'"ProcessType"\s*:\s*"?([A-Za-z]*|\d+)"?\s*[,}]', re.IGNORECASE),
}
_HINT_NAMES = {'sessionid': 'SessionID', 'session_id': 'SessionID', 'eventtype': 'EventType', 'event_type': 'EventType',
               'processtype': 'ProcessType', 'process_type': 'ProcessType'}
# Reads of sessions running at once; more wait their turn (the rate limit paces them anyway).
MAX_READS = 4


class TokenFilter(logging.Filter):
    """Masks the token in a record before any handler formats it: aiohttp's own messages quote
    request lines (a bad request, an error while handling one), and the token is in the query."""

    def __init__(self, token):
        super(TokenFilter, self).__init__()
        self.token = token

    def filter(self, record):
        try:
            message = record.getMessage()
        except Exception:  # a record whose arguments do not fit its format: show it raw
            message = '%s %r' % (record.msg, record.args)
        if record.exc_info:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
            record.exc_info = None
        if record.exc_text and self.token in record.exc_text:
            record.exc_text = record.exc_text.replace(self.token, '********')
        if self.token in message:
            record.msg, record.args = message.replace(self.token, '********'), ()
        return True


def read_hint(body, query):
    """({SessionID, EventType, ProcessType}, None) out of a request's body and query, or (None, why)."""
    data = {}
    if body.strip():
        try:
            data = json.loads(body.decode('utf-8'))
        except (ValueError, UnicodeDecodeError):
            text = body.decode('utf-8', 'replace')
            data = dict((name, match.group(1)) for name, match in
                        ((name, pattern.search(text)) for name, pattern in _SALVAGE.items()) if match)
            if 'SessionID' not in data or 'EventType' not in data:
                return None, 'the body is no JSON and names no SessionID and EventType'
        if not isinstance(data, dict):
            return None, 'the body is no JSON object'
    hint = {}
    for source in (query, data):  # the body wins over the query
        for key, value in source.items():
            name = _HINT_NAMES.get(str(key).lower())
            if name and isinstance(value, (str, int)) and not isinstance(value, bool):
                hint[name] = str(value).strip()
    session_id = hint.get('SessionID', '').strip('{}').lower()
    if not _sessions.is_session_id(session_id):
        return None, 'SessionID is missing or no GUID'
    if not hint.get('EventType'):
        return None, 'EventType is missing'
    hint['SessionID'] = session_id
    return hint, None


def event_kind(hint, options):
    """The poller's event type of a hint, 'other', or None to drop it."""
    kind = EVENT_TYPES.get(hint['EventType'].lower())
    host_side = hint.get('ProcessType', '').lower() in HOST_PROCESS_TYPES
    if kind is None or (kind in CONNECTION_TYPES and host_side):
        return 'other' if options['other_events'] else None
    return kind if kind in options['event_types'] else None


class Receiver:
    """The aiohttp application and what it needs: options, client, naming, queue."""

    def __init__(self, queue, args, client=None):
        if not HAS_AIOHTTP:
            raise _poll.SourceConfigError('msp.screenconnect.triggers needs the Python library aiohttp '
                                          '(pip install aiohttp)')
        args = dict(args or {})
        if not args.get('token') and os.environ.get(TOKEN_ENV):
            args['token'] = os.environ[TOKEN_ENV]
        self.connection, self.options = _poll.read_options(args, TRIGGER_OPTIONS, 'msp.screenconnect.triggers')
        self.check_options()
        self.token = self.options['token']
        self.client = client or _poll.make_client(self.connection)
        self.naming = _poll.Naming(self.options)
        self.queue = queue
        self.tasks = set()
        self.reads = asyncio.Semaphore(MAX_READS)
        self.rejected = 0
        self.filter = TokenFilter(self.token)

    def check_options(self):
        options = self.options
        problems = []
        token = options['token']
        if not token or not _TOKEN_RE.match(token):
            problems.append('token is required: at least 16 characters of A-Z a-z 0-9 . _ ~ - (set token, or %s, '
                            'to a random value such as the output of `openssl rand -hex 32`)' % TOKEN_ENV)
        if not 0 <= options['port'] <= 65535:
            problems.append('port must be 0 to 65535, got %s' % options['port'])
        if bool(options['certfile']) != bool(options['keyfile']):
            problems.append('certfile and keyfile go together: set both to serve HTTPS, or neither')
        for name in ('certfile', 'keyfile'):
            if options[name] and not os.path.isfile(options[name]):
                problems.append('%s %s does not exist' % (name, options[name]))
        if options['max_body_size'] < 1024:
            problems.append('max_body_size must be at least 1024 bytes, got %s' % options['max_body_size'])
        if problems:
            raise _poll.SourceConfigError('msp.screenconnect.triggers: %s' % '; '.join(problems))

    def app(self):
        application = web.Application(client_max_size=self.options['max_body_size'])
        application.router.add_route('*', '/{tail:.*}', self.handle)
        return application

    def reject(self, request, status, why):
        self.rejected += 1
        # A flood of bad requests is a few log lines, not one each.
        if self.rejected <= 10 or self.rejected % 1000 == 0:
            LOGGER.warning('msp.screenconnect.triggers: answered %d to %s %s from %s: %s (%d rejected so far)',
                           status, request.method, request.path, request.remote, why, self.rejected)
        return web.json_response({'error': why}, status=status)

    async def handle(self, request):
        supplied = request.query.get('token', '')
        if not hmac.compare_digest(supplied.encode('utf-8', 'surrogatepass'), self.token.encode('utf-8')):
            return self.reject(request, 401, 'missing or wrong token')
        if request.method not in ('POST', 'PUT', 'GET'):
            return self.reject(request, 405, 'use POST')
        if request.content_length is not None and request.content_length > self.options['max_body_size']:
            return self.reject(request, 413, 'body over %d bytes' % self.options['max_body_size'])
        try:
            body = await request.read()
        except web.HTTPRequestEntityTooLarge:
            return self.reject(request, 413, 'body over %d bytes' % self.options['max_body_size'])
        hint, why = read_hint(body, dict((key, value) for key, value in request.query.items() if key != 'token'))
        if hint is None:
            return self.reject(request, 400, why)
        kind = event_kind(hint, self.options)
        if kind is None:
            LOGGER.debug('msp.screenconnect.triggers: %s of session %s dropped (event_types, other_events)',
                         hint['EventType'][:40], hint['SessionID'])
            return web.json_response({'accepted': False, 'dropped': hint['EventType'][:40]}, status=202)
        # The server waits a few seconds at most: answer now, read the session afterwards.
        task = asyncio.ensure_future(self.emit(hint, kind))
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)
        return web.json_response({'accepted': True}, status=202)

    async def emit(self, hint, kind):
        session_id = hint['SessionID']
        loop = asyncio.get_running_loop()
        async with self.reads:
            try:
                # The client blocks (requests, the rate limiter's sleep): off the event loop.
                found = await loop.run_in_executor(None, self.client.get_session_raw, session_id)
            except _client.ScreenConnectError as error:
                LOGGER.warning('msp.screenconnect.triggers: reading session %s failed, no event: %s', session_id, error)
                return
            finally:
                del self.client.warnings[:]
        raw = [entry for entry in found if isinstance(entry, dict) and str(entry.get('SessionID', '')).lower() == session_id]
        named = self.naming.one(raw[0], self.client.api) if raw else None
        if named is None:
            LOGGER.info('msp.screenconnect.triggers: %s of session %s: the server knows no such session, no event',
                        hint['EventType'][:40], session_id)
            return
        host, hostvars = named
        wanted = self.options['session_type']
        if wanted != 'all' and hostvars.get('screenconnect_session_type') != wanted:
            LOGGER.debug('msp.screenconnect.triggers: session %s is no %s session (session_type), no event', session_id, wanted)
            return
        event = _poll.make_event('trigger', kind, host, session_id, hostvars)
        if kind == 'other':
            event['screenconnect']['trigger'] = {'event_type': hint['EventType'][:100],
                                                 'process_type': hint.get('ProcessType', '')[:100]}
        await self.queue.put(event)

    def ssl_context(self):
        if not self.options['certfile']:
            return None
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(self.options['certfile'], self.options['keyfile'])
        return context

    async def serve(self):
        for name in AIOHTTP_LOGGERS:
            logging.getLogger(name).addFilter(self.filter)
        # access_log=None: aiohttp's access log writes the request line, query (token) included, at INFO.
        runner = web.AppRunner(self.app(), access_log=None)
        await runner.setup()
        try:
            site = web.TCPSite(runner, self.options['host'], self.options['port'], ssl_context=self.ssl_context())
            await site.start()
            LOGGER.info('msp.screenconnect.triggers: listening on %s://%s:%s', 'https' if self.options['certfile'] else 'http',
                        self.options['host'], self.options['port'])
            await asyncio.Event().wait()  # until cancelled
        finally:
            for task in list(self.tasks):
                task.cancel()
            await runner.cleanup()
            for name in AIOHTTP_LOGGERS:
                logging.getLogger(name).removeFilter(self.filter)


async def main(queue, args):
    """ansible-rulebook's entry point: serve until cancelled, putting an event on `queue` per trigger."""
    await Receiver(queue, args).serve()
