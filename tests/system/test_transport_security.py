"""The client's promises on hostile answers, through the user's path: real ansible-playbook (a module)
and ansible-inventory runs against a HostileServer (tools/simulator/screenconnect_sim/hostile.py).

- a redirect (302, 307, 308) to another host and port is never followed, so the secret never reaches
  it, and the error names where it pointed; the same for the OAuth token request;
- a secret echoed late in an error body never shows, not even a part of it;
- timeout caps a whole request, a body trickled a byte a second included;
- 100,000 nested brackets, or an object or a string where the list of sessions belongs, give one
  clear error;
- a cache directory that cannot be written costs a warning, not the run;
- the retry advice of a 429 storm reaches the inventory's error.
"""

import gzip
import json
import os
import re
import sys
import time
import zlib

import pytest

from screenconnect_sim.hostile import HostileServer

BIN = os.path.dirname(sys.executable)
LISTING = 'GetSessionsByFilter'
# The client masks any run of this many characters of a secret (plugins/module_utils/_transport.py).
MIN_SECRET_FRAGMENT = 6


@pytest.fixture
def hostile():
    with HostileServer() as server:
        yield server


@pytest.fixture
def elsewhere():
    """A second server on another address and port: it must never see a secret."""
    with HostileServer(host='127.0.0.2') as server:
        server.program('*', {'status': 200, 'body': []})
        yield server


def fragments(secret):
    return [secret[index:index + MIN_SECRET_FRAGMENT] for index in range(len(secret) - MIN_SECRET_FRAGMENT + 1)]


def assert_no_secret(text, secret):
    leaked = [part for part in fragments(secret) if part in text]
    assert not leaked, 'part of the secret shows: %s' % leaked


def squash(text):
    """Without white space: ansible-core 2.16 wraps warnings at 80 columns, even inside URLs."""
    return re.sub(r'\s+', '', text)


def run_inventory(env, tmp_path, *lines, **extra_env):
    source = tmp_path / 'hostile.screenconnect.yml'
    source.write_text('\n'.join(('plugin: msp.screenconnect.screenconnect',) + lines) + '\n')
    env = dict(env, ANSIBLE_INVENTORY_UNPARSED_FAILED='true', **extra_env)
    import subprocess
    return subprocess.run([os.path.join(BIN, 'ansible-inventory'), '-i', str(source), '--list'], env=env,
                          capture_output=True, text=True, timeout=300, check=False)


def session_info(play, server_url, *options, **env):
    task = 'msp.screenconnect.session_info: {server_url: "%s", retries: 0, timeout: 3%s}' % (
        server_url, ''.join(', %s' % option for option in options))
    return play(task, **env)


# ---- redirects ------------------------------------------------------------------------------------

@pytest.mark.parametrize('status', [302, 307, 308])
def test_a_module_never_follows_a_redirect_with_the_secret(play, ansible_env, hostile, elsewhere, status):
    secret = ansible_env['SCREENCONNECT_API_SECRET']
    target = elsewhere.url + '/App_Extensions/x/Service.ashx/' + LISTING
    hostile.program(LISTING, {'status': status, 'headers': {'Location': target}})
    result = session_info(play, hostile.url, 'filter: "Name = \'x\'"')
    assert result['failed']
    assert 'HTTP %d' % status in result['msg'] and target in result['msg'], result['msg']
    assert elsewhere.requests == [] and not elsewhere.saw_text(secret)
    assert len(hostile.requests_for(LISTING)) == 1  # not retried either


@pytest.mark.parametrize('status', [302, 307, 308])
def test_the_inventory_never_follows_a_redirect_with_the_secret(ansible_env, tmp_path, hostile, elsewhere, status):
    secret = ansible_env['SCREENCONNECT_API_SECRET']
    target = elsewhere.url + '/moved'
    hostile.program(LISTING, {'status': status, 'headers': {'Location': target}})
    completed = run_inventory(ansible_env, tmp_path, 'retries: 0', SCREENCONNECT_SERVER_URL=hostile.url)
    assert completed.returncode != 0
    assert 'HTTP%d' % status in squash(completed.stderr) and squash(target) in squash(completed.stderr), completed.stderr
    assert elsewhere.requests == [] and not elsewhere.saw_text(secret)


def test_an_oauth_token_307_never_reposts_the_client_secret(play, hostile, elsewhere):
    client_secret = 'oauth-client-s3cret-42'
    hostile.program('/oauth/token', {'status': 307, 'headers': {'Location': elsewhere.url + '/oauth/token'}})
    elsewhere.program('/oauth/token', {'body': {'access_token': 'stolen', 'expires_in': 3600}})
    result = session_info(play, hostile.url, 'api: session_manager', 'oauth_client_id: cid',
                          'oauth_client_secret: %s' % client_secret, 'oauth_token_url: %s/oauth/token' % hostile.url,
                          SCREENCONNECT_API_SECRET='')
    assert result['failed'] and 'HTTP 307' in result['msg'] and elsewhere.url in result['msg'], result['msg']
    assert elsewhere.requests == [] and not elsewhere.saw_text(client_secret)
    warning = 'oauth_token_url %s/oauth/token is plain http' % hostile.url
    assert any(warning in text for text in result.get('warnings', [])), result


@pytest.mark.parametrize('encoding', ['gzip', 'deflate'])
def test_a_compressed_answer_is_read(play, hostile, encoding):
    """The body is read in pieces against the deadline: still decoded as Content-Encoding says."""
    body = json.dumps([{'SessionID': '00000000-0000-4000-8000-000000000001', 'SessionType': 2, 'Name': 'WS-1',
                        'CustomPropertyValues': ['Acme'] + [''] * 7, 'GuestInfo': {'MachineName': 'PC-1'}}]).encode()
    packed = zlib.compress(body) if encoding == 'deflate' else gzip.compress(body)
    hostile.program(LISTING, {'body': packed, 'headers': {'Content-Encoding': encoding}})
    result = session_info(play, hostile.url, 'filter: "Name = \'WS-1\'"')
    assert not result.get('failed'), result
    assert [session['name'] for session in result['sessions']] == ['WS-1']


