# -*- coding: utf-8 -*-
# Copyright: msp.screenconnect contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one ScreenConnect client used by every module and by the inventory plugin.

Two APIs sit behind one interface, one class each:
- `rest` (_rest_api.py): the RESTful API Manager extension, POST .../Service.ashx/<Method> with a
  JSON array of positional arguments and the raw secret in `CTRLAuthHeader`;
- `session_manager` (_session_manager_api.py): the JSON-RPC PageService, Bearer API key or OAuth2
  client credentials.
Both send through one transport (_transport.py): the shared rate limit, retries by whether a
request is safe to repeat, one deadline per request, no redirects, secrets masked in every error.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import time

from ansible_collections.msp.screenconnect.plugins.module_utils import _sessions
from ansible_collections.msp.screenconnect.plugins.module_utils._connection_options import (
    CONNECTION_OPTIONS, SECRET_OPTIONS, ConfigError, default_origin, tls_verify, validate_options)
from ansible_collections.msp.screenconnect.plugins.module_utils._ratelimit import (
    SharedRateLimiter, StateDirError, usable_state_dir)
from ansible_collections.msp.screenconnect.plugins.module_utils._rest_api import (
    FILTER_METHOD, MISSING_METHOD_MEMORY, WEB_METHOD_MISSING, MissingMethods, RestApi, missing_method_message)
from ansible_collections.msp.screenconnect.plugins.module_utils._session_manager_api import SessionManagerApi
from ansible_collections.msp.screenconnect.plugins.module_utils._transport import (
    _READ_FAULT_PAUSE, COLLECTION_VERSION, HAS_REQUESTS, REQUESTS_IMPORT_ERROR, USER_AGENT, ScreenConnectError,
    Transport, requests)

# What modules, plugins and tests import from here, wherever it lives now.
__all__ = ['CONNECTION_OPTIONS', 'COLLECTION_VERSION', 'ConfigError', 'FILTER_METHOD', 'HAS_REQUESTS', 'MISSING_METHOD_MEMORY',
           'MissingMethods', 'REQUESTS_IMPORT_ERROR', 'ScreenConnectClient', 'ScreenConnectError', 'USER_AGENT',
           'WEB_METHOD_MISSING', '_READ_FAULT_PAUSE', 'from_options', 'missing_method_message', 'requests', 'tls_verify',
           'validate_options']


