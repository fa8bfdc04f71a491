"""The HTTP front: routes a request to REST, JSON-RPC, OAuth, a download or a control endpoint,
applies the rate limit and faults, records it, and sends the answer."""

import json
import re
import socket
import ssl
import time
import traceback
import urllib.parse
from http.server import BaseHTTPRequestHandler

from .answers import LOGIN_HTML, NOT_FOUND_HTML, STATUS_TEXT, Answer, html_answer, json_answer, raw_json_answer, text_answer
from .installers import CONTENT_TYPES

# A server may live under a path (server_url https://host/control): the REST path may follow one.
REST_PATH = re.compile(r'^(?:/[^?#]*)?/App_Extensions/([^/]+)/Service\.ashx/([^/]*)$', re.IGNORECASE)
BIN_PATH = re.compile(r'^/Bin/([^/]+)\.ClientSetup\.([^/.]+)$')
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
        if path.startswith('/Sim/Agent/'):
            return self.send(sim.relay.handle(verb, path, raw))
        seq = sim.next_seq()
        started = time.time()
        api, method, args = 'other', None, None
        body = None
        body_error = None
        rest = REST_PATH.match(path)
        binm = BIN_PATH.match(path)
        if rest and verb in ('POST', 'GET'):
            api, method = 'rest', rest.group(2)
        elif path.lower() == '/services/pageservice.ashx' and verb == 'POST':
            api = 'rpc'
        elif path.lower() == '/oauth/token' and verb == 'POST':
            api, method = 'oauth', 'OAuthToken'
        elif binm and verb in ('GET', 'HEAD'):
            api, method = 'download', 'download'
        if api == 'rest' and verb == 'GET' and not raw.strip():
            # a read by GET: its arguments by parameter name in the query
            body = dict(urllib.parse.parse_qsl(parsed.query, keep_blank_values=True)) if parsed.query else None
            args = body
        elif api in ('rest', 'rpc'):
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
            return sim.rest(method, body, self.headers, self.command)
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
                                    'extension_id': sim.extension_id, 'variations': sorted(sim.variations),
                                    'max_command_length': sim.max_command_length})
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
            if path == '/_sim/triggers' or path.startswith('/_sim/fleet/'):
                return sim.triggers.control(verb, path, payload)
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
