"""Faults, hostile input and secrets, through real ansible-playbook runs against the simulator."""

import json
import socket
import subprocess
import time

import pytest
import requests

from helpers import SECRET
from screenconnect_sim import Simulator

WRITES = ('UpdateSessionCustomProperties', 'UpdateSessionName', 'SendCommandToSession', 'SendMessageToSession',
          'AddNoteToSession', 'CreateSession')


@pytest.fixture(autouse=True)
def fresh(sim):
    sim.reset(fleet=True)  # writes of one test must not make the next one a no-op
    sim.set_faults([])
    requests.post(sim.url + '/_sim/config', json={'spelling': 'nested', 'rate_limit': 0, 'allowed_origin': None},
                  timeout=5)


def api_calls(sim, methods=None):
    return [entry['method'] for entry in sim.requests if entry.get('api') in ('rest', 'rpc')
            and (methods is None or entry['method'] in methods)]


def one_session(sim):
    url = sim.url + '/App_Extensions/2d558935-686a-4bd0-9991-07539f5fe749/Service.ashx/GetSessionsByFilter'
    raw = requests.post(url, json=["SessionType = 'Access'"], headers={'CTRLAuthHeader': SECRET}, timeout=10).json()
    session_id = next(s['SessionID'] for s in raw if any(c.get('ProcessType') == 2 for c in s['ActiveConnections']))
    sim.reset()
    return session_id


def closed_port():
    with socket.socket() as probe:
        probe.bind(('127.0.0.1', 0))
        return probe.getsockname()[1]


def assert_one_clear_line(result, *fragments):
    assert result['failed'], result
    message = result['msg']
    assert '\n' not in message and 'Traceback' not in result['_stdout'], message
    for fragment in fragments:
        assert fragment in message, message
    assert SECRET not in result['_stdout'] and SECRET not in json.dumps(result)


# ---- faults, each one clear line ------------------------------------------------------------------

@pytest.mark.parametrize('fault,fragments', [
    ({'kind': 'html'}, ['expected JSON, got text/html']),
    ({'kind': 'malformed'}, ['malformed JSON']),
    ({'kind': 'status', 'status': 500, 'body': 'Web method does not exist', 'times': -1},
     ["has no method GetSessionsByFilter, which listing sessions", 'update the RESTful API Manager extension, or set '
      'api: session_manager']),
    ({'kind': 'reset', 'times': -1}, ['connection lost']),
    ({'kind': 'slow', 'seconds': 3, 'times': -1}, ['no answer within 1.0s']),
])
def test_server_faults_are_one_clear_line(play, sim, fault, fragments):
    sim.set_faults([dict(fault, method='GetSessionsByFilter')])
    result = play('msp.screenconnect.session_info: {timeout: 1, retries: 1}')
    assert_one_clear_line(result, 'GetSessionsByFilter', *fragments)


def test_wrong_secret_and_origin_and_refused(play, sim):
    assert_one_clear_line(play('msp.screenconnect.session_info: {}', SCREENCONNECT_API_SECRET='wrong-9f8e7d'),
                          'HTTP 401', 'CTRLAuthHeader')
    requests.post(sim.url + '/_sim/config', json={'allowed_origin': 'https://portal.example'}, timeout=5)
    assert_one_clear_line(play('msp.screenconnect.session_info: {}'), 'HTTP 403', 'RESTfulAllowedOrigin')
    refused = play('msp.screenconnect.session_info: {retries: 1}',
                   SCREENCONNECT_SERVER_URL='http://127.0.0.1:%d' % closed_port())
    assert_one_clear_line(refused, 'failed', '127.0.0.1')


def test_429_storm_honours_retry_after_and_reports_the_wait(play, sim):
    sim.set_faults([{'method': 'GetSessionsByFilter', 'kind': 'status', 'status': 429, 'retry_after': '1', 'times': 3}])
    result = play('msp.screenconnect.session_info: {}')
    assert not result.get('failed'), result
    stats = result['api_stats']
    assert stats['rate_limited'] == 3 and stats['retries'] == 3 and stats['requests'] == 4
    assert 3.0 <= stats['waited'] < 10.0