class ScreenConnectClient:
    """Talks to one server. Build it with from_options(); all calls raise ScreenConnectError."""

    def __init__(self, options, state_dir=None, backoff_base=1.0, sleep=time.sleep, http=None):
        if not HAS_REQUESTS:
            raise ConfigError('the Python library requests is required on the host that runs this '
                              '(pip install requests): %s' % REQUESTS_IMPORT_ERROR)
        defaults = dict((name, default) for name, _type, default, _env, _secret in CONNECTION_OPTIONS)
        merged = dict(defaults)
        # None and '' both mean "not set" (an AWX credential injects its empty fields as '').
        merged.update((key, value) for key, value in options.items() if value is not None and value != '')
        problems = validate_options(merged)
        if problems:
            raise ConfigError('; '.join(problems))
        self.options = merged
        self.api = merged['api']
        self.server_url = merged['server_url'].rstrip('/')
        # Things the caller should tell the user (a module warns, a plugin displays them).
        self.warnings = []
        try:
            state_dir, warning = usable_state_dir(state_dir)
        except StateDirError as error:
            raise ConfigError(str(error))
        if warning:
            self.warnings.append(warning)
        self.transport = Transport(
            self.server_url, merged['timeout'], merged['retries'],
            # A CA bundle verifies a private CA's certificate; validate_certs: false skips the check.
            # Passed with every request: a session's own verify loses to REQUESTS_CA_BUNDLE.
            tls_verify(merged),
            SharedRateLimiter(self.server_url, merged['rate_limit'], merged['rate_burst'], state_dir=state_dir, sleep=sleep),
            http=http, backoff_base=backoff_base, sleep=sleep,
            secrets=[merged[name] for name in SECRET_OPTIONS if merged.get(name)], warnings=self.warnings)
        self.missing_methods = MissingMethods('%s %s' % (self.server_url, merged['extension_id'].lower()), state_dir)
        if self.api == 'rest':
            # Never server_url itself: an Origin has no path and no trailing slash.
            self._api = RestApi(self.transport, merged, merged['origin'] or default_origin(self.server_url),
                                self.missing_methods)
        else:
            self._api = SessionManagerApi(self.transport, merged)
        if self.server_url.startswith('http://'):
            self.warnings.append('server_url %s is plain http: the API secret and all answers cross the network '
                                 'unencrypted; use https' % self.redact(self.server_url))
        if not merged['validate_certs']:
            self.warnings.append('validate_certs is false: the server certificate is not checked')

    # ---- the transport's parts, where callers and tests reach them ------------------------------
    @property
    def limiter(self):
        return self.transport.limiter

    @limiter.setter
    def limiter(self, limiter):
        self.transport.limiter = limiter

    @property
    def stats(self):
        """Counters a module or benchmark can report."""
        return self.transport.stats

    @property
    def http(self):
        return self.transport.http

    @property
    def timeout(self):
        return self.transport.timeout

    def redact(self, text):
        return self.transport.redact(text)

    # ---- the two APIs -----------------------------------------------------------------------
    def call(self, method, arguments=(), safe=None):
        """RESTful API Manager: `method` with positional arguments. Reads (Get*) are safe to repeat."""
        return self._api.call(method, arguments, safe)

    def rpc(self, method, params=None, safe=None):
        """Session Manager JSON-RPC: `method` with named params; answers the `result`."""
        return self._api.rpc(method, params, safe)

    # ---- what modules and the inventory use --------------------------------------------------
    def _normalize_all(self, raw_sessions, property_names):
        if raw_sessions is None:
            return []
        if not isinstance(raw_sessions, list):
            raw_sessions = [raw_sessions]
        # One bad entry is left out with a warning, never the whole listing.
        return _sessions.normalize_sessions(raw_sessions, self.api, property_names, self.warnings)

    def fetch_sessions_raw(self, filter_expression, session_type='access'):
        """The fleet's raw answer for a filter, in one call (there is no paging): always a list."""
        return self._api.list_sessions(filter_expression, session_type)

    def find_sessions(self, filter_expression=None, session_type='access', property_names=None, by_name=None):
        """The sessions a filter matches.

        by_name: the Name that filter_expression requires, when the caller checks the rest of the
        expression itself. Then an older RESTful API Manager without GetSessionsByFilter is asked
        GetSessionsByName instead, and the session type is checked here.
        """
        try:
            return self._normalize_all(self.fetch_sessions_raw(filter_expression, session_type), property_names)
        except ScreenConnectError as error:
            if by_name is None or error.missing_method != FILTER_METHOD:
                raise
        sessions = self._normalize_all(self._api.list_sessions_by_name(by_name), property_names)
        return [session for session in sessions if session_type in (None, 'all', session['session_type'])]

    def get_session(self, session_id, property_names=None):
        """One session by id, or None. Looks twice: a loaded server has answered [] for a live one."""
        for _look in (1, 2):
            found = self._normalize_all(self._api.session_raw(session_id), property_names)
            if found:
                return found[0]
        return None

    def get_session_raw(self, session_id):
        """One session by id as the server sent it (a list of 0 or 1 raw sessions), for callers that
        build hostvars with the inventory's code. Looks twice, like get_session."""
        found = []
        for _look in (1, 2):
            raw = self._api.session_raw(session_id)
            found = [] if raw is None else raw if isinstance(raw, list) else [raw]
            if found:
                break
        return found

    def get_session_details(self, session_id, property_names=None):
        """(normalized session, normalized events) for one session id."""
        raw = self._api.session_details_raw(session_id)
        answered = _sessions.utc_now()  # event times may be milliseconds before the answer
        if not isinstance(raw, dict):
            raise ScreenConnectError('session details of %s: unexpected answer %s' % (session_id, type(raw).__name__),
                                     method='GetSessionDetailsBySessionID')
        session_raw = raw.get('Session') if isinstance(raw.get('Session'), dict) else raw
        try:
            session = _sessions.normalize_session(session_raw, self.api, property_names, self.warnings)
        except _sessions.SessionDataError as error:
            raise ScreenConnectError('session details of %s: %s' % (session_id, error), method='GetSessionDetailsBySessionID')
        return session, _sessions.details_events(raw, answered)

    # ---- writes: never repeated after an ambiguous failure (see Transport.send) -----------------
    def update_session(self, session, name=None, custom_properties=None):
        """Set a session's name and/or all 8 custom property values (the server replaces all 8)."""
        self._api.update_session(session, name, custom_properties)

    def create_session(self, session_type, name, is_public=False, code='', custom_properties=None,
                       property_names=None):
        raw = self._api.create_session_raw(_sessions.session_type_number(session_type, self.api), name, is_public, code,
                                           _sessions.custom_property_list(custom_properties))
        if isinstance(raw, list):
            raw = raw[0] if raw else None
        if not raw:
            return None
        try:
            return _sessions.normalize_session(raw, self.api, property_names, self.warnings)
        except _sessions.SessionDataError as error:
            # The create was carried out; only its answer is unusable.
            raise ScreenConnectError('CreateSession answered no usable session (%s): the session may have been created'
                                     % error, method='CreateSession', may_have_run=True)


def from_options(get_option, **kwargs):
    """Build a client from any option source: AnsibleModule params or a plugin's get_option."""
    options = dict((name, get_option(name)) for name, _t, _d, _e, _s in CONNECTION_OPTIONS)
    return ScreenConnectClient(options, **kwargs)
