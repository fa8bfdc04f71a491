"""The shared client against the ScreenConnect simulator over real HTTP: both APIs, auth, retries, errors.

The same rules on recorded answers, without a socket: tests/unit/plugins/module_utils/test_client.py.
"""

import time

import pytest

from ansible_collections.msp.screenconnect.plugins.module_utils import _client
from ansible_collections.msp.screenconnect.plugins.module_utils._client import ScreenConnectError
from helpers import SECRET
from limiter_clients import run_clients

API_KEY = 'k3y-rpc'
CLIENT_SECRET = 'csecret'
# The shared `sim` fixture (conftest.py) with this fleet and both APIs' credentials.
SIMULATOR = {'sessions': 80, 'seed': 7, 'api_secret': SECRET, 'api_key': API_KEY, 'oauth_client_id': 'cid',
             'oauth_client_secret': CLIENT_SECRET, 'command_delay': 0.05}


@pytest.fixture(autouse=True)
def fresh(sim):
    sim.reset()
    sim.configure(spelling='nested', rate_limit=0, omit_active_connections=False, allowed_origin=None)
    yield


def api_requests(sim, method=None):
    return [entry for entry in sim.requests if entry.get('api') in ('rest', 'rpc', 'oauth')
            and (method is None or entry.get('method') == method)]


def make_client(sim, state_dir, **options):
    base = {'server_url': sim.url, 'api_secret': SECRET, 'rate_limit': 6000, 'rate_burst': 100,
            'retries': 3, 'timeout': 5}
    base.update(options)
    return _client.ScreenConnectClient(base, state_dir=state_dir, backoff_base=0.01)


def rpc_client(sim, state_dir, **options):
    base = {'api': 'session_manager', 'api_secret': None, 'api_key': API_KEY}
    base.update(options)
    return make_client(sim, state_dir, **base)


def oauth_options(sim):
    return {'api_key': None, 'oauth_token_url': sim.url + '/oauth/token', 'oauth_client_id': 'cid',
            'oauth_client_secret': CLIENT_SECRET}


# ---- reads in every spelling and through both APIs ----------------------------------------------

def test_rest_lists_access_sessions_in_one_call(sim, state_dir):
    sessions = make_client(sim, state_dir).find_sessions()
    assert len(api_requests(sim)) == 1
    assert api_requests(sim)[0]['args'] == ["SessionType = 'Access'"]
    assert sessions and all(session['session_type'] == 'access' for session in sessions)
    assert {session['online'] for session in sessions} == {True, False}
    assert {'windows', 'linux', 'macos'} <= {session['guest']['os_family'] for session in sessions}
    assert any(session['name'] == '' for session in sessions)
    assert all(len(session['custom_properties']) == 8 for session in sessions)


def test_request_shape_is_a_positional_array_with_auth_and_origin(sim, state_dir):
    make_client(sim, state_dir).call('GetSessionsByName', ['WS-1'])
    entry = api_requests(sim)[0]
    assert entry['path'].endswith('/App_Extensions/2d558935-686a-4bd0-9991-07539f5fe749/Service.ashx/GetSessionsByName')
    assert entry['args'] == ['WS-1']
    assert entry['headers']['Origin'] == sim.url
    assert SECRET not in repr(sim.requests)


@pytest.mark.parametrize('spelling', ['flat', 'seed'])
def test_every_spelling_normalizes_to_the_same_sessions(sim, state_dir, spelling):
    client = make_client(sim, state_dir)
    nested = client.find_sessions(session_type='all')
    sim.configure(spelling=spelling)
    assert client.find_sessions(session_type='all') == nested


def test_online_from_event_times_when_answer_lacks_active_connections(sim, state_dir):
    client = make_client(sim, state_dir)
    with_connections = client.find_sessions()
    sim.configure(omit_active_connections=True)
    assert client.find_sessions() == with_connections


def test_session_manager_api_key_reads_the_same_fleet(sim, state_dir):
    rest = make_client(sim, state_dir).find_sessions(session_type='all')
    rpc = rpc_client(sim, state_dir).find_sessions(session_type='all')
    assert sorted(rpc, key=lambda s: s['session_id']) == sorted(rest, key=lambda s: s['session_id'])
    access = rpc_client(sim, state_dir).find_sessions()
    assert access and {s['session_type'] for s in access} == {'access'}
    assert {s['session_type'] for s in rpc} >= {'access', 'support', 'meeting'}


def test_session_manager_filter_and_details(sim, state_dir):
    client = rpc_client(sim, state_dir)
    first = client.find_sessions()[0]
    assert client.get_session(first['session_id']) == first
    session, events = client.get_session_details(first['session_id'])
    assert session['session_id'] == first['session_id']
    assert isinstance(events, list)
    assert client.get_session('00000000-0000-0000-0000-000000000000') is None


