"""The shared client on recorded answers: what it sends through both APIs, OAuth, retries by safety,
answers that are not JSON, secrets kept out of errors, and its counters.

No socket is opened: the client's HTTP session is FakeHttp, which hands out answers in order and
records every request. The answers have the shapes real servers give (the simulator answers the
same): positional argument arrays, numeric enums, times with 7 fractional digits, an empty body
for methods that return nothing. Sleeps go to a list instead of the clock.
The same client against the simulator over HTTP: tests/system/test_client.py.
"""

import json

import pytest
import requests
from requests.structures import CaseInsensitiveDict

from ansible_collections.msp.screenconnect.plugins.module_utils import _client
from ansible_collections.msp.screenconnect.plugins.module_utils._client import ConfigError, ScreenConnectError
from ansible_collections.msp.screenconnect.plugins.module_utils._ratelimit import SharedRateLimiter

SERVER = 'https://control.example.com'
REST_URL = SERVER + '/App_Extensions/2d558935-686a-4bd0-9991-07539f5fe749/Service.ashx/'
RPC_URL = SERVER + '/Services/PageService.ashx'
TOKEN_URL = 'https://login.example.com/oauth/token'
SECRET = 's3cret-rest'
API_KEY = 'k3y-rpc'
CLIENT_SECRET = 'csecret'
TOKEN = '9f1c2e0b7a6d4c3b8e5f0a1b2c3d4e5f'
SESSION_ID = '2c279e01-5ba2-4c6c-9276-8fd373ecc758'
WRITES = [('SendCommandToSession', [SESSION_ID, 'hostname']), ('SendMessageToSession', [SESSION_ID, 'hello']),
          ('AddNoteToSession', [SESSION_ID, 'patched by ansible']),
          ('UpdateSessionCustomProperties', [SESSION_ID, ['Acme Corp', 'HQ', '', '', '', '', '', '']]),
          ('UpdateSessionName', [SESSION_ID, 'MAC-00001-NEW'])]

# Two sessions of a GetSessionsByFilter answer (the simulator's fleet of seed 7, nested spelling):
# an online macOS agent and an offline Windows one.
MAC_ONLINE = {
    'SessionID': SESSION_ID, 'SessionType': 2, 'Name': 'MAC-00001', 'Host': '', 'IsPublic': False, 'Code': '',
    'IsEnded': False, 'CustomPropertyValues': ['Acme Corp', 'Branch 1', '', '', '', '', '', ''],
    'ActiveConnections': [{'ProcessType': 2, 'ConnectionID': '7ee30084-b957-4c0a-978b-7d09d2674bb6', 'ClientType': 2,
                           'ParticipantName': '', 'ConnectedTime': '2025-12-29T23:15:28.2924526Z'}],
    'GuestInfoUpdateTime': '2026-01-08T15:23:13.5700214Z',
    'LastGuestConnectedEventTime': '2025-12-29T23:15:28.2924526Z',
    'LastGuestDisconnectedEventTime': '2025-12-29T18:27:57.2924526Z',
    'GuestInfo': {'MachineName': 'MAC-00001', 'OperatingSystemName': 'macOS 14.5 Sonoma', 'OperatingSystemVersion': '14.5',
                  'ProcessorName': 'Apple M1 Pro', 'ProcessorVirtualCount': 16, 'SystemMemoryTotalMegabytes': 65536,
                  'SystemMemoryAvailableMegabytes': 15073, 'PrivateNetworkAddress': '10.0.0.1',
                  'MachineSerialNumber': 'SN000001', 'MachineDomain': '', 'LoggedOnUserName': 'jdoe',
                  'LastActivityTime': '2026-01-08T15:22:39.5700214Z', 'LastBootTime': '2025-12-29T23:10:33.2924526Z',
                  'ClientVersion': '25.4.16.9293'},
}
WS_OFFLINE = {
    'SessionID': '57ef08a8-db53-4207-8b72-77f205886f8f', 'SessionType': 2, 'Name': 'WS-00002', 'Host': '',
    'IsPublic': False, 'Code': '', 'IsEnded': False,
    'CustomPropertyValues': ["O'Reilly & Sons", 'HQ', 'prod', '', '', '', '', ''], 'ActiveConnections': [],
    'GuestInfoUpdateTime': '2026-01-01T00:26:02.2160695Z',
    'LastGuestConnectedEventTime': '2025-12-31T10:21:21.3633006Z',
    'LastGuestDisconnectedEventTime': '2026-01-01T00:30:06.3633006Z',
    'GuestInfo': {'MachineName': 'WS-00002', 'OperatingSystemName': 'Microsoft Windows 11 Pro',
                  'OperatingSystemVersion': '10.0.22631', 'ProcessorName': 'AMD Ryzen 7 PRO 5850U',
                  'ProcessorVirtualCount': 2, 'SystemMemoryTotalMegabytes': 65536,
                  'SystemMemoryAvailableMegabytes': 26869, 'PrivateNetworkAddress': '10.0.0.2',
                  'MachineSerialNumber': 'SN000002', 'MachineDomain': 'CORP', 'LoggedOnUserName': 'admin',
                  'LastActivityTime': '2026-01-01T00:16:41.2160695Z', 'LastBootTime': '2025-12-31T10:05:29.3633006Z',
                  'ClientVersion': '25.4.16.9293'},
}
BUSY = {429: 'Too many requests: rate limit exceeded', 503: 'Service Unavailable'}
LOGIN_PAGE = ('<html><head><title>ScreenConnect Login</title></head><body><form method="post" '
              'action="/Login"><input name="user"></form></body></html>')
