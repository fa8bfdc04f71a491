"""The Session Manager JSON-RPC API (POST /Services/PageService.ashx) and its OAuth2 token endpoint."""

import json
import random
import time

from .answers import Answer, Fault, json_answer, properties_arg, raw_json_answer
from .filters import FIELD_GETTERS, FilterError, compile_filter, match_every_session
from .fleet import (EV_MODIFIED_CODE, EV_MODIFIED_IS_PUBLIC, EV_MODIFIED_NAME, EV_MODIFIED_PROPERTIES, RPC_TYPES,
                    render_session, session_type_of)

RPC_WRITES = ('CreateSessionAsync', 'UpdateSessionAsync')


class RpcApi:
    """The JSON-RPC methods and the OAuth token endpoint of the Simulator (a mixin)."""

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
                predicate = compile_filter(flt, RPC_TYPES)
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
        stype = session_type_of(params.get('sessionType', 'Access'), RPC_TYPES)
        name = params.get('name')
        if stype is None or not isinstance(name, str):
            raise RpcError(-32602, 'Invalid params: sessionType and name are required')
        try:
            cps = properties_arg(params.get('customPropertyValues') or [])
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
                    cps = properties_arg(params['customPropertyValues'])
                except Fault:
                    raise RpcError(-32602, 'Invalid params: customPropertyValues must be at most 8 strings')
                s.cps = cps
                changes.append((EV_MODIFIED_PROPERTIES, json.dumps(cps, ensure_ascii=False)))
            self.touched(s)
        for etype, data in changes:
            self.add_event(s, etype, data, by_host)
        self._count_write('UpdateSessionAsync')
        return render_session(s, self.spelling, 'rpc', self.omit_active_connections)


class RpcError(Exception):
    def __init__(self, code, message, status=200):
        Exception.__init__(self, message)
        self.code, self.message, self.status = code, message, status


def dict_filter(flt):
    tests = []
    for key, value in flt.items():
        if key == 'SessionType':
            target = session_type_of(value, RPC_TYPES)
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
