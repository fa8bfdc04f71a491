"""The simulator's agent protocol (screenconnect_sim/relay.py) spoken by hand, and the command runner of
the .deb's agent (screenconnect_sim/agent.py). The agent as a service, on real hosts, is covered by the
molecule scenario (extensions/molecule/default)."""

import json
import os
import shutil
import subprocess
import sys
import time
import uuid

import pytest
import requests

from screenconnect_sim import agent  # conftest.py puts tools/simulator on sys.path
from screenconnect_sim import relay

SECRET = 's3cret-rest'
REST = '/App_Extensions/2d558935-686a-4bd0-9991-07539f5fe749/Service.ashx/'
LAUNCH = '?e=Access&y=Guest&h=x&p=8041&k=K&t=web-01&c=Acme%20Corp&c=HQ&c=web%2Cprod&c=&c=&c=&c=&c='
GUEST = {'MachineName': 'web-01', 'OperatingSystemName': 'Debian GNU/Linux 13 (trixie)',
         'PrivateNetworkAddress': '10.213.9.2', 'ProcessorVirtualCount': 2}


def sc(sim, method, *args):
    answer = requests.post(sim.url + REST + method, json=list(args), timeout=10,
                           headers={'CTRLAuthHeader': SECRET, 'Origin': sim.url})
    answer.raise_for_status()
    return answer.json() if answer.content else None


def call(sim, action, payload, timeout=30):
    return requests.post(sim.url + '/Sim/Agent/' + action, json=payload, timeout=timeout)


def ran(sim, sid):
    return [e['Data'] for e in sc(sim, 'GetSessionDetailsBySessionID', sid)['Events'] if e['EventType'] == 70]


def test_hello_poll_result_bye(sim, monkeypatch):
    monkeypatch.setattr(relay, 'POLL_SECONDS', 1)
    sid = str(uuid.uuid4())
    assert sc(sim, 'GetSessionBySessionID', sid) == []
    hello = call(sim, 'Hello', {'session_id': sid, 'launch': LAUNCH, 'guest': GUEST})
    assert hello.status_code == 200 and hello.json() == {'session_id': sid}
    # a new Access session, named and propertied by the launch, online with the guest's data
    session = sc(sim, 'GetSessionBySessionID', sid)[0]
    assert (session['Name'], session['SessionType']) == ('web-01', 2)
    assert session['CustomPropertyValues'][:4] == ['Acme Corp', 'HQ', 'web,prod', '']
    assert session['GuestInfo']['OperatingSystemName'] == 'Debian GNU/Linux 13 (trixie)'
    assert session['GuestInfo']['PrivateNetworkAddress'] == '10.213.9.2'
    assert [c['ProcessType'] for c in session['ActiveConnections']] == [2]
    # nothing queued: an empty answer after the poll time
    started = time.monotonic()
    assert call(sim, 'Poll', {'session_id': sid}).json() == {'commands': []}
    assert time.monotonic() - started >= 0.9
    # a command sent through the API goes to the agent, not to the canned answers
    sc(sim, 'SendCommandToSession', sid, '#maxlength=3\nhostname')
    commands = call(sim, 'Poll', {'session_id': sid}).json()['commands']
    assert [c['command'] for c in commands] == ['#maxlength=3\nhostname']
    time.sleep(0.2)
    assert ran(sim, sid) == []
    assert call(sim, 'Result', {'session_id': sid, 'id': commands[0]['id'], 'output': 'web'}).status_code == 200
    assert ran(sim, sid) == ['web']
    # Bye: offline; a command queued now waits for the next Hello
    assert call(sim, 'Bye', {'session_id': sid}).status_code == 200
    assert sc(sim, 'GetSessionBySessionID', sid)[0]['ActiveConnections'] == []
    assert call(sim, 'Poll', {'session_id': sid}).status_code == 404
    sc(sim, 'SendCommandToSession', sid, 'uptime')
    call(sim, 'Hello', {'session_id': sid, 'launch': LAUNCH, 'guest': GUEST}).raise_for_status()
    assert [c['command'] for c in call(sim, 'Poll', {'session_id': sid}).json()['commands']] == ['uptime']
    assert len(sc(sim, 'GetSessionsByName', 'web-01')) == 1  # the same session, not a new one


def test_an_agent_that_stops_polling_goes_offline(sim, monkeypatch):
    monkeypatch.setattr(relay, 'LEASE_SECONDS', 1)
    sid = str(uuid.uuid4())
    call(sim, 'Hello', {'session_id': sid, 'launch': LAUNCH, 'guest': GUEST}).raise_for_status()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and sc(sim, 'GetSessionBySessionID', sid)[0]['ActiveConnections']:
        time.sleep(0.2)
    assert sc(sim, 'GetSessionBySessionID', sid)[0]['ActiveConnections'] == []


def test_bad_agent_requests(sim):
    sim.reset()
    assert call(sim, 'Hello', {'launch': LAUNCH}).status_code == 400
    assert call(sim, 'Poll', {'session_id': str(uuid.uuid4())}).status_code == 404
    assert call(sim, 'Result', {'session_id': str(uuid.uuid4()), 'output': 'x'}).status_code == 404
    assert requests.get(sim.url + '/Sim/Agent/Hello', timeout=5).status_code == 404
    assert requests.post(sim.url + '/Sim/Agent/Hello', data='{', timeout=5).status_code == 400
    # agent traffic is not API traffic: neither recorded nor counted
    assert sim.requests == []


