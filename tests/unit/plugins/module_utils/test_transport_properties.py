"""A property of the client: whatever a server (or anything in front of it) answers, any status, any
headers (Retry-After, Content-Type, Location included), any body bytes, read in any chunks, or any
exception a request raises, the client's calls return parsed data or raise ScreenConnectError, and
nothing else. A write that reached the server and failed says may_have_run, and no part of a
secret ever shows in an error.

No socket: a fake HTTP session hands out the generated answer (the client accepts http=).
"""

import http.client
import json
import socket
import ssl

import requests
import urllib3
from hypothesis import HealthCheck, example, given, settings, strategies as st
from requests.structures import CaseInsensitiveDict

from ansible_collections.msp.screenconnect.plugins.module_utils import _client, _transport
from ansible_collections.msp.screenconnect.plugins.module_utils._client import ScreenConnectError

SECRET = 's3cret-rest-0123456789abcdef'
API_KEY = 'k3y-rpc-abcdef0123456789'

FAILURES = [
    requests.exceptions.ChunkedEncodingError('cut'), requests.exceptions.ContentDecodingError('gzip'),
    requests.exceptions.ConnectionError('reset %s' % SECRET), requests.exceptions.ConnectTimeout('connect'),
    requests.exceptions.ReadTimeout('slow'), requests.exceptions.SSLError('certificate verify failed: x'),
    requests.exceptions.TooManyRedirects('loop'), requests.exceptions.InvalidHeader('bad'),
    requests.exceptions.InvalidURL('url'), http.client.IncompleteRead(b'[1,', 10),
    http.client.RemoteDisconnected('gone'), urllib3.exceptions.ProtocolError('broken'), socket.timeout('timed out'),
    ConnectionResetError(104, 'reset'), ssl.SSLError('bad record mac'), ValueError('odd'),
]
# Headers a server might send, with values chosen to hurt: numbers that are no numbers, huge ones, secrets.
HEADER_VALUES = st.one_of(
    st.text(max_size=40),
    st.sampled_from(['0', '-1', '1.5', 'nan', 'inf', '-inf', '1e400', '99999999999', 'Wed, 21 Oct 2015 07:28:00 GMT',
                     'text/html', 'application/json', 'text/plain; charset=utf-8', 'application/json; charset=latin-1',
                     'http://127.0.0.2:9/x', '//evil.example/', 'https://evil.example/?k=' + SECRET, SECRET, '']))
HEADERS = st.dictionaries(st.sampled_from(['Retry-After', 'Content-Type', 'Location', 'Content-Encoding']),
                          HEADER_VALUES, max_size=4)
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=20) | st.just(SECRET) | st.just(API_KEY),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(
        st.sampled_from(['id', 'result', 'error', 'message', 'Message', 'error_description', 'access_token',
                         'expires_in', 'SessionID', 'Sessions']), children, max_size=4),
    max_leaves=12)
NESTED = b'[' * 50000 + b']' * 50000
BODIES = st.one_of(
    st.binary(max_size=400),
    JSON_VALUES.map(lambda value: json.dumps(value).encode('utf-8')),
    st.sampled_from([b'', b'null', b'[]', b'{}', b'"hello"', b'\xef\xbb\xbf[]', NESTED,
                     b'<html><title>Login</title></html>', b'x' * 295 + SECRET.encode(), b'{"message": "%s"}' % SECRET.encode(),
                     b'{"id": 1, "result": [], "error": null}', b'{"id": 1, "error": {"message": "no"}}',
                     b'\xff\xfe\x00', b'[1, 2, 3']))
STATUSES = st.one_of(st.just(200), st.integers(100, 599),
                     st.sampled_from([200, 204, 301, 302, 303, 307, 308, 400, 401, 403, 404, 429, 500, 502, 503, 504]))


class Raw:
    def __init__(self, chunks, failure):
        self.chunks = list(chunks)
        self.failure = failure

    def read1(self, _amount, decode_content=None):
        if self.chunks:
            return self.chunks.pop(0)
        if self.failure is not None:
            raise self.failure
        return b''