def test_503_storm_survived_by_reads(play, sim):
    sim.set_faults([{'method': 'GetSessionsByFilter', 'kind': 'status', 'status': 503, 'retry_after': '0', 'times': 4}])
    result = play('msp.screenconnect.session_info: {retries: 5}')
    assert not result.get('failed') and result['sessions'] and result['api_stats']['retries'] == 4


@pytest.mark.parametrize('task,method', [
    ('session_command: {session_id: %s, command: hostname}', 'SendCommandToSession'),
    ('session_message: {session_id: %s, msg: hi}', 'SendMessageToSession'),
    ('session_note: {session_id: %s, note: hi}', 'AddNoteToSession'),
    ('session_properties: {session_id: %s, properties: {tag: x}}', 'UpdateSessionCustomProperties'),
    ('session: {session_id: %s, new_name: RENAMED}', 'UpdateSessionName'),
    ('api_call: {method: AddNoteToSession, arguments: [%s, hi]}', 'AddNoteToSession'),
])
@pytest.mark.parametrize('fault', [
    {'kind': 'after', 'status': 502}, {'kind': 'after', 'status': 504}, {'kind': 'after', 'status': 500},
    {'kind': 'slow', 'seconds': 2.5},
])
def test_writes_are_never_sent_twice(play, sim, task, method, fault):
    session_id = one_session(sim)
    sim.set_faults([dict(fault, method=method)])
    task = task[:-1] + ', timeout: 1}' if fault['kind'] == 'slow' else task
    result = play('msp.screenconnect.' + task % session_id)
    assert result['failed'], result
    text = json.dumps(result)
    assert 'may have' in text or 'not sent again' in text, result['msg']
    if fault['kind'] == 'slow':
        time.sleep(2)  # let the slow answer finish on the server
    assert api_calls(sim, (method,)) == [method]


def test_session_create_not_sent_twice(play, sim):
    sim.set_faults([{'method': 'CreateSession', 'kind': 'after', 'status': 502}])
    result = play('msp.screenconnect.session: {name: "Ticket 1", session_type: support}')
    assert result['failed'] and 'not sent again' in result['msg']
    assert api_calls(sim, ('CreateSession',)) == ['CreateSession']


# ---- secrets -------------------------------------------------------------------------------------

@pytest.mark.parametrize('api,options,secret', [
    ('rest', 'api_secret: s3cret-rest', SECRET),
    ('session_manager', 'api: session_manager, api_key: k3y-rpc', 'k3y-rpc'),
    ('session_manager', 'api: session_manager, oauth_token_url: "{{ url }}/oauth/token", oauth_client_id: cid,'
                        ' oauth_client_secret: csecret', 'csecret'),
])
def test_secrets_never_in_verbose_output(play, sim, api, options, secret):
    env = {'SCREENCONNECT_API_SECRET': '', 'SCREENCONNECT_SERVER_URL': ''}
    task = 'msp.screenconnect.session_info: {server_url: "%s", %s}' % (sim.url, options.replace('{{ url }}', sim.url))
    ok = play(task, '-vvvv', **env)
    assert not ok.get('failed'), ok
    assert secret not in ok['_stdout'] and secret not in json.dumps(ok)
    sim.set_faults([{'method': '*', 'kind': 'status', 'status': 500, 'body': 'echo %s' % secret, 'times': -1}])
    failed = play(task.replace('}', ', retries: 0}'), '-vvvv', **env)
    assert failed['failed']
    assert secret not in failed['_stdout'] and secret not in json.dumps(failed)


# ---- TLS -----------------------------------------------------------------------------------------

