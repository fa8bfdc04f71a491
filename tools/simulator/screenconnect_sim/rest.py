"""The RESTful API Manager extension: POST /App_Extensions/{id}/Service.ashx/{Method}."""

import json

from .answers import Answer, Fault, json_answer, properties_arg, sm_fault, text_answer, void_answer
from .faults import MISSING_IN_OLD_EXTENSION
from .filters import FilterError, compile_filter
from .fleet import (EV_MODIFIED_NAME, EV_MODIFIED_PROPERTIES, EV_NOTE, EV_QUEUED_MESSAGE, EV_QUEUED_TOOL,
                    EV_SENT_MESSAGE, GUID_RE, REAL_TYPES, render_session, session_type_of)

REST_READS = {
    'GetSessionsByFilter': ['sessionFilter'],
    'GetSessionsByName': ['sessionName'],
    'GetSessionBySessionID': ['sessionID'],
    'GetSessionDetailsBySessionID': ['sessionID'],
}
REST_WRITES = ('CreateSession', 'UpdateSessionCustomProperties', 'UpdateSessionName', 'SendCommandToSession',
               'SendMessageToSession', 'AddNoteToSession', 'SendToolboxItemToSession')


class RestApi:
    """The REST methods of the Simulator (a mixin: state, lock and session operations are the Simulator's)."""

    def rest(self, method, body, headers, http_method='POST'):
        """One REST call. Reads take POST or GET (documented as GET; every client POSTs), writes POST."""
        variations = self.variations
        if method not in REST_READS and method not in REST_WRITES or (
                'old_extension' in variations and method in MISSING_IN_OLD_EXTENSION):
            return text_answer(500, 'Web method does not exist')
        if http_method != 'POST' and method not in REST_READS:
            return Answer(405, '%s takes POST' % method, 'text/plain; charset=utf-8', {'Allow': 'POST'})
        secret = headers.get('CTRLAuthHeader')
        if secret is None or secret != self.api_secret:
            return text_answer(401, 'Unauthorized: the CTRLAuthHeader is missing or wrong')
        # exact_origin: RESTfulAllowedOrigin holds the server's own scheme://host:port.
        allowed = self.allowed_origin or (self.url if 'exact_origin' in variations else None)
        if allowed and headers.get('Origin') != allowed:
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

    def rest_GetSessionDetailsBySessionID(self, args):
        if len(args) != 1:
            raise sm_fault('GetSessionDetailsBySessionID takes 1 argument')
        return json_answer(self._details(self._session_arg(args[0]), 'rest'))

    def rest_CreateSession(self, args):
        if len(args) != 5:
            raise sm_fault('CreateSession takes 5 arguments')
        stype, name, is_public, code, cps = args
        if 'numeric_session_type' in self.variations and not isinstance(stype, int):
            raise sm_fault('cannot convert %s to SessionType (a number: Support 0, Meeting 1, Access 2)'
                           % json.dumps(stype))
        stype = session_type_of(stype, REAL_TYPES)
        if stype is None or not isinstance(name, str) or not isinstance(is_public, bool) \
                or not isinstance(code, (str, type(None))):
            raise sm_fault('bad argument')
        s = self.create(stype, name, is_public, code or '', properties_arg(cps))
        self._count_write('CreateSession')
        return json_answer(render_session(s, self.spelling, 'rest', self.omit_active_connections))

    def rest_UpdateSessionCustomProperties(self, args):
        if len(args) != 2:
            raise sm_fault('UpdateSessionCustomProperties takes 2 arguments')
        s = self._session_arg(args[0])
        values = properties_arg(args[1])
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
        limit = self.max_command_length
        if limit and len(args[1]) > limit:
            # Refused before anything is queued (assumed: docs/screenconnect-api.md, commands).
            return text_answer(413, 'Command too long: %d characters; this server takes at most %d'
                               % (len(args[1]), limit))
        self.queue_command(s, args[1])
        self._count_write('SendCommandToSession')
        return void_answer()

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
