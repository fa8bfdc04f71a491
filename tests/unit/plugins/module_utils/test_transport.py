"""The transport under every API call: errors whose message cannot drift, secrets masked before any
cut, no redirect followed, one deadline per request, listings that must be lists, and every
exception a request can raise turned into ScreenConnectError with the right may_have_run.

No socket: the client's HTTP session is a fake (as in test_client.py). The deadline's real-socket
case is tests/system/test_transport_security.py::test_timeout_caps_a_trickled_answer.
"""

import http.client
import json
import os
import socket
import ssl

import pytest
import requests
import urllib3
from requests.structures import CaseInsensitiveDict

from ansible_collections.msp.screenconnect.plugins.module_utils import _client, _transport
from ansible_collections.msp.screenconnect.plugins.module_utils._client import ScreenConnectError
from ansible_collections.msp.screenconnect.plugins.module_utils._ratelimit import SharedRateLimiter

SERVER = 'https://control.example.com'
SECRET = 's3cret-rest-0123456789abcdef'
CLIENT_SECRET = 'oauth-client-secret-xyz'
TOKEN_URL = 'https://login.example.com/oauth/token'


class Raw:
    """urllib3's HTTPResponse as far as the transport reads it: read1() gives one chunk per call."""

    def __init__(self, chunks, clock=None, per_chunk=0.0):
        self.chunks = list(chunks)
        self.clock = clock
        self.per_chunk = per_chunk

    def read1(self, _amount, decode_content=None):
        if self.clock is not None:
            self.clock.now += self.per_chunk
        return self.chunks.pop(0) if self.chunks else b''


class Answer:
    def __init__(self, status=200, body=b'', headers=None, raw=None, reason='OK'):
        self.status_code = status
        self.content = body if isinstance(body, bytes) else body.encode('utf-8')
        self.headers = CaseInsensitiveDict({'Content-Type': 'application/json'})
        self.headers.update(headers or {})
        self.reason = reason
        self.url = None
        self.raw = raw
        self.closed = False

    def close(self):
        self.closed = True


class FakeHttp:
    def __init__(self, *answers):
        self.answers = list(answers)
        self.sent = []
        self.headers = {}

    def request(self, method, url, **kwargs):
        self.sent.append((method, url, kwargs))
        answer = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        if isinstance(answer, BaseException):
            raise answer
        answer.url = url
        return answer


def client(state_dir, *answers, **options):
    base = {'server_url': SERVER, 'api_secret': SECRET, 'retries': 2, 'timeout': 3, 'rate_limit': 6000,
            'rate_burst': 100}
    base.update(options)
    http = FakeHttp(*answers)
    built = _client.ScreenConnectClient(base, state_dir=state_dir, backoff_base=0.0, sleep=lambda _s: None, http=http)
    return built, http


def raised(function, *args):
    with pytest.raises(ScreenConnectError) as info:
        function(*args)
    return info.value


# ---- the error's message is made once ---------------------------------------------------------------

def test_the_message_is_read_only_and_str_agrees():
    error = ScreenConnectError('one line', status=429)
    assert str(error) == error.message == error.to_result()['msg'] == 'one line'
    with pytest.raises(AttributeError):
        error.message += ' (more)'


def test_the_429_advice_is_in_str_message_and_result_alike(state_dir):
    busy = Answer(429, 'Too many requests', {'Retry-After': '0', 'Content-Type': 'text/plain'})
    api, http = client(state_dir, busy, retries=2)
    error = raised(api.find_sessions)
    advice = 'still rate limited after 2 retries: lower rate_limit or raise retries'
    assert advice in str(error) and advice in error.message and advice in error.to_result()['msg']
    assert len(http.sent) == 3


# ---- secrets: masked first, then cut --------------------------------------------------------------------

@pytest.mark.parametrize('padding', range(270, 301, 3))
def test_a_secret_at_the_cut_never_leaks_a_part(state_dir, padding):
    body = 'x' * padding + SECRET + ' refused'
    api, _http = client(state_dir, Answer(400, body, {'Content-Type': 'text/plain'}))
    error = raised(api.find_sessions)
    text = json.dumps(error.to_result()) + str(error)
    for index in range(len(SECRET) - _transport.MIN_SECRET_FRAGMENT + 1):
        assert SECRET[index:index + _transport.MIN_SECRET_FRAGMENT] not in text


def test_a_part_of_a_secret_echoed_by_the_server_is_masked(state_dir):
    body = json.dumps({'message': 'bad header %s... and %s' % (SECRET[:12], SECRET[5:20])})
    api, _http = client(state_dir, Answer(400, body))
    error = raised(api.find_sessions)
    assert SECRET[:_transport.MIN_SECRET_FRAGMENT] not in error.message
    assert SECRET[5:5 + _transport.MIN_SECRET_FRAGMENT] not in error.server_message
    assert 'bad header ********' in error.server_message