@pytest.fixture(scope='module')
def tls_sim(tmp_path_factory):
    folder = tmp_path_factory.mktemp('tls')
    cert, key = str(folder / 'cert.pem'), str(folder / 'key.pem')
    subprocess.run(['openssl', 'req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert,
                    '-days', '2', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1'],
                   check=True, capture_output=True)
    simulator = Simulator(sessions=10, seed=3, api_secret=SECRET, certfile=cert, keyfile=key)
    simulator.start()
    yield simulator, cert
    simulator.stop()


def test_tls_verified_by_default(play, tls_sim):
    server, cert = tls_sim
    assert server.url.startswith('https://')
    failed = play('msp.screenconnect.session_info: {}', SCREENCONNECT_SERVER_URL=server.url)
    assert_one_clear_line(failed, 'certificate', 'ca_path', 'validate_certs: false')
    insecure = play('msp.screenconnect.session_info: {validate_certs: false}', SCREENCONNECT_SERVER_URL=server.url)
    assert not insecure.get('failed') and insecure['sessions']
    assert any('validate_certs is false' in warning for warning in insecure.get('warnings', []))
    trusted = play('msp.screenconnect.session_info: {ca_path: %s}' % cert, SCREENCONNECT_SERVER_URL=server.url)
    assert not trusted.get('failed') and trusted['sessions'] and not trusted.get('warnings')


def test_plain_http_warns(play, sim):
    result = play('msp.screenconnect.session_info: {}')
    assert any('plain http' in warning for warning in result.get('warnings', []))


# ---- every option's invalid values, refused before any request -----------------------------------

INVALID = [
    ('session_info', 'server_url: "acme.screenconnect.com"', 'server_url'),
    ('session_info', 'server_url: "ftp://acme.example"', 'server_url'),
    ('session_info', 'api: soap', 'api'),
    ('session_info', 'api: session_manager', 'api_key'),
    ('session_info', 'api: session_manager, api_key: key-1234, oauth_client_id: cid', 'oauth_token_url'),
    ('session_info', 'extension_id: not-a-guid', 'extension_id'),
    ('session_info', 'ca_path: /nonexistent/ca.pem', 'ca_path'),
    ('session_info', 'timeout: 0', 'timeout'),
    ('session_info', 'timeout: fast', 'timeout'),
    ('session_info', 'rate_limit: -5', 'rate_limit'),
    ('session_info', 'rate_burst: 0', 'rate_burst'),
    ('session_info', 'retries: -1', 'retries'),
    ('session_info', 'session_id: "5523a541"', 'session_id'),
    ('session_info', 'session_type: desktop', 'session_type'),
    ('session_info', 'property_names: {company: 9}', 'property_names'),
    ('session_info', 'property_names: {"Bad Name": 1}', 'property_names'),
    ('session_properties', 'name: X, properties: {owner: y}', 'properties'),
    ('session_properties', 'name: X, custom_properties: {9: y}', 'custom_properties'),
    ('session_properties', 'name: X, custom_properties: [1, 2, 3, 4, 5, 6, 7, 8, 9]', 'custom_properties'),
    ('session_properties', 'name: X, custom_properties: "slot1"', 'custom_properties'),
    ('session_command', 'name: X', 'command'),
    ('session_command', 'name: X, command: "  "', 'command'),
    ('session_command', 'name: X, command: hostname, shell: bash', 'shell'),
    ('session_command', 'name: X, command: hostname, command_timeout: 0', 'command_timeout'),
    ('session_command', 'name: X, command: hostname, max_output_length: -1', 'max_output_length'),
    ('session_command', 'name: X, command: hostname, poll_interval: 0', 'poll_interval'),
    ('session_command', 'command: hostname', 'session_id'),
    ('session_message', 'name: X', 'arguments: msg'),
    ('session_note', 'name: X', 'note'),
    ('session', 'session_type: support', 'session_id'),
    ('session', 'session_id: nope', 'session_id'),
    ('session', 'name: X, session_type: kiosk', 'session_type'),
    ('installer_url', 'platform: dmg', 'platform'),
    ('installer_url', 'platform: msi, relay_port: 0', 'relay_port'),
    ('installer_url', 'platform: msi, relay_host: "evil.example/path?x"', 'relay_host'),
    ('installer_url', 'platform: msi, public_key: "<script>"', 'public_key'),
    ('installer_url', 'platform: msi, session_type: all', 'session_type'),
    ('api_call', 'method: "Get Sessions; rm"', 'method'),
    ('api_call', 'arguments: [1]', 'method'),
]


@pytest.mark.parametrize('module,options,option', INVALID, ids=['%s-%s' % (m, o) for m, o, _option in INVALID])
def test_invalid_values_refused_before_any_request(play, sim, module, options, option):
    result = play('msp.screenconnect.%s: {%s}' % (module, options))
    assert result['failed'] and option in result['msg'], result['msg']
    assert api_calls(sim) == [] and not [e for e in sim.requests if e.get('api') == 'download']