NOT_FOUND_PAGE = ('<!DOCTYPE html><html><head><title>The resource cannot be found.</title></head><body>'
                  '<h1>Server Error in \'/\' Application.</h1></body></html>')


# ---- the fake HTTP session ---------------------------------------------------------------------

class Answer:
    """What the client reads of a requests.Response: status_code, headers, content, text, url, reason."""

    def __init__(self, status_code, body=b'', content_type='application/json; charset=utf-8', headers=None):
        self.status_code = status_code
        self.content = body.encode('utf-8') if isinstance(body, str) else body
        self.text = self.content.decode('utf-8', 'replace')
        self.headers = CaseInsensitiveDict(headers or {})
        if content_type:
            self.headers['Content-Type'] = content_type
        self.reason = {200: 'OK', 400: 'Bad Request', 401: 'Unauthorized', 403: 'Forbidden', 404: 'Not Found',
                       429: 'Too Many Requests', 500: 'Internal Server Error', 502: 'Bad Gateway',
                       503: 'Service Unavailable', 504: 'Gateway Timeout'}.get(status_code, '')
        self.url = None  # the URL it answers, set when it is handed out


def json_answer(value, status=200):
    return Answer(status, json.dumps(value))


def text_answer(status, text, retry_after=None):
    return Answer(status, text, 'text/plain; charset=utf-8', {'Retry-After': retry_after} if retry_after else None)


def void_answer():
    return Answer(200, b'', 'application/json')


def rpc_answer(result, request_id=1, error=None, status=200):
    return json_answer({'id': request_id, 'result': result, 'error': error}, status)


def token_answer(token=TOKEN, expires_in=3600):
    return json_answer({'access_token': token, 'token_type': 'Bearer', 'expires_in': expires_in})


class FakeHttp:
    """Stands in for requests.Session: answers requests in order from `answers` (an exception in the
    list is raised instead) and keeps every request in `sent` as (method, url, keyword arguments)."""

    def __init__(self, *answers):
        self.answers = list(answers)
        self.sent = []
        self.headers = {}

    def request(self, method, url, **kwargs):
        self.sent.append((method, url, kwargs))
        assert self.answers, 'request %d (%s %s) has no answer' % (len(self.sent), method, url)
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        answer.url = url
        return answer

    def urls(self):
        return [url for _method, url, _kwargs in self.sent]


@pytest.fixture
def connect(state_dir, clock):
    """connect(*answers, **options) -> (client, its FakeHttp); REST with SECRET unless options say otherwise.
    The client and its rate limiter sleep on the fake clock (conftest.py): clock.slept has the waits."""
    def build(*answers, **options):
        base = {'server_url': SERVER, 'api_secret': SECRET, 'rate_limit': 6000, 'rate_burst': 100,
                'retries': 3, 'timeout': 5}
        base.update(options)
        http = FakeHttp(*answers)
        client = _client.ScreenConnectClient(base, state_dir=state_dir, backoff_base=0.01, sleep=clock.sleep, http=http)
        client.limiter = SharedRateLimiter(client.server_url, client.options['rate_limit'], client.options['rate_burst'],
                                           state_dir=state_dir, clock=clock, sleep=clock.sleep)
        return client, http
    return build


