# -*- coding: utf-8 -*-
# Copyright: msp.screenconnect contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The Session Manager JSON-RPC PageService: POST /Services/PageService.ashx with
{"id", "method", "params"}, a Bearer API key or an OAuth2 client-credentials token."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import time

from ansible_collections.msp.screenconnect.plugins.module_utils import _sessions
from ansible_collections.msp.screenconnect.plugins.module_utils._transport import (
    ApiBase, ScreenConnectError, expect_list, rpc_error_text)

_TOKEN_REFRESH_MARGIN = 30.0
TOKEN_LABEL = 'oauth token'


class SessionManagerApi(ApiBase):
    """JSON-RPC with named params; answers the `result`."""

    name = 'session_manager'

    def __init__(self, transport, options):
        super(SessionManagerApi, self).__init__(transport, options)
        self._token = None
        self._token_expires = 0.0
        self._rpc_id = 0
        token_url = options.get('oauth_token_url') or ''
        if token_url.lower().startswith('http://'):
            transport.warnings.append('oauth_token_url %s is plain http: the OAuth client secret and tokens cross the '
                                      'network unencrypted; use https' % transport.redact(token_url))

    def _url(self):
        return '%s/Services/PageService.ashx' % self.transport.server_url

    def status_advice(self, status, label, server_message):
        if status == 401:
            return 'check api_key or the OAuth client credentials', None
        if status == 403:
            return 'the credentials lack permission for this session or method', None
        if status == 404:
            return 'the session or endpoint was not found', None
        return None, None

    def _auth_headers(self, force_new_token=False):
        if self.options.get('oauth_client_id'):
            return {'Authorization': 'Bearer %s' % self._oauth_token(force_new_token)}
        return {'Authorization': 'Bearer %s' % self.options['api_key']}

    def _oauth_token(self, force_new=False):
        if not force_new and self._token and time.time() < self._token_expires - _TOKEN_REFRESH_MARGIN:
            return self._token
        self._token = None
        form = {'grant_type': 'client_credentials', 'client_id': self.options['oauth_client_id'],
                'client_secret': self.options['oauth_client_secret']}
        answer = self.transport.send('POST', self.options['oauth_token_url'], TOKEN_LABEL, True, self, data=form)
        if not isinstance(answer, dict) or not answer.get('access_token') or not isinstance(answer['access_token'], str):
            raise self.transport.error('OAuth token answer from %s has no access_token' % self.options['oauth_token_url'],
                                       method=TOKEN_LABEL)
        self._token = answer['access_token']
        self.transport.add_secret(self._token)
        try:
            lifetime = float(answer.get('expires_in') or 3600)
        except (TypeError, ValueError, OverflowError):
            lifetime = 3600.0
        if not 0 < lifetime < 10 ** 9:  # NaN, negative or absurd: the usual hour
            lifetime = 3600.0
        self._token_expires = time.time() + lifetime
        return self._token

    def rpc(self, method, params=None, safe=None):
        safe = method.startswith('Get') if safe is None else safe
        self._rpc_id += 1
        body = {'id': self._rpc_id, 'method': method, 'params': params or {}}
        for attempt in (1, 2):
            try:
                answer = self.transport.send('POST', self._url(), method, safe, self, json=body,
                                             headers=self._auth_headers(force_new_token=attempt == 2))
            except ScreenConnectError as error:
                # An expired or revoked token: drop it and fetch a new one, once. A 401 was not
                # carried out, so the retry is safe for writes too.
                if (error.status == 401 and error.method == method and attempt == 1
                        and self.options.get('oauth_client_id')):
                    self._token = None
                    continue
                raise
            break
        if isinstance(answer, dict) and answer.get('error'):
            text = rpc_error_text(answer['error'])
            raise self.transport.error('%s failed: %s' % (method, self.transport.clip(text, 300)), method=method,
                                       server_message=self.transport.clip(text, 300))
        return answer.get('result') if isinstance(answer, dict) else answer

    # ---- what the client asks of either API ------------------------------------------------
    def list_sessions(self, filter_expression, session_type):
        if filter_expression:
            session_filter = _sessions.all_of(_sessions.session_type_condition(session_type), filter_expression)
        elif session_type in (None, 'all'):
            session_filter = {}
        else:
            session_filter = {'SessionType': _sessions.session_type_number(session_type, self.name)}
        return expect_list(self.rpc('GetSessions', {'sessionFilter': session_filter}), 'GetSessions')

    def list_sessions_by_name(self, name):
        raise ScreenConnectError('GetSessionsByName is a RESTful API Manager method', method='GetSessionsByName')

    def session_raw(self, session_id):
        try:
            return self.rpc('GetSession', {'sessionID': session_id})
        except ScreenConnectError as error:
            if error.status != 404:
                raise
            return None

    def session_details_raw(self, session_id):
        return self.rpc('GetSessionDetails', {'sessionID': session_id})

    def update_session(self, session, name=None, custom_properties=None):
        self.rpc('UpdateSessionAsync', {
            'byHost': '', 'sessionID': session['session_id'],
            'name': session['name'] if name is None else name,
            'isPublic': session['is_public'], 'code': session['code'],
            'customPropertyValues': list(session['custom_properties'] if custom_properties is None else custom_properties)})

    def create_session_raw(self, session_type_number, name, is_public, code, values):
        return self.rpc('CreateSessionAsync', {
            'byHost': '', 'sessionType': session_type_number, 'name': name, 'host': '',
            'isPublic': is_public, 'code': code, 'customPropertyValues': values})