def test_redact_leaves_short_runs_and_other_text_alone(state_dir):
    api, _http = client(state_dir, Answer())
    assert api.redact('s3cre is five, s3cret is six') == 's3cre is five, ******** is six'
    assert api.redact('nothing secret') == 'nothing secret'
    assert api.redact(None) == ''


def test_a_secret_in_a_location_or_an_exception_never_shows(state_dir):
    moved = Answer(302, '', {'Location': 'https://evil.example/?k=%s' % SECRET})
    api, _http = client(state_dir, moved)
    assert SECRET[:6] not in str(raised(api.find_sessions))
    api, _http = client(state_dir, requests.exceptions.ConnectionError('to %s' % SECRET))
    assert SECRET[:6] not in str(raised(api.find_sessions))


def test_an_http_oauth_token_url_warns_like_an_http_server_url(state_dir):
    options = {'api': 'session_manager', 'api_secret': None, 'oauth_token_url': 'http://login.example.com/token',
               'oauth_client_id': 'cid', 'oauth_client_secret': CLIENT_SECRET}
    api, _http = client(state_dir, Answer(), **options)
    assert any('oauth_token_url http://login.example.com/token is plain http' in warning for warning in api.warnings)
    options['oauth_token_url'] = TOKEN_URL
    api, _http = client(state_dir, Answer(), **options)
    assert not any('plain http' in warning for warning in api.warnings)


# ---- redirects ----------------------------------------------------------------------------------------

@pytest.mark.parametrize('status', [301, 302, 303, 307, 308])
def test_no_redirect_is_followed_and_the_error_names_where_it_pointed(state_dir, status):
    moved = Answer(status, '', {'Location': 'http://127.0.0.2:8080/elsewhere'}, reason='Moved')
    api, http = client(state_dir, moved)
    error = raised(api.find_sessions)
    assert 'HTTP %d' % status in error.message and 'http://127.0.0.2:8080/elsewhere' in error.message
    assert error.method == 'GetSessionsByFilter' and error.status == status
    assert len(http.sent) == 1 and http.sent[0][2]['allow_redirects'] is False
    assert SECRET not in error.message


def test_a_redirected_write_may_have_run(state_dir):
    api, http = client(state_dir, Answer(303, '', {'Location': '/done'}))
    error = raised(api.call, 'SendCommandToSession', ['id', 'uptime'])
    assert error.may_have_run and len(http.sent) == 1


def test_the_oauth_token_request_follows_no_redirect(state_dir):
    options = {'api': 'session_manager', 'api_secret': None, 'oauth_token_url': TOKEN_URL,
               'oauth_client_id': 'cid', 'oauth_client_secret': CLIENT_SECRET}
    api, http = client(state_dir, Answer(307, '', {'Location': 'https://evil.example/token'}), **options)
    error = raised(api.find_sessions)
    assert error.method == 'oauth token' and 'https://evil.example/token' in error.message
    assert [url for _m, url, _k in http.sent] == [TOKEN_URL] and http.sent[0][2]['allow_redirects'] is False


# ---- the deadline ---------------------------------------------------------------------------------------

def test_a_body_that_outlasts_the_timeout_is_cut_off(state_dir, monkeypatch, clock):
    monkeypatch.setattr(_transport.time, 'monotonic', clock)
    trickle = Raw([b'['] + [b' '] * 35 + [b']'], clock=clock, per_chunk=1.0)  # a byte a second
    api, http = client(state_dir, Answer(200, raw=trickle), retries=0)
    error = raised(api.find_sessions)
    assert 'no complete answer within 3.0s' in error.message
    assert len(trickle.chunks) >= 30  # stopped at the deadline, not at the end of the body
    assert http.sent[0][2]['stream'] is True and http.sent[0][2]['timeout'] == 3.0


def test_a_write_cut_off_by_the_deadline_may_have_run_and_is_not_repeated(state_dir, monkeypatch, clock):
    monkeypatch.setattr(_transport.time, 'monotonic', clock)
    api, http = client(state_dir, Answer(200, raw=Raw([b'x'] * 10, clock=clock, per_chunk=1.0)))
    error = raised(api.call, 'SendCommandToSession', ['id', 'uptime'])
    assert error.may_have_run and len(http.sent) == 1


def test_a_body_read_in_chunks_within_the_deadline_is_parsed(state_dir):
    body = json.dumps([]).encode()
    api, _http = client(state_dir, Answer(200, raw=Raw([body[:1], body[1:]])))
    assert api.fetch_sessions_raw(None) == []


# ---- answers that cannot be read ----------------------------------------------------------------------

def test_nested_brackets_are_a_clear_error(state_dir):
    api, _http = client(state_dir, Answer(200, b'[' * 100000 + b']' * 100000))
    error = raised(api.find_sessions)
    assert 'nested too deeply' in error.message


@pytest.mark.parametrize('body,kind', [({'Sessions': []}, 'object'), ('hello', 'string'), (5, 'number'),
                                       (True, 'boolean')])