def rpc_options(**options):
    base = {'api': 'session_manager', 'api_secret': None, 'api_key': API_KEY}
    base.update(options)
    return base


def oauth_options(**options):
    base = {'api_key': None, 'oauth_token_url': TOKEN_URL, 'oauth_client_id': 'cid', 'oauth_client_secret': CLIENT_SECRET}
    base.update(options)
    return rpc_options(**base)


def raised(client_call, *args):
    with pytest.raises(ScreenConnectError) as info:
        client_call(*args)
    return info.value


# ---- what is sent ------------------------------------------------------------------------------------

def test_rest_call_posts_positional_arguments_with_the_raw_secret_and_origin(connect):
    client, http = connect(json_answer([WS_OFFLINE]))
    assert client.call('GetSessionsByName', ['WS-00002']) == [WS_OFFLINE]
    method, url, sent = http.sent[0]
    assert (method, url) == ('POST', REST_URL + 'GetSessionsByName')
    assert sent['json'] == ['WS-00002']
    assert sent['headers'] == {'CTRLAuthHeader': SECRET, 'Origin': SERVER}  # raw: no 'Basic ', no Authorization
    assert sent['timeout'] == 5.0 and sent['verify'] is True
    assert http.headers['User-Agent'] == _client.USER_AGENT


@pytest.mark.parametrize('options,origin,url', [
    ({'server_url': SERVER + '/'}, SERVER, REST_URL + 'GetSessionsByName'),
    ({'server_url': SERVER + '/control/'}, SERVER, SERVER + '/control' + REST_URL[len(SERVER):] + 'GetSessionsByName'),
    ({'server_url': 'https://Control.Example.com:8443/sc'}, 'https://control.example.com:8443',
     'https://Control.Example.com:8443/sc' + REST_URL[len(SERVER):] + 'GetSessionsByName'),
    ({'origin': 'control.example.com'}, 'control.example.com', REST_URL + 'GetSessionsByName'),
    ({'origin': 'https://other.example'}, 'https://other.example', REST_URL + 'GetSessionsByName'),
    ({'extension_id': '11111111-2222-3333-4444-555555555555'}, SERVER,
     SERVER + '/App_Extensions/11111111-2222-3333-4444-555555555555/Service.ashx/GetSessionsByName'),
    ({'validate_certs': False}, SERVER, REST_URL + 'GetSessionsByName'),
])
def test_rest_url_origin_and_tls_follow_the_options(connect, options, origin, url):
    client, http = connect(json_answer([]), **options)
    client.call('GetSessionsByName', ['WS-00002'])
    assert http.urls() == [url]
    assert http.sent[0][2]['headers']['Origin'] == origin
    assert http.sent[0][2]['verify'] is options.get('validate_certs', True)


def test_rest_fleet_is_one_filtered_read_normalized(connect):
    client, http = connect(json_answer([MAC_ONLINE, WS_OFFLINE]))
    mac, windows = client.find_sessions()
    assert http.urls() == [REST_URL + 'GetSessionsByFilter']
    assert http.sent[0][2]['json'] == ["SessionType = 'Access'"]
    assert (mac['session_id'], mac['session_type'], mac['online'], mac['guest']['os_family']) == (
        SESSION_ID, 'access', True, 'macos')
    assert (windows['online'], windows['guest']['os_family']) == (False, 'windows')
    assert mac['last_seen'] == '2026-01-08T15:23:13Z'  # 7 fractional digits, read to the second
    assert windows['properties'] == {'company': "O'Reilly & Sons", 'site': 'HQ', 'tag': 'prod'}


def test_a_session_is_looked_up_twice_before_it_is_missing(connect):
    client, http = connect(json_answer([]), json_answer([MAC_ONLINE]), json_answer([]), json_answer([]))
    assert client.get_session(SESSION_ID)['name'] == 'MAC-00001'
    assert client.get_session('00000000-0000-0000-0000-000000000000') is None
    assert http.urls() == [REST_URL + 'GetSessionBySessionID'] * 4
    assert [sent['json'] for _method, _url, sent in http.sent] == [[SESSION_ID]] * 2 + [
        ['00000000-0000-0000-0000-000000000000']] * 2


