"""A programmable hostile server for tests: every answer is what the test says, nothing else.

The simulator behaves like a ScreenConnect server; this one behaves like whatever a test needs a
server (or something in front of one) to do: answer a status with any headers and body, redirect
elsewhere, answer slowly, trickle a body one byte at a time, lie in Content-Length, or close the
connection. It records every request with all its headers (secrets included: that is how a test
sees where a secret went), so it must only ever listen on loopback.

    from screenconnect_sim.hostile import HostileServer
    with HostileServer(host='127.0.0.2') as server:
        server.program('GetSessionsByFilter', [{'status': 302, 'headers': {'Location': other.url + '/x'}}])
        ... server.requests ...

An answer is a dict:
    status      HTTP status (default 200)
    headers     dict of extra headers
    body        bytes, str, or any JSON value (sent as JSON); default empty
    delay       seconds to wait before the status line
    trickle     seconds to wait between bytes of the body (headers go at once)
    truncate    send only this many bytes of the body while Content-Length says all of it
    close       true: close the connection without any answer

program(key, answers) sets the answers for a key; they are used in order and the last one repeats.
A key is a REST method name (the last segment of .../Service.ashx/<Method>), a JSON-RPC method
name (from the body of /Services/PageService.ashx), a path ('/oauth/token'), or '*' for anything
not programmed otherwise. Unprogrammed requests get 404.

Control over HTTP, for tests that run in another process (never recorded):
    POST /_hostile/program   {"key": ..., "answers": [...]}
    POST /_hostile/reset     forget answers and requests
    GET  /_hostile/requests  the recorded requests
"""

import json
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

LOOPBACK_PREFIXES = ('127.', '::1', 'localhost')


def _body_bytes(body):
    if body is None:
        return b''
    if isinstance(body, bytes):
        return body
    if isinstance(body, str):
        return body.encode('utf-8')
    return json.dumps(body).encode('utf-8')


class HostileServer:
    """One programmable server on a loopback address (127.0.0.1, 127.0.0.2, ...)."""

    def __init__(self, host='127.0.0.1', port=0):
        if not host.startswith(LOOPBACK_PREFIXES):
            raise ValueError('HostileServer records secrets: it listens on loopback only, not %s' % host)
        self.host = host
        self.port = port
        self._answers = {}
        self._requests = []
        self._lock = threading.Lock()
        self._httpd = None
        self._thread = None

    # ---- what tests use ----------------------------------------------------------------------
    @property
    def url(self):
        return 'http://%s:%d' % (self.host, self.port)

    def program(self, key, answers):
        if isinstance(answers, dict):
            answers = [answers]
        with self._lock:
            self._answers[key] = [dict(answer) for answer in answers]

    def reset(self):
        with self._lock:
            self._answers.clear()
            del self._requests[:]

    @property
    def requests(self):
        with self._lock:
            return [dict(entry) for entry in self._requests]

    def requests_for(self, key):
        return [entry for entry in self.requests if entry['key'] == key]

    def saw_text(self, text):
        """Whether any recorded request carried `text` anywhere (path, a header or the body)."""
        for entry in self.requests:
            if text in entry['path'] or text in entry['body'] or any(text in value for value in entry['headers'].values()):
                return True
        return False

    def start(self):
        handler = type('BoundHostileHandler', (_Handler,), {'server_state': self})
        self._httpd = ThreadingHTTPServer((self.host, self.port), handler)
        self._httpd.daemon_threads = True
        self.port = self._httpd.server_address[1]
        self._thread = threading.Thread(target=self._httpd.serve_forever, name='hostile-%s' % self.host, daemon=True)
        self._thread.start()
        return self

    def stop(self):
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    # ---- inside ------------------------------------------------------------------------------
    def _next_answer(self, keys):
        with self._lock:
            for key in keys:
                queue = self._answers.get(key)
                if queue:
                    return queue.pop(0) if len(queue) > 1 else dict(queue[0])
        return {'status': 404, 'body': 'not programmed'}

    def _record(self, entry):
        with self._lock:
            entry['seq'] = len(self._requests) + 1
            self._requests.append(entry)


def request_key(path, body):
    """The key a request is answered by: its REST or JSON-RPC method name, else its path."""
    if '/Service.ashx/' in path:
        return path.rsplit('/', 1)[-1]
    if path.endswith('/Services/PageService.ashx'):
        try:
            return json.loads(body).get('method') or path
        except (ValueError, AttributeError):
            return path
    return path


class _Handler(BaseHTTPRequestHandler):
    server_state = None
    protocol_version = 'HTTP/1.1'

    def log_message(self, format, *args):  # quiet
        pass

    def do_GET(self):
        self._handle('GET')

    def do_POST(self):
        self._handle('POST')

    def do_PUT(self):
        self._handle('PUT')

    def do_HEAD(self):
        self._handle('HEAD')

    def _handle(self, verb):
        length = int(self.headers.get('Content-Length') or 0)
        raw = self.rfile.read(length) if length > 0 else b''
        path = urllib.parse.urlsplit(self.path).path
        if path.startswith('/_hostile/'):
            return self._control(verb, path, raw)
        body = raw.decode('utf-8', 'replace')
        key = request_key(path, body)
        self.server_state._record({'time': time.time(), 'http_method': verb, 'path': self.path, 'key': key,
                                   'headers': dict(self.headers.items()), 'body': body})
        self._answer(self.server_state._next_answer([key, path, '*']))

    def _control(self, verb, path, raw):
        state = self.server_state
        if path == '/_hostile/requests' and verb == 'GET':
            return self._answer({'body': state.requests})
        if path == '/_hostile/reset' and verb == 'POST':
            state.reset()
            return self._answer({'body': {'ok': True}})
        if path == '/_hostile/program' and verb == 'POST':
            data = json.loads(raw.decode('utf-8'))
            state.program(data['key'], data['answers'])
            return self._answer({'body': {'ok': True}})
        return self._answer({'status': 404, 'body': 'no such control endpoint'})

    def _answer(self, answer):
        if answer.get('delay'):
            time.sleep(answer['delay'])
        if answer.get('close'):
            self.close_connection = True
            return
        body = _body_bytes(answer.get('body'))
        headers = {'Content-Type': 'application/json; charset=utf-8'}
        headers.update(answer.get('headers') or {})
        self.send_response(int(answer.get('status', 200)))
        for name, value in headers.items():
            self.send_header(name, str(value))
        self.send_header('Content-Length', str(len(body)))
        self.end_headers()
        if self.command == 'HEAD':
            return
        if answer.get('truncate') is not None:
            body = body[:int(answer['truncate'])]
            self.close_connection = True
        if answer.get('trickle'):
            for index in range(len(body)):
                self.wfile.write(body[index:index + 1])
                self.wfile.flush()
                time.sleep(answer['trickle'])
        else:
            self.wfile.write(body)
        self.wfile.flush()