class Answer:
    def __init__(self, status, headers, body, reason, chunked, failure_in_body):
        self.status_code = status
        self.headers = CaseInsensitiveDict(headers)
        self.content = body
        self.reason = reason
        self.url = None
        cuts = sorted(set(cut % (len(body) + 1) for cut in chunked)) if chunked is not None else None
        if cuts is not None or failure_in_body is not None:
            edges = [0] + (cuts or []) + [len(body)]
            self.raw = Raw([body[start:end] for start, end in zip(edges, edges[1:]) if end > start], failure_in_body)
        else:
            self.raw = None

    def close(self):
        pass


class FakeHttp:
    def __init__(self, answer, failure):
        self.answer = answer
        self.failure = failure
        self.headers = {}
        self.sent = 0

    def request(self, _method, url, **_kwargs):
        self.sent += 1
        if self.failure is not None:
            raise self.failure
        self.answer.url = url
        return self.answer


def _rpc_error_envelope(body):
    try:
        answer = json.loads(body.decode('utf-8-sig'))
    except (ValueError, RecursionError):
        return False
    return isinstance(answer, dict) and bool(answer.get('error'))


CALLS = {
    'rest': [('read', lambda client: client.call('GetSessionsByFilter', ["SessionType = 'Access'"])),
             ('read', lambda client: client.fetch_sessions_raw(None)),
             ('write', lambda client: client.call('SendCommandToSession', ['id', 'uptime']))],
    'session_manager': [('read', lambda client: client.rpc('GetSessions', {'sessionFilter': {}})),
                        ('read', lambda client: client.fetch_sessions_raw("Name = 'x'")),
                        ('write', lambda client: client.rpc('SendCommandToSessionAsync', {'command': 'uptime'}))],
}


@settings(max_examples=400, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(api=st.sampled_from(sorted(CALLS)), which=st.integers(0, 2), status=STATUSES, headers=HEADERS, body=BODIES,
       reason=st.one_of(st.none(), st.text(max_size=20)), chunked=st.one_of(st.none(), st.lists(st.integers(0, 500), max_size=4)),
       failure=st.one_of(st.none(), st.none(), st.sampled_from(FAILURES)),
       failure_in_body=st.one_of(st.none(), st.none(), st.sampled_from(FAILURES)))
@example(api='rest', which=2, status=200, headers={}, body=NESTED, reason='OK', chunked=None, failure=None,
         failure_in_body=None)
@example(api='session_manager', which=1, status=400, headers={}, body=NESTED, reason=None, chunked=[1], failure=None,
         failure_in_body=None)
def test_no_answer_makes_the_client_raise_anything_but_its_own_error(state_dir, api, which, status, headers, body,
                                                                     reason, chunked, failure, failure_in_body):
    options = {'server_url': 'https://control.example.com', 'api': api, 'retries': 1, 'timeout': 5,
               'rate_limit': 60000, 'rate_burst': 1000}
    options.update({'api_secret': SECRET} if api == 'rest' else {'api_key': API_KEY})
    http = FakeHttp(Answer(status, headers, body, reason, chunked, failure_in_body), failure)
    client = _client.ScreenConnectClient(options, state_dir=state_dir, backoff_base=0.0, sleep=lambda _s: None, http=http)
    kind, call = CALLS[api][which]
    try:
        call(client)
    except ScreenConnectError as error:
        shown = '%s %r' % (error, error.to_result())
        for secret in [SECRET if api == 'rest' else API_KEY]:  # the other one is no secret of this client
            for index in range(len(secret) - _transport.MIN_SECRET_FRAGMENT + 1):
                assert secret[index:index + _transport.MIN_SECRET_FRAGMENT] not in shown
        if kind == 'write':
            assert http.sent == 1 or error.status in (429, 503) or isinstance(failure, requests.exceptions.ConnectTimeout)
            reached = failure is None or not isinstance(failure, requests.exceptions.ConnectTimeout)
            answered_2xx = failure is None and 200 <= status < 300
            if answered_2xx and not (api == 'session_manager' and _rpc_error_envelope(body)):
                assert error.may_have_run  # carried out, whatever the body says (unless it says it failed)
            if not reached:
                assert not error.may_have_run