def test_rpc_body_and_bearer_api_key(connect):
    client, http = connect(rpc_answer([MAC_ONLINE], 1), rpc_answer(MAC_ONLINE, 2), **rpc_options())
    assert [s['name'] for s in client.find_sessions()] == ['MAC-00001']
    assert client.get_session(SESSION_ID)['online'] is True
    assert http.urls() == [RPC_URL, RPC_URL]
    assert [sent['json'] for _method, _url, sent in http.sent] == [
        {'id': 1, 'method': 'GetSessions', 'params': {'sessionFilter': {'SessionType': 2}}},
        {'id': 2, 'method': 'GetSession', 'params': {'sessionID': SESSION_ID}}]
    assert http.sent[0][2]['headers'] == {'Authorization': 'Bearer ' + API_KEY}


def test_rpc_error_answer_is_raised_with_its_message(connect):
    client, _http = connect(rpc_answer(None, error={'code': -32601, 'message': 'Method not found'}), **rpc_options())
    error = raised(client.rpc, 'GetSessionGroups')
    assert error.message == 'GetSessionGroups failed: Method not found'
    assert error.server_message == 'Method not found'


def test_each_api_refuses_the_other_ones_methods_without_a_request(connect):
    rest, rest_http = connect()
    rpc, rpc_http = connect(**rpc_options())
    assert 'set api: session_manager' in raised(rest.rpc, 'GetSessions').message
    assert 'set api: rest' in raised(rpc.call, 'GetSessionsByName', ['WS-00002']).message
    assert rest_http.sent == [] and rpc_http.sent == []


# ---- OAuth client credentials --------------------------------------------------------------------

def test_oauth_token_fetched_once_and_sent_as_bearer(connect):
    client, http = connect(token_answer(), rpc_answer([], 1), rpc_answer([], 2), rpc_answer([], 3), **oauth_options())
    for _round in range(3):
        client.find_sessions()
    assert http.urls() == [TOKEN_URL, RPC_URL, RPC_URL, RPC_URL]
    assert http.sent[0][2]['data'] == {'grant_type': 'client_credentials', 'client_id': 'cid',
                                       'client_secret': CLIENT_SECRET}
    assert {sent['headers']['Authorization'] for _method, _url, sent in http.sent[1:]} == {'Bearer ' + TOKEN}


def test_oauth_token_refreshed_30s_before_expiry(connect):
    client, http = connect(token_answer(expires_in=29), rpc_answer([], 1), token_answer('0' * 32), rpc_answer([], 2),
                           **oauth_options())
    client.find_sessions()
    client.find_sessions()
    assert http.urls() == [TOKEN_URL, RPC_URL, TOKEN_URL, RPC_URL]
    assert http.sent[3][2]['headers']['Authorization'] == 'Bearer ' + '0' * 32


def test_oauth_401_drops_the_token_and_fetches_one_once_even_for_a_write(connect):
    unauthorized = rpc_answer(None, error={'code': 401, 'message': 'Unauthorized'}, status=401)
    client, http = connect(token_answer(), unauthorized, token_answer('1' * 32), rpc_answer(MAC_ONLINE),
                           **oauth_options())
    assert client.rpc('UpdateSessionAsync', {'sessionID': SESSION_ID, 'name': 'MAC-00001'}) == MAC_ONLINE
    assert http.urls() == [TOKEN_URL, RPC_URL, TOKEN_URL, RPC_URL]
    assert http.sent[3][2]['headers']['Authorization'] == 'Bearer ' + '1' * 32

    client, http = connect(token_answer(), unauthorized, token_answer('1' * 32), unauthorized, **oauth_options())
    assert raised(client.find_sessions).status == 401
    assert http.urls() == [TOKEN_URL, RPC_URL, TOKEN_URL, RPC_URL]  # one new token, not a loop


def test_oauth_wrong_client_secret_is_401_without_the_secret(connect):
    client, http = connect(json_answer({'error': 'invalid_client'}, 401),
                           **oauth_options(oauth_client_secret='wrong-client-secret'))
    error = raised(client.find_sessions)
    assert error.status == 401 and error.method == 'oauth token'
    assert 'wrong-client-secret' not in str(error) and 'wrong-client-secret' not in repr(error.to_result())
    assert http.urls() == [TOKEN_URL]