# ---- secrets in error bodies ----------------------------------------------------------------------

@pytest.mark.parametrize('padding', [280, 290, 294, 299])
def test_a_secret_echoed_late_in_an_error_body_never_shows(play, ansible_env, hostile, padding):
    secret = ansible_env['SCREENCONNECT_API_SECRET']
    hostile.program(LISTING, {'status': 400, 'headers': {'Content-Type': 'text/plain'},
                              'body': 'x' * padding + secret + ' was refused'})
    result = session_info(play, hostile.url, 'filter: "Name = \'x\'"')
    assert result['failed'] and 'HTTP 400' in result['msg']
    assert_no_secret(json.dumps(result), secret)


# ---- answers that never end, or cannot be read ------------------------------------------------------

def test_timeout_caps_a_trickled_answer(play, hostile):
    hostile.program(LISTING, {'body': b'[' + b' ' * 35 + b']', 'trickle': 1.0})  # 37 bytes, one a second
    started = time.monotonic()
    result = session_info(play, hostile.url, 'filter: "Name = \'x\'"')
    took = time.monotonic() - started
    assert result['failed'] and 'no complete answer within 3.0s' in result['msg'], result['msg']
    # ansible-playbook itself takes a few seconds; without the deadline this took 37.
    assert took < 20, took


def test_deeply_nested_brackets_are_a_clear_error(play, ansible_env, tmp_path, hostile):
    hostile.program(LISTING, {'body': b'[' * 100000 + b']' * 100000})
    result = session_info(play, hostile.url, 'filter: "Name = \'x\'"')
    assert result['failed'] and 'nested too deeply' in result['msg'], result
    assert 'Traceback' not in result['_stdout'] and 'RecursionError' not in json.dumps(result)
    completed = run_inventory(ansible_env, tmp_path, 'retries: 0', SCREENCONNECT_SERVER_URL=hostile.url)
    assert completed.returncode != 0 and 'nestedtoodeeply' in squash(completed.stderr), completed.stderr


@pytest.mark.parametrize('body,kind', [({'Sessions': []}, 'object'), ('"hello"', 'string')])
def test_a_listing_of_the_wrong_shape_is_an_error_not_an_empty_fleet(play, ansible_env, tmp_path, hostile, body, kind):
    hostile.program(LISTING, {'body': body})
    result = session_info(play, hostile.url, 'filter: "Name = \'x\'"')
    assert result['failed'] and 'expected a list of sessions, got %s' % kind in result['msg'], result
    completed = run_inventory(ansible_env, tmp_path, 'retries: 0', SCREENCONNECT_SERVER_URL=hostile.url)
    assert completed.returncode != 0
    assert 'expectedalistofsessions,got%s' % kind in squash(completed.stderr), completed.stderr


def test_an_empty_listing_is_still_an_empty_fleet(play, hostile):
    for body in ('', 'null', []):
        hostile.program(LISTING, {'body': body})
        result = session_info(play, hostile.url, 'filter: "Name = \'x\'"')
        assert not result.get('failed') and result['sessions'] == [], result


# ---- the cache directory ------------------------------------------------------------------------------

def test_an_unusable_cache_directory_costs_a_warning_not_the_run(play, sim, ansible_env, tmp_path):
    blocker = tmp_path / 'not-a-directory'
    blocker.write_text('a file where the cache directory belongs')
    result = play('msp.screenconnect.session_info: {filter: "SessionType = \'Access\'"}', XDG_CACHE_HOME=str(blocker))
    assert not result.get('failed'), result
    assert result['sessions'] and 'XDG_CACHE_HOME' in ' '.join(result.get('warnings', []))
    completed = run_inventory(ansible_env, tmp_path, XDG_CACHE_HOME=str(blocker))
    assert completed.returncode == 0, completed.stderr
    assert json.loads(completed.stdout)['_meta']['hostvars'] and 'XDG_CACHE_HOME' in completed.stderr


# ---- the retry advice reaches the inventory ------------------------------------------------------------

def test_the_inventory_shows_the_advice_of_a_429_storm(sim, ansible_env, tmp_path):
    sim.set_faults([{'method': LISTING, 'kind': 'status', 'status': 429, 'retry_after': '0', 'times': -1}])
    try:
        completed = run_inventory(ansible_env, tmp_path, 'retries: 1')
    finally:
        sim.set_faults([])
    assert completed.returncode != 0
    assert 'stillratelimitedafter1retries:lowerrate_limitorraiseretries' in squash(completed.stderr), completed.stderr


# ---- the User-Agent: the version from the collection's own metadata -----------------------------------

def test_the_user_agent_carries_the_installed_version(play, sim, ansible_env, tmp_path):
    with open(os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))),
                           'galaxy.yml')) as handle:
        version = re.search(r'^version:\s*(\S+)', handle.read(), re.M).group(1)
    sim.reset()
    assert run_inventory(ansible_env, tmp_path).returncode == 0
    result = play('msp.screenconnect.session_info: {filter: "SessionType = \'Access\'"}')
    assert not result.get('failed'), result
    agents = [entry['headers'].get('User-Agent') for entry in sim.requests]
    # The inventory runs from the installed collection and reads its MANIFEST.json; a module runs from
    # AnsiballZ's zip, where no metadata is, and names the collection only.
    assert agents == ['msp.screenconnect/%s' % version, 'msp.screenconnect'], agents
