# -*- coding: utf-8 -*-
# Copyright: msp.screenconnect contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The RESTful API Manager extension: POST .../App_Extensions/<id>/Service.ashx/<Method> with a JSON
array of positional arguments and the raw secret in CTRLAuthHeader. Also remembers, for every
process of this controller, the methods an older extension lacks."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import hashlib
import json
import os
import tempfile
import time

from ansible_collections.msp.screenconnect.plugins.module_utils import _sessions
from ansible_collections.msp.screenconnect.plugins.module_utils._ratelimit import private_dir
from ansible_collections.msp.screenconnect.plugins.module_utils._transport import ApiBase, ScreenConnectError, expect_list

WEB_METHOD_MISSING = 'Web method does not exist'
FILTER_METHOD = 'GetSessionsByFilter'
# How long every process of this controller remembers that a server lacks a method (one run).
MISSING_METHOD_MEMORY = 900.0
_MISSING_METHOD_FIXES = {
    FILTER_METHOD: ('which listing sessions by machine_name, serial_number, filter or the inventory needs: update the '
                    'RESTful API Manager extension, or set api: session_manager (lookups by session_id or name work '
                    'without it)'),
}


def missing_method_message(method, remembered=False):
    """One line: which method the server's RESTful API Manager lacks, and what to do."""
    if remembered:
        head = ("%s not sent: this server's RESTful API Manager has no method %s (it answered HTTP 500 %s "
                'in the last %d minutes)' % (method, method, WEB_METHOD_MISSING, MISSING_METHOD_MEMORY // 60))
    else:
        head = "this server's RESTful API Manager has no method %s" % method
    return '%s, %s' % (head, _MISSING_METHOD_FIXES[method]) if method in _MISSING_METHOD_FIXES \
        else '%s: update the extension' % head


class MissingMethods:
    """The methods a server's extension lacks, remembered by every process of this controller for
    MISSING_METHOD_MEMORY seconds, so a run asks once, not once per host and task. A small file
    beside the rate limit's state (no secrets); losing it only costs one request."""

    def __init__(self, key, state_dir, clock=time.time):
        digest = hashlib.sha256(key.encode('utf-8')).hexdigest()[:32]
        self.path = os.path.join(private_dir(state_dir), 'methods-%s.json' % digest)
        self._clock = clock

    def _load(self):
        try:
            with open(self.path, encoding='utf-8') as handle:
                data = json.load(handle)
        except (OSError, ValueError):
            return {}
        return data if isinstance(data, dict) else {}

    def lacks(self, method):
        seen = self._load().get(method)
        return isinstance(seen, (int, float)) and 0 <= self._clock() - seen < MISSING_METHOD_MEMORY

    def add(self, method):
        data = self._load()
        data[method] = self._clock()
        try:
            handle, temporary = tempfile.mkstemp(dir=os.path.dirname(self.path), prefix='.methods-')
            with os.fdopen(handle, 'w', encoding='utf-8') as out:
                json.dump(data, out)
            os.replace(temporary, self.path)
        except OSError:
            pass  # only a memory: the next run asks once more


class RestApi(ApiBase):
    """RESTful API Manager: positional arguments, the raw secret as CTRLAuthHeader, Origin checked."""

    name = 'rest'

    def __init__(self, transport, options, origin, missing_methods):
        super(RestApi, self).__init__(transport, options)
        self.origin = origin
        self.missing_methods = missing_methods

    def _url(self, method):
        return '%s/App_Extensions/%s/Service.ashx/%s' % (self.transport.server_url, self.options['extension_id'], method)

    def status_advice(self, status, label, server_message):
        """(advice, missing method) for a refusal of this API."""
        if status == 401:
            return 'check api_secret (sent raw as CTRLAuthHeader) and that the RESTful API Manager extension is enabled', None
        if status == 403:
            return ("the secret lacks permission, or the Origin sent, %s, is not the extension's "
                    'RESTfulAllowedOrigin: set origin (SCREENCONNECT_ORIGIN) to that value exactly, even a bare '
                    'host name' % self.origin), None
        if status == 404:
            return 'check server_url and extension_id: is the RESTful API Manager extension installed?', None
        if status == 500 and server_message == WEB_METHOD_MISSING:
            return missing_method_message(label), label
        return None, None

    def call(self, method, arguments=(), safe=None):
        """`method` with positional arguments. Reads (Get*) are safe to repeat."""
        safe = method.startswith('Get') if safe is None else safe
        if self.missing_methods.lacks(method):
            raise ScreenConnectError(missing_method_message(method, remembered=True), method=method,
                                     server_message=WEB_METHOD_MISSING, missing_method=method)
        # The raw secret: a 'Basic ' prefix or an Authorization header gets a 401.
        headers = {'CTRLAuthHeader': self.options['api_secret'], 'Origin': self.origin}
        try:
            return self.transport.send('POST', self._url(method), method, safe, self, json=list(arguments), headers=headers)
        except ScreenConnectError as error:
            if error.missing_method:
                self.missing_methods.add(method)
            raise

    # ---- what the client asks of either API ------------------------------------------------
    def list_sessions(self, filter_expression, session_type):
        expression = _sessions.all_of(_sessions.session_type_condition(session_type), filter_expression)
        if not expression:
            # The server rejects an empty filter; this one holds for every session.
            expression = _sessions.any_of('SessionType', sorted(_sessions.SERVER_SESSION_TYPE.values()))
        return expect_list(self.call(FILTER_METHOD, [expression]), FILTER_METHOD)

    def list_sessions_by_name(self, name):
        return expect_list(self.call('GetSessionsByName', [name]), 'GetSessionsByName')

    def session_raw(self, session_id):
        return self.call('GetSessionBySessionID', [session_id])

    def session_details_raw(self, session_id):
        return self.call('GetSessionDetailsBySessionID', [session_id])

    def update_session(self, session, name=None, custom_properties=None):
        if custom_properties is not None:
            self.call('UpdateSessionCustomProperties', [session['session_id'], list(custom_properties)])
        if name is not None:
            self.call('UpdateSessionName', [session['session_id'], name])

    def create_session_raw(self, session_type_number, name, is_public, code, values):
        # A number: the server's own UI sends one, and a name may not deserialize.
        return self.call('CreateSession', [session_type_number, name, is_public, code, values])