def test_oauth_answer_without_a_token(connect):
    client, _http = connect(json_answer({'error': 'temporarily_unavailable'}), **oauth_options())
    assert 'has no access_token' in raised(client.find_sessions).message


# ---- retries by safety -------------------------------------------------------------------------------

@pytest.mark.parametrize('status', [429, 503])
def test_read_waits_out_retry_after(connect, clock, status):
    client, http = connect(text_answer(status, BUSY[status], '1'), text_answer(status, BUSY[status], '1'),
                           json_answer([MAC_ONLINE]))
    assert client.find_sessions()
    assert len(http.sent) == 3
    assert clock.slept == pytest.approx([1, 1])  # Retry-After honoured twice


@pytest.mark.parametrize('status', [502, 504])
def test_read_retried_on_gateway_errors(connect, status):
    client, http = connect(text_answer(status, 'Server error'), text_answer(status, 'Server error'),
                           json_answer([MAC_ONLINE]))
    assert client.find_sessions()
    assert len(http.sent) == 3


def test_a_500_on_a_read_is_asked_once_more_after_a_short_pause(connect, clock):
    client, http = connect(text_answer(500, 'session manager fault'), json_answer([MAC_ONLINE]))
    assert client.find_sessions()
    assert len(http.sent) == 2 and clock.slept == [_client._READ_FAULT_PAUSE]


def test_a_500_on_a_read_twice_is_the_error_with_the_servers_message(connect, clock):
    fault = "Invalid session filter: unknown property 'Nmae' at position 1"
    client, http = connect(text_answer(500, fault), text_answer(500, fault), json_answer([MAC_ONLINE]), retries=5)
    error = raised(client.find_sessions, "Nmae = 'x'")
    assert len(http.sent) == 2 and clock.slept == [_client._READ_FAULT_PAUSE]  # not five, no backoff
    assert error.status == 500 and error.method == 'GetSessionsByFilter' and error.server_message == fault
    assert error.message.startswith('GetSessionsByFilter failed: HTTP 500 Internal Server Error: ' + fault)
    assert 'a bad filter or a wrong argument' in error.message and not error.may_have_run


@pytest.mark.parametrize('method,args', WRITES)
@pytest.mark.parametrize('status', [500, 502, 504])
def test_writes_never_sent_twice(connect, method, args, status):
    client, http = connect(text_answer(status, 'Server error'), void_answer())
    error = raised(client.call, method, args)
    assert error.may_have_run is True and error.status == status
    assert 'not sent again' in error.message
    assert len(http.sent) == 1


@pytest.mark.parametrize('status', [429, 503])
def test_write_retried_after_429_and_503_because_not_taken(connect, status):
    client, http = connect(text_answer(status, BUSY[status], '0'), text_answer(status, BUSY[status]), void_answer())
    assert client.call('SendCommandToSession', [SESSION_ID, 'hostname']) is None
    assert http.urls() == [REST_URL + 'SendCommandToSession'] * 3


@pytest.mark.parametrize('failure', [requests.exceptions.ReadTimeout('read timed out'),
                                     requests.exceptions.ConnectionError('Connection aborted.')])
def test_write_timeout_or_lost_connection_is_not_retried(connect, failure):
    client, http = connect(failure, void_answer())
    error = raised(client.call, 'SendCommandToSession', [SESSION_ID, 'hostname'])
    assert error.may_have_run is True and 'the server may have received it' in error.message
    assert len(http.sent) == 1


@pytest.mark.parametrize('failure', [requests.exceptions.ReadTimeout('read timed out'),
                                     requests.exceptions.ConnectionError('Connection aborted.')])
def test_read_timeout_or_lost_connection_is_retried(connect, failure):
    client, http = connect(failure, json_answer([MAC_ONLINE]))
    assert client.find_sessions()
    assert len(http.sent) == 2


def test_connect_timeout_is_retried_for_writes_too(connect):
    client, http = connect(requests.exceptions.ConnectTimeout('connect timed out'), void_answer())
    client.call('SendCommandToSession', [SESSION_ID, 'hostname'])  # nothing reached the server
    assert len(http.sent) == 2