@pytest.mark.skipif(not shutil.which('dpkg-deb'), reason='needs dpkg-deb')
def test_the_deb_carries_the_agent_and_its_server(sim, tmp_path):
    answer = requests.get(sim.url + '/Bin/ScreenConnect.ClientSetup.deb' + LAUNCH, timeout=30)
    path = tmp_path / 'agent.deb'
    path.write_bytes(answer.content)
    name = 'connectwisecontrol-%s' % sim.instance_id
    subprocess.run(['dpkg-deb', '-x', str(path), str(tmp_path / 'x')], check=True)
    opt = tmp_path / 'x' / 'opt' / name
    assert json.loads((opt / 'agent.json').read_text()) == {'server': sim.url, 'instance_id': sim.instance_id}
    assert (opt / 'agent.py').read_text() == open(agent.__file__).read()
    control = tmp_path / 'control'
    subprocess.run(['dpkg-deb', '-e', str(path), str(control)], check=True)
    assert 'Depends: python3' in (control / 'control').read_text()
    for script in ('postinst', 'prerm', 'postrm'):
        assert os.access(str(control / script), os.X_OK)
    assert '/etc/init.d/%s "$1"' % name in (control / 'postinst').read_text()
    init = (tmp_path / 'x' / 'etc' / 'init.d' / name).read_text()
    assert 'NAME=%s\n' % name in init and '/usr/bin/python3 -- "/opt/$NAME/agent.py"' in init


def test_agent_runs_commands_with_the_directives():
    assert agent.run_command('echo one; echo two >&2') == 'one\ntwo\n'
    # a comment after the directives belongs to the command
    assert agent.run_command('#maxlength=100\n# a comment\necho ok') == 'ok\n'


def test_agent_cuts_output_with_its_own_lines():
    assert agent.run_command('#maxlength=3\necho 123456') == '123\nTruncated output at 3 characters\n'
    # 5000 characters by default
    assert agent.run_command('printf "%06000d" 0') == '0' * 5000 + '\nTruncated output at 5000 characters\n'
    assert agent.run_command('#maxlength=4\nprintf 1234') == '1234'  # exactly the limit: nothing cut
    started = time.monotonic()
    killed = agent.run_command('#timeout=500\necho started; sleep 20; echo finished')
    assert killed == 'started\nKilled after 500 milliseconds\n'
    assert time.monotonic() - started < 5
    both = agent.run_command('#timeout=300\n#maxlength=2\necho abc; sleep 20')
    assert both == 'ab\nTruncated output at 2 characters\nKilled after 300 milliseconds\n'


def test_agent_runs_commands_longer_than_one_argument_may_be():
    # Linux takes at most 128 KiB in one argument: `sh -c TEXT` fails on this, a script file does not.
    payload = 'x' * (300 * 1024)
    output = agent.run_command("#maxlength=400000\ncat <<'EOF' | wc -c\n%s\nEOF" % payload)
    assert output.strip() == str(len(payload) + 1)


def test_agent_as_a_plain_process_with_its_own_state_dir(sim, tmp_path, monkeypatch):
    """What an integration target does: agent.py without root, its session id kept in state_dir."""
    home = tmp_path / 'agent'
    home.mkdir()
    shutil.copy(agent.__file__, str(home / 'agent.py'))
    (home / 'agent.json').write_text(json.dumps({'server': sim.url, 'state_dir': str(tmp_path / 'state')}))
    process = subprocess.Popen([sys.executable, str(home / 'agent.py')], stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 15
        while not (tmp_path / 'state' / 'session-id').exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        sid = (tmp_path / 'state' / 'session-id').read_text().strip()
        while time.monotonic() < deadline and not (sc(sim, 'GetSessionBySessionID', sid) or [{}])[0].get(
                'ActiveConnections'):
            time.sleep(0.1)
        sc(sim, 'SendCommandToSession', sid, '#timeout=5000\necho "$0" >&2; echo été')
        while time.monotonic() < deadline and not ran(sim, sid):
            time.sleep(0.1)
        output = ran(sim, sid)[0]
        assert output.endswith('été\n') and output.split('\n')[0].endswith('command.sh'), output
    finally:
        process.terminate()
        assert process.wait(10) == 0
    assert sc(sim, 'GetSessionBySessionID', sid)[0]['ActiveConnections'] == []  # Bye: offline


def test_after_a_fleet_reset_the_agent_says_hello_again(monkeypatch):
    from screenconnect_sim import Simulator
    monkeypatch.setattr(relay, 'POLL_SECONDS', 1)
    with Simulator(sessions=3, api_secret=SECRET) as fresh:
        sid = str(uuid.uuid4())
        call(fresh, 'Hello', {'session_id': sid, 'launch': LAUNCH, 'guest': GUEST}).raise_for_status()
        fresh.reset(fleet=True)
        assert sc(fresh, 'GetSessionBySessionID', sid) == []
        assert call(fresh, 'Poll', {'session_id': sid}).status_code == 404
        call(fresh, 'Hello', {'session_id': sid, 'launch': LAUNCH, 'guest': GUEST}).raise_for_status()
        assert sc(fresh, 'GetSessionBySessionID', sid)[0]['Name'] == 'web-01'