@pytest.mark.parametrize('api_name', ['rest', 'session_manager'])
def test_a_listing_must_be_a_list(state_dir, body, kind, api_name):
    if api_name == 'rest':
        answer, options = Answer(200, json.dumps(body)), {}
    else:
        answer = Answer(200, json.dumps({'id': 1, 'result': body, 'error': None}))
        options = {'api': 'session_manager', 'api_secret': None, 'api_key': 'k3y-rpc'}
    api, _http = client(state_dir, answer, **options)
    for listing in (api.find_sessions, lambda: api.fetch_sessions_raw(None)):
        assert 'expected a list of sessions, got %s' % kind in raised(listing).message


@pytest.mark.parametrize('body', [b'', b'null', b'[]'])
def test_an_empty_listing_is_still_empty(state_dir, body):
    api, _http = client(state_dir, Answer(200, body))
    assert api.fetch_sessions_raw(None) == [] and api.find_sessions() == []


def test_one_session_by_id_is_still_an_object(state_dir):
    raw = {'SessionID': '2c279e01-5ba2-4c6c-9276-8fd373ecc758', 'SessionType': 2, 'Name': 'A',
           'CustomPropertyValues': [''] * 8}
    api, _http = client(state_dir, Answer(200, json.dumps(raw)))
    assert api.get_session(raw['SessionID'])['name'] == 'A'


# ---- every failure of a request is ScreenConnectError ---------------------------------------------------

FAILURES = [
    requests.exceptions.ChunkedEncodingError('cut'),
    requests.exceptions.ContentDecodingError('gzip'),
    requests.exceptions.ConnectionError('reset'),
    requests.exceptions.ReadTimeout('slow'),
    requests.exceptions.TooManyRedirects('loop'),
    requests.exceptions.InvalidHeader('bad header'),
    http.client.IncompleteRead(b'[1,', 10),
    http.client.RemoteDisconnected('gone'),
    urllib3.exceptions.ProtocolError('broken'),
    socket.timeout('timed out'),
    ConnectionResetError(104, 'reset'),
    ssl.SSLError('bad record mac'),
    ValueError('odd'),
]


@pytest.mark.parametrize('failure', FAILURES, ids=lambda failure: type(failure).__name__)
def test_any_failure_of_a_write_is_one_error_that_may_have_run(state_dir, failure):
    api, http = client(state_dir, failure)
    error = raised(api.call, 'SendCommandToSession', ['id', 'uptime'])
    assert error.may_have_run and len(http.sent) == 1
    assert type(failure).__name__ in error.message or 'TLS error' in error.message


@pytest.mark.parametrize('failure', FAILURES, ids=lambda failure: type(failure).__name__)
def test_any_failure_of_a_read_is_one_error_and_never_ran_anything(state_dir, failure):
    api, _http = client(state_dir, failure)
    error = raised(api.find_sessions)
    assert not error.may_have_run


def test_a_write_answered_2xx_with_a_broken_body_has_run(state_dir):
    api, _http = client(state_dir, Answer(200, b'{"truncated'))
    error = raised(api.call, 'SendCommandToSession', ['id', 'uptime'])
    assert error.may_have_run and 'malformed JSON' in error.message


def test_the_streamed_answer_is_closed(state_dir):
    answer = Answer(200, b'[]', raw=Raw([b'[]']))
    api, _http = client(state_dir, answer)
    api.fetch_sessions_raw(None)
    assert answer.closed


# ---- the User-Agent: the collection's version from one place ------------------------------------------

def test_the_user_agent_names_the_version_of_galaxy_yml_when_it_can_be_read(state_dir):
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(_transport.__file__))))
    manifest, galaxy = os.path.join(root, 'MANIFEST.json'), os.path.join(root, 'galaxy.yml')
    if os.path.exists(manifest):
        with open(manifest) as handle:
            expected = json.load(handle)['collection_info']['version']
    else:
        with open(galaxy) as handle:
            expected = [line.split(':', 1)[1].strip() for line in handle if line.startswith('version:')][0]
    assert _transport.COLLECTION_VERSION == expected
    api, http = client(state_dir, Answer())
    assert http.headers['User-Agent'] == 'msp.screenconnect/%s' % expected


def test_without_a_version_the_user_agent_has_none(monkeypatch, tmp_path):
    monkeypatch.setattr(_transport.os.path, 'abspath', lambda _path: str(tmp_path / 'a' / 'b' / 'c' / 'x.py'))
    assert _transport._collection_version() is None


def test_the_limiter_is_shared_through_the_facade(state_dir, clock):
    api, _http = client(state_dir, Answer())
    replacement = SharedRateLimiter(SERVER, 60, 5, state_dir=state_dir, clock=clock, sleep=clock.sleep)
    api.limiter = replacement
    assert api.limiter is replacement and api.transport.limiter is replacement