def test_web_method_does_not_exist_is_never_retried(connect):
    client, http = connect(text_answer(500, 'Web method does not exist'), json_answer([]))
    error = raised(client.call, 'GetSessions', [])
    assert error.status == 500 and 'has no method GetSessions: update the extension' in error.message
    assert error.missing_method == 'GetSessions' and not error.may_have_run
    assert len(http.sent) == 1


# ---- an older RESTful API Manager without GetSessionsByFilter ------------------------------------------

MISSING = text_answer(500, 'Web method does not exist')


def test_without_get_sessions_by_filter_a_listing_fails_in_one_line_naming_the_fixes(connect):
    client, http = connect(MISSING, json_answer([]))
    error = raised(client.find_sessions, "CustomProperty1 = 'Acme'")
    assert error.message == (
        "GetSessionsByFilter failed: HTTP 500 Internal Server Error: Web method does not exist (this server's "
        'RESTful API Manager has no method GetSessionsByFilter, which listing sessions by machine_name, serial_number, '
        'filter or the inventory needs: update the RESTful API Manager extension, or set api: session_manager '
        '(lookups by session_id or name work without it))')
    assert error.missing_method == 'GetSessionsByFilter' and len(http.sent) == 1


def test_a_missing_method_is_remembered_per_server_and_not_asked_again(connect, state_dir):
    client, http = connect(MISSING, json_answer([]))
    raised(client.find_sessions)
    again, again_http = connect(json_answer([]))  # another process of the same run: same state directory
    error = raised(again.find_sessions)
    assert again_http.sent == [] and error.missing_method == 'GetSessionsByFilter' and error.status is None
    assert error.message.startswith("GetSessionsByFilter not sent: this server's RESTful API Manager has no method "
                                    'GetSessionsByFilter (it answered HTTP 500 Web method does not exist in the last '
                                    '15 minutes), which listing sessions')
    other, other_http = connect(json_answer([MAC_ONLINE]), server_url='https://other.example.com')
    assert other.find_sessions() and len(other_http.sent) == 1  # another server is asked
    stale = _client.MissingMethods('%s %s' % (SERVER, '2d558935-686a-4bd0-9991-07539f5fe749'), state_dir,
                                   clock=lambda: 10 ** 10)
    assert not stale.lacks('GetSessionsByFilter')  # forgotten after MISSING_METHOD_MEMORY


def test_name_lookups_fall_back_to_get_sessions_by_name(connect):
    support = dict(WS_OFFLINE, SessionID='57ef08a8-db53-4207-8b72-77f205886f90', SessionType=0)
    client, http = connect(MISSING, json_answer([WS_OFFLINE, support]), json_answer([WS_OFFLINE]))
    found = client.find_sessions("Name = 'WS-00002'", 'access', by_name='WS-00002')
    assert [session['session_type'] for session in found] == ['access']
    assert [session['session_type'] for session in client.find_sessions("Name = 'WS-00002'", 'all', by_name='WS-00002')] \
        == ['access']
    assert http.urls() == [REST_URL + 'GetSessionsByFilter', REST_URL + 'GetSessionsByName', REST_URL + 'GetSessionsByName']
    assert [sent['json'] for _m, _u, sent in http.sent[1:]] == [['WS-00002'], ['WS-00002']]


def test_create_session_sends_the_session_type_as_a_number(connect):
    client, http = connect(json_answer(WS_OFFLINE), json_answer(dict(WS_OFFLINE, SessionType=0)))
    client.create_session('access', 'WS-00002')
    client.create_session('support', 'Ticket 1', True, '1234', ['Acme'])
    assert [sent['json'] for _m, _u, sent in http.sent] == [
        [2, 'WS-00002', False, '', [''] * 8], [0, 'Ticket 1', True, '1234', ['Acme'] + [''] * 7]]


def test_a_create_answered_without_a_usable_session_is_our_error_and_may_have_run(connect):
    client, http = connect(json_answer({'Name': 'no id'}))
    error = raised(client.create_session, 'access', 'WS-00002')
    assert error.may_have_run and error.method == 'CreateSession' and len(http.sent) == 1


def test_details_without_a_usable_session_are_our_error(connect):
    client, _http = connect(json_answer({'Session': {'SessionID': 'not a guid'}, 'Events': []}))
    error = raised(client.get_session_details, WS_OFFLINE['SessionID'])
    assert 'session details of %s' % WS_OFFLINE['SessionID'] in error.message