def test_oauth_token_is_cached(sim, state_dir):
    client = rpc_client(sim, state_dir, **oauth_options(sim))
    for _round in range(3):
        client.find_sessions()
    assert len(api_requests(sim, 'GetSessions')) == 3
    assert len([entry for entry in sim.requests if entry.get('api') == 'oauth']) == 1


def test_oauth_token_refreshed_30s_before_expiry(sim, state_dir):
    client = rpc_client(sim, state_dir, **oauth_options(sim))
    client.find_sessions()
    client._api._token_expires = time.time() + 29  # inside the 30 s margin
    client.find_sessions()
    assert len([entry for entry in sim.requests if entry.get('api') == 'oauth']) == 2


def test_oauth_token_revoked_is_dropped_and_fetched_once(sim, state_dir):
    client = rpc_client(sim, state_dir, **oauth_options(sim))
    client.find_sessions()
    sim.revoke_tokens()
    assert client.find_sessions()
    assert len([entry for entry in sim.requests if entry.get('api') == 'oauth']) == 2
    statuses = [entry['status'] for entry in api_requests(sim, 'GetSessions')]
    assert statuses == [200, 401, 200]


def test_oauth_wrong_client_secret(sim, state_dir):
    options = oauth_options(sim)
    options['oauth_client_secret'] = 'wrong-client-secret'
    with pytest.raises(ScreenConnectError) as info:
        rpc_client(sim, state_dir, **options).find_sessions()
    assert info.value.status == 401
    assert 'wrong-client-secret' not in str(info.value)


# ---- errors and advice ----------------------------------------------------------------------

def test_wrong_secret_is_401_with_advice_and_no_secret(sim, state_dir):
    with pytest.raises(ScreenConnectError) as info:
        make_client(sim, state_dir, api_secret='not-the-secret').find_sessions()
    error = info.value
    assert error.status == 401 and error.method == 'GetSessionsByFilter'
    assert 'CTRLAuthHeader' in error.message and 'not-the-secret' not in error.message
    assert len(api_requests(sim)) == 1  # a 401 is not retried


def test_origin_mismatch_is_403_naming_the_setting(sim, state_dir):
    sim.configure(allowed_origin='https://other.example')
    with pytest.raises(ScreenConnectError) as info:
        make_client(sim, state_dir).find_sessions()
    assert info.value.status == 403 and 'RESTfulAllowedOrigin' in info.value.message
    make_client(sim, state_dir, origin='https://other.example').find_sessions()


def test_missing_method_names_the_method_and_is_not_retried(sim, state_dir):
    with pytest.raises(ScreenConnectError) as info:
        make_client(sim, state_dir).call('GetSessions', [])
    assert "has no method GetSessions: update the extension" in info.value.message
    assert info.value.status == 500
    assert len(api_requests(sim)) == 1


def test_wrong_extension_id_is_404(sim, state_dir):
    with pytest.raises(ScreenConnectError) as info:
        make_client(sim, state_dir, extension_id='11111111-2222-3333-4444-555555555555').find_sessions()
    assert info.value.status == 404 and 'extension_id' in info.value.message


def test_html_answer_is_reported_not_parsed(sim, state_dir):
    sim.set_faults([{'method': 'GetSessionsByFilter', 'kind': 'html'}])
    with pytest.raises(ScreenConnectError) as info:
        make_client(sim, state_dir).find_sessions()
    assert 'expected JSON, got text/html' in info.value.message


def test_malformed_json(sim, state_dir):
    sim.set_faults([{'method': 'GetSessionsByFilter', 'kind': 'malformed'}])
    with pytest.raises(ScreenConnectError) as info:
        make_client(sim, state_dir).find_sessions()
    assert 'malformed JSON' in info.value.message


def test_void_method_answers_none(sim, state_dir):
    client = make_client(sim, state_dir)
    session_id = client.find_sessions()[0]['session_id']
    assert client.call('AddNoteToSession', [session_id, 'patched by ansible']) is None


def test_server_message_with_secret_is_redacted(sim, state_dir):
    sim.set_faults([{'method': 'GetSessionsByFilter', 'kind': 'status', 'status': 400,
                     'body': 'bad header CTRLAuthHeader=%s' % SECRET}])
    with pytest.raises(ScreenConnectError) as info:
        make_client(sim, state_dir).find_sessions()
    assert SECRET not in str(info.value) and SECRET not in repr(info.value.to_result())
    assert '********' in info.value.message


# ---- retries by safety ------------------------------------------------------------------------

def test_read_survives_503_with_retry_after(sim, state_dir):
    sim.set_faults([{'method': 'GetSessionsByFilter', 'kind': 'status', 'status': 503, 'times': 2, 'retry_after': '1'}])
    client = make_client(sim, state_dir)
    start = time.time()
    assert client.find_sessions()
    assert time.time() - start >= 1.9  # Retry-After honoured twice
    assert [entry['status'] for entry in api_requests(sim)] == [503, 503, 200]