# ---- session details: events from both places, by order ------------------------------------------------

def test_details_read_events_at_the_top_and_under_the_connection_in_time_order(connect):
    details = {'Session': WS_OFFLINE, 'Events': [
        {'EventID': 'A', 'EventType': 44, 'Data': 'hostname', 'Time': '2026-01-01T00:00:00.1000000Z'},
        {'EventID': 'C', 'EventType': 45, 'Data': 'hi', 'Time': '2026-01-01T00:00:00.3000000Z'}],
        'Connections': [{'ProcessType': 2, 'Events': [
            {'EventID': 'B', 'EventType': 70, 'Data': 'WS-00002', 'Time': '2026-01-01T00:00:00.2000000Z'},
            {'EventID': 'C', 'EventType': 45, 'Data': 'hi', 'Time': '2026-01-01T00:00:00.3000000Z'}]}]}
    client, _http = connect(json_answer(details))
    _session, events = client.get_session_details(WS_OFFLINE['SessionID'])
    assert [event['event_id'] for event in events] == ['a', 'b', 'c']  # C once, B between A and C


def test_429_after_last_retry(connect):
    client, http = connect(*[text_answer(429, BUSY[429], '0')] * 3, retries=2)
    error = raised(client.find_sessions)
    assert error.status == 429 and 'still rate limited after 2 retries' in error.message
    assert len(http.sent) == 3
    assert client.stats['rate_limited'] == 3


def test_lost_connection_on_the_last_retry_is_one_clear_line(connect):
    refused = requests.exceptions.ConnectionError('HTTPSConnectionPool(host=...): Max retries exceeded\n[Errno 111]')
    client, http = connect(refused, refused, retries=1)
    error = raised(client.find_sessions)
    assert SERVER in error.message and '\n' not in error.message and 'ConnectionError' in error.message
    assert error.may_have_run is False and len(http.sent) == 2


def test_certificate_failure_is_not_retried_and_names_ca_path(connect):
    failure = requests.exceptions.SSLError("[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed: "
                                           "self-signed certificate (_ssl.c:1006)')")
    client, http = connect(failure, json_answer([]))
    error = raised(client.find_sessions)
    assert 'certificate verify failed: self-signed certificate' in error.message and 'ca_path' in error.message
    assert len(http.sent) == 1


# ---- answers that are no API answer -----------------------------------------------------------------

@pytest.mark.parametrize('status,body,content_type,fragments', [
    (401, 'Unauthorized: the CTRLAuthHeader is missing or wrong', 'text/plain; charset=utf-8',
     ['HTTP 401 Unauthorized', 'check api_secret (sent raw as CTRLAuthHeader)']),
    (403, 'Forbidden: Origin is not the allowed origin (RESTfulAllowedOrigin)', 'text/plain; charset=utf-8',
     ['HTTP 403', "the Origin sent, %s, is not the extension's RESTfulAllowedOrigin: set origin "
                  '(SCREENCONNECT_ORIGIN) to that value exactly' % SERVER]),
    (404, NOT_FOUND_PAGE, 'text/html; charset=utf-8',
     ["an HTML page titled 'The resource cannot be found.'", 'check server_url and extension_id']),
])
def test_refusals_are_not_retried_and_give_advice(connect, status, body, content_type, fragments):
    client, http = connect(Answer(status, body, content_type), json_answer([]))
    error = raised(client.find_sessions)
    assert error.status == status and error.method == 'GetSessionsByFilter' and not error.may_have_run
    for fragment in fragments:
        assert fragment in error.message
    assert len(http.sent) == 1


@pytest.mark.parametrize('answer', [Answer(200, LOGIN_PAGE, 'text/html; charset=utf-8'), Answer(200, LOGIN_PAGE, None)])
def test_html_answer_is_reported_not_parsed(connect, answer):
    client, _http = connect(answer)
    error = raised(client.find_sessions)
    assert 'expected JSON, got %s from %s' % (answer.headers.get('Content-Type', 'text'), REST_URL) in error.message
    assert 'RESTful API Manager extension is installed' in error.message


def test_malformed_json(connect):
    body = '[{"SessionID": "5523a541-96b3-4870-9a18-38b6734dbd78", "Name": "WS-0'
    client, _http = connect(Answer(200, body))
    assert 'malformed JSON from %sGetSessionsByFilter (%d bytes, application/json; charset=utf-8)' % (
        REST_URL, len(body)) in raised(client.find_sessions).message


@pytest.mark.parametrize('answer,expected', [
    (void_answer(), None), (Answer(200, 'null'), None), (Answer(200, ' \r\n'), None),
    (Answer(200, b'\xef\xbb\xbf[]'), []),  # a UTF-8 byte order mark before the JSON
])
def test_empty_body_null_and_bom(connect, answer, expected):
    client, _http = connect(answer)
    assert client.call('AddNoteToSession', [SESSION_ID, 'patched by ansible']) == expected


# ---- secrets never leave -------------------------------------------------------------------------------

@pytest.mark.parametrize('options,secret', [
    ({}, SECRET), (rpc_options(), API_KEY), (oauth_options(), CLIENT_SECRET), (oauth_options(), TOKEN)])
def test_secret_or_token_in_a_server_message_is_redacted(connect, options, secret):
    echo = text_answer(400, 'bad request: header was %s' % secret)
    answers = [token_answer(), echo] if options.get('oauth_client_id') else [echo]
    client, _http = connect(*answers, **options)
    error = raised(client.find_sessions)
    assert secret not in str(error) and secret not in repr(error.to_result())
    assert 'bad request: header was ********' in error.message


# ---- counters -------------------------------------------------------------------------------------------

def test_stats_count_requests_retries_429s_and_waiting(connect, clock):
    client, _http = connect(text_answer(429, BUSY[429], '2'), text_answer(502, 'Bad Gateway'),
                            requests.exceptions.ReadTimeout('read timed out'), json_answer([MAC_ONLINE]))
    client.find_sessions()
    assert dict(client.stats, waited=None) == {'requests': 4, 'retries': 3, 'rate_limited': 1, 'waited': None}
    assert clock.slept[0] == pytest.approx(2)  # Retry-After, then two short backoffs
    assert client.stats['waited'] == pytest.approx(sum(clock.slept))


# ---- options are checked before anything is sent --------------------------------------------

@pytest.mark.parametrize('options,fragment', [
    ({'api_secret': None}, 'api_secret is required'),
    ({'server_url': 'acme.screenconnect.com'}, 'server_url'),
    ({'server_url': None}, 'SCREENCONNECT_SERVER_URL'),
    ({'api': 'soap'}, "api must be 'rest' or 'session_manager'"),
    ({'api': 'session_manager', 'api_secret': None}, 'api_key'),
    ({'api': 'session_manager', 'oauth_client_id': 'x'}, 'oauth_token_url'),
    ({'rate_limit': 0}, 'rate_limit'),
    ({'rate_burst': 0}, 'rate_burst'),
    ({'retries': -1}, 'retries'),
    ({'timeout': 0}, 'timeout'),
    ({'extension_id': 'restful'}, 'extension_id'),
])
def test_bad_options_refused_before_any_request(state_dir, options, fragment):
    http = FakeHttp()
    base = {'server_url': SERVER, 'api_secret': SECRET}
    base.update(options)
    with pytest.raises(ConfigError) as info:
        _client.ScreenConnectClient(base, state_dir=state_dir, http=http)
    assert fragment in str(info.value)
    assert SECRET not in str(info.value)
    assert http.sent == []


def test_from_options_passes_the_session_through(state_dir):
    options = {'server_url': SERVER, 'api_secret': SECRET}
    http = FakeHttp(json_answer([]))
    client = _client.from_options(options.get, state_dir=state_dir, http=http)
    assert client.http is http and client.find_sessions() == []


def test_validation_without_credentials_and_the_tls_rule():
    options = {'server_url': 'https://acme.example', 'api': 'rest', 'timeout': 30}
    assert _client.validate_options(options, credentials=False) == []
    assert 'api_secret' in _client.validate_options(options)[0]
    assert _client.validate_options(dict(options, server_url='acme'), credentials=False)
    assert _client.tls_verify({'validate_certs': True}) is True
    assert _client.tls_verify({'validate_certs': True, 'ca_path': '/ca.pem'}) == '/ca.pem'
    assert _client.tls_verify({'validate_certs': False, 'ca_path': '/ca.pem'}) is False