@pytest.mark.parametrize('status', [502, 504])
def test_read_retried_on_gateway_errors(sim, state_dir, status):
    sim.set_faults([{'method': 'GetSessionsByFilter', 'kind': 'status', 'status': status, 'times': 2}])
    assert make_client(sim, state_dir).find_sessions()
    assert len(api_requests(sim)) == 3


def test_a_500_on_a_read_is_asked_once_more_then_shows_the_servers_message(sim, state_dir):
    sim.set_faults([{'method': 'GetSessionsByFilter', 'kind': 'status', 'status': 500, 'times': 1}])
    assert make_client(sim, state_dir).find_sessions()
    assert len(api_requests(sim)) == 2
    sim.reset()
    started = time.time()
    with pytest.raises(ScreenConnectError) as info:
        make_client(sim, state_dir).find_sessions("Nmae = 'x'")  # a bad filter: the real 500
    assert len(api_requests(sim)) == 2 and time.time() - started < 3  # once more after 1 s, no backoff
    assert info.value.status == 500 and "Invalid session filter: unknown property 'Nmae'" in info.value.message


@pytest.mark.parametrize('method,args', [
    ('SendCommandToSession', ['echo hi']), ('SendMessageToSession', ['hello']),
    ('AddNoteToSession', ['note']), ('UpdateSessionCustomProperties', [['a'] * 8]),
    ('UpdateSessionName', ['NEW-NAME']),
])
@pytest.mark.parametrize('status', [500, 502, 504])
def test_writes_never_sent_twice(sim, state_dir, method, args, status):
    client = make_client(sim, state_dir)
    session_id = client.find_sessions()[0]['session_id']
    sim.set_faults([{'method': method, 'kind': 'after', 'status': status}])
    with pytest.raises(ScreenConnectError) as info:
        client.call(method, [session_id] + args)
    assert info.value.may_have_run is True
    assert 'not sent again' in info.value.message
    assert len(api_requests(sim, method)) == 1


def test_write_retried_after_429_and_503_because_not_taken(sim, state_dir):
    client = make_client(sim, state_dir)
    session_id = client.find_sessions()[0]['session_id']
    sim.set_faults([{'method': 'SendCommandToSession', 'kind': 'status', 'status': 429, 'retry_after': '0'},
                    {'method': 'SendCommandToSession', 'kind': 'status', 'status': 503, 'retry_after': '0'}])
    client.call('SendCommandToSession', [session_id, 'hostname'])
    assert [entry['status'] for entry in api_requests(sim, 'SendCommandToSession')] == [429, 503, 200]


def test_write_timeout_is_not_retried(sim, state_dir):
    client = make_client(sim, state_dir, timeout=0.5)
    session_id = client.find_sessions()[0]['session_id']
    sim.set_faults([{'method': 'SendCommandToSession', 'kind': 'slow', 'seconds': 1.5}])
    with pytest.raises(ScreenConnectError) as info:
        client.call('SendCommandToSession', [session_id, 'hostname'])
    assert info.value.may_have_run
    time.sleep(1.2)  # let the slow request finish on the server
    assert len(api_requests(sim, 'SendCommandToSession')) == 1


def test_read_timeout_is_retried(sim, state_dir):
    sim.set_faults([{'method': 'GetSessionsByFilter', 'kind': 'slow', 'seconds': 1.5}])
    assert make_client(sim, state_dir, timeout=0.5).find_sessions()


def test_429_after_last_retry(sim, state_dir):
    sim.set_faults([{'method': '*', 'kind': 'status', 'status': 429, 'retry_after': '0', 'times': -1}])
    client = make_client(sim, state_dir, retries=2)
    with pytest.raises(ScreenConnectError) as info:
        client.find_sessions()
    assert info.value.status == 429 and 'still rate limited after 2 retries' in info.value.message
    assert len(api_requests(sim)) == 3
    assert client.stats['rate_limited'] == 3


def test_connection_refused_is_one_clear_line(state_dir):
    client = _client.ScreenConnectClient({'server_url': 'http://127.0.0.1:9', 'api_secret': SECRET, 'retries': 1},
                                         state_dir=state_dir, backoff_base=0.01)
    with pytest.raises(ScreenConnectError) as info:
        client.find_sessions()
    assert 'http://127.0.0.1:9' in info.value.message and '\n' not in info.value.message


# ---- the shared limit across processes ----------------------------------------------------------

def test_ten_processes_hold_the_servers_limit(sim, state_dir):
    # 5 per second: integration tests share the CPU with another worker, and a client delayed by a
    # busy machine must not look like a limiter that lets requests through too fast.
    sim.configure(rate_limit=300, rate_burst=5)
    elapsed, client_429 = run_clients(sim.url, SECRET, state_dir, processes=10, calls=6, rate_limit=300,
                                      rate_burst=5, timeout=90)
    assert client_429 == 0
    calls = api_requests(sim, 'GetSessionsByName')
    assert len(calls) == 60 and [entry['status'] for entry in calls].count(429) == 0
    assert elapsed >= 55 / 5.0 * 0.95  # 60 calls, burst 5, 5 per second
